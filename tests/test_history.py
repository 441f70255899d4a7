"""A real CRM history (issue 20): deals from 2012 to today run with default settings on
both warehouses; one implausible timestamp changes nothing but the quarantine; a run
that fails in journeys leaves every previous table and ends with its error line.

The landing folder is written here by hand, so every expected number is derived
from these rows: five won deals of 1,000.00 to 5,000.00 (15,000.00 in all), one lost
and one open deal, two touches per deal, leads and stage history. Its latest
timestamp is 2026-10-15, so a run in any later month has the as-of before that month.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from attribution_pipeline.orchestration.io_managers import conform
from attribution_pipeline.warehouse.client import WarehouseClient
from attribution_pipeline.warehouse.tables import PUBLISHED
from pipeline_runs import TEST_INSTANCE_YAML, read, run_cli, session_folder

# (deal, domain, created, closed or "", won, amount)
DEALS = [
    ("d2012", "old.example", "2012-03-01", "2012-05-20", True, "1000.00"),
    ("d2015", "mid.example", "2015-06-01", "2015-09-30T16:00:00-04:00", True, "2000.00"),
    ("d2019", "late.example", "2019-11-01", "2019-12-31T23:30:00Z", True, "3000.00"),
    ("d2023", "new.example", "2023-01-10", "2023-02-01", True, "4000.00"),
    ("d2026", "now.example", "2026-08-01", "2026-10-01", True, "5000.00"),
    ("d_lost", "lost.example", "2018-01-01", "2018-03-01", False, "700.00"),
    ("d_open", "open.example", "2026-09-01", "", False, "900.00"),
]
WON_CENTS = 1_500_000
LATEST = "2026-10-15T12:00:00Z"


def write_landing(folder: Path, extra_touches: list[dict] | None = None, extra: dict[str, list[dict]] | None = None) -> Path:
    """The hand-written history; ``extra`` adds rows to any source (missing columns empty)."""
    extra = extra or {}
    folder.mkdir(parents=True, exist_ok=True)

    def write(name: str, rows: list[dict]) -> None:
        rows = rows + extra.get(name, [])
        columns = list(dict.fromkeys(column for row in rows for column in row))
        with open(folder / f"{name}.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns, restval="")
            writer.writeheader()
            writer.writerows(rows)

    write(
        "opportunities",
        [
            {
                "opportunity_id": deal,
                "account_domain": domain,
                "created_at": created,
                "closed_at": closed,
                "stage": "x",
                "is_closed": str(bool(closed)).lower(),
                "is_won": str(won).lower(),
                "amount": amount,
            }
            for deal, domain, created, closed, won, amount in DEALS
        ],
    )
    touches = []
    for deal, domain, created, _, _, _ in DEALS:
        day = dt.date.fromisoformat(created)
        touches.append(
            {
                "touch_id": f"{deal}_a",
                "occurred_at": f"{day - dt.timedelta(days=20)}T10:00:00Z",
                "email": "",
                "account_domain": domain,
                "utm_source": "google",
                "utm_medium": "cpc",
            }
        )
        touches.append(
            {
                "touch_id": f"{deal}_b",
                "occurred_at": f"{day + dt.timedelta(days=5)}T10:00:00Z",
                "email": f"buyer@{domain}",
                "account_domain": "",
                "utm_source": "",
                "utm_medium": "email",
            }
        )
    touches.append(
        {
            "touch_id": "t_latest",
            "occurred_at": LATEST,
            "email": "",
            "account_domain": "elsewhere.example",
            "utm_source": "",
            "utm_medium": "",
        }
    )
    write("touches", touches + (extra_touches or []))
    write("campaigns", [{"campaign_id": "c1", "campaign_name": "Search", "channel": "paid_search", "start_date": "2012-01-01"}])
    write(
        "leads",
        [
            {
                "lead_id": "l1",
                "email": "buyer@now.example",
                "created_at": "2026-07-01",
                "mql_at": "2026-07-02",
                "first_sales_activity_at": "2026-07-02T10:00:00Z",
                "owner": "ana",
                "converted_opportunity_id": "d2026",
            },
            {
                "lead_id": "l2",
                "email": "buyer@old.example",
                "created_at": "2012-02-01",
                "mql_at": "2012-02-03",
                "owner": "ben",
                "first_sales_activity_at": "",
                "converted_opportunity_id": "d2012",
            },
        ],
    )
    write(
        "opportunity_stage_history",
        [
            {"opportunity_id": "d2012", "stage": "qualification", "entered_at": "2012-03-01"},
            {"opportunity_id": "d2012", "stage": "closed_won", "entered_at": "2012-05-20"},
            {"opportunity_id": "d_open", "stage": "qualification", "entered_at": "2026-09-01"},
        ],
    )
    return folder


def public_tables(url: str) -> dict[str, pl.DataFrame]:
    """Every published table, run ids dropped, rows in a canonical order."""
    client = WarehouseClient(url)
    try:
        tables = {}
        for table in PUBLISHED:
            frame = conform(client.read(table.schema, table.name), table).drop("run_id")
            tables[table.name] = frame.sort(frame.columns, nulls_last=True)
        return tables
    finally:
        client.dispose()


@pytest.fixture(autouse=True)
def _default_partitions(dagster_home, monkeypatch):
    """Default settings: the partitions start at their default, 2000-01."""
    monkeypatch.delenv("ATTRIBUTION_PARTITION_START", raising=False)


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> tuple[Path, Path]:
    """One run of the history with default settings into DuckDB, once per session; tests copy the file."""

    def build(folder: Path) -> None:
        landing = write_landing(folder / "landing")
        home = folder / "home"
        home.mkdir()
        (home / "dagster.yaml").write_text(TEST_INSTANCE_YAML)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("DAGSTER_HOME", str(home))
            patch.delenv("ATTRIBUTION_PARTITION_START", raising=False)
            patch.setenv("ATTRIBUTION_BOOTSTRAP_DRAWS", "5")
            assert run_cli("--source", str(landing), "--warehouse", f"duckdb:///{folder / 'base.duckdb'}") == 0

    folder = session_folder(tmp_path_factory, "history", build)
    return folder / "landing", folder / "base.duckdb"


@pytest.fixture
def landing(base) -> Path:
    return base[0]


@pytest.fixture
def warehouse(base, tmp_path) -> str:
    """A copy of the base run's warehouse."""
    shutil.copyfile(base[1], tmp_path / "w.duckdb")
    return f"duckdb:///{tmp_path / 'w.duckdb'}"


