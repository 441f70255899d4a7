"""Period snapshots and their drift (issue 19), as frames.

A snapshot keeps a period's numbers as they were reported: per deal, model and
channel the won revenue credited to deals that closed in the period and the
pipeline credited to deals created in it, and per deal the facts that produced
them. Drift compares those frozen rows with the same rows computed from today's
tables, and names for each deal the first change that explains its difference.
The warehouse side (reading, appending, superseding) is
``attribution_pipeline.warehouse.snapshots``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import polars as pl

from models.pipeline import DEAL_STATES, WON

REVENUE, PIPELINE = "revenue", "pipeline"

# Why a deal's figure moved since the freeze, in the order they are tested: the first that holds is the reason.
ADDED, REMOVED, AMOUNT, STAGE, DATES, TOUCHES, RESTATED = (
    "added_after_freeze",
    "removed_since_freeze",
    "amount_changed",
    "stage_changed",
    "dates_changed",
    "touches_changed",
    "restated",
)
REASONS = (ADDED, REMOVED, AMOUNT, STAGE, DATES, TOUCHES, RESTATED)

CREDIT_KEY = ["measure", "model", "opportunity_id", "channel"]
DEAL_FACTS = ["amount_cents", "deal_state", "created_at", "closed_at", "touches", "touches_sha256"]

_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def period_bounds(period: str) -> tuple[dt.datetime, dt.datetime]:
    """``YYYY-Qn`` (a calendar quarter) or ``YYYY-MM`` (a month) as [start, end) in UTC."""
    if match := _QUARTER.match(period):
        year, first = int(match[1]), 3 * int(match[2]) - 2
        months = 3
    elif (match := _MONTH.match(period)) and 1 <= int(match[2]) <= 12:
        year, first, months = int(match[1]), int(match[2]), 1
    else:
        raise ValueError(f"period {period!r} is not YYYY-Qn (a quarter, e.g. 2024-Q3) or YYYY-MM (a month)")
    start = dt.datetime(year, first, 1, tzinfo=dt.UTC)
    after = first + months
    end = dt.datetime(year + (after - 1) // 12, (after - 1) % 12 + 1, 1, tzinfo=dt.UTC)
    return start, end


def previous_quarter(day: dt.date) -> str:
    """The last whole quarter before ``day``: what a quarterly schedule freezes."""
    quarter = (day.month - 1) // 3  # 0..3, the quarter of ``day`` minus one
    return f"{day.year - 1}-Q4" if quarter == 0 else f"{day.year}-Q{quarter}"


def _between(column: str, start: dt.datetime, end: dt.datetime) -> pl.Expr:
    return (pl.col(column) >= start) & (pl.col(column) < end)


def period_touch_rows(touch_credit: pl.LazyFrame, pipeline_credit: pl.LazyFrame, start: dt.datetime, end: dt.datetime) -> pl.LazyFrame:
    """The credit rows a period reports: touch_credit of deals closed in it (measure
    revenue) and pipeline_credit of deals created in it (measure pipeline)."""
    columns = ["model", "opportunity_id", "channel", "campaign_id", "touch_id", "occurred_at", "credited_cents"]
    revenue = touch_credit.filter(_between("closed_at", start, end)).select(
        pl.lit(REVENUE).alias("measure"), *columns, deal_state=pl.lit(WON)
    )
    pipeline = pipeline_credit.filter(_between("created_at", start, end)).select(pl.lit(PIPELINE).alias("measure"), *columns, "deal_state")
    return pl.concat([revenue, pipeline])


def deal_credit(rows: pl.LazyFrame) -> pl.LazyFrame:
    """Per (measure, model, deal, channel): the cents credited (the grain of drift)."""
    return rows.group_by(CREDIT_KEY).agg(pl.col("credited_cents").sum()).sort(CREDIT_KEY)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def deals_of(pipeline_credit: pl.LazyFrame, model: str) -> pl.LazyFrame:
    """Every credited deal's amount, state and dates, from pipeline_credit's rows of one
    model (each model credits every deal exactly its amount), so that a snapshot's
    deals come from the same published run as its credit."""
    return (
        pipeline_credit.filter(pl.col("model") == model)
        .group_by("opportunity_id")
        .agg(pl.col("credited_cents").sum().alias("amount_cents"), pl.col("deal_state", "created_at", "closed_at").first())
    )


def deal_facts(rows: pl.LazyFrame, deals: pl.LazyFrame, every_deal: bool = False) -> pl.LazyFrame:
    """Per deal of ``rows`` (``every_deal``: of ``deals``, from ``deals_of``): its amount, state and dates,
    whether it is in the period's revenue and pipeline, and the touches credited to it
    there (a count and the sha256 of their sorted ``touch_id@occurred_at``), so that a
    late touch shows."""
    stamp = pl.col("occurred_at").dt.strftime("%Y-%m-%dT%H:%M:%S%.6f")
    touched = rows.filter(pl.col("touch_id").is_not_null()).select("opportunity_id", touch=pl.concat_str("touch_id", stamp, separator="@"))
    touches = touched.unique().group_by("opportunity_id").agg(touches=pl.len().cast(pl.Int64), joined=pl.col("touch").sort().str.join("\n"))
    measures = rows.group_by("opportunity_id").agg(
        in_revenue=(pl.col("measure") == REVENUE).any(), in_pipeline=(pl.col("measure") == PIPELINE).any()
    )
    facts = (
        deals.select("opportunity_id", *DEAL_FACTS[:4])
        .join(measures, on="opportunity_id", how="left")
        .join(touches, on="opportunity_id", how="left")
        .with_columns(
            pl.col("in_revenue").fill_null(False),
            pl.col("in_pipeline").fill_null(False),
            touches=pl.col("touches").fill_null(0),
            touches_sha256=pl.col("joined").fill_null("").map_elements(_sha256, return_dtype=pl.String),
        )
    )
    if not every_deal:
        facts = facts.filter(pl.col("in_revenue") | pl.col("in_pipeline"))
    return facts.select("opportunity_id", "in_revenue", "in_pipeline", *DEAL_FACTS).sort("opportunity_id")


def channel_figures(credit: pl.LazyFrame) -> pl.LazyFrame:
    """Per (model, channel): the period's credited revenue and pipeline created, and of
    the pipeline what was open, won and lost (``credit``: period_touch_rows)."""
    return _figures(credit, ["model", "channel"])


def campaign_figures(credit: pl.LazyFrame) -> pl.LazyFrame:
    """Per (model, campaign_id, null for credit without a campaign): as channel_figures."""
    return _figures(credit, ["model", "campaign_id"])


def _figures(credit: pl.LazyFrame, by: list[str]) -> pl.LazyFrame:
    cents = pl.col("credited_cents")
    pipeline = pl.col("measure") == PIPELINE
    states = [cents.filter(pipeline & (pl.col("deal_state") == state)).sum().alias(f"pipeline_{state}_cents") for state in DEAL_STATES]
    return (
        credit.group_by(by)
        .agg(
            cents.filter(pl.col("measure") == REVENUE).sum().alias("credited_revenue_cents"),
            cents.filter(pipeline).sum().alias("pipeline_created_cents"),
            *states,
        )
        .sort(by, nulls_last=True)
    )


def drift(
    frozen_credit: pl.LazyFrame, frozen_deals: pl.LazyFrame, current_credit: pl.LazyFrame, current_deals: pl.LazyFrame
) -> pl.LazyFrame:
    """Per (measure, model, deal, channel) whose cents moved: frozen, current and their
    difference, and the reason (REASONS, first that holds). Deals absent from
    ``current_deals`` were removed from the CRM; ``frozen_deals`` are the snapshot's."""
    joined = (
        frozen_credit.rename({"credited_cents": "frozen_cents"})
        .join(current_credit.rename({"credited_cents": "current_cents"}), on=CREDIT_KEY, how="full", coalesce=True, nulls_equal=True)
        .with_columns(pl.col("frozen_cents").fill_null(0), pl.col("current_cents").fill_null(0))
        .with_columns(drift_cents=pl.col("current_cents") - pl.col("frozen_cents"))
        .filter(pl.col("drift_cents") != 0)
    )
    was = frozen_deals.select("opportunity_id", *(pl.col(name).alias(f"{name}_was") for name in DEAL_FACTS), frozen=pl.lit(True))
    now = current_deals.select("opportunity_id", *(pl.col(name).alias(f"{name}_now") for name in DEAL_FACTS), exists=pl.lit(True))

    def changed(*names: str) -> pl.Expr:
        return pl.any_horizontal(pl.col(f"{name}_was").ne_missing(pl.col(f"{name}_now")) for name in names)

    reason = (
        pl.when(pl.col("frozen").is_null())
        .then(pl.lit(ADDED))
        .when(pl.col("exists").is_null())
        .then(pl.lit(REMOVED))
        .when(changed("amount_cents"))
        .then(pl.lit(AMOUNT))
        .when(changed("deal_state"))
        .then(pl.lit(STAGE))
        .when(changed("created_at", "closed_at"))
        .then(pl.lit(DATES))
        .when(changed("touches", "touches_sha256"))
        .then(pl.lit(TOUCHES))
        .otherwise(pl.lit(RESTATED))
    )
    return (
        joined.join(was, on="opportunity_id", how="left")
        .join(now, on="opportunity_id", how="left")
        .with_columns(reason=reason)
        .select(*CREDIT_KEY, "frozen_cents", "current_cents", "drift_cents", "reason")
        .sort(CREDIT_KEY)
    )
