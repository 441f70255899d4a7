"""Names from configuration are quoted identifiers and values are bound parameters:
hostile schema, table and file names are read as names, and nothing else runs."""

from __future__ import annotations

import shutil

import polars as pl
import pytest
import sqlalchemy as sa

from attribution_pipeline.sample_data import generate
from attribution_pipeline.warehouse.client import WarehouseClient
from pipeline_runs import output_tables, read, run_cli

HOSTILE_SCHEMA = 'crm"; DROP TABLE sentinel; --'
HOSTILE_TABLE = "touches'); DELETE FROM sentinel; --"
HOSTILE_FILE = "part-1'; DROP TABLE sentinel; --.csv"


@pytest.fixture(autouse=True)
def _own_dagster_home(dagster_home):
    """Every test runs against an instance of its own (conftest.dagster_home)."""


def load_source_database(url: str, landing) -> None:
    """Every source in the hostile schema; touches under the hostile table name; a sentinel beside them."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.schema.CreateSchema(HOSTILE_SCHEMA))
        sa.Table("sentinel", sa.MetaData(), sa.Column("alive", sa.Integer)).create(conn)
        conn.execute(sa.text("INSERT INTO sentinel VALUES (1)"))
    engine.dispose()
    client = WarehouseClient(url)
    for source in sources(landing):
        frame = pl.read_csv(landing / f"{source}.csv", infer_schema=False)
        client.replace_shaped(HOSTILE_SCHEMA, HOSTILE_TABLE if source == "touches" else source, frame)
    client.dispose()


def sources(landing) -> list[str]:
    """Every source the sample landing folder holds (leads and stage history included)."""
    return sorted(path.stem for path in landing.glob("*.csv"))


def sentinel_alive(url: str) -> bool:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT count(*) FROM sentinel")).scalar() == 1
    finally:
        engine.dispose()


@pytest.mark.parametrize("kind", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_hostile_schema_table_and_file_names(kind, tmp_path, request):
    landing = tmp_path / "landing"
    generate(landing, touches=1_500, seed=5)
    if kind == "duckdb":
        source_url, warehouse = f"duckdb:///{tmp_path / 'source_system.duckdb'}", f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    else:
        source_url = request.getfixturevalue("postgres_database")
        warehouse = source_url  # the warehouse shares the database with the hostile source schema
    load_source_database(source_url, landing)
    args = ["--source", source_url, "--warehouse", warehouse, "--source-table", f"touches={HOSTILE_SCHEMA}.{HOSTILE_TABLE}"]
    for source in sources(landing):
        if source != "touches":
            args += ["--source-table", f"{source}={HOSTILE_SCHEMA}.{source}"]
    assert run_cli(*args) == 0
    assert sentinel_alive(source_url)

    # the same data from a landing folder whose part file has a hostile name
    folder = tmp_path / "hostile_files"
    shutil.copytree(landing, folder)
    (folder / "touches").mkdir()
    (folder / "touches.csv").rename(folder / "touches" / HOSTILE_FILE)
    folder_warehouse = f"duckdb:///{tmp_path / 'from_files.duckdb'}"
    assert run_cli("--source", str(folder), "--warehouse", folder_warehouse) == 0
    assert set(read(folder_warehouse, "staging", "touches").get_column("_source_file")) == {f"touches/{HOSTILE_FILE}"}
    from_database, from_files = output_tables(warehouse), output_tables(folder_warehouse)
    for name in from_files:
        assert from_database[name].equals(from_files[name])
    assert sentinel_alive(source_url)
