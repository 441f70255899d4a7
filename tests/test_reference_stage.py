"""Known answers, worked by hand, for the stage-aware model oracle
(tests/reference_stage.py): w_shaped, full_path, last_non_direct.

Notation in the comments: tK is the touch at position K; FT/LC/OC/CW are the
milestones; "rest" is the share of the touches that are no milestone.
w_shaped default = (3/10, 3/10, 3/10, 0, 1/10)  (no CW milestone)
full_path default = (9/40, 9/40, 9/40, 9/40, 1/10)
"""

from __future__ import annotations

import itertools
import os
import sys
from datetime import datetime, timedelta, timezone
from fractions import Fraction as F

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_stage as rs  # noqa: E402

UTC = timezone.utc
T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def at(day: int, micro: int = 0) -> datetime:
    return T0 + timedelta(days=day, microseconds=micro)


def journey(*specs):
    """specs: (day, touch_type, channel) per touch, in journey order."""
    return [{"occurred_at": at(d), "touch_type": tt, "channel": ch} for d, tt, ch in specs]


def pv(day, channel="email"):
    return (day, "page_view", channel)


def form(day, channel="email"):
    return (day, "form_submit", channel)


def w_shaped(touches, created_at, **kw):
    return rs.stage_weights("w_shaped", touches, created_at, **kw)


def full_path(touches, created_at, **kw):
    return rs.stage_weights("full_path", touches, created_at, **kw)


def exact(weights, expected):
    """Exact equality, exact Fractions, and a sum of exactly 1."""
    assert all(isinstance(w, F) for w in weights)
    assert weights == [F(x) for x in expected]
    assert sum(weights) == 1


# --------------------------------------------------------------------------
# the worked example from the brief, and LC = OC
# --------------------------------------------------------------------------


def test_worked_example_w_shaped_lc_equals_oc():
    # 5 touches, t2 is the form (LC) and the last touch <= created_at (OC).
    # t1 = FT = 3/10; t2 = LC + OC = 3/10 + 3/10 = 6/10;
    # w_shaped has no CW, so t3, t4, t5 are no milestone: 1/10 / 3 = 1/30 each.
    # sum = 3/10 + 6/10 + 3/30 = 1.
    touches = journey(pv(0), form(1), pv(5), pv(6), pv(7))
    exact(w_shaped(touches, at(2)), [F(3, 10), F(6, 10), F(1, 30), F(1, 30), F(1, 30)])


def test_full_path_lc_equals_oc():
    # Same journey. t1 = FT = 9/40; t2 = LC + OC = 18/40; t5 = CW = 9/40;
    # rest 1/10 = 4/40 over t3, t4: 2/40 each.  9 + 18 + 2 + 2 + 9 = 40.
    touches = journey(pv(0), form(1), pv(5), pv(6), pv(7))
    exact(full_path(touches, at(2)), [F(9, 40), F(18, 40), F(2, 40), F(2, 40), F(9, 40)])


# --------------------------------------------------------------------------
# FT = LC
# --------------------------------------------------------------------------


def test_w_shaped_ft_equals_lc():
    # t1 is a form: FT = LC = t1 -> 3/10 + 3/10 = 6/10. created_at day 3 -> OC = t3 = 3/10.
    # t2 and t4 are no milestone (no CW in w_shaped): 1/10 / 2 = 1/20 each.
    # 12/20 + 1/20 + 6/20 + 1/20 = 1.
    touches = journey(form(0), pv(1), pv(2), pv(4))
    exact(w_shaped(touches, at(3)), [F(6, 10), F(1, 20), F(3, 10), F(1, 20)])


def test_full_path_ft_equals_lc():
    # t1 = FT + LC = 18/40; t3 = OC = 9/40; t4 = CW = 9/40; t2 alone gets rest 4/40.
    # 18 + 4 + 9 + 9 = 40.
    touches = journey(form(0), pv(1), pv(2), pv(4))
    exact(full_path(touches, at(3)), [F(18, 40), F(4, 40), F(9, 40), F(9, 40)])


