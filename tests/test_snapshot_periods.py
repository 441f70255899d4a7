"""Periods, the quarterly schedule and the drift reasons' order (issue 19), without a run."""

import datetime as dt

import dagster as dg
import polars as pl
import pytest

from attribution_pipeline.definitions import build_definitions
from models.snapshots import ADDED, AMOUNT, DATES, REMOVED, RESTATED, STAGE, TOUCHES, drift, period_bounds, previous_quarter

UTC = dt.UTC


@pytest.mark.parametrize(
    ("period", "start", "end"),
    [
        ("2024-Q1", dt.datetime(2024, 1, 1, tzinfo=UTC), dt.datetime(2024, 4, 1, tzinfo=UTC)),
        ("2024-Q4", dt.datetime(2024, 10, 1, tzinfo=UTC), dt.datetime(2025, 1, 1, tzinfo=UTC)),
        ("2024-12", dt.datetime(2024, 12, 1, tzinfo=UTC), dt.datetime(2025, 1, 1, tzinfo=UTC)),
        ("2019-02", dt.datetime(2019, 2, 1, tzinfo=UTC), dt.datetime(2019, 3, 1, tzinfo=UTC)),
    ],
)
def test_period_bounds(period, start, end):
    assert period_bounds(period) == (start, end)


@pytest.mark.parametrize("bad", ["2024-Q5", "2024-Q0", "2024-13", "2024-00", "Q3-2024", "2024Q3", ""])
def test_a_malformed_period_is_refused_by_name(bad):
    with pytest.raises(ValueError, match="is not YYYY-Qn"):
        period_bounds(bad)


@pytest.mark.parametrize(
    ("day", "quarter"),
    [
        (dt.date(2024, 10, 2), "2024-Q3"),
        (dt.date(2025, 1, 2), "2024-Q4"),
        (dt.date(2024, 4, 1), "2024-Q1"),
        (dt.date(2024, 3, 31), "2023-Q4"),
    ],
)
def test_previous_quarter(day, quarter):
    assert previous_quarter(day) == quarter


def test_the_quarterly_schedule_freezes_the_quarter_that_ended_once():
    defs = build_definitions()
    schedule = defs.resolve_schedule_def("quarterly_snapshot")
    when = dt.datetime(2024, 10, 2, 6, tzinfo=UTC)
    request = schedule.evaluate_tick(dg.build_schedule_context(scheduled_execution_time=when)).run_requests[0]
    assert request.run_key == "2024-Q3"
    assert request.run_config == {"ops": {"freeze_period": {"config": {"period": "2024-Q3", "skip_if_frozen": True}}}}
    assert defs.resolve_job_def("snapshot_job").name == schedule.job_name


FACTS = ["amount_cents", "deal_state", "created_at", "closed_at", "touches", "touches_sha256"]
BASE = (100, "won", dt.datetime(2024, 7, 1, tzinfo=UTC), dt.datetime(2024, 8, 1, tzinfo=UTC), 1, "h")


def _deals(rows: dict[str, tuple]) -> pl.LazyFrame:
    return pl.LazyFrame([(deal, *facts) for deal, facts in rows.items()], schema=["opportunity_id", *FACTS], orient="row").with_columns(
        pl.col("created_at", "closed_at").cast(pl.Datetime("us", "UTC"))
    )


def _credit(rows: dict[str, int]) -> pl.LazyFrame:
    return pl.LazyFrame(
        [("revenue", "linear", deal, "email", cents) for deal, cents in rows.items()],
        schema=["measure", "model", "opportunity_id", "channel", "credited_cents"],
        orient="row",
    )


def test_each_deal_gets_the_first_reason_that_holds():
    """One deal per reason; the amount and the state changed together give amount_changed (tested first)."""
    later = dt.datetime(2024, 8, 2, tzinfo=UTC)
    frozen = {"gone": BASE, "amt": BASE, "stage": BASE, "dates": BASE, "late": BASE, "same": BASE}
    now = {
        "new": BASE,
        "amt": (200, "open", *BASE[2:]),
        "stage": (100, "lost", *BASE[2:]),
        "dates": (*BASE[:3], later, *BASE[4:]),
        "late": (*BASE[:4], 2, "h2"),
        "same": BASE,
    }
    found = drift(
        _credit({deal: 100 for deal in frozen}),
        _deals(frozen),
        _credit({"new": 100, "amt": 200, "stage": 0, "dates": 0, "late": 50, "same": 90}),
        _deals(now),
    ).collect()
    reasons = dict(found.select("opportunity_id", "reason").iter_rows())
    assert reasons == {"gone": REMOVED, "new": ADDED, "amt": AMOUNT, "stage": STAGE, "dates": DATES, "late": TOUCHES, "same": RESTATED}
    assert dict(found.select("opportunity_id", "drift_cents").iter_rows()) == {
        "gone": -100,
        "new": 100,
        "amt": 100,
        "stage": -100,
        "dates": -100,
        "late": -50,
        "same": -10,
    }


def test_freezing_a_warehouse_without_pipeline_credit_names_the_missing_tables(tmp_path):
    """A warehouse last published by a version before issue 19 has runs but no pipeline credit:
    the freeze says which tables are missing and what to do, instead of an SQL error."""
    import sqlalchemy as sa

    from attribution_pipeline.warehouse.client import WarehouseClient
    from attribution_pipeline.warehouse.snapshots import SnapshotRefused, freeze
    from attribution_pipeline.warehouse.tables import RUNS, TOUCH_CREDIT

    client = WarehouseClient(f"duckdb:///{tmp_path / 'old.duckdb'}")
    try:
        with client.transaction() as conn:
            conn.execute(sa.text("CREATE SCHEMA attribution"))
            RUNS.create(conn)
            TOUCH_CREDIT.create(conn)
            conn.execute(
                RUNS.insert().values(run_id="r", status="success", finished_at=dt.datetime(2024, 10, 2, tzinfo=UTC), parameters="{}")
            )
        with pytest.raises(SnapshotRefused) as refused:
            freeze(client, "2024-Q3")
    finally:
        client.dispose()
    message = str(refused.value)
    assert "attribution.pipeline_credit" in message and "attribution.pipeline_campaign_attribution" in message
    assert "attribution.touch_credit" not in message and "attribution run" in message
