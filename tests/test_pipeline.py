"""End to end through Dagster, via the `attribution` CLI: DuckDB and PostgreSQL, reruns,
blocking failures and exit codes. Expected totals are computed independently from the
landing files with Python's Decimal, not from the pipeline's own tables."""

from __future__ import annotations

import csv
import shutil
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from attribution_pipeline.app.cli import main
from attribution_pipeline.sample_data import generate
from models.registry import MODELS as REGISTRY
from pipeline_runs import OUTPUTS, output_tables, read, run_cli

MODELS = sorted(REGISTRY)  # the mart queries sort by model name


@pytest.fixture(autouse=True)
def _own_dagster_home(dagster_home):
    """Every test runs against an instance of its own (conftest.dagster_home)."""


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("landing")
    generate(folder, touches=3_000, seed=7, fmt="csv")
    return folder


def won_total_cents(folder: Path) -> int:
    """Won revenue read straight from the CSV, header names normalized by hand."""
    total = 0
    with open(folder / "opportunities.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            row = {key.strip().lower(): (value or "").strip() for key, value in row.items()}
            if row["is_won"].lower() in {"true", "t", "yes", "y", "1"}:
                total += int(Decimal(row["amount"]) * 100)
    return total


def assert_reconciles(tables: dict[str, pl.DataFrame], won_cents: int) -> None:
    credit = tables["touch_credit"].group_by("model").agg(pl.col("credited_cents").sum()).sort("model")
    assert credit.rows() == [(model, won_cents) for model in MODELS]
    campaigns = tables["campaign_attribution"].group_by("model").agg(pl.col("credited_revenue_cents").sum()).sort("model")
    assert campaigns.rows() == [(model, won_cents) for model in MODELS]
    channels = tables["channel_attribution"].group_by("model").agg(pl.col("credited_revenue_cents").sum()).sort("model")
    assert channels.rows() == [(model, won_cents) for model in MODELS]


def test_duckdb_run_reconciles_and_rerun_gives_same_rows(landing, duckdb_url, capsys):
    assert run_cli("--source", str(landing), "--warehouse", duckdb_url) == 0
    out = capsys.readouterr().out
    assert "reconciles" in out and "DOES NOT" not in out
    first = output_tables(duckdb_url)
    assert_reconciles(first, won_total_cents(landing))

    assert run_cli("--source", str(landing), "--warehouse", duckdb_url) == 0
    second = output_tables(duckdb_url)
    for name in first:
        assert_frame_equal(first[name], second[name])
    runs = read(duckdb_url, "attribution", "runs")
    assert runs.get_column("status").to_list() == ["success", "success"]
    # The IO manager stamps every row of every table it writes with the run that wrote it.
    latest = runs.sort("started_at").get_column("run_id").to_list()[-1]
    stamped = [("attribution", name) for name, table in OUTPUTS.items() if "run_id" in table.columns] + [("quarantine", "touches")]
    for schema, name in stamped:
        assert read(duckdb_url, schema, name).get_column("run_id").unique().to_list() in ([latest], []), name


@pytest.mark.postgres
def test_postgres_and_duckdb_hold_identical_rows(landing, duckdb_url, postgres_database):
    assert run_cli("--source", str(landing), "--warehouse", duckdb_url) == 0
    assert run_cli("--source", str(landing), "--warehouse", postgres_database) == 0
    on_duckdb, on_postgres = output_tables(duckdb_url), output_tables(postgres_database)
    for name in on_duckdb:
        assert_frame_equal(on_duckdb[name], on_postgres[name], check_exact=True)
    assert_reconciles(on_postgres, won_total_cents(landing))
    accounting = read(postgres_database, "attribution", "run_sources")
    for row in accounting.iter_rows(named=True):
        assert row["rows_in"] == row["rows_passed"] + row["rows_quarantined"]


def test_parquet_part_files_and_database_source_give_the_same_result(landing, tmp_path, duckdb_url):
    parquet = tmp_path / "parquet"
    (parquet / "touches").mkdir(parents=True)
    others = sorted(path.stem for path in landing.glob("*.csv") if path.stem != "touches")  # leads and stage history too
    for source in others:
        pl.read_csv(landing / f"{source}.csv", infer_schema=False).write_parquet(parquet / f"{source}.parquet")
    touches = pl.read_csv(landing / "touches.csv", infer_schema=False)
    for part, start in enumerate(range(0, touches.height, 1_000)):  # the same rows as three part files
        touches.slice(start, 1_000).write_parquet(parquet / "touches" / f"part-{part}.parquet")
    assert run_cli("--source", str(landing), "--warehouse", duckdb_url) == 0
    expected = output_tables(duckdb_url)

    parquet_url = f"duckdb:///{tmp_path / 'from_parquet.duckdb'}"
    assert run_cli("--source", str(parquet), "--warehouse", parquet_url) == 0
    for name, frame in output_tables(parquet_url).items():
        assert_frame_equal(expected[name], frame)

    source_db = tmp_path / "source_system.duckdb"
    with duckdb.connect(str(source_db)) as conn:
        conn.execute("CREATE SCHEMA crm")
        for source in ("touches", *others):
            frame = pl.read_csv(landing / f"{source}.csv", infer_schema=False)
            conn.register("frame", frame.to_arrow())
            conn.execute(f"CREATE TABLE crm.{source} AS SELECT * FROM frame")
            conn.unregister("frame")
    sql_url = f"duckdb:///{tmp_path / 'from_sql.duckdb'}"
    args = ["--source", f"duckdb:///{source_db}", "--warehouse", sql_url]
    for source in others:
        args += ["--source-table", f"{source}=crm.{source}"]
    args += ["--source-table", "touches=SELECT * FROM crm.touches"]
    assert run_cli(*args) == 0
    for name, frame in output_tables(sql_url).items():
        assert_frame_equal(expected[name], frame)


def test_missing_required_column_stops_run_and_keeps_previous_tables(landing, tmp_path, duckdb_url, capsys):
    assert run_cli("--source", str(landing), "--warehouse", duckdb_url) == 0
    before = output_tables(duckdb_url)
    broken = tmp_path / "broken"
    shutil.copytree(landing, broken)
    frame = pl.read_csv(broken / "touches.csv", infer_schema=False)
    occurred = next(c for c in frame.columns if c.strip().lower() == "occurred_at")
    frame.drop(occurred).write_csv(broken / "touches.csv")
    capsys.readouterr()

    assert run_cli("--source", str(broken), "--warehouse", duckdb_url) == 1
    err = capsys.readouterr().err
    message = [line for line in err.splitlines() if line.startswith("attribution: error:")]
    assert len(message) == 1
    assert "touches" in message[0] and "touches.csv" in message[0] and "occurred_at" in message[0]
    assert "Traceback" not in err
    after = output_tables(duckdb_url)
    for name in before:
        assert_frame_equal(before[name], after[name])
    runs = read(duckdb_url, "attribution", "runs").sort("finished_at")
    assert runs.get_column("status").to_list() == ["success", "failed"]
    assert "occurred_at" in runs.get_column("message")[-1]


def test_quarantined_rows_are_counted_and_kept(landing, tmp_path, duckdb_url):
    bad = tmp_path / "bad"
    shutil.copytree(landing, bad)
    frame = pl.read_csv(bad / "touches.csv", infer_schema=False)
    occurred = next(c for c in frame.columns if c.strip().lower() == "occurred_at")
    frame = frame.with_columns(pl.when(pl.int_range(pl.len()) < 3).then(pl.lit("2024-02-30")).otherwise(pl.col(occurred)).alias(occurred))
    frame.write_csv(bad / "touches.csv")
    assert run_cli("--source", str(bad), "--warehouse", duckdb_url) == 0
    quarantine = read(duckdb_url, "quarantine", "touches")
    assert quarantine.select("rule", "source_row").rows() == [("occurred_at.invalid_timestamp", row) for row in (1, 2, 3)]
    assert all("2024-02-30" in value for value in quarantine.get_column("raw_values"))
    accounting = read(duckdb_url, "attribution", "run_sources").filter(source="touches")
    assert accounting.select("rows_in", "rows_passed", "rows_quarantined").row(0) == (3_000, 2_997, 3)


def test_mixed_currencies_are_converted_and_reconcile(landing, tmp_path, duckdb_url):
    """Every third deal in EUR with one rate from 2020 on: the won total in USD is
    each EUR amount times 1.0842 rounded half up to the cent, computed with Decimal."""
    folder = tmp_path / "eur"
    shutil.copytree(landing, folder)
    deals = pl.read_csv(folder / "opportunities.csv", infer_schema=False)
    currency = next(c for c in deals.columns if c.strip().lower() == "currency")
    deals = deals.with_columns(pl.when(pl.int_range(pl.len()) % 3 == 0).then(pl.lit("EUR")).otherwise(pl.col(currency)).alias(currency))
    deals.write_csv(folder / "opportunities.csv")
    (folder / "fx_rates.csv").write_text("currency,rate_date,rate_to_reporting\nEUR,2020-01-01,1.0842\n")
    expected = 0
    for row in deals.iter_rows(named=True):
        row = {key.strip().lower(): (value or "").strip() for key, value in row.items()}
        if row["is_won"].lower() in {"true", "t", "yes", "y", "1"}:
            amount = Decimal(row["amount"]) * (Decimal("1.0842") if row["currency"] == "EUR" else 1)
            expected += int(amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) * 100)
    assert expected != won_total_cents(landing)
    assert run_cli("--source", str(folder), "--warehouse", duckdb_url) == 0
    assert_reconciles(output_tables(duckdb_url), expected)


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["--position-weights", "0.5,0.5,0.5"], "sum to 1"),
        (["--position-weights", "a,b"], "three numbers"),
        (["--half-life-days", "0"], "half_life_days"),
        (["--as-of", "yesterday"], "ISO-8601"),
        (["--max-quarantine-share", "2"], "between 0 and 1"),
    ],
)
def test_invalid_parameters_exit_2_before_anything_runs(landing, duckdb_url, capsys, args, text):
    assert run_cli("--source", str(landing), "--warehouse", duckdb_url, *args) == 2
    err = capsys.readouterr().err
    assert text in err and "Traceback" not in err


