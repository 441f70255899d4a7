"""Markov-chain attribution: removal effects solved exactly, orders 1 to 3.

Journeys are walks through states from ``(start)`` to one of two absorbing
states, ``(conversion)`` and ``(null)``. Transition probabilities are the
observed transition counts over their row totals; the probability of
conversion is the absorption probability of the chain, found by solving
``(I - Q) x = r`` (Q: transient-to-transient probabilities, r: transient-to-
conversion) with a sparse LU factorization. Exact linear algebra instead of
simulating random walks, so the same paths give the same numbers bit for bit
and no tolerance is spent on sampling noise.

States follow ChannelAttribution (``markov_model_cpp`` in its
``functions.cpp``, version 2.2.5) so the two can be compared:
- order k: the windows of k consecutive channels, slid one step at a time,
  ``(c1..ck), (c2..ck+1), ..., (cm-k+1..cm)``; a path shorter than k is one
  state, the whole path. There are no shorter "warm-up" prefix states.
- consecutive identical states are one step (a > a > b is a > b at order 1);
  a self-loop would not change absorption probabilities anyway.
- a path adds its conversions + nulls to every transition it makes, its
  conversions to last state -> ``(conversion)`` and its nulls to
  last state -> ``(null)``.
Unlike ChannelAttribution, walks are never cut off: its simulation counts a
walk still going after ``max_step`` steps (by default the longest observed
path) as a null, and a chain can hold longer walks (cycles, or one path's
start joined to another's end). With a large ``max_step`` the two agree up to
its sampling error.

Removing a channel turns every state that contains it into ``(null)``. Its
removal effect is ``RE(c) = 1 - P(conversion without c) / P(conversion)``,
the share of conversions that pass through c.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import polars as pl
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve

MAX_ORDER = 3  # states grow as channels ** order; sparse data cannot fill more

State = tuple[str, ...]


def path_states(channels: Iterable[str], order: int) -> list[State]:
    """The states a path visits between (start) and its end, as ChannelAttribution builds them."""
    path = list(channels)
    if len(path) <= order:
        windows = [tuple(path)] if path else []
    else:
        windows = [tuple(path[i : i + order]) for i in range(len(path) - order + 1)]
    states: list[State] = []
    for window in windows:
        if not states or states[-1] != window:
            states.append(window)
    return states


class _Chain:
    """Transition counts of the transient states, indexed in sorted state order."""

    def __init__(self, paths: pl.DataFrame, order: int):
        if not 1 <= order <= MAX_ORDER:
            raise ValueError(f"Markov order must be 1 to {MAX_ORDER}, got {order}")
        rows = sorted(
            (tuple(channels), float(conversions), float(nulls))
            for channels, conversions, nulls in paths.select(
                "channels", "conversions", "nulls"
            ).iter_rows()
        )
        if any(conversions < 0 or nulls < 0 for _, conversions, nulls in rows):
            raise ValueError("path counts must be >= 0")
        walks = [(path_states(channels, order), c, n) for channels, c, n in rows]
        self.channels = sorted({channel for channels, _, _ in rows for channel in channels})
        start: State = ()  # (start); no real state is empty
        self.states = [start] + sorted({state for states, _, _ in walks for state in states})
        index = {state: i for i, state in enumerate(self.states)}

        counts: dict[tuple[int, int], float] = {}
        to_conversion = np.zeros(len(self.states))
        totals = np.zeros(len(self.states))
        for states, conversions, nulls in walks:
            if conversions + nulls <= 0:
                continue  # no journey took it: its states stay, with no transitions
            steps = [index[start]] + [index[state] for state in states]
            for a, b in zip(steps, steps[1:]):
                counts[a, b] = counts.get((a, b), 0.0) + (conversions + nulls)
                totals[a] += conversions + nulls
            to_conversion[steps[-1]] += conversions
            totals[steps[-1]] += conversions + nulls

        # States that can never reach (conversion) have x = 0: dropping them
        # keeps the system small and makes a channel seen only on paths that
        # end in (null) lose exactly nothing when removed.
        live = to_conversion > 0
        predecessors: dict[int, list[int]] = {}
        for a, b in counts:
            predecessors.setdefault(b, []).append(a)
        frontier = list(np.flatnonzero(live))
        while frontier:
            for a in predecessors.get(frontier.pop(), []):
                if not live[a]:
                    live[a] = True
                    frontier.append(a)
        self.live = live
        self.counts = {key: counts[key] for key in sorted(counts)}
        self.to_conversion = to_conversion
        self.totals = totals

    def contains(self, channel: str) -> np.ndarray:
        return np.array([channel in state for state in self.states])

    def conversion_probability(self, removed: str | None = None) -> float:
        """Absorption probability in (conversion) from (start), states with ``removed`` as (null)."""
        keep = self.live.copy()
        if removed is not None:
            keep &= ~self.contains(removed)
        if not keep[0]:
            return 0.0
        position = np.cumsum(keep) - 1
        size = int(keep.sum())
        rows, cols, data = [], [], []
        for (a, b), count in self.counts.items():
            if keep[a] and keep[b]:
                rows.append(position[a])
                cols.append(position[b])
                data.append(count / self.totals[a])
        q = sp.csr_matrix((data, (rows, cols)), shape=(size, size))
        r = self.to_conversion[keep] / self.totals[keep]
        x = spsolve((sp.identity(size, format="csr") - q).tocsc(), r)
        return float(np.atleast_1d(x)[0])


def conversion_probability(paths: pl.DataFrame, order: int = 1, removed: str | None = None) -> float:
    """P(conversion) from (start); with ``removed``, after that channel's states become (null).

    ``paths`` holds channels (list[str]), conversions and nulls (float counts),
    as ``models.paths.path_counts`` returns them.
    """
    return _Chain(paths, order).conversion_probability(removed)


def removal_effects(paths: pl.DataFrame, order: int = 1) -> dict[str, float]:
    """Channel -> RE(c) = 1 - P(without c) / P, for every channel in ``paths`` (by name).

    With no conversion at all (P = 0) every effect is 0. A channel none of
    whose states can reach (conversion) has an effect of exactly 0.
    """
    chain = _Chain(paths, order)
    base = chain.conversion_probability()
    effects = {}
    for channel in chain.channels:
        if base <= 0 or not (chain.live & chain.contains(channel)).any():
            effects[channel] = 0.0
            continue
        effect = 1.0 - chain.conversion_probability(channel) / base
        effects[channel] = max(effect, 0.0)  # removal only loses conversions; no -1e-16
    return effects


def removal_shares(paths: pl.DataFrame, order: int = 1) -> dict[str, float]:
    """Channel -> RE(c) / sum of RE: ChannelAttribution's normalization.

    Its ``total_conversions`` for a channel is this share times the total
    number of conversions. All 0 when no channel has an effect.
    """
    effects = removal_effects(paths, order)
    total = sum(effects.values())
    return {channel: (effect / total if total > 0 else 0.0) for channel, effect in effects.items()}
