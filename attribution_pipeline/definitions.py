"""The Dagster code location: every asset, check, resource and job, bound once.

Resources read their settings from the environment at run time (``EnvVar``):
ATTRIBUTION_SOURCE (landing folder or SQLAlchemy URL) and
ATTRIBUTION_WAREHOUSE_URL (SQLAlchemy URL of the warehouse).
"""

from __future__ import annotations

import dagster as dg

import assets
from assets import attribution, ingest, marts, staging
from attribution_pipeline.io_managers import WarehouseIOManager
from attribution_pipeline.progress import progress_logger
from attribution_pipeline.resources import AttributionSettings, LandingSource, Warehouse

ALL_ASSETS_JOB = "attribution_job"

warehouse = Warehouse(url=dg.EnvVar("ATTRIBUTION_WAREHOUSE_URL"))

defs = dg.Definitions(
    assets=dg.load_assets_from_modules([ingest, staging, attribution, marts]),
    asset_checks=dg.load_asset_checks_from_modules([ingest, staging, attribution, marts]),
    jobs=[dg.define_asset_job(ALL_ASSETS_JOB, selection=dg.AssetSelection.all(), description="Every asset: sources to marts.")],
    # One process: DuckDB allows one writer per file, and steps hand frames to
    # each other in memory instead of reading back what was just written.
    executor=dg.in_process_executor,
    loggers={"progress": progress_logger},
    resources={
        "warehouse": warehouse,
        "io_manager": WarehouseIOManager(warehouse=warehouse),
        "source": LandingSource(location=dg.EnvVar("ATTRIBUTION_SOURCE")),
        "settings": AttributionSettings(),
    },
)

__all__ = ["ALL_ASSETS_JOB", "assets", "defs"]
