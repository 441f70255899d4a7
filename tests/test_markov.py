"""Markov removal effects (models.markov): known answers worked out by hand.

Notation: x_s is the probability of reaching (conversion) from state s; a
path "a > b" with c conversions and n nulls adds c + n to every transition
it makes, c to its last state -> (conversion) and n to last state -> (null).
A check on every example: the chain is built from the observed flows, so
P from (start) is the overall conversion rate, conversions / journeys.
"""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.markov import conversion_probability, path_states, removal_effects, removal_shares

EXACT = 1e-12


def paths(*rows: tuple[str, float, float]) -> pl.DataFrame:
    """("a > b", conversions, nulls) rows as a path_counts frame."""
    return pl.DataFrame(
        {
            "channels": [[c.strip() for c in path.split(">")] if path else [] for path, _, _ in rows],
            "conversions": [float(c) for _, c, _ in rows],
            "nulls": [float(n) for _, _, n in rows],
        },
        schema={"channels": pl.List(pl.String), "conversions": pl.Float64, "nulls": pl.Float64},
    )


TWO = paths(("a > b", 1, 1), ("b", 0, 1), ("a", 1, 0))


def test_two_channels_by_hand():
    """Counts: start->a 3 (a>b 2, a 1), start->b 1; a->b 2, a->conv 1; b->conv 1, b->null 2.

    Probabilities: start: a 3/4, b 1/4.  a: b 2/3, conv 1/3.  b: conv 1/3, null 2/3.
    x_b = 1/3;  x_a = 1/3 + 2/3 * 1/3 = 5/9.
    P = 3/4 * 5/9 + 1/4 * 1/3 = 15/36 + 3/36 = 1/2   (= 2 conversions / 4 journeys).
    Without a: P = 1/4 * 1/3 = 1/12, RE(a) = 1 - (1/12)/(1/2) = 5/6.
    Without b: x_a = 1/3, P = 3/4 * 1/3 = 1/4, RE(b) = 1 - (1/4)/(1/2) = 1/2.
    Shares: RE / (5/6 + 1/2 = 4/3): a 5/8, b 3/8.
    """
    assert conversion_probability(TWO) == pytest.approx(1 / 2, rel=EXACT)
    assert conversion_probability(TWO, removed="a") == pytest.approx(1 / 12, rel=EXACT)
    assert conversion_probability(TWO, removed="b") == pytest.approx(1 / 4, rel=EXACT)
    effects = removal_effects(TWO)
    assert list(effects) == ["a", "b"]
    assert effects["a"] == pytest.approx(5 / 6, rel=EXACT)
    assert effects["b"] == pytest.approx(1 / 2, rel=EXACT)
    shares = removal_shares(TWO)
    assert shares["a"] == pytest.approx(5 / 8, rel=EXACT)
    assert shares["b"] == pytest.approx(3 / 8, rel=EXACT)


THREE = paths(("a > b > c", 1, 1), ("a > c", 1, 0), ("b > a", 1, 2), ("c", 0, 1), ("b", 1, 0))


def test_three_channels_with_a_cycle_by_hand():
    """8 journeys, 4 conversions; a and b lead to each other, so x_a and x_b solve a system.

    start: a 3 (abc 2, ac 1), b 4 (ba 3, b 1), c 1            -> 3/8, 1/2, 1/8
    a: b 2 (abc), c 1 (ac), conv 1, null 2 (ba)             -> b 1/3, c 1/6, conv 1/6
    b: c 2 (abc), a 3 (ba), conv 1 (b)                      -> c 1/3, a 1/2, conv 1/6
    c: conv 2 (abc, ac), null 2 (abc, c)                    -> conv 1/2
    x_c = 1/2;  x_a = x_b/3 + 1/12 + 1/6 = x_b/3 + 1/4;  x_b = 1/6 + x_a/2 + 1/6 = 1/3 + x_a/2
    => x_a = 1/9 + x_a/6 + 1/4  => x_a = (13/36)(6/5) = 13/30;  x_b = 1/3 + 13/60 = 11/20.
    P = 3/8 * 13/30 + 1/2 * 11/20 + 1/8 * 1/2 = 13/80 + 22/80 + 5/80 = 1/2.
    Without a: x_b = 1/6 + 1/6 = 1/3; P = 1/2 * 1/3 + 1/8 * 1/2 = 11/48; RE(a) = 1 - 11/24 = 13/24.
    Without b: x_a = 1/12 + 1/6 = 1/4; P = 3/8 * 1/4 + 1/8 * 1/2 = 5/32; RE(b) = 1 - 10/32 = 11/16.
    Without c: x_a = x_b/3 + 1/6, x_b = x_a/2 + 1/6 => x_a = 4/15, x_b = 3/10;
               P = 3/8 * 4/15 + 1/2 * 3/10 = 1/10 + 3/20 = 1/4; RE(c) = 1/2.
    """
    assert conversion_probability(THREE) == pytest.approx(1 / 2, rel=EXACT)
    assert conversion_probability(THREE, removed="a") == pytest.approx(11 / 48, rel=EXACT)
    assert conversion_probability(THREE, removed="b") == pytest.approx(5 / 32, rel=EXACT)
    assert conversion_probability(THREE, removed="c") == pytest.approx(1 / 4, rel=EXACT)
    effects = removal_effects(THREE)
    assert effects == pytest.approx({"a": 13 / 24, "b": 11 / 16, "c": 1 / 2}, rel=EXACT)
    total = 13 / 24 + 11 / 16 + 1 / 2
    assert removal_shares(THREE) == pytest.approx({"a": 13 / 24 / total, "b": 11 / 16 / total, "c": 1 / 2 / total}, rel=EXACT)


