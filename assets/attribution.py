"""attribution.journeys (SPEC 3), attribution.touch_credit (SPEC 4) and
attribution.pipeline_credit (issue 19), partitioned by close month: a run computes
and replaces the deals converting in its months only."""

import datetime as dt
from collections.abc import Iterator
from dataclasses import replace

import dagster as dg
import polars as pl
import sqlalchemy as sa

from assets.staging import stitched_touches
from attribution_pipeline.contract.checks import (
    PIPELINE_CREDIT_RECONCILES,
    REFERENTIAL_INTEGRITY,
    TOUCH_CREDIT_RECONCILES,
    judge_reconciliation,
    judge_references,
)
from attribution_pipeline.contract.validation import referential_warnings
from attribution_pipeline.orchestration.io_managers import check_within, with_run_id
from attribution_pipeline.orchestration.partitions import covered_window
from attribution_pipeline.orchestration.settings import AttributionSettings
from attribution_pipeline.orchestration.table_assets import check_result, key_of, table_asset, table_out, tables_asset
from attribution_pipeline.warehouse.tables import CHANNEL_ATTRIBUTION_INTERVALS, CHANNEL_VALUES, JOURNEYS, PIPELINE_CREDIT, TOUCH_CREDIT
from attribution_pipeline.warehouse.workspace import RunWorkspace, Stored, Workspace
from models.credit import count_excluded, credit_in_chunks
from models.data_driven import FITTERS, values_frame, values_from_frame
from models.intervals import learn
from models.journeys import build_journeys, resolve_as_of, with_conversion_at
from models.pipeline import credit_at_creation

# Won deals credited at a time: a chunk holds every model's row for each of their touches.
CREDIT_CHUNK_DEALS = 10_000

_STAGED = {
    "touches": dg.AssetIn(key=["staging", "touches"]),
    "opportunities": dg.AssetIn(key=["staging", "opportunities"]),
}
_REFERENCED = {
    **_STAGED,
    "contacts": dg.AssetIn(key=["staging", "opportunity_contacts"]),
    "campaigns": dg.AssetIn(key=["staging", "campaigns"]),
    "identity_links": dg.AssetIn(key=["staging", "identity_links"]),
}


def _in_window(column: str, window: dg.TimeWindow) -> pl.Expr:
    return (pl.col(column) >= window.start) & (pl.col(column) < window.end)


def check_months_covered(converting: pl.DataFrame, as_of, partitions: dg.MonthlyPartitionsDefinition) -> None:
    """Staging quarantines closed deals outside the partitions (``closed_at.outside_partitions``);
    an open deal converts at the as-of time, so only an as-of outside every partition is left
    to stop the run, with the settings that would fix it."""
    start, end = covered_window(partitions)
    months = converting.get_column("conversion_at")
    outside = months.filter((months < start) | (months >= end))
    if not len(outside):
        return
    last = end - dt.timedelta(days=1)
    if outside.min() < start:
        where, advice = "before the first", f"set ATTRIBUTION_PARTITION_START to {outside.min():%Y-%m} or earlier, or --as-of later"
    else:
        where, advice = "after the last", f"set --as-of to a time before the end of {last:%Y-%m}"
    raise dg.Failure(
        description=(
            f"{len(outside)} open deal(s) convert at the as-of time {as_of.isoformat() if as_of else None}, {where} "
            f"close-month partition ({start:%Y-%m} to {last:%Y-%m}); {advice}"
        ),
        allow_retries=False,
    )


def every_journey(run_workspace: RunWorkspace, converting: pl.DataFrame) -> pl.LazyFrame | None:
    """The journeys of every deal, when this run computed the months of all of them: each
    deal converts in exactly one month, so the rows are those of ``build_journeys`` over
    all deals, without matching the touches again. A scan: the fit reads five columns."""
    stored = run_workspace.get(("attribution", "journeys"))
    if stored is None or stored.window is None:
        return None
    start, end = stored.window
    months = converting.get_column("conversion_at")
    if months.len() and ((months < start) | (months >= end)).any():
        return None
    return pl.scan_parquet(stored.file)


