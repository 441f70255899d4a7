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


DEFAULT_SLA_HOURS = 24.0
MET, BREACHED, WAITING = "met", "breached", "waiting"


def lead_sla(leads: pl.LazyFrame, sla_hours: float, as_of) -> pl.LazyFrame:
    """One row per lead that reached MQL: hours from mql_at to the first sales
    activity, and whether the hand-off met the SLA. A lead still without activity
    is ``waiting`` until ``sla_hours`` have passed at ``as_of``, then ``breached``.
    Activity logged before mql_at counts as met (hours <= 0)."""
    hours = (pl.col("first_sales_activity_at") - pl.col("mql_at")).dt.total_microseconds() / 3_600_000_000
    waited = (pl.lit(as_of, pl.Datetime("us", "UTC")) - pl.col("mql_at")).dt.total_microseconds() / 3_600_000_000
    return (
        leads.filter(pl.col("mql_at").is_not_null())
        .select(
            "lead_id",
            pl.col("owner").fill_null("(unassigned)"),
            "mql_at",
            pl.col("mql_at").dt.truncate("1w").dt.date().alias("mql_week"),
            "first_sales_activity_at",
            hours.alias("hours_to_first_activity"),
            pl.lit(sla_hours, pl.Float64).alias("sla_hours"),
            pl.when(pl.col("first_sales_activity_at").is_not_null())
            .then(pl.when(hours <= sla_hours).then(pl.lit(MET)).otherwise(pl.lit(BREACHED)))
            .when(waited > sla_hours).then(pl.lit(BREACHED))
            .otherwise(pl.lit(WAITING))
            .alias("status"),
        )
        .sort("mql_at", "lead_id")
    )


def lead_sla_compliance(per_lead: pl.LazyFrame) -> pl.LazyFrame:
    """Per MQL week (Monday, UTC) and owner: leads, met, breached, waiting, and
    compliance = met / (met + breached); null while every lead is still waiting."""
    counts = [(pl.col("status") == status).sum().cast(pl.Int64).alias(status) for status in (MET, BREACHED, WAITING)]
    return (
        per_lead.group_by("mql_week", "owner")
        .agg(pl.len().cast(pl.Int64).alias("leads"), *counts)
        .with_columns(
            compliance=pl.when(pl.col(MET) + pl.col(BREACHED) > 0).then(pl.col(MET) / (pl.col(MET) + pl.col(BREACHED)))
        )
        .sort("mql_week", "owner")
    )