def test_only_the_first_form_is_lead_creation():
    # t2 and t3 are both forms; LC = t2 only, t3 is no milestone.
    # created_at day 0 -> OC = t1 (= FT): t1 = 6/10, t2 = 3/10,
    # rest 1/10 over t3, t4: 1/20 each.  12 + 6 + 1 + 1 = 20 twentieths.
    touches = journey(pv(0), form(1), form(2), pv(3))
    exact(w_shaped(touches, at(0)), [F(6, 10), F(3, 10), F(1, 20), F(1, 20)])


# --------------------------------------------------------------------------
# n = 1: FT = LC = OC = CW
# --------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["w_shaped", "full_path", "last_non_direct"])
def test_single_touch_that_is_every_milestone(model):
    # One form before created_at: FT = LC = OC (= CW).  w_shaped: 9/10 on t1 and
    # every touch is a milestone, so the rest 1/10 goes to the milestones in
    # proportion: all of it to t1 -> 1.  full_path: 4 * 9/40 = 36/40 + 4/40 = 1.
    touches = journey(form(0, "direct"))
    exact(rs.stage_weights(model, touches, at(1)), [1])


@pytest.mark.parametrize("model", ["w_shaped", "full_path"])
def test_single_touch_with_lc_and_oc_missing(model):
    # One page view after created_at: LC and OC do not exist; their shares go
    # to FT (and CW for full_path), all on t1, and so does the rest -> 1.
    touches = journey(pv(5))
    exact(rs.stage_weights(model, touches, at(1)), [1])


# --------------------------------------------------------------------------
# n = 2
# --------------------------------------------------------------------------


def test_w_shaped_n2_every_touch_a_milestone():
    # t1 = FT = 3/10; t2 = LC + OC = 6/10 (created_at after t2). No touch is
    # free, so the rest 1/10 goes in proportion 3:6 -> t1 + 1/30, t2 + 2/30.
    # t1 = 9/30 + 1/30 = 1/3; t2 = 18/30 + 2/30 = 2/3.
    touches = journey(pv(0), form(1))
    exact(w_shaped(touches, at(2)), [F(1, 3), F(2, 3)])


def test_full_path_n2_every_touch_a_milestone():
    # t1 = FT = 9/40; t2 = LC + OC + CW = 27/40. Rest 4/40 in proportion 9:27:
    # t1 = 9/40 * 40/36 = 1/4; t2 = 27/36 = 3/4.
    touches = journey(pv(0), form(1))
    exact(full_path(touches, at(2)), [F(1, 4), F(3, 4)])


def test_w_shaped_n2_missing_lc_oc_on_first():
    # No form: LC missing. created_at between t1 and t2: OC = t1 (= FT).
    # Existing roles FT, OC; LC's 3/10 -> 3/20 to each ROLE, both on t1:
    # t1 = 3/10 + 3/20 + 3/10 + 3/20 = 9/10. t2 is no milestone (no CW): 1/10.
    touches = journey(pv(0), pv(2))
    exact(w_shaped(touches, at(1)), [F(9, 10), F(1, 10)])


def test_full_path_n2_missing_lc_split_by_roles_not_touches():
    # No form: LC missing; OC = t1 = FT; CW = t2.
    # Existing roles FT, OC, CW: LC's 9/40 -> 3/40 to each ROLE.
    # t1 = (9+3) + (9+3) = 24/40; t2 = 9 + 3 = 12/40; every touch is a milestone,
    # rest 4/40 in proportion 24:12 -> t1 = 24/36 = 2/3, t2 = 12/36 = 1/3.
    # (Splitting LC's share by touches instead would give t1 = 5/8.)
    touches = journey(pv(0), pv(2))
    exact(full_path(touches, at(1)), [F(2, 3), F(1, 3)])


# --------------------------------------------------------------------------
# n = 3
# --------------------------------------------------------------------------


def test_w_shaped_n3():
    # t1 = form: FT = LC = 6/10; created_at day 2 -> OC = t2 = 3/10;
    # t3 is no milestone (no CW): rest 1/10.
    touches = journey(form(0), pv(1), pv(3))
    exact(w_shaped(touches, at(2)), [F(3, 5), F(3, 10), F(1, 10)])


