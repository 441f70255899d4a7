"""Pipeline sourcing (funnel issue): hand-derived answers for each definition and its boundaries."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from attribution_pipeline.sample_data import generate
from models.funnel import pipeline_sourcing
from pipeline_runs import output_tables, read, run_cli

UTC = dt.timezone.utc
CREATED = dt.datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
NON_MARKETING = ["direct", "email", "paid_search"]


def at(days: float) -> dt.datetime:
    return CREATED + dt.timedelta(days=days)


def journeys(rows: list[tuple[str, int, float, str | None]]) -> pl.LazyFrame:
    return pl.DataFrame(
        [{"opportunity_id": o, "position": p, "occurred_at": at(d), "channel": c} for o, p, d, c in rows],
        schema={"opportunity_id": pl.String, "position": pl.Int64, "occurred_at": pl.Datetime("us", "UTC"), "channel": pl.String},
    ).lazy()


def deals(rows: list[tuple[str, float, int]]) -> pl.LazyFrame:
    return pl.DataFrame(
        [{"opportunity_id": o, "created_at": at(d), "amount_cents": a} for o, d, a in rows],
        schema={"opportunity_id": pl.String, "created_at": pl.Datetime("us", "UTC"), "amount_cents": pl.Int64},
    ).lazy()


def test_each_sourcing_and_its_boundaries():
    """A: email exactly at created_at -> sourced by email (on or before counts).
    B: direct before creation, paid_search after -> influenced by paid_search.
    C: direct and sales_outreach only -> sales-sourced.
    D: no touches -> sales-sourced.
    E: paid_social at -3 days and email at -1 day -> sourced by the first, paid_social.
    F: a touch without a channel before creation -> sourced, channel (unknown).
    Month of March 2024: 6 deals, amounts 100 + 200 + 300 + 400 + 500 + 600 = 2,100."""
    got = pipeline_sourcing(
        journeys(
            [
                ("A", 1, 0.0, "email"),
                ("B", 1, -2.0, "direct"),
                ("B", 2, 3.0, "paid_search"),
                ("C", 1, -2.0, "direct"),
                ("C", 2, 1.0, "sales_outreach"),
                ("E", 1, -3.0, "paid_social"),
                ("E", 2, -1.0, "email"),
                ("F", 1, -0.5, None),
            ]
        ),
        deals([("A", 0, 100), ("B", 0, 200), ("C", 0, 300), ("D", 0, 400), ("E", 0, 500), ("F", 0, 600)]),
    ).collect()
    march = dt.date(2024, 3, 1)
    expected = pl.DataFrame(
        {
            "created_month": [march] * 5,
            "channel": ["paid_search", "(unknown)", "email", "paid_social", "(none)"],
            "sourcing": ["marketing_influenced", "marketing_sourced", "marketing_sourced", "marketing_sourced", "sales_sourced"],
            "opportunities": [1, 1, 1, 1, 2],
            "amount_cents": [200, 600, 100, 500, 700],
            "share_of_opportunities": [1 / 6, 1 / 6, 1 / 6, 1 / 6, 2 / 6],
            "share_of_amount": [200 / 2100, 600 / 2100, 100 / 2100, 500 / 2100, 700 / 2100],
        }
    )
    assert_frame_equal(got, expected, check_dtypes=False)


def test_a_touch_a_microsecond_after_creation_only_influences():
    late = journeys([("A", 1, 0.0, "email")]).with_columns(occurred_at=pl.lit(CREATED + dt.timedelta(microseconds=1)))
    got = pipeline_sourcing(late, deals([("A", 0, 100)])).collect()
    assert got.get_column("sourcing").to_list() == ["marketing_influenced"]


def test_non_marketing_channels_are_configurable():
    """With paid_search declared non-marketing, B has no marketing touch at all."""
    got = pipeline_sourcing(
        journeys([("B", 1, -2.0, "direct"), ("B", 2, 3.0, "paid_search")]), deals([("B", 0, 200)]), ("direct", "paid_search")
    ).collect()
    assert got.select("channel", "sourcing").rows() == [("(none)", "sales_sourced")]


def test_shares_are_per_created_month_and_sum_to_one():
    got = pipeline_sourcing(
        journeys([("A", 1, -1.0, "email"), ("B", 1, 40.0, "email")]),
        deals([("A", 0, 100), ("B", 30, 0), ("C", 31, 0)]),  # B, C created in April; both amounts 0
    ).collect()
    april = got.filter(pl.col("created_month") == dt.date(2024, 4, 1))
    assert april.get_column("share_of_opportunities").sum() == 1.0
    assert april.get_column("share_of_amount").to_list() == [0.0, 0.0]  # no amount: no share, not NaN
    assert got.filter(pl.col("created_month") == dt.date(2024, 3, 1)).get_column("share_of_amount").to_list() == [1.0]


def check_pipeline_sourcing(url: str) -> None:
    """Every staged opportunity is in exactly one row, to the cent, and each created
    month's shares sum to 1 (non-marketing channels set from the command line, so
    some deals become sales-sourced)."""
    table = output_tables(url)["pipeline_sourcing"]
    deals = read(url, "staging", "opportunities")
    assert table.get_column("opportunities").sum() == deals.height
    assert table.get_column("amount_cents").sum() == deals.get_column("amount_cents").sum()
    months = table.group_by("created_month").agg(pl.col("share_of_opportunities").sum())
    assert all(abs(total - 1) < 1e-12 for total in months.get_column("share_of_opportunities"))
    assert {"marketing_sourced", "sales_sourced"} <= set(table.get_column("sourcing"))
    assert not table.filter(pl.col("channel").is_in(NON_MARKETING)).height


def leads_frame(rows: list[tuple[str, str | None, float | None, float | None]]) -> pl.LazyFrame:
    """(lead_id, owner, mql_at in hours after CREATED, first activity in hours after CREATED)."""
    hour = lambda h: None if h is None else CREATED + dt.timedelta(hours=h)  # noqa: E731
    return pl.DataFrame(
        [{"lead_id": i, "owner": o, "mql_at": hour(m), "first_sales_activity_at": hour(a)} for i, o, m, a in rows],
        schema={
            "lead_id": pl.String,
            "owner": pl.String,
            "mql_at": pl.Datetime("us", "UTC"),
            "first_sales_activity_at": pl.Datetime("us", "UTC"),
        },
    ).lazy()


def test_lead_sla_statuses_and_boundaries():
    """SLA 24 h, as-of = CREATED + 100 h (CREATED is Sunday 2024-03-10 12:00 UTC, so
    its MQL week starts Monday 2024-03-04; +24 h is Monday 2024-03-11, a new week).
    L1: activity after 2 h -> met (2 h).  L2: exactly 24 h -> met (the limit is inclusive).
    L3: 24 h + 1 s -> breached.  L4: no activity, MQL 90 h before as-of -> breached (waiting past the limit).
    L5: no activity, MQL 10 h before as-of -> waiting.  L6: never MQL -> not in the table.
    L7: activity 1 h before mql_at -> met (-1 h)."""
    from models.funnel import lead_sla

    as_of = CREATED + dt.timedelta(hours=100)
    got = lead_sla(
        leads_frame(
            [
                ("L1", "ana", 0, 2),
                ("L2", "ana", 0, 24),
                ("L3", "ben", 0, 24 + 1 / 3600),
                ("L4", "ben", 10, None),
                ("L5", None, 90, None),
                ("L6", "ana", None, None),
                ("L7", "ana", 24, 23),
            ]
        ),
        24.0,
        as_of,
    ).collect()
    assert got.get_column("lead_id").to_list() == ["L1", "L2", "L3", "L4", "L7", "L5"]  # by mql_at, then id
    assert got.get_column("status").to_list() == ["met", "met", "breached", "breached", "met", "waiting"]
    hours = got.get_column("hours_to_first_activity").to_list()
    assert hours[:3] == [2.0, 24.0, pytest.approx(24 + 1 / 3600, abs=1e-9)] and hours[3] is None and hours[4] == -1.0
    assert got.get_column("mql_week").to_list()[:4] == [dt.date(2024, 3, 4)] * 4
    assert got.get_column("mql_week").to_list()[4:] == [dt.date(2024, 3, 11), dt.date(2024, 3, 11)]
    assert got.get_column("owner").to_list()[-1] == "(unassigned)"


def test_lead_sla_compliance_per_week_and_owner():
    """Week of 2024-03-04: ana L1 met, L2 met -> 2/2; ben L3 breached, L4 breached -> 0/2.
    Week of 2024-03-11: ana L7 met -> 1/1; (unassigned) L5 waiting -> no rate yet."""
    from models.funnel import lead_sla, lead_sla_compliance

    per_lead = lead_sla(
        leads_frame(
            [
                ("L1", "ana", 0, 2),
                ("L2", "ana", 0, 24),
                ("L3", "ben", 0, 25),
                ("L4", "ben", 10, None),
                ("L5", None, 90, None),
                ("L7", "ana", 24, 23),
            ]
        ),
        24.0,
        CREATED + dt.timedelta(hours=100),
    )
    got = lead_sla_compliance(per_lead).collect()
    assert got.rows() == [
        (dt.date(2024, 3, 4), "ana", 2, 2, 0, 0, 1.0),
        (dt.date(2024, 3, 4), "ben", 2, 0, 2, 0, 0.0),
        (dt.date(2024, 3, 11), "(unassigned)", 1, 0, 0, 1, None),
        (dt.date(2024, 3, 11), "ana", 1, 1, 0, 0, 1.0),
    ]


LEADS_CSV = """lead_id,email,account_domain,created_at,mql_at,sql_at,first_sales_activity_at,disqualified_at,owner,converted_opportunity_id
L1,a@acme.com,acme.com,2024-03-01T09:00:00Z,2024-03-04T09:00:00Z,,2024-03-04T11:00:00Z,,ana,
L2,b@acme.com,acme.com,2024-03-01T09:00:00Z,2024-03-04T09:00:00Z,2024-03-06T09:00:00Z,2024-03-05T09:00:00Z,,ana,
L3,c@acme.com,acme.com,2024-03-01T09:00:00Z,2024-03-05T09:00:00Z,,2024-03-06T09:00:01Z,,ben,
L4,d@acme.com,acme.com,2024-03-01T09:00:00Z,2024-03-07T09:00:00Z,,,,ben,
L5,e@acme.com,acme.com,2024-03-01T09:00:00Z,,,,2024-03-02T09:00:00Z,,
L6,f@acme.com,acme.com,2024-03-01T09:00:00Z,2024-03-04T09:00:00Z,2024-03-03T09:00:00Z,,,ana,
L7,g@acme.com,acme.com,2024-03-08T08:00:00Z,2024-03-08T09:00:00Z,,,,ana,
"""

LAST_LEAD_TIME = "2024-03-08T09:00:00Z"  # the leads' as-of; L8 must not move it


def converted_lead(landing) -> str:
    """L8: a lead of a sample contact who was touched before 2024-03-08 09:00, converted
    into a won sample deal, with no stage times (it reaches every stage by conversion)."""
    touches = pl.read_csv(landing / "touches.csv", infer_schema=False)
    touches = touches.rename({c: c.strip().lower() for c in touches.columns})
    early = touches.filter(pl.col("occurred_at").str.strip_chars() < "2024-03-01", pl.col("email").str.contains("@"))
    email = early.sort("occurred_at").get_column("email")[0]
    deals = pl.read_csv(landing / "opportunities.csv", infer_schema=False)
    deals = deals.rename({c: c.strip().lower() for c in deals.columns})
    won = deals.filter(pl.col("is_won").str.to_lowercase() == "true").get_column("opportunity_id")[0]
    return f"L8,{email},,{LAST_LEAD_TIME},,,,,,{won}\n"


def check_funnel_monthly(url: str) -> None:
    """March 2024: L1-L5 and L7 have no touch ((none)); L6 is quarantined. MQLs L1 L2 L3 L4 L7,
    SQL L2 only, no opportunity. L8 sits under its first touch's channel, found here in
    plain Python from the staged touches, and is a won deal with the deal's amount."""
    got = output_tables(url)["funnel_monthly"]
    touches = read(url, "staging", "touches")
    deals = read(url, "staging", "opportunities")
    lead = read(url, "staging", "leads").filter(pl.col("lead_id") == "L8").row(0, named=True)
    earlier = [r for r in touches.iter_rows(named=True) if r["email"] == lead["email"] and r["occurred_at"] <= lead["created_at"]]
    first = min(earlier, key=lambda r: (r["occurred_at"], r["touch_id"].encode()))
    amount = deals.filter(pl.col("opportunity_id") == lead["converted_opportunity_id"]).get_column("amount_cents").item()
    march = dt.date(2024, 3, 1)
    columns = [
        "created_month",
        "channel",
        "leads",
        "mqls",
        "sqls",
        "opportunities",
        "won_deals",
        "won_revenue_cents",
        "lead_to_mql",
        "mql_to_sql",
    ]
    assert sorted(got.select(columns).rows()) == sorted(
        [
            (march, "(none)", 6, 5, 1, 0, 0, 0, 5 / 6, 1 / 5),
            (march, first["channel"] or "(unknown)", 1, 1, 1, 1, 1, amount, 1.0, 1.0),
        ]
    )


