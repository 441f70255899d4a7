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


def pipeline_sourcing(
    journeys: pl.LazyFrame, opportunities: pl.LazyFrame, non_marketing: tuple[str, ...] = DEFAULT_NON_MARKETING_CHANNELS
) -> pl.LazyFrame:
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
        sourcing=pl.when(pl.col("before_creation"))
        .then(pl.lit(SOURCED))
        .when(pl.col("before_creation").not_())
        .then(pl.lit(INFLUENCED))
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
            .when(waited > sla_hours)
            .then(pl.lit(BREACHED))
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
        .with_columns(compliance=pl.when(pl.col(MET) + pl.col(BREACHED) > 0).then(pl.col(MET) / (pl.col(MET) + pl.col(BREACHED))))
        .sort("mql_week", "owner")
    )


DEFAULT_STAGE_ORDER = ("qualification", "discovery", "proposal", "negotiation", "closed_won")


def stage_velocity(history: pl.LazyFrame, opportunities: pl.LazyFrame, stage_order: tuple[str, ...] = DEFAULT_STAGE_ORDER) -> pl.LazyFrame:
    """Per (stage, month the deal was created): deals that entered the stage, days
    spent in it (median, p75, p90, linear interpolation) and conversion to the next
    stage of ``stage_order``.

    A stay in a stage lasts from its entered_at to the deal's next entry. The last
    entry of an open deal is a stay still running: that deal is *still in stage*,
    left out of the day figures and of the conversion denominator (open is not
    lost). A deal that re-enters a stage is counted once, with the days of
    all its finished stays added up. A deal converted when it entered the next stage
    after first entering this one. Closing stages (the last entry of a closed deal)
    have no stay, so no row."""
    deals = opportunities.select("opportunity_id", "is_closed", pl.col("created_at").dt.truncate("1mo").dt.date().alias("created_month"))
    nxt = {stage: stage_order[index + 1] for index, stage in enumerate(stage_order[:-1])}
    stays = (
        history.select("opportunity_id", "stage", "entered_at")
        .join(deals, on="opportunity_id")
        .sort("opportunity_id", "entered_at", "stage")
        .with_columns(left_at=pl.col("entered_at").shift(-1).over("opportunity_id"))
        .with_columns(running=pl.col("left_at").is_null() & pl.col("is_closed").not_())
        .filter(pl.col("left_at").is_not_null() | pl.col("running"))
    )
    first_entry = history.group_by("opportunity_id", "stage").agg(pl.col("entered_at").min().alias("first_at"))
    per_deal = (
        stays.group_by("opportunity_id", "stage", "created_month")
        .agg(
            ((pl.col("left_at") - pl.col("entered_at")).dt.total_microseconds() / 86_400_000_000).sum().alias("days"),
            pl.col("running").any().alias("still_in_stage"),
            pl.col("entered_at").min().alias("first_at"),
        )
        .with_columns(next_stage=pl.col("stage").replace_strict(nxt, default=None, return_dtype=pl.String))
        .join(
            first_entry.rename({"stage": "next_stage", "first_at": "next_at"}),
            on=["opportunity_id", "next_stage"],
            how="left",
        )
        .with_columns(converted=pl.col("next_at").is_not_null() & (pl.col("next_at") > pl.col("first_at")))
    )
    finished = pl.col("days").filter(pl.col("still_in_stage").not_())
    waiting = (pl.col("still_in_stage") & pl.col("converted").not_()).sum()
    return (
        per_deal.group_by("stage", "created_month")
        .agg(
            pl.len().cast(pl.Int64).alias("deals_entered"),
            pl.col("still_in_stage").sum().cast(pl.Int64).alias("still_in_stage"),
            finished.median().alias("median_days"),
            finished.quantile(0.75, interpolation="linear").alias("p75_days"),
            finished.quantile(0.9, interpolation="linear").alias("p90_days"),
            pl.col("next_stage").first(),
            pl.when(pl.col("next_stage").first().is_not_null()).then(pl.col("converted").sum().cast(pl.Int64)).alias("converted_to_next"),
            waiting.alias("_waiting"),
        )
        .with_columns(
            conversion_to_next=pl.when(pl.col("next_stage").is_not_null() & (pl.col("deals_entered") > pl.col("_waiting"))).then(
                pl.col("converted_to_next") / (pl.col("deals_entered") - pl.col("_waiting"))
            )
        )
        .drop("_waiting")
        .sort("created_month", "stage")
    )


NO_TOUCH = "(none)"


