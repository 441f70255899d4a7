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
        journeys([
            ("A", 1, 0.0, "email"),
            ("B", 1, -2.0, "direct"), ("B", 2, 3.0, "paid_search"),
            ("C", 1, -2.0, "direct"), ("C", 2, 1.0, "sales_outreach"),
            ("E", 1, -3.0, "paid_social"), ("E", 2, -1.0, "email"),
            ("F", 1, -0.5, None),
        ]),
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
        schema={"lead_id": pl.String, "owner": pl.String, "mql_at": pl.Datetime("us", "UTC"), "first_sales_activity_at": pl.Datetime("us", "UTC")},
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
        leads_frame([
            ("L1", "ana", 0, 2), ("L2", "ana", 0, 24), ("L3", "ben", 0, 24 + 1 / 3600),
            ("L4", "ben", 10, None), ("L5", None, 90, None), ("L6", "ana", None, None), ("L7", "ana", 24, 23),
        ]),
        24.0, as_of,
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
        leads_frame([("L1", "ana", 0, 2), ("L2", "ana", 0, 24), ("L3", "ben", 0, 25), ("L4", "ben", 10, None),
                     ("L5", None, 90, None), ("L7", "ana", 24, 23)]),
        24.0, CREATED + dt.timedelta(hours=100),
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


def check_lead_sla(url: str) -> None:
    """Hand-derived, as-of = the latest lead timestamp, 2024-03-08T09:00Z, SLA 24 h:
    L1 2 h -> met; L2 24 h -> met (inclusive); L3 24 h 1 s -> breached; L4 no activity,
    MQL 24 h before as-of -> still waiting (not past the limit); L5 never MQL -> absent;
    L6 sql_at before mql_at -> quarantined (rule sql_at.before_mql_at), absent;
    L7 MQL at the as-of itself -> waiting. All in the week of Monday 2024-03-04: ana
    2 met + 1 waiting -> 1.0; ben 1 breached + 1 waiting -> 0.0."""
    sla = read(url, "attribution", "lead_sla").sort("lead_id")
    assert sla.select("lead_id", "status").rows() == [("L1", "met"), ("L2", "met"), ("L3", "breached"), ("L4", "waiting"), ("L7", "waiting")]
    assert sla.get_column("hours_to_first_activity").to_list()[:3] == [2.0, 24.0, pytest.approx(24 + 1 / 3600)]
    quarantined = read(url, "quarantine", "leads")
    assert quarantined.select("rule").to_series().to_list() == ["sql_at.before_mql_at"]
    compliance = read(url, "attribution", "lead_sla_compliance").sort("owner").select("mql_week", "owner", "leads", "met", "breached", "waiting", "compliance")
    assert compliance.rows() == [(dt.date(2024, 3, 4), "ana", 3, 2, 0, 1, 1.0), (dt.date(2024, 3, 4), "ben", 2, 0, 1, 1, 0.0)]



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
        ("D1", "closed_won", 10), ("D3", "proposal", 7), ("D1", "qualification", 0), ("D1", "discovery", 2), ("D1", "proposal", 5),
        ("D1", "negotiation", 6), ("D2", "qualification", 0), ("D2", "discovery", 4), ("D2", "closed_lost", 5),
        ("D3", "qualification", 0), ("D3", "discovery", 1), ("D3", "proposal", 2), ("D3", "negotiation", 3), ("D4", "qualification", 0),
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
        assert (row["deals_entered"], row["still_in_stage"], row["next_stage"], row["converted_to_next"]) == (entered, still, nxt, converted), stage
        assert (row["median_days"], row["p75_days"], row["p90_days"]) == pytest.approx((median, p75, p90)), stage
        assert row["conversion_to_next"] == pytest.approx(rate), stage
        assert row["created_month"] == dt.date(2024, 3, 1)


def stage_history_for(landing) -> None:
    """Stage history for two real sample deals, out of order: each went qualification
    (2 days) -> proposal (3 days) -> its closing stage, plus one repeated identical
    row (quarantined as a duplicate row, not double counted)."""
    deals = pl.read_csv(landing / "opportunities.csv", infer_schema=False)
    deals = deals.rename({c: c.strip().lower() for c in deals.columns})
    closed = deals.filter(pl.col("is_closed").str.to_lowercase().is_in(["true", "t", "yes", "y", "1"])).get_column("opportunity_id").head(2).to_list()
    history = "opportunity_id,stage,entered_at\n" + "".join(
        f"{o},closed_won,2024-01-06T00:00:00Z\n{o},Qualification,2024-01-01T00:00:00Z\n{o},proposal,2024-01-03T00:00:00Z\n" for o in closed
    ) + f"{closed[0]},proposal,2024-01-03T00:00:00Z\n"
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
    monkeypatch.setenv("ATTRIBUTION_PARTITION_START", "2023-01-01")
    url = f"duckdb:///{tmp_path / 'w.duckdb'}" if kind == "duckdb" else request.getfixturevalue("postgres_database")
    landing = tmp_path / "landing"
    generate(landing, touches=1200, seed=8)
    (landing / "leads.csv").write_text(LEADS_CSV)
    stage_history_for(landing)
    assert run_cli(
        "--source", str(landing), "--warehouse", url,
        "--non-marketing-channels", ",".join(NON_MARKETING), "--stage-order", "qualification,proposal",
    ) == 0
    check_pipeline_sourcing(url)
    check_lead_sla(url)
    check_stage_velocity(url)
