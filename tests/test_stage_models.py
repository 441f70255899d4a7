"""The milestone models (w_shaped, full_path), last_non_direct and the touch exclusions.

Known answers are derived by hand next to each case (shares: w_shaped FT/LC/OC
0.3 each and rest 0.1; full_path FT/LC/OC/CW 0.225 = 9/40 each and rest 0.1),
then hypothesis checks every registered model's sums, and the three new models'
weights and cents against the independent oracle tests/reference_stage.py.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import reference_stage
from engine_frames import UTC, at, deal, frames, touch
from models.credit import UNATTRIBUTED, count_excluded, credit_touches, won_paths
from models.data_driven import with_values
from models.journeys import build_journeys, resolve_as_of
from models.params import FULL_PATH_WEIGHTS, W_SHAPED_WEIGHTS, AttributionParams, MilestoneWeights
from models.registry import MODELS

CLOSE = at(2024, 3, 31, 12)
MICRO = dt.timedelta(microseconds=1)
F = "form_submit"  # the default lead-creation touch type
P = "page_view"


def path(types, oc, channels=None):
    """Touches t1..tn on March 1..n at 00:00, with these touch types and channels.

    ``oc`` is the position of the opportunity-creation touch: the deal is
    created on March ``oc`` at 12:00, so touches 1..oc are at or before it;
    ``oc = 0`` creates it on February 29, before every touch (no OC).
    """
    channels = channels or ["email"] * len(types)
    touches = []
    for i, (touch_type, channel) in enumerate(zip(types, channels), start=1):
        row = touch(f"t{i}", at(2024, 3, i), domain="acme.com", channel=channel)
        row["touch_type"] = touch_type
        touches.append(row)
    created = at(2024, 3, oc, 12) if oc else at(2024, 2, 29)
    return touches, created


def staged(touches, created, cents=10_000, params=None, extra_deals=()):
    params = params or AttributionParams()
    t, o, c = frames(touches, [deal("o1", "acme.com", created, CLOSE, cents=cents), *extra_deals])
    as_of = resolve_as_of(t.lazy(), o.lazy(), params.as_of)
    return build_journeys(t.lazy(), o.lazy(), c.lazy(), params, as_of).collect(), o, params


def exact_weights(model, touches, created, params=None) -> list[Fraction]:
    """The model's weights by position, as exact fractions (rows of weight 0 included)."""
    journeys, opportunities, params = staged(touches, created, params=params)
    frame = MODELS[model].weights(won_paths(journeys.lazy(), opportunities.lazy(), params), params).collect()
    assert frame.get_column("den").n_unique() == 1  # one den per deal (models/allocation.py)
    return [Fraction(num, den) for num, den in frame.sort("position").select("num", "den").rows()]


def credit(touches, created, cents=10_000, params=None, extra_deals=()):
    journeys, opportunities, params = staged(touches, created, cents, params, extra_deals)
    return journeys, credit_touches(journeys.lazy(), opportunities.lazy(), params).collect()


def cents_of(frame, model, opportunity_id="o1"):
    return frame.filter(model=model, opportunity_id=opportunity_id).sort("position").get_column("credited_cents").to_list()


def fr(*parts):
    return [Fraction(part) for part in parts]


