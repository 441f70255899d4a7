"""Dagster resources: where the inputs come from and where the tables go (the run's
parameters are ``settings.py``). They are bound once, in ``definitions.py``, from the
deployment (``deployment.py``).
"""

import datetime as dt
from pathlib import Path

import dagster as dg
import polars as pl
from pydantic import Field, PrivateAttr

from attribution_pipeline.contract.rules import CONTRACTS
from attribution_pipeline.sources.readers import (
    SourceError,
    database_has_table,
    is_database_url,
    is_query,
    landing_files,
    read_database,
    read_landing,
)
from attribution_pipeline.warehouse.client import DEFAULT_DUCKDB_MEMORY_LIMIT, DEFAULT_WAREHOUSE_URL, WarehouseClient


class Warehouse(dg.ConfigurableResource):
    """The warehouse every table is written to, as a SQLAlchemy URL
    (``duckdb:///path.duckdb`` embedded, ``postgresql+psycopg://...`` in production)."""

    url: str = Field(default=DEFAULT_WAREHOUSE_URL, description="SQLAlchemy URL of the warehouse")
    duckdb_memory_limit: str = Field(default=DEFAULT_DUCKDB_MEMORY_LIMIT, description="DuckDB's memory_limit (a DuckDB warehouse only)")
    _client: WarehouseClient | None = PrivateAttr(default=None)

    @property
    def client(self) -> WarehouseClient:
        if self._client is None:
            self._client = WarehouseClient(self.url, self.duckdb_memory_limit)
        return self._client

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._client is not None:
            self._client.dispose()


class LandingSource(dg.ConfigurableResource):
    """Where the inputs are: a landing folder (``DIR/<source>.csv|.parquet`` or
    ``DIR/<source>/`` part files) or a SQLAlchemy URL with a table or query per source."""

    location: str = Field(description="Landing folder path, or a SQLAlchemy URL")
    tables: dict[str, str] = Field(
        default_factory=dict,
        description="For a database source: source name -> table name or SELECT query (default: the source name)",
    )

    def _absent_table(self, source: str) -> bool:
        """An optional source with no table of its name (and none configured) is absent."""
        return source not in self.tables and CONTRACTS[source].optional and not database_has_table(self.location, source)

    def describe(self, source: str) -> list[str]:
        """The files or tables a source is read from, without reading them."""
        if is_database_url(self.location):
            if self._absent_table(source):
                return []
            target = self.tables.get(source, source)
            return [f"query {source}" if is_query(target) else target]
        folder = Path(self.location)
        return [str(path.relative_to(folder)) for path in landing_files(folder, source)] if folder.is_dir() else []

    def read(self, source: str, parts: Path | None = None) -> tuple[pl.DataFrame | pl.LazyFrame | None, list[str]]:
        """The source's rows as text, and the files or tables they came from (None when absent).
        ``parts``: a folder where a landing source's files are kept as text, one at a time
        (``read_landing``), for a scan of them instead of the rows in memory."""
        if is_database_url(self.location):
            if self._absent_table(source):
                return None, []
            target = self.tables.get(source, source)
            frame = read_database(self.location, source, target)
            return frame, [f"query {source}" if is_query(target) else target]
        folder = Path(self.location)
        if not folder.is_dir():
            raise SourceError(
                source, str(folder), "landing folder does not exist (create one with `attribution sample-data --out DIR`)", "source.missing"
            )
        return read_landing(folder, source, CONTRACTS[source].required_columns, parts)


def run_started_at(context: dg.AssetExecutionContext) -> dt.datetime:
    """When the run was created: the same wall-clock time for every step of a run, in
    any process, so the plausible range of timestamps is the same for every source."""
    record = context.instance.get_run_record_by_id(context.run.run_id)
    return record.create_timestamp.astimezone(dt.timezone.utc) if record else dt.datetime.now(dt.timezone.utc)


class ReportDestination(dg.ConfigurableResource):
    """Where the ``attribution/report`` asset writes the HTML page."""

    path: str | None = Field(default=None, description="HTML file to write; default: attribution_report.html in the Dagster home")

    def resolve(self, instance: dg.DagsterInstance) -> Path:
        """The configured path, else the instance's own folder (never the repository)."""
        return Path(self.path) if self.path else Path(instance.root_directory) / "attribution_report.html"
