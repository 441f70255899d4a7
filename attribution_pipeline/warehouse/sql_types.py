"""The one map between SQL column types and polars types.

Tables are created from frames (raw and staging follow their inputs), read back
from either engine and documented in the README; each direction reads the same
list, so a BIGINT column is an Int64 everywhere. Decimals are not in the list:
money travels as integer cents and is converted where it is written and read.
"""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa

UTC_TIMESTAMP = pl.Datetime("us", "UTC")

# (SQLAlchemy type, polars type, DDL name). Most specific SQL type first: a
# BigInteger is an Integer, a Double a Float, a Text a String; for polars -> SQL
# the first entry with the polars type wins.
TYPES: tuple[tuple[type[sa.types.TypeEngine], pl.DataType, str], ...] = (
    (sa.BigInteger, pl.Int64(), "BIGINT"),
    (sa.SmallInteger, pl.Int16(), "SMALLINT"),
    (sa.Integer, pl.Int32(), "INTEGER"),
    (sa.Boolean, pl.Boolean(), "BOOLEAN"),
    (sa.DateTime, UTC_TIMESTAMP, "TIMESTAMP WITH TIME ZONE"),
    (sa.Date, pl.Date(), "DATE"),
    (sa.Double, pl.Float64(), "DOUBLE"),
    (sa.Float, pl.Float64(), "FLOAT"),
    (sa.Text, pl.String(), "TEXT"),
    (sa.String, pl.String(), "TEXT"),
)


def _is_decimal(sql_type: sa.types.TypeEngine) -> bool:
    return isinstance(sql_type, sa.Numeric) and not isinstance(sql_type, sa.Float)


def polars_type(sql_type: sa.types.TypeEngine) -> pl.DataType | None:
    """The polars type a column of ``sql_type`` reads into; None for a decimal (money,
    converted by the caller) or a type the list does not know."""
    if _is_decimal(sql_type):
        return None
    return next((dtype for kind, dtype, _ in TYPES if isinstance(sql_type, kind)), None)


def sql_type(dtype: pl.DataType) -> sa.types.TypeEngine:
    """The SQL type of a table column made for a frame column of ``dtype`` (text when unknown)."""
    if isinstance(dtype, pl.Datetime):
        return sa.DateTime(timezone=dtype.time_zone is not None)
    if isinstance(dtype, pl.Decimal):
        return sa.Numeric(dtype.precision or 38, dtype.scale or 0)
    return next((kind() for kind, polars, _ in TYPES if polars == dtype), sa.Text())


def ddl_name(sql_type: sa.types.TypeEngine) -> str:
    """How the README's table dictionary names a declared column's type."""
    if _is_decimal(sql_type):
        return f"DECIMAL({sql_type.precision},{sql_type.scale})"
    return next((name for kind, _, name in TYPES if isinstance(sql_type, kind)), str(sql_type))
