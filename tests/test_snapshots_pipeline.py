"""Pipeline credit, period snapshots and drift end to end (issue 19), on DuckDB and on
PostgreSQL: a hand-written landing folder run once (v1), 2024-Q3 frozen, the CRM and
touches changed (v2) and run again. Models first_touch and linear; every deal matches
its touches by account domain (``<deal>.example``); the as-of time is fixed. Every
expected value below is derived by hand from the rows.

v1, created in 2024-Q3 unless said:
- P open, 1000.00, created 07-10T00:00Z: p1 (07-01, paid_search), p2 exactly at
  created_at (email, in), p3 1 microsecond later (display, out of its pipeline journey).
- W won 600.00, created 07-05, closed 08-15: w1 before creation (events), w2 after (paid_social).
- L lost 300.00, created 07-20: l1 (display).
- U won 200.00, created 08-01, closed 09-01: u1 after creation only, so its pipeline is
  (unattributed) and its revenue email.
- R won 400.00, created 06-01 (2024-Q2), closed 09-10: r1 (organic_search). Re-opened in v2.
- A won 500.00, created 07-01, closed 09-20: a1 (direct). Amount 700.00 in v2.
- T won 800.00, created 07-15, closed 09-25: t1 (07-01, paid_search). v2 adds t0 (06-28,
  email), a touch that arrived late.
v2 also adds N, open, 250.00, created 09-05: n1 (events).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import shutil
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from attribution_pipeline.app.cli import main
from attribution_pipeline.orchestration.resources import Warehouse
from attribution_pipeline.orchestration.snapshots import snapshot_job
from attribution_pipeline.report.page import render
from attribution_pipeline.report.queries import load
from attribution_pipeline.warehouse.client import WarehouseClient, conform
from attribution_pipeline.warehouse.tables import (
    CHANNEL_ATTRIBUTION,
    PIPELINE_CHANNEL_ATTRIBUTION,
    PIPELINE_CREDIT,
    SNAPSHOT_DRIFT,
    SNAPSHOT_TABLES,
    SNAPSHOTS,
    SNAPSHOTS_CHANNEL,
)
from pipeline_runs import run_in_own_home

TOUCHES_V1 = [  # (touch_id, occurred_at, account_domain, channel)
    ("p1", "2024-07-01T00:00:00Z", "p.example", "paid_search"),
    ("p2", "2024-07-10T00:00:00Z", "p.example", "email"),
    ("p3", "2024-07-10T00:00:00.000001Z", "p.example", "display"),
    ("w1", "2024-07-01T00:00:00Z", "w.example", "events"),
    ("w2", "2024-08-01T00:00:00Z", "w.example", "paid_social"),
    ("l1", "2024-07-15T00:00:00Z", "l.example", "display"),
    ("u1", "2024-08-10T00:00:00Z", "u.example", "email"),
    ("r1", "2024-05-20T00:00:00Z", "r.example", "organic_search"),
    ("a1", "2024-06-25T00:00:00Z", "a.example", "direct"),
    ("t1", "2024-07-01T00:00:00Z", "t.example", "paid_search"),
]
TOUCHES_V2 = [*TOUCHES_V1, ("t0", "2024-06-28T00:00:00Z", "t.example", "email"), ("n1", "2024-09-01T00:00:00Z", "n.example", "events")]
WON, LOST, OPEN = ("closed_won", "true", "true"), ("closed_lost", "true", "false"), ("open", "false", "false")
DEALS_V1 = {  # deal -> (created, closed, (stage, is_closed, is_won), amount)
    "P": ("2024-07-10T00:00:00Z", "", OPEN, "1000.00"),
    "W": ("2024-07-05", "2024-08-15", WON, "600.00"),
    "L": ("2024-07-20", "2024-08-20", LOST, "300.00"),
    "U": ("2024-08-01", "2024-09-01", WON, "200.00"),
    "R": ("2024-06-01", "2024-09-10", WON, "400.00"),
    "A": ("2024-07-01", "2024-09-20", WON, "500.00"),
    "T": ("2024-07-15", "2024-09-25", WON, "800.00"),
}
DEALS_V2 = {
    **DEALS_V1,
    "R": ("2024-06-01", "", OPEN, "400.00"),
    "A": ("2024-07-01", "2024-09-20", WON, "700.00"),
    "N": ("2024-09-05", "", OPEN, "250.00"),
}
ARGS = ("--models", "first_touch,linear", "--as-of", "2024-12-01T00:00:00Z")

# The frozen 2024-Q3 figures per (model, channel): credited revenue (W U R A T closed in
# Q3) and pipeline created (P W L U A T created in Q3), cents.
FROZEN_REVENUE = {
    "first_touch": {"events": 60_000, "email": 20_000, "organic_search": 40_000, "direct": 50_000, "paid_search": 80_000},
    "linear": {"events": 30_000, "paid_social": 30_000, "email": 20_000, "organic_search": 40_000, "direct": 50_000, "paid_search": 80_000},
}
FROZEN_PIPELINE = {
    "first_touch": {"paid_search": 180_000, "events": 60_000, "display": 30_000, "(unattributed)": 20_000, "direct": 50_000},
    "linear": {"paid_search": 130_000, "email": 50_000, "events": 60_000, "display": 30_000, "(unattributed)": 20_000, "direct": 50_000},
}
# Drift after v2: (measure, model, channel, deal) -> (cents, reason)
DRIFT = {
    **{(measure, model, "direct", "A"): (20_000, "amount_changed") for measure in ("revenue", "pipeline") for model in FROZEN_REVENUE},
    **{("revenue", model, "organic_search", "R"): (-40_000, "stage_changed") for model in FROZEN_REVENUE},
    **{(measure, "first_touch", "paid_search", "T"): (-80_000, "touches_changed") for measure in ("revenue", "pipeline")},
    **{(measure, "first_touch", "email", "T"): (80_000, "touches_changed") for measure in ("revenue", "pipeline")},
    **{(measure, "linear", "paid_search", "T"): (-40_000, "touches_changed") for measure in ("revenue", "pipeline")},
    **{(measure, "linear", "email", "T"): (40_000, "touches_changed") for measure in ("revenue", "pipeline")},
    **{("pipeline", model, "events", "N"): (25_000, "added_after_freeze") for model in FROZEN_REVENUE},
}


def _write(path: Path, header: list[str], rows) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def write_landing(folder: Path, touches, deals) -> Path:
    folder.mkdir(parents=True)
    _write(
        folder / "touches.csv",
        ["touch_id", "occurred_at", "email", "account_domain", "channel"],
        [(t, at, "", d, c) for t, at, d, c in touches],
    )
    _write(
        folder / "opportunities.csv",
        ["opportunity_id", "account_domain", "created_at", "closed_at", "stage", "is_closed", "is_won", "amount"],
        [(deal, f"{deal.lower()}.example", created, closed, *state, amount) for deal, (created, closed, state, amount) in deals.items()],
    )
    _write(folder / "opportunity_contacts.csv", ["opportunity_id", "email"], [("P", "pat@p.example")])  # on no touch
    _write(folder / "campaigns.csv", ["campaign_id", "campaign_name", "channel", "start_date"], [("c", "C", "email", "2024-01-01")])
    return folder


def snapshot(url: str, *args: str) -> tuple[int, str]:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["snapshot", "--warehouse", url, "--period", "2024-Q3", *args])
    return code, printed.getvalue()


def read(url: str, table) -> pl.DataFrame:
    client = WarehouseClient(url)
    try:
        return conform(client.read(table.schema, table.name), table)
    finally:
        client.dispose()


def rows_hash(url: str, snapshot_id: str) -> str:
    """sha256 over every row of a snapshot, in every snapshot table, sorted (the header
    without the two columns a supersede sets)."""
    digest = hashlib.sha256()
    for table in SNAPSHOT_TABLES:
        frame = read(url, table).filter(pl.col("snapshot_id") == snapshot_id)
        if table is SNAPSHOTS:
            frame = frame.drop("superseded_by", "superseded_at")
        digest.update(frame.sort(frame.columns, nulls_last=True).write_csv().encode())
    return digest.hexdigest()


def _snapshot_job(url: str, period: str) -> bool:
    config = {"ops": {"freeze_period": {"config": {"period": period, "skip_if_frozen": True}}}}
    result = snapshot_job.execute_in_process(
        run_config=config, resources={"warehouse": Warehouse(url=url)}, instance=dg.DagsterInstance.ephemeral()
    )
    return result.success


def _scenario(folder: Path, url: str) -> dict:
    """v1, the freeze, v2 and the checks' inputs, recorded for the tests below."""
    v1 = write_landing(folder / "v1", TOUCHES_V1, DEALS_V1)
    v2 = write_landing(folder / "v2", TOUCHES_V2, DEALS_V2)
    (folder / "one").mkdir()
    (folder / "two").mkdir()
    with contextlib.redirect_stdout(io.StringIO()):
        run_in_own_home(folder / "one", v1, url, *ARGS)
    facts = {"pipeline_credit_v1": read(url, PIPELINE_CREDIT), "freeze": snapshot(url)}
    facts["hash_frozen"] = rows_hash(url, "2024-Q3-v1")
    with contextlib.redirect_stdout(io.StringIO()):
        run_in_own_home(folder / "two", v2, url, *ARGS)
    facts["hash_after_run"] = rows_hash(url, "2024-Q3-v1")
    for table in (SNAPSHOTS_CHANNEL, SNAPSHOT_DRIFT, CHANNEL_ATTRIBUTION, PIPELINE_CHANNEL_ATTRIBUTION, SNAPSHOTS):
        facts[table.name] = read(url, table)
    facts["report"] = load(url, "linear", None, None)
    facts["refreeze"] = snapshot(url)
    facts["supersede"] = snapshot(url, "--supersede")
    facts["hash_superseded"] = rows_hash(url, "2024-Q3-v1")
    facts["job"] = [_snapshot_job(url, period) for period in ("2024-Q3", "2024-Q2")]  # the schedule's run config
    facts["headers"] = read(url, SNAPSHOTS)
    facts["drift_after_supersede"] = read(url, SNAPSHOT_DRIFT)
    return facts


