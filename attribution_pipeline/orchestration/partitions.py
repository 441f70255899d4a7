"""Close-month partitions: the attribution and channel tables are cut by the month
of each deal's conversion (closed_at, or the as-of time for an open deal).

A run covers a range of months: a single month re-runs that month, the whole
range re-runs history, and both replace exactly their months' rows.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from attribution_pipeline.orchestration.deployment import DEFAULT_PARTITION_START


def close_months(start: str = DEFAULT_PARTITION_START) -> dg.MonthlyPartitionsDefinition:
    """Months from ``start`` to next month (end_offset=1: this month is already open for deals)."""
    return dg.MonthlyPartitionsDefinition(start_date=start, end_offset=1)


def month_backfill_policy(months_per_run: str | None) -> dg.BackfillPolicy:
    """How Dagster backfills the close-month partitioned assets: every month in one run,
    or runs of at most ``months_per_run`` contiguous months (ATTRIBUTION_BACKFILL_MONTHS_PER_RUN)."""
    if months_per_run is None:
        return dg.BackfillPolicy.single_run()
    try:
        months = int(months_per_run)
    except ValueError:
        months = 0
    if months < 1:
        raise ValueError(f"ATTRIBUTION_BACKFILL_MONTHS_PER_RUN {months_per_run!r} must be a whole number of months, at least 1")
    return dg.BackfillPolicy.multi_run(max_partitions_per_run=months)


def month_key(month: str) -> str:
    """``2024-03`` (or ``2024-03-01``) as a partition key ``2024-03-01``."""
    try:
        return dt.datetime.strptime(month[:7], "%Y-%m").strftime("%Y-%m-01")
    except ValueError:
        raise ValueError(f"month {month!r} is not YYYY-MM") from None


def window_of(keys: tuple[str, str]) -> tuple[dt.datetime, dt.datetime]:
    """[first month's start, the month after the last) in UTC."""
    start = dt.datetime.strptime(keys[0], "%Y-%m-%d").replace(tzinfo=dt.timezone.utc)
    last = dt.datetime.strptime(keys[1], "%Y-%m-%d").replace(tzinfo=dt.timezone.utc)
    end = (last.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return start, end


def covered_window(partitions: dg.MonthlyPartitionsDefinition) -> tuple[dt.datetime, dt.datetime]:
    """[start of the first partition, end of the last) in UTC: the months a deal can convert in."""
    keys = partitions.get_partition_keys()
    return partitions.time_window_for_partition_key(keys[0]).start, partitions.time_window_for_partition_key(keys[-1]).end