# -- w_shaped and full_path: known answers ------------------------------------------------
CASES = {
    # The docstring's example. LC (t2 is the first form) and OC (created Mar 2 12:00) are p2.
    # w_shaped: p1 FT 0.3; p2 LC+OC 0.6; p3..p5 share 0.1 -> 1/30 each.
    # full_path: p1 0.225; p2 0.45; p5 CW 0.225; p3, p4 share 0.1 -> 0.05 each.
    "worked example, LC = OC": (
        [P, F, P, P, P],
        2,
        fr("3/10", "3/5", "1/30", "1/30", "1/30"),
        fr("9/40", "9/20", "1/20", "1/20", "9/40"),
    ),
    # FT = LC (t1 is a form), OC p3. w_shaped: p1 0.6, p3 0.3, p2 and p4 0.05 each.
    # full_path: p1 0.45, p3 0.225, p4 CW 0.225, p2 alone takes the rest 0.1.
    "FT = LC": (
        [F, P, P, P],
        3,
        fr("3/5", "1/20", "3/10", "1/20"),
        fr("9/20", "1/10", "9/40", "9/40"),
    ),
    # n = 1, FT = LC = OC = CW: one touch takes everything (rest -> the only touch).
    "n = 1, FT = LC = OC = CW": ([F], 1, fr(1), fr(1)),
    # n = 1 with no LC and no OC: w_shaped's FT alone gets 0.3 + 0.6 = 0.9, then the rest
    # (no free touch) in proportion -> 1. full_path: FT and CW get 0.45 each, same touch -> 1.
    "n = 1, no LC, no OC": ([P], 0, fr(1), fr(1)),
    # No LC. w_shaped: LC's 0.3 split by FT and OC -> 0.45 each (p1, p2); p3 free 0.1.
    # full_path: LC's 0.225 split by FT, OC, CW -> 0.3 each on p1, p2, p3; no free touch, so the
    # rest goes in proportion 0.3 : 0.3 : 0.3 -> 1/3 each.
    "missing LC": ([P, P, P], 2, fr("9/20", "9/20", "1/10"), fr("1/3", "1/3", "1/3")),
    # No OC (created before t1), LC p3. w_shaped: FT p1 and LC p3 0.45 each; p2, p4 0.05 each.
    # full_path: FT p1, LC p3, CW p4 0.3 each; p2 free 0.1.
    "missing OC": (
        [P, P, F, P],
        0,
        fr("9/20", "1/20", "9/20", "1/20"),
        fr("3/10", "1/10", "3/10", "3/10"),
    ),
    # n = 2, no LC, no OC. w_shaped: FT alone 0.9, p2 free 0.1.
    # full_path: FT 0.45, CW 0.45, no free touch -> proportional -> 1/2 each.
    "n = 2, missing LC and OC": ([P, P], 0, fr("9/10", "1/10"), fr("1/2", "1/2")),
    # n = 2, FT = OC p1, no LC. w_shaped: FT, OC 0.45 each on p1 -> 0.9, p2 free 0.1.
    # full_path: FT, OC, CW 0.3 each -> p1 0.6, p2 0.3, no free touch -> /0.9 -> 2/3, 1/3.
    "n = 2, FT = OC": ([P, P], 1, fr("9/10", "1/10"), fr("2/3", "1/3")),
    # n = 2, LC = OC = CW on p2. w_shaped: p1 0.3, p2 0.6, no free touch -> /0.9 -> 1/3, 2/3.
    # full_path: p1 0.225, p2 0.675 -> /0.9 -> 1/4, 3/4.
    "n = 2, LC = OC = CW": ([P, F], 2, fr("1/3", "2/3"), fr("1/4", "3/4")),
    # n = 3, LC = OC p2. w_shaped: 0.3, 0.6, p3 free 0.1.
    # full_path: 0.225, 0.45, CW 0.225, no free touch -> /0.9 -> 1/4, 1/2, 1/4.
    "n = 3, LC = OC": ([P, F, P], 2, fr("3/10", "3/5", "1/10"), fr("1/4", "1/2", "1/4")),
    # Every touch a milestone: FT p1, LC p2, OC p3 (= CW). w_shaped: 0.3 each, rest in
    # proportion -> 1/3 each. full_path: 0.225, 0.225, 0.45 -> /0.9 -> 1/4, 1/4, 1/2.
    "every touch a milestone": ([P, F, P], 3, fr("1/3", "1/3", "1/3"), fr("1/4", "1/4", "1/2")),
    # FT = OC p1, LC p3 after OC; t4 is a form too but only the first one is LC.
    # w_shaped: p1 0.6, p3 0.3, p2, p4, p5 share 0.1 -> 1/30 each.
    # full_path: p1 0.45, p3 0.225, p5 CW 0.225, p2, p4 0.05 each.
    "LC after OC, second form is no milestone": (
        [P, P, F, F, P],
        1,
        fr("3/5", "1/30", "3/10", "1/30", "1/30"),
        fr("9/20", "1/20", "9/40", "1/20", "9/40"),
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_milestone_models_known_answers(case):
    types, oc, w_shaped, full_path = CASES[case]
    touches, created = path(types, oc)
    assert exact_weights("w_shaped", touches, created) == w_shaped
    assert exact_weights("full_path", touches, created) == full_path
    assert sum(w_shaped) == sum(full_path) == 1


def test_touch_exactly_at_created_at_is_the_opportunity_touch():
    # t2 occurred exactly at created_at, t3 one microsecond later: OC is t2 (<= counts).
    # No LC, so w_shaped gives FT p1 and OC p2 0.45 each and p3 0.1. Were OC strictly
    # before created_at it would be p1: 0.9, 0.05, 0.05.
    created = at(2024, 3, 10)
    touches = [
        touch("t1", at(2024, 3, 1), domain="acme.com"),
        touch("t2", created, domain="acme.com"),
        touch("t3", created + MICRO, domain="acme.com"),
    ]
    assert exact_weights("w_shaped", touches, created) == fr("9/20", "9/20", "1/10")
    # full_path: FT, OC, CW get 0.3 each on three different touches -> 1/3 each
    assert exact_weights("full_path", touches, created) == fr("1/3", "1/3", "1/3")


def test_worked_example_through_credit_touches_to_the_cent():
    # 100.00 = 10000 cents. w_shaped 3/10, 3/5, 1/30 x 3: 3000, 6000, 333.33 x 3; floors sum
    # to 9999, the cent left goes to the earliest of the equal remainders, p3.
    # full_path 9/40, 9/20, 1/20, 1/20, 9/40 of 10000: 2250, 4500, 500, 500, 2250 exactly.
    touches, created = path([P, F, P, P, P], 2)
    _, rows = credit(touches, created, cents=10_000)
    assert cents_of(rows, "w_shaped") == [3000, 6000, 334, 333, 333]
    assert cents_of(rows, "full_path") == [2250, 4500, 500, 500, 2250]
    weights = rows.filter(model="w_shaped").sort("position").get_column("weight").to_list()
    assert weights == pytest.approx([0.3, 0.6, 1 / 30, 1 / 30, 1 / 30])


def test_seven_cents_split_to_the_cent():
    # 0.07 = 7 cents.
    # w_shaped, worked example 3/10, 3/5, 1/30 x 3: 2.1, 4.2, 0.233 x 3 -> floors 2, 4, 0, 0, 0
    # (6); one cent to the largest remainder, 0.233 at p3 (earliest of three equal ones).
    touches, created = path([P, F, P, P, P], 2)
    _, rows = credit(touches, created, cents=7)
    assert cents_of(rows, "w_shaped") == [2, 4, 1, 0, 0]
    # full_path, "LC after OC" case 9/20, 1/20, 9/40, 1/20, 9/40: 3.15, 0.35, 1.575, 0.35,
    # 1.575 -> floors 3, 0, 1, 0, 1 (5); two cents to the remainders 0.575 at p3 and p5.
    # p2 and p4 keep their rows with 0 cents (weight > 0, SPEC 4 rule 3).
    touches, created = path([P, P, F, F, P], 1)
    _, rows = credit(touches, created, cents=7)
    assert cents_of(rows, "full_path") == [3, 0, 2, 0, 2]


# -- non-default configuration -----------------------------------------------------------
def test_w_shaped_with_a_closed_share_makes_cw_a_milestone():
    # shares 0.2/0.3/0.1/0.2/0.2 (first/lead/opportunity/closed/rest); LC p2, no OC.
    # Milestones FT, LC, CW exist; OC's 0.1 goes 1/30 to each: FT 7/30, LC 10/30, CW 7/30.
    # p3, p4 share the rest 0.2 -> 1/10 each. 7/30 + 1/3 + 1/5 + 7/30 = 1.
    params = AttributionParams(w_shaped_weights=MilestoneWeights.of("0.2", "0.3", "0.1", "0.2", "0.2"))
    touches, created = path([P, F, P, P, P], 0)
    assert exact_weights("w_shaped", touches, created, params) == fr("7/30", "1/3", "1/10", "1/10", "7/30")
    # 7 cents: 98/60, 140/60, 42/60, 42/60, 98/60 -> floors 1, 2, 0, 0, 1 (4); the three cents
    # left go to remainders 42/60 (p3, p4) and then 38/60 at p1 (earlier than p5).
    _, rows = credit(touches, created, cents=7, params=params)
    assert cents_of(rows, "w_shaped") == [2, 2, 1, 1, 1]


def test_full_path_keeps_cw_as_a_milestone_even_with_a_zero_closed_share():
    # shares 0.3/0.3/0.3/0/0.1 on 4 touches, no LC, no OC.
    # full_path: milestones FT and CW exist; LC + OC = 0.6 -> 0.3 each: FT 0.6, CW 0.3;
    # p2, p3 share 0.1 -> 0.05 each.
    # w_shaped with the same shares: CW is no milestone, FT alone gets 0.9, p2..p4 1/30 each.
    shares = MilestoneWeights.of("0.3", "0.3", "0.3", "0", "0.1")
    params = AttributionParams(w_shaped_weights=shares, full_path_weights=shares)
    touches, created = path([P, P, P, P], 0)
    assert exact_weights("full_path", touches, created, params) == fr("3/5", "1/20", "1/20", "3/10")
    assert exact_weights("w_shaped", touches, created, params) == fr("9/10", "1/30", "1/30", "1/30")


def test_rest_only_shares_split_evenly_among_milestone_touches_when_no_touch_is_free():
    shares = MilestoneWeights.of(0, 0, 0, 0, 1)
    params = AttributionParams(w_shaped_weights=shares, full_path_weights=shares)
    # full_path, n = 2: FT p1 and CW p2 have share 0 and no touch is free -> 1/2 each.
    touches, created = path([P, P], 0)
    assert exact_weights("full_path", touches, created, params) == fr("1/2", "1/2")
    # n = 3: p2 is free and takes the whole rest; the zero-weight rows get no credit row.
    touches, created = path([P, P, P], 0)
    assert exact_weights("full_path", touches, created, params) == fr(0, 1, 0)
    _, rows = credit(touches, created, params=params)
    assert rows.filter(model="full_path").select("position", "credited_cents").rows() == [(2, 10_000)]
    # w_shaped, n = 1: FT is the only touch -> 1.
    touches, created = path([P], 0)
    assert exact_weights("w_shaped", touches, created, params) == fr(1)


def test_lead_touch_types_are_configurable():
    # Default: t2 (a form) is LC -> FT 0.45 and LC 0.45 (no OC), p3 0.1.
    # lead_touch_types {"webinar"}: t3 is LC -> FT 0.45, p2 0.1, LC p3 0.45.
    # No lead type at all: only FT -> 0.9, 0.05, 0.05.
    touches, created = path([P, F, "webinar"], 0)
    assert exact_weights("w_shaped", touches, created) == fr("9/20", "9/20", "1/10")
    webinar = AttributionParams(lead_touch_types=frozenset({"webinar"}))
    assert exact_weights("w_shaped", touches, created, webinar) == fr("9/20", "1/10", "9/20")
    none = AttributionParams(lead_touch_types=frozenset())
    assert exact_weights("w_shaped", touches, created, none) == fr("9/10", "1/20", "1/20")


# -- last_non_direct -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("channels", "expected"),
    [
        (["paid_search", "email", "direct", "direct"], 2),  # t2 is the last non-direct
        (["direct", "direct", "direct"], 3),  # all direct -> the last touch
        (["email", None, "direct"], 2),  # a null channel is not direct
        (["direct"], 1),  # n = 1, direct
        (["email"], 1),  # n = 1
        (["direct", "email"], 2),  # the last touch is itself non-direct
    ],
)
def test_last_non_direct(channels, expected):
    touches, created = path([P] * len(channels), 1, channels)
    weights = exact_weights("last_non_direct", touches, created)
    assert weights == [Fraction(int(position == expected)) for position in range(1, len(channels) + 1)]
    _, rows = credit(touches, created, cents=12_345)
    assert rows.filter(model="last_non_direct").select("touch_id", "position", "credited_cents", "weight").rows() == [
        (f"t{expected}", expected, 12_345, 1.0)
    ]


# -- exclusions --------------------------------------------------------------------------
def excluded_journey():
    """t1 page_view/paid_search, t2 form/email, t3 email_click/direct, t4 page_view/direct; OC t2."""
    touches, created = path([P, F, "email_click", P], 2, ["paid_search", "email", "direct", "direct"])
    return touches, created


def test_excluded_touch_type_renumbers_positions_before_every_model():
    touches, created = excluded_journey()
    params = AttributionParams(excluded_touch_types=frozenset({P}))
    journeys, rows = credit(touches, created, params=params)
    # the journey itself is unchanged (t1 is still position 1 of 4) ...
    assert journeys.sort("position").select("touch_id", "position", "n_touches").row(0) == ("t1", 1, 4)
    # ... but credit sees t2, t3 as positions 1, 2 of 2: first_touch moves from t1 to t2
    first = rows.filter(model="first_touch").select("touch_id", "position", "n_touches", "credited_cents").rows()
    assert first == [("t2", 1, 2, 10_000)]
    assert rows.filter(model="last_touch").select("touch_id", "position").rows() == [("t3", 2)]
    assert cents_of(rows, "linear") == [5_000, 5_000]
    # w_shaped: t2 is FT = LC = OC -> 0.9, t3 free 0.1.
    assert cents_of(rows, "w_shaped") == [9_000, 1_000]
    # full_path: t2 0.675, t3 CW 0.225, no free touch -> /0.9 -> 3/4, 1/4.
    assert cents_of(rows, "full_path") == [7_500, 2_500]
    # last_non_direct: t3 is direct, t2 (email) is the last non-direct.
    assert rows.filter(model="last_non_direct").get_column("touch_id").to_list() == ["t2"]
    assert set(rows.get_column("n_touches")) == {2}
    assert count_excluded(journeys, params) == 2


def test_excluded_channel_drops_its_touches():
    touches, created = excluded_journey()
    params = AttributionParams(excluded_channels=frozenset({"direct"}))
    journeys, rows = credit(touches, created, params=params)
    # t3, t4 are direct: t1, t2 remain as positions 1, 2 of 2
    assert rows.filter(model="last_touch").select("touch_id", "position", "n_touches").rows() == [("t2", 2, 2)]
    assert rows.filter(model="first_touch").get_column("touch_id").to_list() == ["t1"]
    assert count_excluded(journeys, params) == 2


def test_all_touches_excluded_is_unattributed():
    touches, created = excluded_journey()
    params = AttributionParams(excluded_touch_types=frozenset({P, F}), excluded_channels=frozenset({"direct"}))
    # a lost deal on the same domain has the same four touches in its journey
    lost = deal("lost", "acme.com", created, CLOSE, won=False)
    journeys, rows = credit(touches, created, cents=4_321, params=params, extra_deals=[lost])
    assert rows.height == len(MODELS)
    assert set(rows.get_column("model")) == set(MODELS)
    for row in rows.iter_rows(named=True):
        assert (row["opportunity_id"], row["channel"], row["touch_id"], row["n_touches"], row["credited_cents"]) == (
            "o1",
            UNATTRIBUTED,
            None,
            0,
            4_321,
        )
    t, o, _ = frames(touches, [deal("o1", "acme.com", created, CLOSE), lost])
    assert count_excluded(journeys, params) == 8  # both deals' rows
    assert count_excluded(journeys.lazy(), params, o.lazy()) == 4  # the won deal's only


def test_no_exclusion_counts_nothing():
    touches, created = excluded_journey()
    journeys, _ = credit(touches, created)
    assert count_excluded(journeys, AttributionParams()) == 0


# -- parameters -----------------------------------------------------------------------------
def test_milestone_weight_defaults_and_exact_reading():
    params = AttributionParams()
    assert params.w_shaped_weights == W_SHAPED_WEIGHTS == MilestoneWeights.of(0.3, 0.3, 0.3, 0, 0.1)
    assert params.full_path_weights == FULL_PATH_WEIGHTS == MilestoneWeights.of("0.225", "0.225", "0.225", "0.225", "0.1")
    assert params.w_shaped_weights.rest == Fraction(1, 10)  # 0.1 read as 1/10, not as a binary float
    assert params.lead_touch_types == frozenset({"form_submit"})
    assert params.excluded_touch_types == params.excluded_channels == frozenset()
    assert W_SHAPED_WEIGHTS.describe() == "0.3/0.3/0.3/0.0/0.1"


def test_milestone_weights_are_validated_naming_the_model():
    negative = MilestoneWeights(*fr("-0.1", "0.4", "0.3", "0.3", "0.1"))
    with pytest.raises(ValueError, match="w_shaped weights must be >= 0"):
        AttributionParams(w_shaped_weights=negative)
    too_much = MilestoneWeights(*fr("0.25", "0.25", "0.25", "0.25", "0.1"))
    with pytest.raises(ValueError, match="full_path weights must sum to 1"):
        AttributionParams(full_path_weights=too_much)
    with pytest.raises(ValueError, match="w_shaped weights must sum to 1"):
        MilestoneWeights.of(0.3, 0.3, 0.3, 0, 0.2, model="w_shaped")
    with pytest.raises(ValueError, match="full_path weights must be >= 0"):
        MilestoneWeights.of(0.5, 0.5, 0.5, -0.6, 0.1, model="full_path")


# -- properties -----------------------------------------------------------------------------
BASE = dt.datetime(2024, 1, 1, tzinfo=UTC)
instants = st.integers(min_value=0, max_value=30).map(lambda h: BASE + dt.timedelta(hours=12 * h))
W_SHAPED_CHOICES = [
    W_SHAPED_WEIGHTS,
    MilestoneWeights.of("0.2", "0.3", "0.1", "0.2", "0.2"),
    MilestoneWeights.of(0, 0, 0, 0, 1),
    MilestoneWeights.of("0.5", "0", "0.5", "0", "0"),
    MilestoneWeights.of("1/3", "1/3", "1/3", 0, 0),
]
FULL_PATH_CHOICES = [
    FULL_PATH_WEIGHTS,
    MilestoneWeights.of("0.3", "0.3", "0.3", "0", "0.1"),
    MilestoneWeights.of(0, 0, 0, 0, 1),
    MilestoneWeights.of("0.1", "0.2", "0.3", "0.4", "0"),
    MilestoneWeights.of("1/7", "2/7", "1/7", "2/7", "1/7"),
]


@st.composite
def scenario(draw):
    """Won, lost and open deals on two domains, touches of every kind; configuration drawn too."""
    touches = [
        {
            "touch_id": f"t{i:02d}",
            "occurred_at": draw(instants),
            "email": None,
            "account_domain": draw(st.sampled_from(["acme.com", "beta.io"])),
            "domain_is_given": True,
            "channel": draw(st.sampled_from(["direct", "direct", "email", "paid_search", None])),
            "campaign_id": None,
            "touch_type": draw(st.sampled_from([None, F, P, P, "webinar", "meeting"])),
        }
        for i in range(draw(st.integers(0, 10)))
    ]
    deals = []
    for index in range(draw(st.integers(1, 4))):
        created = draw(instants)
        won = draw(st.booleans()) or index == 0
        deals.append(
            {
                "opportunity_id": f"o{index}",
                "account_domain": draw(st.sampled_from(["acme.com", "beta.io"])),
                "created_at": created,
                "closed_at": created + dt.timedelta(hours=draw(st.integers(0, 300))),
                "is_closed": True,
                "is_won": won,
                "amount_cents": draw(st.integers(min_value=0, max_value=10**12)),
            }
        )
    params = AttributionParams(
        w_shaped_weights=draw(st.sampled_from(W_SHAPED_CHOICES)),
        full_path_weights=draw(st.sampled_from(FULL_PATH_CHOICES)),
        lead_touch_types=draw(st.sampled_from([frozenset({F}), frozenset({F, "webinar"}), frozenset()])),
        excluded_touch_types=draw(st.sampled_from([frozenset(), frozenset(), frozenset({P}), frozenset({"meeting", F})])),
        excluded_channels=draw(st.sampled_from([frozenset(), frozenset(), frozenset({"direct"})])),
    )
    return touches, deals, params


def engine_paths(touches, deals, params):
    t, o, c = frames(touches, deals)
    as_of = resolve_as_of(t.lazy(), o.lazy(), None)
    journeys = build_journeys(t.lazy(), o.lazy(), c.lazy(), params, as_of).collect()
    return journeys, o, won_paths(journeys.lazy(), o.lazy(), params).collect()


def per_deal(frame: pl.DataFrame) -> dict[str, list[Fraction]]:
    """opportunity_id -> exact weights by position."""
    out: dict[str, list[Fraction]] = {}
    for opportunity_id, num, den in frame.sort("opportunity_id", "position").select("opportunity_id", "num", "den").rows():
        out.setdefault(opportunity_id, []).append(Fraction(num, den))
    return out


def oracle(model: str, touches: list[dict], created_at, params: AttributionParams) -> list[Fraction]:
    """tests/reference_stage.py: the rules written from the issue text alone, without
    reading models/ (another author, plain loops and fractions)."""

    def five(w):
        return (w.first, w.lead, w.opportunity, w.closed, w.rest)

    return reference_stage.stage_weights(
        model,
        touches,
        created_at,
        w_shaped=five(params.w_shaped_weights),
        full_path=five(params.full_path_weights),
        lead_types=params.lead_touch_types,
    )


PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(scenario())
def test_every_model_weights_sum_to_one_exactly_and_cents_to_the_amount(case):
    touches, deals, params = case
    journeys, opportunities, paths = engine_paths(touches, deals, params)
    params = with_values(journeys.lazy(), opportunities.lazy(), params, list(MODELS))  # markov, shapley learn first
    for model in MODELS.values():
        frame = model.weights(paths.lazy(), params).collect()
        if model.exact:
            assert (frame.get_column("num") >= 0).all() and (frame.get_column("den") > 0).all()
            assert (frame.group_by("opportunity_id").agg(pl.col("den").n_unique()).get_column("den") == 1).all()
            assert all(sum(weights) == 1 for weights in per_deal(frame).values())
        else:
            sums = frame.group_by("opportunity_id").agg(pl.col("weight").sum()).get_column("weight")
            assert ((sums - 1).abs() < 1e-9).all()
    rows = credit_touches(journeys.lazy(), opportunities.lazy(), params).collect()
    won = {d["opportunity_id"]: d["amount_cents"] for d in deals if d["is_won"]}
    totals = rows.group_by("model", "opportunity_id").agg(pl.col("credited_cents").sum())
    assert totals.height == len(MODELS) * len(won)  # every won deal, every model
    for _, opportunity_id, credited in totals.iter_rows():
        assert credited == won[opportunity_id]


@PROPERTY
@given(scenario())
def test_new_models_agree_with_the_independent_oracle_to_the_weight_and_the_cent(case):
    touches, deals, params = case
    journeys_frame, opportunities, paths = engine_paths(touches, deals, params)
    created = {d["opportunity_id"]: d["created_at"] for d in deals}
    amounts = {d["opportunity_id"]: d["amount_cents"] for d in deals}
    journeys = {key[0]: rows.sort("position").to_dicts() for key, rows in paths.group_by("opportunity_id")}
    names = ["w_shaped", "full_path", "last_non_direct"]
    credited = credit_touches(journeys_frame.lazy(), opportunities.lazy(), params, names).collect()
    for name in names:
        expected = {deal_id: oracle(name, rows, created[deal_id], params) for deal_id, rows in journeys.items()}
        assert per_deal(MODELS[name].weights(paths.lazy(), params).collect()) == expected
        for deal_id, weights in expected.items():
            cents = reference_stage.stage_cents(amounts[deal_id], weights)
            got = credited.filter(model=name, opportunity_id=deal_id).sort("position").get_column("credited_cents").to_list()
            assert got == [c for c, w in zip(cents, weights) if w > 0], (name, deal_id)


@PROPERTY
@given(scenario(), st.integers(-(10**6), 10**6), st.randoms(use_true_random=False))
def test_milestone_weights_ignore_channels_and_absolute_time(case, shift_minutes, rnd):
    """w_shaped and full_path read only the order of the touches, their types, and whether each
    is at or before created_at: moving every timestamp by the same amount, or changing
    channels, cannot move a milestone."""
    touches, deals, params = case
    _, _, paths = engine_paths(touches, deals, params)
    shift = dt.timedelta(minutes=shift_minutes)
    channels = paths.get_column("channel").to_list()
    rnd.shuffle(channels)
    moved = paths.with_columns(
        pl.col("occurred_at") + shift,
        pl.col("created_at") + shift,
        channel=pl.Series(channels, dtype=pl.String),
    )
    for name in ("w_shaped", "full_path"):
        weights = MODELS[name].weights
        assert per_deal(weights(paths.lazy(), params).collect()) == per_deal(weights(moved.lazy(), params).collect())


@PROPERTY
@given(scenario(), st.randoms(use_true_random=False))
def test_milestone_weights_ignore_touch_types_after_the_lead_touch(case, rnd):
    """LC is the first lead-type touch, so the types of later touches cannot move it."""
    touches, deals, params = case
    _, _, paths = engine_paths(touches, deals, params)
    is_lead = pl.col("touch_type").is_in(sorted(params.lead_touch_types)).fill_null(False)
    lead_at = pl.when(is_lead).then(pl.col("position")).min().over("opportunity_id")
    later = (pl.col("position") > lead_at).fill_null(False)
    new_types = [rnd.choice([None, F, P, "webinar"]) for _ in range(paths.height)]
    changed = paths.with_columns(touch_type=pl.when(later).then(pl.Series(new_types, dtype=pl.String)).otherwise(pl.col("touch_type")))
    for name in ("w_shaped", "full_path"):
        weights = MODELS[name].weights
        assert per_deal(weights(paths.lazy(), params).collect()) == per_deal(weights(changed.lazy(), params).collect())
