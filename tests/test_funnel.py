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


@pytest.mark.parametrize("kind", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_pipeline_sourcing_table_accounts_for_every_opportunity(kind, tmp_path, dagster_home, monkeypatch, request):
    """Through the whole pipeline: every staged opportunity is in exactly one row, to
    the cent, and each created month's shares sum to 1 (non-marketing channels set
    from the command line, so some deals become sales-sourced)."""
    monkeypatch.setenv("ATTRIBUTION_PARTITION_START", "2023-01-01")
    url = f"duckdb:///{tmp_path / 'w.duckdb'}" if kind == "duckdb" else request.getfixturevalue("postgres_database")
    generate(tmp_path / "landing", touches=1200, seed=8)
    assert run_cli("--source", str(tmp_path / "landing"), "--warehouse", url, "--non-marketing-channels", "direct,email,paid_search") == 0
    table = output_tables(url)["pipeline_sourcing"]
    deals = read(url, "staging", "opportunities")
    assert table.get_column("opportunities").sum() == deals.height
    assert table.get_column("amount_cents").sum() == deals.get_column("amount_cents").sum()
    months = table.group_by("created_month").agg(pl.col("share_of_opportunities").sum())
    assert all(abs(total - 1) < 1e-12 for total in months.get_column("share_of_opportunities"))
    assert {"marketing_sourced", "sales_sourced"} <= set(table.get_column("sourcing"))
    assert not table.filter(pl.col("channel").is_in(["direct", "email", "paid_search"])).height


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


@pytest.mark.parametrize("kind", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_lead_sla_through_the_pipeline(kind, tmp_path, dagster_home, monkeypatch, request):
    """Hand-derived, as-of = the latest lead timestamp, 2024-03-08T09:00Z, SLA 24 h:
    L1 2 h -> met; L2 24 h -> met (inclusive); L3 24 h 1 s -> breached; L4 no activity,
    MQL 24 h before as-of -> still waiting (not past the limit); L5 never MQL -> absent;
    L6 sql_at before mql_at -> quarantined (rule sql_at.before_mql_at), absent;
    L7 MQL at the as-of itself -> waiting. All in the week of Monday 2024-03-04: ana
    2 met + 1 waiting -> 1.0; ben 1 breached + 1 waiting -> 0.0."""
    monkeypatch.setenv("ATTRIBUTION_PARTITION_START", "2023-01-01")
    url = f"duckdb:///{tmp_path / 'w.duckdb'}" if kind == "duckdb" else request.getfixturevalue("postgres_database")
    generate(tmp_path / "landing", touches=600, seed=2)
    (tmp_path / "landing" / "leads.csv").write_text(LEADS_CSV)
    assert run_cli("--source", str(tmp_path / "landing"), "--warehouse", url) == 0
    sla = read(url, "attribution", "lead_sla").sort("lead_id")
    assert sla.select("lead_id", "status").rows() == [("L1", "met"), ("L2", "met"), ("L3", "breached"), ("L4", "waiting"), ("L7", "waiting")]
    assert sla.get_column("hours_to_first_activity").to_list()[:3] == [2.0, 24.0, pytest.approx(24 + 1 / 3600)]
    quarantined = read(url, "quarantine", "leads")
    assert quarantined.select("rule").to_series().to_list() == ["sql_at.before_mql_at"]
    compliance = read(url, "attribution", "lead_sla_compliance").sort("owner").select("mql_week", "owner", "leads", "met", "breached", "waiting", "compliance")
    assert compliance.rows() == [(dt.date(2024, 3, 4), "ana", 3, 2, 0, 1, 1.0), (dt.date(2024, 3, 4), "ben", 2, 0, 1, 1, 0.0)]