def check_campaign_cost_per_lead(url: str) -> None:
    """Every model's rows count each of the 7 valid leads once; CPL and CPA are the cost
    over leads and over credited deals wherever both are known and non-zero."""
    got = output_tables(url)["campaign_attribution"]
    assert set(got.group_by("model").agg(pl.col("leads").sum()).get_column("leads")) == {7}
    costed = got.filter(pl.col("cost_cents").is_not_null())
    for row in costed.iter_rows(named=True):
        assert row["cpl"] == (pytest.approx(row["cost_cents"] / 100 / row["leads"]) if row["leads"] else None)
        assert row["cpa"] == (pytest.approx(row["cost_cents"] / 100 / row["credited_deals"]) if row["credited_deals"] else None)
    assert costed.get_column("cpa").is_not_null().any()


def check_lead_sla(url: str) -> None:
    """Hand-derived, as-of = the latest lead timestamp, 2024-03-08T09:00Z, SLA 24 h:
    L1 2 h -> met; L2 24 h -> met (inclusive); L3 24 h 1 s -> breached; L4 no activity,
    MQL 24 h before as-of -> still waiting (not past the limit); L5 never MQL -> absent;
    L6 sql_at before mql_at -> quarantined (rule sql_at.before_mql_at), absent;
    L7 MQL at the as-of itself -> waiting. All in the week of Monday 2024-03-04: ana
    2 met + 1 waiting -> 1.0; ben 1 breached + 1 waiting -> 0.0."""
    sla = read(url, "attribution", "lead_sla").sort("lead_id")
    assert sla.select("lead_id", "status").rows() == [
        ("L1", "met"),
        ("L2", "met"),
        ("L3", "breached"),
        ("L4", "waiting"),
        ("L7", "waiting"),
    ]
    assert sla.get_column("hours_to_first_activity").to_list()[:3] == [2.0, 24.0, pytest.approx(24 + 1 / 3600)]
    quarantined = read(url, "quarantine", "leads")
    assert quarantined.select("rule").to_series().to_list() == ["sql_at.before_mql_at"]
    compliance = (
        read(url, "attribution", "lead_sla_compliance")
        .sort("owner")
        .select("mql_week", "owner", "leads", "met", "breached", "waiting", "compliance")
    )
    assert compliance.rows() == [(dt.date(2024, 3, 4), "ana", 3, 2, 0, 1, 1.0), (dt.date(2024, 3, 4), "ben", 2, 0, 1, 1, 0.0)]