def write_credit(
    context: dg.AssetExecutionContext, workspace: Workspace, table: sa.Table, chunks: Iterator[pl.DataFrame]
) -> tuple[Stored, dict[str, int]]:
    """A credit step's chunks, stamped with the run id, appended to its workspace file as
    they are computed (written once: the IO manager takes the file as it is), and the
    cents credited per model, counted on the way for the reconciliation check."""
    totals: dict[str, int] = {}
    window = context.partition_time_window

    def counted() -> Iterator[pl.DataFrame]:
        for chunk in chunks:
            check_within(chunk, table, (window.start, window.end))  # before it is written, as the IO manager would
            for model, cents in chunk.group_by("model").agg(pl.col("credited_cents").sum()).iter_rows():
                totals[model] = totals.get(model, 0) + cents
            yield with_run_id(chunk, table, context.run.run_id)

    run_workspace = workspace.for_run(context.instance, context.run.run_id)
    stored = run_workspace.write_chunks((table.schema, table.name), counted(), (window.start, window.end))
    return stored, totals


def attribution_assets(partitions: dg.MonthlyPartitionsDefinition, backfill: dg.BackfillPolicy) -> list:
    journeys_key = key_of(JOURNEYS)

    @table_asset(
        JOURNEYS,
        group="attribution",
        partitions=partitions,
        backfill=backfill,
        ins=_REFERENCED,
        checks=[REFERENTIAL_INTEGRITY],
        description=(
            "Touches matched to opportunities (SPEC 3): by a contact's e-mail or the account domain, inside "
            "[created_at - lookback_days, conversion_at], ordered by (occurred_at, touch_id bytes). Won, lost and open "
            "deals; partitioned by the month of conversion_at."
        ),
    )
    def journeys(
        context: dg.AssetExecutionContext,
        settings: AttributionSettings,
        touches: pl.LazyFrame,  # scanned: the matching reads the columns it needs, never the whole source at once
        opportunities: pl.DataFrame,
        contacts: pl.DataFrame,
        campaigns: pl.DataFrame,
        identity_links: pl.DataFrame,
    ):
        params = settings.params()
        touches = stitched_touches(touches, identity_links, params)  # over all touches, before the months are cut
        as_of = resolve_as_of(touches, opportunities.lazy(), params.as_of)  # from all inputs: the same for every month
        # conversion_at: closed_at, or the as-of time for an open deal
        converting = with_conversion_at(opportunities.lazy(), as_of).collect()
        check_months_covered(converting, as_of, partitions)
        window = context.partition_time_window
        deals = converting.filter(_in_window("conversion_at", window)).drop("conversion_at")
        # polars' streaming engine: the joins run in batches (faster at 10M, RESULTS.md: journeys by polars engine).
        frame = build_journeys(touches, deals.lazy(), contacts.lazy(), params, as_of).collect(engine="streaming")
        matched = frame.get_column("opportunity_id").n_unique()
        context.log.info(
            f"{frame.height:,} journey rows for {matched:,} of {deals.height:,} deals converting in [{window.start:%Y-%m}, {window.end:%Y-%m}); as-of {as_of}"
        )
        warnings = referential_warnings(touches, campaigns, opportunities, contacts, frame, deals)
        yield dg.Output(
            frame,
            metadata={
                "as_of": dg.MetadataValue.text(as_of.isoformat() if as_of else ""),
                "deals_in_months": dg.MetadataValue.int(deals.height),
                "deals_with_touches": dg.MetadataValue.int(matched),
                "match_types": dg.MetadataValue.json(dict(frame.group_by("match_type").len().sort("match_type").iter_rows())),
                "identities": dg.MetadataValue.json(
                    {str(k): v for k, v in frame.group_by("identity").len().sort("identity", nulls_last=True).iter_rows()}
                ),
                "referential_warnings": dg.MetadataValue.json(warnings),
            },
        )
        yield check_result(REFERENTIAL_INTEGRITY, journeys_key, judge_references(warnings))

    @tables_asset(
        outs={
            "channel_values": table_out(
                CHANNEL_VALUES,
                group="attribution",
                description=(
                    "What the data-driven models learn (issue 10): per channel, the exact Markov removal effect and the "
                    "Shapley value, from the path of every closed deal in the sources (won convert, lost do not), whatever "
                    "months the run computes, so a backfill by month ranges credits like one run of all months."
                ),
            ),
            "channel_attribution_intervals": table_out(
                CHANNEL_ATTRIBUTION_INTERVALS,
                group="attribution",
                description=(
                    "How sure the data-driven models are: per model and channel, credited revenue over all deals and its "
                    "90% interval from a bootstrap over deals (bootstrap_draws draws with bootstrap_seed, values learned "
                    "again in each). Same inputs and seed, same intervals."
                ),
            ),
        },
        ins={name: _REFERENCED[name] for name in ("touches", "opportunities", "contacts", "identity_links")},
        deps=[journeys_key],  # after it, to reuse its rows when this run computed every month
    )
    def data_driven(
        context: dg.AssetExecutionContext,
        settings: AttributionSettings,
        workspace: Workspace,
        touches: pl.LazyFrame,  # scanned: read only when this run computed some months
        opportunities: pl.DataFrame,
        contacts: pl.DataFrame,
        identity_links: pl.DataFrame,
    ):
        params = settings.params()
        touches = stitched_touches(touches, identity_links, params)
        models = [name for name in settings.model_names() if name in FITTERS]  # none: both tables empty
        as_of = resolve_as_of(touches, opportunities.lazy(), params.as_of)
        converting = with_conversion_at(opportunities.lazy(), as_of).collect()
        every = every_journey(workspace.for_run(context.instance, context.run.run_id), converting) if models else None
        source = "this run's journeys of every month"
        if every is None:  # this run computed some months only: match every deal's touches here
            source = "every deal's touches, matched again (this run computed some months only)" if models else "no deal"
            deals = opportunities if models else opportunities.clear()
            every = build_journeys(touches, deals.lazy(), contacts.lazy(), params, as_of).collect()
        values, intervals = learn(every, opportunities, params, models, settings.bootstrap_draws, settings.bootstrap_seed)
        frame = values_frame(values)
        context.log.info(
            f"data-driven values from the paths of {every.lazy().select(pl.col('opportunity_id').n_unique()).collect().item():,} deals, from {source}; "
            f"{settings.bootstrap_draws} bootstrap draws for {', '.join(models) or 'no data-driven model'}"
        )
        yield dg.Output(frame, output_name="channel_values")
        draws = {"draws": pl.lit(settings.bootstrap_draws, pl.Int32), "seed": pl.lit(settings.bootstrap_seed, pl.Int64)}
        yield dg.Output(intervals.with_columns(**draws), output_name="channel_attribution_intervals")

    credit_key = key_of(TOUCH_CREDIT)

    @table_asset(
        TOUCH_CREDIT,
        group="attribution",
        partitions=partitions,
        backfill=backfill,
        ins={
            "journeys": dg.AssetIn(key=journeys_key),
            "opportunities": _STAGED["opportunities"],
            "channel_values": dg.AssetIn(key=["attribution", "channel_values"]),
        },
        checks=[TOUCH_CREDIT_RECONCILES],
        description=(
            "Every model's credit (SPEC 4): one row per (model, won deal, touch) with weight > 0, in whole cents split by "
            "largest remainder so each deal sums exactly to its amount; won deals without touches get an '(unattributed)' "
            "row. Partitioned by the month of closed_at."
        ),
    )
    def touch_credit(
        context: dg.AssetExecutionContext,
        settings: AttributionSettings,
        workspace: Workspace,
        journeys: pl.LazyFrame,  # scanned: each chunk of deals reads its own journeys
        opportunities: pl.DataFrame,
        channel_values: pl.DataFrame,
    ):
        window = context.partition_time_window
        won = opportunities.filter(pl.col("is_won") & _in_window("closed_at", window))
        params = replace(settings.params(), channel_values=values_from_frame(channel_values))
        names = settings.model_names()
        # Every model's row for every touch is the run's largest frame: computed CREDIT_CHUNK_DEALS
        # won deals at a time, each chunk appended to the workspace file and counted, never held together.
        chunks = credit_in_chunks(journeys, won, params, names, CREDIT_CHUNK_DEALS)
        stored, totals = write_credit(context, workspace, TOUCH_CREDIT, chunks)
        won_cents = int(won.get_column("amount_cents").sum())
        excluded = count_excluded(journeys, params, won)
        if excluded:
            context.log.info(f"{excluded:,} touches of won deals excluded from credit (excluded touch types or channels)")
        yield dg.Output(
            stored,
            metadata={
                "credited_by_model": dg.MetadataValue.json({m: c / 100 for m, c in sorted(totals.items())}),
                "won_total": dg.MetadataValue.float(won_cents / 100),
                "excluded_touches": dg.MetadataValue.int(excluded),
            },
        )
        yield check_result(TOUCH_CREDIT_RECONCILES, credit_key, judge_reconciliation(totals, names, won_cents))

    pipeline_key = key_of(PIPELINE_CREDIT)

    @table_asset(
        PIPELINE_CREDIT,
        group="attribution",
        partitions=partitions,
        backfill=backfill,
        ins={
            "journeys": dg.AssetIn(key=journeys_key),
            "touches": _STAGED["touches"],
            "opportunities": _STAGED["opportunities"],
            "channel_values": dg.AssetIn(key=["attribution", "channel_values"]),
        },
        checks=[PIPELINE_CREDIT_RECONCILES],
        description=(
            "Every model's pipeline credit (issue 19): each opportunity, open, won or lost, credited its current amount "
            "over its journey at creation ([created_at - lookback_days, created_at]), in whole cents split as SPEC 4; a "
            "deal without a touch at creation gets an '(unattributed)' row. Partitioned by the month of conversion_at, "
            "like journeys."
        ),
    )
    def pipeline_credit(
        context: dg.AssetExecutionContext,
        settings: AttributionSettings,
        workspace: Workspace,
        journeys: pl.LazyFrame,  # scanned: each chunk of deals reads its own journeys
        touches: pl.LazyFrame,  # scanned: its latest occurred_at only, for the as-of time
        opportunities: pl.DataFrame,
        channel_values: pl.DataFrame,
    ):
        params = replace(settings.params(), channel_values=values_from_frame(channel_values))
        as_of = resolve_as_of(touches, opportunities.lazy(), params.as_of)  # as journeys resolves it
        deals = with_conversion_at(opportunities.lazy(), as_of).collect().filter(_in_window("conversion_at", context.partition_time_window))
        names = settings.model_names()
        every_deal = pl.lit(True)
        chunks = credit_in_chunks(journeys, deals, params, names, CREDIT_CHUNK_DEALS, credit=credit_at_creation, which=every_deal)
        stored, totals = write_credit(context, workspace, PIPELINE_CREDIT, chunks)
        deal_cents = int(deals.get_column("amount_cents").sum())
        yield dg.Output(
            stored,
            metadata={
                "credited_by_model": dg.MetadataValue.json({m: c / 100 for m, c in sorted(totals.items())}),
                "deal_total": dg.MetadataValue.float(deal_cents / 100),
                "deals": dg.MetadataValue.int(deals.height),
            },
        )
        verdict = judge_reconciliation(totals, names, deal_cents, table="pipeline_credit")
        yield check_result(PIPELINE_CREDIT_RECONCILES, pipeline_key, verdict)

    return [journeys, data_driven, touch_credit, pipeline_credit]
