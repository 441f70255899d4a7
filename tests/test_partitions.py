"""Close-month partitions: a month re-run replaces exactly that month's rows, a backfill
month by month equals a run of all months, and that equals the unpartitioned engine."""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from polars.testing import assert_frame_equal

import attribution_pipeline.app.backfill as backfill_module
from attribution_pipeline.app.backfill import months_per_run
from attribution_pipeline.definitions import build_definitions
from attribution_pipeline.orchestration.deployment import Deployment
from attribution_pipeline.orchestration.partitions import close_months, month_backfill_policy
from attribution_pipeline.sample_data import generate
from models.credit import credit_touches
from models.journeys import build_journeys, resolve_as_of, with_conversion_at
from models.params import AttributionParams
from models.pipeline import credit_at_creation
from pipeline_runs import output_tables, private_copy, read, run_cli, run_in_own_home, session_folder

PARTITIONED = {
    "journeys": "conversion_at",
    "touch_credit": "closed_at",
    "channel_attribution": "close_month",
    "pipeline_credit": "conversion_at",
}


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


# Two ranges run side by side: concurrent writers and Dagster's range split are both
# exercised, at two fewer run processes per stage than four (the suite's budget).
BACKFILL_RUNS = 2


@pytest.mark.parametrize("kind", ["duckdb", pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.longest])])
def test_backfill_by_month_ranges_equals_one_run_of_all_months(kind, landing, full_run, tmp_path, request, capsys, monkeypatch):
    full = f"duckdb:///{full_run}"
    backfill = f"duckdb:///{tmp_path / 'backfill.duckdb'}" if kind == "duckdb" else request.getfixturevalue("postgres_database")
    months = closed_months(full)
    first, middle, last = months[0], months[len(months) // 2], months[-1]
    # months before `first` hold no deal; then a range, single months, and a range to the end of the partitions
    following = months[len(months) // 2 + 1]
    keys = [key[:7] for key in close_months(os.environ["ATTRIBUTION_PARTITION_START"]).get_partition_keys()]
    chunks = [(keys[0], first), (months[1], middle), (following, following)]  # a range, a range, one month
    chunks.append((months[len(months) // 2 + 2], keys[-1]))
    if kind == "postgres":
        # Every month, from the first partition to the last, as one Dagster backfill in
        # BACKFILL_RUNS ranges that a real dagster-daemon runs (the daemon's runs and this command share
        # an instance on disk); the DuckDB variant covers ranges run one after another.
        (Path(os.environ["DAGSTER_HOME"]) / "dagster.yaml").write_text(DAEMON_INSTANCE_YAML)
        monkeypatch.setattr(backfill_module, "daemon_command", fast_daemon_command)
        chunks = [(keys[0], keys[-1])]
    for start, end in chunks:
        # on DuckDB --parallel is ignored with a notice: the range runs as one run
        parallel = ["--parallel", str(BACKFILL_RUNS)] if start in (months[1], keys[0]) else []
        assert run_cli("--source", str(landing), "--warehouse", backfill, "--from", start, "--to", end, *parallel) == 0
    err = capsys.readouterr().err
    notice = "--parallel ignored: DuckDB allows one writer per file"
    assert (notice in err) == (kind == "duckdb")
    if kind == "postgres":  # Dagster split the months into contiguous ranges, for journeys and for credit
        ranges = re.findall(r"months (\d{4}-\d{2}) to (\d{4}-\d{2}): attribution/journeys: success", err)
        assert sorted(ranges) == dagster_ranges(keys, BACKFILL_RUNS) and len(ranges) == BACKFILL_RUNS, err
        assert len(re.findall(r"attribution/touch_credit: success", err)) == BACKFILL_RUNS, err
    expected, got = output_tables(full), output_tables(backfill)
    for name in expected:
        assert_frame_equal(expected[name], got[name], check_exact=True)
    assert last in set(months_of(got["journeys"], "conversion_at"))


# On disk (the daemon and its runs are other processes), with the run queue checked every
# second, launching up to 4 runs at once per warehouse tag (PostgreSQL takes concurrent writers).
DAEMON_INSTANCE_YAML = """telemetry:
  enabled: false
run_coordinator:
  module: dagster._core.run_coordinator
  class: QueuedRunCoordinator
  config:
    dequeue_interval_seconds: 1
    dequeue_use_threads: true
    dequeue_num_workers: 4
    tag_concurrency_limits:
      - key: attribution/warehouse
        value:
          applyLimitPerUniqueValue: true
        limit: 4
"""


def fast_daemon_command() -> list[str]:
    return [sys.executable, str(Path(__file__).with_name("fast_daemon.py")), "run", "-m", "attribution_pipeline.definitions"]


def dagster_ranges(months: list[str], runs: int) -> list[tuple[str, str]]:
    """A multi-run backfill policy of K months per run cuts the months into runs of K, in order."""
    size = months_per_run(len(months), runs)
    return [(months[i], months[min(i + size, len(months)) - 1]) for i in range(0, len(months), size)]


@pytest.mark.parametrize(("months", "runs", "expected"), [(5, 2, 3), (2, 3, 1), (7, 3, 3), (22, 4, 6), (1, 4, 1)])
def test_parallel_backfill_splits_months_into_at_most_that_many_runs(months, runs, expected):
    assert months_per_run(months, runs) == expected
    assert len(dagster_ranges([f"m{i}" for i in range(months)], runs)) <= runs


def test_months_per_run_is_the_partitioned_assets_backfill_policy():
    assert month_backfill_policy(None) == dg.BackfillPolicy.single_run()
    assert month_backfill_policy("3").max_partitions_per_run == 3
    for bad in ("0", "x", "-2"):
        with pytest.raises(ValueError, match="ATTRIBUTION_BACKFILL_MONTHS_PER_RUN"):
            month_backfill_policy(bad)
    defs = build_definitions(Deployment(backfill_months_per_run="3"))
    policies = {node.key.to_user_string(): node.backfill_policy for node in defs.resolve_asset_graph().asset_nodes}
    assert {key for key, policy in policies.items() if policy and policy.max_partitions_per_run == 3} == {
        "attribution/journeys",
        "attribution/touch_credit",
        "attribution/pipeline_credit",
        "attribution/channel_attribution",
    }


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
    from assets.staging import stitched_touches
    from models.identity import identity_links

    url = f"duckdb:///{full_run}"
    touches, deals = read(url, "staging", "touches"), read(url, "staging", "opportunities")
    contacts = read(url, "staging", "opportunity_contacts")
    params = AttributionParams()
    # identity stitching over every touch at once, as one unpartitioned step would
    links = identity_links(touches.lazy(), read(url, "staging", "identities").lazy())
    touches = stitched_touches(touches.lazy(), links, params).collect()
    as_of = resolve_as_of(touches.lazy(), deals.lazy(), None)
    journeys = build_journeys(touches.lazy(), deals.lazy(), contacts.lazy(), params, as_of)
    credit = credit_touches(journeys, deals.lazy(), params).collect()
    pipeline = credit_at_creation(journeys, with_conversion_at(deals.lazy(), as_of), params).collect()
    outputs = output_tables(url)
    for name, expected in (("touch_credit", credit), ("pipeline_credit", pipeline)):
        got = outputs[name]
        assert_frame_equal(
            expected.select(got.columns).sort(got.columns, nulls_last=True), got.sort(got.columns, nulls_last=True), check_dtypes=False
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


def test_a_backfill_refuses_an_instance_another_daemon_serves(tmp_path):
    """That daemon would run the backfill with its own source and warehouse: the command
    stops before submitting, and says how to launch it instead."""
    import time

    from dagster._daemon.types import DaemonHeartbeat

    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    deployment = Deployment(dagster_home=str(home))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert not backfill_module.daemon_is_running(instance)
        instance.add_daemon_heartbeat(DaemonHeartbeat(time.time(), "BACKFILL", "someone-elses", None))
        with pytest.raises(backfill_module.DaemonAlreadyRunning, match="Launch the backfill from its UI"):
            with backfill_module.daemon_for(deployment, instance):
                pass