def touches_frame(rows: list[tuple[str, str | None, float, str | None, str | None]]) -> pl.LazyFrame:
    """(touch_id, email, days after CREATED, channel, campaign_id)."""
    return pl.DataFrame(
        [{"touch_id": t, "email": e, "occurred_at": at(d), "channel": c, "campaign_id": k} for t, e, d, c, k in rows],
        schema={
            "touch_id": pl.String,
            "email": pl.String,
            "occurred_at": pl.Datetime("us", "UTC"),
            "channel": pl.String,
            "campaign_id": pl.String,
        },
    ).lazy()


def test_lead_first_touch_known_answers():
    """Leads created at CREATED (A, B, C, D, E) or 40 days before it (A0):
    A (a@x): t1 and t2 both at -8 days, t1 first by touch_id bytes -> paid_search, c2;
      the touch at +1 day is after the lead's creation and does not count.
    A0 (a@x, created at -40 days): no touch precedes it -> (none), even though A's touches exist.
    B (b@x): its only touch is exactly at creation -> counts (at or before): social.
    C (c@x): its only touch is 1 microsecond later -> (none).
    D (no e-mail): (none).  E (e@x): a touch without a channel -> (unknown), campaign c3."""
    from models.funnel import lead_first_touch

    touches = touches_frame(
        [
            ("t2", "a@x", -8, "email", "c1"),
            ("t1", "a@x", -8, "paid_search", "c2"),
            ("t0", "a@x", 1, "social", "c1"),
            ("tb", "b@x", 0, "social", None),
            ("tc", "c@x", 1 / 86_400_000_000, "email", "c1"),
            ("te", "e@x", -1, None, "c3"),
        ]
    )
    leads = pl.DataFrame(
        {
            "lead_id": ["A", "A0", "B", "C", "D", "E"],
            "email": ["a@x", "a@x", "b@x", "c@x", None, "e@x"],
            "created_at": [CREATED, at(-40), CREATED, CREATED, CREATED, CREATED],
        },
        schema={"lead_id": pl.String, "email": pl.String, "created_at": pl.Datetime("us", "UTC")},
    ).lazy()
    got = lead_first_touch(leads, touches).collect().sort("lead_id")
    assert got.rows() == [
        ("A", "paid_search", "c2"),
        ("A0", "(none)", None),
        ("B", "social", None),
        ("C", "(none)", None),
        ("D", "(none)", None),
        ("E", "(unknown)", "c3"),
    ]


