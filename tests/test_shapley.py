"""Shapley values (models.shapley): known answers by hand, and the axioms.

v(S) is the conversion rate of the journeys whose channel set is exactly S
(order and repeats ignored), 0 for a set no journey has. With n channels the
weight of a set S not holding c is |S|! (n - |S| - 1)! / n!:
n = 2: 1/2 for |S| = 0 and 1;   n = 3: 1/3, 1/6, 1/3 for |S| = 0, 1, 2.
"""

from __future__ import annotations

import math

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.shapley import shapley_values

EXACT = 1e-12


def paths(*rows: tuple[str, float, float]) -> pl.DataFrame:
    """("a > b", conversions, nulls) rows as a path_counts frame."""
    return pl.DataFrame(
        {
            "channels": [[c.strip() for c in path.split(">")] for path, _, _ in rows],
            "conversions": [float(c) for _, c, _ in rows],
            "nulls": [float(n) for _, _, n in rows],
        },
        schema={"channels": pl.List(pl.String), "conversions": pl.Float64, "nulls": pl.Float64},
    )


def test_two_channels_by_hand():
    """v({}) = 0, v(a) = 1/4 (a: 1 of 4), v(b) = 1/2 (b: 1 of 2),
    v(ab) = 3/4 (a > b 2 of 2 and b > a 1 of 2: order does not matter, 3 of 4).
    phi_a = 1/2 (v(a) - 0) + 1/2 (v(ab) - v(b)) = 1/8 + 1/8 = 1/4
    phi_b = 1/2 (v(b) - 0) + 1/2 (v(ab) - v(a)) = 1/4 + 1/4 = 1/2;   sum 3/4 = v(ab).
    """
    data = paths(("a", 1, 3), ("b", 1, 1), ("a > b", 2, 0), ("b > a", 1, 1))
    assert shapley_values(data) == pytest.approx({"a": 1 / 4, "b": 1 / 2}, rel=EXACT)


def test_three_channels_by_hand():
    """v(a) = 1/2 (a 1/0 and a > a 0/1: repeats are one channel), v(b) = 0 (b 0/2),
    v(c) = 1/4, v(ab) = 1/2, v(ac) = 1 (c > a 2/0), v(bc) = 0 (never seen), v(abc) = 3/4.
    phi_a = 1/3 (1/2) + 1/6 (1/2 - 0) + 1/6 (1 - 1/4) + 1/3 (3/4 - 0)
          = 4/24 + 2/24 + 3/24 + 6/24 = 5/8
    phi_b = 1/3 (0) + 1/6 (1/2 - 1/2) + 1/6 (0 - 1/4) + 1/3 (3/4 - 1) = -1/24 - 2/24 = -1/8
    phi_c = 1/3 (1/4) + 1/6 (1 - 1/2) + 1/6 (0 - 0) + 1/3 (3/4 - 1/2) = 1/12 + 1/12 + 1/12 = 1/4
    Sum: 5/8 - 1/8 + 2/8 = 3/4 = v(abc) - v({}).  b is negative: journeys with b convert less.
    """
    data = paths(
        ("a", 1, 0),
        ("a > a", 0, 1),
        ("b", 0, 2),
        ("c", 1, 3),
        ("a > b", 1, 1),
        ("c > a", 2, 0),
        ("a > b > c", 3, 1),
    )
    values = shapley_values(data)
    assert list(values) == ["a", "b", "c"]
    assert values == pytest.approx({"a": 5 / 8, "b": -1 / 8, "c": 1 / 4}, rel=EXACT)


def test_unseen_sets_are_zero():
    """Only a > b is seen (converting): v(a) = v(b) = 0, v(ab) = 1, so each gets 1/2."""
    assert shapley_values(paths(("a > b", 1, 0))) == {"a": 0.5, "b": 0.5}
    assert shapley_values(paths(("a", 0, 0))) == {"a": 0.0}  # seen by no journey
    assert shapley_values(paths()) == {}


