"""The Dagster code location: every asset, check, resource, job, schedule and sensor,
built from a ``Deployment`` (where the source and warehouse are, the partition start,
the schedule). ``dg dev``, ``dg launch`` and the daemon load ``defs``, which reads the
environment once (``Deployment.from_environment``); ``attribution run`` builds the
same definitions from its own flags.
"""

from __future__ import annotations

import functools

import dagster as dg

from assets import attribution, ingest, marts, report, snapshots, staging
from attribution_pipeline.orchestration.automation import daily_schedule, landing_sensor
from attribution_pipeline.orchestration.deployment import Deployment
from attribution_pipeline.orchestration.io_managers import WarehouseIOManager, published_keys
from attribution_pipeline.orchestration.partitions import close_months, month_backfill_policy
from attribution_pipeline.orchestration.progress import progress_logger
from attribution_pipeline.orchestration.resources import LandingSource, ReportDestination, Warehouse
from attribution_pipeline.orchestration.settings import AttributionSettings
from attribution_pipeline.orchestration.snapshots import quarterly_snapshot, snapshot_job
from attribution_pipeline.warehouse.workspace import Workspace

ALL_ASSETS_JOB = "attribution_job"
# Runs carrying this tag are limited by dagster.yaml's run queue: one at a time
# per warehouse, since a run replaces whole tables.
CONCURRENCY_TAG = "attribution/warehouse"


def build_definitions(deployment: Deployment | None = None) -> dg.Definitions:
    deployment = deployment or Deployment()
    warehouse = Warehouse(url=deployment.warehouse_url, duckdb_memory_limit=deployment.duckdb_memory_limit)
    workspace = Workspace()
    partitions = close_months(deployment.partition_start)
    backfill = month_backfill_policy(deployment.backfill_months_per_run)
    modules = [ingest, staging, marts, snapshots, report]
    partitioned = [
        *attribution.attribution_assets(partitions, backfill),
        marts.channel_asset(partitions, backfill),
        *ingest.source_assets(partitions),
    ]
    computed = [*dg.load_assets_from_modules(modules), *partitioned]
    assets = [*computed, marts.runs_asset(published_keys(computed))]
    job = dg.define_asset_job(
        ALL_ASSETS_JOB,
        selection=dg.AssetSelection.all(),
        description="Every asset: sources to marts.",
        tags={CONCURRENCY_TAG: "default"},
    )
    source = deployment.source if deployment.source is not None else dg.EnvVar("ATTRIBUTION_SOURCE")
    return dg.Definitions(
        assets=assets,
        asset_checks=dg.load_asset_checks_from_modules(modules),
        jobs=[job, snapshot_job],
        schedules=[
            daily_schedule(ALL_ASSETS_JOB, deployment.schedule_cron, deployment.schedule_timezone),
            quarterly_snapshot(deployment.schedule_timezone),
        ],
        sensors=[landing_sensor(ALL_ASSETS_JOB, source)],
        # One process: DuckDB allows one writer per file.
        executor=dg.in_process_executor,
        loggers={"progress": progress_logger},
        resources={
            "warehouse": warehouse,
            "io_manager": WarehouseIOManager(warehouse=warehouse, workspace=workspace),
            "workspace": workspace,
            "source": LandingSource(location=source),
            "settings": AttributionSettings(**deployment.settings_defaults()),
            "report_destination": ReportDestination(path=deployment.report_path),
        },
    )


def definitions_from_environment() -> dg.Definitions:
    return definitions_for(Deployment.from_environment(secrets_as_env_vars=True))


@functools.lru_cache(maxsize=4)
def definitions_for(deployment: Deployment) -> dg.Definitions:
    """Built once per deployment: the CLI plans with them and ``attribution_job`` runs them."""
    return build_definitions(deployment)


def attribution_job(**deployment: str) -> dg.JobDefinition:
    """The job a CLI run executes, built from the deployment's values, as a module-level
    function so that ``dg.build_reconstructable_job`` can point at it (``dg.execute_job``
    needs a pointer it can rebuild in any process)."""
    return definitions_for(Deployment.of(deployment)).resolve_job_def(ALL_ASSETS_JOB)


@dg.definitions
def defs() -> dg.Definitions:
    """What `dg dev`, `dg launch` and the Dagster daemon load."""
    return definitions_from_environment()


__all__ = ["ALL_ASSETS_JOB", "attribution_job", "build_definitions", "defs", "definitions_for", "definitions_from_environment"]
