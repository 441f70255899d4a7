"""The report's figures, read from the output tables through SQLAlchemy and
aggregated in SQL, so a 10M-touch warehouse is never loaded whole. ``page.py``
renders them.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import polars as pl
import sqlalchemy as sa

from attribution_pipeline.warehouse.client import WarehouseClient

DEFAULT_MODEL = "linear"
UNATTRIBUTED = "(unattributed)"


@dataclass(frozen=True)
class ReportData:
    """Everything the page shows, already aggregated."""

    model: str
    months: tuple[dt.date, dt.date]  # [first month, month after the last)
    currency: str
    run: dict  # the latest successful attribution.runs row, parameters parsed
    won_deals: int
    won_cents: int
    by_model: pl.DataFrame  # model, credited_cents, unattributed_cents
    by_channel: pl.DataFrame  # model, channel, credited_revenue
    trend: pl.DataFrame  # close_month, channel, credited_revenue (chosen model)
    campaigns: pl.DataFrame  # campaign_id, campaign_name, channel, cost, <model> revenue and roas columns
    journeys: pl.DataFrame  # one row per won deal: touches, days_to_close, matched_by
    quarantine: pl.DataFrame  # source, rule, rows
    warnings: dict
    funnel: Funnel
    intervals: pl.DataFrame  # model, channel, credited_revenue, lower, upper, draws, seed
    stitching: Stitching
    pipeline: pl.DataFrame  # model, channel, pipeline_created, pipeline_open, pipeline_won, pipeline_lost (funnel.months)
    snapshots: pl.DataFrame  # current snapshots: snapshot_id, period, frozen_at, won_revenue, pipeline_created
    drift: pl.DataFrame  # snapshot_id, measure, model, reason, deals, drift_amount
    drift_channels: pl.DataFrame  # snapshot_id, measure, model, channel, frozen_amount, current_amount, drift_amount (drift != 0)
    drift_deals: pl.DataFrame  # the chosen model's DRIFT_DEALS largest snapshot_drift rows by |drift_amount|


@dataclass(frozen=True)
class Stitching:
    """What identity stitching did to the won deals in scope (issue 18)."""

    won_touches: int  # journey rows of won deals
    stitched_touches: int  # of them, touches whose e-mail was stitched
    first_touch: pl.DataFrame  # channel, with_stitching, without_stitching (cents of first-touch credit)


@dataclass(frozen=True)
class Funnel:
    """The funnel tables, summed over the created months in scope (all of them unless
    --from/--to narrow the report); empty frames when a table is absent or empty."""

    months: tuple[dt.date, dt.date] | None  # created months [first, after the last), None: all
    by_channel: pl.DataFrame  # channel, leads, mqls, sqls, opportunities, won_deals, won_revenue
    sourcing: pl.DataFrame  # created_month, sourcing, opportunities, amount
    velocity: pl.DataFrame  # stage_velocity rows in scope
    sla: pl.DataFrame  # mql_week, met, breached, waiting


def _frame(conn: sa.Connection, sql: str, **params) -> pl.DataFrame:
    result = conn.execute(sa.text(sql), params)
    return pl.DataFrame([dict(row) for row in result.mappings()], infer_schema_length=None) if result.returns_rows else pl.DataFrame()


def load(url: str, model: str | None, first: dt.date | None, last: dt.date | None) -> ReportData:
    """Reads the report's figures; ``first``/``last`` are close months (first days), inclusive."""
    client = WarehouseClient(url)
    try:
        if not client.has_table("attribution", "runs"):
            raise ValueError(f"{url} holds no attribution tables; run `attribution run` first")
        with client.connect() as conn:
            run = (
                conn.execute(
                    sa.text(
                        "SELECT run_id, finished_at, parameters, warnings FROM attribution.runs "
                        "WHERE status = 'success' ORDER BY finished_at DESC LIMIT 1"
                    )
                )
                .mappings()
                .first()
            )
            if run is None:
                raise ValueError(f"{url} holds no successful run (attribution.runs); run `attribution run` first")
            run = {**run, "parameters": json.loads(run["parameters"] or "{}"), "warnings": json.loads(run["warnings"] or "{}")}
            months = _frame(conn, "SELECT MIN(close_month) AS first, MAX(close_month) AS last FROM attribution.channel_attribution")
            start = first or months["first"][0] or dt.date(2000, 1, 1)
            end_month = last or months["last"][0] or start
            end = dt.date(end_month.year + end_month.month // 12, end_month.month % 12 + 1, 1)
            window = {"start": start, "end": end}
            models = [row[0] for row in conn.execute(sa.text("SELECT DISTINCT model FROM attribution.channel_attribution ORDER BY model"))]
            chosen = model or (DEFAULT_MODEL if DEFAULT_MODEL in models else (models[0] if models else DEFAULT_MODEL))
            if models and chosen not in models:
                raise ValueError(f"model {chosen!r} is not in the warehouse; it has {', '.join(models)}")
            won = conn.execute(
                sa.text(
                    "SELECT COUNT(*), COALESCE(SUM(amount_cents), 0) FROM staging.opportunities "
                    "WHERE is_won AND closed_at >= :start AND closed_at < :end"
                ),
                {"start": _utc(start), "end": _utc(end)},
            ).one()
            channel_sql = "FROM attribution.channel_attribution WHERE close_month >= :start AND close_month < :end"
            by_channel = _frame(
                conn, f"SELECT model, channel, SUM(credited_revenue) AS credited_revenue {channel_sql} GROUP BY model, channel", **window
            )
            trend = _frame(
                conn,
                f"SELECT close_month, channel, SUM(credited_revenue) AS credited_revenue {channel_sql} AND model = :model "
                "GROUP BY close_month, channel ORDER BY close_month, channel",
                model=chosen,
                **window,
            )
            campaigns = _frame(
                conn,
                "SELECT model, campaign_id, campaign_name, channel, cost, credited_revenue, roas FROM attribution.campaign_attribution",
            )
            journeys = _frame(
                conn,
                (
                    "SELECT opportunity_id, MAX(n_touches) AS touches, MIN(occurred_at) AS first_touch, MAX(conversion_at) AS closed_at, "
                    "MAX(CASE WHEN match_type IN ('email', 'both') THEN 1 ELSE 0 END) AS by_email, "
                    "SUM(CASE WHEN identity = 'stitched' THEN 1 ELSE 0 END) AS stitched "
                    "FROM attribution.journeys WHERE is_won AND conversion_at >= :start AND conversion_at < :end GROUP BY opportunity_id"
                ),
                start=_utc(start),
                end=_utc(end),
            )
            quarantine = _quarantine(conn)
            stitching = _stitching(conn, _utc(start), _utc(end), run["parameters"], journeys)
            created_window = window if (first or last) else None  # created months: all unless --from/--to narrow
            funnel = _funnel(client, conn, created_window)
            intervals = (
                _frame(
                    conn,
                    "SELECT model, channel, credited_revenue, lower, upper, draws, seed FROM attribution.channel_attribution_intervals ORDER BY model, credited_revenue DESC",
                )
                if client.has_table("attribution", "channel_attribution_intervals")
                else pl.DataFrame()
            )
            pipeline, snapshots, drift = _pipeline_and_drift(client, conn, created_window)
            drift_channels, drift_deals = _drift_detail(conn, chosen) if not drift.is_empty() else (pl.DataFrame(), pl.DataFrame())
    finally:
        client.dispose()
    cents = (pl.col("credited_revenue").cast(pl.Decimal(38, 2)) * 100).cast(pl.Int64)  # exact, for the reconciliation
    by_model = (
        (
            by_channel.group_by("model")
            .agg(cents.sum().alias("credited_cents"), cents.filter(pl.col("channel") == UNATTRIBUTED).sum().alias("unattributed_cents"))
            .sort("model")
        )
        if not by_channel.is_empty()
        else pl.DataFrame(schema={"model": pl.String, "credited_cents": pl.Int64, "unattributed_cents": pl.Int64})
    )
    by_channel = _floats(by_channel, "credited_revenue")
    return ReportData(
        model=chosen,
        months=(start, end),
        currency=run["parameters"].get("reporting_currency", ""),
        run=run,
        won_deals=int(won[0]),
        won_cents=int(won[1]),
        by_model=by_model,
        by_channel=by_channel,
        trend=_floats(trend, "credited_revenue"),
        campaigns=_floats(campaigns, "cost", "credited_revenue", "roas"),
        journeys=_journey_facts(journeys),
        quarantine=quarantine,
        warnings=run["warnings"],
        funnel=funnel,
        intervals=intervals,
        stitching=stitching,
        pipeline=pipeline,
        snapshots=snapshots,
        drift=drift,
        drift_channels=drift_channels,
        drift_deals=drift_deals,
    )


_PIPELINE_COLUMNS = ("pipeline_created", "pipeline_open", "pipeline_won", "pipeline_lost")


def _pipeline_and_drift(
    client: WarehouseClient, conn: sa.Connection, window: dict | None
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Pipeline created per model and channel over the created months in scope (all of them
    unless --from/--to narrow the report, as the funnel; issue 19),
    the current period snapshots, and their drift summed per (snapshot, measure, model, reason)."""
    sums = ", ".join(f"SUM({name}) AS {name}" for name in _PIPELINE_COLUMNS)
    pipeline = (
        _frame(
            conn,
            f"SELECT model, channel, {sums} FROM attribution.pipeline_channel_attribution "
            + ("WHERE created_month >= :start AND created_month < :end " if window else "")
            + "GROUP BY model, channel",
            **(window or {}),
        )
        if client.has_table("attribution", "pipeline_channel_attribution")
        else pl.DataFrame()
    )
    snapshots = drift = pl.DataFrame()
    if client.has_table("attribution", "snapshots"):
        snapshots = _frame(
            conn,
            "SELECT snapshot_id, period, frozen_at, won_revenue, pipeline_created FROM attribution.snapshots "
            "WHERE superseded_by IS NULL ORDER BY period",
        )
    if not snapshots.is_empty() and client.has_table("attribution", "snapshot_drift"):
        drift = _frame(
            conn,
            "SELECT d.snapshot_id, d.measure, d.model, d.reason, COUNT(DISTINCT d.opportunity_id) AS deals, SUM(d.drift_amount) AS drift_amount "
            f"FROM attribution.snapshot_drift d {_CURRENT_SNAPSHOT} GROUP BY d.snapshot_id, d.measure, d.model, d.reason "
            "ORDER BY d.snapshot_id, d.measure, d.model, d.reason",
        )
    return (
        _floats(pipeline, *_PIPELINE_COLUMNS) if not pipeline.is_empty() else pipeline,
        _floats(snapshots, "won_revenue", "pipeline_created") if not snapshots.is_empty() else snapshots,
        _floats(drift, "drift_amount") if not drift.is_empty() else drift,
    )


def _utc(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)


# Drift rows of a snapshot that is still its period's current one (a run that computed
# drift before a --supersede may have published rows of the superseded snapshot).
_CURRENT_SNAPSHOT = "JOIN attribution.snapshots s ON s.snapshot_id = d.snapshot_id AND s.superseded_by IS NULL"
DRIFT_DEALS = 20


def _drift_detail(conn: sa.Connection, model: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The frozen figures against today's per (snapshot, measure, model, channel), where they
    differ (today's = frozen + the drift rows, which is how snapshot_drift is defined), and
    the chosen model's deals that moved most."""
    frozen = _frame(
        conn,
        "SELECT d.snapshot_id, d.measure, d.model, d.channel, SUM(d.credited_amount) AS frozen_amount "
        f"FROM attribution.snapshots_credit d {_CURRENT_SNAPSHOT} GROUP BY d.snapshot_id, d.measure, d.model, d.channel",
    )
    moved = _frame(
        conn,
        "SELECT d.snapshot_id, d.measure, d.model, d.channel, SUM(d.drift_amount) AS drift_amount "
        f"FROM attribution.snapshot_drift d {_CURRENT_SNAPSHOT} GROUP BY d.snapshot_id, d.measure, d.model, d.channel",
    )
    keys = ["snapshot_id", "measure", "model", "channel"]
    if frozen.is_empty():  # a period frozen with no credit: every drift row is new
        frozen = pl.DataFrame(schema={**dict.fromkeys(keys, pl.String), "frozen_amount": pl.Float64})
    frozen, moved = _floats(frozen, "frozen_amount"), _floats(moved, "drift_amount")
    channels = (
        moved.join(frozen, on=keys, how="left")
        .with_columns(pl.col("frozen_amount").fill_null(0.0))
        .filter(pl.col("drift_amount") != 0)
        .select(*keys, "frozen_amount", current_amount=pl.col("frozen_amount") + pl.col("drift_amount"), drift_amount="drift_amount")
        .sort(*keys)
        if not moved.is_empty()
        else pl.DataFrame()
    )
    deals = _frame(
        conn,
        "SELECT d.snapshot_id, d.measure, d.opportunity_id, d.channel, d.frozen_amount, d.current_amount, d.drift_amount, d.reason "
        f"FROM attribution.snapshot_drift d {_CURRENT_SNAPSHOT} WHERE d.model = :model "
        "ORDER BY ABS(d.drift_amount) DESC, d.snapshot_id, d.measure, d.opportunity_id, d.channel LIMIT :top",
        model=model,
        top=DRIFT_DEALS,
    )
    return channels, _floats(deals, "frozen_amount", "current_amount", "drift_amount") if not deals.is_empty() else deals


def _floats(frame: pl.DataFrame, *columns: str) -> pl.DataFrame:
    """Decimals to floats for display only (the reconciliation compares cents)."""
    present = [c for c in columns if c in frame.columns]
    return frame.with_columns(pl.col(present).cast(pl.Float64)) if present else frame


def _journey_facts(journeys: pl.DataFrame) -> pl.DataFrame:
    if journeys.is_empty():
        return pl.DataFrame(schema={"touches": pl.Int64, "days_to_close": pl.Float64, "matched_by": pl.String})
    return journeys.select(
        pl.col("touches").cast(pl.Int64),
        ((pl.col("closed_at") - pl.col("first_touch")).dt.total_seconds() / 86400).alias("days_to_close"),
        pl.when(pl.col("by_email") == 1).then(pl.lit("e-mail")).otherwise(pl.lit("domain only")).alias("matched_by"),
    )


# Each won deal's first journey row, with stitching and without it. Without stitching a
# stitched touch matches its deal only through the domain it was given itself (SPEC 3's
# by-domain rule: stitching adds the e-mail and the domain derived from it, nothing
# else), so a journey without stitching is exactly its rows where ``unstitched`` holds.
# Touches excluded from credit (--exclude-touch-types, --exclude-channels) are skipped,
# as the first_touch model skips them.
_FIRST_TOUCH_SQL = """
WITH journey AS (
    SELECT j.opportunity_id, j.position, COALESCE(j.channel, '(none)') AS channel,
           (j.identity IS NULL OR j.identity <> 'stitched'
            OR (COALESCE(t.domain_is_given, FALSE) AND t.account_domain = j.account_domain)) AS unstitched
    FROM attribution.journeys j JOIN staging.touches t ON t.touch_id = j.touch_id
    WHERE j.is_won AND j.conversion_at >= :start AND j.conversion_at < :end
      AND (j.touch_type IS NULL OR j.touch_type NOT IN :types) AND (j.channel IS NULL OR j.channel NOT IN :channels)
),
ranked AS (
    SELECT opportunity_id, channel, unstitched,
           ROW_NUMBER() OVER (PARTITION BY opportunity_id ORDER BY position) AS with_rank,
           CASE WHEN unstitched THEN ROW_NUMBER() OVER (PARTITION BY opportunity_id, unstitched ORDER BY position) END AS without_rank
    FROM journey
),
won AS (
    SELECT opportunity_id, amount_cents FROM staging.opportunities WHERE is_won AND closed_at >= :start AND closed_at < :end
)
SELECT 'with' AS variant, COALESCE(r.channel, '(unattributed)') AS channel, CAST(SUM(w.amount_cents) AS BIGINT) AS cents
FROM won w LEFT JOIN ranked r ON r.opportunity_id = w.opportunity_id AND r.with_rank = 1 GROUP BY 2
UNION ALL
SELECT 'without', COALESCE(r.channel, '(unattributed)'), CAST(SUM(w.amount_cents) AS BIGINT)
FROM won w LEFT JOIN ranked r ON r.opportunity_id = w.opportunity_id AND r.without_rank = 1 GROUP BY 2
"""


def _stitching(conn: sa.Connection, start: dt.datetime, end: dt.datetime, parameters: dict, journeys: pl.DataFrame) -> Stitching:
    """The share of won-deal touches that were stitched (from the per-deal journey facts:
    ``touches`` and ``stitched``), and first-touch credit by channel with and without
    stitching, aggregated in SQL."""
    counts = [int(journeys[column].sum() or 0) if journeys.height else 0 for column in ("touches", "stitched")]
    query = sa.text(_FIRST_TOUCH_SQL).bindparams(
        sa.bindparam("types", expanding=True, type_=sa.String), sa.bindparam("channels", expanding=True, type_=sa.String)
    )
    bounds = {"start": start, "end": end}
    lowered = lambda name: [value.strip().lower() for value in parameters.get(name) or []]  # noqa: E731 (as the run's settings)
    exclusions = {"types": lowered("excluded_touch_types"), "channels": lowered("excluded_channels")}
    rows = conn.execute(query, {**bounds, **exclusions}).all()
    frame = pl.DataFrame(rows, schema={"variant": pl.String, "channel": pl.String, "cents": pl.Int64}, orient="row")
    first_touch = (
        frame.pivot("variant", index="channel", values="cents")
        .select("channel", pl.col("with").fill_null(0).alias("with_stitching"), pl.col("without").fill_null(0).alias("without_stitching"))
        .sort("channel")
        if frame.height
        else pl.DataFrame(schema={"channel": pl.String, "with_stitching": pl.Int64, "without_stitching": pl.Int64})
    )
    return Stitching(int(counts[0]), int(counts[1]), first_touch)


FUNNEL_STAGES = ("leads", "mqls", "sqls", "opportunities", "won_deals")


def _funnel(client: WarehouseClient, conn: sa.Connection, window: dict | None) -> Funnel:
    where = "WHERE {column} >= :start AND {column} < :end" if window else ""
    params = window or {}

    def read(table: str, sql: str, column: str = "created_month") -> pl.DataFrame:
        if not client.has_table("attribution", table):
            return pl.DataFrame()
        return _frame(conn, sql.format(where=where.format(column=column)), **params)

    stages = ", ".join(f"SUM({stage}) AS {stage}" for stage in FUNNEL_STAGES)
    by_channel = read(
        "funnel_monthly",
        f"SELECT channel, {stages}, SUM(won_revenue) AS won_revenue FROM attribution.funnel_monthly {{where}} GROUP BY channel",
    )
    sourcing = read(
        "pipeline_sourcing",
        "SELECT created_month, sourcing, SUM(opportunities) AS opportunities, SUM(amount) AS amount "
        "FROM attribution.pipeline_sourcing {where} GROUP BY created_month, sourcing ORDER BY created_month, sourcing",
    )
    velocity = read("stage_velocity", "SELECT * FROM attribution.stage_velocity {where} ORDER BY created_month, stage")
    sla = read(
        "lead_sla_compliance",
        "SELECT mql_week, SUM(met) AS met, SUM(breached) AS breached, SUM(waiting) AS waiting "
        "FROM attribution.lead_sla_compliance {where} GROUP BY mql_week ORDER BY mql_week",
        column="mql_week",
    )
    months = (window["start"], window["end"]) if window else None
    return Funnel(
        months,
        _ints(_floats(by_channel, "won_revenue"), *FUNNEL_STAGES),
        _ints(_floats(sourcing, "amount"), "opportunities"),
        velocity,
        _ints(sla, "met", "breached", "waiting"),
    )


def _ints(frame: pl.DataFrame, *columns: str) -> pl.DataFrame:
    """SQL SUMs of counts come back as HUGEINT (DuckDB) or NUMERIC (PostgreSQL)."""
    present = [c for c in columns if c in frame.columns]
    return frame.with_columns(pl.col(present).cast(pl.Int64)) if present else frame


def _quarantine(conn: sa.Connection) -> pl.DataFrame:
    frames = []
    for name in sorted(sa.inspect(conn).get_table_names(schema="quarantine")):
        table = sa.table(name, sa.column("rule"), schema="quarantine")
        rows = conn.execute(sa.select(table.c.rule, sa.func.count()).group_by(table.c.rule)).all()
        frames += [{"source": name, "rule": rule, "rows": count} for rule, count in rows]
    return pl.DataFrame(frames, schema={"source": pl.String, "rule": pl.String, "rows": pl.Int64})
