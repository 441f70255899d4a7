"""``attribution run``: the options checked before anything starts, the months the
run covers, one Dagster run (or a parallel backfill) of the same Definitions that
``dg dev`` shows against a persistent instance, and its summary.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from attribution_pipeline.app.errors import EXIT_OK, EXIT_USAGE, fail, first_line
from attribution_pipeline.app.outcome import RunOutcome
from attribution_pipeline.orchestration.deployment import Deployment

_INSTANCE_YAML = "# Written by `attribution run`: Dagster instance for CLI runs.\ntelemetry:\n  enabled: false\n"


def dagster_home(deployment: Deployment) -> Path:
    """CLI runs go to $DAGSTER_HOME, else to ./.dagster_state (never the repo's tracked files)."""
    if deployment.dagster_home:
        return Path(deployment.dagster_home)
    home = Path.cwd() / ".dagster_state"
    home.mkdir(exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(_INSTANCE_YAML)
    return home


def _source_tables(pairs: list[str]) -> dict[str, str]:
    tables = {}
    for pair in pairs:
        name, sep, target = pair.partition("=")
        if not sep or not name.strip() or not target.strip():
            raise ValueError(f"--source-table {pair!r} must look like SOURCE=TABLE_OR_QUERY")
        tables[name.strip()] = target.strip()
    return tables


def _partitions(deployment: Deployment):
    from attribution_pipeline.orchestration.partitions import close_months

    return close_months(deployment.partition_start)


def _month_range(args: argparse.Namespace, deployment: Deployment) -> tuple[str, str] | None:
    """The partition keys a run covers: one month or a range; None: every month that
    can hold a deal (found from the source once the options are valid)."""
    from attribution_pipeline.orchestration.partitions import month_key

    keys = _partitions(deployment).get_partition_keys()
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


def _check_as_of(settings: dict, deployment: Deployment) -> None:
    """An explicit as-of ends open deals' windows: outside the partitions they could never be credited."""
    from attribution_pipeline.orchestration.partitions import covered_window
    from attribution_pipeline.orchestration.settings import parse_as_of

    as_of = parse_as_of(settings["as_of"])
    start, end = covered_window(_partitions(deployment))
    if as_of is not None and not start <= as_of < end:
        raise ValueError(
            f"--as-of {settings['as_of']} is outside the close-month partitions ({start:%Y-%m} to the end of "
            f"{end - dt.timedelta(days=1):%Y-%m}); choose an as-of inside them"
            + (" or set ATTRIBUTION_PARTITION_START earlier" if as_of < start else "")
        )


def _months_holding_deals(deployment: Deployment, tables: dict[str, str], settings: dict) -> tuple[str, str]:
    from attribution_pipeline.app.deal_months import months_holding_deals
    from attribution_pipeline.orchestration.resources import LandingSource
    from attribution_pipeline.orchestration.settings import parse_as_of

    # The plausible range's end, an hour beyond the tolerance: the run's own start comes a little later.
    latest = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=settings["future_tolerance_days"], hours=1)
    client = _client(deployment)
    try:
        return months_holding_deals(
            LandingSource(location=deployment.source, tables=tables),
            _partitions(deployment),
            parse_as_of(settings["as_of"]),
            client,
            latest,
        )
    finally:
        client.dispose()


def _summary(warehouse_url: str, run_id: str, months: tuple[str, str]) -> str:
    import sqlalchemy as sa

    from attribution_pipeline.orchestration.partitions import window_of
    from attribution_pipeline.warehouse.tables import RUN_SOURCES, RUNS, STITCH_COUNTS, TOUCH_CREDIT

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
            stitching = conn.execute(sa.select(*(RUNS.c[name] for name in STITCH_COUNTS)).where(RUNS.c.run_id == run_id)).first()
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
    if stitching is not None and stitching[0] is not None:
        anonymous, stitched, left, ambiguous = stitching
        lines.append(
            f"identity stitching: {anonymous:,} touches with an anonymous_id: {stitched:,} stitched, {left:,} left anonymous; "
            f"{ambiguous:,} anonymous ids ambiguous (linked to two or more e-mails)"
        )
    return "\n".join(lines)


def _client(deployment: Deployment):
    from attribution_pipeline.warehouse.client import WarehouseClient

    return WarehouseClient(deployment.warehouse_url, deployment.duckdb_memory_limit)


def _record_failure(deployment: Deployment, run_id: str | None, message: str, settings: dict) -> None:
    from attribution_pipeline.warehouse.run_log import record_run

    try:
        client = _client(deployment)
        try:
            record_run(client, run_id or "(not started)", "failed", None, message, settings, {})
        finally:
            client.dispose()
    except Exception as error:  # the warehouse itself may be the problem
        print(f"attribution: warning: could not record the failed run in attribution.runs: {first_line(error)}", file=sys.stderr)


def _settings(args: argparse.Namespace, deployment: Deployment) -> dict:
    """Every setting's value (declared default < environment < flag), checked before anything runs."""
    from attribution_pipeline.app.flags import settings_from_flags

    resource = settings_from_flags(args, deployment.settings_defaults())
    resource.params()  # the checks across fields (weights summing to 1, dates)
    resource.model_names()
    return resource.model_dump()


def run_pipeline(args: argparse.Namespace, deployment: Deployment) -> int:
    source = args.source if "://" in args.source else str(Path(args.source).resolve())
    deployment = deployment.replace(source=source, warehouse_url=args.warehouse)
    try:
        settings = _settings(args, deployment)
        tables = _source_tables(args.source_table)
        months = _month_range(args, deployment)
        _check_as_of(settings, deployment)
    except ValueError as error:
        return fail(str(error), EXIT_USAGE)
    if args.parallel < 1:
        return fail("--parallel must be at least 1", EXIT_USAGE)
    try:
        _client(deployment).dispose()  # a malformed URL is a usage error, not a failed run
    except Exception as error:
        return fail(f"--warehouse {args.warehouse}: {first_line(error)}", EXIT_USAGE)
    if "://" not in args.source and not Path(source).is_dir():
        return fail(
            f"source folder {args.source} does not exist (write one with `attribution sample-data --out {args.source}`)", EXIT_USAGE
        )
    from attribution_pipeline.contract.validation import start_validator, stop_validator

    start_validator()  # great-expectations imports in its own process while the run starts
    try:
        return _run_with(args, deployment, settings, tables, months)
    finally:
        stop_validator()


def _run_with(
    args: argparse.Namespace, deployment: Deployment, settings: dict, tables: dict[str, str], months: tuple[str, str] | None
) -> int:
    """run_pipeline once the options are valid: the months, the Dagster run, its outcome and summary."""
    if months is None:
        try:
            months = _months_holding_deals(deployment, tables, settings)
        except Exception as error:  # the warehouse itself (unreachable, refused): a failed run, said in one line
            message = f"{type(error).__name__}: {first_line(error)}"
            _record_failure(deployment, None, message, settings)
            return fail(message)
    first_month, last_month = months
    deployment = deployment.replace(dagster_home=str(dagster_home(deployment)))

    from attribution_pipeline.definitions import ALL_ASSETS_JOB, definitions_for

    defs = definitions_for(deployment)  # the same definitions the job pointer rebuilds (cached)

    run_config = {
        "loggers": {"progress": {}},
        "resources": {
            "settings": {"config": settings},
            **({"source": {"config": {"location": deployment.source, "tables": tables}}} if tables else {}),
        },
    }
    print(
        f"attribution: source {args.source} -> warehouse {args.warehouse}, close months {first_month[:7]} to {last_month[:7]}",
        file=sys.stderr,
    )
    from attribution_pipeline.app.backfill import execute, is_duckdb, run_backfill

    parallel = args.parallel > 1 and first_month != last_month
    if parallel and is_duckdb(args.warehouse):
        print("attribution: --parallel ignored: DuckDB allows one writer per file, so the months run as one run", file=sys.stderr)
        parallel = False
    try:
        if parallel:  # a Dagster backfill, run by a dagster-daemon
            keys = defs.resolve_job_def(ALL_ASSETS_JOB).partitions_def.get_partition_keys()
            outcome = RunOutcome.of_stages(run_backfill(deployment, run_config, first_month, last_month, args.parallel, keys))
        else:
            outcome = RunOutcome.of_result(execute(deployment, run_config, first_month, last_month))
    except Exception as error:  # a failure before any step ran (bad URL, config)
        message = f"{type(error).__name__}: {first_line(error)}"
        _record_failure(deployment, None, message, settings)
        return fail(message)
    if not outcome.success:
        _record_failure(deployment, outcome.run_id, outcome.message, settings)
        return fail(f"{outcome.message}; {outcome.replaced()} (run {outcome.run_id})")
    try:
        print(_summary(args.warehouse, outcome.run_id, (first_month, last_month)))
    except Exception as error:  # e.g. another run took the DuckDB file right after ours ended
        print(f"attribution: warning: the run succeeded but its summary could not be read: {first_line(error)}", file=sys.stderr)
    print(f"run {outcome.run_id} succeeded; tables in schema attribution of {args.warehouse}")
    return EXIT_OK
