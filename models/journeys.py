"""SPEC 3: which touches belong to which opportunity, and in what order.

A touch belongs to an opportunity when one of the deal's contacts has its
e-mail, or when their account domains are equal (a free-mail deal only takes
touches whose own, given domain is that free-mail domain), and it falls inside
``[created_at - lookback, conversion_at]``, both bounds inclusive.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from models.identity import GIVEN
from models.params import AttributionParams

JOURNEY_COLUMNS = [
    "opportunity_id",
    "touch_id",
    "position",
    "n_touches",
    "match_type",
    "identity",
    "occurred_at",
    "conversion_at",
    "channel",
    "campaign_id",
    "touch_type",
    "account_domain",
    "is_won",
    "is_closed",
]


def resolve_as_of(touches: pl.LazyFrame, opportunities: pl.LazyFrame, explicit: dt.datetime | None) -> dt.datetime | None:
    """The run's as-of time: explicit, else the latest timestamp in the inputs.

    Defaulting to the data (not the clock) makes re-runs on the same inputs agree.
    """
    if explicit is not None:
        return explicit.astimezone(dt.timezone.utc)
    latest = pl.concat(
        [
            touches.select(pl.col("occurred_at").max().alias("t")),
            opportunities.select(pl.col("created_at").max().alias("t")),
            opportunities.select(pl.col("closed_at").max().alias("t")),
        ]
    ).select(pl.col("t").max())
    return latest.collect().item()


def with_conversion_at(opportunities: pl.LazyFrame, as_of: dt.datetime | None) -> pl.LazyFrame:
    """closed_at for a closed deal, the run's as-of time for an open one."""
    as_of_lit = pl.lit(as_of, dtype=pl.Datetime("us", "UTC"))
    return opportunities.with_columns(conversion_at=pl.when(pl.col("is_closed")).then(pl.col("closed_at")).otherwise(as_of_lit))


def build_journeys(
    touches: pl.LazyFrame,
    opportunities: pl.LazyFrame,
    contacts: pl.LazyFrame,
    params: AttributionParams,
    as_of: dt.datetime | None,
) -> pl.LazyFrame:
    """One row per (opportunity, touch) matched by SPEC 3, for won, lost and open deals."""
    lookback = dt.timedelta(days=params.lookback_days)
    freemail = sorted(params.freemail_domains)
    timed = with_conversion_at(opportunities, as_of)
    deals = timed.select(
        "opportunity_id",
        pl.col("account_domain").alias("deal_domain"),
        (pl.col("created_at") - lookback).alias("window_start"),
        "conversion_at",
        pl.col("account_domain").is_in(freemail).alias("deal_is_freemail"),
    )
    stamps = touches.select("touch_id", "occurred_at", "account_domain", "domain_is_given", "email")
    in_window = pl.col("occurred_at").is_between(pl.col("window_start"), pl.col("conversion_at"), closed="both")

    by_domain = (
        deals.join(stamps, left_on="deal_domain", right_on="account_domain", how="inner")
        .filter(in_window & (~pl.col("deal_is_freemail") | pl.col("domain_is_given")))
        .select("opportunity_id", "touch_id", by_domain=pl.lit(True), by_email=pl.lit(False))
    )
    by_email = (
        contacts.select("opportunity_id", "email")
        .unique()
        .join(deals, on="opportunity_id", how="inner")
        .join(stamps.filter(pl.col("email").is_not_null()), on="email", how="inner")
        .filter(in_window)
        .select("opportunity_id", "touch_id", by_domain=pl.lit(False), by_email=pl.lit(True))
    )
    matches = (
        pl.concat([by_domain, by_email])
        .group_by("opportunity_id", "touch_id")
        .agg(pl.col("by_domain").any(), pl.col("by_email").any())
        .with_columns(
            match_type=pl.when(pl.col("by_domain") & pl.col("by_email"))
            .then(pl.lit("both"))
            .when(pl.col("by_email"))
            .then(pl.lit("email"))
            .otherwise(pl.lit("domain"))
        )
    )
    deal_facts = timed.select("opportunity_id", "conversion_at", "account_domain", "is_won", "is_closed")
    # identity: set by models.identity.stitch; unstitched touches have their own e-mail or none
    given = pl.when(pl.col("email").is_not_null()).then(pl.lit(GIVEN)).alias("identity")
    identity = pl.col("identity") if "identity" in touches.collect_schema().names() else given
    touch_facts = touches.select("touch_id", "occurred_at", "channel", "campaign_id", "touch_type", identity)
    return (
        matches.join(touch_facts, on="touch_id", how="inner")
        .join(deal_facts, on="opportunity_id", how="inner")
        # SPEC 3 order: (occurred_at, touch_id) with touch_id compared as UTF-8
        # bytes; polars compares strings byte-wise, which is exactly C collation.
        .sort("opportunity_id", "occurred_at", "touch_id")
        .with_columns(
            position=(pl.int_range(pl.len()).over("opportunity_id") + 1).cast(pl.Int32),
            n_touches=pl.len().over("opportunity_id").cast(pl.Int32),
        )
        .select(JOURNEY_COLUMNS)
    )
