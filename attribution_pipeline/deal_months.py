"""Which close months a run without ``--from/--to`` covers: from the earliest month a
deal can convert in to the last partition.

Dagster records a planned and a materialized event per asset and month, so a run
over every month since ``ATTRIBUTION_PARTITION_START`` (2000-01 by default) would
spend seconds on months that hold no deal. A cheap look at the opportunities
source (three columns, parsed with the contract's own expressions) finds a month
no deal converts before: a closed deal converts at closed_at, an open one at the
as-of time, which is never before its own created_at (the default as-of is the
latest valid timestamp in the inputs) or is the explicit ``--as-of``. Rows that
staging will quarantine can only move that month earlier, never later, so every
deal's month is covered. So are the months the warehouse already holds rows for,
so that the run replaces every row a run of all months would.
"""

from __future__ import annotations

import datetime as dt
import time

import dagster as dg
import polars as pl
import sqlalchemy as sa

from attribution_pipeline.normalize import parse_boolean, parse_timestamp, trimmed
from attribution_pipeline.resources import LandingSource
from attribution_pipeline.sources import SourceError
from attribution_pipeline.tables import METADATA, PARTITION_COLUMNS
from attribution_pipeline.warehouse import WarehouseClient

_COLUMNS = ("is_closed", "closed_at", "created_at")


class Unreadable(Exception):
    """The opportunities cannot be read as the contract needs (missing, unreadable, a column
    missing, no rows): the run stops at its source check, before any month is computed."""


def earliest_conversion(source: LandingSource, as_of: dt.datetime | None, start: dt.datetime) -> dt.datetime | None:
    """A time no deal of the source converts before, from the rows at or after the partition
    start ``start`` (a closed deal before it is quarantined; an open one converts at the
    as-of time, which is never before the other deals' times); None when no row says."""
    try:
        frame, _ = source.read("opportunities")
    except SourceError as error:
        raise Unreadable(str(error)) from error
    if frame is None or frame.height == 0 or any(column not in frame.columns for column in _COLUMNS):
        raise Unreadable("opportunities: no rows or a required column missing")
    is_closed = parse_boolean(trimmed("is_closed"))
    closed = parse_timestamp(trimmed("closed_at"), end_of_day=True).value
    opened = parse_timestamp(trimmed("created_at")).value
    open_converts = pl.lit(as_of, pl.Datetime("us", "UTC")) if as_of is not None else opened
    converts = pl.when(is_closed).then(closed).otherwise(open_converts)
    return frame.select(converts.filter(converts >= pl.lit(start, pl.Datetime("us", "UTC"))).min()).item()


def earliest_published(client: WarehouseClient, attempts: int = 3) -> dt.datetime | None:
    """The earliest month the partitioned tables hold rows for: a run of every month
    must replace those too (a deal whose close date moved leaves its old month). A
    dropped connection is tried again, like a writing step."""
    for attempt in range(attempts):
        try:
            return _earliest_published(client)
        except sa.exc.OperationalError:
            if attempt == attempts - 1:
                raise
            time.sleep(2**attempt)
    return None


def _earliest_published(client: WarehouseClient) -> dt.datetime | None:
    found = []
    with client.connect() as conn:
        for name, column in PARTITION_COLUMNS.items():
            table = METADATA.tables[name]
            if not sa.inspect(conn).has_table(table.name, schema=table.schema):
                continue
            # a table left by another version is the run's to report (TableSchemaMismatch)
            if column in conn.execute(sa.select(sa.text("*")).select_from(table).limit(0)).keys():
                found.append(conn.execute(sa.select(sa.func.min(table.c[column]))).scalar())
    earliest = [dt.datetime.combine(value, dt.time(), dt.timezone.utc) if type(value) is dt.date else value for value in found if value is not None]
    return min(earliest) if earliest else None


def months_holding_deals(
    source: LandingSource, partitions: dg.MonthlyPartitionsDefinition, as_of: dt.datetime | None, client: WarehouseClient
) -> tuple[str, str]:
    """(first, last) partition keys of a run of every month that holds a deal or a published row."""
    keys = partitions.get_partition_keys()
    start = partitions.time_window_for_partition_key(keys[0]).start
    try:
        bound = earliest_conversion(source, as_of, start)
    except Unreadable:  # the run stops at raw/opportunities: plan one month, not every month
        return keys[-1], keys[-1]
    if bound is None:  # no row tells: every month
        return keys[0], keys[-1]
    published = earliest_published(client)
    bound = min(bound, published.astimezone(dt.timezone.utc)) if published is not None else bound
    first = min(max(bound.strftime("%Y-%m-01"), keys[0]), keys[-1])  # no valid deal converts after the last
    return first, keys[-1]