@st.composite
def path_frames(draw, alphabet="abcde"):
    rows = draw(
        st.lists(
            st.tuples(
                st.lists(st.sampled_from(alphabet), min_size=1, max_size=4),
                st.integers(0, 5),
                st.integers(0, 5),
            ),
            min_size=1,
            max_size=12,
        )
    )
    return paths(*((" > ".join(p), c, n) for p, c, n in rows))


def full_set_rate(data: pl.DataFrame) -> float:
    """v(N), counted directly: journeys whose channels are all the channels some journey has
    (a path with no journey adds no player)."""
    everyone = set().union(*(set(path) for path, c, n in data.iter_rows() if c + n > 0))
    conversions = journeys = 0.0
    for path, c, n in data.iter_rows():
        if set(path) == everyone:
            conversions, journeys = conversions + c, journeys + c + n
    return conversions / journeys if journeys else 0.0


@settings(max_examples=80, deadline=None)
@given(path_frames())
def test_efficiency(data):
    """The values split v(N) - v({}) exactly (v({}) = 0: every journey has a channel)."""
    assert math.fsum(shapley_values(data).values()) == pytest.approx(full_set_rate(data), abs=1e-12)


def mirrored(data: pl.DataFrame) -> pl.DataFrame:
    """data plus every path with a and b swapped: a and b then play identical roles."""
    swap = {"a": "b", "b": "a"}
    rows = [(p, c, n) for p, c, n in data.iter_rows()]
    rows += [([swap.get(x, x) for x in p], c, n) for p, c, n in rows]
    return paths(*((" > ".join(p), c, n) for p, c, n in rows))


@settings(max_examples=60, deadline=None)
@given(path_frames(alphabet="abcd"))
def test_symmetry(data):
    values = shapley_values(mirrored(data))
    if "a" in values or "b" in values:
        assert values["a"] == pytest.approx(values["b"], rel=1e-12, abs=1e-15)


def dense_six_channels() -> pl.DataFrame:
    """Every one of the 63 channel sets of a..f seen, with a rate that depends on the set."""
    rows = []
    for mask in range(1, 64):
        members = [ch for i, ch in enumerate("abcdef") if mask >> i & 1]
        conversions = (mask * 7) % 5 + ("a" in members) * 3
        rows.append((" > ".join(members), conversions, 6 - len(members) % 3))
    return paths(*rows)


def test_monte_carlo_estimate_is_close_and_reproducible():
    """Marginal contributions lie in [-1, 1], so sd <= 1 and the standard error <= 1/sqrt(samples)."""
    data = dense_six_channels()
    exact = shapley_values(data)
    samples = 4000
    estimate = shapley_values(data, max_exact_channels=3, samples=samples, seed=7)
    assert estimate != exact  # it really sampled
    for channel in exact:
        assert estimate[channel] == pytest.approx(exact[channel], abs=4 / math.sqrt(samples))
    assert shapley_values(data, max_exact_channels=3, samples=samples, seed=7) == estimate
    assert shapley_values(data, max_exact_channels=3, samples=samples, seed=8) != estimate
    # Each permutation splits v(N) exactly, so the estimate is still efficient.
    assert math.fsum(estimate.values()) == pytest.approx(full_set_rate(data), abs=1e-12)


def test_exact_is_deterministic():
    data = dense_six_channels()
    assert shapley_values(data) == shapley_values(data)
    assert shapley_values(data.reverse()) == shapley_values(data)


def test_a_channel_no_weighted_journey_has_is_not_a_player():
    """A bootstrap resample can leave out every journey of c: then the game is over a and b
    only (as if c had never been seen), and c gets 0. Were c still a player, v(S + c) = 0
    would change everyone's value: with a, b, c, phi_a = 1/3 (1/4) + 1/6 (3/4 - 1/2) + ... ."""
    from models.shapley import ChannelSets

    data = paths(("a", 1, 3), ("b", 1, 1), ("a > b", 2, 0), ("b > a", 1, 1), ("c > a", 0, 0))
    sets = ChannelSets(data.get_column("channels"))
    phi = sets.values(data.get_column("conversions").to_numpy(), data.get_column("nulls").to_numpy())
    assert dict(zip(sets.channels, phi.tolist())) == pytest.approx({"a": 1 / 4, "b": 1 / 2, "c": 0.0}, rel=EXACT)