def test_duckdb_file_named_like_a_schema_is_a_usage_error(landing, tmp_path, capsys):
    assert run_cli("--source", str(landing), "--warehouse", f"duckdb:///{tmp_path / 'attribution.duckdb'}") == 2
    assert "ambiguous" in capsys.readouterr().err


def test_missing_source_folder_exits_2(tmp_path, duckdb_url, capsys):
    assert run_cli("--source", str(tmp_path / "nope"), "--warehouse", duckdb_url) == 2
    assert "does not exist" in capsys.readouterr().err


def test_sample_data_command_is_byte_reproducible(tmp_path):
    for name in ("a", "b"):
        assert main(["sample-data", "--out", str(tmp_path / name), "--touches", "500", "--seed", "3"]) == 0
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert files
    for relative in files:
        assert (tmp_path / "a" / relative).read_bytes() == (tmp_path / "b" / relative).read_bytes()


def test_an_output_table_left_by_another_version_gets_a_clear_error(landing, duckdb_url, capsys):
    import sqlalchemy as sa

    engine = sa.create_engine(duckdb_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE SCHEMA attribution"))
        conn.execute(sa.text("CREATE TABLE attribution.journeys (opportunity_id TEXT, touch_id TEXT)"))
    engine.dispose()
    assert run_cli("--source", str(landing), "--warehouse", duckdb_url) == 1
    err = capsys.readouterr().err
    assert "attribution.journeys in the warehouse has columns ['opportunity_id', 'touch_id']" in err
    assert "drop or migrate the table" in err  # what to change
    assert "Traceback" not in err


def test_sample_data_refuses_a_folder_with_foreign_files_without_a_traceback(tmp_path, capsys):
    (tmp_path / "touches").mkdir()
    (tmp_path / "touches" / "crm_export.csv").write_text("touch_id\nt1\n")
    assert main(["sample-data", "--out", str(tmp_path), "--touches", "100"]) == 2
    err = capsys.readouterr().err
    assert "crm_export.csv" in err and "Traceback" not in err
