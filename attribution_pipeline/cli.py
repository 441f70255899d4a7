"""``attribution``: the command line (SPEC 6), a stable interface like the tables.

``attribution run`` materializes the same Definitions that ``dg dev`` shows,
in-process, against a persistent Dagster instance, so every CLI run is in the
UI's run history too.
"""

import argparse
import datetime as dt
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
# Our own errors already name the source, file and rule: show their message as it is.
OWN_ERRORS = ("SourceError", "Failure", "WarehouseBusy", "TableSchemaMismatch")
DEFAULT_WAREHOUSE = "duckdb:///warehouse.duckdb"
_INSTANCE_YAML = "# Written by `attribution run`: Dagster instance for CLI runs.\ntelemetry:\n  enabled: false\n"


def _parser() -> argparse.ArgumentParser:
    from models.registry import MODELS

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

    run = commands.add_parser("run", help="run the whole pipeline through Dagster")
    run.add_argument("--source", required=True, help="landing folder, or a SQLAlchemy URL of a source database")
    run.add_argument(
        "--warehouse",
        default=os.environ.get("ATTRIBUTION_WAREHOUSE_URL", DEFAULT_WAREHOUSE),
        help="SQLAlchemy URL of the warehouse (default $ATTRIBUTION_WAREHOUSE_URL or duckdb:///warehouse.duckdb)",
    )
    run.add_argument(
        "--source-table",
        action="append",
        default=[],
        metavar="SOURCE=TABLE_OR_QUERY",
        help="with a database source: the table or SELECT query for a source (repeatable; default: table named like the source)",
    )
    run.add_argument("--lookback-days", type=float, default=365.0, help="days before created_at that touches count (default 365)")
    run.add_argument("--half-life-days", type=float, default=7.0, help="time_decay half-life in days (default 7)")
    run.add_argument(
        "--position-weights",
        default="0.4,0.2,0.4",
        metavar="F,M,L",
        help="position_based first,middle,last shares summing to 1 (default 0.4,0.2,0.4)",
    )
    run.add_argument("--models", default=None, metavar="M1,M2", help=f"models to compute (default all: {','.join(MODELS)})")
    run.add_argument(
        "--w-shaped-weights",
        default="0.3,0.3,0.3,0.1",
        metavar="FT,LC,OC,REST",
        help="w_shaped shares of the first, lead-creation and opportunity-creation touches and of the rest (default 0.3,0.3,0.3,0.1)",
    )
    run.add_argument(
        "--full-path-weights",
        default="0.225,0.225,0.225,0.225,0.1",
        metavar="FT,LC,OC,CW,REST",
        help="full_path shares of the first, lead-creation, opportunity-creation and closing touches and of the rest "
        "(default 0.225,0.225,0.225,0.225,0.1)",
    )
    run.add_argument(
        "--lead-touch-types",
        default="form_submit",
        metavar="T1,T2",
        help="touch types that create a lead, the lead-creation milestone (default form_submit)",
    )
    run.add_argument(
        "--exclude-touch-types", default="", metavar="T1,T2", help="touch types that never take credit, e.g. page_view (default none)"
    )
    run.add_argument("--exclude-channels", default="", metavar="C1,C2", help="channels that never take credit (default none)")
    run.add_argument("--markov-order", type=int, default=1, help="markov: chain order, 1 to 3 (default 1)")
    run.add_argument("--dedupe-paths", action="store_true", help="markov, shapley: collapse repeated consecutive channels of a path")
    run.add_argument("--include-open-deals", action="store_true", help="markov, shapley: learn from open deals too, as non-conversions")
    run.add_argument(
        "--bootstrap-draws",
        type=int,
        default=int(os.environ.get("ATTRIBUTION_BOOTSTRAP_DRAWS", "100")),
        help="markov, shapley: bootstrap draws for the 90%% intervals (default $ATTRIBUTION_BOOTSTRAP_DRAWS or 100; 0: none)",
    )
    run.add_argument("--bootstrap-seed", type=int, default=0, help="seed of the bootstrap draws (default 0)")
    run.add_argument("--reporting-currency", default="USD", help="ISO 4217 reporting currency (default USD)")
    run.add_argument(
        "--as-of", default=None, metavar="TIMESTAMP", help="ISO-8601 as-of time for open deals (default: latest timestamp in the inputs)"
    )
    run.add_argument(
        "--max-quarantine-share", type=float, default=0.5, help="stop when a larger share of a source's rows is quarantined (default 0.5)"
    )
    run.add_argument(
        "--earliest-date",
        default="1990-01-01",
        metavar="YYYY-MM-DD",
        help="timestamps and dates before this are implausible and quarantined (default 1990-01-01)",
    )
    run.add_argument(
        "--future-tolerance-days",
        type=float,
        default=1.0,
        metavar="D",
        help="timestamps and dates later than the run's start plus D days are implausible and quarantined (default 1)",
    )
    run.add_argument(
        "--non-marketing-channels",
        default="direct,sales_outreach",
        metavar="C1,C2",
        help="pipeline_sourcing: channels that are not marketing (default direct,sales_outreach)",
    )
    run.add_argument(
        "--stage-order",
        default="qualification,discovery,proposal,negotiation,closed_won",
        metavar="S1,S2",
        help="stage_velocity: opportunity stages in order (default qualification,discovery,proposal,negotiation,closed_won)",
    )
    run.add_argument("--lead-sla-hours", type=float, default=24.0, help="lead_sla: hours sales has to act on an MQL (default 24)")
    run.add_argument("--month", metavar="YYYY-MM", help="re-run one close month only (replaces exactly that month's rows)")
    run.add_argument("--from", dest="from_month", metavar="YYYY-MM", help="first close month of a range (with --to)")
    run.add_argument("--to", dest="to_month", metavar="YYYY-MM", help="last close month of a range (with --from)")
    run.add_argument(
        "--parallel",
        type=int,
        default=1,
        metavar="N",
        help="PostgreSQL warehouse: split the months into N ranges run by N processes at once (default 1; "
        "DuckDB allows one writer, so there the months always run as one run)",
    )
    export = commands.add_parser("export", help="write one warehouse table to a CSV or Parquet file")
    export.add_argument(
        "--warehouse",
        default=os.environ.get("ATTRIBUTION_WAREHOUSE_URL", DEFAULT_WAREHOUSE),
        help="SQLAlchemy URL of the warehouse (default $ATTRIBUTION_WAREHOUSE_URL or duckdb:///warehouse.duckdb)",
    )
    export.add_argument(
        "--table",
        required=True,
        metavar="[SCHEMA.]NAME",
        help="table to export, e.g. channel_attribution (schema attribution by default) or quarantine.touches",
    )
    export.add_argument("--out", required=True, type=Path, help="file to write; .csv or .parquet decides the format")
    report = commands.add_parser("report", help="write the marketer-facing HTML report from the output tables")
    report.add_argument(
        "--warehouse",
        default=os.environ.get("ATTRIBUTION_WAREHOUSE_URL", DEFAULT_WAREHOUSE),
        help="SQLAlchemy URL of the warehouse (default $ATTRIBUTION_WAREHOUSE_URL or duckdb:///warehouse.duckdb)",
    )
    report.add_argument("--out", type=Path, default=Path("report.html"), help="HTML file to write (default report.html)")
    report.add_argument("--model", default=None, help="model of the monthly trend (default linear)")
    report.add_argument("--from", dest="from_month", metavar="YYYY-MM", help="first close month (default: the first with credit)")
    report.add_argument("--to", dest="to_month", metavar="YYYY-MM", help="last close month (default: the last with credit)")
    report.add_argument("--screenshot", type=Path, metavar="PNG", help="also save a 1280-pixel-wide screenshot (needs chromium)")
    return parser