def test_full_path_n3_every_touch_a_milestone():
    # t1 = FT + LC = 18/40; t2 = OC = 9/40; t3 = CW = 9/40; total 36/40.
    # No free touch: rest 4/40 in proportion -> multiply each by 40/36:
    # 18/36 = 1/2, 9/36 = 1/4, 9/36 = 1/4.
    touches = journey(form(0), pv(1), pv(3))
    exact(full_path(touches, at(2)), [F(1, 2), F(1, 4), F(1, 4)])


def test_n3_three_distinct_milestones_w_shaped():
    # FT = t1, LC = t2, OC = t3 (created_at after all): 3/10 each; every touch a
    # milestone -> rest 1/10 in proportion 1:1:1 -> 1/30 each -> 1/3 each.
    touches = journey(pv(0), form(1), pv(2))
    exact(w_shaped(touches, at(9)), [F(1, 3), F(1, 3), F(1, 3)])


# --------------------------------------------------------------------------
# missing LC, missing OC
# --------------------------------------------------------------------------


def test_w_shaped_missing_lc():
    # No form: LC missing; created_at day 3 -> OC = t3.
    # LC's 3/10 -> 3/20 to FT and OC: t1 = t3 = 3/10 + 3/20 = 9/20.
    # rest 1/10 over t2, t4: 1/20 each.  9 + 1 + 9 + 1 = 20.
    touches = journey(pv(0), pv(1), pv(2), pv(4))
    exact(w_shaped(touches, at(3)), [F(9, 20), F(1, 20), F(9, 20), F(1, 20)])


def test_full_path_missing_lc():
    # LC's 9/40 -> 3/40 each to FT (t1), OC (t3), CW (t4): 12/40 = 3/10 each.
    # rest 1/10 to t2 alone.  3 + 1 + 3 + 3 = 10 tenths.
    touches = journey(pv(0), pv(1), pv(2), pv(4))
    exact(full_path(touches, at(3)), [F(3, 10), F(1, 10), F(3, 10), F(3, 10)])


def test_w_shaped_missing_oc():
    # Every touch after created_at: OC missing. LC = t2.
    # OC's 3/10 -> 3/20 each to FT, LC: t1 = t2 = 9/20; rest over t3, t4: 1/20 each.
    touches = journey(pv(1), form(2), pv(3), pv(4))
    exact(w_shaped(touches, at(0)), [F(9, 20), F(9, 20), F(1, 20), F(1, 20)])


def test_full_path_missing_oc():
    # OC's 9/40 -> 3/40 each to FT (t1), LC (t2), CW (t4): 12/40 = 3/10 each;
    # rest 1/10 to t3.
    touches = journey(pv(1), form(2), pv(3), pv(4))
    exact(full_path(touches, at(0)), [F(3, 10), F(3, 10), F(1, 10), F(3, 10)])


def test_full_path_missing_oc_with_ft_equals_lc():
    # t1 is a form (FT = LC), every touch after created_at (OC missing), CW = t3.
    # Existing ROLES FT, LC, CW: OC's 9/40 -> 3/40 each.
    # t1 = FT + LC = 12/40 + 12/40 = 24/40 = 3/5; t3 = CW = 12/40 = 3/10;
    # t2 free: rest 4/40 = 1/10.  24 + 4 + 12 = 40.
    # (Split by touches it would be t1 = 18/40 + 9/80 = 45/80 instead.)
    touches = journey(form(1), pv(2), pv(3))
    exact(full_path(touches, at(0)), [F(3, 5), F(1, 10), F(3, 10)])


def test_w_shaped_missing_lc_and_oc():
    # Only FT exists: t1 = 3/10 + 3/10 + 3/10 = 9/10; rest over t2, t3: 1/20 each.
    touches = journey(pv(1), pv(2), pv(3))
    exact(w_shaped(touches, at(0)), [F(9, 10), F(1, 20), F(1, 20)])


