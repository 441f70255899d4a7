"""Closed-loop funnel metrics shared by marketing and sales (the funnel issue).

``pipeline_sourcing`` says, for every opportunity, whether marketing sourced it,
influenced it, or neither, from the same matched journeys the attribution uses:

- marketing-sourced: at least one matched touch on or before ``created_at``
  whose channel is a marketing channel (not in ``non_marketing``); its channel
  is the channel of the first such touch;
- marketing-influenced: no such touch on or before ``created_at``, but one
  after it (journeys end at the deal's conversion); its channel is the first
  such touch's;
- sales-sourced: no marketing touch at all (channel ``(none)``).

A touch without a channel counts as marketing (it came from a UTM or a form,
not from sales), under channel ``(unknown)``.
"""

from __future__ import annotations

import polars as pl

DEFAULT_NON_MARKETING_CHANNELS = ("direct", "sales_outreach")
SOURCED, INFLUENCED, SALES = "marketing_sourced", "marketing_influenced", "sales_sourced"
NO_CHANNEL = "(none)"


def pipeline_sourcing(journeys: pl.LazyFrame, opportunities: pl.LazyFrame, non_marketing: tuple[str, ...] = DEFAULT_NON_MARKETING_CHANNELS) -> pl.LazyFrame:
    """One row per (created month, channel, sourcing): opportunities, amount in
    cents, and their shares of the month's opportunities and amount."""
    deals = opportunities.select("opportunity_id", "created_at", "amount_cents")
    marketing = (
        journeys.select("opportunity_id", "position", "occurred_at", pl.col("channel").fill_null("(unknown)"))
        .filter(~pl.col("channel").is_in(list(non_marketing)))
        .join(deals.select("opportunity_id", "created_at"), on="opportunity_id")
        .with_columns(before_creation=pl.col("occurred_at") <= pl.col("created_at"))
        # The deciding touch: the first before creation if any, else the first after it.
        .sort("opportunity_id", pl.col("before_creation").not_(), "position")
        .group_by("opportunity_id")
        .agg(pl.col("channel").first(), pl.col("before_creation").first())
    )
    per_deal = deals.join(marketing, on="opportunity_id", how="left").with_columns(
        sourcing=pl.when(pl.col("before_creation")).then(pl.lit(SOURCED))
        .when(pl.col("before_creation").not_()).then(pl.lit(INFLUENCED))
        .otherwise(pl.lit(SALES)),
        channel=pl.col("channel").fill_null(NO_CHANNEL),
        created_month=pl.col("created_at").dt.truncate("1mo").dt.date(),
    )
    grouped = per_deal.group_by("created_month", "channel", "sourcing").agg(
        pl.len().cast(pl.Int64).alias("opportunities"), pl.col("amount_cents").sum().alias("amount_cents")
    )
    month = ["created_month"]
    return grouped.with_columns(
        share_of_opportunities=pl.col("opportunities") / pl.col("opportunities").sum().over(month),
        share_of_amount=pl.when(pl.col("amount_cents").sum().over(month) > 0)
        .then(pl.col("amount_cents") / pl.col("amount_cents").sum().over(month))
        .otherwise(0.0),
    ).sort("created_month", "sourcing", "channel")