def _fail(message: str, code: int = EXIT_FAILED) -> int:
    print(f"attribution: error: {message}", file=sys.stderr)
    return code


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _dagster_home() -> None:
    """CLI runs go to $DAGSTER_HOME, else to ./.dagster_state (never the repo's tracked files)."""
    if os.environ.get("DAGSTER_HOME"):
        return
    home = Path.cwd() / ".dagster_state"
    home.mkdir(exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(_INSTANCE_YAML)
    os.environ["DAGSTER_HOME"] = str(home)


def _numbers(option: str, text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",")]
    except ValueError:
        raise ValueError(f"{option} {text!r} must be comma-separated numbers")


def _names(text: str | None) -> list[str]:
    return [part.strip().lower() for part in (text or "").split(",") if part.strip()]


def _settings(args: argparse.Namespace) -> dict:
    try:
        first, middle, last = (float(part) for part in args.position_weights.split(","))
    except ValueError:
        raise ValueError(f"--position-weights {args.position_weights!r} must be three numbers F,M,L")
    settings = {
        "lookback_days": args.lookback_days,
        "half_life_days": args.half_life_days,
        "position_first": first,
        "position_middle": middle,
        "position_last": last,
        "reporting_currency": args.reporting_currency,
        "as_of": args.as_of,
        "max_quarantine_share": args.max_quarantine_share,
        "earliest_date": args.earliest_date,
        "future_tolerance_days": args.future_tolerance_days,
        "lead_sla_hours": args.lead_sla_hours,
        "stage_order": [stage.strip().lower() for stage in args.stage_order.split(",") if stage.strip()],
        "non_marketing_channels": [c.strip().lower() for c in args.non_marketing_channels.split(",") if c.strip()],
        "w_shaped_weights": _numbers("--w-shaped-weights", args.w_shaped_weights),
        "full_path_weights": _numbers("--full-path-weights", args.full_path_weights),
        "lead_touch_types": _names(args.lead_touch_types),
        "excluded_touch_types": _names(args.exclude_touch_types),
        "excluded_channels": _names(args.exclude_channels),
        "markov_order": args.markov_order,
        "dedupe_paths": args.dedupe_paths,
        "include_open_deals": args.include_open_deals,
        "bootstrap_draws": args.bootstrap_draws,
        "bootstrap_seed": args.bootstrap_seed,
    }
    if args.models is not None:
        settings["models"] = _names(args.models)
    from attribution_pipeline.resources import AttributionSettings

    resource = AttributionSettings(**settings)
    resource.params()  # validate before anything runs
    resource.model_names()
    if args.bootstrap_draws < 0:
        raise ValueError("--bootstrap-draws must be >= 0")
    if not 0 <= args.max_quarantine_share <= 1:
        raise ValueError("--max-quarantine-share must be between 0 and 1")
    return settings


