"""How sure the data-driven models are: a bootstrap over deals (issue 10, item 5).

Each draw resamples the closed deals with replacement (numpy's generator with a
fixed seed, so two runs give identical intervals), learns the channel values
again from the resampled paths, and credits the resampled won deals with them.
The 5th and 95th percentiles of a channel's credited revenue over the draws are
its 90% interval. Resampling deals, not touches, keeps each journey whole: the
uncertainty is about which deals happened to be in the data.

Credit per draw uses the rule of ``models.data_driven.channel_weights`` at
channel level: a won deal's amount is split over the distinct channels of its
journey in proportion to their values (negative as 0), or by touch count when
they are all 0, so the interval is about the same quantity as touch_credit.
Amounts are floats here (an interval is an estimate, not a ledger), and the
touch exclusions (``excluded_touch_types``, ``excluded_channels``) are not
applied: the interval describes the models' channel values over whole journeys.

The paths' structure (Markov states and transitions, Shapley channel sets, the
won deals' channel sets) is built once; a draw is then a handful of bincounts,
one sparse matrix-vector product and one small solve per channel.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from models.data_driven import FITTERS, PathFit
from models.params import AttributionParams
from models.paths import CodedPaths
from models.shapley import MAX_BITS

LEVEL = 0.9
SCHEMA = {"model": pl.String, "channel": pl.String, "credited_revenue": pl.Float64, "lower": pl.Float64, "upper": pl.Float64}


class _WonDeals:
    """The won deals grouped by channel set: a draw's credit needs only the amount per
    set (and, for sets whose channels are all worth 0, the linear split of each path)."""

    def __init__(self, coded: CodedPaths, path_of_deal: np.ndarray, cents: np.ndarray):
        n = len(coded.channels)
        if n <= MAX_BITS:
            sets, set_of_deal = np.unique(coded.masks()[path_of_deal], return_inverse=True)
            self.presence = (sets[:, None] >> np.arange(n)) & 1 == 1
        else:
            presence = np.zeros((coded.count, n), dtype=bool)
            presence[coded.path, coded.code] = True
            self.presence, set_of_deal = np.unique(presence[path_of_deal], axis=0, return_inverse=True)
        self.set_of_deal = set_of_deal.ravel()
        self.fractions = coded.fractions()
        self.path_of_deal = path_of_deal
        self.amounts = cents.astype(float) / 100

    def credited(self, values: np.ndarray, weight: np.ndarray) -> np.ndarray:
        """Revenue per channel when each won deal counts ``weight`` times."""
        raw = self.presence * np.maximum(values, 0.0)
        total = raw.sum(axis=1)
        valued = total > 0
        amounts = weight * self.amounts
        by_set = np.bincount(self.set_of_deal, amounts, len(self.presence))
        credited = by_set[valued] @ (raw[valued] / total[valued, None])
        linear = ~valued[self.set_of_deal] & (amounts > 0)  # usually none: skip the big product
        if linear.any():
            paths = self.path_of_deal[linear]
            credited = credited + self.fractions[paths].T @ amounts[linear]
        return credited


def bootstrap_intervals(fit: PathFit, draws: int, seed: int) -> pl.DataFrame:
    """One row per (model, channel): the point estimate of credited revenue (all
    deals once), and the bounds of its 90% bootstrap interval, in the reporting
    currency, for every data-driven model of ``fit``."""
    deals = fit.deals.height
    if not deals or draws <= 0 or not fit.models:
        return pl.DataFrame(schema=SCHEMA)
    won_rows, coded, cents = fit.won_paths()
    won = _WonDeals(coded, won_rows, cents)

    def credited(model: str, weight: np.ndarray) -> np.ndarray:
        return won.credited(fit.evaluate(model, weight), weight[won_rows])

    rng = np.random.default_rng(seed)
    samples = {model: np.empty((draws, len(fit.channels))) for model in fit.models}
    for draw in range(draws):
        weight = np.bincount(rng.integers(0, deals, deals), minlength=deals).astype(float)  # deals drawn with replacement
        for model in fit.models:
            samples[model][draw] = credited(model, weight)
    rows = []
    tail = (1 - LEVEL) / 2 * 100
    for model in fit.models:
        point = credited(model, np.ones(deals))
        lower, upper = np.percentile(samples[model], [tail, 100 - tail], axis=0)
        rows += [
            {"model": model, "channel": c, "credited_revenue": float(point[i]), "lower": float(lower[i]), "upper": float(upper[i])}
            for i, c in enumerate(fit.channels)
        ]
    return pl.DataFrame(rows, schema=SCHEMA)


def learn(
    journeys: pl.DataFrame | pl.LazyFrame, opportunities: pl.DataFrame, params: AttributionParams, models: list[str], draws: int, seed: int
) -> tuple[dict[str, dict[str, float]], pl.DataFrame]:
    """What the data_driven asset computes: each model's channel values and their
    bootstrap intervals, from every deal's journey and the deals' amounts."""
    fit = PathFit(journeys, opportunities, params, [model for model in models if model in FITTERS])
    return fit.values(), bootstrap_intervals(fit, draws, seed)
