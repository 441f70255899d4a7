"""Benchmark harness: generate sample data, measure the floor (polars reading every
input file once into memory), run `attribution run` end to end through the same code
path as users, and record wall time and peak RSS of each process, the ratio to the
floor, each Dagster step's duration, and whether every model reconciles.

    uv run python benchmarks/run.py --touches 100000 --touches 1000000 --format parquet \
        --warehouse duckdb --warehouse postgresql+psycopg://root@127.0.0.1:5432/test

Appends tables to benchmarks/RESULTS.md. Each command runs in its own process; its
peak RSS is that of its process tree (the run's validator process included); the machine is noisy, so
compare ratios from the same invocation, not absolute seconds across days.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
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


def tree_rss_bytes(root: int) -> int:
    """Resident bytes of a process and all its descendants now (the run's validator
    process is a child: the run holds the sum), read from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/statm") as statm:
                total += int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            pass
        todo.extend(parents.get(pid, []))
    return total


def measured(command: list[str], **popen) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in GB of the process tree, exit code) of one command. The
    tree's RSS is sampled every 0.2 s (the sum over its processes; os.wait4 only gives
    the largest single one) and the largest of both is kept."""
    start = time.perf_counter()
    process = subprocess.Popen(command, **popen)
    peak = 0
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        peak = max(peak, tree_rss_bytes(process.pid))
        time.sleep(0.2)
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
    return time.perf_counter() - start, max(peak, usage.ru_maxrss * 1024) / 2**30, process.returncode


FLOOR = """
import sys
from pathlib import Path
import polars as pl
root = Path(sys.argv[1])
rows = 0
for path in sorted(root.rglob("*")):
    if path.suffix == ".parquet":
        rows += pl.read_parquet(path).height
    elif path.suffix == ".csv":
        rows += pl.read_csv(path, infer_schema=False).height
print(rows)
"""


def step_stats(home: Path) -> dict[str, tuple[float, float | None, float | None]]:
    """Each step's (duration s, process peak RSS GB and RSS GB when it wrote its output)
    in the (only) run of this Dagster home. The peak only grows, so the step where it
    jumps is the step that needs the memory; the RSS then says what the process held."""
    import dagster as dg

    previous = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(home)
    try:
        with dg.DagsterInstance.get() as instance:
            run = instance.get_runs(limit=1)[0]
            peaks: dict[str, float] = {}
            held: dict[str, float] = {}
            for record in instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records:
                event = record.event_log_entry.dagster_event
                metadata = event.event_specific_data.materialization.metadata
                for key, into in (("process_peak_rss_mb", peaks), ("process_rss_mb", held)):
                    if (value := metadata.get(key)) is not None:
                        into[event.step_key] = max(into.get(event.step_key, 0.0), value.value / 1024)
            stats = instance.get_run_step_stats(run.run_id)
            # A step the run never finished (killed, failed) has no end time: nan, printed as such.
            return {
                s.step_key: (
                    (s.end_time - s.start_time) if s.end_time and s.start_time else float("nan"),
                    peaks.get(s.step_key),
                    held.get(s.step_key),
                )
                for s in stats
            }
    finally:
        if previous is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = previous


def step_script(name: str, url: str) -> dict:
    """A step script beside this file (models_step.py, data_driven_step.py) on a filled
    warehouse, in its own process: the JSON object on its last line of output."""
    done = subprocess.run([sys.executable, str(Path(__file__).with_name(name)), url], capture_output=True, text=True)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def data_driven_table(results: dict[int, dict]) -> str:
    """Issue 10's criterion: what markov and shapley add, beside the rule-based models step."""
    lines = [
        "\nData-driven step (median of 3; `benchmarks/data_driven_step.py`; 100 bootstrap draws): the data_driven "
        "asset plus the extra credit of markov and shapley in touch_credit, beside the rule-based models' credit:\n\n",
        "| touches | journey rows | rule-based models step s | data_driven asset s | ten models' credit s | data-driven step s | ratio |\n",
        "|---|---|---|---|---|---|---|\n",
    ]
    for touches, r in results.items():
        if "error" in r:
            lines.append(f"| {touches:,} | data_driven_step.py failed: {r['error']} | | | | | |\n")
            continue
        lines.append(
            f"| {touches:,} | {r['journey_rows']:,} | {r['rule_based']:.2f} | {r['data_driven_asset']:.2f} | {r['all_ten']:.2f} "
            f"| {r['data_driven_step']:.2f} | {r['data_driven_step'] / r['rule_based']:.2f}x |\n"
        )
    return "".join(lines)


def reconciles(url: str) -> bool:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            won = conn.execute(sa.text("SELECT COALESCE(SUM(amount_cents), 0) FROM staging.opportunities WHERE is_won")).scalar()
            totals = conn.execute(sa.text("SELECT model, SUM(credited_amount) FROM attribution.touch_credit GROUP BY model")).all()
    finally:
        engine.dispose()
    return bool(totals) and all(int(round(total * 100)) == int(won) for _, total in totals)