def _source_tables(pairs: list[str]) -> dict[str, str]:
    tables = {}
    for pair in pairs:
        name, sep, target = pair.partition("=")
        if not sep or not name.strip() or not target.strip():
            raise ValueError(f"--source-table {pair!r} must look like SOURCE=TABLE_OR_QUERY")
        tables[name.strip()] = target.strip()
    return tables


def _partitions():
    from attribution_pipeline.partitions import DEFAULT_PARTITION_START, close_months

    return close_months(os.environ.get("ATTRIBUTION_PARTITION_START", DEFAULT_PARTITION_START))


def _month_range(args: argparse.Namespace) -> tuple[str, str] | None:
    """The partition keys a run covers: one month or a range; None: every month that
    can hold a deal (found from the source once the options are valid)."""
    from attribution_pipeline.partitions import month_key

    keys = _partitions().get_partition_keys()
    if args.month and (args.from_month or args.to_month):
        raise ValueError("use either --month or --from/--to")
    if bool(args.from_month) != bool(args.to_month):
        raise ValueError("--from and --to go together")
    if args.month:
        first = last = month_key(args.month)
    elif args.from_month:
        first, last = month_key(args.from_month), month_key(args.to_month)
    else:
        return None
    for key in (first, last):
        if key not in keys:
            raise ValueError(
                f"month {key[:7]} is not a close-month partition ({keys[0][:7]} to {keys[-1][:7]}; ATTRIBUTION_PARTITION_START moves the start)"
            )
    if first > last:
        raise ValueError(f"--from {first[:7]} is after --to {last[:7]}")
    return first, last