def day(month: int, day_: float) -> dt.datetime:
    return dt.datetime(2024, month, 1, tzinfo=UTC) + dt.timedelta(days=day_ - 1)


def test_funnel_monthly_known_answers():
    """March 2024, first touch email:
    L1 created 3/1, MQL 3/3 (2 d), SQL 3/4 (1 d), converted O1 (created 3/6: 2 d), O1 won 3/16 (10 d), 10.00.
    L2 created 3/1, MQL 3/5 (4 d), nothing more.
    L3 created 3/2, no stage times, converted O2 (open): reached MQL, SQL and opportunity (stages are
       cumulative), not won; no step times.
    L4 created 3/2, MQL 3/2 12:00 (0.5 d), SQL 3/3 12:00 (1 d), converted O1 too: O1 counts once, on
       its first lead L1, so L4 stops at SQL.
    L5 created 3/3, converted O9, which is no known opportunity: a lead only.
    -> leads 5; MQLs L1 L2 L3 L4 = 4; SQLs L1 L3 L4 = 3; opportunities L1 L3 = 2; won L1 = 1, 10.00.
       Rates 4/5, 3/4, 2/3, 1/2. Median days: lead->MQL [2, 4, 0.5] -> 2; MQL->SQL [1, 1] -> 1;
       SQL->opportunity [2] (L4's O1 is not its own) -> 2; opportunity->won [10] -> 10.
    April 2024, no first touch (channel (none)):
    L6 created 4/1, converted O3 (lost): MQL, SQL, opportunity 1 each, won 0 -> rates 1, 1, 1, 0; no times."""
    from models.funnel import funnel_monthly

    ts = pl.Datetime("us", "UTC")
    leads = pl.DataFrame(
        {
            "lead_id": ["L1", "L2", "L3", "L4", "L5", "L6"],
            "created_at": [day(3, 1), day(3, 1), day(3, 2), day(3, 2), day(3, 3), day(4, 1)],
            "mql_at": [day(3, 3), day(3, 5), None, day(3, 2.5), None, None],
            "sql_at": [day(3, 4), None, None, day(3, 3.5), None, None],
            "converted_opportunity_id": ["O1", None, "O2", "O1", "O9", "O3"],
        },
        schema={"lead_id": pl.String, "created_at": ts, "mql_at": ts, "sql_at": ts, "converted_opportunity_id": pl.String},
    ).lazy()
    first_touch = pl.LazyFrame({"lead_id": ["L1", "L2", "L3", "L4", "L5"], "channel": ["email"] * 5})
    opportunities = pl.DataFrame(
        {
            "opportunity_id": ["O1", "O2", "O3"],
            "created_at": [day(3, 6), day(3, 10), day(4, 2)],
            "closed_at": [day(3, 16), None, day(4, 5)],
            "is_won": [True, False, False],
            "amount_cents": [1000, 5000, 7000],
        },
        schema={"opportunity_id": pl.String, "created_at": ts, "closed_at": ts, "is_won": pl.Boolean, "amount_cents": pl.Int64},
    ).lazy()
    got = funnel_monthly(leads, first_touch, opportunities).collect()
    expected = pl.DataFrame(
        {
            "created_month": [dt.date(2024, 3, 1), dt.date(2024, 4, 1)],
            "channel": ["email", "(none)"],
            "leads": [5, 1],
            "mqls": [4, 1],
            "sqls": [3, 1],
            "opportunities": [2, 1],
            "won_deals": [1, 0],
            "won_revenue_cents": [1000, 0],
            "lead_to_mql": [0.8, 1.0],
            "mql_to_sql": [0.75, 1.0],
            "sql_to_opportunity": [2 / 3, 1.0],
            "opportunity_to_won": [0.5, 0.0],
            "median_days_lead_to_mql": [2.0, None],
            "median_days_mql_to_sql": [1.0, None],
            "median_days_sql_to_opportunity": [2.0, None],
            "median_days_opportunity_to_won": [10.0, None],
        }
    )
    assert_frame_equal(got, expected, check_dtypes=False)


