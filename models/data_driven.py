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

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import polars as pl

from models.markov import MarkovChain
from models.params import AttributionParams
from models.paths import UNKNOWN_CHANNEL, CodedPaths, deal_steps
from models.shapley import ChannelSets

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
    params = replace(AttributionParams(), markov_order=order, dedupe_paths=dedupe, include_open_paths=include_open)
    return PathFit(journeys_with_amounts, None, params, [model]).values()[model]


def channel_weights(won_paths: pl.LazyFrame, values: dict[str, float]) -> pl.LazyFrame:
    """Adds a float ``weight``: each touch's share of its deal, from the channel values.

    A channel's share of a deal is its value over the sum of the values of
    the distinct channels in that deal's journey, split evenly among its
    touches there (so a channel touched three times does not count three
    times). A negative value (a Shapley value can be) counts as 0: it says
    the channel's journeys convert less, not that it should give credit back.
    A channel without a value counts as 0. When a deal's channels all count
    0, every touch gets 1/n (linear), so no won deal goes uncredited.

    Rows come grouped by deal in journey order (``models.credit.won_paths``
    sorts them so), so a deal's channel values are added in the same order on
    every run.
    """
    key = pl.col("channel").fill_null(UNKNOWN_CHANNEL)
    known = sorted(values)
    value = (key.replace_strict(known, [max(float(values[c]), 0.0) for c in known], default=0.0) if known else pl.lit(0.0)).cast(pl.Float64)
    # One integer per (deal, channel): channels without a value share one code, which
    # is harmless as they are all worth 0. Integer keys keep the windows cheap.
    code = key.replace_strict(known, range(len(known)), default=len(known), return_dtype=pl.UInt64) if known else pl.lit(0, pl.UInt64)
    deal_channel = pl.col("opportunity_id").rle_id().cast(pl.UInt64) * (len(known) + 1) + code
    deal_total = pl.when(pl.col("_key").is_first_distinct()).then(pl.col("_value")).otherwise(0.0).sum().over("opportunity_id")
    linear = 1.0 / pl.len().over("opportunity_id").cast(pl.Float64)
    return (
        won_paths.with_columns(_key=deal_channel, _value=value)
        .with_columns(_total=deal_total, _count=pl.len().over("_key").cast(pl.Float64))
        .with_columns(weight=pl.when(pl.col("_total") > 0).then(pl.col("_value") / pl.col("_total") / pl.col("_count")).otherwise(linear))
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


Learner = Callable[[np.ndarray, np.ndarray], np.ndarray]


def learner(paths: CodedPaths, model: str, order: int = 1) -> Learner:
    """A function from per-path (conversions, nulls) to each channel's value (in
    ``paths.channels`` order): the structure is built once, evaluated often."""
    if model == "markov":
        return MarkovChain(paths, order).removal_effects
    if model == "shapley":
        return ChannelSets(paths).values
    raise ValueError(f"unknown data-driven model {model!r}; known: {list(FITTERS)}")


class PathFit:
    """The closed deals' paths and each data-driven model's structure on them, built once.

    ``values`` evaluates them on the data; ``models.intervals`` evaluates the same
    structures on bootstrap resamples, by giving each deal a weight. Each deal is
    its own path (identical paths are not merged: counts are whole numbers, so the
    sums of transition counts are exact in any order and the values equal
    ``removal_effects`` / ``shapley_values`` on ``path_counts``, to the last bit).
    """

    def __init__(
        self,
        journeys: pl.LazyFrame | pl.DataFrame,
        opportunities: pl.LazyFrame | pl.DataFrame,
        params: AttributionParams,
        models: list[str],
    ):
        self.params = params
        self.models = models
        self._source = (journeys, opportunities)
        self.deals, self.coded = deal_steps(journeys, params.include_open_paths, params.dedupe_paths, opportunities)
        self.converted = self.deals.get_column("converted").to_numpy().astype(float)
        self.channels = self.coded.channels
        self.learners = {model: learner(self.coded, model, params.markov_order) for model in self.models}

    def evaluate(self, model: str, weight: np.ndarray) -> np.ndarray:
        """Each channel's value (in ``self.channels`` order) when deal i counts weight[i] times."""
        return self.learners[model](weight * self.converted, weight * (1 - self.converted))

    def won_paths(self) -> tuple[np.ndarray, CodedPaths, np.ndarray]:
        """What credit splits: each won deal's row in ``self.deals`` (also its path),
        every deal's whole path (repeats kept even when the fit removed them), and
        each won deal's value_cents."""
        won = self.deals.with_row_index("row").filter(pl.col("converted"))
        rows = won.get_column("row").to_numpy().astype(np.int64)
        cents = won.get_column("value_cents").to_numpy()
        if not self.params.dedupe_paths:
            return rows, self.coded, cents
        journeys, opportunities = self._source
        _, full = deal_steps(journeys, self.params.include_open_paths, False, opportunities, self.channels)
        return rows, full, cents

    def values(self) -> dict[str, dict[str, float]]:
        ones = np.ones(self.deals.height)
        return {model: dict(zip(self.channels, self.evaluate(model, ones).tolist())) for model in self.models}


def fit_values(
    journeys: pl.LazyFrame | pl.DataFrame,
    params: AttributionParams,
    models: list[str],
    opportunities: pl.LazyFrame | pl.DataFrame | None = None,
) -> dict[str, dict[str, float]]:
    """Channel values of each data-driven model in ``models``, learned from every deal
    in ``journeys`` (won, lost, and open ones with include_open_paths); amounts from
    ``opportunities``, else from the journeys' own amount_cents."""
    wanted = [model for model in models if model in FITTERS]
    return PathFit(journeys, opportunities, params, wanted).values() if wanted else {}


def with_values(journeys: pl.LazyFrame, opportunities: pl.LazyFrame, params: AttributionParams, models: list[str]) -> AttributionParams:
    """``params`` with values for every data-driven model in ``models``: those given,
    else learned from ``journeys`` (so a direct call never falls back silently)."""
    missing = [model for model in models if model in FITTERS and model not in params.channel_values]
    if not missing:
        return params
    learned = fit_values(journeys, params, missing, opportunities)
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