def _check_as_of(settings: dict) -> None:
    """An explicit as-of ends open deals' windows: outside the partitions they could never be credited."""
    from attribution_pipeline.partitions import covered_window
    from attribution_pipeline.resources import parse_as_of

    as_of = parse_as_of(settings["as_of"])
    start, end = covered_window(_partitions())
    if as_of is not None and not start <= as_of < end:
        raise ValueError(
            f"--as-of {settings['as_of']} is outside the close-month partitions ({start:%Y-%m} to the end of "
            f"{end - dt.timedelta(days=1):%Y-%m}); choose an as-of inside them"
            + (" or set ATTRIBUTION_PARTITION_START earlier" if as_of < start else "")
        )


def _months_holding_deals(source: str, tables: dict[str, str], settings: dict, warehouse: str) -> tuple[str, str]:
    from attribution_pipeline.deal_months import months_holding_deals
    from attribution_pipeline.resources import LandingSource, parse_as_of
    from attribution_pipeline.warehouse import WarehouseClient

    # The plausible range's end, an hour beyond the tolerance: the run's own start comes a little later.
    latest = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=settings["future_tolerance_days"], hours=1)
    client = WarehouseClient(warehouse)
    try:
        return months_holding_deals(
            LandingSource(location=source, tables=tables), _partitions(), parse_as_of(settings["as_of"]), client, latest
        )
    finally:
        client.dispose()


def failure_message(result) -> str:
    """The user-facing cause of the failure, without a traceback: a failed blocking
    check's message, else the first failed step's exception."""
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            message = evaluation.metadata.get("message")
            if not evaluation.passed and evaluation.severity.value == "ERROR" and message is not None:
                return message.value
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            # Down the chain to our own error (which names source, file and rule),
            # else to the root cause.
            while error.cause is not None and error.cls_name not in OWN_ERRORS:
                error = error.cause
            text = error.message.strip().splitlines()[0] if error.message.strip() else error.cls_name
            prefix = f"{error.cls_name}: "
            text = text.split(prefix, 1)[1] if prefix in text else text
            if error.cls_name not in OWN_ERRORS:
                text = f"{error.cls_name}: {text}"
            return f"{text} (step {event.step_key})"
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION" and not event.event_specific_data.passed:
            return f"check {event.event_specific_data.check_name} failed on {event.event_specific_data.asset_key.to_user_string()}"
    return "the run failed"


