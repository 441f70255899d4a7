"""Which close months a run without ``--from/--to`` covers: from the earliest month a
deal can convert in to the latest (the current month when that cannot be told cheaply).

Dagster records a planned and a materialized event per asset and month, so a run
over every month since ``ATTRIBUTION_PARTITION_START`` (2000-01 by default) would
spend seconds on months that hold no deal. A cheap look at the opportunities
source (three columns, parsed with the contract's own expressions) finds a month
no deal converts before: a closed deal converts at closed_at, an open one at the
as-of time, which is never before its own created_at (the default as-of is the
latest valid timestamp in the inputs) or is the explicit ``--as-of``. Rows that
staging will quarantine can only move that month earlier, never later, so every
deal's month is covered. The last month is that of the latest closed_at or, with an
open deal, of the as-of time: the explicit ``--as-of``, or the latest plausible
timestamp of the opportunities and (when small enough to read twice) the touches.
So are the months the warehouse already holds rows for, so that the run replaces
every row a run of all months would.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import dagster as dg
import polars as pl
import sqlalchemy as sa

from attribution_pipeline.contract.normalize import parse_boolean, parse_timestamp, trimmed
from attribution_pipeline.orchestration.resources import LandingSource
from attribution_pipeline.sources.readers import SourceError
from attribution_pipeline.warehouse.client import WarehouseClient
from attribution_pipeline.warehouse.tables import METADATA, PARTITION_COLUMNS

_COLUMNS = ("is_closed", "closed_at", "created_at")


class Unreadable(Exception):
    """The opportunities cannot be read as the contract needs (missing, unreadable, a column
    missing, no rows): the run stops at its source check, before any month is computed."""


# Touches up to this size are read to find the default as-of time (the last month an
# open deal can convert in); a larger source is not read twice, and the run covers up
# to the current month (empty months cost milliseconds each at that size).
SCAN_TOUCHES_BYTES = 64 * 2**20


def conversion_bounds(
    source: LandingSource, as_of: dt.datetime | None, start: dt.datetime, latest: dt.datetime
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """(a time no deal converts before, a time no deal converts after), from the rows at or
    after the partition start ``start`` and not after ``latest`` (the plausible range's end;
    a closed deal outside is quarantined; an open one converts at the as-of time, which is
    never before the other deals' times); None where the rows do not tell."""
    try:
        frame, _ = source.read("opportunities")
    except SourceError as error:
        raise Unreadable(str(error)) from error
    if frame is None or frame.height == 0 or any(column not in frame.columns for column in _COLUMNS):
        raise Unreadable("opportunities: no rows or a required column missing")
    utc = pl.Datetime("us", "UTC")
    is_closed = parse_boolean(trimmed("is_closed"))
    closed = parse_timestamp(trimmed("closed_at"), end_of_day=True).value
    opened = parse_timestamp(trimmed("created_at")).value
    open_converts = pl.lit(as_of, utc) if as_of is not None else opened
    converts = pl.when(is_closed).then(closed).otherwise(open_converts)
    plausible = lambda value: value.filter((value >= pl.lit(start, utc)) & (value <= pl.lit(latest, utc)))  # noqa: E731
    first, last_closed, any_open, last_opened = frame.select(
        plausible(converts).min().alias("first"),
        plausible(pl.when(is_closed).then(closed)).max().alias("last_closed"),
        (~is_closed).any().alias("any_open"),
        plausible(pl.max_horizontal(opened, closed)).max().alias("last_opened"),
    ).row(0)
    if not any_open:
        return first, last_closed
    if as_of is not None:
        return first, max(value for value in (last_closed, as_of) if value is not None)
    touched = latest_touch(source, start, latest)
    if touched is None:
        return first, None
    return first, max(value for value in (last_closed, last_opened, touched) if value is not None)


def latest_touch(source: LandingSource, start: dt.datetime, latest: dt.datetime) -> dt.datetime | None:
    """The latest plausible occurred_at of a small touches source (None: too large, a
    database, unreadable or empty: then the run covers up to the current month)."""
    folder = Path(source.location)
    if "://" in source.location or not folder.is_dir():
        return None
    files = [folder / name for name in source.describe("touches")]
    if not files or sum(path.stat().st_size for path in files) > SCAN_TOUCHES_BYTES:
        return None
    try:
        frame, _ = source.read("touches")
    except SourceError:
        return None
    if frame is None or "occurred_at" not in frame.columns:
        return None
    utc = pl.Datetime("us", "UTC")
    value = parse_timestamp(trimmed("occurred_at")).value
    found = frame.select(value.filter((value >= pl.lit(start, utc)) & (value <= pl.lit(latest, utc))).max().alias("latest")).item()
    return found if found is not None else start


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


def latest_published(client: WarehouseClient) -> dt.datetime:
    return _published(client, sa.func.max) or dt.datetime.min.replace(tzinfo=dt.timezone.utc)


def _earliest_published(client: WarehouseClient) -> dt.datetime | None:
    return _published(client, sa.func.min)


def _published(client: WarehouseClient, aggregate) -> dt.datetime | None:
    found = []
    with client.connect() as conn:
        for name, column in PARTITION_COLUMNS.items():
            table = METADATA.tables[name]
            if not sa.inspect(conn).has_table(table.name, schema=table.schema):
                continue
            # a table left by another version is the run's to report (TableSchemaMismatch)
            if column in conn.execute(sa.select(sa.text("*")).select_from(table).limit(0)).keys():
                found.append(conn.execute(sa.select(aggregate(table.c[column]))).scalar())
    values = [
        dt.datetime.combine(value, dt.time(), dt.timezone.utc) if type(value) is dt.date else value for value in found if value is not None
    ]
    values = [value.astimezone(dt.timezone.utc) for value in values]
    return (min(values) if aggregate is sa.func.min else max(values)) if values else None


def months_holding_deals(
    source: LandingSource,
    partitions: dg.MonthlyPartitionsDefinition,
    as_of: dt.datetime | None,
    client: WarehouseClient,
    latest: dt.datetime,
) -> tuple[str, str]:
    """(first, last) partition keys of a run of every month that holds a deal or a published
    row; ``latest``: the end of the plausible range (no valid timestamp is later)."""
    keys = partitions.get_partition_keys()
    start = partitions.time_window_for_partition_key(keys[0]).start
    try:
        first, last = conversion_bounds(source, as_of, start, latest)
    except Unreadable:  # the run stops at raw/opportunities: plan one month, not every month
        return keys[-1], keys[-1]
    if first is None:  # no row tells: every month
        return keys[0], keys[-1]
    published = earliest_published(client)
    first = min(first, published.astimezone(dt.timezone.utc)) if published is not None else first
    first_key = min(max(first.strftime("%Y-%m-01"), keys[0]), keys[-1])  # no valid deal converts after the last
    last_key = keys[-1] if last is None else min(max(last.strftime("%Y-%m-01"), first_key), keys[-1])
    if published is not None and last is not None:  # and the months the tables hold rows for, up to the last
        last_key = max(last_key, min(latest_published(client).strftime("%Y-%m-01"), keys[-1]))
    return first_key, last_key
