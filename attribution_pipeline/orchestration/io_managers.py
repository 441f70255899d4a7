"""Each asset's frame goes to the run workspace (``workspace.py``) and from there
to the warehouse table named by its key (``schema/name``). An output may be a
lazy frame over part files (a landing folder's text, staged chunks): it is
streamed to the workspace file and the warehouse is loaded from that file, so it
is never held whole. A step that wrote its chunks to the workspace itself (the
credit steps, ``RunWorkspace.write_chunks``) returns that ``Stored`` file. A
raw.* frame (a database source) goes to the warehouse only, since no step reads
raw.

Steps read their inputs from the workspace of the run that wrote them, whatever
process computed them, and from the warehouse when that run's workspace does not
have them (an asset this run did not compute). raw, staging and quarantine
tables are written as each step finishes (a failed run leaves what it read, for
inspection). The public ``attribution`` tables are published together by
``attribution/runs`` at the end of the run, in one transaction, so a run that
fails replaces none of them and a reader never sees tables from two runs; a run
whose selection leaves ``attribution/runs`` out replaces each table when its step
finishes instead.
"""

import datetime as dt
import resource
import warnings

import dagster as dg
import polars as pl
import sqlalchemy as sa

from attribution_pipeline.orchestration.resources import Warehouse
from attribution_pipeline.warehouse.client import TableSchemaMismatch, conform
from attribution_pipeline.warehouse.docs import type_name
from attribution_pipeline.warehouse.tables import ATTRIBUTION, METADATA, PARTITION_COLUMNS, QUARANTINE, cents_columns, quarantine_table
from attribution_pipeline.warehouse.workspace import RunWorkspace, Stored, Workspace

# Writing steps are retried: a dropped connection or a warehouse briefly held by
# another run is transient, and every write is an idempotent replace.
WRITE_RETRY = dg.RetryPolicy(max_retries=2, delay=2, backoff=dg.Backoff.EXPONENTIAL)
# A range of months is one run (one transaction per table), from the CLI, `dg launch
# --partition-range` or a UI backfill; unpartitioned assets ride along in that run.
SINGLE_RUN = dg.BackfillPolicy.single_run()
# Dagster marks the `backfill_policy` parameter beta and warns once per asset at
# import; the policy is deliberate, so keep that notice out of every CLI run.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy`", category=dg.BetaWarning)

# The asset that publishes a run's attribution tables as one set.
PUBLISHER = dg.AssetKey([ATTRIBUTION, "runs"])


