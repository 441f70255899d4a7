"""Freezing a period's numbers into the append-only snapshot tables (issue 19).

``freeze`` is what ``attribution snapshot`` and Dagster's ``snapshot_job`` call. It
reads only published tables (attribution.*), in one consistent read, so that the
snapshot is one run's numbers: the latest successful run, its touch_credit of the
deals closed in the period, its pipeline_credit of the deals created in it, and
each deal's facts. The snapshot's rows are appended in one transaction under the
snapshot header's write lock; a period already frozen is refused unless
``supersede`` (the old snapshot stays, marked superseded) or ``skip_if_frozen``
(the schedule's catch-up: nothing to do).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

import polars as pl
import sqlalchemy as sa

from attribution_pipeline.warehouse.client import WarehouseClient
from attribution_pipeline.warehouse.tables import (
    PIPELINE_CAMPAIGN_ATTRIBUTION,
    PIPELINE_CREDIT,
    RUNS,
    SNAPSHOT_DRIFT,
    SNAPSHOTS,
    SNAPSHOTS_CAMPAIGN,
    SNAPSHOTS_CHANNEL,
    SNAPSHOTS_CREDIT,
    SNAPSHOTS_DEALS,
    TOUCH_CREDIT,
)
from models import snapshots


class SnapshotRefused(ValueError):
    """The period cannot be frozen as asked (already frozen, or nothing published yet)."""


@dataclass(frozen=True)
class Frozen:
    snapshot_id: str
    period: str
    run_id: str
    superseded: str | None  # the snapshot this one replaced
    rows: dict[str, int]  # rows appended per table; empty when skipped
    skipped: bool = False


def freeze(client: WarehouseClient, period: str, supersede: bool = False, skip_if_frozen: bool = False) -> Frozen:
    start, end = snapshots.period_bounds(period)
    frozen = current_snapshots(client).filter(pl.col("period") == period) if skip_if_frozen else None
    if frozen is not None and frozen.height:  # the schedule's case: nothing to read (checked again below, under the lock)
        return Frozen(frozen.item(0, "snapshot_id"), period, frozen.item(0, "run_id"), None, {}, skipped=True)
    with client.consistent_reads() as conn:
        run = _latest_run(client, conn)
        _require_credit_tables(client)
        model = json.loads(run["parameters"])["models"][0]
        touch_credit = client.read_declared(TOUCH_CREDIT, "closed_at", start, end, conn)
        pipeline_credit = client.read_declared(PIPELINE_CREDIT, "created_at", start, end, conn)
        deals = _deals(client, conn, model)
        campaigns = _campaigns(client, conn, model)
    rows = snapshots.period_touch_rows(touch_credit.lazy(), pipeline_credit.lazy(), start, end).collect()
    facts = snapshots.deal_facts(rows.lazy(), deals.lazy()).collect()
    frames = {
        SNAPSHOTS_CHANNEL: snapshots.channel_figures(rows.lazy()).collect(),
        SNAPSHOTS_CAMPAIGN: snapshots.campaign_figures(rows.lazy()).join(campaigns.lazy(), on="campaign_id", how="left").collect(),
        SNAPSHOTS_CREDIT: snapshots.deal_credit(rows.lazy()).collect(),
        SNAPSHOTS_DEALS: facts,
    }
    with client.transaction() as conn:
        client.ensure_table(SNAPSHOTS, conn)  # its lock: two freezes of one warehouse take turns
        earlier = client.read_declared(SNAPSHOTS, connection=conn).filter(pl.col("period") == period)
        current = earlier.filter(pl.col("superseded_by").is_null()).get_column("snapshot_id").to_list()
        if current and skip_if_frozen:
            return Frozen(current[0], period, run["run_id"], None, {}, skipped=True)
        if current and not supersede:
            raise SnapshotRefused(
                f"period {period} is already frozen as {current[0]}; a frozen snapshot never changes. "
                f"Pass --supersede to freeze it again from the latest run: both are kept, {current[0]} marked superseded"
            )
        version = int(earlier.get_column("version").max() or 0) + 1
        snapshot_id = f"{period}-v{version}"
        now = dt.datetime.now(dt.UTC)
        header = _header(snapshot_id, period, start, end, version, run, now, facts)
        appended = {SNAPSHOTS.name: client.append(SNAPSHOTS, header, conn)}
        for table, frame in frames.items():
            appended[table.name] = client.append(table, frame.with_columns(snapshot_id=pl.lit(snapshot_id)), conn)
        if current:
            _supersede(client, conn, current[0], snapshot_id, now)
    return Frozen(snapshot_id, period, run["run_id"], current[0] if current else None, appended)


def current_snapshots(client: WarehouseClient) -> pl.DataFrame:
    """The snapshot of each frozen period that is not superseded (none before the first freeze)."""
    if not client.has_table(SNAPSHOTS.schema, SNAPSHOTS.name):
        return pl.DataFrame(schema={"snapshot_id": pl.String, "period": pl.String, "run_id": pl.String})
    return client.read_declared(SNAPSHOTS).filter(pl.col("superseded_by").is_null()).sort("period")


def frozen_rows(client: WarehouseClient, snapshot_id: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A snapshot's frozen credit and deal facts, as drift compares them."""
    credit, deals = (
        client.query(sa.select(table).where(table.c.snapshot_id == snapshot_id), None) for table in (SNAPSHOTS_CREDIT, SNAPSHOTS_DEALS)
    )
    return _cents(credit, {"credited_amount": "credited_cents"}), _cents(deals, {"amount": "amount_cents"})


