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
estimate, see ``shapley_values``. ``ChannelSets`` holds each path's channel
set once, so a bootstrap re-weights the same sets without rebuilding them.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from models.paths import CodedPaths

MAX_BITS = 62  # channel sets are int64 bitmasks up to here; beyond, Python integers


class ChannelSets:
    """Each path's channel set as a bitmask (bit i = channels[i]); counts come per evaluation."""

    def __init__(self, paths: pl.Series | CodedPaths):
        coded = paths if isinstance(paths, CodedPaths) else CodedPaths.of(paths)
        self.channels = coded.channels
        n = len(self.channels)
        if n <= MAX_BITS:
            self.sets, self.set_of_path = np.unique(coded.masks(), return_inverse=True)
        else:
            members: list[set[int]] = [set() for _ in range(coded.count)]
            for path, code in zip(coded.path.tolist(), coded.code.tolist()):
                members[path].add(code)
            masks = [sum(1 << code for code in codes) for codes in members]
            unique = sorted(set(masks))
            index = {mask: i for i, mask in enumerate(unique)}
            self.sets = np.array(unique, dtype=object)
            self.set_of_path = np.array([index[mask] for mask in masks], dtype=np.int64)

    def rates(self, conversions: np.ndarray, nulls: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The sets with journeys and v (their conversion rate), sets in ascending order."""
        conversions, nulls = np.asarray(conversions, float), np.asarray(nulls, float)
        if (conversions < 0).any() or (nulls < 0).any():
            raise ValueError("path counts must be >= 0")
        won = np.bincount(self.set_of_path, conversions, len(self.sets))
        journeys = np.bincount(self.set_of_path, conversions + nulls, len(self.sets))
        seen = journeys > 0
        return self.sets[seen], won[seen] / journeys[seen]

    def values(
        self, conversions: np.ndarray, nulls: np.ndarray, max_exact_channels: int = 12, samples: int = 2000, seed: int = 0
    ) -> np.ndarray:
        """phi of every channel (in ``self.channels`` order); see ``shapley_values``."""
        sets, rates = self.rates(conversions, nulls)
        # The players are the channels some journey has: a channel on no weighted path
        # (a bootstrap resample can leave it out) is not in the game and gets 0.
        union = 0
        for mask in np.unique(sets).tolist():
            union |= int(mask)
        present = [i for i in range(len(self.channels)) if union >> i & 1]
        sets = _compress(sets, present)
        n = len(present)
        phi = np.zeros(len(self.channels))
        if n <= max_exact_channels:
            phi[present] = _exact(n, sets, rates)
        elif samples < 1:
            raise ValueError("samples must be >= 1")
        else:
            phi[present] = _sampled(n, sets, rates, samples, seed)
        return phi


def _compress(sets: np.ndarray, present: list[int]) -> np.ndarray:
    """The sets re-coded over the present channels only (bit j = present[j])."""
    if present == list(range(len(present))):
        return sets
    out = np.zeros(len(sets), dtype=sets.dtype) if sets.dtype != object else np.array([0] * len(sets), dtype=object)
    for j, i in enumerate(present):
        out = out | (((sets >> i) & 1) << j)
    return out


def _exact(n: int, sets: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """phi over all 2^n coalitions: for each channel, the weighted sum over sets without it."""
    v = np.zeros(1 << n)
    v[sets.astype(np.int64)] = rates
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


def _sampled(n: int, sets: np.ndarray, rates: np.ndarray, samples: int, seed: int) -> np.ndarray:
    """Mean marginal contribution of each channel over ``samples`` random join orders."""
    rng = np.random.default_rng(seed)
    orders = np.array([rng.permutation(n) for _ in range(samples)], dtype=np.int64)
    if n > MAX_BITS:  # Python integers: one join at a time
        rate = dict(zip(sets.tolist(), rates.tolist()))
        total = np.zeros(n)
        for order in orders:
            mask, before = 0, 0.0
            for i in order.tolist():
                mask |= 1 << i
                after = rate.get(mask, 0.0)
                total[i] += after - before
                before = after
        return total / samples
    grown = np.bitwise_or.accumulate(np.left_shift(1, orders), axis=1)  # the coalition after each join
    at = np.minimum(np.searchsorted(sets, grown), max(len(sets) - 1, 0))
    after = np.where(sets[at] == grown, rates[at], 0.0) if len(sets) else np.zeros(grown.shape)
    gain = np.diff(after, axis=1, prepend=0.0)
    return np.bincount(orders.ravel(), gain.ravel(), n) / samples


def shapley_values(paths: pl.DataFrame, max_exact_channels: int = 12, samples: int = 2000, seed: int = 0) -> dict[str, float]:
    """Channel -> Shapley value of v(S) = conversion rate of the journeys with channel set S.

    ``paths`` holds channels (list[str]), conversions and nulls (float
    counts), as ``models.paths.path_counts`` returns them. The players are the
    channels of paths with at least one journey; a channel only on paths
    with no journey (a bootstrap resample's left-out deals) gets 0.

    With at most ``max_exact_channels`` channels the values are exact. With
    more, they are an estimate: the average marginal contribution over
    ``samples`` random permutations drawn by ``numpy.random.default_rng(seed)``
    (so the same inputs and seed give the same numbers). Each permutation
    still splits v(N) - v(empty) exactly, so the estimates keep summing to it;
    each channel's value has a standard error of about sd / sqrt(samples), sd
    being the spread of its marginal contributions across permutations.
    """
    rows = paths.select("channels", "conversions", "nulls").sort("channels", "conversions", "nulls")
    sets = ChannelSets(rows.get_column("channels"))
    if not sets.channels:
        return {}
    phi = sets.values(rows.get_column("conversions").to_numpy(), rows.get_column("nulls").to_numpy(), max_exact_channels, samples, seed)
    return dict(zip(sets.channels, phi.tolist()))