def assert_history_credited(url: str) -> None:
    credit = read(url, "attribution", "touch_credit")
    totals = credit.group_by("model").agg((pl.col("credited_amount").cast(pl.Decimal(18, 2)) * 100).cast(pl.Int64).sum())
    assert set(totals.get_column("credited_amount")) == {WON_CENTS}
    assert sorted(credit.get_column("opportunity_id").unique()) == ["d2012", "d2015", "d2019", "d2023", "d2026"]
    journeys = read(url, "attribution", "journeys")
    assert journeys.filter(pl.col("opportunity_id") == "d2012").height == 2
    open_deal = journeys.filter(pl.col("opportunity_id") == "d_open").get_column("conversion_at").unique().to_list()
    assert open_deal == [dt.datetime(2026, 10, 15, 12, tzinfo=dt.timezone.utc)]  # the latest valid timestamp
    assert read(url, "quarantine", "opportunities").height == 0


def test_a_history_from_2012_runs_with_default_settings_on_duckdb(warehouse, tmp_path, capsys):
    """Then the same folder with one implausible row added to every source (a touch in 2099 and one in 1989, an
    open deal created in 2099, a campaign ending in 2099, a lead qualified in 1989, a stage entered in 2099): each
    is quarantined as <column>.out_of_range, and every published table is exactly as before (the as-of did not
    move)."""
    assert_history_credited(warehouse)
    runs = read(warehouse, "attribution", "runs")
    parameters = pl.Series(runs.get_column("parameters")).str.json_decode().struct.unnest()
    assert parameters.get_column("earliest_valid").to_list() == ["1990-01-01T00:00:00+00:00"]
    latest = dt.datetime.fromisoformat(parameters.get_column("latest_valid").item())
    started = runs.get_column("started_at").item()
    assert dt.timedelta(days=1) - dt.timedelta(minutes=5) < latest - started <= dt.timedelta(days=1)
    before = public_tables(warehouse)

    odd = [
        {
            "touch_id": "t_2099",
            "occurred_at": "2099-01-01T00:00:00Z",
            "email": "",
            "account_domain": "now.example",
            "utm_source": "",
            "utm_medium": "",
        },
        {
            "touch_id": "t_1989",
            "occurred_at": "1989-12-31T00:00:00Z",
            "email": "",
            "account_domain": "old.example",
            "utm_source": "",
            "utm_medium": "",
        },
    ]
    others = {
        "opportunities": [
            {
                "opportunity_id": "d_future",
                "account_domain": "now.example",
                "created_at": "2099-01-01",
                "stage": "x",
                "is_closed": "false",
                "is_won": "false",
                "amount": "1.00",
            }
        ],
        "campaigns": [
            {"campaign_id": "c_future", "campaign_name": "Later", "channel": "email", "start_date": "2024-01-01", "end_date": "2099-12-31"}
        ],
        "leads": [{"lead_id": "l_old", "email": "buyer@now.example", "created_at": "2026-07-01", "mql_at": "1989-07-02"}],
        "opportunity_stage_history": [{"opportunity_id": "d_open", "stage": "proposal", "entered_at": "2099-01-01"}],
    }
    perturbed = write_landing(tmp_path / "perturbed", odd, others)
    assert run_cli("--source", str(perturbed), "--warehouse", warehouse) == 0
    assert "close months 2012-05 to" in capsys.readouterr().err  # from the earliest deal, not from 2000-01
    quarantined = read(warehouse, "quarantine", "touches")
    assert sorted(quarantined.select("rule", "source_row").rows()) == [("occurred_at.out_of_range", 16), ("occurred_at.out_of_range", 17)]
    for source, rule, row in (
        ("opportunities", "created_at.out_of_range", 8),
        ("campaigns", "end_date.out_of_range", 2),
        ("leads", "mql_at.out_of_range", 3),
        ("opportunity_stage_history", "entered_at.out_of_range", 4),
    ):
        assert read(warehouse, "quarantine", source).select("rule", "source_row").rows() == [(rule, row)], source
    after = public_tables(warehouse)
    for name in before:
        assert after[name].equals(before[name]), name


