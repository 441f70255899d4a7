"""Warehouse access through SQLAlchemy, with each engine's bulk path.

Every write replaces a whole table (or appends run rows) inside one
transaction, so a reader sees the previous complete version or the new one,
never half of it. DuckDB loads from Arrow, PostgreSQL from COPY; any other
dialect falls back to batched INSERTs.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

from attribution_pipeline.warehouse.sql_types import UTC_TIMESTAMP, polars_type, sql_type
from attribution_pipeline.warehouse.tables import ADDED_COLUMNS, MONEY_COLUMNS, cents_columns

if TYPE_CHECKING:
    from attribution_pipeline.warehouse.workspace import Stored

DEFAULT_WAREHOUSE_URL = "duckdb:///warehouse.duckdb"
SCHEMAS = ("raw", "staging", "quarantine", "attribution")

_COPY_CHUNK_ROWS = 250_000
_INSERT_BATCH_ROWS = 10_000
# Rows converted to Arrow and loaded at a time: bounds the copy a load makes.
_BULK_SLICE_ROWS = 1_000_000


def money_to_decimal(frame: pl.DataFrame) -> pa.Table:
    """Integer-cent columns become exact Decimal(18, 2) columns with their public names.

    Arrow stores a decimal as its unscaled integer, so viewing the cents as
    decimal(38, 0) -> decimal(18, 2) is exact; no float or division is involved.
    """
    table = frame.to_arrow()
    for cents_name, money_name in MONEY_COLUMNS.items():
        if cents_name in table.column_names:
            index = table.column_names.index(cents_name)
            cents = table.column(index).cast(pa.int64()).cast(pa.decimal128(38, 0))
            money = pa.chunked_array([chunk.view(pa.decimal128(38, 2)) for chunk in cents.chunks], pa.decimal128(38, 2)).cast(
                pa.decimal128(18, 2)
            )
            table = table.set_column(index, money_name, money)
    return table


def table_from_frame(schema: str, name: str, frame: pl.DataFrame, metadata: sa.MetaData | None = None) -> sa.Table:
    """A table shaped like ``frame`` (for raw and staging, whose columns follow the
    inputs). Column names are always quoted: they come from source headers."""
    return sa.Table(
        name,
        metadata or sa.MetaData(),
        *(sa.Column(column, sql_type(dtype), quote=True) for column, dtype in frame.schema.items()),
        schema=schema,
    )


def _quoted(connection: sa.Connection, table: sa.Table) -> tuple[str, str]:
    preparer = connection.dialect.identifier_preparer
    # Always quoted: the dialect's list of reserved words is PostgreSQL's, and a
    # source header may be a word only DuckDB reserves (``at``).
    columns = ", ".join(preparer.quote_identifier(column.name) for column in table.columns)
    return preparer.format_table(table), columns


DEFAULT_DUCKDB_MEMORY_LIMIT = "2GB"


def conform(frame: pl.DataFrame, table: sa.Table) -> pl.DataFrame:
    """A declared table read back from any dialect, in the types the engine uses
    (money back to integer cents, exactly)."""
    money = cents_columns(table)
    columns = []
    for column in table.columns:
        if column.name in money:
            cents = (pl.col(column.name).cast(pl.Decimal(38, 2)) * 100).cast(pl.Int64)
            columns.append(cents.alias(money[column.name]))
        elif isinstance(column.type, sa.DateTime):
            columns.append(pl.col(column.name).cast(UTC_TIMESTAMP))
        else:
            columns.append(pl.col(column.name).cast(polars_type(column.type) or pl.String))
    return frame.select(columns)


class WarehouseClient:
    """One warehouse, addressed by a SQLAlchemy URL."""

    def __init__(self, url: str = DEFAULT_WAREHOUSE_URL, duckdb_memory_limit: str = DEFAULT_DUCKDB_MEMORY_LIMIT):
        self.url = url
        parsed = sa.engine.make_url(url)
        if parsed.get_backend_name() == "duckdb" and parsed.database not in (None, "", ":memory:"):
            path = Path(parsed.database)
            if path.stem.lower() in SCHEMAS:  # DuckDB names the catalog after the file
                raise ValueError(
                    f"DuckDB file {path.name!r} would be a catalog named like the schema {path.stem!r}, which makes "
                    f"{path.stem}.<table> ambiguous; choose another file name, e.g. warehouse.duckdb"
                )
            path.parent.mkdir(parents=True, exist_ok=True)
        # pre_ping: a connection dropped by a server (restart, pg_terminate_backend)
        # is replaced before use instead of failing the next statement. An embedded
        # DuckDB has no server to drop it (and its ping would leave a pending result).
        duckdb = parsed.get_backend_name() == "duckdb"
        # DuckDB keeps written pages in its buffer pool up to 80% of RAM by default,
        # all of it in this process's RSS; a limit makes it evict (and spill) instead.
        config = {"config": {"memory_limit": duckdb_memory_limit}} if duckdb else {}
        self.engine = sa.create_engine(url, pool_pre_ping=not duckdb, connect_args=config)
        self.dialect = self.engine.dialect.name
        self._schemas: set[str] = set()

    def dispose(self) -> None:
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        try:
            with self.engine.begin() as connection:
                yield connection
        except sa.exc.OperationalError as error:
            raise _readable(error, self.url) from error

    @contextmanager
    def consistent_reads(self) -> Iterator[sa.Connection]:
        """A read-only transaction whose reads all see one committed state of the
        warehouse (REPEATABLE READ on PostgreSQL; DuckDB's transactions are snapshots),
        so tables read in it come from one publication, never from two."""
        try:
            with self.engine.connect() as connection:
                if self.dialect == "postgresql":
                    connection = connection.execution_options(isolation_level="REPEATABLE READ")
                with connection.begin():
                    yield connection
        except sa.exc.OperationalError as error:
            raise _readable(error, self.url) from error

    @contextmanager
    def connect(self) -> Iterator[sa.Connection]:
        try:
            with self.engine.connect() as connection:
                yield connection
        except sa.exc.OperationalError as error:
            raise _readable(error, self.url) from error

    def _lock_table(self, conn: sa.Connection, table: sa.Table) -> None:
        """Two runs never interleave writes to one table: on PostgreSQL the second
        waits for the first's transaction (an advisory lock per table, released at
        commit or rollback). DuckDB allows one writing process per file anyway."""
        if self.dialect == "postgresql":
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(f"attribution:{table.fullname}"))))

    # -- writes -----------------------------------------------------------------
    def replace(self, table: sa.Table, frame: pl.DataFrame, connection: sa.Connection | None = None) -> int:
        """Replace every row of a declared table, creating it on first use."""
        with self._connection(connection) as conn:
            self._prepare(conn, table)
            conn.execute(table.delete())
            return self._bulk_insert(conn, table, frame)

    def replace_window(self, table: sa.Table, frame: pl.DataFrame, column: str, start: dt.datetime, end: dt.datetime) -> int:
        """Replace the rows whose ``column`` lies in [start, end) (a range of partitions),
        in one transaction; rows outside it are untouched."""
        bounds = _bounds(table.c[column], start, end)
        if frame.height:
            values = frame.get_column(column)
            low, high = (start.date(), end.date()) if values.dtype == pl.Date else (start, end)
            outside = frame.filter((pl.col(column) < low) | (pl.col(column) >= high)).height
            if outside:
                raise ValueError(f"{outside} rows of {table.fullname} fall outside the partition window [{start}, {end})")
        with self.transaction() as conn:
            self._prepare(conn, table)
            conn.execute(table.delete().where(bounds))
            return self._bulk_insert(conn, table, frame)

    def replace_shaped(self, schema: str, name: str, frame: pl.DataFrame) -> int:
        """Drop and recreate a table shaped like the frame, in one transaction."""
        table = table_from_frame(schema, name, frame)
        return self._recreate(table, lambda conn: self._bulk_insert(conn, table, frame, money=False))

    def replace_shaped_from(self, schema: str, name: str, stored: "Stored") -> int:
        """``replace_shaped`` from a workspace file, loaded by the engine's bulk path."""
        table = table_from_frame(schema, name, pl.DataFrame(schema=pl.read_parquet_schema(stored.file)))
        return self._recreate(table, lambda conn: self._insert_file(conn, table, stored, money=False))

    def _recreate(self, table: sa.Table, fill) -> int:
        """Drop and create ``table`` and fill it (``fill(connection)`` returns the rows), in one transaction."""
        with self.transaction() as conn:
            self._lock_table(conn, table)
            self._ensure_schema(conn, table.schema)
            table.drop(conn, checkfirst=True)
            table.create(conn)
            return fill(conn)

    def publish(self, items: list[tuple[sa.Table, "Stored", str | None]], also=None) -> dict[str, int]:
        """Replace each table from its workspace file (``(table, stored, partition column)``:
        exactly the file's months when it has a window, else every row) and run
        ``also(connection)``, all in one transaction: readers see every table of the
        previous version or every table of the new one. Tables are locked in name
        order, so two publishing runs never deadlock."""
        rows = {}
        with self.transaction() as conn:
            for table, stored, column in sorted(items, key=lambda item: item[0].fullname):
                self._prepare(conn, table)
                if stored.window is not None:
                    conn.execute(table.delete().where(_bounds(table.c[column], *stored.window)))
                else:
                    conn.execute(table.delete())
                rows[table.fullname] = self._insert_file(conn, table, stored)
            if also is not None:
                also(conn)
        return rows

    def _insert_file(self, conn: sa.Connection, table: sa.Table, stored: "Stored", money: bool = True) -> int:
        """A workspace file into a table by the engine's bulk path: DuckDB reads the
        Parquet file itself; other dialects get it in record batches. ``money``: the
        file's integer-cent columns fill the declared table's decimal columns."""
        names = pq.ParquetFile(stored.file).schema_arrow.names
        cents = {public: name for public, name in cents_columns(table).items() if name in names} if money else {}
        missing = [c.name for c in table.columns if cents.get(c.name, c.name) not in names]
        if missing:
            raise ValueError(f"frame for {table.fullname} lacks columns {missing}")
        if stored.rows == 0:
            return 0
        if self.dialect == "duckdb":
            preparer = conn.dialect.identifier_preparer
            target, columns = _quoted(conn, table)
            # cents * 0.01 in DECIMAL arithmetic is exact (no float on the way)
            values = ", ".join(
                f"CAST({preparer.quote_identifier(cents[c.name])} AS DECIMAL(18, 0)) * CAST(0.01 AS DECIMAL(3, 2))"
                if c.name in cents
                else preparer.quote_identifier(c.name)
                for c in table.columns
            )
            path = str(stored.file).replace("'", "''")
            conn.connection.driver_connection.execute(
                f"INSERT INTO {target} ({columns}) SELECT {values} FROM read_parquet('{path}', hive_partitioning = false)"
            )
            return stored.rows
        for batch in pq.ParquetFile(stored.file).iter_batches(batch_size=_COPY_CHUNK_ROWS):
            self._bulk_insert(conn, table, pl.from_arrow(batch), money=money)
        return stored.rows

    def ensure_table(self, table: sa.Table, connection: sa.Connection) -> None:
        self._prepare(connection, table)

    def append(self, table: sa.Table, frame: pl.DataFrame, connection: sa.Connection | None = None) -> int:
        with self._connection(connection) as conn:
            self._prepare(conn, table)
            return self._bulk_insert(conn, table, frame)

    # -- reads ------------------------------------------------------------------
    def read(
        self,
        schema: str,
        name: str,
        window: tuple[sa.Table, str, dt.datetime, dt.datetime] | None = None,
        outside: tuple[dt.datetime, dt.datetime] | None = None,
        connection: sa.Connection | None = None,
    ) -> pl.DataFrame:
        """A whole table, or (``window``: declared table, column, start, end) its rows in
        [start, end), leaving out those in ``outside`` (months read from elsewhere);
        in ``connection``'s transaction when given (``consistent_reads``)."""
        return _utc(self._read(schema, name, window, outside, connection))

    def read_declared(self, table: sa.Table, column: str | None = None, start=None, end=None, connection=None) -> pl.DataFrame:
        """A declared table in engine types (``conform``), whole or its rows with
        ``column`` in [start, end)."""
        window = (table, column, start, end) if column is not None else None
        return conform(self.read(table.schema, table.name, window, connection=connection), table)

    def _read(self, schema: str, name: str, window, outside=None, connection=None) -> pl.DataFrame:
        table = sa.Table(name, sa.MetaData(), schema=schema)
        statement = sa.select(sa.text("*")).select_from(table)
        if window is not None:
            declared, column, start, end = window
            statement = sa.select(declared).where(_bounds(declared.c[column], start, end))
            if outside is not None:
                statement = statement.where(sa.not_(_bounds(declared.c[column], *outside)))
        with self._reading(connection) as conn:
            if self.dialect == "duckdb":
                return self._query(conn, statement)
            # Types from the catalog, not inferred from values: an all-null column
            # would otherwise come back typed Null and break string expressions.
            reflected = sa.inspect(conn).get_columns(name, schema=schema)
            overrides = {c["name"]: dtype for c in reflected if (dtype := polars_type(c["type"])) is not None}
            if window is not None:
                overrides = {k: v for k, v in overrides.items() if k in declared.c}
            return pl.read_database(statement, conn, infer_schema_length=None, schema_overrides=overrides)

    def query(self, statement: sa.Select, connection: sa.Connection | None = None) -> pl.DataFrame:
        """The rows of a SQLAlchemy select (over declared tables: its columns carry their types)."""
        with self._reading(connection) as conn:
            return _utc(self._query(conn, statement))

    def _query(self, conn: sa.Connection, statement: sa.Select) -> pl.DataFrame:
        if self.dialect == "duckdb":
            raw = conn.connection.driver_connection
            sql = str(statement.compile(conn, compile_kwargs={"literal_binds": True}))
            return pl.from_arrow(raw.sql(sql).to_arrow_table())
        overrides = {c.name: dtype for c in statement.selected_columns if (dtype := polars_type(c.type)) is not None}
        return pl.read_database(statement, conn, infer_schema_length=None, schema_overrides=overrides)

    def has_table(self, schema: str, name: str) -> bool:
        with self.connect() as conn:
            return sa.inspect(conn).has_table(name, schema=schema)

    # -- internals --------------------------------------------------------------
    @contextmanager
    def _reading(self, connection: sa.Connection | None) -> Iterator[sa.Connection]:
        if connection is not None:
            yield connection
        else:
            with self.connect() as conn:
                yield conn

    @contextmanager
    def _connection(self, connection: sa.Connection | None) -> Iterator[sa.Connection]:
        if connection is not None:
            yield connection
        else:
            with self.transaction() as conn:
                yield conn

    def _prepare(self, conn: sa.Connection, table: sa.Table) -> None:
        """Before writing a declared table: take its write lock, create schema and table
        if missing, add columns a newer version declares, and refuse a table with
        columns this version does not declare (a table left by another version), with
        a message instead of a failed insert. Writes and reads name their columns, so
        the order of an upgraded table's columns does not matter."""
        self._lock_table(conn, table)
        self._ensure_schema(conn, table.schema)
        table.create(conn, checkfirst=True)
        found = list(conn.execute(sa.select(sa.text("*")).select_from(table).limit(0)).keys())
        added = _upgrade(table, found)
        if added:
            self._add_columns(conn, table, added)
        self._comment(conn, table)

    def check_compatible(self, table: sa.Table) -> None:
        """Raise TableSchemaMismatch now if the table exists with columns this version cannot
        write, so the step that computes it says so (its rows are published later)."""
        with self.connect() as conn:
            if sa.inspect(conn).has_table(table.name, schema=table.schema):
                _upgrade(table, list(conn.execute(sa.select(sa.text("*")).select_from(table).limit(0)).keys()))

    @staticmethod
    def _add_columns(conn: sa.Connection, table: sa.Table, names: list[str]) -> None:
        """A newer version added columns to a public table (tables.ADDED_COLUMNS): add them (nullable, since
        older rows have no value; the write that follows replaces those rows), so an
        upgrade needs no manual migration. DDL is transactional on both dialects, so a
        failed write leaves the table as it was."""
        preparer = conn.dialect.identifier_preparer
        for name in names:
            column = table.columns[name]
            conn.execute(
                sa.text(
                    f"ALTER TABLE {preparer.format_table(table)} ADD COLUMN {preparer.format_column(column)} "
                    f"{column.type.compile(dialect=conn.dialect)}"
                )
            )

    def _comment(self, conn: sa.Connection, table: sa.Table) -> None:
        """COMMENT ON the table and each column, from the declarations that also write
        the README's table dictionary, so BI tools show the same text. Checked on every
        write (a table made by an older version gets the current text), but set only
        where the catalog holds another text: a statement per column per write cost more
        than most writes."""
        found = self._comments(conn, table)
        statements = [sa.schema.SetTableComment(table)] if table.comment and (found is None or found.get(None) != table.comment) else []
        statements += [
            sa.schema.SetColumnComment(column)
            for column in table.columns
            if column.comment and (found is None or found.get(column.name) != column.comment)
        ]
        if statements and self.dialect in ("duckdb", "postgresql"):  # one round trip (literals are quoted by the compiler)
            conn.exec_driver_sql(";\n".join(str(statement.compile(dialect=conn.dialect)) for statement in statements))
        else:
            for statement in statements:
                conn.execute(statement)

    def _comments(self, conn: sa.Connection, table: sa.Table) -> dict[str | None, str | None] | None:
        """The catalog's comments of a table (key None) and its columns, in one query;
        None for a dialect whose catalog is not read here (every comment is then set)."""
        if self.dialect == "duckdb":
            columns = sa.text("SELECT column_name, comment FROM duckdb_columns() WHERE schema_name = :schema AND table_name = :name")
            tables = sa.text("SELECT NULL, comment FROM duckdb_tables() WHERE schema_name = :schema AND table_name = :name")
        elif self.dialect == "postgresql":
            columns = sa.text(
                "SELECT a.attname, col_description(a.attrelid, a.attnum) FROM pg_attribute a "
                "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = :schema AND c.relname = :name AND a.attnum > 0 AND NOT a.attisdropped"
            )
            tables = sa.text(
                "SELECT NULL, obj_description(c.oid, 'pg_class') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = :schema AND c.relname = :name"
            )
        else:
            return None
        bound = {"schema": table.schema, "name": table.name}
        return {name: text for query in (tables, columns) for name, text in conn.execute(query, bound).all()}

    def _ensure_schema(self, conn: sa.Connection, schema: str | None) -> None:
        if schema and schema not in self._schemas:
            if sa.inspect(conn).has_schema(schema):
                self._schemas.add(schema)  # it existed before this transaction: it stays (one created here may roll back)
            else:
                conn.execute(sa.schema.CreateSchema(schema, if_not_exists=True))

    def _bulk_insert(self, conn: sa.Connection, table: sa.Table, frame: pl.DataFrame, money: bool = True) -> int:
        """``money``: integer-cent columns become their public decimal columns (declared tables).
        The frame goes in slices of _BULK_SLICE_ROWS, so its Arrow copy never exists whole."""
        names = [column.name for column in table.columns]
        present = money_to_decimal(frame.head(0)).column_names if money else frame.columns
        missing = [name for name in names if name not in present]
        if missing:
            raise ValueError(f"frame for {table.fullname} lacks columns {missing}")
        if frame.height == 0:
            return 0
        parts = ((money_to_decimal(part) if money else part.to_arrow()).select(names) for part in frame.iter_slices(_BULK_SLICE_ROWS))
        if self.dialect == "duckdb":
            for arrow in parts:
                self._insert_duckdb(conn, table, arrow)
        elif self.dialect == "postgresql":
            self._copy_postgresql(conn, table, parts)
        else:
            for arrow in parts:
                for batch in pl.from_arrow(arrow).iter_slices(_INSERT_BATCH_ROWS):
                    conn.execute(table.insert(), batch.to_dicts())
        return frame.height

    @staticmethod
    def _insert_duckdb(conn: sa.Connection, table: sa.Table, arrow: pa.Table) -> None:
        raw = conn.connection.driver_connection
        view = f"_arrow_{uuid.uuid4().hex}"
        target, columns = _quoted(conn, table)
        raw.register(view, arrow)
        try:
            raw.execute(f"INSERT INTO {target} ({columns}) SELECT {columns} FROM {view}")
        finally:
            raw.unregister(view)

    @staticmethod
    def _copy_postgresql(conn: sa.Connection, table: sa.Table, parts: Iterable[pa.Table]) -> None:
        """One COPY FROM STDIN in CSV: nulls are unquoted empty fields, every text value is quoted."""
        target, columns = _quoted(conn, table)
        raw = conn.connection.driver_connection
        with raw.cursor() as cursor:
            with cursor.copy(f"COPY {target} ({columns}) FROM STDIN WITH (FORMAT csv)") as copy:
                for part in parts:
                    frame = pl.from_arrow(part)
                    text_columns = [name for name, dtype in frame.schema.items() if dtype == pl.String]
                    for chunk in frame.iter_slices(_COPY_CHUNK_ROWS):
                        if text_columns:  # PostgreSQL text cannot hold NUL; per chunk, never a copy of the whole frame
                            chunk = chunk.with_columns(pl.col(text_columns).str.replace_all("\x00", "\ufffd", literal=True))
                        buffer = io.BytesIO()
                        chunk.write_csv(
                            buffer,
                            include_header=False,
                            quote_style="non_numeric",
                            datetime_format="%Y-%m-%dT%H:%M:%S%.6f%:z",
                            null_value="",
                        )
                        copy.write(buffer.getvalue())


