"""Identity stitching (models/identity.py, issue 18): known answers derived by hand
from the issue's semantics, and properties over random touches."""

from __future__ import annotations

import datetime as dt

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.identity import identity_links, stitch, stitch_summary

UTC = dt.timezone.utc
T0 = dt.datetime(2024, 3, 1, 12, tzinfo=UTC)
SCHEMA = {
    "touch_id": pl.String,
    "occurred_at": pl.Datetime("us", "UTC"),
    "email": pl.String,
    "anonymous_id": pl.String,
    "account_domain": pl.String,
    "domain_is_given": pl.Boolean,
}


def touches(*rows) -> pl.LazyFrame:
    """(touch_id, hours after T0, email, anonymous_id[, account_domain, domain_is_given])."""
    full = [(*row, None, False) if len(row) == 4 else row for row in rows]
    data = [(tid, T0 + dt.timedelta(hours=hours), email, anon, domain, is_given) for tid, hours, email, anon, domain, is_given in full]
    return pl.DataFrame(data, schema=SCHEMA, orient="row").lazy()


def identities(*rows) -> pl.LazyFrame:
    """(anonymous_id, email, hours after T0)."""
    data = [(anon, email, T0 + dt.timedelta(hours=hours)) for anon, email, hours in rows]
    schema = {"anonymous_id": pl.String, "email": pl.String, "identified_at": pl.Datetime("us", "UTC")}
    return pl.DataFrame(data, schema=schema, orient="row").lazy()


def emails(frame: pl.LazyFrame, window=None, ids=None, domain_of=None) -> dict[str, tuple]:
    links = identity_links(frame, ids)
    out = stitch(frame, links, window, domain_of).collect()
    return {row["touch_id"]: (row["email"], row["identity"]) for row in out.iter_rows(named=True)}


def test_one_anonymous_id_with_one_email_stitches_before_and_after_the_link():
    # three blog reads under cookie c1, the form fill at hour 30 says who it is, a later visit
    frame = touches(("t1", 0, None, "c1"), ("t2", 5, None, "c1"), ("t3", 30, "ann@acme.com", "c1"), ("t4", 50, None, "c1"))
    assert emails(frame) == {
        "t1": ("ann@acme.com", "stitched"),
        "t2": ("ann@acme.com", "stitched"),
        "t3": ("ann@acme.com", "given"),
        "t4": ("ann@acme.com", "stitched"),
    }


def test_an_anonymous_id_with_two_emails_is_ambiguous_and_stitches_nothing():
    frame = touches(("t1", 0, None, "shared"), ("t2", 1, "ann@acme.com", "shared"), ("t3", 2, "bob@acme.com", "shared"))
    links = identity_links(frame).collect()
    assert links.select("anonymous_id", "email", "ambiguous").rows() == [
        ("shared", "ann@acme.com", True),
        ("shared", "bob@acme.com", True),
    ]
    assert emails(frame)["t1"] == (None, None)
    summary = stitch_summary(stitch(frame, identity_links(frame)), identity_links(frame))
    assert summary == {"touches_with_anonymous_id": 3, "touches_stitched": 0, "touches_left_anonymous": 1, "anonymous_ids_ambiguous": 1}


def test_a_touch_with_its_own_email_keeps_it_on_a_stitched_anonymous_id():
    # c1 links to ann only through identities; the touch with bob's address keeps bob
    frame = touches(("t1", 0, None, "c1"), ("t2", 1, "bob@acme.com", None))
    ids = identities(("c1", "ann@acme.com", 10))
    assert emails(frame, ids=ids) == {"t1": ("ann@acme.com", "stitched"), "t2": ("bob@acme.com", "given")}


def test_a_touch_email_on_the_same_id_makes_it_ambiguous_even_when_identities_agree_elsewhere():
    frame = touches(("t1", 0, None, "c1"), ("t2", 1, "bob@acme.com", "c1"))
    ids = identities(("c1", "ann@acme.com", 10))
    assert emails(frame, ids=ids) == {"t1": (None, None), "t2": ("bob@acme.com", "given")}


def test_a_link_only_in_identities_stitches_and_is_recorded_as_such():
    frame = touches(("t1", 0, None, "c9"), ("t2", 3, None, "c9"))
    ids = identities(("c9", "cy@beta.io", 2))
    links = identity_links(frame, ids).collect()
    assert links.rows() == [("c9", "cy@beta.io", T0 + dt.timedelta(hours=2), "identities", False)]
    assert emails(frame, ids=ids) == {"t1": ("cy@beta.io", "stitched"), "t2": ("cy@beta.io", "stitched")}


def test_the_window_boundary_to_the_microsecond_on_both_sides():
    link = 100  # hours: the form fill
    window = dt.timedelta(days=2)
    exactly = window / dt.timedelta(hours=1)  # 48 hours
    micro = 1 / 3_600_000_000  # one microsecond, in hours
    frame = touches(
        ("before_in", link - exactly, None, "c1"),
        ("before_out", link - exactly - micro, None, "c1"),
        ("fill", link, "ann@acme.com", "c1"),
        ("after_in", link + exactly, None, "c1"),
        ("after_out", link + exactly + micro, None, "c1"),
    )
    got = emails(frame, window=window)
    assert got["before_in"] == got["after_in"] == ("ann@acme.com", "stitched")
    assert got["before_out"] == got["after_out"] == (None, None)
    assert emails(frame)["after_out"] == ("ann@acme.com", "stitched")  # no window: no limit