def _summary(warehouse_url: str, run_id: str, months: tuple[str, str]) -> str:
    import sqlalchemy as sa

    from attribution_pipeline.partitions import window_of
    from attribution_pipeline.tables import RUN_SOURCES, TOUCH_CREDIT

    engine = sa.create_engine(warehouse_url)
    try:
        with engine.connect() as conn:
            opportunities = sa.table(
                "opportunities",
                sa.column("is_won", sa.Boolean),
                sa.column("amount_cents", sa.BigInteger),
                sa.column("closed_at", sa.DateTime(timezone=True)),
                schema="staging",
            )
            start, end = window_of(months)
            in_months = sa.and_(opportunities.c.is_won, opportunities.c.closed_at >= start, opportunities.c.closed_at < end)
            won = conn.execute(
                sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(opportunities.c.amount_cents), 0)).where(in_months)
            ).one()
            credit = TOUCH_CREDIT.c
            unattributed = sa.func.sum(sa.case((credit.channel == "(unattributed)", credit.credited_amount), else_=0))
            models = conn.execute(
                sa.select(credit.model, sa.func.sum(credit.credited_amount), unattributed)
                .where(credit.closed_at >= start, credit.closed_at < end)
                .group_by(credit.model)
                .order_by(credit.model)
            ).all()
            sources = conn.execute(
                sa.select(RUN_SOURCES.c.source, RUN_SOURCES.c.rows_in, RUN_SOURCES.c.rows_passed, RUN_SOURCES.c.rows_quarantined)
                .where(RUN_SOURCES.c.run_id == run_id)
                .order_by(RUN_SOURCES.c.source)
            ).all()
    finally:
        engine.dispose()
    won_total = int(won[1]) / 100
    scope = "" if months[0] == months[1] == "" else f" closing {months[0][:7]} to {months[1][:7]}"
    lines = [f"won deals{scope}: {won[0]:,}   won revenue: {won_total:,.2f}", "credited revenue per model:"]
    for model, total, unattributed_total in models:
        total, unattributed_total = float(total or 0), float(unattributed_total or 0)
        status = "reconciles" if round(total * 100) == int(won[1]) else "DOES NOT RECONCILE"
        share = unattributed_total / total if total else 0.0
        lines.append(f"  {model:<16} {total:>18,.2f}  {status}; unattributed {unattributed_total:,.2f} ({share:.1%})")
    lines.append("rows per source (in = passed + quarantined):")
    for source, rows_in, passed, quarantined in sources:
        lines.append(f"  {source:<22} {rows_in:>12,} = {passed:,} + {quarantined:,} quarantined")
    return "\n".join(lines)


def _record_failure(warehouse_url: str, run_id: str | None, message: str, settings: dict) -> None:
    from attribution_pipeline.run_log import record_run
    from attribution_pipeline.warehouse import WarehouseClient

    try:
        client = WarehouseClient(warehouse_url)
        try:
            record_run(client, run_id or "(not started)", "failed", None, message, settings, {})
        finally:
            client.dispose()
    except Exception as error:  # the warehouse itself may be the problem
        print(f"attribution: warning: could not record the failed run in attribution.runs: {_first_line(error)}", file=sys.stderr)


def run_pipeline(args: argparse.Namespace) -> int:
    try:
        settings = _settings(args)
        tables = _source_tables(args.source_table)
        months = _month_range(args)
        _check_as_of(settings)
    except ValueError as error:
        return _fail(str(error), EXIT_USAGE)
    if args.parallel < 1:
        return _fail("--parallel must be at least 1", EXIT_USAGE)
    try:
        from attribution_pipeline.warehouse import WarehouseClient

        WarehouseClient(args.warehouse).dispose()  # a malformed URL is a usage error, not a failed run
    except Exception as error:
        return _fail(f"--warehouse {args.warehouse}: {_first_line(error)}", EXIT_USAGE)
    source = args.source if "://" in args.source else str(Path(args.source).resolve())
    if "://" not in args.source and not Path(source).is_dir():
        return _fail(
            f"source folder {args.source} does not exist (write one with `attribution sample-data --out {args.source}`)", EXIT_USAGE
        )
    from attribution_pipeline.validation import start_validator, stop_validator

    start_validator()  # great-expectations imports in its own process while the run starts
    try:
        return _run_with(args, settings, tables, months, source)
    finally:
        stop_validator()


