"""Reading a source "as it is" (SPEC 1): a landing folder of CSV/Parquet files
or a table/query in any SQLAlchemy database.

Every value is read as text, exactly as written, so that staging can apply
the contract and quarantine can show the original values. Headers are
matched case-insensitively after trimming; extra columns are kept.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import polars as pl
import sqlalchemy as sa

from attribution_pipeline.contract.rules import SOURCE_FILE, SOURCE_ROW

DATA_SUFFIXES = (".csv", ".parquet")
# What to do about a file the readers cannot read (undecodable, truncated, malformed).
REWRITE = "write it again as UTF-8 CSV (comma-delimited, one header row, as many fields per row as the header) or as Parquet"


class SourceError(Exception):
    """A whole-source problem: the run stops before anything downstream is replaced.
    Its message names the source, the file (or table) and the rule."""

    def __init__(self, source: str, location: str, problem: str, rule: str = "source.unreadable"):
        self.source, self.location, self.problem, self.rule = source, location, problem, rule
        super().__init__(f"source {source}: {location}: rule {rule}: {problem}")


def is_database_url(location: str) -> bool:
    return "://" in location


def landing_files(folder: Path, source: str) -> list[Path]:
    """``DIR/<source>.csv|.parquet`` and every data file under ``DIR/<source>/``."""
    files: list[Path] = []
    for entry in sorted(folder.iterdir()):
        name = entry.name.lower()
        if entry.is_file() and name in {f"{source}{suffix}" for suffix in DATA_SUFFIXES}:
            files.append(entry)
        elif entry.is_dir() and name == source:
            files.extend(part for part in sorted(entry.rglob("*")) if part.is_file() and part.suffix.lower() in DATA_SUFFIXES)
    return files


def _as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Typed columns (Parquet, SQL) as text that staging parses like CSV text."""
    columns = []
    for name, dtype in frame.schema.items():
        column = pl.col(name)
        if isinstance(dtype, pl.Datetime):
            fmt = "%Y-%m-%dT%H:%M:%S%.6f" + ("%:z" if dtype.time_zone else "")
            columns.append(column.dt.to_string(fmt).alias(name))
        elif dtype == pl.Date:
            columns.append(column.dt.to_string("%Y-%m-%d").alias(name))
        elif dtype == pl.String:
            columns.append(column)
        elif dtype == pl.Binary:
            columns.append(column.bin.encode("hex").alias(name))
        elif dtype.is_nested():  # lists and structs as JSON text: kept in raw, never parsed
            wrapped = pl.struct(column.alias("v")).struct.json_encode()
            columns.append(pl.when(column.is_not_null()).then(wrapped.str.slice(5, wrapped.str.len_chars() - 6)).alias(name))
        else:
            columns.append(column.cast(pl.String).alias(name))
    return frame.select(columns)


def is_query(table_or_query: str) -> bool:
    """A SELECT or WITH statement, as opposed to a table name like ``selected_touches``."""
    return re.match(r"\s*(select|with)\s", table_or_query, flags=re.IGNORECASE) is not None


def _normalized_headers(frame: pl.DataFrame, source: str, location: str) -> pl.DataFrame:
    for name in frame.columns:  # polars renames a repeated CSV header to <name>_duplicated_<n>
        original = re.sub(r"_duplicated_[0-9]+$", "", name)
        if original != name and original in frame.columns:
            raise SourceError(
                source,
                location,
                f"column {original!r} appears more than once in the header; rename or remove one of them",
                "source.duplicate_column",
            )
    names = [str(name).strip().lower() for name in frame.columns]
    seen: dict[str, str] = {}
    for original, name in zip(frame.columns, names):
        if name in seen:
            raise SourceError(
                source,
                location,
                f"columns {seen[name]!r} and {original!r} are the same column once trimmed and lower-cased; rename or remove one of them",
                "source.duplicate_column",
            )
        if name in (SOURCE_FILE, SOURCE_ROW):
            raise SourceError(
                source,
                location,
                f"column name {original!r} is reserved for the pipeline's lineage; rename that column",
                "source.reserved_column",
            )
        seen[name] = original
    return frame.rename(dict(zip(frame.columns, names)))


def _with_lineage(frame: pl.DataFrame, location: str) -> pl.DataFrame:
    return frame.with_columns(
        pl.lit(location).alias(SOURCE_FILE),
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias(SOURCE_ROW),
    )


def read_file(path: Path, source: str, display_name: str) -> pl.DataFrame:
    """One landing file, every column as text, with its file name and 1-based data row."""
    try:
        if path.suffix.lower() == ".parquet":
            frame = pl.read_parquet(path)
        else:
            frame = pl.read_csv(
                io.BytesIO(path.read_bytes()),
                infer_schema=False,
                encoding="utf8",
            )
        frame = _as_text(frame)
    except SourceError:
        raise
    except Exception as error:  # polars/arrow raise many types for unreadable files
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise SourceError(source, display_name, f"unreadable file: {first_line}; {REWRITE}") from error
    frame = _normalized_headers(frame, source, display_name)
    return _with_lineage(frame, display_name)


def read_landing(
    folder: Path, source: str, required: tuple[str, ...] = (), parts: Path | None = None
) -> tuple[pl.DataFrame | pl.LazyFrame | None, list[str]]:
    """All files of one source, or (None, []) when the source has no file. Every
    file must carry the required columns itself: part files are concatenated, so a
    column missing from one would otherwise look like empty values. With ``parts`` (an
    existing folder), each file's text is written there as it is read and a scan of them is
    returned: memory holds one file at a time, never the whole source."""
    files = landing_files(folder, source)
    if not files:
        return None, []
    names = [str(path.relative_to(folder)) for path in files]
    frames: list[pl.DataFrame | pl.LazyFrame] = []
    for index, (path, name) in enumerate(zip(files, names)):
        frame = read_file(path, source, name)
        missing = [column for column in required if column not in frame.columns] if len(files) > 1 else []
        if missing:
            raise SourceError(
                source,
                name,
                f"missing required column(s) {missing}; add them to that file (every part file needs the required columns)",
                "source.missing_column",
            )
        if parts is not None:
            frame.write_parquet(parts / f"{index:05d}.parquet")
            frame = pl.scan_parquet(parts / f"{index:05d}.parquet")
        frames.append(frame)
    if len(frames) == 1:
        return frames[0], names
    # rechunk=False: the parts are appended as chunks, not copied into one buffer
    # (which would hold every input twice at the peak).
    return pl.concat(frames, how="diagonal", rechunk=False), names


def database_has_table(url: str, table: str) -> bool:
    schema, _, name = table.rpartition(".")
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return sa.inspect(connection).has_table(name, schema=schema or None)
    finally:
        engine.dispose()


def read_database(url: str, source: str, table_or_query: str) -> pl.DataFrame:
    """A table (optionally schema-qualified) or a SELECT query in any SQLAlchemy database."""
    query = is_query(table_or_query)
    location = f"query {source}" if query else f"table {table_or_query}"
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            if query:
                statement = sa.text(table_or_query)
            else:
                schema, _, name = table_or_query.rpartition(".")
                table = sa.table(name, schema=schema or None)
                statement = sa.select(sa.text("*")).select_from(table)
            frame = pl.read_database(statement, connection, infer_schema_length=None)
    except Exception as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise SourceError(
            source,
            location,
            f"cannot read: {first_line}; check the source URL and --source-table {source}=TABLE_OR_QUERY",
            "source.unreadable",
        ) from error
    finally:
        engine.dispose()
    frame = _normalized_headers(_as_text(frame), source, location)
    return _with_lineage(frame, location)
