"""Crash trials: kill `attribution run` with SIGKILL at a random moment and check
that every output table is the previous complete version or the new complete one,
and that the next run succeeds. Used by the tests (a few trials) and by
``benchmarks/crash_trials.py`` (20 trials per warehouse).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from attribution_pipeline.io_managers import conform
from attribution_pipeline.tables import CAMPAIGN_ATTRIBUTION, CHANNEL_ATTRIBUTION, JOURNEYS, TOUCH_CREDIT
from attribution_pipeline.warehouse import WarehouseClient

OUTPUTS = (JOURNEYS, TOUCH_CREDIT, CAMPAIGN_ATTRIBUTION, CHANNEL_ATTRIBUTION)


def snapshot(url: str) -> dict[str, pl.DataFrame]:
    """Every output table, run ids dropped, in a canonical order (empty when absent)."""
    client = WarehouseClient(url)
    try:
        tables = {}
        for table in OUTPUTS:
            if not client.has_table("attribution", table.name):
                tables[table.name] = None
                continue
            frame = conform(client.read("attribution", table.name), table).drop("run_id")
            tables[table.name] = frame.sort(frame.columns, nulls_last=True)
        return tables
    finally:
        client.dispose()


def same(a: pl.DataFrame | None, b: pl.DataFrame | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.equals(b)


def run_command(source: Path, url: str) -> list[str]:
    cli = shutil.which("attribution", path=os.path.dirname(sys.executable)) or "attribution"
    return [cli, "run", "--source", str(source), "--warehouse", url]


def environment(home: Path) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return {**os.environ, "DAGSTER_HOME": str(home)}


@dataclass
class Trial:
    killed_after: float
    exited_before_kill: bool
    tables: dict[str, str]  # table -> "old" | "new"
    rerun_ok: bool


def crash_trial(
    old: Path, new: Path, url: str, home: Path, expected_old: dict, expected_new: dict, max_delay: float, rng: random.Random,
    rerun: Callable[[], int] | None = None,
) -> Trial:
    """Warehouse holds `old`'s result; start a run on `new`, SIGKILL it, classify the
    tables, then run `old` again (``rerun``: a faster in-process run; default a new process)."""
    env = environment(home)
    delay = rng.uniform(0.2, max_delay)
    process = subprocess.Popen(run_command(new, url), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(delay)
    exited = process.poll() is not None
    if not exited:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    found = snapshot(url)
    verdicts = {}
    for name, frame in found.items():
        verdicts[name] = "new" if same(frame, expected_new[name]) else "old" if same(frame, expected_old[name]) else "TORN"
    code = rerun() if rerun is not None else subprocess.run(run_command(old, url), env=env, capture_output=True).returncode
    restored = snapshot(url)
    rerun_ok = code == 0 and all(same(restored[name], expected_old[name]) for name in restored)
    return Trial(delay, exited, verdicts, rerun_ok)
