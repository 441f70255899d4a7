"""The CI entry point runs the README's test command with CI=true, and "required under CI"
reads CI=true in any case."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipeline_runs import under_ci

ROOT = Path(__file__).parents[1]


@pytest.mark.parametrize(
    ("value", "required"), [("true", True), ("TRUE", True), (" True ", True), ("false", False), ("", False), ("1", False)]
)
def test_ci_true_is_read_in_any_case(monkeypatch, value, required):
    monkeypatch.setenv("CI", value)
    assert under_ci() is required


def test_ci_run_sets_ci_and_runs_the_readme_test_command():
    script = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^export CI=true$", script, flags=re.MULTILINE)
    readme = (ROOT / "README.md").read_text()
    command = re.search(r"Run the tests.*?```bash\n(.+?)\n```", readme, flags=re.DOTALL).group(1).strip()
    assert command.replace("pip install uv", "pip install --quiet uv") in script