def test_funnel_rates_are_null_when_a_step_has_no_one():
    from models.funnel import funnel_monthly

    leads = pl.DataFrame(
        {"lead_id": ["L1"], "created_at": [CREATED], "mql_at": [None], "sql_at": [None], "converted_opportunity_id": [None]},
        schema={
            "lead_id": pl.String,
            "created_at": pl.Datetime("us", "UTC"),
            "mql_at": pl.Datetime("us", "UTC"),
            "sql_at": pl.Datetime("us", "UTC"),
            "converted_opportunity_id": pl.String,
        },
    ).lazy()
    deals_ = pl.DataFrame(
        schema={
            "opportunity_id": pl.String,
            "created_at": pl.Datetime("us", "UTC"),
            "closed_at": pl.Datetime("us", "UTC"),
            "is_won": pl.Boolean,
            "amount_cents": pl.Int64,
        }
    ).lazy()
    row = funnel_monthly(leads, pl.LazyFrame({"lead_id": ["L1"], "channel": ["email"]}), deals_).collect().row(0, named=True)
    assert (row["leads"], row["lead_to_mql"], row["mql_to_sql"], row["sql_to_opportunity"], row["opportunity_to_won"]) == (
        1,
        0.0,
        None,
        None,
        None,
    )


def test_campaign_cost_per_lead_and_per_acquisition():
    """linear: O1 (10.00) half to c1, half without a campaign; O2 (3.00) all to c1.
    c1 cost 12.00, 3 leads first touched by it, credited deals 0.5 + 1 = 1.5:
      revenue 8.00, ROAS 8/12, CPL 12.00 / 3 = 4.00, CPA 12.00 / 1.5 = 8.00.
    c2: cost unknown -> CPL and CPA null.  c4: cost 5.00, no leads, no credit -> CPL and CPA null, ROAS 0.
    c9: only on a lead's first touch, not in campaigns -> 1 lead, cost unknown.
    null row: O1's other half, and L4 whose first touch has no campaign. Leads sum to all 5."""
    from models.marts import campaign_attribution

    credit = pl.LazyFrame(
        {
            "model": ["linear"] * 3,
            "opportunity_id": ["O1", "O1", "O2"],
            "campaign_id": ["c1", None, "c1"],
            "weight": [0.5, 0.5, 1.0],
            "credited_cents": [500, 500, 300],
        }
    )
    campaigns = pl.LazyFrame(
        {
            "campaign_id": ["c1", "c2", "c4"],
            "campaign_name": ["One", "Two", "Four"],
            "channel": ["email"] * 3,
            "cost_cents": [1200, None, 500],
        },
        schema={"campaign_id": pl.String, "campaign_name": pl.String, "channel": pl.String, "cost_cents": pl.Int64},
    )
    first = pl.LazyFrame({"lead_id": ["L1", "L2", "L3", "L4", "L5"], "campaign_id": ["c1", "c1", "c1", None, "c9"]})
    got = campaign_attribution(credit, campaigns, ["linear"], first).collect()
    rows = {row["campaign_id"]: row for row in got.iter_rows(named=True)}
    want = {  # revenue, deals, cost, roas, leads, cpl, cpa
        "c1": (800, 1.5, 1200, 800 / 1200, 3, 4.0, 8.0),
        "c2": (0, 0.0, None, None, 0, None, None),
        "c4": (0, 0.0, 500, 0.0, 0, None, None),
        "c9": (0, 0.0, None, None, 1, None, None),
        None: (500, 0.5, None, None, 1, None, None),
    }
    assert set(rows) == set(want)
    for campaign, expect in want.items():
        row = rows[campaign]
        got_row = tuple(row[c] for c in ("credited_revenue_cents", "credited_deals", "cost_cents", "roas", "leads", "cpl", "cpa"))
        assert got_row == pytest.approx(expect), campaign
    assert got.get_column("leads").sum() == 5