ORDER_TWO = paths(("a > b > c", 1, 1), ("a > b", 1, 0), ("c > b", 0, 2), ("b", 1, 1))


def test_order_two_by_hand():
    """States are windows of 2 channels; a path shorter than 2 is one state (b).

    a>b>c: (a,b) -> (b,c);  a>b: (a,b);  c>b: (c,b);  b: (b).   7 journeys, 3 conversions.
    start: (a,b) 3, (c,b) 2, (b) 2                 -> 3/7, 2/7, 2/7
    (a,b): (b,c) 2, conv 1                         -> x_(a,b) = 2/3 * x_(b,c) + 1/3
    (b,c): conv 1, null 1 -> 1/2;  (c,b): null 2 -> 0;  (b): conv 1, null 1 -> 1/2
    x_(a,b) = 2/3 * 1/2 + 1/3 = 2/3;  P = 3/7 * 2/3 + 2/7 * 1/2 = 3/7.
    Without a ((a,b) is null): P = 2/7 * 1/2 = 1/7, RE(a) = 1 - 1/3 = 2/3.
    Without b (every state holds b): P = 0, RE(b) = 1.
    Without c ((b,c), (c,b) are null): x_(a,b) = 1/3, P = 1/7 + 1/7 = 2/7, RE(c) = 1/3.
    (At order 1, b -> c would mix what follows a > b with what follows c > b.)
    """
    assert path_states(["a", "b", "c"], 2) == [("a", "b"), ("b", "c")]
    assert path_states(["b"], 2) == [("b",)]
    assert conversion_probability(ORDER_TWO, order=2) == pytest.approx(3 / 7, rel=EXACT)
    assert conversion_probability(ORDER_TWO, order=2, removed="a") == pytest.approx(1 / 7, rel=EXACT)
    assert conversion_probability(ORDER_TWO, order=2, removed="b") == 0.0
    effects = removal_effects(ORDER_TWO, order=2)
    assert effects == pytest.approx({"a": 2 / 3, "b": 1.0, "c": 1 / 3}, rel=EXACT)
    assert removal_effects(ORDER_TWO, order=1) != pytest.approx(effects, rel=1e-6)


def test_states_follow_channel_attribution():
    """Sliding windows of `order` channels (no shorter warm-up prefixes), repeats collapsed."""
    assert path_states(list("abcd"), 3) == [("a", "b", "c"), ("b", "c", "d")]
    assert path_states(list("ab"), 3) == [("a", "b")]
    assert path_states(list("aab"), 1) == [("a",), ("b",)]
    assert path_states(list("aaab"), 2) == [("a", "a"), ("a", "b")]
    assert path_states([], 2) == []


def test_single_channel():
    """a 2/3 and a > a 1/0 (repeats are one state): x_a = 3/6 = 1/2 = P; without a P = 0, RE 1."""
    data = paths(("a", 2, 3), ("a > a", 1, 0))
    assert conversion_probability(data) == pytest.approx(1 / 2, rel=EXACT)
    assert removal_effects(data) == {"a": 1.0}
    assert removal_shares(data) == {"a": 1.0}


def test_no_conversions_means_no_effect():
    data = paths(("a > b", 0, 3), ("b", 0, 1))
    assert conversion_probability(data) == 0.0
    assert removal_effects(data) == {"a": 0.0, "b": 0.0}
    assert removal_shares(data) == {"a": 0.0, "b": 0.0}


