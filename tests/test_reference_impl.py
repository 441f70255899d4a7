"""Known answers and properties for the SPEC 3/4 reference implementation."""

from __future__ import annotations

import math
import os
import sys
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_impl as ref  # noqa: E402

UTC = timezone.utc
T0 = datetime(2024, 1, 1, tzinfo=UTC)
CLOSE = datetime(2024, 6, 30, 12, 0, tzinfo=UTC)


def params(**over):
    p = {
        "lookback_days": 365,
        "half_life_days": 7.0,
        "position_weights": (Fraction(2, 5), Fraction(1, 5), Fraction(2, 5)),
        "as_of": datetime(2024, 12, 31, tzinfo=UTC),
        "freemail_domains": set(ref.DEFAULT_FREEMAIL),
    }
    p.update(over)
    return p


def touch(tid, at, email=None, domain=None, given=None, channel="direct", campaign=None):
    if given is None:
        given = domain is not None and email is None
    return {
        "touch_id": tid,
        "occurred_at": at,
        "email": email,
        "account_domain": domain,
        "domain_is_given": given,
        "channel": channel,
        "campaign_id": campaign,
    }


def opp(oid, domain="acme.com", created=T0, closed=CLOSE, won=True, closed_flag=True, amount=10000):
    return {
        "opportunity_id": oid,
        "account_domain": domain,
        "created_at": created,
        "closed_at": closed if closed_flag else None,
        "is_closed": closed_flag,
        "is_won": won,
        "amount_cents": amount,
    }


def n_touches(n, domain="acme.com", start=T0 + timedelta(days=1)):
    return [touch(f"t{i}", start + timedelta(days=i), domain=domain) for i in range(1, n + 1)]


def credit(touches, opps, contacts=(), p=None, models=ref.MODELS):
    p = p or params()
    j = ref.journeys(touches, opps, list(contacts), p)
    return ref.touch_credit(j, opps, p, models=models)


def cents_of(rows, model, oid="o1"):
    rs = sorted(
        (r for r in rows if r["model"] == model and r["opportunity_id"] == oid), key=lambda r: (r["position"] is None, r["position"])
    )
    return [r["credited_cents"] for r in rs]


# --------------------------------------------------------------------------
# SPEC 4 known answers
# --------------------------------------------------------------------------


def test_linear_three_touches_extra_cent_to_position_1():
    rows = credit(n_touches(3), [opp("o1", amount=10000)])
    assert cents_of(rows, "linear") == [3334, 3333, 3333]
    assert cents_of(rows, "first_touch") == [10000]
    assert cents_of(rows, "last_touch") == [10000]
    lin = [r for r in rows if r["model"] == "linear"]
    assert [r["weight"] for r in lin] == [1 / 3] * 3
    ft = [r for r in rows if r["model"] == "first_touch"]
    assert [(r["touch_id"], r["position"], r["n_touches"], r["weight"]) for r in ft] == [("t1", 1, 3, 1.0)]
    lt = [r for r in rows if r["model"] == "last_touch"]
    assert [(r["touch_id"], r["position"]) for r in lt] == [("t3", 3)]


def test_equal_remainders_go_to_earlier_positions():
    # 200 / 3 = 66.67 each: floors 198, two leftover cents -> positions 1 and 2
    rows = credit(n_touches(3), [opp("o1", amount=200)])
    assert cents_of(rows, "linear") == [67, 67, 66]
    # position_based n=5, 1000: 400 | 200/3 x3 | 400 -> middle floors 66, 2 leftover
    rows = credit(n_touches(5), [opp("o1", amount=1000)])
    assert cents_of(rows, "position_based") == [400, 67, 67, 66, 400]


def test_position_based_n4_n2_n1():
    rows = credit(n_touches(4), [opp("o1", amount=1000)])
    assert cents_of(rows, "position_based") == [400, 100, 100, 400]
    pb = [r["weight"] for r in rows if r["model"] == "position_based"]
    assert pb == [0.4, 0.1, 0.1, 0.4]

    rows = credit(n_touches(2), [opp("o1", amount=1000)])
    assert cents_of(rows, "position_based") == [500, 500]

    rows = credit(n_touches(1), [opp("o1", amount=1000)])
    assert cents_of(rows, "position_based") == [1000]
    for model in ref.MODELS:
        assert cents_of(rows, model) == [1000]
        assert [r["weight"] for r in rows if r["model"] == model] == [1.0]