def test_full_path_missing_lc_and_oc():
    # FT and CW exist: LC's 9/40 and OC's 9/40 -> 9/80 + 9/80 = 9/40 to each.
    # t1 = t3 = 18/40 = 9/20; t2 gets the rest 1/10.  9 + 2 + 9 = 20.
    touches = journey(pv(1), pv(2), pv(3))
    exact(full_path(touches, at(0)), [F(9, 20), F(1, 10), F(9, 20)])


def test_none_touch_type_is_not_a_lead():
    # touch_type None everywhere: LC missing, same answer as test_w_shaped_missing_lc.
    touches = journey((0, None, "email"), (1, None, "email"), (2, None, "email"), (4, None, "email"))
    exact(w_shaped(touches, at(3)), [F(9, 20), F(1, 20), F(9, 20), F(1, 20)])


def test_configured_lead_types():
    # lead_types {"demo_request"}: the form at t2 is not a lead, the demo at t3 is.
    # created_at day 0 -> OC = t1 = FT: t1 = 6/10, LC = t3 = 3/10,
    # rest 1/10 over t2, t4: 1/20 each.
    touches = journey(pv(0), form(1), (2, "demo_request", "email"), pv(3))
    exact(
        w_shaped(touches, at(0), lead_types=frozenset({"demo_request"})),
        [F(6, 10), F(1, 20), F(3, 10), F(1, 20)],
    )


# --------------------------------------------------------------------------
# OC boundary: occurred_at <= created_at, inclusive to the microsecond
# --------------------------------------------------------------------------


def test_oc_exactly_at_created_at():
    # t3 occurs exactly at created_at -> OC = t3 (<= is inclusive). LC = t2.
    # 3/10, 3/10, 3/10 on t1..t3; t4 (no CW) gets the rest 1/10.
    touches = journey(pv(0), form(1), pv(2), pv(3))
    exact(w_shaped(touches, at(2)), [F(3, 10), F(3, 10), F(3, 10), F(1, 10)])


def test_oc_one_microsecond_later_is_not_oc():
    # created_at is 1 us before t3 -> OC = t2 (= LC): t2 = 6/10,
    # rest 1/10 over t3, t4: 1/20 each.
    touches = journey(pv(0), form(1), pv(2), pv(3))
    exact(w_shaped(touches, at(2, -1)), [F(3, 10), F(6, 10), F(1, 20), F(1, 20)])


def test_oc_ties_at_created_at_take_the_later_position():
    # t2 and t3 share occurred_at == created_at; journey order puts t3 later,
    # so OC = t3. LC missing -> 3/20 to FT and OC: t1 = t3 = 9/20;
    # rest over t2, t4: 1/20 each.
    touches = journey(pv(0), pv(2), pv(2), pv(5))
    exact(w_shaped(touches, at(2)), [F(9, 20), F(1, 20), F(9, 20), F(1, 20)])


# --------------------------------------------------------------------------
# non-default weight tuples
# --------------------------------------------------------------------------


def test_non_default_weights_with_closed():
    # (1/2, 1/5, 1/10, 1/10, 1/10): CW is a milestone (closed > 0).
    # FT = t1, LC = t3, OC = t4 (created_at day 3), CW = t5; t2 alone is free.
    # t1 = 1/2, t2 = 1/10, t3 = 1/5, t4 = 1/10, t5 = 1/10. 5+1+2+1+1 = 10.
    weights = (F(1, 2), F(1, 5), F(1, 10), F(1, 10), F(1, 10))
    touches = journey(pv(0), pv(1), form(2), pv(3), pv(4))
    exact(rs.milestone_weights(touches, at(3), weights), [F(1, 2), F(1, 10), F(1, 5), F(1, 10), F(1, 10)])
    exact(full_path(touches, at(3), full_path=weights), [F(1, 2), F(1, 10), F(1, 5), F(1, 10), F(1, 10)])


