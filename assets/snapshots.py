"""attribution.snapshot_drift (issue 19): each frozen period's numbers now against
the numbers as they were frozen, deal by deal, with the reason each moved. The
snapshots themselves are frozen by ``attribution snapshot`` or snapshot_job, never
by a run (``attribution_pipeline.warehouse.snapshots``)."""

import dagster as dg
import polars as pl

from attribution_pipeline.orchestration.resources import Warehouse
from attribution_pipeline.orchestration.settings import AttributionSettings
from attribution_pipeline.orchestration.table_assets import table_asset
from attribution_pipeline.warehouse.snapshots import drift_now
from attribution_pipeline.warehouse.tables import SNAPSHOT_DRIFT


@table_asset(
    SNAPSHOT_DRIFT,
    group="marts",
    ins={
        "touch_credit": dg.AssetIn(key=["attribution", "touch_credit"]),
        "pipeline_credit": dg.AssetIn(key=["attribution", "pipeline_credit"]),
    },
    description=(
        "For every current period snapshot: per (measure, model, channel, deal) whose credit moved since the freeze, the "
        "frozen and current cents and the first reason that explains it (added after the freeze, removed, amount, stage, "
        "dates, late touches, restated). Empty until a period is frozen."
    ),
)
def snapshot_drift(warehouse: Warehouse, settings: AttributionSettings, touch_credit: pl.LazyFrame, pipeline_credit: pl.LazyFrame):
    found = drift_now(warehouse.client, touch_credit.lazy(), pipeline_credit.lazy(), settings.model_names()[0])
    return dg.Output(found, metadata={"rows": dg.MetadataValue.int(found.height)})