@pytest.mark.postgres
def test_a_history_from_2012_runs_with_default_settings_on_postgres(tmp_path, postgres_database):
    landing = write_landing(tmp_path / "landing")
    assert run_cli("--source", str(landing), "--warehouse", postgres_database) == 0
    assert_history_credited(postgres_database)


def test_credit_that_does_not_reconcile_stops_the_run_and_publishes_nothing(landing, warehouse, monkeypatch, capsys):
    """A defect that loses a cent (simulated: the engine's credit for one row is one cent short) fails the blocking
    reconciliation check: nothing is published, and the message says it is a defect to report, not an input to fix."""
    import models.credit
    from models.credit import credit_deals

    before = public_tables(warehouse)

    def a_cent_short(*args, **kwargs):
        frame = credit_deals(*args, **kwargs).collect()
        first = pl.int_range(pl.len()) == 0
        return frame.with_columns(
            credited_cents=pl.when(first).then(pl.col("credited_cents") - 1).otherwise(pl.col("credited_cents"))
        ).lazy()

    monkeypatch.setattr(models.credit, "credit_deals", a_cent_short)  # what credit_touches calls for each chunk
    assert run_cli("--source", str(landing), "--warehouse", warehouse) == 1
    line = [line for line in capsys.readouterr().err.splitlines() if line.startswith("attribution: error:")][-1]
    assert "rule touch_credit.reconciles" in line and "-1 cents" in line and "report it" in line
    assert "previous output tables are untouched" in line
    after = public_tables(warehouse)
    for name in before:
        assert after[name].equals(before[name]), name


def test_a_run_that_fails_in_journeys_leaves_every_table(landing, warehouse, monkeypatch, capsys):
    """The second run starts the partitions this month: its closed deals are quarantined as outside them (allowed by
    --max-quarantine-share 1), and the open deal converts at the as-of 2026-10-15, before every partition, so
    journeys stops the run after the funnel marts were computed: no published table changed, and the advice works
    (the base run, with the default start, is that advice taken)."""
    before = public_tables(warehouse)
    assert all(frame.height for name, frame in before.items() if name not in ("channel_attribution_intervals", "snapshot_drift"))
    monkeypatch.setenv("ATTRIBUTION_PARTITION_START", dt.date.today().replace(day=1).isoformat())
    assert run_cli("--source", str(landing), "--warehouse", warehouse, "--max-quarantine-share", "1") == 1
    line = [line for line in capsys.readouterr().err.splitlines() if line.startswith("attribution: error:")][-1]
    assert "step attribution__journeys" in line and "previous output tables are untouched" in line
    assert "set ATTRIBUTION_PARTITION_START to 2026-10 or earlier" in line
    after = public_tables(warehouse)
    for name in before:
        assert after[name].equals(before[name]), name
    assert read(warehouse, "attribution", "runs").get_column("status").to_list() == ["success", "failed"]


def test_the_error_line_is_the_last_line_a_failing_run_prints(landing, warehouse, tmp_path):
    """As a user runs it (the console script, in its own process): exit 1, and the last line is the error with
    its advice, not DuckDB's notices at interpreter exit."""
    broken = tmp_path / "broken"
    shutil.copytree(landing, broken)
    (broken / "opportunities.csv").unlink()
    home = tmp_path / "subprocess_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(TEST_INSTANCE_YAML)
    script = Path(sys.executable).with_name("attribution")
    done = subprocess.run(
        [str(script), "run", "--source", str(broken), "--warehouse", warehouse],
        env={**os.environ, "DAGSTER_HOME": str(home)},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1, done.stderr[-3000:]
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("attribution: error: source opportunities: "), lines[-5:]
    assert "add one" in lines[-1]
    assert "Traceback" not in done.stderr and "leaked" not in done.stderr
