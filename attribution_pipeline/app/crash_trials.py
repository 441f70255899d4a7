"""Crash trials: kill `attribution run` with SIGKILL while it writes to the warehouse and
check that the published tables are all the previous run's or all the new run's (never
torn, never a mix of runs), and that the next run succeeds. Used by the tests (one
trial per warehouse) and by ``benchmarks/crash_trials.py`` (20 per warehouse).

A trial does not kill after a random delay: it watches the run's own progress lines
and kills a random moment after a chosen writing step starts, so every trial is known
to land after the run's first warehouse write began (a raw step started) and before
its last write ended (the publishing step, attribution/runs, had not finished).
"""

from __future__ import annotations

import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from attribution_pipeline.orchestration.io_managers import conform
from attribution_pipeline.warehouse.client import WarehouseClient
from attribution_pipeline.warehouse.tables import PUBLISHED

# Steps that write to the warehouse, the first and the last of a run among them.
WRITING_STEPS = ("ingest_touches", "ingest_opportunities", "attribution__journeys", "attribution__touch_credit", "attribution__runs")
FIRST_WRITE, PUBLISH = "ingest_", "attribution__runs"


def snapshot(url: str) -> dict[str, pl.DataFrame | None]:
    """Every published table, run ids dropped, in a canonical order (None when absent)."""
    client = WarehouseClient(url)
    try:
        tables = {}
        for table in PUBLISHED:
            if not client.has_table("attribution", table.name):
                tables[table.name] = None
                continue
            frame = conform(client.read("attribution", table.name), table).drop("run_id")
            tables[table.name] = frame.sort(frame.columns, nulls_last=True)
        return tables
    finally:
        client.dispose()


def run_ids(url: str) -> set[str]:
    """The run ids the published tables carry (a consistent warehouse has one)."""
    client = WarehouseClient(url)
    try:
        found: set[str] = set()
        for table in PUBLISHED:
            if client.has_table("attribution", table.name):
                found |= set(client.read("attribution", table.name).get_column("run_id").drop_nulls().unique().to_list())
        return found
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
    step: str  # the writing step the kill followed
    delay: float  # seconds after that step started
    seen: list[str] = field(default_factory=list)  # the run's progress lines before the kill
    exited_before_kill: bool = False
    tables: dict[str, str] = field(default_factory=dict)  # table -> "old" | "new" | "either" | "TORN"
    run_ids: set[str] = field(default_factory=set)
    rerun_ok: bool = False
    rerun_differs: list[str] = field(default_factory=list)  # tables the rerun left unlike the previous run's

    @property
    def during_writes(self) -> bool:
        """The kill landed after the first warehouse write began and before the last one ended."""
        started = any(f"> {FIRST_WRITE}" in line for line in self.seen)
        published = any(f"ok {PUBLISH}" in line for line in self.seen)
        return started and not published and not self.exited_before_kill

    @property
    def one_version(self) -> bool:
        """Every published table is the old run's, or every one is the new run's, with one run id
        (tables the two runs leave alike count as either)."""
        versions = set(self.tables.values()) - {"either"}
        return len(versions) == 1 and "TORN" not in versions and len(self.run_ids) == 1


def _kill_after(process: subprocess.Popen, step: str, delay: float) -> tuple[list[str], bool]:
    """Read the run's progress until ``step`` starts, wait ``delay`` seconds, SIGKILL it."""
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for line in process.stderr:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    seen: list[str] = []
    while (line := lines.get()) is not None:
        seen.append(line)
        if f"> {step}" in line:
            break
    deadline = time.monotonic() + delay
    while time.monotonic() < deadline:  # keep reading, to know what finished before the kill
        try:
            line = lines.get(timeout=max(deadline - time.monotonic(), 0.001))
        except queue.Empty:
            break
        if line is None:
            break
        seen.append(line)
    exited = process.poll() is not None
    if not exited:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    return seen, exited


def crash_trial(
    old: Path,
    new: Path,
    url: str,
    home: Path,
    expected_old: dict,
    expected_new: dict,
    rng: random.Random,
    step: str | None = None,
    rerun: Callable[[], int] | None = None,
    max_delay: float = 1.5,
) -> Trial:
    """The warehouse holds ``old``'s result; start a run on ``new`` and SIGKILL it a random
    0 to ``max_delay`` s after ``step`` (default: a random writing step) starts, classify the tables, then
    run ``old`` again (``rerun``: a faster in-process run; default a new process). When the
    run got past publishing in that time, the trial is made again with a shorter delay."""
    env = environment(home)
    step = step or rng.choice(WRITING_STEPS)
    delay = rng.uniform(0.0, max_delay)
    for _ in range(4):
        process = subprocess.Popen(
            run_command(new, url), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True
        )
        seen, exited = _kill_after(process, step, delay)
        trial = Trial(step, delay, seen, exited)
        if trial.during_writes:
            break
        delay /= 4
    found = snapshot(url)
    for name, frame in found.items():
        if same(expected_old[name], expected_new[name]):  # e.g. snapshot_drift, empty without a snapshot: tells nothing
            trial.tables[name] = "either" if same(frame, expected_old[name]) else "TORN"
        else:
            trial.tables[name] = "new" if same(frame, expected_new[name]) else "old" if same(frame, expected_old[name]) else "TORN"
    trial.run_ids = run_ids(url)
    code = rerun() if rerun is not None else subprocess.run(run_command(old, url), env=env, capture_output=True).returncode
    restored = snapshot(url)
    trial.rerun_differs = [name for name in restored if not same(restored[name], expected_old[name])]
    trial.rerun_ok = code == 0 and not trial.rerun_differs
    return trial
