"""The Dagster code location: every asset, check, resource, job, schedule and sensor.

Resources read their settings from the environment at run time (``EnvVar``):
ATTRIBUTION_SOURCE (landing folder or SQLAlchemy URL) and
ATTRIBUTION_WAREHOUSE_URL (SQLAlchemy URL of the warehouse). The schedule's
time and timezone (ATTRIBUTION_SCHEDULE_CRON, ATTRIBUTION_SCHEDULE_TIMEZONE) and
the first close month (ATTRIBUTION_PARTITION_START) are read when Dagster loads the code location (``@dg.definitions``), not at import.
"""

from __future__ import annotations

import functools
import os

import dagster as dg

from assets import attribution, ingest, marts, report, staging
from attribution_pipeline.orchestration.automation import DEFAULT_SCHEDULE_CRON, DEFAULT_SCHEDULE_TIMEZONE, daily_schedule, landing_sensor
from attribution_pipeline.orchestration.io_managers import WarehouseIOManager
from attribution_pipeline.orchestration.partitions import DEFAULT_PARTITION_START, close_months
from attribution_pipeline.orchestration.progress import progress_logger
from attribution_pipeline.orchestration.resources import AttributionSettings, LandingSource, Warehouse
from attribution_pipeline.warehouse.workspace import Workspace

ALL_ASSETS_JOB = "attribution_job"
# Runs carrying this tag are limited by dagster.yaml's run queue: one at a time
# per warehouse, since a run replaces whole tables.
CONCURRENCY_TAG = "attribution/warehouse"


def build_definitions(
    schedule_cron: str = DEFAULT_SCHEDULE_CRON,
    schedule_timezone: str = DEFAULT_SCHEDULE_TIMEZONE,
    partition_start: str = DEFAULT_PARTITION_START,
) -> dg.Definitions:
    warehouse = Warehouse(url=dg.EnvVar("ATTRIBUTION_WAREHOUSE_URL"))
    workspace = Workspace()
    partitions = close_months(partition_start)
    modules = [ingest, staging, marts, report]
    partitioned = [*attribution.attribution_assets(partitions), marts.channel_asset(partitions), *ingest.source_assets(partitions)]
    job = dg.define_asset_job(
        ALL_ASSETS_JOB,
        selection=dg.AssetSelection.all(),
        description="Every asset: sources to marts.",
        tags={CONCURRENCY_TAG: "default"},
    )
    return dg.Definitions(
        assets=[*dg.load_assets_from_modules(modules), *partitioned],
        asset_checks=dg.load_asset_checks_from_modules(modules),
        jobs=[job],
        schedules=[daily_schedule(ALL_ASSETS_JOB, schedule_cron, schedule_timezone)],
        sensors=[landing_sensor(ALL_ASSETS_JOB)],
        # One process: DuckDB allows one writer per file.
        executor=dg.in_process_executor,
        loggers={"progress": progress_logger},
        resources={
            "warehouse": warehouse,
            "io_manager": WarehouseIOManager(warehouse=warehouse, workspace=workspace),
            "workspace": workspace,
            "source": LandingSource(location=dg.EnvVar("ATTRIBUTION_SOURCE")),
            "settings": AttributionSettings(),
        },
    )


def definitions_from_environment() -> dg.Definitions:
    return _definitions(
        os.environ.get("ATTRIBUTION_SCHEDULE_CRON", DEFAULT_SCHEDULE_CRON),
        os.environ.get("ATTRIBUTION_SCHEDULE_TIMEZONE", DEFAULT_SCHEDULE_TIMEZONE),
        os.environ.get("ATTRIBUTION_PARTITION_START", DEFAULT_PARTITION_START),
    )


@functools.lru_cache(maxsize=4)
def _definitions(schedule_cron: str, schedule_timezone: str, partition_start: str) -> dg.Definitions:
    """Built once per setting: the CLI plans with them and ``all_assets_job`` runs them."""
    return build_definitions(schedule_cron, schedule_timezone, partition_start)


def all_assets_job() -> dg.JobDefinition:
    """The job every CLI run executes, as a module-level function so that
    ``dg.reconstructable`` can point at it (``dg.execute_job`` needs a pointer)."""
    return definitions_from_environment().resolve_job_def(ALL_ASSETS_JOB)


@dg.definitions
def defs() -> dg.Definitions:
    """What `dg dev`, `dg launch` and the Dagster daemon load."""
    return definitions_from_environment()


__all__ = ["ALL_ASSETS_JOB", "all_assets_job", "build_definitions", "defs", "definitions_from_environment"]
