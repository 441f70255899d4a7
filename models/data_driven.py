"""Data-driven credit: channel values learned from all deals, turned into touch weights.

``fit`` learns one value per channel once per run, from every closed deal
(won and lost; open ones too with ``include_open``): Markov removal effects
(``models.markov``) or Shapley values (``models.shapley``). ``channel_weights``
then shares each won deal among its touches in proportion to those values,
so a deal is credited only to channels in its own journey.

The weights are floats, so the cents are split by SPEC 4's float rule
(``allocate_cents(..., exact=False)``): still exact per deal, at most a cent
apart per row between two correct implementations.
"""

from __future__ import annotations

from dataclasses import replace

import polars as pl

from models.markov import removal_effects
from models.paths import UNKNOWN_CHANNEL, deal_paths, path_counts
from models.params import AttributionParams
from models.shapley import shapley_values

FITTERS = ("markov", "shapley")


def fit(
    journeys_with_amounts: pl.LazyFrame | pl.DataFrame,
    model: str,
    order: int = 1,
    dedupe: bool = False,
    include_open: bool = False,
) -> dict[str, float]:
    """Channel -> value learned from every deal's path: "markov" or "shapley".

    ``journeys_with_amounts`` is the journeys frame (SPEC 5) with each deal's
    amount_cents. ``order`` applies to "markov" only; a Shapley value looks at
    channel sets, where neither order nor repeats (``dedupe``) matter.
    """
    counts = path_counts(deal_paths(journeys_with_amounts, include_open=include_open, dedupe=dedupe))
    return fit_counts(counts, model, order)


def fit_counts(counts: pl.DataFrame, model: str, order: int = 1) -> dict[str, float]:
    """Channel -> value from path counts (channels, conversions, nulls)."""
    if model == "markov":
        return removal_effects(counts, order=order)
    if model == "shapley":
        return shapley_values(counts)
    raise ValueError(f"unknown data-driven model {model!r}; known: {list(FITTERS)}")


def channel_weights(won_paths: pl.LazyFrame, values: dict[str, float]) -> pl.LazyFrame:
    """Adds a float ``weight``: each touch's share of its deal, from the channel values.

    A channel's share of a deal is its value over the sum of the values of
    the distinct channels in that deal's journey, split evenly among its
    touches there (so a channel touched three times does not count three
    times). A negative value (a Shapley value can be) counts as 0: it says
    the channel's journeys convert less, not that it should give credit back.
    A channel without a value counts as 0. When a deal's channels all count
    0, every touch gets 1/n (linear), so no won deal goes uncredited.
    """
    key = pl.col("channel").fill_null(UNKNOWN_CHANNEL)
    known = sorted(values)
    value = (
        key.replace_strict(known, [max(float(values[c]), 0.0) for c in known], default=0.0)
        if known
        else pl.lit(0.0)
    ).cast(pl.Float64)
    deal = "opportunity_id"
    touches_of_channel = pl.len().over(deal, "_key").cast(pl.Float64)
    first_of_channel = pl.col("_key").is_first_distinct().over(deal)
    deal_total = pl.when(first_of_channel).then(pl.col("_value")).otherwise(0.0).sum().over(deal)
    linear = 1.0 / pl.len().over(deal).cast(pl.Float64)
    return (
        won_paths.sort(deal, "position")
        .with_columns(_key=key, _value=value)
        .with_columns(_total=deal_total, _count=touches_of_channel)
        .with_columns(
            weight=pl.when(pl.col("_total") > 0)
            .then(pl.col("_value") / pl.col("_total") / pl.col("_count"))
            .otherwise(linear)
        )
        .drop("_key", "_value", "_total", "_count")
    )


def _learned(params: AttributionParams, model: str) -> dict[str, float]:
    if model not in params.channel_values:
        raise ValueError(f"{model} needs learned channel values: call with_values first (credit_touches does)")
    return dict(params.channel_values[model])


def markov(won_paths: pl.LazyFrame, params: AttributionParams) -> pl.LazyFrame:
    """Each channel's share of a deal follows its Markov removal effect."""
    return channel_weights(won_paths, _learned(params, "markov"))


def shapley(won_paths: pl.LazyFrame, params: AttributionParams) -> pl.LazyFrame:
    """Each channel's share of a deal follows its Shapley value."""
    return channel_weights(won_paths, _learned(params, "shapley"))


def with_amounts(journeys: pl.LazyFrame | pl.DataFrame, opportunities: pl.LazyFrame | pl.DataFrame) -> pl.DataFrame:
    """The journeys with each deal's amount_cents: the rows deal_paths reads."""
    amounts = opportunities.lazy().select("opportunity_id", "amount_cents")
    return journeys.lazy().join(amounts, on="opportunity_id", how="left").collect()


def fit_values(rows: pl.DataFrame, params: AttributionParams, models: list[str]) -> dict[str, dict[str, float]]:
    """Channel values of each data-driven model in ``models``, learned from every deal
    in ``rows`` (``with_amounts``; won, lost, and open ones with include_open_paths).
    The paths are counted once for all models."""
    wanted = [model for model in models if model in FITTERS]
    if not wanted:
        return {}
    counts = path_counts(deal_paths(rows, include_open=params.include_open_paths, dedupe=params.dedupe_paths))
    return {model: fit_counts(counts, model, params.markov_order) for model in wanted}


def with_values(journeys: pl.LazyFrame, opportunities: pl.LazyFrame, params: AttributionParams, models: list[str]) -> AttributionParams:
    """``params`` with values for every data-driven model in ``models``: those given,
    else learned from ``journeys`` (so a direct call never falls back silently)."""
    missing = [model for model in models if model in FITTERS and model not in params.channel_values]
    if not missing:
        return params
    learned = fit_values(with_amounts(journeys, opportunities), params, missing)
    return replace(params, channel_values={**params.channel_values, **learned})


def values_frame(values: dict[str, dict[str, float]]) -> pl.DataFrame:
    """attribution.channel_values: one row per (model, channel), value and normalized share."""
    rows = []
    for model, by_channel in sorted(values.items()):
        positive = sum(max(v, 0.0) for v in by_channel.values())
        rows += [
            {"model": model, "channel": channel, "value": value, "share": max(value, 0.0) / positive if positive > 0 else None}
            for channel, value in sorted(by_channel.items())
        ]
    return pl.DataFrame(rows, schema={"model": pl.String, "channel": pl.String, "value": pl.Float64, "share": pl.Float64})


def values_from_frame(frame: pl.DataFrame) -> dict[str, dict[str, float]]:
    values: dict[str, dict[str, float]] = {}
    for model, channel, value in frame.select("model", "channel", "value").iter_rows():
        values.setdefault(model, {})[channel] = value
    return values
