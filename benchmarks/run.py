"""Benchmark harness: generate sample data, measure the floor (polars reading every
input file once into memory), run `attribution run` end to end through the same code
path as users, and record wall time and peak RSS of each process, the ratio to the
floor, each Dagster step's duration, and whether every model reconciles.

    uv run python benchmarks/run.py --touches 100000 --touches 1000000 --format parquet \
        --warehouse duckdb --warehouse postgresql+psycopg://root@127.0.0.1:5432/test

Appends tables to benchmarks/RESULTS.md. Each command runs in its own process,
measured with os.wait4 (peak RSS of that process alone); the machine is noisy, so
compare ratios from the same invocation, not absolute seconds across days.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import sqlalchemy as sa

RESULTS = Path(__file__).with_name("RESULTS.md")


def measured(command: list[str]) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in GB, exit code) of one command."""
    start = time.perf_counter()
    process = subprocess.Popen(command)
    _, status, usage = os.wait4(process.pid, 0)
    return time.perf_counter() - start, usage.ru_maxrss / 1024 / 1024, os.waitstatus_to_exitcode(status)


FLOOR = """
import sys
from pathlib import Path
root = Path(sys.argv[1])
rows = 0
for path in sorted(root.rglob("*")):
    if path.suffix == ".parquet":
        rows += pl.read_parquet(path).height
    elif path.suffix == ".csv":
        rows += pl.read_csv(path, infer_schema=False).height
print(rows)
"""


def step_seconds(home: Path) -> dict[str, float]:
    """Each step's duration in the (only) run of this Dagster home."""
    import dagster as dg

    import os as _os

    previous = _os.environ.get("DAGSTER_HOME")
    _os.environ["DAGSTER_HOME"] = str(home)
    try:
        with dg.DagsterInstance.get() as instance:
            run = instance.get_runs(limit=1)[0]
            stats = instance.get_run_step_stats(run.run_id)
            return {s.step_key: (s.end_time or 0) - (s.start_time or 0) for s in stats}
    finally:
        if previous is None:
            _os.environ.pop("DAGSTER_HOME", None)
        else:
            _os.environ["DAGSTER_HOME"] = previous


def reconciles(url: str) -> bool:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            won = conn.execute(sa.text("SELECT COALESCE(SUM(amount_cents), 0) FROM staging.opportunities WHERE is_won")).scalar()
            totals = conn.execute(
                sa.text("SELECT model, SUM(credited_amount) FROM attribution.touch_credit GROUP BY model")
            ).all()
    finally:
        engine.dispose()
    return bool(totals) and all(int(round(total * 100)) == int(won) for _, total in totals)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--touches", type=int, action="append", required=True)
    parser.add_argument("--format", choices=["csv", "parquet"], default="parquet")
    parser.add_argument("--warehouse", action="append", default=[], help="'duckdb' (a temp file) or a SQLAlchemy URL; repeatable")
    args = parser.parse_args()
    warehouses = args.warehouse or ["duckdb"]
    cli = shutil.which("attribution") or sys.exit("run through `uv run` so the attribution command is on PATH")
    rows, steps = [], {}
    with tempfile.TemporaryDirectory(prefix="attribution-bench-") as scratch:
        for touches in args.touches:
            data = Path(scratch) / f"data_{touches}"
            wall, rss, code = measured([cli, "sample-data", "--out", str(data), "--touches", str(touches), "--format", args.format])
            rows.append((touches, "sample-data", "-", wall, rss, None, code == 0))
            floor, floor_rss, code = measured([sys.executable, "-c", FLOOR, str(data)])
            rows.append((touches, "floor (polars reads every file)", "-", floor, floor_rss, 1.0, code == 0))
            for warehouse in warehouses:
                url = f"duckdb:///{Path(scratch) / f'w_{touches}.duckdb'}" if warehouse == "duckdb" else warehouse
                home = Path(scratch) / f"home_{touches}_{len(rows)}"
                home.mkdir()
                (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
                os.environ["DAGSTER_HOME"] = str(home)
                wall, rss, code = measured([cli, "run", "--source", str(data), "--warehouse", url])
                label = "duckdb" if warehouse == "duckdb" else sa.engine.make_url(url).get_backend_name()
                rows.append((touches, "attribution run", label, wall, rss, wall / floor, code == 0 and reconciles(url)))
                steps[(touches, label)] = step_seconds(home)
    header = (
        f"\n## {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, {args.format} input\n\n"
        f"Machine: {os.cpu_count()} cores, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB, "
        f"Python {platform.python_version()}, polars {version('polars')}, duckdb {version('duckdb')}, dagster {version('dagster')}.\n"
        f"Command: `uv run python benchmarks/run.py {' '.join(sys.argv[1:])}`\n\n"
        "| touches | command | warehouse | wall s | peak RSS GB | x floor | ok (exit 0, every model reconciles) |\n|---|---|---|---|---|---|---|\n"
    )
    table = "".join(
        f"| {t:,} | {c} | {w} | {s:.1f} | {r:.2f} | {'' if x is None else f'{x:.1f}'} | {'yes' if ok else 'NO'} |\n"
        for t, c, w, s, r, x, ok in rows
    )
    for (touches, label), durations in steps.items():
        slowest = sorted(durations.items(), key=lambda item: -item[1])[:8]
        table += f"\nSlowest steps, {touches:,} touches, {label}: " + ", ".join(f"{k} {v:.1f}s" for k, v in slowest) + "\n"
    with RESULTS.open("a") as handle:
        if RESULTS.stat().st_size == 0:
            handle.write("# Benchmark results\n\nAppended by the scripts in this folder; every figure is a measurement.\n")
        handle.write(header + table)
    print(header + table)
    return 0 if all(row[-1] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