def test_stage_velocity_known_answers():
    """Four deals created in March 2024 (days after CREATED), rows given out of order:
    D1 won:  qualification 0, discovery 2, proposal 5, negotiation 6, closed_won 10.
    D2 lost: qualification 0, discovery 4, closed_lost 5.
    D3 open: qualification 0, discovery 1, proposal 2, negotiation 3, proposal 7 (re-entered, still there).
    D4 open: qualification 0 (still there).
    qualification: 4 entered, D4 still in it; finished days [1, 2, 4]: median 2, p75 3
      (linear: index 1.5), p90 3.6 (index 1.8); 3 reached discovery of 3 not waiting -> 1.0.
    discovery: 3 entered; days [1, 1, 3]: median 1, p75 2, p90 2.6; D1 and D3 reached proposal -> 2/3.
    proposal: 2 entered, D3 still in it (its days left out); days [1]; both reached negotiation
      after first entering proposal -> 2 / (2 - 0 waiting) = 1.0.
    negotiation: 2 entered; days [4, 4]; only D1 reached closed_won -> 0.5.
    closed_won / closed_lost: closing entries, no stay, no row."""
    from models.funnel import stage_velocity

    entries = [
        ("D1", "closed_won", 10),
        ("D3", "proposal", 7),
        ("D1", "qualification", 0),
        ("D1", "discovery", 2),
        ("D1", "proposal", 5),
        ("D1", "negotiation", 6),
        ("D2", "qualification", 0),
        ("D2", "discovery", 4),
        ("D2", "closed_lost", 5),
        ("D3", "qualification", 0),
        ("D3", "discovery", 1),
        ("D3", "proposal", 2),
        ("D3", "negotiation", 3),
        ("D4", "qualification", 0),
    ]
    history = pl.DataFrame(
        [{"opportunity_id": o, "stage": s, "entered_at": at(d)} for o, s, d in entries],
        schema={"opportunity_id": pl.String, "stage": pl.String, "entered_at": pl.Datetime("us", "UTC")},
    ).lazy()
    opportunities = pl.DataFrame(
        {"opportunity_id": ["D1", "D2", "D3", "D4"], "is_closed": [True, True, False, False], "created_at": [CREATED] * 4},
        schema={"opportunity_id": pl.String, "is_closed": pl.Boolean, "created_at": pl.Datetime("us", "UTC")},
    ).lazy()
    got = {row["stage"]: row for row in stage_velocity(history, opportunities).collect().iter_rows(named=True)}
    assert set(got) == {"qualification", "discovery", "proposal", "negotiation"}
    expect = {  # entered, still, median, p75, p90, next, converted, conversion
        "qualification": (4, 1, 2.0, 3.0, 3.6, "discovery", 3, 1.0),
        "discovery": (3, 0, 1.0, 2.0, 2.6, "proposal", 2, 2 / 3),
        "proposal": (2, 1, 1.0, 1.0, 1.0, "negotiation", 2, 1.0),
        "negotiation": (2, 0, 4.0, 4.0, 4.0, "closed_won", 1, 0.5),
    }
    for stage, (entered, still, median, p75, p90, nxt, converted, rate) in expect.items():
        row = got[stage]
        assert (row["deals_entered"], row["still_in_stage"], row["next_stage"], row["converted_to_next"]) == (
            entered,
            still,
            nxt,
            converted,
        ), stage
        assert (row["median_days"], row["p75_days"], row["p90_days"]) == pytest.approx((median, p75, p90)), stage
        assert row["conversion_to_next"] == pytest.approx(rate), stage
        assert row["created_month"] == dt.date(2024, 3, 1)


