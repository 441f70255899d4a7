"""Data-driven credit (models.paths, models.data_driven): known answers by hand, cents conserved."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine_frames import at, deal, frames, touch
from models.allocation import allocate_cents
from models.credit import won_paths
from models.data_driven import channel_weights, fit
from models.journeys import build_journeys, resolve_as_of
from models.markov import removal_effects
from models.params import AttributionParams
from models.paths import deal_paths, path_counts
from models.shapley import shapley_values

EXACT = 1e-12


def journey_rows(deals: dict[str, tuple[list[str | None], int]]) -> pl.LazyFrame:
    """Won deals' journey rows: {opportunity_id: ([channel per position], amount_cents)}."""
    rows = [
        {
            "opportunity_id": opp,
            "touch_id": f"{opp}-t{i}",
            "position": i,
            "n_touches": len(channels),
            "channel": channel,
            "amount_cents": cents,
        }
        for opp, (channels, cents) in deals.items()
        for i, channel in enumerate(channels, start=1)
    ]
    schema = {
        "opportunity_id": pl.String,
        "touch_id": pl.String,
        "position": pl.Int32,
        "n_touches": pl.Int32,
        "channel": pl.String,
        "amount_cents": pl.Int64,
    }
    return pl.LazyFrame(rows, schema=schema)


def weights(deals, values) -> list[float]:
    return channel_weights(journey_rows(deals), values).collect()["weight"].to_list()


def test_share_of_distinct_channels_split_by_their_touches():
    """a > b > a, a = 0.6, b = 0.2: distinct channels sum to 0.8, so a takes 0.6/0.8 = 3/4,
    shared by its 2 touches (3/8 each), and b takes 0.2/0.8 = 1/4."""
    got = weights({"o1": (["a", "b", "a"], 10_000)}, {"a": 0.6, "b": 0.2})
    assert got == pytest.approx([0.375, 0.25, 0.375], rel=EXACT)
    credited = allocate_cents(channel_weights(journey_rows({"o1": (["a", "b", "a"], 10_000)}), {"a": 0.6, "b": 0.2}), exact=False).collect()
    assert credited.sort("position")["credited_cents"].to_list() == [3750, 2500, 3750]


def test_negative_and_missing_values_count_as_zero():
    """a = -0.3 counts 0, c has no value: b (0.5) takes the whole deal; a and c rows get 0 and
    are dropped by the allocation, as every model's zero-weight rows are."""
    deals = {"o1": (["a", "b", "c"], 999)}
    values = {"a": -0.3, "b": 0.5}
    assert weights(deals, values) == [0.0, 1.0, 0.0]
    credited = allocate_cents(channel_weights(journey_rows(deals), values), exact=False).collect()
    assert credited.select("position", "credited_cents").rows() == [(2, 999)]


def test_no_valued_channel_falls_back_to_linear():
    """Deal o1's channels all count 0 (negative, zero, unknown): 1/4 each. o2 is unaffected."""
    deals = {"o1": (["a", "b", "a", "z"], 100), "o2": (["c", "a"], 100)}
    got = weights(deals, {"a": -1.0, "b": 0.0, "c": 2.0})
    assert got == [0.25, 0.25, 0.25, 0.25, 1.0, 0.0]
    assert weights({"o1": (["a"], 1)}, {}) == [1.0]


def test_null_channel_is_unknown():
    """A touch without channel takes the value of "(unknown)", as deal_paths names it."""
    got = weights({"o1": ([None, "a"], 100)}, {"(unknown)": 1.0, "a": 3.0})
    assert got == pytest.approx([0.25, 0.75], rel=EXACT)


@st.composite
def deals_and_values(draw):
    deals = {
        f"o{i}": (
            draw(st.lists(st.sampled_from(["a", "b", "c", "d", None]), min_size=1, max_size=7)),
            draw(st.integers(min_value=0, max_value=10**12)),
        )
        for i in range(draw(st.integers(min_value=1, max_value=6)))
    }
    value = st.one_of(st.just(0.0), st.floats(-1, 1, allow_nan=False), st.floats(1e-9, 1e-6))
    values = draw(st.dictionaries(st.sampled_from(["a", "b", "c", "(unknown)"]), value))
    return deals, values


@settings(max_examples=150, deadline=None)
@given(deals_and_values())
def test_weights_sum_to_one_and_cents_are_conserved(case):
    """SPEC 4's float rule: whatever the values, every deal's cents sum exactly to its amount."""
    deals, values = case
    weighted = channel_weights(journey_rows(deals), values).collect()
    assert (weighted["weight"] >= 0).all()
    sums = weighted.group_by("opportunity_id").agg(pl.col("weight").sum())
    assert sums["weight"].to_list() == pytest.approx([1.0] * len(deals), abs=1e-12)
    credited = allocate_cents(weighted.lazy(), exact=False).collect()
    totals = dict(credited.group_by("opportunity_id").agg(pl.col("credited_cents").sum()).rows())
    for opp, (_, cents) in deals.items():
        assert totals.get(opp, 0) == cents
    assert (credited["credited_cents"] >= 0).all()


