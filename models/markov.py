"""Markov-chain attribution: removal effects solved exactly, orders 1 to 3.

Journeys are walks through states from ``(start)`` to one of two absorbing
states, ``(conversion)`` and ``(null)``. Transition probabilities are the
observed transition counts over their row totals; the probability of
conversion is the absorption probability of the chain, found by solving
``(I - Q) x = r`` (Q: transient-to-transient probabilities, r: transient-to-
conversion) by LU factorization (dense up to ``DENSE_LIMIT`` states, sparse
beyond). Exact linear algebra instead of
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

``MarkovChain`` separates the chain's shape (states, which transitions each
path makes) from its counts: the shape is built once, vectorised, and each
set of path counts (the data, or a bootstrap resample of it) is then one
sparse matrix-vector product and one small solve per channel.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import polars as pl
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order
from scipy.sparse.linalg import splu

from models.paths import CodedPaths

MAX_ORDER = 3  # states grow as channels ** order; sparse data cannot fill more
DENSE_LIMIT = 400  # up to this many states a dense solve is faster than a sparse one

State = tuple[str, ...]


def path_states(channels: Iterable[str], order: int) -> list[State]:
    """The states a path visits between (start) and its end, as ChannelAttribution builds them.

    The reference definition; ``MarkovChain`` builds the same states vectorised.
    """
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


def _unique(values: np.ndarray, bound: int) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(values, return_inverse=True) for integers in [0, bound): by a table
    when the bound is small (no sort of millions of steps), else by sorting."""
    if bound > 1 << 24:
        unique, inverse = np.unique(values, return_inverse=True)
        return unique, inverse.ravel()
    seen = np.zeros(bound, dtype=bool)
    seen[values] = True
    return np.flatnonzero(seen), (np.cumsum(seen) - 1)[values]


class MarkovChain:
    """The shape of the chain of a fixed list of paths; counts are given per evaluation.

    States are coded as integers: a window of channel codes ``c_0..c_{k-1}``
    is ``sum (c_i + 1) * B^i`` with ``B = channels + 1``, so a window shorter
    than the order (a short path) is a state of its own. State 0 is (start).
    """

    def __init__(self, paths: pl.Series | CodedPaths, order: int):
        if not 1 <= order <= MAX_ORDER:
            raise ValueError(f"Markov order must be 1 to {MAX_ORDER}, got {order}")
        coded = paths if isinstance(paths, CodedPaths) else CodedPaths.of(paths)
        self.order = order
        self.paths = coded.count
        self.channels = coded.channels
        base = len(self.channels) + 1
        path, key = self._steps(coded, order)
        keys, state = _unique(key, base**order)
        self.size = len(keys) + 1
        state += 1
        first = np.r_[True, path[1:] != path[:-1]] if len(path) else np.zeros(0, bool)
        previous = np.where(first, 0, np.r_[0, state[:-1]])
        pairs, transition = _unique(previous * self.size + state, self.size**2)
        self.source, self.target = pairs // self.size, pairs % self.size
        # one column per path, its steps in order: a transition made twice is two
        # entries, which the product adds up
        starts = np.searchsorted(path, np.arange(self.paths + 1))
        self.incidence = sp.csc_matrix((np.ones(len(path)), transition, starts), shape=(len(pairs), self.paths))
        last = np.r_[path[1:] != path[:-1], True] if len(path) else np.zeros(0, bool)
        self.end = np.zeros(self.paths, dtype=np.int64)  # an empty path ends at (start)
        self.end[path[last]] = state[last]
        digits = (keys[:, None] // base ** np.arange(order)) % base  # (state, slot) -> code + 1
        self.contains = np.zeros((self.size, len(self.channels)), dtype=bool)
        rows = np.repeat(np.arange(1, self.size), order)
        codes = digits.ravel()
        self.contains[rows[codes > 0], codes[codes > 0] - 1] = True

    @staticmethod
    def _steps(coded: CodedPaths, order: int) -> tuple[np.ndarray, np.ndarray]:
        """(path, state key) arrays: each path's states in order, consecutive repeats dropped."""
        base = len(coded.channels) + 1
        path, code, first = coded.path, coded.code + 1, coded.first
        n = len(path)
        if not n:
            return path, path
        at = np.arange(n) - np.maximum.accumulate(np.where(first, np.arange(n), 0))
        length = np.bincount(path, minlength=coded.count)[path]
        state = code.copy()
        for i in range(1, order):  # the i-th channel of the window, 0 past the path's end
            ahead = np.zeros(n, dtype=np.int64)
            ahead[:-i] = np.where(path[i:] == path[:-i], code[i:], 0)
            state += ahead * base**i
        window = (at == 0) | (at <= length - order)
        path, state = path[window], state[window]
        step = np.r_[True, (path[1:] != path[:-1]) | (state[1:] != state[:-1])]
        return path[step], state[step]

    def removal_effects(self, conversions: np.ndarray, nulls: np.ndarray) -> np.ndarray:
        """RE of every channel (in ``self.channels`` order) for per-path counts."""
        fitted = self._fit(np.asarray(conversions, float), np.asarray(nulls, float))
        effects = np.zeros(len(self.channels))
        base = self._solve(*fitted, keep=fitted[2])
        if base <= 0:
            return effects
        for c in range(len(self.channels)):
            if (fitted[2] & self.contains[:, c]).any():
                effect = 1.0 - self._solve(*fitted, keep=fitted[2] & ~self.contains[:, c]) / base
                effects[c] = max(effect, 0.0)  # removal only loses conversions; no -1e-16
        return effects

    def conversion_probability(self, conversions: np.ndarray, nulls: np.ndarray, removed: str | None = None) -> float:
        fitted = self._fit(np.asarray(conversions, float), np.asarray(nulls, float))
        keep = fitted[2].copy()
        if removed is not None and removed in self.channels:
            keep &= ~self.contains[:, self.channels.index(removed)]
        return self._solve(*fitted, keep=keep)

    def _fit(self, conversions: np.ndarray, nulls: np.ndarray) -> tuple[np.ndarray | sp.csr_matrix, np.ndarray, np.ndarray]:
        """Q (transient -> transient), r (-> conversion) and the live states for these counts.
        Q is a dense array when the chain is small (order 1, a few dozen channels), else sparse."""
        if (conversions < 0).any() or (nulls < 0).any():
            raise ValueError("path counts must be >= 0")
        journeys = conversions + nulls
        flow = self.incidence @ journeys
        to_conversion = np.bincount(self.end, conversions, self.size)
        totals = np.bincount(self.source, flow, self.size) + np.bincount(self.end, journeys, self.size)
        used = flow > 0
        source, target = self.source[used], self.target[used]
        safe = np.where(totals > 0, totals, 1.0)
        probability = flow[used] / safe[source]
        if self.size <= DENSE_LIMIT:
            q = np.zeros((self.size, self.size))
            q[source, target] = probability  # each (source, target) pair occurs once
        else:
            q = sp.csr_matrix((probability, (source, target)), shape=(self.size, self.size))
        return q, to_conversion / safe, self._live(source, target, to_conversion)

    def _live(self, source: np.ndarray, target: np.ndarray, to_conversion: np.ndarray) -> np.ndarray:
        """States that can reach (conversion): the rest have x = 0, so they are dropped
        from every solve, and a channel seen only on paths ending in (null) loses exactly nothing."""
        seeds = np.flatnonzero(to_conversion > 0)
        live = np.zeros(self.size + 1, dtype=bool)
        if seeds.size:
            hub = self.size  # one extra node pointing at every converting state, on reversed edges
            rows = np.r_[target, np.full(seeds.size, hub)]
            cols = np.r_[source, seeds]
            graph = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(hub + 1, hub + 1))
            live[breadth_first_order(graph, hub, directed=True, return_predecessors=False)] = True
        return live[: self.size]

    def _solve(self, q: np.ndarray | sp.csr_matrix, r: np.ndarray, live: np.ndarray, keep: np.ndarray) -> float:
        """x at (start) for ``(I - Q) x = r`` over the kept states (the others are (null))."""
        if not keep[0]:
            return 0.0
        index = np.flatnonzero(keep)
        if isinstance(q, np.ndarray):
            x = np.linalg.solve(np.eye(index.size) - q[np.ix_(index, index)], r[index])
        else:
            sub = q[index][:, index]
            x = splu((sp.identity(index.size, format="csc") - sub).tocsc()).solve(r[index])
        return float(x[0])