def column_schema(frame: pl.DataFrame | pl.LazyFrame, table: sa.Table | None) -> dg.TableSchema:
    docs = {column.name: column.comment for column in table.columns} if table is not None else {}
    return dg.TableSchema(
        columns=[dg.TableColumn(name, str(dtype), description=docs.get(name)) for name, dtype in frame.collect_schema().items()]
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


def engine_columns(table: sa.Table) -> list[str]:
    """A declared table's columns as the engine names them (money as integer cents)."""
    money = cents_columns(table)
    return [money.get(column.name, column.name) for column in table.columns]


def publishes_at_end(run: dg.DagsterRun) -> bool:
    """A run that includes attribution/runs publishes its attribution tables there, together.
    A run of the whole job has no selection (None, or an empty set from ``execute_in_process``)."""
    return not run.asset_selection or PUBLISHER in run.asset_selection


def published_keys(assets: list[dg.AssetsDefinition]) -> list[dg.AssetKey]:
    """The assets whose tables ``PUBLISHER`` publishes: every declared attribution table in the graph."""
    keys = {key for asset in assets for key in asset.keys}
    return sorted(
        (key for key in keys if key != PUBLISHER and key.path[0] == ATTRIBUTION and declared_table(*key.path[-2:]) is not None),
        key=lambda key: key.to_user_string(),
    )


def publish(warehouse: Warehouse, workspace: RunWorkspace, also=None) -> dict[str, int]:
    """Every attribution table in the workspace to the warehouse, in one transaction
    (``also(connection)`` joins it); partitioned tables replace exactly their months."""
    items = [(METADATA.tables[f"{ATTRIBUTION}.{stored.path[1]}"], stored) for stored in workspace.stored(ATTRIBUTION)]
    return warehouse.client.publish([(table, stored, PARTITION_COLUMNS.get(table.fullname)) for table, stored in items], also)


class WarehouseIOManager(dg.ConfigurableIOManager):
    """Polars frames through the run workspace into the warehouse, one table per asset key."""

    warehouse: dg.ResourceDependency[Warehouse]
    workspace: dg.ResourceDependency[Workspace]

    def handle_output(self, context: dg.OutputContext, obj: pl.DataFrame | pl.LazyFrame | Stored) -> None:
        """A frame, or a lazy frame over part files, streamed to the workspace file and
        loaded into the warehouse from there (raw and staging are shaped like their
        inputs; the attribution tables are published from their files). A ``Stored``
        is a workspace file the step wrote itself, run_id included: it is not copied."""
        path = tuple(context.asset_key.path)
        schema, name = path[-2:]
        table = declared_table(schema, name)
        written = obj if isinstance(obj, Stored) else None
        obj = pl.scan_parquet(written.file) if written else with_run_id(obj, table, context.run_id)
        window = None
        if context.has_asset_partitions:
            time_window = context.asset_partitions_time_window
            window = (time_window.start, time_window.end)
            if written is None:  # a step that wrote its own file checked each chunk before writing it
                check_within(obj, table, window)
        step = context.step_context
        # raw.* is read by no step (staging happens in the step that reads it): a frame goes to the
        # warehouse only; a lazy one (a scan of the landing files' text) through one file.
        lazy = isinstance(obj, pl.LazyFrame)
        stored = written or (
            self.workspace.for_run(step.instance, context.run_id).write(path, obj, window) if schema != "raw" or lazy else None
        )
        try:
            if schema != ATTRIBUTION and lazy:  # raw from the landing text, staging from its chunks: now, from the file
                rows = self.warehouse.client.replace_shaped_from(schema, name, stored)
            elif schema != ATTRIBUTION:  # raw, staging, quarantine: now
                rows = (
                    self.warehouse.client.replace(table, obj)
                    if table is not None
                    else self.warehouse.client.replace_shaped(schema, name, obj)
                )
            elif not publishes_at_end(step.dagster_run):  # this run has no publishing step: now, on its own
                rows = self.warehouse.client.publish([(table, stored, PARTITION_COLUMNS.get(table.fullname))])[table.fullname]
            else:  # published with the run's other tables by attribution/runs
                self.warehouse.client.check_compatible(table)
                rows = stored.rows
        except TableSchemaMismatch as error:  # a table of another version: retrying cannot help
            raise dg.Failure(description=str(error), allow_retries=False) from error
        context.add_output_metadata(
            {
                # The process's peak so far (it only grows): the step that raises it is the one to slim.
                "process_peak_rss_mb": dg.MetadataValue.int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024),
                # What the process holds now: with the peak, it tells a step's own working set from what earlier steps left.
                "process_rss_mb": dg.MetadataValue.int(current_rss_mb()),
                "dagster/row_count": dg.MetadataValue.int(rows),
                "dagster/table_name": f"{schema}.{name}",
                "dagster/column_schema": column_schema(obj, table),
            }
        )

    def load_input(self, context: dg.InputContext) -> pl.DataFrame | pl.LazyFrame:
        """A frame, or a lazy scan of the workspace file when the input is annotated
        ``pl.LazyFrame`` (polars then reads only the columns and rows the step uses)."""
        lazy = context.dagster_type.typing_type is pl.LazyFrame
        frame = self._load(context, lazy)
        return frame.lazy() if lazy else frame

    def _load(self, context: dg.InputContext, lazy: bool) -> pl.DataFrame | pl.LazyFrame:
        path = tuple(context.asset_key.path)
        schema, name = path[-2:]
        table = declared_table(schema, name)
        wanted = None
        if context.has_asset_partitions:
            time_window = context.asset_partitions_time_window
            wanted = (time_window.start, time_window.end)
        upstream_run = context.upstream_output.run_id if context.upstream_output else None
        stored = self.workspace.for_run(context.instance, upstream_run).get(path) if upstream_run else None
        if stored is None:
            return self._from_warehouse(schema, name, table, wanted)
        whole = wanted is None or stored.window is None or stored.window == wanted
        # A lazy input stays a scan of the run's file whatever the window (an all-months reader
        # of a run's months, such as the pipeline marts, would otherwise hold the whole file);
        # months the run did not compute still come from the warehouse as a frame.
        frame = pl.scan_parquet(stored.file) if lazy else stored.read()
        if table is not None:
            frame = frame.select(engine_columns(table))
        if whole:
            return frame
        column = PARTITION_COLUMNS[f"{schema}.{name}"]
        inside = frame.filter(in_window(frame, column, wanted))
        if covers(stored.window, wanted):
            return inside
        # The months this run did not compute are the warehouse's (published by earlier runs).
        if not self.warehouse.client.has_table(schema, name):  # nothing published before this run
            return inside
        rest = self._from_warehouse(schema, name, table, wanted, outside=stored.window)
        rest = rest.select(inside.collect_schema().names())
        return pl.concat([inside, rest.lazy() if lazy else rest], how="vertical_relaxed")

    def _from_warehouse(self, schema, name, table, wanted, outside=None) -> pl.DataFrame:
        if wanted is not None:  # a range of months: read those rows only
            bounds = (table, PARTITION_COLUMNS[f"{schema}.{name}"], wanted[0], wanted[1])
            return conform(self.warehouse.client.read(schema, name, bounds, outside=outside), table)
        frame = self.warehouse.client.read(schema, name)
        return conform(frame, table) if table is not None else frame