def fresh_home(scratch: Path, name: str) -> Path:
    home = scratch / name
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def reset(url: str) -> None:
    """A PostgreSQL warehouse starts each measured run empty, as a DuckDB file does."""
    if sa.engine.make_url(url).get_backend_name() == "duckdb":
        return
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for schema in ("raw", "staging", "quarantine", "attribution"):
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


def models_table(models: dict[int, dict]) -> str:
    """Ours beside the peers, on the same won-deal paths (models_step.py): ours is
    every registered model (the data-driven ones learning their values first)."""
    count = max((len(r["ours"]["models"]) for r in models.values() if "ours" in r), default=0)
    lines = [
        "\nModels step alone (journeys in memory to credit; median of 3; `benchmarks/models_step.py`):\n\n",
        f"| touches | won deals | won-path touches | ours, all {count} models s | marketing-attribution-models, 5 models s | ours time / mam time | ChannelAttribution, 3 models s | ours time / CA time |\n",
        "|---|---|---|---|---|---|---|---|\n",
    ]
    for touches, result in models.items():
        if "error" in result:
            lines.append(f"| {touches:,} | models_step.py failed: {result['error']} | | | | | | |\n")
            continue
        ours = result["ours"]["total"]
        cells = [f"{touches:,}", f"{result['won_deals']:,}", f"{result['won_path_touches']:,}", f"{ours:.3f}"]
        for peer in ("mam", "channel_attribution"):
            seconds = result.get(peer, result.get("peers", "not installed"))
            cells += [f"{seconds['total']:.3f}", f"{ours / seconds['total']:.1f}x"] if isinstance(seconds, dict) else [str(seconds), ""]
        lines.append("| " + " | ".join(cells) + " |\n")
    return "".join(lines)


def peers_installed() -> bool:
    """The bench group (the peer libraries) is installed: the command was run with --group bench."""
    from importlib.metadata import PackageNotFoundError

    try:
        return bool(version("marketing-attribution-models"))
    except PackageNotFoundError:
        return False


def tiny_landing(folder: Path, cli: str) -> Path:
    """About 50 touches in every source (issue 16's fixed-cost target): the sample
    generator's smallest folder, plus a one-row fx_rates file."""
    subprocess.run([cli, "sample-data", "--out", str(folder), "--touches", "50"], check=True, capture_output=True)
    (folder / "fx_rates.csv").write_text("currency,rate_date,rate_to_reporting\nEUR,2024-01-01,1.09\n")
    return folder


