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
