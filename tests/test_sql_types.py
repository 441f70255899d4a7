"""The one SQL <-> polars type map (attribution_pipeline/warehouse/sql_types.py): every declared
column reads back in the type its SQL type names, BIGINT as Int64 in particular."""

import polars as pl
import sqlalchemy as sa

from attribution_pipeline.orchestration.io_managers import conform
from attribution_pipeline.warehouse.sql_types import ddl_name, polars_type, sql_type
from attribution_pipeline.warehouse.tables import METADATA, RUN_SOURCES, cents_columns


def test_a_bigint_column_conforms_to_int64_and_an_integer_one_to_int32():
    table = sa.Table("t", sa.MetaData(), sa.Column("big", sa.BigInteger), sa.Column("small", sa.Integer))
    frame = conform(pl.DataFrame({"big": [2**40], "small": [7]}), table)
    assert frame.schema == pl.Schema({"big": pl.Int64, "small": pl.Int32})
    assert frame.item(0, "big") == 2**40


def test_every_declared_column_conforms_to_the_type_its_sql_type_maps_to():
    expected_by_name = {
        "BIGINT": pl.Int64,
        "INTEGER": pl.Int32,
        "DOUBLE": pl.Float64,
        "TEXT": pl.String,
        "BOOLEAN": pl.Boolean,
        "DATE": pl.Date,
        "TIMESTAMP WITH TIME ZONE": pl.Datetime("us", "UTC"),
    }
    for table in METADATA.tables.values():
        money = cents_columns(table)
        empty = pl.DataFrame({c.name: pl.Series([], dtype=pl.Null) for c in table.columns})
        schema = conform(empty, table).schema
        for column in table.columns:
            if column.name in money:
                assert schema[money[column.name]] == pl.Int64, (table.fullname, column.name)
            else:
                assert schema[column.name] == expected_by_name[ddl_name(column.type)], (table.fullname, column.name)
    assert dict(conform(pl.DataFrame({c.name: [None] for c in RUN_SOURCES.columns}), RUN_SOURCES).schema)["rows_in"] == pl.Int64


def test_a_frame_column_makes_the_sql_type_that_reads_back_as_itself():
    for dtype in (pl.Int64, pl.Int32, pl.Int16, pl.Float64, pl.Boolean, pl.Date, pl.String, pl.Datetime("us", "UTC")):
        assert polars_type(sql_type(dtype)) == dtype, dtype
    assert isinstance(sql_type(pl.Float64), sa.Double) and isinstance(sql_type(pl.String), sa.Text)
    assert isinstance(sql_type(pl.Decimal(18, 2)), sa.Numeric) and polars_type(sa.Numeric(18, 2)) is None
    assert isinstance(sql_type(pl.Null), sa.Text)