def test_position_based_n2_uses_ratio_f_to_l():
    p = params(position_weights=(Fraction(3, 10), Fraction(1, 5), Fraction(1, 2)))
    rows = credit(n_touches(2), [opp("o1", amount=1000)], p=p)
    assert cents_of(rows, "position_based") == [375, 625]  # 3:5
    # f + l == 0 (m == 1): documented choice, 1/2 each
    p = params(position_weights=(0, 1, 0))
    rows = credit(n_touches(2), [opp("o1", amount=1001)], p=p)
    assert cents_of(rows, "position_based") == [501, 500]
    # ... and with n >= 3 the zero-weight ends are dropped (weight > 0 only)
    rows = credit(n_touches(4), [opp("o1", amount=1001)], p=p)
    pb = [r for r in rows if r["model"] == "position_based"]
    assert [(r["position"], r["credited_cents"]) for r in pb] == [(2, 501), (3, 500)]


def test_position_weights_given_as_floats_are_read_as_decimals():
    assert ref.rational_weights("position_based", 4, (0.4, 0.2, 0.4)) == [Fraction(2, 5), Fraction(1, 10), Fraction(1, 10), Fraction(2, 5)]
    with pytest.raises(ValueError):
        ref.rational_weights("position_based", 3, (0.5, 0.5, 0.5))


def test_time_decay_two_touches_seven_days_apart():
    ts = [touch("a", CLOSE - timedelta(days=7), domain="acme.com"), touch("b", CLOSE, domain="acme.com")]
    rows = credit(ts, [opp("o1", amount=10000)], p=params(half_life_days=7.0))
    td = [r for r in rows if r["model"] == "time_decay"]
    assert [r["touch_id"] for r in td] == ["a", "b"]
    assert math.isclose(td[0]["weight"], 1 / 3, rel_tol=1e-15)
    assert math.isclose(td[1]["weight"], 2 / 3, rel_tol=1e-15)
    assert [r["credited_cents"] for r in td] == [3333, 6667]
    # 100 cents: 33.33 / 66.67 -> larger remainder gets the cent
    rows = credit(ts, [opp("o1", amount=100)], p=params(half_life_days=7.0))
    assert cents_of(rows, "time_decay") == [33, 67]


def test_time_decay_equal_times_and_fractional_days():
    at = CLOSE - timedelta(hours=12)
    ts = [touch("b", at, domain="acme.com"), touch("a", at, domain="acme.com")]
    rows = credit(ts, [opp("o1", amount=101)])
    td = [r for r in rows if r["model"] == "time_decay"]
    assert [r["touch_id"] for r in td] == ["a", "b"]
    assert [r["weight"] for r in td] == [0.5, 0.5]
    assert [r["credited_cents"] for r in td] == [51, 50]  # tie -> earlier position
    # 3.5 days apart with h = 3.5: weights 1/3, 2/3, d measured in fractional days
    w = ref.time_decay_weights([CLOSE - timedelta(days=4), CLOSE - timedelta(hours=12)], CLOSE, 3.5)
    assert math.isclose(w[0], 1 / 3, rel_tol=1e-15) and math.isclose(w[1], 2 / 3, rel_tol=1e-15)


def test_time_decay_underflow_drops_zero_weight_row():
    ts = [touch("old", CLOSE - timedelta(days=3000), domain="acme.com"), touch("new", CLOSE, domain="acme.com")]
    p = params(half_life_days=1.0, lookback_days=4000)
    rows = credit(ts, [opp("o1", amount=500)], p=p)
    td = [r for r in rows if r["model"] == "time_decay"]
    assert [(r["touch_id"], r["weight"], r["credited_cents"]) for r in td] == [("new", 1.0, 500)]


def test_amount_zero_rows_are_kept():
    rows = credit(n_touches(3), [opp("o1", amount=0)])
    for model in ref.MODELS:
        expected = {"first_touch": 1, "last_touch": 1}.get(model, 3)
        rs = [r for r in rows if r["model"] == model]
        assert len(rs) == expected
        assert all(r["credited_cents"] == 0 and r["weight"] > 0 for r in rs)