def _run_with(args: argparse.Namespace, settings: dict, tables: dict[str, str], months: tuple[str, str] | None, source: str) -> int:
    """run_pipeline once the options are valid: the months, the Dagster run, its outcome and summary."""
    if months is None:
        try:
            months = _months_holding_deals(source, tables, settings, args.warehouse)
        except Exception as error:  # the warehouse itself (unreachable, refused): a failed run, said in one line
            message = f"{type(error).__name__}: {_first_line(error)}"
            _record_failure(args.warehouse, None, message, settings)
            return _fail(message)
    first_month, last_month = months
    _dagster_home()
    os.environ["ATTRIBUTION_SOURCE"] = source
    os.environ["ATTRIBUTION_WAREHOUSE_URL"] = args.warehouse

    from attribution_pipeline.definitions import ALL_ASSETS_JOB, definitions_from_environment

    defs = definitions_from_environment()

    run_config = {
        "loggers": {"progress": {}},
        "resources": {
            "settings": {"config": settings},
            **({"source": {"config": {"location": source, "tables": tables}}} if tables else {}),
        },
    }
    print(
        f"attribution: source {args.source} -> warehouse {args.warehouse}, close months {first_month[:7]} to {last_month[:7]}",
        file=sys.stderr,
    )
    from attribution_pipeline.backfill import execute, is_duckdb, run_parallel

    parallel = args.parallel > 1 and first_month != last_month
    if parallel and is_duckdb(args.warehouse):
        print("attribution: --parallel ignored: DuckDB allows one writer per file, so the months run as one run", file=sys.stderr)
        parallel = False
    try:
        if parallel:
            keys = defs.resolve_job_def(ALL_ASSETS_JOB).partitions_def.get_partition_keys()
            outcome = _Outcome.of_stages(run_parallel(defs, run_config, first_month, last_month, args.parallel, keys))
        else:
            outcome = _Outcome.of_result(execute(run_config, first_month, last_month))
    except Exception as error:  # a failure before any step ran (bad URL, config)
        message = f"{type(error).__name__}: {_first_line(error)}"
        _record_failure(args.warehouse, None, message, settings)
        return _fail(message)
    if not outcome.success:
        _record_failure(args.warehouse, outcome.run_id, outcome.message, settings)
        return _fail(f"{outcome.message}; {outcome.replaced()} (run {outcome.run_id})")
    try:
        print(_summary(args.warehouse, outcome.run_id, (first_month, last_month)))
    except Exception as error:  # e.g. another run took the DuckDB file right after ours ended
        print(f"attribution: warning: the run succeeded but its summary could not be read: {_first_line(error)}", file=sys.stderr)
    print(f"run {outcome.run_id} succeeded; tables in schema attribution of {args.warehouse}")
    return EXIT_OK


@dataclass
class _Outcome:
    """How a CLI run ended: one Dagster run, or the stage runs of a parallel backfill."""

    run_id: str | None
    success: bool
    message: str = ""
    stages: list = field(default_factory=list)
    result: object = None

    @classmethod
    def of_stages(cls, stages: list) -> "_Outcome":
        failed = next((stage for stage in stages if not stage.success), None)
        if failed is None:
            return cls(stages[-1].run_id, True, stages=stages)
        return cls(failed.run_id, False, failed.message, stages=stages)

    @classmethod
    def of_result(cls, result) -> "_Outcome":
        return cls(result.run_id, result.success, "" if result.success else failure_message(result), result=result)

    def replaced(self) -> str:
        """Which outputs the failed run had already replaced, so nobody guesses."""
        if self.stages:
            done = [stage.label for stage in self.stages if stage.success and stage.label.startswith("months")]
            return f"already replaced: {', '.join(done)} (other months untouched)" if done else "previous output tables are untouched"
        published = any(
            e.event_type_value == "ASSET_MATERIALIZATION" and e.asset_key.path == ["attribution", "runs"] for e in self.result.all_events
        )
        # The attribution tables are published together by attribution/runs (io_managers.publish).
        return "this run's attribution tables were already published" if published else "previous output tables are untouched"


