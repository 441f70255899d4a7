"""Exact cents: the largest-remainder split of SPEC 4.

Every touch first gets the floor of its share of the deal's cents; the cents
left over go one each to the largest remainders, ties to the earlier position.
So the credits of one deal always sum exactly to its amount.
"""

from __future__ import annotations

import polars as pl

_amount = pl.col("amount_cents")


def _exact_shares() -> dict[str, pl.Expr]:
    """floor and remainder of amount * num / den, in 128-bit integers (no overflow)."""
    product = _amount.cast(pl.Int128) * pl.col("num").cast(pl.Int128)
    den = pl.col("den").cast(pl.Int128)
    return {
        "floor_cents": (product // den).cast(pl.Int64),
        # One den per deal, so the integer remainders compare exactly.
        "remainder": product % den,
        "weight": pl.col("num").cast(pl.Float64) / pl.col("den").cast(pl.Float64),
    }


def _float_shares() -> dict[str, pl.Expr]:
    """SPEC 4 rule 1 for time_decay: floor and remainder of amount_cents * w in float64."""
    raw = _amount.cast(pl.Float64) * pl.col("weight")
    return {"floor_cents": raw.floor().cast(pl.Int64), "remainder": raw - raw.floor()}


def allocate_cents(weights: pl.LazyFrame, exact: bool) -> pl.LazyFrame:
    """Adds ``weight`` and ``credited_cents``; drops rows whose weight is 0.

    ``weights`` holds opportunity_id, position, amount_cents and either integer
    ``num``/``den`` (exact, with one ``den`` per deal so remainders compare
    directly) or a float ``weight``, each deal's rows in position order (as
    ``models.credit.won_paths`` gives them): an ordinal rank numbers equal
    remainders in the order they occur, which is then position order.
    """
    if exact:
        shares = weights.filter(pl.col("num") > 0).with_columns(**_exact_shares())
    else:
        shares = weights.filter(pl.col("weight") > 0).with_columns(**_float_shares())
    leftover = _amount - pl.col("floor_cents").sum().over("opportunity_id")
    # 0 for the largest remainder of its deal; ties to the earlier position
    rank = pl.col("remainder").rank("ordinal", descending=True).over("opportunity_id").cast(pl.Int64) - 1
    return (
        shares.with_columns(rank=rank)
        .with_columns(credited_cents=pl.col("floor_cents") + (pl.col("rank") < leftover).cast(pl.Int64))
        .drop("floor_cents", "remainder", "rank", "num", "den", strict=False)
    )