def test_one_cent_rows_kept_at_zero():
    rows = credit(n_touches(3), [opp("o1", amount=1)])
    assert cents_of(rows, "linear") == [1, 0, 0]
    assert cents_of(rows, "position_based") == [1, 0, 0]  # 0.4 vs 0.4: tie -> earlier


def test_won_deal_without_touch_is_unattributed():
    opps = [opp("o1", amount=12345), opp("o2", domain="other.com", amount=500)]
    rows = credit(n_touches(2), opps)
    un = [r for r in rows if r["opportunity_id"] == "o2"]
    assert len(un) == len(ref.MODELS)
    assert {r["model"] for r in un} == set(ref.MODELS)
    for r in un:
        assert r["touch_id"] is None and r["position"] is None
        assert r["n_touches"] == 0 and r["weight"] == 1.0
        assert r["credited_cents"] == 500 and r["channel"] == "(unattributed)"
        assert r["occurred_at"] is None and r["campaign_id"] is None
    for model in ref.MODELS:
        assert sum(r["credited_cents"] for r in rows if r["model"] == model) == 12345 + 500


def test_only_won_deals_are_credited_but_all_deals_have_journeys():
    opps = [
        opp("won", amount=100),
        opp("lost", won=False, amount=100),
        opp("open", won=False, closed_flag=False, amount=100),
        opp("lost_empty", domain="nobody.com", won=False),
    ]
    ts = n_touches(2)
    j = ref.journeys(ts, opps, [], params())
    assert {r["opportunity_id"] for r in j} == {"won", "lost", "open"}
    rows = ref.touch_credit(j, opps, params())
    assert {r["opportunity_id"] for r in rows} == {"won"}


def test_channel_on_credit_rows():
    ts = [touch("t1", T0 + timedelta(days=1), domain="acme.com", channel="email", campaign="c1")]
    rows = credit(ts, [opp("o1")])
    assert {(r["channel"], r["campaign_id"]) for r in rows} == {("email", "c1")}
    # channel looked up from touches when journeys rows do not carry it
    j = [{k: v for k, v in r.items() if k not in ("channel", "campaign_id")} for r in ref.journeys(ts, [opp("o1")], [], params())]
    rows = ref.touch_credit(j, [opp("o1")], params(), touches=ts)
    assert {r["channel"] for r in rows} == {"email"}


# --------------------------------------------------------------------------
# SPEC 3 known answers
# --------------------------------------------------------------------------


def test_window_bounds_inclusive_to_the_microsecond():
    us = timedelta(microseconds=1)
    created = datetime(2024, 3, 1, 8, 30, 0, 123456, tzinfo=UTC)
    start = created - timedelta(days=30)
    o = opp("o1", created=created, closed=CLOSE)
    ts = [
        touch("before", start - us, domain="acme.com"),
        touch("start", start, domain="acme.com"),
        touch("end", CLOSE, domain="acme.com"),
        touch("after", CLOSE + us, domain="acme.com"),
    ]
    j = ref.journeys(ts, [o], [], params(lookback_days=30))
    assert [(r["touch_id"], r["position"], r["n_touches"]) for r in j] == [("start", 1, 2), ("end", 2, 2)]
    assert all(r["conversion_at"] == CLOSE for r in j)

    # an open deal ends at the as-of time, inclusive
    as_of = datetime(2024, 5, 5, tzinfo=UTC)
    o = opp("o1", created=created, won=False, closed_flag=False)
    ts = [touch("at", as_of, domain="acme.com"), touch("late", as_of + us, domain="acme.com")]
    j = ref.journeys(ts, [o], [], params(as_of=as_of))
    assert [r["touch_id"] for r in j] == ["at"]
    assert j[0]["conversion_at"] == as_of


def test_fractional_lookback_days_are_24_hour_days():
    created = datetime(2024, 3, 10, tzinfo=UTC)
    o = opp("o1", created=created)
    ts = [
        touch("in", created - timedelta(hours=36), domain="acme.com"),
        touch("out", created - timedelta(hours=36, microseconds=1), domain="acme.com"),
    ]
    j = ref.journeys(ts, [o], [], params(lookback_days=1.5))
    assert [r["touch_id"] for r in j] == ["in"]