@pytest.fixture(scope="module", params=["duckdb", "postgresql"])
def scenario(request, tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp(f"snapshots_{request.param}")
    if request.param == "duckdb":
        return _scenario(folder, f"duckdb:///{folder / 'warehouse.duckdb'}")
    database = request.getfixturevalue("postgres_database_module")
    try:
        return _scenario(folder, database)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_pipeline_credit_cuts_the_journey_at_created_at(scenario):
    """p2 at created_at is in, p3 1 µs after is out; U has no touch before creation."""
    credit = scenario["pipeline_credit_v1"]
    linear_p = credit.filter(model="linear", opportunity_id="P").sort("position")
    assert linear_p.get_column("touch_id").to_list() == ["p1", "p2"]
    assert linear_p.get_column("credited_cents").to_list() == [50_000, 50_000]
    states = dict(credit.filter(model="first_touch").select("opportunity_id", "deal_state").unique().iter_rows())
    assert states == {"P": "open", "W": "won", "L": "lost", "U": "won", "R": "won", "A": "won", "T": "won"}
    assert credit.filter(opportunity_id="U").get_column("channel").unique().to_list() == ["(unattributed)"]
    per_deal = credit.group_by("model", "opportunity_id").agg(pl.col("credited_cents").sum())
    amounts = {deal: int(float(amount) * 100) for deal, (_, _, _, amount) in DEALS_V1.items()}
    assert all(cents == amounts[deal] for _, deal, cents in per_deal.iter_rows())


def test_the_freeze_holds_the_hand_derived_figures(scenario):
    code, printed = scenario["freeze"]
    assert code == 0 and json.loads(printed)["snapshot_id"] == "2024-Q3-v1"
    header = scenario["snapshots"].filter(snapshot_id="2024-Q3-v1").row(0, named=True)
    assert (header["won_revenue_cents"], header["won_deals"]) == (250_000, 5)
    assert (header["pipeline_created_cents"], header["pipeline_deals"]) == (340_000, 6)
    channel = scenario["snapshots_channel"].filter(snapshot_id="2024-Q3-v1")
    for measure, expected in (("credited_revenue_cents", FROZEN_REVENUE), ("pipeline_created_cents", FROZEN_PIPELINE)):
        for model, by_channel in expected.items():
            got = {c: v for c, v in channel.filter(model=model).select("channel", measure).iter_rows() if v}
            assert got == by_channel, (measure, model)


def test_a_frozen_snapshot_is_byte_identical_after_later_runs(scenario):
    assert scenario["hash_after_run"] == scenario["hash_frozen"]
    assert scenario["hash_superseded"] == scenario["hash_frozen"]


def test_drift_names_each_deal_and_its_reason(scenario):
    drift = scenario["snapshot_drift"]
    got = {
        (m, model, c, deal): (cents, reason)
        for m, model, c, deal, cents, reason in drift.select(
            "measure", "model", "channel", "opportunity_id", "drift_cents", "reason"
        ).iter_rows()
    }
    assert got == DRIFT
    frozen = drift.select(pl.col("current_cents") - pl.col("frozen_cents") == pl.col("drift_cents")).to_series()
    assert frozen.all()


def test_drift_sums_to_the_current_marts_minus_the_frozen_figures(scenario):
    """Per model and channel: the marts of the v2 run over 2024-Q3's months, less snapshots_channel."""
    quarter = pl.col("month").is_between(pl.date(2024, 7, 1), pl.date(2024, 9, 1))
    current = {
        "revenue": scenario["channel_attribution"].rename({"close_month": "month", "credited_revenue_cents": "cents"}),
        "pipeline": scenario["pipeline_channel_attribution"].rename({"created_month": "month", "pipeline_created_cents": "cents"}),
    }
    frozen = scenario["snapshots_channel"].filter(snapshot_id="2024-Q3-v1")
    drift = scenario["snapshot_drift"]
    for measure, column in (("revenue", "credited_revenue_cents"), ("pipeline", "pipeline_created_cents")):
        now = current[measure].filter(quarter).group_by("model", "channel").agg(pl.col("cents").sum())
        then = frozen.select("model", "channel", cents=pl.col(column))
        moved = drift.filter(measure=measure).group_by("model", "channel").agg(pl.col("drift_cents").sum())
        change = now.join(then, on=["model", "channel"], how="full", coalesce=True).select(
            "model", "channel", change=pl.col("cents").fill_null(0) - pl.col("cents_right").fill_null(0)
        )
        explained = change.join(moved, on=["model", "channel"], how="full", coalesce=True).fill_null(0)
        assert explained.filter(pl.col("change") != pl.col("drift_cents")).height == 0, (measure, explained)
        assert explained.filter(pl.col("change") != 0).height > 0


def test_freezing_again_is_refused_and_supersede_keeps_both(scenario):
    code, _ = scenario["refreeze"]
    assert code == 2
    code, printed = scenario["supersede"]
    assert code == 0 and json.loads(printed) | {"rows": None} == {
        "snapshot_id": "2024-Q3-v2",
        "run_id": json.loads(printed)["run_id"],
        "superseded": "2024-Q3-v1",
        "rows": None,
    }
    headers = scenario["headers"].sort("period", "version")
    # snapshot_job as the schedule runs it: 2024-Q3 is frozen already (skipped), 2024-Q2 is frozen
    assert scenario["job"] == [True, True]
    assert headers.get_column("snapshot_id").to_list() == ["2024-Q2-v1", "2024-Q3-v1", "2024-Q3-v2"]
    assert headers.get_column("superseded_by").to_list() == [None, "2024-Q3-v2", None]
    headers = headers.filter(period="2024-Q3")
    # v2 froze the v2 run: won revenue without R (re-opened), A at 700.00
    assert headers.get_column("won_revenue_cents").to_list() == [250_000, 230_000]
    assert scenario["drift_after_supersede"].filter(snapshot_id="2024-Q3-v1").height == 0


def test_the_report_shows_pipeline_created_and_the_drift(scenario):
    """The v2 run's report: the linear model's pipeline by channel over every month with credit
    (Q2 holds R's 400.00 on organic_search), and the Q3 drift summed per reason."""
    data = scenario["report"]
    linear = {row["channel"]: round(row["pipeline_created"] * 100) for row in data.pipeline.filter(model="linear").iter_rows(named=True)}
    assert linear == {
        "paid_search": 50_000 + 40_000,  # P, and T's half since t0 arrived
        "email": 50_000 + 40_000,
        "events": 60_000 + 25_000,  # W, N
        "display": 30_000,
        "(unattributed)": 20_000,
        "direct": 70_000,  # A at 700.00
        "organic_search": 40_000,  # R, created in Q2
    }
    drift = {(m, model, reason): (deals, round(cents * 100)) for _, m, model, reason, deals, cents in data.drift.iter_rows()}
    assert drift[("pipeline", "linear", "added_after_freeze")] == (1, 25_000)
    assert drift[("revenue", "linear", "stage_changed")] == (1, -40_000)
    assert drift[("revenue", "first_touch", "touches_changed")] == (1, 0)  # T's 800.00 moved from paid_search to email
    # frozen against now per (measure, model, channel): the hand-derived freeze plus DRIFT's deals
    frozen = {"revenue": FROZEN_REVENUE, "pipeline": FROZEN_PIPELINE}
    moved: dict[tuple, int] = {}
    for (measure, model, channel, _), (cents, _) in DRIFT.items():
        moved[(measure, model, channel)] = moved.get((measure, model, channel), 0) + cents
    expected = {
        key: (frozen[key[0]][key[1]].get(key[2], 0), frozen[key[0]][key[1]].get(key[2], 0) + cents, cents)
        for key, cents in moved.items()
        if cents
    }
    got = {
        (m, model, channel): (round(then * 100), round(now * 100), round(change * 100))
        for snapshot_id, m, model, channel, then, now, change in data.drift_channels.iter_rows()
        if snapshot_id == "2024-Q3-v1"
    }
    assert got == expected
    # every drift row of the linear model (fewer than DRIFT_DEALS), the largest |drift| first
    deals = [
        (row["measure"], row["opportunity_id"], row["channel"], round(row["drift_amount"] * 100))
        for row in data.drift_deals.iter_rows(named=True)
    ]
    linear = sorted(((m, deal, channel, cents) for (m, model, channel, deal), (cents, _) in DRIFT.items() if model == "linear"))
    assert sorted(deals) == linear and abs(deals[0][3]) == max(abs(row[3]) for row in linear)
    page = render(data)
    assert "<section id=pipeline>" in page and "<section id=snapshots>" in page and "2024-Q3-v1" in page
    assert "Frozen against now, per model and channel" in page and "The deals that moved most, model linear" in page
