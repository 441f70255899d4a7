"""SPEC 5 roll-ups of touch_credit, by campaign (with cost and ROAS) and by channel
and close month, and issue 19's roll-ups of pipeline_credit, by channel and created
month and by campaign.

All keep the unattributed credit in view (a null campaign row; the
``(unattributed)`` channel), so each sums, per model, to the won total (touch_credit)
or to all pipeline created (pipeline_credit).
"""

from __future__ import annotations

import polars as pl

from models.pipeline import DEAL_STATES

_revenue = pl.col("credited_cents").sum().alias("credited_revenue_cents")
# Float sums depend on the order of addition, which a parallel group-by does not
# fix; summing weights as integers of 1e-12 makes re-runs agree bit for bit.
WEIGHT_SCALE = 10**12
_deals = ((pl.col("weight") * WEIGHT_SCALE).round().cast(pl.Int128).sum().cast(pl.Float64) / WEIGHT_SCALE).alias("credited_deals")


def campaign_attribution(
    touch_credit: pl.LazyFrame, campaigns: pl.LazyFrame, model_names: list[str], lead_first_touch: pl.LazyFrame
) -> pl.LazyFrame:
    """Per model: every known campaign, every campaign_id seen on credit or on a lead's
    first touch, and a null row; with cost per lead (CPL) and per credited deal (CPA).

    ``lead_first_touch`` (models.funnel.lead_first_touch) gives each lead's first
    campaign; leads whose first touch has none, or who have no touch, count on the
    null row, so leads sum to all leads like revenue sums to the won total.
    """
    credited = touch_credit.group_by("model", "campaign_id").agg(_revenue, _deals)
    leads = lead_first_touch.group_by("campaign_id").agg(pl.len().cast(pl.Int64).alias("leads"))
    campaign_ids = pl.concat(
        [
            campaigns.select("campaign_id"),
            touch_credit.select("campaign_id"),
            leads.select("campaign_id"),
            pl.LazyFrame({"campaign_id": [None]}, schema={"campaign_id": pl.String}),
        ]
    ).unique()
    models = pl.LazyFrame({"model": model_names}, schema={"model": pl.String})
    return (
        models.join(campaign_ids, how="cross")
        .join(credited, on=["model", "campaign_id"], how="left", nulls_equal=True)
        .join(leads, on="campaign_id", how="left", nulls_equal=True)
        .join(
            campaigns.select("campaign_id", "campaign_name", "channel", "cost_cents"),
            on="campaign_id",
            how="left",
        )
        .with_columns(
            pl.col("credited_revenue_cents").fill_null(0),
            pl.col("credited_deals").fill_null(0.0),
            pl.col("leads").fill_null(0),
        )
        .with_columns(
            roas=pl.when(pl.col("cost_cents") > 0).then(pl.col("credited_revenue_cents") / pl.col("cost_cents")),
            cpl=pl.when(pl.col("leads") > 0).then(pl.col("cost_cents") / 100 / pl.col("leads")),
            cpa=pl.when(pl.col("credited_deals") > 0).then(pl.col("cost_cents") / 100 / pl.col("credited_deals")),
        )
        .select(
            "model",
            "campaign_id",
            "campaign_name",
            "channel",
            "credited_revenue_cents",
            "credited_deals",
            "cost_cents",
            "roas",
            "leads",
            "cpl",
            "cpa",
        )
        .sort("model", "campaign_id", nulls_last=True)
    )


def channel_attribution(touch_credit: pl.LazyFrame) -> pl.LazyFrame:
    """Per (model, channel, close month): credit and its share of the model's month."""
    close_month = pl.col("closed_at").dt.convert_time_zone("UTC").dt.date().dt.month_start()
    monthly = touch_credit.with_columns(close_month=close_month).group_by("model", "channel", "close_month").agg(_revenue, _deals)
    month_total = pl.col("credited_revenue_cents").sum().over("model", "close_month")
    return (
        monthly.with_columns(share=pl.when(month_total != 0).then(pl.col("credited_revenue_cents") / month_total))
        .select("model", "channel", "close_month", "credited_revenue_cents", "credited_deals", "share")
        .sort("model", "close_month", "channel")
    )


def _pipeline_measures() -> list[pl.Expr]:
    """Pipeline created and, of it, what is still open, won and lost (cents), and the deals credited."""
    cents = pl.col("credited_cents")
    by_state = [cents.filter(pl.col("deal_state") == state).sum().alias(f"pipeline_{state}_cents") for state in DEAL_STATES]
    return [cents.sum().alias("pipeline_created_cents"), *by_state, _deals]


def pipeline_channel_attribution(pipeline_credit: pl.LazyFrame) -> pl.LazyFrame:
    """Per (model, created month, channel): pipeline created and its state now, with the
    share of the model's month."""
    created_month = pl.col("created_at").dt.convert_time_zone("UTC").dt.date().dt.month_start()
    monthly = (
        pipeline_credit.with_columns(created_month=created_month).group_by("model", "created_month", "channel").agg(_pipeline_measures())
    )
    month_total = pl.col("pipeline_created_cents").sum().over("model", "created_month")
    return (
        monthly.with_columns(share=pl.when(month_total != 0).then(pl.col("pipeline_created_cents") / month_total))
        .select(
            "model",
            "created_month",
            "channel",
            "pipeline_created_cents",
            *(f"pipeline_{state}_cents" for state in DEAL_STATES),
            "credited_deals",
            "share",
        )
        .sort("model", "created_month", "channel")
    )


def pipeline_campaign_attribution(pipeline_credit: pl.LazyFrame, campaigns: pl.LazyFrame, model_names: list[str]) -> pl.LazyFrame:
    """Per model: every known campaign, every campaign_id seen on pipeline credit, and a
    null row (credit without a campaign, unattributed included), so each model sums to
    all pipeline created; with the pipeline created per unit of the campaign's cost."""
    credited = pipeline_credit.group_by("model", "campaign_id").agg(_pipeline_measures())
    campaign_ids = pl.concat(
        [
            campaigns.select("campaign_id"),
            pipeline_credit.select("campaign_id"),
            pl.LazyFrame({"campaign_id": [None]}, schema={"campaign_id": pl.String}),
        ]
    ).unique()
    models = pl.LazyFrame({"model": model_names}, schema={"model": pl.String})
    measures = ["pipeline_created_cents", *(f"pipeline_{state}_cents" for state in DEAL_STATES)]
    return (
        models.join(campaign_ids, how="cross")
        .join(credited, on=["model", "campaign_id"], how="left", nulls_equal=True)
        .join(campaigns.select("campaign_id", "campaign_name", "channel", "cost_cents"), on="campaign_id", how="left")
        .with_columns(*(pl.col(name).fill_null(0) for name in measures), pl.col("credited_deals").fill_null(0.0))
        .with_columns(pipeline_to_cost=pl.when(pl.col("cost_cents") > 0).then(pl.col("pipeline_created_cents") / pl.col("cost_cents")))
        .select("model", "campaign_id", "campaign_name", "channel", *measures, "credited_deals", "cost_cents", "pipeline_to_cost")
        .sort("model", "campaign_id", nulls_last=True)
    )
