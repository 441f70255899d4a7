"""What comes back from the warehouse is what went in, column types included."""

from __future__ import annotations

import polars as pl
import pytest
import sqlalchemy as sa
from polars.testing import assert_frame_equal

from attribution_pipeline.warehouse.client import WarehouseClient
from attribution_pipeline.warehouse.tables import METADATA


@pytest.mark.parametrize("kind", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_all_null_columns_read_back_with_their_types(kind, duckdb_url, request):
    """A retried step reads its input back from the warehouse: an all-null text
    column must come back as text, not as polars' Null type (which breaks every
    string expression on it)."""
    url = duckdb_url if kind == "duckdb" else request.getfixturevalue("postgres_database")
    frame = pl.DataFrame(
        {
            "text": [None, None],
            "flag": [None, None],
            "count": [None, None],
            "at": [None, None],
            "full": ["a", "b"],
        },
        schema={"text": pl.String, "flag": pl.Boolean, "count": pl.Int64, "at": pl.Datetime("us", "UTC"), "full": pl.String},
    )
    client = WarehouseClient(url)
    try:
        client.replace_shaped("raw", "sample", frame)
        back = client.read("raw", "sample")
    finally:
        client.dispose()
    assert_frame_equal(back, frame)
    assert back.get_column("text").str.to_uppercase().null_count() == 2  # string expressions work on it


def catalog_comments(client: WarehouseClient, table) -> tuple[str | None, dict[str, str | None]]:
    """The table's and its columns' comments as the warehouse's own catalog holds them."""
    with client.connect() as conn:
        if client.dialect == "duckdb":
            where = {"schema": table.schema, "name": table.name}
            own = conn.execute(
                sa.text("SELECT comment FROM duckdb_tables() WHERE schema_name = :schema AND table_name = :name"), where
            ).scalar_one()
            columns = dict(
                conn.execute(
                    sa.text("SELECT column_name, comment FROM duckdb_columns() WHERE schema_name = :schema AND table_name = :name"), where
                ).all()
            )
            return own, columns
        inspector = sa.inspect(conn)
        own = inspector.get_table_comment(table.name, schema=table.schema)["text"]
        return own, {c["name"]: c.get("comment") for c in inspector.get_columns(table.name, schema=table.schema)}


@pytest.mark.parametrize("kind", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_every_output_table_and_column_carries_its_documented_comment(kind, duckdb_url, request):
    """BI tools read COMMENT ON from the catalog; the text is the table dictionary's."""
    url = duckdb_url if kind == "duckdb" else request.getfixturevalue("postgres_database")
    client = WarehouseClient(url)
    try:
        outputs = [table for table in METADATA.tables.values() if table.schema == "attribution"]
        assert len(outputs) >= 6
        for table in outputs:
            with client.transaction() as conn:
                client.ensure_table(table, conn)
            own, columns = catalog_comments(client, table)
            assert own == table.comment and own
            assert columns == {column.name: column.comment for column in table.columns}
            assert all(columns.values())
    finally:
        client.dispose()


@pytest.mark.parametrize("kind", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_table_from_before_cpl_and_cpa_gets_the_new_columns_on_its_next_write(kind, duckdb_url, request):
    """campaign_attribution gained leads, cpl and cpa (tables.ADDED_COLUMNS): a warehouse
    written by the older version is upgraded in place, not refused."""
    from attribution_pipeline.warehouse.tables import CAMPAIGN_ATTRIBUTION

    url = duckdb_url if kind == "duckdb" else request.getfixturevalue("postgres_database")
    client = WarehouseClient(url)
    old = sa.Table(
        "campaign_attribution",
        sa.MetaData(),
        *(sa.Column(column.name, column.type) for column in CAMPAIGN_ATTRIBUTION.columns if column.name not in ("leads", "cpl", "cpa")),
        schema="attribution",
    )
    frame = pl.DataFrame(
        {
            "model": ["linear"],
            "campaign_id": ["c1"],
            "campaign_name": ["C"],
            "channel": ["email"],
            "credited_revenue_cents": [1234],
            "credited_deals": [0.5],
            "cost_cents": [1000],
            "roas": [1.234],
            "leads": [4],
            "cpl": [2.5],
            "cpa": [20.0],
            "run_id": ["r"],
        }
    )
    try:
        with client.transaction() as conn:
            client._ensure_schema(conn, "attribution")
            old.create(conn)
        client.replace(CAMPAIGN_ATTRIBUTION, frame)
        back = client.read("attribution", "campaign_attribution")
    finally:
        client.dispose()
    assert set(back.columns) == {column.name for column in CAMPAIGN_ATTRIBUTION.columns}
    assert back.select("leads", "cpl", "cpa").row(0) == (4, 2.5, 20.0)


@pytest.mark.parametrize("kind", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_load_in_slices_holds_every_row_and_every_cent(kind, duckdb_url, request, monkeypatch):
    """Frames load in slices of _BULK_SLICE_ROWS (one COPY on PostgreSQL); with slices of
    3 rows, a 10-row frame (a last slice of 1) comes back whole, cents exact."""
    import datetime as dt

    import attribution_pipeline.warehouse.client as warehouse
    from attribution_pipeline.warehouse.tables import TOUCH_CREDIT

    monkeypatch.setattr(warehouse, "_BULK_SLICE_ROWS", 3)
    url = duckdb_url if kind == "duckdb" else request.getfixturevalue("postgres_database")
    at = dt.datetime(2025, 3, 1, tzinfo=dt.timezone.utc)
    credit = pl.DataFrame(
        {
            "model": ["linear"] * 10,
            "opportunity_id": [f"o{i}" for i in range(10)],
            "touch_id": [f"t{i}" for i in range(10)],
            "position": list(range(1, 11)),
            "n_touches": [10] * 10,
            "weight": [0.1] * 10,
            "credited_cents": [1, 99, 100, 12345678901, 0, 7, 10**15, 3, 50, 2],
            "occurred_at": [at] * 10,
            "channel": ["email"] * 10,
            "campaign_id": [None] * 10,
            "account_domain": ["a.com"] * 10,
            "closed_at": [at] * 10,
            "run_id": ["r"] * 10,
        },
        schema_overrides={"position": pl.Int32, "n_touches": pl.Int32, "campaign_id": pl.String},
    )
    shaped = pl.DataFrame({"line": [f"row {i}" for i in range(10)], "n": list(range(10))})
    client = WarehouseClient(url)
    try:
        assert client.replace(TOUCH_CREDIT, credit) == 10
        assert client.replace_shaped("raw", "sliced", shaped) == 10
        cents = client.read("attribution", "touch_credit").sort("opportunity_id").get_column("credited_amount")
        back = client.read("raw", "sliced").sort("n")
    finally:
        client.dispose()
    assert [int(value * 100) for value in cents] == credit.get_column("credited_cents").to_list()
    assert_frame_equal(back, shaped, check_dtypes=False)