def _latest_run(client: WarehouseClient, conn: sa.Connection) -> dict:
    statement = sa.select(RUNS).where(RUNS.c.status == "success").order_by(RUNS.c.finished_at.desc()).limit(1)
    found = client.query(statement, conn) if client.has_table(RUNS.schema, RUNS.name) else pl.DataFrame()
    if found.height == 0:
        raise SnapshotRefused(f"{client.url} has no successful run to freeze: run `attribution run` first")
    return found.row(0, named=True)


def _require_credit_tables(client: WarehouseClient) -> None:
    """What a freeze reads, present: a warehouse last published by a version without pipeline credit has runs but not these."""
    missing = [t.fullname for t in (TOUCH_CREDIT, PIPELINE_CREDIT, PIPELINE_CAMPAIGN_ATTRIBUTION) if not client.has_table(t.schema, t.name)]
    if missing:
        raise SnapshotRefused(f"{client.url} has no {', '.join(missing)}: publish a run of this version (`attribution run`) first")


def _deals(client: WarehouseClient, conn: sa.Connection, model: str) -> pl.DataFrame:
    """snapshots.deals_of, as one aggregate query rather than every row of the model."""
    table = PIPELINE_CREDIT.c
    statement = (
        sa.select(
            table.opportunity_id,
            sa.func.sum(table.credited_amount).label("amount"),
            sa.func.min(table.deal_state).label("deal_state"),
            sa.func.min(table.created_at).label("created_at"),
            sa.func.min(table.closed_at).label("closed_at"),
        )
        .where(table.model == model)
        .group_by(table.opportunity_id)
    )
    return _cents(client.query(statement, conn), {"amount": "amount_cents"})


def _campaigns(client: WarehouseClient, conn: sa.Connection, model: str) -> pl.DataFrame:
    table = PIPELINE_CAMPAIGN_ATTRIBUTION.c
    statement = sa.select(table.campaign_id, table.campaign_name, table.channel.label("campaign_channel"), table.cost).where(
        table.model == model, table.campaign_id.is_not(None)
    )
    return _cents(client.query(statement, conn), {"cost": "cost_cents"}).rename({"campaign_channel": "channel"})


def _cents(frame: pl.DataFrame, money: dict[str, str]) -> pl.DataFrame:
    return frame.with_columns(
        (pl.col(public).cast(pl.Decimal(38, 2)) * 100).cast(pl.Int64).alias(cents) for public, cents in money.items()
    ).drop(*(public for public, cents in money.items() if public != cents))


