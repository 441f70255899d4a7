"""attribution.journeys (SPEC 3) and attribution.touch_credit (SPEC 4)."""

import dagster as dg
import polars as pl

from attribution_pipeline.io_managers import WRITE_RETRY, table_metadata
from attribution_pipeline.resources import AttributionSettings
from attribution_pipeline.tables import JOURNEYS, TOUCH_CREDIT
from attribution_pipeline.validation import referential_warnings
from models.credit import credit_touches
from models.journeys import build_journeys, resolve_as_of
from models.registry import get_models

_STAGED = {
    "touches": dg.AssetIn(key=["staging", "touches"]),
    "opportunities": dg.AssetIn(key=["staging", "opportunities"]),
}
_REFERENCED = {
    **_STAGED,
    "contacts": dg.AssetIn(key=["staging", "opportunity_contacts"]),
    "campaigns": dg.AssetIn(key=["staging", "campaigns"]),
}

@dg.asset(
    key=["attribution", "journeys"],
    retry_policy=WRITE_RETRY,
    group_name="attribution",
    kinds={"polars", "sql"},
    ins=_REFERENCED,
    metadata=table_metadata(JOURNEYS),
    description=(
        "Touches matched to opportunities (SPEC 3): by a contact's e-mail or the account domain, inside "
        "[created_at - lookback_days, conversion_at], ordered by (occurred_at, touch_id bytes). Won, lost and open deals."
    ),
)
def journeys(
    context: dg.AssetExecutionContext,
    settings: AttributionSettings,
    touches: pl.DataFrame,
    opportunities: pl.DataFrame,
    contacts: pl.DataFrame,
    campaigns: pl.DataFrame,
) -> dg.Output[pl.DataFrame]:
    params = settings.params()
    as_of = resolve_as_of(touches.lazy(), opportunities.lazy(), params.as_of)
    frame = build_journeys(touches.lazy(), opportunities.lazy(), contacts.lazy(), params, as_of).collect()
    frame = frame.with_columns(run_id=pl.lit(context.run.run_id))
    matched = frame.get_column("opportunity_id").n_unique()
    context.log.info(f"{frame.height:,} journey rows for {matched:,} of {opportunities.height:,} deals; as-of {as_of}")
    return dg.Output(
        frame,
        metadata={
            "as_of": dg.MetadataValue.text(as_of.isoformat() if as_of else ""),
            "deals_with_touches": dg.MetadataValue.int(matched),
            "referential_warnings": dg.MetadataValue.json(referential_warnings(touches, campaigns, opportunities, contacts, frame)),
            "match_types": dg.MetadataValue.json(dict(frame.group_by("match_type").len().sort("match_type").iter_rows())),
        },
    )

@dg.asset(
    key=["attribution", "touch_credit"],
    retry_policy=WRITE_RETRY,
    group_name="attribution",
    kinds={"polars", "sql"},
    ins={"journeys": dg.AssetIn(key=["attribution", "journeys"]), "opportunities": _STAGED["opportunities"]},
    metadata=table_metadata(TOUCH_CREDIT),
    description=(
        "Every model's credit (SPEC 4): one row per (model, won deal, touch) with weight > 0, in whole cents split by "
        "largest remainder so each deal sums exactly to its amount; won deals without touches get an '(unattributed)' row."
    ),
)
def touch_credit(
    context: dg.AssetExecutionContext,
    settings: AttributionSettings,
    journeys: pl.DataFrame,
    opportunities: pl.DataFrame,
) -> dg.Output[pl.DataFrame]:
    frame = credit_touches(journeys.lazy(), opportunities.lazy(), settings.params()).collect()
    frame = frame.with_columns(run_id=pl.lit(context.run.run_id))
    totals = frame.group_by("model").agg(pl.col("credited_cents").sum()).sort("model")
    return dg.Output(
        frame,
        metadata={
            "credited_by_model": dg.MetadataValue.json({m: c / 100 for m, c in totals.iter_rows()}),
            "models": dg.MetadataValue.json([model.name for model in get_models()]),
        },
    )

@dg.asset_check(
    asset=dg.AssetKey(["attribution", "touch_credit"]),
    additional_ins={"opportunities": dg.AssetIn(key=["staging", "opportunities"])},
    blocking=True,
    description="Per model, credited revenue equals the won total of the opportunities to the cent (SPEC 4).",
)
def touch_credit_reconciles(touch_credit: pl.DataFrame, opportunities: pl.DataFrame) -> dg.AssetCheckResult:
    won_cents = int(opportunities.filter(pl.col("is_won")).get_column("amount_cents").sum())
    totals = dict(touch_credit.group_by("model").agg(pl.col("credited_cents").sum()).iter_rows())
    expected = {model.name: won_cents for model in get_models()}
    off = {model: totals.get(model, 0) - cents for model, cents in expected.items() if totals.get(model, 0) != cents}
    return dg.AssetCheckResult(
        passed=not off,
        metadata={
            "won_total": dg.MetadataValue.float(won_cents / 100),
            "difference_cents_by_model": dg.MetadataValue.json(off),
        },
    )


@dg.asset_check(
    asset=dg.AssetKey(["attribution", "journeys"]),
    additional_ins={name: asset_in for name, asset_in in _REFERENCED.items()},
    description=(
        "Referential warnings (never blocking): touch campaign_ids missing from campaigns, contacts of unknown deals, "
        "won deals without touches (credited as '(unattributed)'), touches matching no deal."
    ),
)
def referential_integrity(
    journeys: pl.DataFrame,
    touches: pl.DataFrame,
    opportunities: pl.DataFrame,
    contacts: pl.DataFrame,
    campaigns: pl.DataFrame,
) -> dg.AssetCheckResult:
    counts = referential_warnings(touches, campaigns, opportunities, contacts, journeys)
    return dg.AssetCheckResult(
        passed=not any(counts.values()),
        severity=dg.AssetCheckSeverity.WARN,
        metadata={name: dg.MetadataValue.int(count) for name, count in counts.items()},
    )
