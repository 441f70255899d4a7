"""Close-month partitions: a month re-run replaces exactly that month's rows, a backfill
month by month equals a run of all months, and that equals the unpartitioned engine."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from attribution_pipeline.app.backfill import month_chunks
from attribution_pipeline.orchestration.partitions import close_months
from attribution_pipeline.sample_data import generate
from models.credit import credit_touches
from models.journeys import build_journeys, resolve_as_of
from models.params import AttributionParams
from pipeline_runs import output_tables, private_copy, read, run_cli, run_in_own_home, session_folder

PARTITIONED = {"journeys": "conversion_at", "touch_credit": "closed_at", "channel_attribution": "close_month"}


@pytest.fixture(autouse=True)
def _own_dagster_home(dagster_home):
    """Every test runs against an instance of its own (conftest.dagster_home)."""


def _build(folder: Path) -> None:
    generate(folder / "landing", touches=3_000, seed=11)
    run_in_own_home(folder, folder / "landing", f"duckdb:///{folder / 'full.duckdb'}")


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> Path:
    """The landing folder and one run of every month on DuckDB, once per session: tests copy the file before changing it."""
    return session_folder(tmp_path_factory, "partitions", _build)


@pytest.fixture(scope="module")
def landing(shared) -> Path:
    return shared / "landing"


@pytest.fixture(scope="module")
def full_run(shared, tmp_path_factory) -> Path:
    return private_copy(shared / "full.duckdb", tmp_path_factory)


def copy_of(full_run: Path, folder: Path) -> str:
    shutil.copyfile(full_run, folder / "copy.duckdb")
    return f"duckdb:///{folder / 'copy.duckdb'}"


def months_of(frame: pl.DataFrame, column: str) -> pl.Series:
    values = frame.get_column(column)
    return (values if values.dtype == pl.Date else values.dt.date()).dt.strftime("%Y-%m")


def closed_months(url: str) -> list[str]:
    deals = read(url, "staging", "opportunities").filter(pl.col("is_closed"))
    return sorted(set(months_of(deals, "closed_at")))


@pytest.mark.parametrize("kind", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_backfill_by_month_ranges_equals_one_run_of_all_months(kind, landing, full_run, tmp_path, request, capsys):
    full = f"duckdb:///{full_run}"
    backfill = f"duckdb:///{tmp_path / 'backfill.duckdb'}" if kind == "duckdb" else request.getfixturevalue("postgres_database")
    months = closed_months(full)
    first, middle, last = months[0], months[len(months) // 2], months[-1]
    # months before `first` hold no deal; then a range, single months, and a range to the end of the partitions
    following = months[len(months) // 2 + 1]
    keys = [key[:7] for key in close_months(os.environ["ATTRIBUTION_PARTITION_START"]).get_partition_keys()]
    chunks = [(keys[0], first), (months[1], middle), (following, following)]  # a range, a range, one month
    chunks.append((months[len(months) // 2 + 2], keys[-1]))
    for start, end in chunks:
        # the middle range runs as a parallel backfill: worker processes on PostgreSQL, one run on DuckDB
        parallel = ["--parallel", "2"] if start == months[1] else []
        assert run_cli("--source", str(landing), "--warehouse", backfill, "--from", start, "--to", end, *parallel) == 0
    notice = "--parallel ignored: DuckDB allows one writer per file"
    assert (notice in capsys.readouterr().err) == (kind == "duckdb")
    expected, got = output_tables(full), output_tables(backfill)
    for name in expected:
        assert_frame_equal(expected[name], got[name], check_exact=True)
    assert last in set(months_of(got["journeys"], "conversion_at"))


@pytest.mark.parametrize(
    ("months", "workers", "expected"),
    [
        (["a", "b", "c", "d", "e"], 2, [("a", "c"), ("d", "e")]),
        (["a", "b"], 3, [("a", "a"), ("b", "b")]),
        (["a", "b", "c", "d", "e", "f", "g"], 3, [("a", "c"), ("d", "e"), ("f", "g")]),
    ],
)
def test_parallel_backfill_splits_months_into_contiguous_ranges(months, workers, expected):
    assert month_chunks(months, workers) == expected


def test_a_month_rerun_replaces_exactly_that_month(landing, full_run, tmp_path):
    url = copy_of(full_run, tmp_path)
    before = output_tables(url)
    month = closed_months(url)[3]

    changed = tmp_path / "changed"
    shutil.copytree(landing, changed)
    deals = pl.read_csv(changed / "opportunities.csv", infer_schema=False)
    amount = next(c for c in deals.columns if c.strip().lower() == "amount")
    deals.with_columns(pl.lit("1.00").alias(amount)).write_csv(changed / "opportunities.csv")  # every deal changes
    reference = f"duckdb:///{tmp_path / 'reference.duckdb'}"
    assert run_cli("--source", str(changed), "--warehouse", reference) == 0
    assert run_cli("--source", str(changed), "--warehouse", url, "--month", month) == 0

    after, fresh = output_tables(url), output_tables(reference)
    for name, column in PARTITIONED.items():
        in_month = lambda frame: months_of(frame, column) == month  # noqa: E731
        assert_frame_equal(after[name].filter(in_month(after[name])), fresh[name].filter(in_month(fresh[name])))
        assert_frame_equal(after[name].filter(~in_month(after[name])), before[name].filter(~in_month(before[name])))
        assert after[name].filter(in_month(after[name])).height > 0


def test_all_months_equal_the_unpartitioned_engine(full_run):
    """The engine run once over every staged row, outside Dagster and partitions."""
    url = f"duckdb:///{full_run}"
    touches, deals = read(url, "staging", "touches"), read(url, "staging", "opportunities")
    contacts = read(url, "staging", "opportunity_contacts")
    params = AttributionParams()
    as_of = resolve_as_of(touches.lazy(), deals.lazy(), None)
    journeys = build_journeys(touches.lazy(), deals.lazy(), contacts.lazy(), params, as_of)
    credit = credit_touches(journeys, deals.lazy(), params).collect()
    got = output_tables(url)["touch_credit"]
    assert_frame_equal(
        credit.select(got.columns).sort(got.columns, nulls_last=True), got.sort(got.columns, nulls_last=True), check_dtypes=False
    )


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["--month", "2019-12"], "not a close-month partition"),
        (["--month", "March"], "not YYYY-MM"),
        (["--from", "2024-01"], "go together"),
        (["--from", "2024-06", "--to", "2024-01"], "after --to"),
        (["--month", "2024-01", "--from", "2024-01", "--to", "2024-02"], "either --month"),
        (["--parallel", "0"], "--parallel must be at least 1"),
    ],
)
def test_month_options_are_validated(landing, tmp_path, capsys, args, text):
    assert run_cli("--source", str(landing), "--warehouse", f"duckdb:///{tmp_path / 'w.duckdb'}", *args) == 2
    assert text in capsys.readouterr().err
