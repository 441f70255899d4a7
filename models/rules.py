"""SPEC 4's models: how a won deal's credit is shared among its touches.

Each model is one small function from a journey frame (one row per touch of a
won deal, with ``position``, ``n_touches``, ``occurred_at``, ``conversion_at``)
to weights. Rational models return the exact weight ``num / den`` as integers
(the same ``den`` for every touch of a deal) so cents can be split without
rounding; ``time_decay`` returns a float ``weight`` (SPEC 4 allows float there).
Rows whose weight is 0 may be returned; the caller drops them.
"""

from __future__ import annotations

import math

import polars as pl

from models.params import AttributionParams

MICROSECONDS_PER_DAY = 86_400_000_000

_position = pl.col("position")
_n = pl.col("n_touches").cast(pl.Int64)


def _exact(num: pl.Expr, den: pl.Expr) -> dict[str, pl.Expr]:
    return {"num": num.cast(pl.Int64), "den": den.cast(pl.Int64)}


def first_touch(journeys: pl.LazyFrame, params: AttributionParams) -> pl.LazyFrame:
    """All credit to the touch that opened the journey."""
    return journeys.with_columns(**_exact((_position == 1).cast(pl.Int64), pl.lit(1)))


def last_touch(journeys: pl.LazyFrame, params: AttributionParams) -> pl.LazyFrame:
    """All credit to the touch closest to conversion."""
    return journeys.with_columns(**_exact((_position == _n).cast(pl.Int64), pl.lit(1)))


def linear(journeys: pl.LazyFrame, params: AttributionParams) -> pl.LazyFrame:
    """Every touch gets 1/n."""
    return journeys.with_columns(**_exact(pl.lit(1), _n))


def position_based(journeys: pl.LazyFrame, params: AttributionParams) -> pl.LazyFrame:
    """U-shaped: f to the first, l to the last, m shared by the middle touches.

    With f, m, l = a/q, b/q, c/q over a common denominator q, a journey of
    n >= 3 gets weights a(n-2), b, ..., b, c(n-2) over q(n-2); n = 2 splits in
    the ratio a:c (evenly if both are 0); n = 1 takes everything.
    """
    weights = params.position_weights
    q = math.lcm(weights.first.denominator, weights.middle.denominator, weights.last.denominator)
    a, b, c = (int(part * q) for part in (weights.first, weights.middle, weights.last))
    middle_count = _n - 2
    two_den = a + c if a + c > 0 else 2
    two_first, two_last = (a, c) if a + c > 0 else (1, 1)
    num = (
        pl.when(_n == 1)
        .then(1)
        .when(_n == 2)
        .then(pl.when(_position == 1).then(two_first).otherwise(two_last))
        .when(_position == 1)
        .then(a * middle_count)
        .when(_position == _n)
        .then(c * middle_count)
        .otherwise(b)
    )
    den = pl.when(_n == 1).then(1).when(_n == 2).then(two_den).otherwise(q * middle_count)
    return journeys.with_columns(**_exact(num, den))


def time_decay(journeys: pl.LazyFrame, params: AttributionParams) -> pl.LazyFrame:
    """Weight halves for every half_life_days between a touch and conversion.

    Days are measured from the journey's closest touch (d - d_min), which
    leaves the normalized weights unchanged and keeps them from underflowing.
    A deal's weights must not depend on which other deals share the frame (credit
    in chunks equals credit at once): polars' division of a column by a scalar gave
    one touch's days a different last bit in frames holding other deals. So the
    distance stays in integer microseconds, is scaled by one
    multiplication with a constant computed here, and the normalizing sum adds each
    journey's terms in journey order (a cumulative sum).
    """
    micros = (pl.col("conversion_at") - pl.col("occurred_at")).dt.total_microseconds()
    relative = micros - micros.min().over("opportunity_id")
    per_half_life = -1.0 / (params.half_life_days * MICROSECONDS_PER_DAY)
    decay = pl.lit(2.0).pow(relative.cast(pl.Float64) * per_half_life)
    return journeys.with_columns(weight=decay / decay.cum_sum().last().over("opportunity_id"))