def test_channel_only_on_null_paths_has_exactly_no_effect():
    """x can only lead to (null), so removing it changes nothing: RE(x) is 0, not 1e-16."""
    data = paths(("a", 1, 1), ("x", 0, 2), ("a > x", 0, 1), ("x > a", 1, 0))
    effects = removal_effects(data, order=1)
    assert effects["x"] > 0  # x > a converts through a, so x matters here
    data = paths(("a", 1, 1), ("x", 0, 2), ("a > x", 0, 1))
    for order in (1, 2, 3):
        effects = removal_effects(data, order=order)
        assert effects["x"] == 0.0
        assert effects["a"] == pytest.approx(1.0, rel=EXACT)


def test_paths_no_journey_took_are_harmless():
    """A path with zero weight (possible in a bootstrap resample) adds channels but no transitions."""
    data = paths(("a", 1, 1), ("z > a", 0, 0))
    assert removal_effects(data) == {"a": 1.0, "z": 0.0}
    assert conversion_probability(data) == pytest.approx(1 / 2, rel=EXACT)


def test_deterministic_bit_for_bit_and_independent_of_row_order():
    for order in (1, 2, 3):
        first = removal_effects(THREE, order=order)
        assert removal_effects(THREE, order=order) == first
        assert removal_effects(THREE.reverse(), order=order) == first


def test_bad_arguments():
    with pytest.raises(ValueError, match="order"):
        removal_effects(TWO, order=0)
    with pytest.raises(ValueError, match="order"):
        removal_effects(TWO, order=4)
    with pytest.raises(ValueError, match=">= 0"):
        removal_effects(paths(("a", -1, 1)))


@st.composite
def path_frames(draw):
    rows = draw(
        st.lists(
            st.tuples(
                st.lists(st.sampled_from("abcd"), min_size=1, max_size=5),
                st.integers(0, 4),
                st.integers(0, 4),
            ),
            min_size=1,
            max_size=8,
        )
    )
    return paths(*((" > ".join(p), c, n) for p, c, n in rows))


@settings(max_examples=60, deadline=None)
@given(path_frames(), st.sampled_from([1, 2, 3]))
def test_properties(data, order):
    """P is the observed conversion rate; effects lie in [0, 1]; shares sum to 1 (or all 0)."""
    journeys = data["conversions"].sum() + data["nulls"].sum()
    rate = data["conversions"].sum() / journeys if journeys else 0.0
    assert conversion_probability(data, order=order) == pytest.approx(rate, rel=1e-9, abs=1e-12)
    effects = removal_effects(data, order=order)
    assert all(0.0 <= effect <= 1.0 + 1e-12 for effect in effects.values())
    shares = removal_shares(data, order=order)
    assert sum(shares.values()) == pytest.approx(1.0 if rate > 0 else 0.0, abs=1e-12)


def dense_conversion_probability(data: pl.DataFrame, order: int, removed: str | None) -> float:
    """An independent oracle: states from ``path_states`` (the reference definition),
    transition probabilities in a dense matrix with (conversion) and (null) as absorbing
    columns, and ``numpy.linalg.solve`` over every transient state, without the engine's
    pruning of states that cannot convert (their x is 0 either way)."""
    import numpy as np

    flows: dict[tuple, dict[object, float]] = {}
    for channels, conversions, nulls in data.iter_rows():
        journeys = conversions + nulls
        steps = [()] + path_states(channels, order)
        for a, b in zip(steps, steps[1:]):
            flows.setdefault(a, {}).setdefault(b, 0.0)
            flows[a][b] += journeys
        flows.setdefault(steps[-1], {})
        for end, count in (("(conversion)", conversions), ("(null)", nulls)):
            flows[steps[-1]][end] = flows[steps[-1]].get(end, 0.0) + count
    states = [s for s in flows if sum(flows[s].values()) > 0 and (removed is None or removed not in s)]
    if () not in states:
        return 0.0
    index = {s: i for i, s in enumerate(states)}
    q, r = np.zeros((len(states), len(states))), np.zeros(len(states))
    for s in states:
        total = sum(flows[s].values())
        for target, count in flows[s].items():
            if target == "(conversion)":
                r[index[s]] = count / total
            elif target in index:
                q[index[s], index[target]] = count / total
    return float(np.linalg.solve(np.eye(len(states)) - q, r)[index[()]])


@settings(max_examples=80, deadline=None)
@given(path_frames(), st.sampled_from([1, 2, 3]), st.sampled_from([None, "a", "b", "c", "d"]), st.booleans())
def test_vectorised_chain_equals_a_dense_chain_built_from_path_states(data, order, removed, sparse):
    """The engine builds states with array shifts; the oracle with ``path_states``.
    ``sparse`` forces the engine's sparse solver, which large chains use."""
    from unittest import mock

    expected = dense_conversion_probability(data, order, removed)
    with mock.patch("models.markov.DENSE_LIMIT", 0 if sparse else 400):
        got = conversion_probability(data, order=order, removed=removed)
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-12)
