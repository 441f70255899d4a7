"""Known answers for SPEC 3 journeys and SPEC 4 models, every value derived by hand."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import polars as pl
import pytest

from engine_frames import at, deal, frames, touch
from models.credit import UNATTRIBUTED, credit_touches
from models.journeys import build_journeys, resolve_as_of
from models.params import AttributionParams, PositionWeights
from models.registry import MODELS, get_models

CLOSE = at(2024, 3, 31, 12)
MICRO = dt.timedelta(microseconds=1)


def run(touches, deals, contacts=(), params=None):
    params = params or AttributionParams()
    t, o, c = frames(touches, deals, contacts)
    as_of = resolve_as_of(t.lazy(), o.lazy(), params.as_of)
    journeys = build_journeys(t.lazy(), o.lazy(), c.lazy(), params, as_of).collect()
    credit = credit_touches(journeys.lazy(), o.lazy(), params).collect()
    return journeys, credit


def cents(credit: pl.DataFrame, model: str, opportunity_id: str = "o1") -> list[int]:
    rows = credit.filter(model=model, opportunity_id=opportunity_id).sort("position")
    return rows.get_column("credited_cents").to_list()


def journey_of(n: int, amount: int, spacing_days: int = 1):
    """n touches on acme.com, one a day, the last one day before close."""
    touches = [touch(f"t{i}", CLOSE - dt.timedelta(days=spacing_days * (n - i + 1)), domain="acme.com") for i in range(1, n + 1)]
    return touches, [deal("o1", "acme.com", at(2024, 3, 1), CLOSE, cents=amount)]


# -- SPEC 4: weights and cents --------------------------------------------------------
def test_linear_three_touches_extra_cent_to_first_position():
    # 10000 / 3 = 3333 rem 1/3 each; one cent left -> equal remainders -> earliest position
    _, credit = run(*journey_of(3, 10_000))
    assert cents(credit, "linear") == [3334, 3333, 3333]


def test_linear_two_cents_over_three_touches_ties_go_to_earlier_positions():
    _, credit = run(*journey_of(3, 2))
    assert cents(credit, "linear") == [1, 1, 0]


def test_first_and_last_touch_credit_one_row_each():
    _, credit = run(*journey_of(3, 10_000))
    first = credit.filter(model="first_touch")
    last = credit.filter(model="last_touch")
    assert first.select("touch_id", "position", "credited_cents", "weight").rows() == [("t1", 1, 10_000, 1.0)]
    assert last.select("touch_id", "position", "credited_cents", "weight").rows() == [("t3", 3, 10_000, 1.0)]


@pytest.mark.parametrize(
    ("n", "amount", "expected"),
    [
        (1, 1_000, [1_000]),
        (2, 1_001, [501, 500]),  # 0.5 each: 500.5 -> floors 500 + 500, leftover to position 1
        (3, 1_000, [400, 200, 400]),
        (4, 1_000, [400, 100, 100, 400]),
        (5, 1_000, [400, 67, 67, 66, 400]),  # middle 200/3 = 66 rem 2/3 each; 2 cents to positions 2, 3
    ],
)
def test_position_based_default_weights(n, amount, expected):
    _, credit = run(*journey_of(n, amount))
    assert cents(credit, "position_based") == expected


def test_position_based_custom_weights_two_touches_use_first_last_ratio():
    # f:l = 0.3:0.5 -> 3/8 and 5/8 of 800 cents = 300 and 500
    params = AttributionParams(position_weights=PositionWeights.of("0.3", "0.2", "0.5"))
    _, credit = run(*journey_of(2, 800), params=params)
    assert cents(credit, "position_based") == [300, 500]
    weights = credit.filter(model="position_based").sort("position").get_column("weight").to_list()
    assert weights == pytest.approx([3 / 8, 5 / 8])


def test_position_based_zero_middle_weight_drops_middle_rows():
    params = AttributionParams(position_weights=PositionWeights.of(0.5, 0, 0.5))
    _, credit = run(*journey_of(4, 1_000), params=params)
    rows = credit.filter(model="position_based").sort("position")
    assert rows.get_column("position").to_list() == [1, 4]
    assert rows.get_column("credited_cents").to_list() == [500, 500]


def test_time_decay_half_life_seven_days():
    # touches 14, 7 and 0 days before close, h = 7: raw 1/4, 1/2, 1 -> weights 1/7, 2/7, 4/7.
    # 10000 cents -> 1428.57, 2857.14, 5714.29 -> floors 1428 + 2857 + 5714 = 9999;
    # the one cent left goes to the largest remainder, .571 at position 1.
    touches = [
        touch("a", CLOSE - dt.timedelta(days=14), domain="acme.com"),
        touch("b", CLOSE - dt.timedelta(days=7), domain="acme.com"),
        touch("c", CLOSE, domain="acme.com"),
    ]
    _, credit = run(touches, [deal("o1", "acme.com", at(2024, 3, 1), CLOSE, cents=10_000)])
    rows = credit.filter(model="time_decay").sort("position")
    assert rows.get_column("weight").to_list() == pytest.approx([1 / 7, 2 / 7, 4 / 7])
    assert rows.get_column("credited_cents").to_list() == [1429, 2857, 5714]


def test_time_decay_far_apart_touches_do_not_underflow_to_nan():
    touches = [touch("a", CLOSE - dt.timedelta(days=360), domain="acme.com"), touch("b", CLOSE, domain="acme.com")]
    _, credit = run(touches, [deal("o1", "acme.com", at(2024, 3, 1), CLOSE, cents=100)], params=AttributionParams(half_life_days=0.5))
    rows = credit.filter(model="time_decay").sort("position")
    # 2^-720 ~ 1.8e-217 is still a positive float, so both rows stay; all cents go to b.
    assert rows.get_column("credited_cents").to_list() == [0, 100]
    assert rows.get_column("weight").null_count() == 0


def test_amount_zero_keeps_rows_with_zero_credit():
    _, credit = run(*journey_of(3, 0))
    assert cents(credit, "linear") == [0, 0, 0]
    assert credit.filter(model="linear").get_column("weight").sum() == pytest.approx(1.0)


def test_won_deal_without_touches_is_unattributed_once_per_model():
    deals = [deal("o1", "acme.com", at(2024, 3, 1), CLOSE, cents=12_345)]
    _, credit = run([touch("t1", at(2020, 1, 1), domain="acme.com")], deals)  # outside the window
    assert credit.height == len(MODELS)
    assert set(credit.get_column("model")) == set(MODELS)
    for row in credit.iter_rows(named=True):
        assert (row["channel"], row["touch_id"], row["position"], row["n_touches"], row["weight"], row["credited_cents"]) == (
            UNATTRIBUTED,
            None,
            None,
            0,
            1.0,
            12_345,
        )


def test_lost_and_open_deals_are_journeys_but_not_credited():
    touches = [touch("t1", at(2024, 3, 10), domain="acme.com")]
    deals = [
        deal("lost", "acme.com", at(2024, 3, 1), CLOSE, won=False),
        deal("open", "acme.com", at(2024, 3, 1), None, won=False, closed=False),
    ]
    journeys, credit = run(touches, deals)
    assert sorted(journeys.get_column("opportunity_id")) == ["lost", "open"]
    assert credit.height == 0


# -- SPEC 3: journeys ---------------------------------------------------------------------
def test_window_bounds_are_inclusive_to_the_microsecond():
    created = at(2024, 3, 1)
    params = AttributionParams(lookback_days=10)
    start = created - dt.timedelta(days=10)
    touches = [
        touch("before_start", start - MICRO, domain="acme.com"),
        touch("at_start", start, domain="acme.com"),
        touch("at_close", CLOSE, domain="acme.com"),
        touch("after_close", CLOSE + MICRO, domain="acme.com"),
    ]
    journeys, _ = run(touches, [deal("o1", "acme.com", created, CLOSE)], params=params)
    assert journeys.get_column("touch_id").to_list() == ["at_start", "at_close"]


def test_fractional_lookback_days_are_24_hour_days():
    created = at(2024, 3, 1)
    params = AttributionParams(lookback_days=0.5)  # 12 hours
    touches = [
        touch("in", created - dt.timedelta(hours=12), domain="acme.com"),
        touch("out", created - dt.timedelta(hours=12, microseconds=1), domain="acme.com"),
    ]
    journeys, _ = run(touches, [deal("o1", "acme.com", created, CLOSE)], params=params)
    assert journeys.get_column("touch_id").to_list() == ["in"]


def test_equal_timestamps_ordered_by_touch_id_bytes():
    same = at(2024, 3, 10)
    ids = ["t9", "t10", "T1", "é", "z"]  # bytes: 'T1' < 't10' < 't9' < 'z' < 'é' (0xC3)
    journeys, _ = run([touch(i, same, domain="acme.com") for i in ids], [deal("o1", "acme.com", at(2024, 3, 1), CLOSE)])
    rows = journeys.sort("position")
    assert rows.get_column("touch_id").to_list() == ["T1", "t10", "t9", "z", "é"]
    assert rows.get_column("position").to_list() == [1, 2, 3, 4, 5]
    assert set(rows.get_column("n_touches")) == {5}


def test_email_and_domain_match_counts_once_as_both():
    touches = [touch("t1", at(2024, 3, 10), email="ann@acme.com", domain="acme.com")]
    contacts = [{"opportunity_id": "o1", "email": "ann@acme.com"}, {"opportunity_id": "o1", "email": "ann@acme.com"}]
    journeys, credit = run(touches, [deal("o1", "acme.com", at(2024, 3, 1), CLOSE)], contacts)
    assert journeys.select("touch_id", "match_type", "n_touches").rows() == [("t1", "both", 1)]
    assert cents(credit, "linear") == [10_000]


def test_contact_email_matches_touch_from_another_domain():
    touches = [touch("t1", at(2024, 3, 10), email="bob@gmail.com", domain=None, given=False)]
    contacts = [{"opportunity_id": "o1", "email": "bob@gmail.com"}]
    journeys, _ = run(touches, [deal("o1", "acme.com", at(2024, 3, 1), CLOSE)], contacts)
    assert journeys.select("touch_id", "match_type").rows() == [("t1", "email")]


def test_freemail_deal_matches_only_given_freemail_domain():
    touches = [
        touch("given", at(2024, 3, 10), email="x@gmail.com", domain="gmail.com", given=True),
        # a touch whose domain was derived cannot hold a free-mail domain (SPEC 1), but if a
        # caller passes one it must still not match a free-mail deal by domain
        touch("derived", at(2024, 3, 11), email="y@gmail.com", domain="gmail.com", given=False),
    ]
    journeys, _ = run(touches, [deal("o1", "gmail.com", at(2024, 3, 1), CLOSE)])
    assert journeys.get_column("touch_id").to_list() == ["given"]


def test_derived_domain_matches_company_deal():
    touches = [touch("t1", at(2024, 3, 10), email="a@acme.com", domain="acme.com", given=False)]
    journeys, _ = run(touches, [deal("o1", "acme.com", at(2024, 3, 1), CLOSE)])
    assert journeys.select("touch_id", "match_type").rows() == [("t1", "domain")]


def test_touch_shared_by_two_deals():
    touches = [touch("t1", at(2024, 3, 10), domain="acme.com")]
    deals = [deal("o1", "acme.com", at(2024, 3, 1), CLOSE, cents=100), deal("o2", "acme.com", at(2024, 3, 2), CLOSE, cents=300)]
    journeys, credit = run(touches, deals)
    assert sorted(journeys.get_column("opportunity_id")) == ["o1", "o2"]
    assert cents(credit, "linear", "o1") == [100]
    assert cents(credit, "linear", "o2") == [300]


def test_open_deal_window_ends_at_as_of():
    as_of = at(2024, 4, 1)
    params = AttributionParams(as_of=as_of)
    touches = [touch("in", as_of, domain="acme.com"), touch("out", as_of + MICRO, domain="acme.com")]
    journeys, _ = run(touches, [deal("o1", "acme.com", at(2024, 3, 1), None, won=False, closed=False)], params=params)
    assert journeys.select("touch_id", "conversion_at").rows() == [("in", as_of)]


def test_default_as_of_is_latest_timestamp_in_inputs():
    touches = [touch("t1", at(2024, 5, 1), domain="other.com")]
    deals = [
        deal("o1", "acme.com", at(2024, 3, 1), at(2024, 6, 1, 12), won=False),
        deal("o2", "acme.com", at(2024, 7, 1), None, won=False, closed=False),
    ]
    t, o, _ = frames(touches, deals)
    assert resolve_as_of(t.lazy(), o.lazy(), None) == at(2024, 7, 1)


# -- parameters and registry --------------------------------------------------------------
def test_position_weights_must_sum_to_one_exactly():
    with pytest.raises(ValueError, match="sum to 1"):
        PositionWeights.of(0.4, 0.2, 0.3)
    with pytest.raises(ValueError, match=">= 0"):
        PositionWeights.of(1.2, -0.2, 0)
    assert PositionWeights.of(0.4, 0.2, 0.4).first == Fraction(2, 5)


def test_registry_lists_the_models_and_rejects_unknown():
    assert list(MODELS) == [
        "first_touch",
        "last_touch",
        "linear",
        "time_decay",
        "position_based",
        "w_shaped",
        "full_path",
        "last_non_direct",
        "markov",
        "shapley",
    ]
    with pytest.raises(ValueError, match="unknown model"):
        get_models(["linear", "u_shaped"])
