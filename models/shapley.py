"""Shapley-value attribution over the channel sets seen in the data.

The characteristic function is the one issue 10 asks for, "the conversion
rate of each channel set seen in the data": v(S) = conversions / journeys
over the journeys whose set of channels is exactly S (order and repeats
ignored). A channel's Shapley value is its marginal contribution
v(S + c) - v(S) averaged over every order in which the channels could join,

    phi_c = sum over S in N - {c} of |S|! (n - |S| - 1)! / n! * (v(S + c) - v(S)),

which is the only split that is efficient (the values add up to
v(N) - v(empty)), symmetric (channels in the same roles get the same value),
and gives nothing to a channel that never changes v.

Known weakness: a set never seen has v = 0, not "unknown". With many
channels most of the 2^n sets are never seen, so a channel is credited for
stepping from an unseen (0) set into a seen one, and the values say as much
about which combinations happen to occur as about what converts. A set seen
in one journey has a rate of 0 or 1. The values are a relative weighting of
channels, not counts of conversions; use them with enough journeys per set.

Exact enumeration up to ``max_exact_channels`` channels (2^12 = 4,096 sets
by default, vectorised over bitmasks); beyond it a seeded Monte-Carlo
estimate, see ``shapley_values``.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl


def _set_rates(paths: pl.DataFrame) -> tuple[list[str], dict[int, float]]:
    """Sorted channels and v by bitmask (bit i = channels[i]) for every set with journeys."""
    rows = list(paths.select("channels", "conversions", "nulls").iter_rows())
    channels = sorted({channel for path, _, _ in rows for channel in path})
    bit = {channel: 1 << i for i, channel in enumerate(channels)}
    totals: dict[int, list[float]] = {}
    for path, conversions, nulls in sorted(rows, key=lambda row: (tuple(row[0]), row[1], row[2])):
        if conversions < 0 or nulls < 0:
            raise ValueError("path counts must be >= 0")
        mask = 0
        for channel in path:
            mask |= bit[channel]
        total = totals.setdefault(mask, [0.0, 0.0])
        total[0] += conversions
        total[1] += conversions + nulls
    rates = {mask: c / n for mask, (c, n) in sorted(totals.items()) if n > 0}
    return channels, rates


def _exact(n: int, rates: dict[int, float]) -> np.ndarray:
    """phi over all 2^n coalitions: for each channel, the weighted sum over sets without it."""
    v = np.zeros(1 << n)
    for mask, rate in rates.items():
        v[mask] = rate
    masks = np.arange(1 << n)
    sizes = np.zeros(1 << n, dtype=np.int64)
    for i in range(n):
        sizes += (masks >> i) & 1
    # |S|! (n - |S| - 1)! / n!  =  1 / (n * C(n - 1, |S|))
    weight = np.array([1.0 / (n * math.comb(n - 1, s)) if s < n else 0.0 for s in range(n + 1)])
    phi = np.zeros(n)
    for i in range(n):
        without = masks[(masks >> i) & 1 == 0]
        phi[i] = np.sum(weight[sizes[without]] * (v[without | (1 << i)] - v[without]))
    return phi


def _sampled(n: int, rates: dict[int, float], samples: int, seed: int) -> np.ndarray:
    """Mean marginal contribution of each channel over ``samples`` random join orders."""
    rng = np.random.default_rng(seed)
    total = np.zeros(n)
    for _ in range(samples):
        mask, before = 0, 0.0
        for i in rng.permutation(n):
            mask |= 1 << int(i)
            after = rates.get(mask, 0.0)
            total[i] += after - before
            before = after
    return total / samples


def shapley_values(
    paths: pl.DataFrame, max_exact_channels: int = 12, samples: int = 2000, seed: int = 0
) -> dict[str, float]:
    """Channel -> Shapley value of v(S) = conversion rate of the journeys with channel set S.

    ``paths`` holds channels (list[str]), conversions and nulls (float
    counts), as ``models.paths.path_counts`` returns them.

    With at most ``max_exact_channels`` channels the values are exact. With
    more, they are an estimate: the average marginal contribution over
    ``samples`` random permutations drawn by ``numpy.random.default_rng(seed)``
    (so the same inputs and seed give the same numbers). Each permutation
    still splits v(N) - v(empty) exactly, so the estimates keep summing to it;
    each channel's value has a standard error of about sd / sqrt(samples), sd
    being the spread of its marginal contributions across permutations.
    """
    channels, rates = _set_rates(paths)
    n = len(channels)
    if n == 0:
        return {}
    if n <= max_exact_channels:
        phi = _exact(n, rates)
    else:
        if samples < 1:
            raise ValueError("samples must be >= 1")
        phi = _sampled(n, rates, samples, seed)
    return {channel: float(value) for channel, value in zip(channels, phi)}
