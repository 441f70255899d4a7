"""``attribution``: the command line (SPEC 6), a stable interface like the tables.

``run`` is in ``run.py``, ``export`` in ``export.py`` and ``snapshot`` in
``warehouse/snapshots.py``; this module parses the arguments and dispatches.
"""

import argparse
import json
import os
import sys
from pathlib import Path

from attribution_pipeline.app.errors import EXIT_OK, EXIT_USAGE, fail, first_line
from attribution_pipeline.app.export import export_table, missing_duckdb_file
from attribution_pipeline.app.run import run_pipeline
from attribution_pipeline.orchestration.deployment import Deployment


def _parser(deployment: Deployment, with_setting_flags: bool) -> argparse.ArgumentParser:
    """``with_setting_flags``: the run's setting flags, derived from the settings declaration
    (which imports Dagster, so the other commands start without it)."""
    parser = argparse.ArgumentParser(
        prog="attribution",
        description="Multi-touch campaign attribution: touches, campaigns and CRM deals in; exact credited revenue per model out.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    sample = commands.add_parser("sample-data", help="write a synthetic B2B landing folder")
    sample.add_argument("--out", required=True, type=Path, help="folder to write (created if missing)")
    sample.add_argument("--touches", type=int, default=20_000, help="number of touches (default 20000)")
    sample.add_argument("--seed", type=int, default=1, help="random seed; same seed, same bytes (default 1)")
    sample.add_argument("--format", choices=["csv", "parquet"], default="csv", help="file format (default csv)")
    sample.add_argument(
        "--no-anonymous-sessions",
        dest="anonymous_sessions",
        action="store_false",
        help="write the files exactly as before identity stitching: no anonymous_id column, no identities file",
    )

    run = commands.add_parser("run", help="run the whole pipeline through Dagster")
    run.add_argument("--source", required=True, help="landing folder, or a SQLAlchemy URL of a source database")
    run.add_argument(
        "--warehouse",
        default=deployment.warehouse_url,
        help="SQLAlchemy URL of the warehouse (default $ATTRIBUTION_WAREHOUSE_URL or duckdb:///warehouse.duckdb)",
    )
    run.add_argument(
        "--source-table",
        action="append",
        default=[],
        metavar="SOURCE=TABLE_OR_QUERY",
        help="with a database source: the table or SELECT query for a source (repeatable; default: table named like the source)",
    )
    if with_setting_flags:
        from attribution_pipeline.app.flags import add_setting_flags

        add_setting_flags(run)
    run.add_argument("--month", metavar="YYYY-MM", help="re-run one close month only (replaces exactly that month's rows)")
    run.add_argument("--from", dest="from_month", metavar="YYYY-MM", help="first close month of a range (with --to)")
    run.add_argument("--to", dest="to_month", metavar="YYYY-MM", help="last close month of a range (with --from)")
    run.add_argument(
        "--parallel",
        type=int,
        default=1,
        metavar="N",
        help="PostgreSQL warehouse: run the months as a Dagster backfill in N month ranges, through the instance's "
        "run queue and launcher (a dagster-daemon started for it runs it); default 1. "
        "DuckDB allows one writer, so there the months always run as one run",
    )
    export = commands.add_parser("export", help="write one warehouse table to a CSV or Parquet file")
    export.add_argument(
        "--warehouse",
        default=deployment.warehouse_url,
        help="SQLAlchemy URL of the warehouse (default $ATTRIBUTION_WAREHOUSE_URL or duckdb:///warehouse.duckdb)",
    )
    export.add_argument(
        "--table",
        required=True,
        metavar="[SCHEMA.]NAME",
        help="table to export, e.g. channel_attribution (schema attribution by default) or quarantine.touches",
    )
    export.add_argument("--out", required=True, type=Path, help="file to write; .csv or .parquet decides the format")
    snapshot = commands.add_parser(
        "snapshot", help="freeze a period's attribution numbers as reported (append-only attribution.snapshots_* tables)"
    )
    snapshot.add_argument(
        "--warehouse",
        default=deployment.warehouse_url,
        help="SQLAlchemy URL of the warehouse (default $ATTRIBUTION_WAREHOUSE_URL or duckdb:///warehouse.duckdb)",
    )
    snapshot.add_argument("--period", required=True, metavar="YYYY-Qn|YYYY-MM", help="the quarter (e.g. 2024-Q3) or month to freeze")
    snapshot.add_argument(
        "--supersede",
        action="store_true",
        help="freeze a period that is already frozen again, from the latest run: both snapshots are kept, the old one marked superseded",
    )
    report = commands.add_parser("report", help="write the marketer-facing HTML report from the output tables")
    report.add_argument(
        "--warehouse",
        default=deployment.warehouse_url,
        help="SQLAlchemy URL of the warehouse (default $ATTRIBUTION_WAREHOUSE_URL or duckdb:///warehouse.duckdb)",
    )
    report.add_argument("--out", type=Path, default=Path("report.html"), help="HTML file to write (default report.html)")
    report.add_argument("--model", default=None, help="model of the monthly trend (default linear)")
    report.add_argument("--from", dest="from_month", metavar="YYYY-MM", help="first close month (default: the first with credit)")
    report.add_argument("--to", dest="to_month", metavar="YYYY-MM", help="last close month (default: the last with credit)")
    report.add_argument("--screenshot", type=Path, metavar="PNG", help="also save a 1280-pixel-wide screenshot (needs chromium)")
    return parser


def sample_data(args: argparse.Namespace) -> int:
    from attribution_pipeline.sample_data import generate

    if args.touches < 1:
        return fail("--touches must be at least 1", EXIT_USAGE)
    try:
        counts = generate(
            args.out,
            touches=args.touches,
            seed=args.seed,
            fmt=args.format,
            anonymous_sessions=args.anonymous_sessions,
            progress=lambda line: print(f"attribution: {line}", file=sys.stderr, flush=True),
        )
    except (ValueError, OSError) as error:  # e.g. --out holds files the generator did not write
        return fail(f"sample-data --out {args.out}: {error}", EXIT_USAGE)
    print(json.dumps({"out": str(args.out), "rows": counts}))
    return EXIT_OK


def write_report(args: argparse.Namespace) -> int:
    import datetime as dt

    from attribution_pipeline.report import page as report

    if missing := missing_duckdb_file(args.warehouse):
        return fail(missing, EXIT_USAGE)
    try:
        first, last = (dt.datetime.strptime(month, "%Y-%m").date() if month else None for month in (args.from_month, args.to_month))
    except ValueError:
        return fail(f"--from/--to must be YYYY-MM (got {args.from_month!r}, {args.to_month!r})", EXIT_USAGE)
    if first and last and first > last:
        return fail(f"--from {args.from_month} is after --to {args.to_month}", EXIT_USAGE)
    try:
        data = report.write_report(args.warehouse, args.out, args.model, first, last)
    except ValueError as error:
        return fail(str(error))
    except Exception as error:  # e.g. no output tables in that warehouse
        return fail(f"report from {args.warehouse}: {first_line(error)}")
    if args.screenshot:
        try:
            report.screenshot(args.out, args.screenshot)
        except (OSError, RuntimeError) as error:
            return fail(f"--screenshot {args.screenshot}: {first_line(error)}")
    print(json.dumps({"out": str(args.out), "won_deals": data.won_deals, "won_revenue": data.won_cents / 100, "model": data.model}))
    return EXIT_OK


def freeze_period(args: argparse.Namespace) -> int:
    from attribution_pipeline.warehouse.client import WarehouseClient
    from attribution_pipeline.warehouse.snapshots import SnapshotRefused, freeze

    if missing := missing_duckdb_file(args.warehouse):
        return fail(missing, EXIT_USAGE)
    client = WarehouseClient(args.warehouse)
    try:
        frozen = freeze(client, args.period, supersede=args.supersede)
    except SnapshotRefused as error:
        return fail(f"snapshot --period {args.period}: {error}", EXIT_USAGE)
    except ValueError as error:  # a malformed period
        return fail(f"snapshot: {error}", EXIT_USAGE)
    except Exception as error:  # e.g. a warehouse written by no run
        return fail(f"snapshot from {args.warehouse}: {first_line(error)}")
    finally:
        client.dispose()
    superseded = f"; {frozen.superseded} is superseded" if frozen.superseded else ""
    print(f"attribution: froze {frozen.period} as {frozen.snapshot_id} from run {frozen.run_id}{superseded}", file=sys.stderr)
    print(json.dumps({"snapshot_id": frozen.snapshot_id, "run_id": frozen.run_id, "superseded": frozen.superseded, "rows": frozen.rows}))
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    running = "run" in argv
    deployment = Deployment.from_environment(with_settings=running)
    args = _parser(deployment, running).parse_args(argv)
    if args.command == "sample-data":
        return sample_data(args)
    if args.command == "export":
        return export_table(args)
    if args.command == "report":
        return write_report(args)
    if args.command == "snapshot":
        return freeze_period(args)
    return run_pipeline(args, deployment)


def entry() -> None:
    """The ``attribution`` console script. The last line a user reads must be ours (the
    summary, or the ``attribution: error:`` line), but DuckDB's bindings report the
    objects left to the interpreter's shutdown ("nanobind: leaked ...") on stderr as
    the process exits. Once everything is printed and flushed (and the validator
    process ended), stderr is pointed at /dev/null for that shutdown."""
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stderr.fileno())
    sys.exit(code)


if __name__ == "__main__":
    entry()
