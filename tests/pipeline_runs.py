"""Helpers for end-to-end tests: run the CLI in-process and read the public tables back."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import polars as pl

from attribution_pipeline.app.cli import main
from attribution_pipeline.orchestration.io_managers import conform
from attribution_pipeline.warehouse.client import WarehouseClient
from attribution_pipeline.warehouse.tables import (
    CAMPAIGN_ATTRIBUTION,
    CHANNEL_ATTRIBUTION,
    FUNNEL_MONTHLY,
    JOURNEYS,
    PIPELINE_CAMPAIGN_ATTRIBUTION,
    PIPELINE_CHANNEL_ATTRIBUTION,
    PIPELINE_CREDIT,
    PIPELINE_SOURCING,
    TOUCH_CREDIT,
)

OUTPUTS = {
    table.name: table
    for table in (
        JOURNEYS,
        TOUCH_CREDIT,
        CAMPAIGN_ATTRIBUTION,
        CHANNEL_ATTRIBUTION,
        PIPELINE_SOURCING,
        FUNNEL_MONTHLY,
        PIPELINE_CREDIT,
        PIPELINE_CHANNEL_ATTRIBUTION,
        PIPELINE_CAMPAIGN_ATTRIBUTION,
    )
}
SORT_KEYS = {
    "journeys": ["opportunity_id", "position"],
    "touch_credit": ["model", "opportunity_id", "position"],
    "campaign_attribution": ["model", "campaign_id"],
    "channel_attribution": ["model", "close_month", "channel"],
    "pipeline_sourcing": ["created_month", "sourcing", "channel"],
    "funnel_monthly": ["created_month", "channel"],
    "pipeline_credit": ["model", "opportunity_id", "position"],
    "pipeline_channel_attribution": ["model", "created_month", "channel"],
    "pipeline_campaign_attribution": ["model", "campaign_id"],
}


# The tests' Dagster instances keep their event log in memory: a run writes hundreds
# of events, and every test reads its results from the warehouse, not from Dagster.
# Runs that span processes (parallel backfills, subprocess runs) and
# tests/test_instance_storage.py use the on-disk default.
TEST_INSTANCE_YAML = """telemetry:
  enabled: false
event_log_storage:
  module: dagster._core.storage.event_log
  class: InMemoryEventLogStorage
"""


def under_ci() -> bool:
    """CI=true (any case, surrounding spaces ignored): a missing PostgreSQL, chromium or
    ChannelAttribution fails its tests instead of skipping them. .ci/run sets it."""
    return os.environ.get("CI", "").strip().lower() == "true"


def run_cli(*args: str) -> int:
    return main(["run", *args])


def run_in_own_home(folder: Path, landing: Path, url: str, *args: str) -> Path:
    """`attribution run` with a Dagster home of its own under ``folder`` (for module-scoped
    fixtures, which cannot use the per-test ``dagster_home``); returns that home."""
    import pytest

    home = folder / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(TEST_INSTANCE_YAML)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DAGSTER_HOME", str(home))
        patch.setenv("ATTRIBUTION_PARTITION_START", "2024-01-01")  # as conftest.close_months_from_2024
        patch.setenv("ATTRIBUTION_BOOTSTRAP_DRAWS", "5")
        assert run_cli("--source", str(landing), "--warehouse", url, *args) == 0
    return home


def output_tables(url: str) -> dict[str, pl.DataFrame]:
    """Every public output table, in engine types, sorted, run ids dropped."""
    client = WarehouseClient(url)
    try:
        return {
            name: conform(client.read("attribution", name), table).drop("run_id").sort(SORT_KEYS[name], nulls_last=True)
            for name, table in OUTPUTS.items()
        }
    finally:
        client.dispose()


def read(url: str, schema: str, name: str) -> pl.DataFrame:
    client = WarehouseClient(url)
    try:
        return client.read(schema, name)
    finally:
        client.dispose()


def fast_directory(prefix: str, fallback: Path) -> Path:
    """A folder on tmpfs when there is one (Dagster's SQLite event log syncs every
    event, and a run writes hundreds), removed at exit at the latest; else ``fallback``."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        folder = Path(tempfile.mkdtemp(prefix=prefix, dir=shm))
        atexit.register(shutil.rmtree, folder, True)  # tmpfs is memory: leave nothing behind
        return folder
    fallback.mkdir(parents=True, exist_ok=True)
    return fallback


def session_folder(tmp_path_factory, name: str, build) -> Path:
    """A folder built once per test session and shared by the xdist workers: the first
    worker to ask calls ``build(folder)`` under a file lock, the others wait and reuse it
    (a module fixture alone runs once per worker that runs a test of the module)."""
    from filelock import FileLock

    uid = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if uid is None:
        folder = tmp_path_factory.mktemp(name)
        build(folder)
        return folder
    folder = tmp_path_factory.getbasetemp().parent / f"shared_{uid}_{name}"
    with FileLock(f"{folder}.lock"):
        if not (folder / ".done").exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            build(folder)
            (folder / ".done").touch()
    return folder


def private_copy(path: Path, tmp_path_factory) -> Path:
    """This worker's copy of a shared DuckDB file: DuckDB lets one process open a file for writing."""
    target = tmp_path_factory.mktemp("copy") / path.name
    shutil.copyfile(path, target)
    return target