def journeys_frame(rows: list[tuple[str, int, str | None, bool, bool, int]]) -> pl.DataFrame:
    """(opportunity_id, position, channel, is_won, is_closed, amount_cents) rows."""
    return pl.DataFrame(
        rows,
        schema={
            "opportunity_id": pl.String,
            "position": pl.Int32,
            "channel": pl.String,
            "is_won": pl.Boolean,
            "is_closed": pl.Boolean,
            "amount_cents": pl.Int64,
        },
        orient="row",
    )


JOURNEYS = journeys_frame(
    [
        # o1 won, positions given out of order on purpose: a > a > b > a
        ("o1", 3, "b", True, True, 500),
        ("o1", 1, "a", True, True, 500),
        ("o1", 2, "a", True, True, 500),
        ("o1", 4, "a", True, True, 500),
        ("o2", 1, None, False, True, 300),  # lost, channel unknown
        ("o3", 1, "b", False, False, 700),
        ("o3", 2, "b", False, False, 700),  # open
        ("o4", 1, "a", False, True, 200),
        ("o4", 2, "b", False, True, 200),  # lost
    ]
)


def test_deal_paths():
    got = deal_paths(JOURNEYS)
    assert got.rows() == [
        ("o1", ["a", "a", "b", "a"], True, 500),
        ("o2", ["(unknown)"], False, 0),
        ("o4", ["a", "b"], False, 0),
    ]
    deduped = deal_paths(JOURNEYS.lazy(), include_open=True, dedupe=True)
    assert deduped.rows() == [
        ("o1", ["a", "b", "a"], True, 500),
        ("o2", ["(unknown)"], False, 0),
        ("o3", ["b"], False, 0),
        ("o4", ["a", "b"], False, 0),
    ]


def test_path_counts():
    extra = journeys_frame([("o5", 1, "b", False, True, 1), ("o6", 1, "b", True, True, 9), ("o7", 1, "b", False, True, 1)])
    counts = path_counts(deal_paths(pl.concat([JOURNEYS, extra]), include_open=True, dedupe=True))
    assert counts.schema["conversions"] == pl.Float64 and counts.schema["nulls"] == pl.Float64
    assert counts.rows() == [
        (["(unknown)"], 0.0, 1.0),
        (["a", "b"], 0.0, 1.0),
        (["a", "b", "a"], 1.0, 0.0),
        (["b"], 1.0, 3.0),  # o3 (open, included), o5, o6 (won), o7
    ]


def test_fit_dispatches():
    counts = path_counts(deal_paths(JOURNEYS, dedupe=True))
    assert fit(JOURNEYS, "markov", order=2, dedupe=True) == removal_effects(counts, order=2)
    assert fit(JOURNEYS, "shapley", dedupe=True) == shapley_values(counts)
    with pytest.raises(ValueError, match="unknown data-driven model"):
        fit(JOURNEYS, "magic")


def test_end_to_end_with_the_engine():
    """Journeys by SPEC 3, fitted on all closed deals, credited on the won ones.

    Paths: o1 won a > b > a, o2 lost b, o3 won a.  Order 1, counts:
    start: a 2, b 1;  a: b 1, conv 2;  b: a 1, null 1.
    x_a = 2/3 + x_b/3, x_b = x_a/2  =>  x_a = 4/5, x_b = 2/5;  P = 2/3 * 4/5 + 1/3 * 2/5 = 2/3.
    Without a: P = 0, RE(a) = 1.  Without b: x_a = 2/3, P = 4/9, RE(b) = 1 - 2/3 = 1/3.
    o1: a takes 1 / (4/3) = 3/4 (3/8 per touch), b 1/4: 3750, 2500, 3750 of 10,000 cents.
    o3: a takes everything.
    """
    close = at(2024, 3, 31)
    touches = [
        touch("t1", at(2024, 3, 1), domain="acme.com", channel="a"),
        touch("t2", at(2024, 3, 2), domain="acme.com", channel="b"),
        touch("t3", at(2024, 3, 3), domain="acme.com", channel="a"),
        touch("t4", at(2024, 3, 1), domain="beta.io", channel="b"),
        touch("t5", at(2024, 3, 1), domain="gamma.org", channel="a"),
    ]
    deals = [
        deal("o1", "acme.com", at(2024, 3, 1), close, cents=10_000),
        deal("o2", "beta.io", at(2024, 3, 1), close, won=False),
        deal("o3", "gamma.org", at(2024, 3, 1), close, cents=1_234),
    ]
    params = AttributionParams()
    t, o, c = frames(touches, deals)
    as_of = resolve_as_of(t.lazy(), o.lazy(), params.as_of)
    journeys = build_journeys(t.lazy(), o.lazy(), c.lazy(), params, as_of)
    with_amounts = journeys.join(o.lazy().select("opportunity_id", "amount_cents"), on="opportunity_id")

    values = fit(with_amounts, "markov", order=1)
    assert values == pytest.approx({"a": 1.0, "b": 1 / 3}, rel=EXACT)

    credited = allocate_cents(channel_weights(won_paths(journeys, o.lazy(), params), values), exact=False)
    got = credited.select("opportunity_id", "touch_id", "credited_cents").sort("opportunity_id", "touch_id")
    assert got.collect().rows() == [("o1", "t1", 3750), ("o1", "t2", 2500), ("o1", "t3", 3750), ("o3", "t5", 1234)]