def test_non_default_weights_missing_lc():
    # (1/2, 1/5, 1/10, 0, 1/5): no CW. No form -> LC missing; OC = t2.
    # LC's 1/5 -> 1/10 to FT, 1/10 to OC: t1 = 6/10, t2 = 2/10;
    # rest 1/5 over t3, t4: 1/10 each.  6 + 2 + 1 + 1 = 10.
    weights = (F(1, 2), F(1, 5), F(1, 10), F(0), F(1, 5))
    touches = journey(pv(0), pv(1), pv(3), pv(4))
    exact(w_shaped(touches, at(2), w_shaped=weights), [F(3, 5), F(1, 5), F(1, 10), F(1, 10)])


def test_w_shaped_with_closed_share_turns_cw_on():
    # (1/4, 1/4, 1/4, 1/8, 1/8) as w_shaped: closed > 0 makes t4 the CW milestone.
    # FT t1 = 1/4, LC + OC t2 = 1/2, CW t4 = 1/8, t3 gets the rest 1/8.  2+4+1+1 = 8.
    weights = (F(1, 4), F(1, 4), F(1, 4), F(1, 8), F(1, 8))
    touches = journey(pv(0), form(1), pv(3), pv(4))
    exact(w_shaped(touches, at(2), w_shaped=weights), [F(1, 4), F(1, 2), F(1, 8), F(1, 8)])


def test_rest_in_proportion_to_unequal_shares():
    # (1/2, 0, 1/4, 0, 1/4), n = 2: FT t1 = 1/2; LC + OC t2 = 0 + 1/4.
    # No free touch: rest 1/4 in proportion 2:1 -> t1 + 1/6, t2 + 1/12.
    # t1 = 1/2 + 1/6 = 2/3; t2 = 1/4 + 1/12 = 1/3.
    weights = (F(1, 2), F(0), F(1, 4), F(0), F(1, 4))
    touches = journey(pv(0), form(1))
    exact(rs.milestone_weights(touches, at(2), weights), [F(2, 3), F(1, 3)])


def test_rest_only_every_touch_a_milestone_with_zero_shares():
    # (0, 0, 0, 0, 1): FT t1, LC t2, OC t3 all have share 0 and no touch is free,
    # so the rest 1 goes evenly to the 3 milestone touches: 1/3 each.
    weights = (F(0), F(0), F(0), F(0), F(1))
    touches = journey(pv(0), form(1), pv(2))
    exact(rs.milestone_weights(touches, at(5), weights), [F(1, 3), F(1, 3), F(1, 3)])
    # n = 2 with t2 = LC = OC: two milestone touches -> 1/2 each (not by roles).
    exact(rs.milestone_weights(journey(pv(0), form(1)), at(5), weights), [F(1, 2), F(1, 2)])


def test_rest_only_with_free_touches():
    # (0, 0, 0, 0, 1): t1 FT, t2 LC = OC, t3 and t4 free -> 1/2 each, milestones 0.
    weights = (F(0), F(0), F(0), F(0), F(1))
    touches = journey(pv(0), form(1), pv(3), pv(4))
    exact(rs.milestone_weights(touches, at(2), weights), [0, 0, F(1, 2), F(1, 2)])


def test_all_on_first_touch():
    # (1, 0, 0, 0, 0) behaves as first touch whatever LC/OC are:
    # missing shares are 0, rest 0.
    weights = (F(1), F(0), F(0), F(0), F(0))
    touches = journey(pv(0), form(1), pv(3))
    exact(rs.milestone_weights(touches, at(2), weights), [1, 0, 0])
    exact(rs.milestone_weights(journey(pv(1), pv(2)), at(0), weights), [1, 0])


def test_missing_share_goes_to_zero_weight_roles_too():
    # (0, 1/2, 1/2, 0, 0): LC missing, OC = t2. Existing roles FT (share 0) and
    # OC: LC's 1/2 -> 1/4 each ROLE, evenly, whatever their own share:
    # t1 = 0 + 1/4 = 1/4; t2 = 1/2 + 1/4 = 3/4; t3 free gets rest 0.
    weights = (F(0), F(1, 2), F(1, 2), F(0), F(0))
    touches = journey(pv(0), pv(1), pv(3))
    exact(rs.milestone_weights(touches, at(2), weights), [F(1, 4), F(3, 4), 0])


# --------------------------------------------------------------------------
# last_non_direct
# --------------------------------------------------------------------------


