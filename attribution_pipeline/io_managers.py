"""Stores each asset's frame as a warehouse table named by its key (``schema/name``).

Declared tables (``tables.py``) keep their DDL and are replaced row-wise in
one transaction; raw and staging tables follow their frames. Within one
process the frame just written is handed to downstream assets directly, so a
10M-row table is not read back from the warehouse it was just written to.
"""


import resource
import warnings

import dagster as dg
import polars as pl
import sqlalchemy as sa

from attribution_pipeline.docs import type_name
from attribution_pipeline.resources import Warehouse
from attribution_pipeline.tables import METADATA, MONEY_COLUMNS, PARTITION_COLUMNS, QUARANTINE, quarantine_table
from attribution_pipeline.warehouse import TableSchemaMismatch

# Writing steps are retried: a dropped connection or a warehouse briefly held by
# another run is transient, and every write is an idempotent replace.
WRITE_RETRY = dg.RetryPolicy(max_retries=2, delay=2, backoff=dg.Backoff.EXPONENTIAL)
# A range of months is one run (one transaction per table), from the CLI, `dg launch
# --partition-range` or a UI backfill; unpartitioned assets ride along in that run.
SINGLE_RUN = dg.BackfillPolicy.single_run()
# Dagster marks the `backfill_policy` parameter beta and warns once per asset at
# import; the policy is deliberate, so keep that notice out of every CLI run.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=dg.BetaWarning)

# Frames dropped from the in-run cache once all their consumers have them, so the
# largest frames (raw text, every staged touch) do not live to the end of the run:
# a raw source is read by its source_is_usable check and its staging step, staged
# touches by journeys, lead_first_touch and the data-driven fit. A retried consumer
# reads them back from the warehouse.
CONSUMERS = {("raw",): 2, ("staging", "touches"): 3}


def consumers(path: tuple[str, ...]) -> int | None:
    """How many steps load this asset in a full run; None: keep it for the whole run."""
    return CONSUMERS.get(path[-2:], CONSUMERS.get(path[-2:-1]))

_POLARS_TYPES = {
    sa.Text: pl.String,
    sa.Integer: pl.Int32,
    sa.BigInteger: pl.Int64,
    sa.Double: pl.Float64,
    sa.Boolean: pl.Boolean,
    sa.Date: pl.Date,
}


def column_schema(frame: pl.DataFrame, table: sa.Table | None) -> dg.TableSchema:
    docs = {column.name: column.comment for column in table.columns} if table is not None else {}
    return dg.TableSchema(
        columns=[dg.TableColumn(name, str(dtype), description=docs.get(name)) for name, dtype in frame.schema.items()]
    )


def table_metadata(table: sa.Table) -> dict:
    """Definition metadata of an asset stored in a declared table: its columns and their meaning."""

    return {
        "dagster/table_name": table.fullname,
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(c.name, type_name(c), description=c.comment) for c in table.columns]
        ),
        "grain": table.comment,
    }


def declared_table(schema: str, name: str) -> sa.Table | None:
    if schema == QUARANTINE:
        return quarantine_table(name)
    return METADATA.tables.get(f"{schema}.{name}")


def conform(frame: pl.DataFrame, table: sa.Table) -> pl.DataFrame:
    """A declared table read back from any dialect, in the types the engine uses
    (money back to integer cents, exactly)."""
    money = {public: cents for cents, public in MONEY_COLUMNS.items()}
    columns = []
    for column in table.columns:
        if column.name in money:
            cents = (pl.col(column.name).cast(pl.Decimal(38, 2)) * 100).cast(pl.Int64)
            columns.append(cents.alias(money[column.name]))
        elif isinstance(column.type, sa.DateTime):
            columns.append(pl.col(column.name).cast(pl.Datetime("us", "UTC")))
        else:
            dtype = next((pl_type for sa_type, pl_type in _POLARS_TYPES.items() if isinstance(column.type, sa_type)), pl.String)
            columns.append(pl.col(column.name).cast(dtype))
    return frame.select(columns)


class WarehouseIOManager(dg.ConfigurableIOManager):
    """Polars frames in and out of the warehouse, one table per asset key."""

    warehouse: dg.ResourceDependency[Warehouse]

    # The frames this run wrote, by asset path, with the partition window they cover.
    _frames: dict[tuple[str, ...], tuple[object, pl.DataFrame]] = {}
    _frames_run: list[str] = []
    _loads: dict[tuple[str, ...], int] = {}

    def _remember(self, run_id: str, path: tuple[str, ...], window, frame: pl.DataFrame) -> None:
        if self._frames_run != [run_id]:  # keep only the current run's frames
            WarehouseIOManager._frames = {}
            WarehouseIOManager._loads = {}
            WarehouseIOManager._frames_run = [run_id]
        WarehouseIOManager._frames[path] = (window, frame)

    @classmethod
    def written_this_run(cls, run_id: str, path: tuple[str, ...]) -> tuple[object, pl.DataFrame] | None:
        """(partition window or None, frame) of an asset this run wrote in this process, if held."""
        return cls._frames.get(path) if cls._frames_run == [run_id] else None

    def handle_output(self, context: dg.OutputContext, obj: pl.DataFrame) -> None:
        schema, name = context.asset_key.path[-2:]
        table = declared_table(schema, name)
        window = None
        try:
            if context.has_asset_partitions:  # replace exactly this run's months
                window = context.asset_partitions_time_window
                column = PARTITION_COLUMNS[f"{schema}.{name}"]
                rows = self.warehouse.client.replace_window(table, obj, column, window.start, window.end)
            elif table is not None:
                rows = self.warehouse.client.replace(table, obj)
            else:
                rows = self.warehouse.client.replace_shaped(schema, name, obj)
        except TableSchemaMismatch as error:  # a table of another version: retrying cannot help
            raise dg.Failure(description=str(error), allow_retries=False) from error
        self._remember(context.run_id, tuple(context.asset_key.path), window, obj)
        context.add_output_metadata(
            {
                # The process's peak so far (it only grows): the step that raises it is the one to slim.
                "process_peak_rss_mb": dg.MetadataValue.int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024),
                "dagster/row_count": dg.MetadataValue.int(rows),
                "dagster/table_name": f"{schema}.{name}",
                "dagster/column_schema": column_schema(obj, table),
            }
        )

    def load_input(self, context: dg.InputContext) -> pl.DataFrame:
        path = tuple(context.asset_key.path)
        window = context.asset_partitions_time_window if context.has_asset_partitions else None
        upstream_run = context.upstream_output.run_id if context.upstream_output else None
        if upstream_run and self._frames_run == [upstream_run] and path in self._frames:
            cached_window, frame = self._frames[path]
            if cached_window == window:  # the same months this run just wrote
                loads = WarehouseIOManager._loads[path] = WarehouseIOManager._loads.get(path, 0) + 1
                if loads == consumers(path):
                    del WarehouseIOManager._frames[path]
                return frame
        schema, name = path[-2:]
        table = declared_table(schema, name)
        if window is not None:  # a range of months: read those rows only
            bounds = (table, PARTITION_COLUMNS[f"{schema}.{name}"], window.start, window.end)
            return conform(self.warehouse.client.read(schema, name, bounds), table)
        frame = self.warehouse.client.read(schema, name)
        return conform(frame, table) if table is not None else frame