def test_default_as_of_is_latest_input_timestamp():
    o_open = opp("o1", won=False, closed_flag=False)
    o_closed = opp("o2", domain="b.com", won=False, closed=datetime(2024, 7, 1, tzinfo=UTC))
    ts = [touch("t1", datetime(2024, 2, 1, tzinfo=UTC), domain="acme.com")]
    p = params(as_of=None)
    j = ref.journeys(ts, [o_open, o_closed], [], p)
    assert j[0]["conversion_at"] == datetime(2024, 7, 1, tzinfo=UTC)


def test_freemail_opportunity_matches_only_given_domain():
    o = opp("o1", domain="gmail.com")
    at = T0 + timedelta(days=5)
    ts = [
        touch("given", at, domain="gmail.com", given=True),
        # a derived gmail.com domain never matches a free-mail deal
        # (normally SPEC 1 does not derive it at all)
        touch("derived", at, email="x@gmail.com", domain="gmail.com", given=False),
        touch("plain_email", at, email="y@gmail.com"),
        touch("contact", at, email="boss@gmail.com"),
    ]
    contacts = [{"opportunity_id": "o1", "email": "boss@gmail.com"}]
    j = ref.journeys(ts, [o], contacts, params())
    assert [(r["touch_id"], r["match_type"]) for r in j] == [("contact", "email"), ("given", "domain")]


def test_non_freemail_matches_given_or_derived_domain():
    o = opp("o1", domain="acme.com")
    at = T0 + timedelta(days=5)
    ts = [
        touch("given", at, domain="acme.com", given=True),
        touch("derived", at + timedelta(seconds=1), email="x@acme.com", domain="acme.com", given=False),
        touch("sub", at, email="x@mail.acme.com", domain="mail.acme.com", given=False),
        touch("nodomain", at),
    ]
    j = ref.journeys(ts, [o], [], params())
    assert [r["touch_id"] for r in j] == ["given", "derived"]


def test_email_and_domain_counted_once_as_both():
    o = opp("o1", domain="acme.com")
    at = T0 + timedelta(days=5)
    ts = [
        touch("t_both", at, email="ann@acme.com", domain="acme.com", given=False),
        touch("t_email", at, email="bob@elsewhere.io", domain="elsewhere.io", given=False),
        touch("t_dom", at, email="cy@acme.com", domain="acme.com", given=False),
    ]
    contacts = [
        {"opportunity_id": "o1", "email": "ann@acme.com"},
        {"opportunity_id": "o1", "email": "ann@acme.com"},  # repeated: counts once
        {"opportunity_id": "o1", "email": "bob@elsewhere.io"},
        {"opportunity_id": "o2", "email": "cy@acme.com"},  # another deal's contact
    ]
    j = ref.journeys(ts, [o], contacts, params())
    assert [(r["touch_id"], r["match_type"], r["n_touches"]) for r in j] == [
        ("t_both", "both", 3),
        ("t_dom", "domain", 3),
        ("t_email", "email", 3),
    ]


def test_touch_shared_by_two_deals():
    o1 = opp("o1", amount=1000, closed=datetime(2024, 3, 1, tzinfo=UTC))
    o2 = opp("o2", amount=3000, closed=datetime(2024, 9, 1, tzinfo=UTC))
    ts = [
        touch("early", datetime(2024, 2, 1, tzinfo=UTC), domain="acme.com"),
        touch("mid", datetime(2024, 4, 1, tzinfo=UTC), domain="acme.com"),
    ]
    j = ref.journeys(ts, [o1, o2], [], params())
    assert [(r["opportunity_id"], r["touch_id"], r["position"], r["n_touches"]) for r in j] == [
        ("o1", "early", 1, 1),
        ("o2", "early", 1, 2),
        ("o2", "mid", 2, 2),
    ]
    rows = ref.touch_credit(j, [o1, o2], params())
    assert cents_of(rows, "linear", "o1") == [1000]
    assert cents_of(rows, "linear", "o2") == [1500, 1500]
    for model in ref.MODELS:
        assert sum(r["credited_cents"] for r in rows if r["model"] == model) == 4000