def _upgrade(table: sa.Table, found: list[str]) -> list[str]:
    """The columns to add to a table found with ``found`` (a newer version declared them,
    tables.ADDED_COLUMNS); any other difference is a table of another version."""
    declared = [column.name for column in table.columns]
    added = [name for name in declared if name not in found]
    if added and set(found) <= set(declared) and set(added) <= set(ADDED_COLUMNS.get(table.fullname, ())):
        return added
    if sorted(found) != sorted(declared):
        raise TableSchemaMismatch(
            f"{table.fullname} in the warehouse has columns {found}, but this version writes {declared}; "
            f"drop or migrate the table (e.g. ALTER TABLE {table.fullname} ADD COLUMN ...) and run again"
        )
    return []


class TableSchemaMismatch(RuntimeError):
    """A declared table exists with other columns (left by another version)."""


class WarehouseBusy(RuntimeError):
    """Another process holds the warehouse (DuckDB allows one writing process per file)."""


def _readable(error: sa.exc.OperationalError, url: str) -> Exception:
    text = str(error.orig) if error.orig is not None else str(error)
    if "Could not set lock on file" in text:
        holder = re.search(r"PID (\d+)", text)
        return WarehouseBusy(
            f"the DuckDB warehouse {sa.engine.make_url(url).database} is in use by another process"
            + (f" (PID {holder.group(1)})" if holder else "")
            + "; DuckDB allows one writer per file, so wait for that run to finish and try again"
        )
    return error


def _bounds(column: sa.ColumnElement, start: dt.datetime, end: dt.datetime) -> sa.ColumnElement:
    if isinstance(column.type, sa.Date) and not isinstance(column.type, sa.DateTime):
        return sa.and_(column >= start.date(), column < end.date())
    return sa.and_(column >= start, column < end)


def _utc(frame: pl.DataFrame) -> pl.DataFrame:
    """Drivers name UTC differently (``Etc/UTC``, ``UTC``); polars needs one name to compare."""
    zoned = [name for name, dtype in frame.schema.items() if isinstance(dtype, pl.Datetime) and dtype.time_zone]
    return frame.with_columns(pl.col(zoned).dt.convert_time_zone("UTC")) if zoned else frame