def lnd(*channels):
    touches = [{"occurred_at": at(i), "touch_type": "page_view", "channel": c} for i, c in enumerate(channels)]
    return rs.stage_weights("last_non_direct", touches, at(0))


def test_last_non_direct_skips_trailing_direct():
    # Last non-direct is t3 ("email"); t4 is direct.
    exact(lnd("paid_search", "direct", "email", "direct"), [0, 0, 1, 0])


def test_last_non_direct_last_touch_when_not_direct():
    exact(lnd("direct", "email", "organic"), [0, 0, 1])


def test_last_non_direct_all_direct_goes_to_last():
    exact(lnd("direct", "direct", "direct"), [0, 0, 1])
    exact(lnd("direct"), [1])


def test_last_non_direct_null_channel_is_not_direct():
    # None is not "direct", so t2 (None) is the last non-direct touch.
    exact(lnd("email", None, "direct"), [0, 1, 0])
    exact(lnd(None, "direct"), [1, 0])
    exact(lnd(None), [1])


def test_last_non_direct_ignores_stage_data():
    # Forms and created_at play no part.
    touches = journey(form(0, "social"), pv(1, "direct"), form(2, "direct"))
    exact(rs.stage_weights("last_non_direct", touches, at(-5)), [1, 0, 0])


# --------------------------------------------------------------------------
# cents (SPEC 4 largest remainder, equal remainders to the earlier position)
# --------------------------------------------------------------------------


def test_cents_7_over_three_equal_weights():
    # 7 * 1/3 = 2 1/3 each: floors 2, 2, 2 = 6, one cent left; the remainders
    # are all equal (1/3), so the earliest position gets it: 3, 2, 2.
    assert rs.stage_cents(7, [F(1, 3)] * 3) == [3, 2, 2]


def test_cents_worked_example_100():
    # 100 * (3/10, 6/10, 1/30, 1/30, 1/30) = 30, 60, 10/3, 10/3, 10/3:
    # floors 30, 60, 3, 3, 3 = 99; one cent left; remainders 0, 0, 1/3, 1/3, 1/3
    # -> tie among t3..t5 -> t3: 30, 60, 4, 3, 3.
    w = w_shaped(journey(pv(0), form(1), pv(5), pv(6), pv(7)), at(2))
    assert rs.stage_cents(100, w) == [30, 60, 4, 3, 3]


def test_cents_largest_remainder_beats_position():
    # 7 * (3/10, 6/10, 1/10) = 2.1, 4.2, 0.7: floors 2, 4, 0 = 6; one cent left;
    # largest remainder 0.7 is t3: 2, 4, 1.
    assert rs.stage_cents(7, [F(3, 10), F(6, 10), F(1, 10)]) == [2, 4, 1]


def test_cents_full_path_awkward_amount():
    # full_path 5-touch weights 9/40, 18/40, 2/40, 2/40, 9/40 on 101 cents:
    # 909/40 = 22.725, 1818/40 = 45.45, 202/40 = 5.05, 5.05, 22.725;
    # floors 22, 45, 5, 5, 22 = 99; two cents left; remainders .725, .45, .05,
    # .05, .725 -> the two .725 (t1, t5): 23, 45, 5, 5, 23 = 101.
    w = full_path(journey(pv(0), form(1), pv(5), pv(6), pv(7)), at(2))
    assert rs.stage_cents(101, w) == [23, 45, 5, 5, 23]


def test_cents_one_cent_and_zero():
    # 1 * 1/2 = 0.5 each: tie -> earlier position.
    assert rs.stage_cents(1, [F(1, 2), F(1, 2)]) == [1, 0]
    assert rs.stage_cents(0, [F(1, 3)] * 3) == [0, 0, 0]


def test_cents_rejects_bad_input():
    with pytest.raises(ValueError):
        rs.stage_cents(10, [F(1, 2), F(1, 3)])
    with pytest.raises(ValueError):
        rs.stage_cents(-1, [F(1)])
    with pytest.raises(ValueError):
        rs.stage_cents(10, [F(3, 2), F(-1, 2)])