def _header(snapshot_id, period, start, end, version, run: dict, now: dt.datetime, facts: pl.DataFrame) -> pl.DataFrame:
    parameters = json.loads(run["parameters"])
    as_of = parameters.get("as_of_resolved")
    fingerprint = hashlib.sha256(json.dumps([run["parameters"], run["source_rows"]]).encode()).hexdigest()
    won, created = facts.filter("in_revenue"), facts.filter("in_pipeline")
    return pl.DataFrame(
        {
            "snapshot_id": snapshot_id,
            "period": period,
            "period_start": start,
            "period_end": end,
            "version": version,
            "run_id": run["run_id"],
            "as_of": dt.datetime.fromisoformat(as_of) if as_of else None,
            "frozen_at": now,
            "input_fingerprint": fingerprint,
            "won_revenue_cents": int(won.get_column("amount_cents").sum()),
            "won_deals": won.height,
            "pipeline_created_cents": int(created.get_column("amount_cents").sum()),
            "pipeline_deals": created.height,
            "superseded_by": None,
            "superseded_at": None,
        },
        schema_overrides={"as_of": pl.Datetime("us", "UTC"), "superseded_by": pl.String, "superseded_at": pl.Datetime("us", "UTC")},
    )


def _supersede(client: WarehouseClient, conn: sa.Connection, old: str, new: str, now: dt.datetime) -> None:
    """The only change a snapshot ever sees: its header names its successor. Its drift
    rows go too (drift is reported for current snapshots only)."""
    conn.execute(sa.update(SNAPSHOTS).where(SNAPSHOTS.c.snapshot_id == old).values(superseded_by=new, superseded_at=now))
    if sa.inspect(conn).has_table(SNAPSHOT_DRIFT.name, schema=SNAPSHOT_DRIFT.schema):
        conn.execute(sa.delete(SNAPSHOT_DRIFT).where(SNAPSHOT_DRIFT.c.snapshot_id == old))


DRIFT_SCHEMA = {
    "snapshot_id": pl.String,
    "period": pl.String,
    **dict.fromkeys(snapshots.CREDIT_KEY, pl.String),
    "frozen_cents": pl.Int64,
    "current_cents": pl.Int64,
    "drift_cents": pl.Int64,
    "reason": pl.String,
}


def drift_now(client: WarehouseClient, touch_credit: pl.LazyFrame, pipeline_credit: pl.LazyFrame, model: str) -> pl.DataFrame:
    """snapshot_drift: every current snapshot's frozen credit against the same period's
    credit in ``touch_credit`` and ``pipeline_credit`` (a run's, about to be published),
    with today's deal facts from ``pipeline_credit``'s rows of ``model``."""
    frames = [pl.DataFrame(schema=DRIFT_SCHEMA)]
    current = current_snapshots(client)
    if current.is_empty():  # nothing frozen: no drift, and no scan of the credit
        return frames[0]
    every_deal = snapshots.deals_of(pipeline_credit, model).collect(engine="streaming").lazy()
    for snapshot in current.iter_rows(named=True):
        start, end = snapshot["period_start"], snapshot["period_end"]
        rows = snapshots.period_touch_rows(touch_credit, pipeline_credit, start, end).collect(engine="streaming").lazy()
        frozen_credit, frozen_deals = frozen_rows(client, snapshot["snapshot_id"])
        found = snapshots.drift(
            frozen_credit.lazy().drop("snapshot_id"),
            frozen_deals.lazy(),
            snapshots.deal_credit(rows),
            snapshots.deal_facts(rows, every_deal, every_deal=True),
        )
        frames.append(found.with_columns(snapshot_id=pl.lit(snapshot["snapshot_id"]), period=pl.lit(snapshot["period"])).collect())
    return pl.concat(frames, how="diagonal_relaxed").select(DRIFT_SCHEMA.keys())