def test_the_first_link_is_the_earliest_of_touch_and_identities():
    window = dt.timedelta(hours=10)
    frame = touches(("t1", 5, None, "c1"), ("fill", 40, "ann@acme.com", "c1"))
    ids = identities(("c1", "ann@acme.com", 0))  # identified earlier than the form fill
    assert emails(frame, window=window, ids=ids)["t1"] == ("ann@acme.com", "stitched")
    links = identity_links(frame, ids).collect()
    assert links.select("first_linked_at", "source").row(0) == (T0, "touch")


def test_a_stitched_email_derives_the_account_domain_unless_free_mail_or_given():
    free = {"gmail.com"}

    def domain_of(email: pl.Expr) -> pl.Expr:  # the contract's derivation, in small
        domain = email.str.extract(r"@([^@]*)$", 1)
        return pl.when(~domain.is_in(sorted(free))).then(domain)

    frame = touches(
        ("a", 0, None, "c1", None, False),
        ("a_fill", 1, "ann@acme.com", "c1", "acme.com", False),
        ("g", 0, None, "c2", None, False),
        ("g_fill", 1, "gus@gmail.com", "c2", None, False),
        ("kept", 0, None, "c1", "given.org", True),
    )
    out = stitch(frame, identity_links(frame), None, domain_of).collect()
    domains = dict(zip(out.get_column("touch_id"), out.get_column("account_domain")))
    assert domains == {"a": "acme.com", "a_fill": "acme.com", "g": None, "g_fill": None, "kept": "given.org"}


def test_no_anonymous_id_means_no_stitching():
    frame = touches(("t1", 0, None, None), ("t2", 1, "ann@acme.com", None))
    assert emails(frame) == {"t1": (None, None), "t2": ("ann@acme.com", "given")}
    assert identity_links(frame).collect().height == 0


ANONS = st.sampled_from([None, "c1", "c2", "c3"])
EMAILS = st.sampled_from([None, None, "ann@acme.com", "bob@acme.com"])


@st.composite
def random_touches(draw):
    n = draw(st.integers(min_value=1, max_value=40))
    return [(f"t{i:02d}", draw(st.integers(0, 500)), draw(EMAILS), draw(ANONS)) for i in range(n)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=random_touches(), hours=st.one_of(st.none(), st.integers(1, 300)), seed=st.randoms())
def test_properties_own_email_kept_order_free_and_off_is_identity(rows, hours, seed):
    window = None if hours is None else dt.timedelta(hours=hours)
    frame = touches(*rows)
    result = emails(frame, window)
    for touch_id, _, email, anon in rows:
        if email is not None:  # stitching never changes a touch that has an e-mail
            assert result[touch_id] == (email, "given")
        elif anon is None:
            assert result[touch_id] == (None, None)
    shuffled = rows[:]
    seed.shuffle(shuffled)
    assert emails(touches(*shuffled), window) == result  # row order changes nothing
    # without anonymous ids (stitching off), every touch keeps exactly what it had
    off = emails(touches(*[(tid, h, email, None) for tid, h, email, _ in rows]), window)
    assert off == {tid: (email, "given" if email else None) for tid, _, email, _ in rows}


def journey_inputs(rows):
    """Staged touches as the contract gives them (domain derived from the e-mail), and
    three deals: acme.com (contact ann), beta.io (contact bob@acme.com), gmail.com."""
    staged = (
        touches(*rows)
        .with_columns(account_domain=pl.col("email").str.extract(r"@(.*)$", 1), domain_is_given=pl.lit(False))
        .with_columns(channel=pl.lit("paid_search"), campaign_id=pl.lit(None, pl.String), touch_type=pl.lit(None, pl.String))
    )
    deals = pl.DataFrame(
        {
            "opportunity_id": ["o_acme", "o_beta"],
            "account_domain": ["acme.com", "beta.io"],
            "created_at": [T0 + dt.timedelta(hours=200)] * 2,
            "closed_at": [T0 + dt.timedelta(hours=400)] * 2,
            "is_closed": [True, True],
            "is_won": [True, True],
            "amount_cents": [1000, 2000],
        }
    ).lazy()
    contacts = pl.DataFrame({"opportunity_id": ["o_acme", "o_beta"], "email": ["ann@acme.com", "bob@acme.com"]}).lazy()
    return staged, deals, contacts


def journey_rows(staged, deals, contacts, params) -> list[tuple]:
    from assets.staging import stitched_touches
    from models.journeys import build_journeys

    links = identity_links(staged)
    frame = build_journeys(stitched_touches(staged, links, params), deals, contacts, params, None).collect()
    return sorted(frame.select("opportunity_id", "touch_id", "position", "match_type", "identity").rows())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=random_touches(), seed=st.randoms())
def test_journey_properties_off_is_today_and_order_free(rows, seed):
    """Through the pipeline's own stitching step and SPEC 3 matching: --no-stitching gives
    exactly the journeys of touches without anonymous ids, and row order changes nothing."""
    from models.journeys import build_journeys
    from models.params import AttributionParams

    on, off = AttributionParams(lookback_days=30), AttributionParams(lookback_days=30, stitch_identities=False)
    staged, deals, contacts = journey_inputs(rows)
    today = build_journeys(staged.drop("anonymous_id"), deals, contacts, off, None).collect()
    today_rows = sorted(today.select("opportunity_id", "touch_id", "position", "match_type", "identity").rows())
    assert journey_rows(staged, deals, contacts, off) == today_rows
    shuffled = rows[:]
    seed.shuffle(shuffled)
    assert journey_rows(journey_inputs(shuffled)[0], deals, contacts, on) == journey_rows(staged, deals, contacts, on)
