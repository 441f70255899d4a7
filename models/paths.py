"""Deal paths: each deal's journey as a sequence of channels, for the data-driven models.

The data-driven models (``markov``, ``shapley``) learn from every closed deal,
not only the won ones: a lost deal is a journey that did not convert, and
without non-conversions a channel that appears on every path would look
decisive. Open deals have not ended yet, so by default they are left out;
``include_open`` counts them as non-conversions (as of the run's as-of time).

Paths are in journey order (SPEC 3's ``position``). A touch without a channel
is the channel ``(unknown)``, so it still occupies its step of the path.
"""

from __future__ import annotations

import polars as pl

UNKNOWN_CHANNEL = "(unknown)"


def deal_paths(
    journeys: pl.LazyFrame | pl.DataFrame,
    include_open: bool = False,
    dedupe: bool = False,
    opportunities: pl.LazyFrame | pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One row per deal: opportunity_id, channels (list[str]), converted, value_cents.

    ``journeys`` holds opportunity_id, position, channel, is_won, is_closed and,
    unless ``opportunities`` gives each deal's amount_cents, the deal's
    ``amount_cents`` on every row. ``converted`` is is_won; ``value_cents`` is the
    amount of a won deal and 0 otherwise. With ``dedupe``, consecutive repeats
    of a channel collapse into one step (a > a > b > a becomes a > b > a): ten
    page views in a row are one visit to the channel, not ten.
    """
    rows = journeys.lazy()
    if not include_open:
        rows = rows.filter(pl.col("is_closed"))
    rows = rows.sort("opportunity_id", "position").with_columns(
        channel=pl.col("channel").fill_null(UNKNOWN_CHANNEL)
    )
    if dedupe:
        previous = pl.col("channel").shift(1).over("opportunity_id")
        rows = rows.filter((pl.col("channel") != previous).fill_null(True))
    won = pl.col("is_won").first().fill_null(False)
    if opportunities is None:
        amount = pl.col("amount_cents").first()
        paths = rows.group_by("opportunity_id", maintain_order=True).agg(
            channels=pl.col("channel"), converted=won, amount_cents=amount
        )
    else:  # one amount per deal, joined after grouping
        paths = rows.group_by("opportunity_id", maintain_order=True).agg(channels=pl.col("channel"), converted=won)
        amounts = opportunities.lazy().select("opportunity_id", "amount_cents")
        paths = paths.join(amounts, on="opportunity_id", how="left", maintain_order="left")
    value = pl.when(pl.col("converted")).then(pl.col("amount_cents")).otherwise(0).cast(pl.Int64)
    return paths.select("opportunity_id", "channels", "converted", value_cents=value).sort("opportunity_id").collect()


def path_counts(paths: pl.DataFrame) -> pl.DataFrame:
    """Unique paths with how many deals took them: channels, conversions, nulls.

    The counts are floats so that the same models can take weighted counts
    (a bootstrap resample gives each deal a weight). Sorted by path, so the
    models see the same rows in the same order on every run.
    """
    return (
        paths.lazy()
        .group_by("channels")
        .agg(
            conversions=pl.col("converted").cast(pl.Float64).sum(),
            nulls=(~pl.col("converted")).cast(pl.Float64).sum(),
        )
        .sort("channels")
        .collect()
    )
