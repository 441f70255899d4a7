"""Pipeline credit (issue 19): every model applied to every opportunity at its creation.

Won revenue arrives months after the marketing that made it; pipeline credit
answers sooner. Each deal, open, won or lost, is credited its whole amount as
it stands now, over the journey it had when it was created: SPEC 3's window cut
at created_at, ``created_at - lookback_days <= occurred_at <= created_at``, both
bounds inclusive. Every model sees that journey as if the deal converted at
created_at (time_decay halves back from it; full_path's closing touch is the
last touch before creation), the data-driven models use the values learned from
closed deals' whole journeys (the same as touch_credit's), exclusions apply as
in touch_credit, and cents are split by SPEC 4's largest remainder, so each
deal's credits sum exactly to its amount under every model. A deal with no
touch at creation is credited to ``(unattributed)``.
"""

from __future__ import annotations

import polars as pl

from models.credit import CREDIT_COLUMNS, credit_deals
from models.data_driven import with_values
from models.params import AttributionParams
from models.registry import get_models

OPEN, WON, LOST = "open", "won", "lost"
DEAL_STATES = (OPEN, WON, LOST)

PIPELINE_CREDIT_COLUMNS = [*CREDIT_COLUMNS[:-1], "created_at", "deal_state", "closed_at", "conversion_at"]


def deal_state() -> pl.Expr:
    """open, won or lost, from is_closed and is_won."""
    return pl.when(pl.col("is_won")).then(pl.lit(WON)).when(pl.col("is_closed")).then(pl.lit(LOST)).otherwise(pl.lit(OPEN))


def journeys_at_creation(journeys: pl.LazyFrame, deals: pl.LazyFrame) -> pl.LazyFrame:
    """The journey rows at or before each deal's created_at, renumbered 1..n in journey
    order, with conversion_at set to created_at (the moment the models credit)."""
    created = deals.select("opportunity_id", "created_at")
    return (
        journeys.join(created, on="opportunity_id", how="inner")
        .filter(pl.col("occurred_at") <= pl.col("created_at"))
        .sort("opportunity_id", "position")
        .with_columns(
            position=(pl.int_range(pl.len()).over("opportunity_id") + 1).cast(pl.Int32),
            n_touches=pl.len().over("opportunity_id").cast(pl.Int32),
            conversion_at=pl.col("created_at"),
        )
        .drop("created_at")
    )


def credit_at_creation(
    journeys: pl.LazyFrame,
    deals: pl.LazyFrame,
    params: AttributionParams,
    model_names: list[str] | None = None,
) -> pl.LazyFrame:
    """One row per (model, deal of ``deals``, touch at creation) with weight > 0, plus an
    unattributed row per model for a deal without one; in ``PIPELINE_CREDIT_COLUMNS``.

    ``deals`` carry conversion_at (``models.journeys.with_conversion_at``): the partition
    month of the row, as in journeys. ``journeys`` are the deals' SPEC 3 journeys; the
    data-driven values missing from ``params`` are learned from them, as touch_credit does.
    """
    models = get_models(model_names)
    params = with_values(journeys, deals, params, [model.name for model in models])
    credited = credit_deals(journeys_at_creation(journeys, deals), deals, params, models)
    facts = deals.select("opportunity_id", "created_at", deal_state=deal_state(), conversion_at="conversion_at")
    return credited.join(facts, on="opportunity_id", how="inner", maintain_order="left").select(PIPELINE_CREDIT_COLUMNS)