# --------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------


def test_default_weights_are_valid():
    assert rs.validate_weights(rs.W_SHAPED) == rs.W_SHAPED
    assert rs.validate_weights(rs.FULL_PATH) == rs.FULL_PATH
    assert sum(rs.W_SHAPED) == 1 and sum(rs.FULL_PATH) == 1


@pytest.mark.parametrize(
    "weights",
    [
        (F(3, 10), F(3, 10), F(3, 10), F(0), F(2, 10)),  # sums to 11/10
        (F(3, 10), F(3, 10), F(3, 10), F(0), F(0)),  # sums to 9/10
        (F(1, 2), F(1, 2), F(1, 10), F(0), F(-1, 10)),  # negative, sums to 1
        (F(1, 2), F(1, 2)),  # wrong length
    ],
)
def test_bad_weights_raise(weights):
    with pytest.raises(ValueError):
        rs.validate_weights(weights)
    with pytest.raises(ValueError):
        rs.milestone_weights(journey(pv(0)), at(1), weights)
    with pytest.raises(ValueError):
        w_shaped(journey(pv(0)), at(1), w_shaped=weights)


def test_bad_model_and_empty_journey_raise():
    with pytest.raises(ValueError):
        rs.stage_weights("u_shaped", journey(pv(0)), at(1))
    for model in rs.STAGE_MODELS:
        with pytest.raises(ValueError):
            rs.stage_weights(model, [], at(1))


def test_out_of_order_journey_raises():
    with pytest.raises(ValueError):
        w_shaped(journey(pv(2), pv(1)), at(5))


# --------------------------------------------------------------------------
# properties: every result sums to exactly 1, on every small journey shape
# --------------------------------------------------------------------------


def _shape_journey(n, lc, oc):
    """n touches on days 0..n-1; a form at position lc (or none); created_at
    just at touch oc (or before every touch when oc is None)."""
    touches = [{"occurred_at": at(i), "touch_type": "form_submit" if lc == i + 1 else "page_view", "channel": "email"} for i in range(n)]
    created_at = at(-1) if oc is None else at(oc - 1)
    return touches, created_at


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6])
def test_every_shape_sums_to_one(n):
    for lc, oc in itertools.product([None, *range(1, n + 1)], repeat=2):
        touches, created_at = _shape_journey(n, lc, oc)
        found = rs.find_milestones(touches, created_at)
        assert found.get(LC_KEY) == (None if lc is None else lc - 1)
        assert found.get(OC_KEY) == (None if oc is None else oc - 1)
        for model in rs.STAGE_MODELS:
            w = rs.stage_weights(model, touches, created_at)
            assert len(w) == n
            assert sum(w) == 1
            assert all(x >= 0 for x in w)
        for amount in (0, 1, 7, 99_999):
            assert sum(rs.stage_cents(amount, rs.stage_weights("full_path", touches, created_at))) == amount


LC_KEY = rs.LC
OC_KEY = rs.OC


@st.composite
def weight_tuples(draw):
    ks = draw(st.lists(st.integers(min_value=0, max_value=12), min_size=5, max_size=5))
    if sum(ks) == 0:
        ks[4] = 1
    total = sum(ks)
    return tuple(F(k, total) for k in ks)


@settings(max_examples=300, deadline=None)
@given(
    weights=weight_tuples(),
    n=st.integers(min_value=1, max_value=8),
    lc=st.integers(min_value=0, max_value=8),
    oc=st.integers(min_value=0, max_value=8),
    amount=st.integers(min_value=0, max_value=10**9),
)
def test_random_weights_sum_to_one(weights, n, lc, oc, amount):
    touches, created_at = _shape_journey(n, lc if 1 <= lc <= n else None, oc if 1 <= oc <= n else None)
    w = rs.milestone_weights(touches, created_at, weights)
    assert sum(w) == 1 and all(x >= 0 for x in w)
    cents = rs.stage_cents(amount, w)
    assert sum(cents) == amount
    # each row is within one cent of its exact share
    assert all(abs(c - amount * x) < 1 for c, x in zip(cents, w))