def _chain(paths: pl.DataFrame, order: int) -> tuple[MarkovChain, np.ndarray, np.ndarray]:
    """The chain of a path_counts frame, rows in a canonical order so row order never matters."""
    rows = paths.select("channels", "conversions", "nulls").sort("channels", "conversions", "nulls")
    chain = MarkovChain(rows.get_column("channels"), order)
    return chain, rows.get_column("conversions").to_numpy(), rows.get_column("nulls").to_numpy()


def conversion_probability(paths: pl.DataFrame, order: int = 1, removed: str | None = None) -> float:
    """P(conversion) from (start); with ``removed``, after that channel's states become (null).

    ``paths`` holds channels (list[str]), conversions and nulls (float counts),
    as ``models.paths.path_counts`` returns them.
    """
    chain, conversions, nulls = _chain(paths, order)
    return chain.conversion_probability(conversions, nulls, removed)


def removal_effects(paths: pl.DataFrame, order: int = 1) -> dict[str, float]:
    """Channel -> RE(c) = 1 - P(without c) / P, for every channel in ``paths`` (by name).

    With no conversion at all (P = 0) every effect is 0. A channel none of
    whose states can reach (conversion) has an effect of exactly 0.
    """
    chain, conversions, nulls = _chain(paths, order)
    return dict(zip(chain.channels, chain.removal_effects(conversions, nulls).tolist()))


def removal_shares(paths: pl.DataFrame, order: int = 1) -> dict[str, float]:
    """Channel -> RE(c) / sum of RE: ChannelAttribution's normalization.

    Its ``total_conversions`` for a channel is this share times the total
    number of conversions. All 0 when no channel has an effect.
    """
    effects = removal_effects(paths, order)
    total = sum(effects.values())
    return {channel: (effect / total if total > 0 else 0.0) for channel, effect in effects.items()}