def fixed_costs(scratch: Path, cli: str, repeats: int) -> str:
    """The tiny run and the README quick start, each timed ``repeats`` times as a user runs them
    (fresh folder, default warehouse and Dagster home in the working directory); the medians."""
    tiny, quick = [], []
    for attempt in range(repeats):
        folder = scratch / f"fixed_{attempt}"
        folder.mkdir()
        landing = tiny_landing(folder / "tiny", cli)
        wall, _, code = measured_in(folder, [cli, "run", "--source", str(landing), "--warehouse", f"duckdb:///{folder / 'tiny.duckdb'}"])
        tiny.append((wall, code))
        start = folder / "quick"
        start.mkdir()
        sample, _, code_a = measured_in(start, [cli, "sample-data", "--out", "sample"])
        run, _, code_b = measured_in(start, [cli, "run", "--source", "sample"])
        quick.append((sample + run, sample, run, code_a == code_b == 0))
    median = lambda values: sorted(values)[len(values) // 2]  # noqa: E731
    return (
        f"\nFixed costs (median of {repeats}; each command in a fresh folder, as a user runs it):\n\n"
        "| what | wall s | every run | target |\n|---|---|---|---|\n"
        f"| `attribution run` on a tiny landing folder (50 touches, every source) | {median([w for w, _ in tiny]):.1f} | "
        f"{', '.join(f'{w:.1f}' for w, _ in tiny)}{'' if all(c == 0 for _, c in tiny) else ' (a run FAILED)'} | <= 10 |\n"
        f"| README quick start (`sample-data`, then `run`) | {median([q[0] for q in quick]):.1f} "
        f"({median([q[1] for q in quick]):.1f} + {median([q[2] for q in quick]):.1f}) | "
        f"{', '.join(f'{q[0]:.1f}' for q in quick)}{'' if all(q[3] for q in quick) else ' (a run FAILED)'} | <= 15 |\n"
    )


def measured_in(folder: Path, command: list[str]) -> tuple[float, float, int]:
    """``measured`` with ``folder`` as the working directory and no DAGSTER_HOME (the CLI's default)."""
    env = {key: value for key, value in os.environ.items() if key != "DAGSTER_HOME"}
    return measured(command, cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--touches", type=int, action="append", default=[])
    parser.add_argument(
        "--fixed-costs", type=int, default=0, metavar="N", help="also time the tiny run and the README quick start N times each (medians)"
    )
    parser.add_argument(
        "--no-step-scripts",
        dest="step_scripts",
        action="store_false",
        help="skip models_step.py and data_driven_step.py after the DuckDB run (they take 3 runs each)",
    )
    parser.add_argument("--format", choices=["csv", "parquet"], default="parquet")
    parser.add_argument("--warehouse", action="append", default=[], help="'duckdb' (a temp file) or a SQLAlchemy URL; repeatable")
    parser.add_argument(
        "--parallel",
        type=int,
        default=0,
        metavar="N",
        help="also time `attribution run --parallel N` on each non-DuckDB warehouse (default: not)",
    )
    args = parser.parse_args()
    warehouses = args.warehouse or ["duckdb"]
    cli = shutil.which("attribution") or sys.exit("run through `uv run` so the attribution command is on PATH")
    rows, steps, models, driven = [], {}, {}, {}
    fixed = ""
    with tempfile.TemporaryDirectory(prefix="attribution-bench-") as temporary:
        scratch = Path(temporary)
        if args.fixed_costs:
            fixed = fixed_costs(scratch, cli, args.fixed_costs)
        for touches in args.touches:
            data = scratch / f"data_{touches}"
            wall, rss, code = measured([cli, "sample-data", "--out", str(data), "--touches", str(touches), "--format", args.format])
            rows.append((touches, "sample-data", "-", wall, rss, None, code == 0))
            floor, floor_rss, code = measured([sys.executable, "-c", FLOOR, str(data)])
            rows.append((touches, "floor (polars reads every file)", "-", floor, floor_rss, 1.0, code == 0))
            for warehouse in warehouses:
                url = f"duckdb:///{scratch / f'w_{touches}.duckdb'}" if warehouse == "duckdb" else warehouse
                label = "duckdb" if warehouse == "duckdb" else sa.engine.make_url(url).get_backend_name()
                variants = [[]] + ([["--parallel", str(args.parallel)]] if args.parallel > 1 and label != "duckdb" else [])
                for extra in variants:
                    reset(url)
                    home = fresh_home(scratch, f"home_{touches}_{len(rows)}")
                    print(f"bench: {touches:,} touches, {label} {' '.join(extra)}", file=sys.stderr, flush=True)
                    wall, rss, code = measured([cli, "run", "--source", str(data), "--warehouse", url, *extra])
                    command = f"attribution run {' '.join(extra)}".strip()
                    ok = code == 0 and reconciles(url)
                    rows.append((touches, command, label, wall, rss, wall / floor, ok))
                    if not extra:
                        steps[(touches, label)] = step_stats(home)
                if label == "duckdb" and touches not in models and ok and args.step_scripts:
                    models[touches] = step_script("models_step.py", url)
                    driven[touches] = step_script("data_driven_step.py", url)
                if url.startswith("duckdb:///"):
                    Path(url.removeprefix("duckdb:///")).unlink(missing_ok=True)  # 10M files are large
            shutil.rmtree(data, ignore_errors=True)
    header = (
        f"\n## {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, {args.format} input\n\n"
        f"Machine: {os.cpu_count()} cores, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB, "
        f"Python {platform.python_version()}, polars {version('polars')}, duckdb {version('duckdb')}, dagster {version('dagster')}.\n"
        f"Command: `uv run --frozen {'--group bench ' if peers_installed() else ''}python benchmarks/run.py {' '.join(sys.argv[1:])}`\n\n"
        + (
            "| touches | command | warehouse | wall s | peak RSS GB | x floor | ok (exit 0, every model reconciles) |\n|---|---|---|---|---|---|---|\n"
            if rows
            else ""
        )
    )
    table = (
        "".join(
            f"| {t:,} | {c} | {w} | {s:.1f} | {r:.2f} | {'' if x is None else f'{x:.1f}'} | {'yes' if ok else 'NO'} |\n"
            for t, c, w, s, r, x, ok in rows
        )
        + fixed
    )
    for (touches, label), stats in steps.items():
        slowest = sorted(stats.items(), key=lambda item: -item[1][0] if item[1][0] == item[1][0] else -float("inf"))[:8]
        table += (
            f"\nSlowest steps, {touches:,} touches, {label} (seconds; process peak RSS / RSS GB when the step wrote): "
            + ", ".join(
                (f"{k} {d:.1f}s" if d == d else f"{k} unfinished") + (f" ({p:.2f} / {h:.2f} GB)" if p is not None and h is not None else "")
                for k, (d, p, h) in slowest
            )
            + "\n"
        )
    if models:
        table += models_table(models)
    if driven:
        table += data_driven_table(driven)
    with RESULTS.open("a") as handle:
        if RESULTS.stat().st_size == 0:
            handle.write("# Benchmark results\n\nAppended by the scripts in this folder; every figure is a measurement.\n")
        handle.write(header + table)
    print(header + table)
    return 0 if all(row[-1] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
