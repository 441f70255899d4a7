"""``attribution run``: the options checked before anything starts, the months the
run covers, one Dagster run (or a parallel backfill) of the same Definitions that
``dg dev`` shows against a persistent instance, and its summary.
"""

import argparse
import datetime as dt
import os
import sys
from pathlib import Path

from attribution_pipeline.app.errors import EXIT_OK, EXIT_USAGE, fail, first_line
from attribution_pipeline.app.outcome import RunOutcome

DEFAULT_WAREHOUSE = "duckdb:///warehouse.duckdb"
_INSTANCE_YAML = "# Written by `attribution run`: Dagster instance for CLI runs.\ntelemetry:\n  enabled: false\n"


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
    from attribution_pipeline.orchestration.resources import AttributionSettings

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
    from attribution_pipeline.orchestration.partitions import DEFAULT_PARTITION_START, close_months

    return close_months(os.environ.get("ATTRIBUTION_PARTITION_START", DEFAULT_PARTITION_START))


def _month_range(args: argparse.Namespace) -> tuple[str, str] | None:
    """The partition keys a run covers: one month or a range; None: every month that
    can hold a deal (found from the source once the options are valid)."""
    from attribution_pipeline.orchestration.partitions import month_key

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
    from attribution_pipeline.orchestration.partitions import covered_window
    from attribution_pipeline.orchestration.resources import parse_as_of

    as_of = parse_as_of(settings["as_of"])
    start, end = covered_window(_partitions())
    if as_of is not None and not start <= as_of < end:
        raise ValueError(
            f"--as-of {settings['as_of']} is outside the close-month partitions ({start:%Y-%m} to the end of "
            f"{end - dt.timedelta(days=1):%Y-%m}); choose an as-of inside them"
            + (" or set ATTRIBUTION_PARTITION_START earlier" if as_of < start else "")
        )


def _months_holding_deals(source: str, tables: dict[str, str], settings: dict, warehouse: str) -> tuple[str, str]:
    from attribution_pipeline.app.deal_months import months_holding_deals
    from attribution_pipeline.orchestration.resources import LandingSource, parse_as_of
    from attribution_pipeline.warehouse.client import WarehouseClient

    # The plausible range's end, an hour beyond the tolerance: the run's own start comes a little later.
    latest = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=settings["future_tolerance_days"], hours=1)
    client = WarehouseClient(warehouse)
    try:
        return months_holding_deals(
            LandingSource(location=source, tables=tables), _partitions(), parse_as_of(settings["as_of"]), client, latest
        )
    finally:
        client.dispose()


def _summary(warehouse_url: str, run_id: str, months: tuple[str, str]) -> str:
    import sqlalchemy as sa

    from attribution_pipeline.orchestration.partitions import window_of
    from attribution_pipeline.warehouse.tables import RUN_SOURCES, TOUCH_CREDIT

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
    from attribution_pipeline.warehouse.client import WarehouseClient
    from attribution_pipeline.warehouse.run_log import record_run

    try:
        client = WarehouseClient(warehouse_url)
        try:
            record_run(client, run_id or "(not started)", "failed", None, message, settings, {})
        finally:
            client.dispose()
    except Exception as error:  # the warehouse itself may be the problem
        print(f"attribution: warning: could not record the failed run in attribution.runs: {first_line(error)}", file=sys.stderr)


def run_pipeline(args: argparse.Namespace) -> int:
    try:
        settings = _settings(args)
        tables = _source_tables(args.source_table)
        months = _month_range(args)
        _check_as_of(settings)
    except ValueError as error:
        return fail(str(error), EXIT_USAGE)
    if args.parallel < 1:
        return fail("--parallel must be at least 1", EXIT_USAGE)
    try:
        from attribution_pipeline.warehouse.client import WarehouseClient

        WarehouseClient(args.warehouse).dispose()  # a malformed URL is a usage error, not a failed run
    except Exception as error:
        return fail(f"--warehouse {args.warehouse}: {first_line(error)}", EXIT_USAGE)
    source = args.source if "://" in args.source else str(Path(args.source).resolve())
    if "://" not in args.source and not Path(source).is_dir():
        return fail(
            f"source folder {args.source} does not exist (write one with `attribution sample-data --out {args.source}`)", EXIT_USAGE
        )
    from attribution_pipeline.contract.validation import start_validator, stop_validator

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
            message = f"{type(error).__name__}: {first_line(error)}"
            _record_failure(args.warehouse, None, message, settings)
            return fail(message)
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
    from attribution_pipeline.app.backfill import execute, is_duckdb, run_parallel

    parallel = args.parallel > 1 and first_month != last_month
    if parallel and is_duckdb(args.warehouse):
        print("attribution: --parallel ignored: DuckDB allows one writer per file, so the months run as one run", file=sys.stderr)
        parallel = False
    try:
        if parallel:
            keys = defs.resolve_job_def(ALL_ASSETS_JOB).partitions_def.get_partition_keys()
            outcome = RunOutcome.of_stages(run_parallel(defs, run_config, first_month, last_month, args.parallel, keys))
        else:
            outcome = RunOutcome.of_result(execute(run_config, first_month, last_month))
    except Exception as error:  # a failure before any step ran (bad URL, config)
        message = f"{type(error).__name__}: {first_line(error)}"
        _record_failure(args.warehouse, None, message, settings)
        return fail(message)
    if not outcome.success:
        _record_failure(args.warehouse, outcome.run_id, outcome.message, settings)
        return fail(f"{outcome.message}; {outcome.replaced()} (run {outcome.run_id})")
    try:
        print(_summary(args.warehouse, outcome.run_id, (first_month, last_month)))
    except Exception as error:  # e.g. another run took the DuckDB file right after ours ended
        print(f"attribution: warning: the run succeeded but its summary could not be read: {first_line(error)}", file=sys.stderr)
    print(f"run {outcome.run_id} succeeded; tables in schema attribution of {args.warehouse}")
    return EXIT_OK
