"""The run workspace: every asset's output as a Parquet file, so steps hand each
other files instead of frames held in a process (any step may run in any process,
or be re-executed later), and a run's public tables can be published together.

Layout: ``<directory>/<run_id>/<schema>/<name>.parquet`` plus ``<name>.json`` (the
partition window the file covers, and its row count). A file is written under a
temporary name and renamed, so a reader never sees half of one. A run's folder is
removed once its tables are published; folders of runs that failed stay for a
re-execution and are removed after ``KEEP_DAYS``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import polars as pl
import pyarrow.parquet as pq
from pydantic import Field

KEEP_DAYS = 7


@dataclass(frozen=True)
class Stored:
    """One asset's file in a run workspace and the months it covers (None: not partitioned)."""

    path: tuple[str, str]
    file: Path
    window: tuple[dt.datetime, dt.datetime] | None
    rows: int

    def read(self) -> pl.DataFrame:
        return pl.read_parquet(self.file)


class RunWorkspace:
    """One run's folder of Parquet files."""

    def __init__(self, folder: Path):
        self.folder = folder

    def _file(self, path: tuple[str, ...]) -> Path:
        schema, name = path[-2:]
        return self.folder / schema / f"{name}.parquet"

    def write(self, path: tuple[str, ...], frame: pl.DataFrame | pl.LazyFrame, window: tuple[dt.datetime, dt.datetime] | None) -> Stored:
        """A frame, or a lazy one streamed to the file (never held whole)."""
        file = self._file(path)
        file.parent.mkdir(parents=True, exist_ok=True)
        partial = file.with_suffix(f".{os.getpid()}.partial")
        if isinstance(frame, pl.LazyFrame):
            frame.sink_parquet(partial)
            rows = pq.ParquetFile(partial).metadata.num_rows
        else:
            frame.write_parquet(partial)
            rows = frame.height
        partial.replace(file)
        return self._manifest(path, file, rows, window)

    def write_chunks(self, path: tuple[str, ...], chunks: Iterable[pl.DataFrame], window: tuple[dt.datetime, dt.datetime] | None) -> Stored:
        """Frames of one schema appended to the file as they come (a step's chunks of
        credit), so a chunked output is written once, not as parts and again as the
        whole. A step returns the ``Stored``; the IO manager then copies nothing."""
        file = self._file(path)
        file.parent.mkdir(parents=True, exist_ok=True)
        partial = file.with_suffix(f".{os.getpid()}.partial")
        writer, rows = None, 0
        try:
            try:
                for chunk in chunks:
                    table = chunk.to_arrow(compat_level=pl.CompatLevel.oldest())
                    if writer is None:
                        writer = pq.ParquetWriter(partial, table.schema, compression="zstd")
                    writer.write_table(table.cast(writer.schema))
                    rows += chunk.height
            finally:
                if writer is not None:
                    writer.close()
            if writer is None:
                raise ValueError(f"no chunk of {'.'.join(path[-2:])} to write (a chunked step yields at least one, empty or not)")
            partial.replace(file)
        finally:
            partial.unlink(missing_ok=True)  # left only when writing failed: never a half file
        return self._manifest(path, file, rows, window)

    def _manifest(self, path: tuple[str, ...], file: Path, rows: int, window) -> Stored:
        manifest = {"rows": rows, "window": [bound.isoformat() for bound in window] if window else None}
        file.with_suffix(".json").write_text(json.dumps(manifest))
        return Stored(tuple(path[-2:]), file, window, rows)

    def parts(self, name: str) -> Path:
        """A folder (created) for the pieces a step writes before it stores the whole:
        a landing folder's text, staged chunks."""
        folder = self.folder / "parts" / name
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def get(self, path: tuple[str, ...]) -> Stored | None:
        file = self._file(path)
        manifest = file.with_suffix(".json")
        if not file.exists() or not manifest.exists():
            return None
        meta = json.loads(manifest.read_text())
        window = tuple(dt.datetime.fromisoformat(bound) for bound in meta["window"]) if meta["window"] else None
        return Stored(tuple(path[-2:]), file, window, meta["rows"])

    def stored(self, schema: str) -> list[Stored]:
        """Every file of one schema in this workspace, by name."""
        folder = self.folder / schema
        found = [self.get((schema, file.stem)) for file in sorted(folder.glob("*.parquet"))] if folder.is_dir() else []
        return [item for item in found if item is not None]

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


class Workspace(dg.ConfigurableResource):
    """Where runs keep their steps' outputs until they are published."""

    directory: str | None = Field(
        default=None,
        description="Folder of the run workspaces (default: workspace/ in the Dagster home); "
        "a folder every step can reach when steps run on several machines",
    )

    def root(self, instance: dg.DagsterInstance) -> Path:
        return Path(self.directory) if self.directory else Path(instance.root_directory) / "workspace"

    def for_run(self, instance: dg.DagsterInstance, run_id: str) -> RunWorkspace:
        return RunWorkspace(self.root(instance) / run_id)

    def prune(self, instance: dg.DagsterInstance) -> None:
        """Remove the folders of runs that ended (failed) more than KEEP_DAYS ago."""
        root = self.root(instance)
        cutoff = time.time() - KEEP_DAYS * 86400
        for folder in root.iterdir() if root.is_dir() else []:
            if folder.is_dir() and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
