"""What comes back from the warehouse is what went in, column types included."""

from __future__ import annotations


import polars as pl
import pytest
from polars.testing import assert_frame_equal

from attribution_pipeline.warehouse import WarehouseClient


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