def with_run_id(frame: pl.DataFrame | pl.LazyFrame, table: sa.Table | None, run_id: str) -> pl.DataFrame | pl.LazyFrame:
    """The rows stamped with the run that wrote them, where the declared table has ``run_id``
    (a lazy frame stays lazy: the column is added as it streams to the workspace file)."""
    if table is None or "run_id" not in table.columns or "run_id" in frame.collect_schema().names():
        return frame
    return frame.with_columns(run_id=pl.lit(run_id, pl.String))


def current_rss_mb() -> int:
    """This process's resident memory now, in MiB (Linux; 0 where /proc is absent)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * resource.getpagesize() // 2**20
    except OSError:
        return 0


def covers(outer: tuple[dt.datetime, dt.datetime], inner: tuple[dt.datetime, dt.datetime]) -> bool:
    return outer[0] <= inner[0] and inner[1] <= outer[1]


def in_window(frame: pl.DataFrame | pl.LazyFrame, column: str, window: tuple[dt.datetime, dt.datetime]) -> pl.Expr:
    start, end = window
    if frame.collect_schema()[column] == pl.Date:
        start, end = start.date(), end.date()
    return (pl.col(column) >= start) & (pl.col(column) < end)


def check_within(frame: pl.DataFrame | pl.LazyFrame, table: sa.Table, window: tuple[dt.datetime, dt.datetime]) -> None:
    """A partitioned table replaces exactly its months: a row outside them is a bug upstream."""
    column = PARTITION_COLUMNS[table.fullname]
    outside = frame.lazy().filter(~in_window(frame, column, window)).select(pl.len()).collect().item()
    if outside:
        raise ValueError(f"{outside} rows of {table.fullname} fall outside the partition window [{window[0]}, {window[1]})")
