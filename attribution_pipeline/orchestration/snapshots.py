"""Period snapshots in Dagster (issue 19): ``snapshot_job`` freezes one period, the
``quarterly_snapshot`` schedule freezes the quarter that just ended.

The job is an op, not an asset: a snapshot is append-only and must never be
re-materialized by "materialize all" or a backfill of the attribution assets.
Its op calls the same ``freeze`` as ``attribution snapshot``.
"""

import dagster as dg
from pydantic import Field

from attribution_pipeline.orchestration.resources import Warehouse
from attribution_pipeline.warehouse.snapshots import SnapshotRefused, freeze
from models.snapshots import previous_quarter

SNAPSHOT_JOB = "snapshot_job"


class SnapshotConfig(dg.Config):
    period: str = Field(description="The period to freeze: YYYY-Qn (a quarter, e.g. 2024-Q3) or YYYY-MM (a month)")
    supersede: bool = Field(default=False, description="Freeze a frozen period again; both are kept, the old one marked superseded")
    skip_if_frozen: bool = Field(default=False, description="Do nothing when the period is already frozen (the schedule's setting)")


@dg.op(description="Freezes a period's published attribution numbers into the attribution.snapshots_* tables.")
def freeze_period(context: dg.OpExecutionContext, config: SnapshotConfig, warehouse: Warehouse) -> None:
    try:
        frozen = freeze(warehouse.client, config.period, config.supersede, config.skip_if_frozen)
    except (SnapshotRefused, ValueError) as error:
        raise dg.Failure(description=f"snapshot --period {config.period}: {error}") from error
    if frozen.skipped:
        context.log.info(f"{config.period} is already frozen as {frozen.snapshot_id}: nothing to do")
        return
    superseded = f"; {frozen.superseded} is superseded" if frozen.superseded else ""
    context.log.info(f"froze {config.period} as {frozen.snapshot_id} from run {frozen.run_id}{superseded}: {frozen.rows}")


@dg.job(name=SNAPSHOT_JOB, description="Freeze one period (config: period, supersede, skip_if_frozen).")
def snapshot_job() -> None:
    freeze_period()


def quarterly_snapshot(timezone: str) -> dg.ScheduleDefinition:
    """At 06:00 on the 2nd day of each quarter, the quarter before, once (run_key = the
    period; a period frozen by hand already is skipped)."""

    @dg.schedule(
        name="quarterly_snapshot",
        job=snapshot_job,
        cron_schedule="0 6 2 1,4,7,10 *",
        execution_timezone=timezone,
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description="Freezes the quarter that just ended (after the daily run of its first day), unless already frozen.",
    )
    def _schedule(context: dg.ScheduleEvaluationContext):
        period = previous_quarter(context.scheduled_execution_time.date())
        config = {"ops": {"freeze_period": {"config": {"period": period, "skip_if_frozen": True}}}}
        return dg.RunRequest(run_key=period, run_config=config, tags={"attribution/period": period})

    return _schedule
