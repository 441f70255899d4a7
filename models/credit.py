"""touch_credit (SPEC 4 and 5): every model's cents for every won deal.

Won deals with no matched touch are not dropped: each model credits their
whole amount to one ``(unattributed)`` row, so per model the credited total
equals the won total exactly.

Touches of an excluded type or channel (``params.excluded_touch_types``,
``params.excluded_channels``) never take credit: they leave each won deal's
journey before any model runs, the rest are renumbered 1..n', and a won deal
left with no touch is unattributed like one that never had any.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import polars as pl

from models.allocation import allocate_cents
from models.data_driven import with_values
from models.params import AttributionParams
from models.registry import Model, get_models

UNATTRIBUTED = "(unattributed)"

CREDIT_COLUMNS = [
    "model",
    "opportunity_id",
    "touch_id",
    "position",
    "n_touches",
    "weight",
    "credited_cents",
    "occurred_at",
    "channel",
    "campaign_id",
    "account_domain",
    "closed_at",
]


def is_excluded(params: AttributionParams) -> pl.Expr:
    """True for a journey row whose touch_type or channel is excluded (null never is)."""
    by_type = pl.col("touch_type").is_in(sorted(params.excluded_touch_types))
    by_channel = pl.col("channel").is_in(sorted(params.excluded_channels))
    return (by_type.fill_null(False) | by_channel.fill_null(False)).alias("excluded")


def count_excluded(
    journeys: pl.LazyFrame | pl.DataFrame,
    params: AttributionParams,
    opportunities: pl.LazyFrame | pl.DataFrame | None = None,
) -> int:
    """How many journey rows the exclusions remove from credit.

    With ``opportunities``, only the rows of its won deals count (those
    ``credit_touches`` would have credited); without, every row of ``journeys``.
    """
    rows = journeys.lazy()
    if opportunities is not None:
        won = opportunities.lazy().filter(pl.col("is_won")).select("opportunity_id")
        rows = rows.join(won, on="opportunity_id", how="semi")
    return rows.select(is_excluded(params).sum()).collect().item()


def deal_paths(journeys: pl.LazyFrame, deals: pl.LazyFrame, params: AttributionParams) -> pl.LazyFrame:
    """Each of ``deals``' journeys as every model sees it, in journey order.

    One row per (deal, touch not excluded), positions renumbered 1..n' and
    n_touches recomputed after the exclusions; with the deal's amount_cents,
    account_domain, closed_at and created_at beside the touch's columns.
    """
    facts = deals.select("opportunity_id", "amount_cents", "account_domain", "closed_at", "created_at")
    paths = journeys.select(
        "opportunity_id",
        "touch_id",
        "position",
        "n_touches",
        "occurred_at",
        "conversion_at",
        "channel",
        "campaign_id",
        "touch_type",
    ).join(facts, on="opportunity_id", how="inner")
    # Journey order, made explicit: a join does not keep it, and time_decay's float
    # normalization must add the same numbers in the same order on every run.
    paths = paths.sort("opportunity_id", "position")
    if params.excluded_touch_types or params.excluded_channels:
        paths = paths.filter(~is_excluded(params)).with_columns(
            position=(pl.int_range(pl.len()).over("opportunity_id") + 1).cast(pl.Int32),
            n_touches=pl.len().over("opportunity_id").cast(pl.Int32),
        )
    return paths


def won_paths(journeys: pl.LazyFrame, opportunities: pl.LazyFrame, params: AttributionParams) -> pl.LazyFrame:
    """``deal_paths`` of the won deals: the journeys touch_credit credits."""
    return deal_paths(journeys, opportunities.filter(pl.col("is_won")), params)


def credit_deals(journeys: pl.LazyFrame, deals: pl.LazyFrame, params: AttributionParams, models: list[Model]) -> pl.LazyFrame:
    """One row per (model, deal of ``deals``, touch) with weight > 0, plus an unattributed
    row per model for a deal left without a touch; ``params`` holds every data-driven
    model's values already (``with_values``)."""
    paths = deal_paths(journeys, deals, params)
    kept = journeys
    if params.excluded_touch_types or params.excluded_channels:
        kept = journeys.filter(~is_excluded(params))
    unmatched = deals.join(kept.select("opportunity_id").unique(), on="opportunity_id", how="anti")

    frames = []
    for model in models:
        credited = allocate_cents(model.weights(paths, params), exact=model.exact)
        frames.append(credited.with_columns(model=pl.lit(model.name)).select(CREDIT_COLUMNS))
        frames.append(
            unmatched.select(
                model=pl.lit(model.name),
                opportunity_id="opportunity_id",
                touch_id=pl.lit(None, pl.String),
                position=pl.lit(None, pl.Int32),
                n_touches=pl.lit(0, pl.Int32),
                weight=pl.lit(1.0),
                credited_cents="amount_cents",
                occurred_at=pl.lit(None, pl.Datetime("us", "UTC")),
                channel=pl.lit(UNATTRIBUTED),
                campaign_id=pl.lit(None, pl.String),
                account_domain="account_domain",
                closed_at="closed_at",
            )
        )
    return pl.concat(frames, how="vertical_relaxed").sort("model", "opportunity_id", "position", nulls_last=True)


def credit_touches(
    journeys: pl.LazyFrame,
    opportunities: pl.LazyFrame,
    params: AttributionParams,
    model_names: list[str] | None = None,
) -> pl.LazyFrame:
    """One row per (model, won deal, touch) with weight > 0, plus unattributed rows.

    The data-driven models use ``params.channel_values``; a model missing there
    learns its values from ``journeys`` (every deal in it, won or lost) first."""
    models = get_models(model_names)
    params = with_values(journeys, opportunities, params, [model.name for model in models])
    return credit_deals(journeys, opportunities.filter(pl.col("is_won")), params, models)


def credit_in_chunks(
    journeys: pl.LazyFrame,
    opportunities: pl.DataFrame,
    params: AttributionParams,
    model_names: list[str] | None,
    deals_per_chunk: int,
    credit: Callable[..., pl.LazyFrame] = credit_touches,
    which: pl.Expr = pl.col("is_won"),
) -> Iterator[pl.DataFrame]:
    """``credit`` (``credit_touches``, or ``models.pipeline.credit_at_creation``) for at most
    ``deals_per_chunk`` of the deals ``which`` selects at a time, so memory holds one
    chunk's credit rather than every model's row for every touch. A deal's credit
    depends on its own journey and the run's parameters only (the data-driven values are
    learned once, before the first chunk), so the chunks together are exactly the
    one-shot rows; each chunk is in the one-shot order within itself."""
    names = [model.name for model in get_models(model_names)]
    params = with_values(journeys, opportunities.lazy(), params, names)
    ids = opportunities.filter(which).get_column("opportunity_id").sort()
    for start in range(0, max(ids.len(), 1), deals_per_chunk):
        chunk = ids.slice(start, deals_per_chunk)
        deals = opportunities.lazy().filter(pl.col("opportunity_id").is_in(chunk.implode()))
        rows = journeys.filter(pl.col("opportunity_id").is_in(chunk.implode()))
        yield credit(rows, deals, params, names).collect()
