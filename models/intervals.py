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
"""

from __future__ import annotations

import numpy as np
import polars as pl

from models.data_driven import fit_counts
from models.params import AttributionParams
from models.paths import deal_paths

LEVEL = 0.9


def _fit(model: str, channels: pl.Series, conversions: np.ndarray, nulls: np.ndarray, params: AttributionParams) -> dict[str, float]:
    used = (conversions + nulls) > 0
    paths = pl.DataFrame({"channels": channels.filter(pl.Series(used)), "conversions": conversions[used], "nulls": nulls[used]})
    return fit_counts(paths, model, params.markov_order)


def bootstrap_intervals(
    journeys: pl.DataFrame, params: AttributionParams, models: list[str], draws: int, seed: int
) -> pl.DataFrame:
    """One row per (model, channel): the point estimate of credited revenue (all
    deals once), and the bounds of its 90% bootstrap interval, in the reporting
    currency. ``journeys`` is the journeys table with each deal's amount_cents."""
    schema = {"model": pl.String, "channel": pl.String, "credited_revenue": pl.Float64, "lower": pl.Float64, "upper": pl.Float64}
    fit_paths = deal_paths(journeys, include_open=params.include_open_paths, dedupe=params.dedupe_paths)
    if fit_paths.is_empty() or draws <= 0 or not models:
        return pl.DataFrame(schema=schema)
    unique = fit_paths.select("channels").unique(maintain_order=False).sort("channels").with_row_index("path")
    fit_paths = fit_paths.join(unique, on="channels", how="left")
    path_of_deal = fit_paths.get_column("path").to_numpy()
    converted = fit_paths.get_column("converted").to_numpy().astype(float)

    # Won deals as a (deal x channel) matrix: presence, and touch fractions for the linear fallback.
    credit_paths = deal_paths(journeys, include_open=params.include_open_paths) if params.dedupe_paths else fit_paths
    channels = sorted({c for path in credit_paths.get_column("channels").to_list() for c in path})
    column = {c: i for i, c in enumerate(channels)}
    deal_index = {d: i for i, d in enumerate(fit_paths.get_column("opportunity_id").to_list())}
    won = credit_paths.filter(pl.col("converted"))
    presence = np.zeros((won.height, len(channels)))
    fractions = np.zeros((won.height, len(channels)))
    for row, path in enumerate(won.get_column("channels").to_list()):
        for channel in path:
            presence[row, column[channel]] = 1.0
            fractions[row, column[channel]] += 1.0 / len(path)
    amounts = won.get_column("value_cents").to_numpy().astype(float) / 100
    won_rows = np.array([deal_index[d] for d in won.get_column("opportunity_id").to_list()], dtype=np.int64)

    def credited(values: dict[str, float], weight: np.ndarray) -> np.ndarray:
        vector = np.array([max(values.get(c, 0.0), 0.0) for c in channels])
        raw = presence * vector
        total = raw.sum(axis=1, keepdims=True)
        shares = np.where(total > 0, raw / np.where(total > 0, total, 1.0), fractions)
        return (weight[won_rows] * amounts) @ shares

    rng = np.random.default_rng(seed)
    deals = len(path_of_deal)
    samples = {model: np.empty((draws, len(channels))) for model in models}
    base = unique.get_column("channels")
    for draw in range(draws):
        weight = rng.multinomial(deals, np.full(deals, 1.0 / deals)).astype(float)
        conversions = np.bincount(path_of_deal, weights=weight * converted, minlength=unique.height)
        nulls = np.bincount(path_of_deal, weights=weight * (1 - converted), minlength=unique.height)
        for model in models:
            samples[model][draw] = credited(_fit(model, base, conversions, nulls, params), weight)
    ones = np.ones(deals)
    everything = np.bincount(path_of_deal, weights=converted, minlength=unique.height), np.bincount(path_of_deal, weights=1 - converted, minlength=unique.height)
    rows = []
    tail = (1 - LEVEL) / 2 * 100
    for model in models:
        point = credited(_fit(model, base, *everything, params), ones)
        lower, upper = np.percentile(samples[model], [tail, 100 - tail], axis=0)
        rows += [
            {"model": model, "channel": c, "credited_revenue": float(point[i]), "lower": float(lower[i]), "upper": float(upper[i])}
            for i, c in enumerate(channels)
        ]
    return pl.DataFrame(rows, schema=schema)