def lead_first_touch(leads: pl.LazyFrame, touches: pl.LazyFrame) -> pl.LazyFrame:
    """Per lead: channel and campaign of the first touch with the lead's e-mail at or
    before the lead was created (SPEC 3 order: occurred_at, then touch_id bytes).

    A lead no touch precedes has channel ``(none)`` and no campaign; a first touch
    without a channel has ``(unknown)``, as in pipeline_sourcing.
    """
    people = leads.select("lead_id", "email", "created_at").filter(pl.col("email").is_not_null())
    first = (
        touches.select("email", "occurred_at", "touch_id", "channel", "campaign_id")
        .join(people.select("email").unique(), on="email", how="semi")
        .join(people, on="email")
        .filter(pl.col("occurred_at") <= pl.col("created_at"))
        .sort("lead_id", "occurred_at", "touch_id")
        .group_by("lead_id")
        .agg(pl.col("channel").first().fill_null("(unknown)"), pl.col("campaign_id").first())
    )
    return leads.select("lead_id").join(first, on="lead_id", how="left").with_columns(pl.col("channel").fill_null(NO_TOUCH))


FUNNEL_STEPS = (
    ("lead", "mql", "created_at", "mql_at"),
    ("mql", "sql", "mql_at", "sql_at"),
    ("sql", "opportunity", "sql_at", "opportunity_created_at"),
    ("opportunity", "won", "opportunity_created_at", "closed_at"),
)


def _days(later: str, earlier: str) -> pl.Expr:
    return (pl.col(later) - pl.col(earlier)).dt.total_microseconds() / 86_400_000_000


def funnel_monthly(leads: pl.LazyFrame, first_touch: pl.LazyFrame, opportunities: pl.LazyFrame) -> pl.LazyFrame:
    """Per (month the lead was created, first-touch channel): leads, MQLs, SQLs,
    opportunities, won deals and won revenue, each step's conversion rate to date,
    and the median days of each step.

    Stages are cumulative: a lead that reached a later stage has passed the earlier
    ones even when their time was not recorded, so no rate exceeds 1. A lead reached
    the opportunity stage when its converted_opportunity_id is a known opportunity;
    an opportunity several leads converted into counts once, on its first lead
    (earliest created_at, then lead_id), so won revenue is never counted twice.
    Median days of a step use the leads with both times recorded.
    """
    deals = opportunities.select(
        pl.col("opportunity_id").alias("converted_opportunity_id"),
        pl.col("created_at").alias("opportunity_created_at"),
        "closed_at",
        "is_won",
        "amount_cents",
    )
    first_lead = (
        leads.filter(pl.col("converted_opportunity_id").is_not_null())
        .sort("created_at", "lead_id")
        .group_by("converted_opportunity_id")
        .agg(pl.col("lead_id").first().alias("first_lead_id"))
    )
    per_lead = (
        leads.select("lead_id", "created_at", "mql_at", "sql_at", "converted_opportunity_id")
        .join(first_touch.select("lead_id", "channel"), on="lead_id", how="left")
        .join(first_lead, on="converted_opportunity_id", how="left")
        .join(deals, on="converted_opportunity_id", how="left")
        .with_columns(
            opportunity=pl.col("opportunity_created_at").is_not_null() & (pl.col("first_lead_id") == pl.col("lead_id")),
        )
        .with_columns(won=pl.col("opportunity") & pl.col("is_won").fill_null(False))
        .with_columns(sql=pl.col("sql_at").is_not_null() | pl.col("opportunity"))
        .with_columns(mql=pl.col("mql_at").is_not_null() | pl.col("sql"))
        .with_columns(
            # Times of a stage the lead did not reach (a duplicate lead of one deal) do not count.
            pl.when(pl.col("opportunity")).then(pl.col(name)).alias(name)
            for name in ("opportunity_created_at", "closed_at")
        )
        .with_columns(pl.when(pl.col("won")).then(pl.col("closed_at")).alias("closed_at"))
        .with_columns(
            created_month=pl.col("created_at").dt.truncate("1mo").dt.date(),
            channel=pl.col("channel").fill_null(NO_TOUCH),
        )
    )
    plural = {"lead": "leads", "mql": "mqls", "sql": "sqls", "opportunity": "opportunities", "won": "won_deals"}
    medians = [_days(later, earlier).median().alias(f"median_days_{step}_to_{to}") for step, to, earlier, later in FUNNEL_STEPS]
    grouped = per_lead.group_by("created_month", "channel").agg(
        pl.len().cast(pl.Int64).alias("leads"),
        *(pl.col(stage).sum().cast(pl.Int64).alias(plural[stage]) for stage in ("mql", "sql", "opportunity", "won")),
        pl.col("amount_cents").filter(pl.col("won")).sum().alias("won_revenue_cents"),
        *medians,
    )
    rates = [
        pl.when(pl.col(plural[step]) > 0).then(pl.col(plural[to]) / pl.col(plural[step])).alias(f"{step}_to_{to}")
        for step, to, _, _ in FUNNEL_STEPS
    ]
    return (
        grouped.with_columns(rates)
        .select(
            "created_month",
            "channel",
            *plural.values(),
            "won_revenue_cents",
            *(f"{step}_to_{to}" for step, to, _, _ in FUNNEL_STEPS),
            *(f"median_days_{step}_to_{to}" for step, to, _, _ in FUNNEL_STEPS),
        )
        .sort("created_month", "channel")
    )
