"""Style does not drift: ruff's lint rules and formatter (pyproject.toml [tool.ruff])
hold for every file, so the README's test command fails on a change that breaks them."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUFF = Path(sys.executable).parent / "ruff"


@pytest.mark.parametrize("command", [["check", "--no-cache"], ["format", "--check", "--no-cache"]], ids=["check", "format"])
def test_ruff_passes(command):
    result = subprocess.run([str(RUFF), *command, "."], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, (
        f"ruff {' '.join(command)} (fix with `uv run ruff check --fix . && uv run ruff format .`):\n{result.stdout[-4000:]}{result.stderr[-2000:]}"
    )
