"""Can great-expectations evaluate a suite inside the warehouse, through its SQL datasource?

    uv run --frozen python benchmarks/gx_sql.py [POSTGRESQL_URL]

The row suite runs on GX's pandas engine in the validator process today, which costs
2.7 s per million touches (profile_staging.py). Run by the warehouse's SQL engine, it
would cost a few scans of the staged table. This script builds a 1M-row table in a
temporary DuckDB file (and, given a PostgreSQL URL, in that database, dropped after),
asks GX 1.x for three expectations through ``data_sources.add_sql``, and prints what
GX returned for each. On great-expectations 1.24.1 with duckdb-engine, every metric
query fails with ``IndexError: list index out of range`` in
``SqlAlchemyExecutionEngine.resolve_metric_bundle`` (GX issue #11579; a native DuckDB
engine is proposed in GX PR #12084, not released); on PostgreSQL the suite runs.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

TABLE = "gx_sql_probe"
ROWS = 1_000_000


def build(url: str) -> None:
    engine = sa.create_engine(url)
    series = f"range({ROWS}) t(g)" if url.startswith("duckdb") else f"generate_series(0, {ROWS - 1}) g"
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {TABLE}"))
        conn.execute(
            sa.text(f"CREATE TABLE {TABLE} AS SELECT g AS touch_id, CASE WHEN g % 1000 = 0 THEN NULL ELSE 'x' END AS channel FROM {series}")
        )
    engine.dispose()


def probe(url: str) -> None:
    import great_expectations as gx
    import great_expectations.expectations as gxe

    build(url)
    context = gx.get_context(mode="ephemeral")
    source = context.data_sources.add_sql(name="warehouse", connection_string=url)
    batch = source.add_table_asset(name=TABLE, table_name=TABLE).add_batch_definition_whole_table("all").get_batch()
    print(
        f"{sa.engine.make_url(url).get_backend_name()}, great-expectations {gx.__version__}: {ROWS:,} rows, {ROWS // 1000:,} null channels"
    )
    for expectation in (
        gxe.ExpectColumnValuesToNotBeNull(column="channel"),
        gxe.ExpectColumnValuesToBeUnique(column="touch_id"),
        gxe.ExpectColumnValuesToMatchRegex(column="channel", regex="^x$"),
    ):
        start = time.perf_counter()
        result = batch.validate(expectation, result_format="BASIC")
        errors = [info.get("exception_message") for info in (result.exception_info or {}).values() if isinstance(info, dict)]
        errors = [error for error in errors if error]
        outcome = f"error: {errors[0]}" if errors else f"unexpected {result.result.get('unexpected_count')}"
        print(f"| {type(expectation).__name__} | {time.perf_counter() - start:.2f} s | {outcome} |")


def main() -> int:
    with tempfile.TemporaryDirectory() as scratch:
        probe(f"duckdb:///{Path(scratch) / 'gx.duckdb'}")
    for url in sys.argv[1:]:
        try:
            probe(url)
        finally:
            engine = sa.create_engine(url)
            with engine.begin() as conn:
                conn.execute(sa.text(f"DROP TABLE IF EXISTS {TABLE}"))
            engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