def sample_data(args: argparse.Namespace) -> int:
    from attribution_pipeline.sample_data import generate

    if args.touches < 1:
        return _fail("--touches must be at least 1", EXIT_USAGE)
    try:
        counts = generate(
            args.out,
            touches=args.touches,
            seed=args.seed,
            fmt=args.format,
            progress=lambda line: print(f"attribution: {line}", file=sys.stderr, flush=True),
        )
    except (ValueError, OSError) as error:  # e.g. --out holds files the generator did not write
        return _fail(f"sample-data --out {args.out}: {error}", EXIT_USAGE)
    print(json.dumps({"out": str(args.out), "rows": counts}))
    return EXIT_OK


EXPORT_FORMATS = {".csv": "write_csv", ".parquet": "write_parquet"}


def _missing_duckdb_file(url: str) -> str | None:
    """A reader must not create an empty DuckDB file where the user mistyped a path."""
    prefix = "duckdb:///"
    if url.startswith(prefix) and url[len(prefix) :] not in ("", ":memory:") and not Path(url[len(prefix) :]).exists():
        return f"--warehouse {url}: no such DuckDB file"
    return None


def export_table(args: argparse.Namespace) -> int:
    """One table to a file, as the warehouse holds it (money as decimals, times in UTC)."""
    from attribution_pipeline.warehouse import WarehouseClient

    if missing := _missing_duckdb_file(args.warehouse):
        return _fail(missing, EXIT_USAGE)
    writer = EXPORT_FORMATS.get(args.out.suffix.lower())
    if writer is None:
        return _fail(f"--out {args.out}: the file name must end in .csv or .parquet", EXIT_USAGE)
    schema, _, name = args.table.rpartition(".")
    schema = schema or "attribution"
    try:
        client = WarehouseClient(args.warehouse)
    except Exception as error:
        return _fail(f"--warehouse {args.warehouse}: {_first_line(error)}", EXIT_USAGE)
    try:
        if not client.has_table(schema, name):
            return _fail(f"table {schema}.{name} does not exist in {args.warehouse} (run `attribution run` first?)")
        frame = client.read(schema, name)
    except Exception as error:
        return _fail(f"reading {schema}.{name} from {args.warehouse}: {_first_line(error)}")
    finally:
        client.dispose()
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        getattr(frame, writer)(args.out)
    except OSError as error:
        return _fail(f"--out {args.out}: {_first_line(error)}")
    print(json.dumps({"table": f"{schema}.{name}", "rows": frame.height, "out": str(args.out)}))
    return EXIT_OK


def write_report(args: argparse.Namespace) -> int:
    import datetime as dt

    from attribution_pipeline import report

    if missing := _missing_duckdb_file(args.warehouse):
        return _fail(missing, EXIT_USAGE)
    try:
        first, last = (dt.datetime.strptime(month, "%Y-%m").date() if month else None for month in (args.from_month, args.to_month))
    except ValueError:
        return _fail(f"--from/--to must be YYYY-MM (got {args.from_month!r}, {args.to_month!r})", EXIT_USAGE)
    if first and last and first > last:
        return _fail(f"--from {args.from_month} is after --to {args.to_month}", EXIT_USAGE)
    try:
        data = report.write_report(args.warehouse, args.out, args.model, first, last)
    except ValueError as error:
        return _fail(str(error))
    except Exception as error:  # e.g. no output tables in that warehouse
        return _fail(f"report from {args.warehouse}: {_first_line(error)}")
    if args.screenshot:
        try:
            report.screenshot(args.out, args.screenshot)
        except (OSError, RuntimeError) as error:
            return _fail(f"--screenshot {args.screenshot}: {_first_line(error)}")
    print(json.dumps({"out": str(args.out), "won_deals": data.won_deals, "won_revenue": data.won_cents / 100, "model": data.model}))
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "sample-data":
        return sample_data(args)
    if args.command == "export":
        return export_table(args)
    if args.command == "report":
        return write_report(args)
    return run_pipeline(args)


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