def test_ordering_is_utf8_bytes_c_collation():
    at = T0 + timedelta(days=5)
    ts = [touch(tid, at, domain="acme.com") for tid in ["t9", "é", "t10", "Z", "z"]]
    ts.append(touch("t0", at - timedelta(microseconds=1), domain="acme.com"))
    j = ref.journeys(ts, [opp("o1")], [], params())
    assert [r["touch_id"] for r in j] == ["t0", "Z", "t10", "t9", "z", "é"]
    assert [r["position"] for r in j] == [1, 2, 3, 4, 5, 6]


# --------------------------------------------------------------------------
# properties
# --------------------------------------------------------------------------

_domains = st.sampled_from(["acme.com", "b.io", "gmail.com"])
_offsets = st.integers(min_value=-400 * 86_400_000_000, max_value=30 * 86_400_000_000)


@st.composite
def scenarios(draw):
    n_t = draw(st.integers(0, 8))
    touches = []
    for i in range(n_t):
        dom = draw(st.one_of(st.none(), _domains))
        email = draw(st.one_of(st.none(), st.sampled_from(["a@acme.com", "b@b.io", "c@gmail.com"])))
        touches.append(touch(f"t{i}", CLOSE + timedelta(microseconds=draw(_offsets)), email=email, domain=dom, given=draw(st.booleans())))
    n_o = draw(st.integers(1, 3))
    opps = []
    for i in range(n_o):
        won = draw(st.booleans())
        closed_flag = won or draw(st.booleans())
        close = CLOSE - timedelta(days=draw(st.integers(0, 40)))
        opps.append(
            opp(
                f"o{i}",
                domain=draw(_domains),
                created=close - timedelta(days=draw(st.integers(0, 60))),
                closed=close,
                won=won,
                closed_flag=closed_flag,
                amount=draw(st.integers(0, 10**11)),
            )
        )
    contacts = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "opportunity_id": st.sampled_from([o["opportunity_id"] for o in opps]),
                    "email": st.sampled_from(["a@acme.com", "b@b.io", "c@gmail.com"]),
                }
            ),
            max_size=4,
        )
    )
    f = draw(st.integers(0, 10))
    l = draw(st.integers(0, 10 - f))
    p = params(
        lookback_days=draw(st.sampled_from([0, 1, 30, 365, 0.5])),
        half_life_days=draw(st.sampled_from([0.01, 1.0, 7.0, 30.0])),
        position_weights=(Fraction(f, 10), Fraction(10 - f - l, 10), Fraction(l, 10)),
    )
    return touches, opps, contacts, p


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_property_cents_and_weights_sum(scn):
    touches, opps, contacts, p = scn
    j = ref.journeys(touches, opps, contacts, p)
    # journey shape: positions 1..n, ordered, within the window
    by_opp = defaultdict(list)
    for r in j:
        by_opp[r["opportunity_id"]].append(r)
    for rs in by_opp.values():
        assert [r["position"] for r in rs] == list(range(1, len(rs) + 1))
        assert all(r["n_touches"] == len(rs) for r in rs)
        keys = [(r["occurred_at"], r["touch_id"].encode()) for r in rs]
        assert keys == sorted(keys)

    rows = ref.touch_credit(j, opps, p)
    won = {o["opportunity_id"]: o["amount_cents"] for o in opps if o["is_won"]}
    cents = defaultdict(int)
    weights = defaultdict(list)
    for r in rows:
        assert r["weight"] > 0 and r["credited_cents"] >= 0
        amount = won[r["opportunity_id"]]
        # every row is within one cent of its exact share
        assert abs(r["credited_cents"] - amount * r["weight"]) < 1 + amount * 1e-12
        cents[(r["model"], r["opportunity_id"])] += r["credited_cents"]
        weights[(r["model"], r["opportunity_id"])].append(r["weight"])
    for model in ref.MODELS:
        for oid, amount in won.items():
            assert cents[(model, oid)] == amount
            assert abs(math.fsum(weights[(model, oid)]) - 1) <= 1e-9
        assert sum(cents[(model, oid)] for oid in won) == sum(won.values())


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 12), st.integers(0, 10**12), st.sampled_from(ref.RATIONAL_MODELS))
def test_property_rational_cents_are_floor_or_ceil(n, amount, model):
    w = ref.rational_weights(model, n)
    c = ref.cents_rational(amount, w)
    assert sum(c) == amount
    for wi, ci in zip(w, c):
        assert ci in (math.floor(amount * wi), math.ceil(amount * wi))