def stage_history_for(landing) -> None:
    """Stage history for two real sample deals, out of order: each went qualification
    (2 days) -> proposal (3 days) -> its closing stage, plus one repeated identical
    row (quarantined as a duplicate row, not double counted)."""
    deals = pl.read_csv(landing / "opportunities.csv", infer_schema=False)
    deals = deals.rename({c: c.strip().lower() for c in deals.columns})
    closed = (
        deals.filter(pl.col("is_closed").str.to_lowercase().is_in(["true", "t", "yes", "y", "1"]))
        .get_column("opportunity_id")
        .head(2)
        .to_list()
    )
    history = (
        "opportunity_id,stage,entered_at\n"
        + "".join(
            f"{o},closed_won,2024-01-06T00:00:00Z\n{o},Qualification,2024-01-01T00:00:00Z\n{o},proposal,2024-01-03T00:00:00Z\n"
            for o in closed
        )
        + f"{closed[0]},proposal,2024-01-03T00:00:00Z\n"
    )
    (landing / "opportunity_stage_history.csv").write_text(history)


def check_stage_velocity(url: str) -> None:
    """With --stage-order qualification,proposal both deals convert from qualification;
    proposal is the last stage of that order."""
    got = read(url, "attribution", "stage_velocity")
    quarantined = read(url, "quarantine", "opportunity_stage_history")
    assert quarantined.get_column("rule").to_list() == ["opportunity_id+stage+entered_at.duplicate_row"]
    totals = got.group_by("stage").agg(pl.col("deals_entered").sum(), pl.col("converted_to_next").sum(), pl.col("median_days").max())
    assert dict(totals.select("stage", "deals_entered").iter_rows()) == {"qualification": 2, "proposal": 2}
    assert dict(totals.select("stage", "median_days").iter_rows()) == {"qualification": 2.0, "proposal": 3.0}
    assert dict(totals.select("stage", "converted_to_next").iter_rows())["qualification"] == 2
    assert got.filter(pl.col("stage") == "proposal").get_column("converted_to_next").is_null().all()  # last stage of the order


@pytest.mark.parametrize("kind", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_funnel_tables_through_the_pipeline(kind, tmp_path, dagster_home, monkeypatch, request):
    """One run per warehouse with hand-made leads and stage history in a sample
    landing folder; each table is checked against its hand-derived answers above."""
    monkeypatch.setenv("ATTRIBUTION_PARTITION_START", "2024-01-01")
    url = f"duckdb:///{tmp_path / 'w.duckdb'}" if kind == "duckdb" else request.getfixturevalue("postgres_database")
    landing = tmp_path / "landing"
    generate(landing, touches=1200, seed=8)
    (landing / "leads.csv").write_text(LEADS_CSV + converted_lead(landing))
    stage_history_for(landing)
    assert (
        run_cli(
            "--source",
            str(landing),
            "--warehouse",
            url,
            "--non-marketing-channels",
            ",".join(NON_MARKETING),
            "--stage-order",
            "qualification,proposal",
        )
        == 0
    )
    check_pipeline_sourcing(url)
    check_lead_sla(url)
    check_stage_velocity(url)
    check_funnel_monthly(url)
    check_campaign_cost_per_lead(url)
