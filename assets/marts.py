"""The BI-facing marts (SPEC 5): credit by campaign (with cost and ROAS) and by
channel and close month, pipeline credit by channel and created month and by
campaign, the funnel metrics, and the run's own record in attribution.runs."""

import datetime as dt

import dagster as dg
import polars as pl

from attribution_pipeline.contract.rules import CONTRACTS, LEAD_TIMES
from attribution_pipeline.orchestration.io_managers import publish
from attribution_pipeline.orchestration.resources import Warehouse, run_started_at
from attribution_pipeline.orchestration.settings import AttributionSettings
from attribution_pipeline.orchestration.table_assets import key_of, table_asset, table_out, tables_asset
from attribution_pipeline.warehouse.run_log import record_run
from attribution_pipeline.warehouse.tables import (
    CAMPAIGN_ATTRIBUTION,
    CHANNEL_ATTRIBUTION,
    FUNNEL_MONTHLY,
    IDENTITY_LINKS,
    LEAD_SLA,
    LEAD_SLA_COMPLIANCE,
    PIPELINE_CAMPAIGN_ATTRIBUTION,
    PIPELINE_CHANNEL_ATTRIBUTION,
    PIPELINE_SOURCING,
    RUNS,
    STAGE_VELOCITY,
    STITCH_COUNTS,
)
from attribution_pipeline.warehouse.workspace import Workspace
from models import funnel, marts

_CREDIT = dg.AssetIn(key=["attribution", "touch_credit"])

_FIRST_TOUCH = dg.AssetIn(key=["staging", "lead_first_touch"])


@table_asset(
    CAMPAIGN_ATTRIBUTION,
    group="marts",
    ins={"touch_credit": _CREDIT, "campaigns": dg.AssetIn(key=["staging", "campaigns"]), "lead_first_touch": _FIRST_TOUCH},
    description=(
        "Per model and campaign: credited revenue, credited deals, the campaign's cost, ROAS, leads whose first touch "
        "carries it, CPL and CPA. Includes campaigns with no credit, campaign ids missing from campaigns, and a null "
        "campaign row, so it sums to the won total and to all leads. "
        "Not partitioned: a campaign's cost and ROAS span all months, so it is rebuilt from all of touch_credit."
    ),
)
def campaign_attribution(
    settings: AttributionSettings,
    touch_credit: pl.LazyFrame,
    campaigns: pl.DataFrame,
    lead_first_touch: pl.DataFrame,
) -> pl.DataFrame:  # touch_credit is scanned (the largest table: one row per model, deal and touch)
    names = settings.model_names()
    return marts.campaign_attribution(touch_credit.lazy(), campaigns.lazy(), names, lead_first_touch.lazy()).collect()


def _mart(table, description: str) -> dg.AssetOut:
    return table_out(table, group="marts", description=description)


@tables_asset(
    name="pipeline_marts",
    outs={
        "pipeline_channel_attribution": _mart(
            PIPELINE_CHANNEL_ATTRIBUTION,
            (
                "Per model, created month and channel: the pipeline created (every deal's amount, credited at its creation) "
                "and, of it, what is still open, won and lost, with the share of the model's month. Rebuilt from all of "
                "pipeline_credit."
            ),
        ),
        "pipeline_campaign_attribution": _mart(
            PIPELINE_CAMPAIGN_ATTRIBUTION,
            (
                "Per model and campaign: the pipeline created and its state now, the campaign's cost and pipeline per unit "
                "of cost. Includes campaigns with no credit and a null campaign row, so it sums to all pipeline created."
            ),
        ),
    },
    ins={"pipeline_credit": dg.AssetIn(key=["attribution", "pipeline_credit"]), "campaigns": dg.AssetIn(key=["staging", "campaigns"])},
)
def pipeline_marts(settings: AttributionSettings, pipeline_credit: pl.LazyFrame, campaigns: pl.DataFrame):
    """Both roll-ups of pipeline_credit in one step: each reads a few of its columns, in
    polars' streaming engine (pipeline_credit has a row per model and touch of every deal,
    several times touch_credit; in memory at once, 10M touches took 13 GB)."""
    channel = marts.pipeline_channel_attribution(pipeline_credit.lazy())
    yield dg.Output(channel.collect(engine="streaming"), output_name="pipeline_channel_attribution")
    campaign = marts.pipeline_campaign_attribution(pipeline_credit.lazy(), campaigns.lazy(), settings.model_names())
    yield dg.Output(campaign.collect(engine="streaming"), output_name="pipeline_campaign_attribution")


@tables_asset(
    name="funnel",
    outs={
        "pipeline_sourcing": _mart(
            PIPELINE_SOURCING,
            (
                "Per created month, channel and sourcing: opportunities and amount that marketing sourced (a marketing touch on "
                "or before created_at), only influenced (after it) or that sales sourced (no marketing touch), with shares of "
                "the month. Every opportunity, won, lost or open; rebuilt from all of journeys."
            ),
        ),
        "funnel_monthly": _mart(
            FUNNEL_MONTHLY,
            (
                "Per lead-created month and first-touch channel: leads, MQLs, SQLs, opportunities, won deals and won revenue, "
                "each step's conversion rate to date and median days per step. Empty without a leads source."
            ),
        ),
        "lead_sla": _mart(
            LEAD_SLA,
            (
                "Per lead that reached MQL: hours from mql_at to the first sales activity and whether the hand-off SLA "
                "(lead_sla_hours, default 24) was met; a lead still waiting past the limit at the as-of time is breached. "
                "Empty without a leads source."
            ),
        ),
        "lead_sla_compliance": _mart(
            LEAD_SLA_COMPLIANCE, "Per MQL week and owner: leads, SLA met, breached and waiting, and compliance = met / (met + breached)."
        ),
        "stage_velocity": _mart(
            STAGE_VELOCITY,
            (
                "Per opportunity stage and created month: deals that entered, median, p75 and p90 days in stage, and conversion "
                "to the next stage of stage_order (open deals still in a stage are neither converted nor lost). Empty without "
                "an opportunity_stage_history source."
            ),
        ),
    },
    ins={
        "leads": dg.AssetIn(key=["staging", "leads"]),
        "lead_first_touch": _FIRST_TOUCH,
        "opportunities": dg.AssetIn(key=["staging", "opportunities"]),
        "history": dg.AssetIn(key=["staging", "opportunity_stage_history"]),
        "journeys": dg.AssetIn(key=["attribution", "journeys"]),
    },
)
def funnel_tables(
    context: dg.AssetExecutionContext,
    settings: AttributionSettings,
    leads: pl.DataFrame,
    lead_first_touch: pl.DataFrame,
    opportunities: pl.DataFrame,
    history: pl.DataFrame,
    journeys: pl.LazyFrame,  # scanned: sourcing reads a few columns
):
    """The funnel metrics both teams share (README "Funnel metrics"), computed together: each is small,
    and one step costs less than five. Without leads or stage history their tables are written empty."""
    if leads.is_empty():
        context.log.info("no leads source (or no valid lead): funnel_monthly, lead_sla and lead_sla_compliance hold no rows")
    if history.is_empty():
        context.log.info("no opportunity_stage_history source (or no valid row): stage_velocity holds no rows")
    as_of = settings.params().as_of or leads.select(pl.max_horizontal(pl.col(list(LEAD_TIMES)).max())).item()
    sla = funnel.lead_sla(leads.lazy(), settings.lead_sla_hours, as_of).collect()
    order = tuple(stage.strip().lower() for stage in settings.stage_order)
    tables = {
        "pipeline_sourcing": funnel.pipeline_sourcing(journeys.lazy(), opportunities.lazy(), tuple(settings.non_marketing_channels)),
        "funnel_monthly": funnel.funnel_monthly(leads.lazy(), lead_first_touch.lazy(), opportunities.lazy()),
        "lead_sla": sla.lazy(),
        "lead_sla_compliance": funnel.lead_sla_compliance(sla.lazy()),
        "stage_velocity": funnel.stage_velocity(history.lazy(), opportunities.lazy(), order),
    }
    for name, frame in tables.items():
        yield dg.Output(frame.collect(), output_name=name)


def channel_asset(partitions: dg.MonthlyPartitionsDefinition, backfill: dg.BackfillPolicy) -> dg.AssetsDefinition:
    @table_asset(
        CHANNEL_ATTRIBUTION,
        group="marts",
        partitions=partitions,
        backfill=backfill,
        ins={"touch_credit": _CREDIT},
        description=(
            "Per model, channel and close month (UTC, as the 1st): credited revenue, deals, and share of the model's "
            "month. Partitioned by close month."
        ),
    )
    def channel_attribution(touch_credit: pl.LazyFrame) -> pl.DataFrame:  # scanned
        return marts.channel_attribution(touch_credit.lazy()).collect()

    return channel_attribution


def source_counts(instance: dg.DagsterInstance) -> dict[str, dict]:
    """Row accounting per source, from the latest staging and raw materializations."""
    counts: dict[str, dict] = {}
    for name in CONTRACTS:
        staged = instance.get_latest_materialization_event(dg.AssetKey(["staging", name]))
        raw = instance.get_latest_materialization_event(dg.AssetKey(["raw", name]))
        if staged is None or staged.asset_materialization is None:
            continue
        meta = staged.asset_materialization.metadata
        files = raw.asset_materialization.metadata.get("files") if raw and raw.asset_materialization else None
        counts[name] = {
            "rows_in": meta["rows_in"].value,
            "rows_passed": meta["rows_passed"].value,
            "rows_quarantined": meta["rows_quarantined"].value,
            "files": list(files.value) if files is not None else [],
        }
    return counts


def resolved_parameters(instance: dg.DagsterInstance, settings: AttributionSettings) -> dict:
    parameters = settings.model_dump() if hasattr(settings, "model_dump") else dict(settings)
    journeys = instance.get_latest_materialization_event(dg.AssetKey(["attribution", "journeys"]))
    if journeys is not None and journeys.asset_materialization is not None:
        meta = journeys.asset_materialization.metadata
        parameters["as_of_resolved"] = meta["as_of"].value if "as_of" in meta else None
    parameters["models"] = settings.model_names()
    return parameters


def plausible_range(params) -> dict:
    """The bounds staging judged timestamps by (they depend on when the run happened)."""
    return {
        "earliest_valid": params.earliest_valid.isoformat(),
        "latest_valid": params.latest_valid.isoformat() if params.latest_valid else None,
    }


def run_months(tags: dict) -> dict:
    return {
        "first_close_month": tags.get("dagster/asset_partition_range_start", tags.get("dagster/partition")),
        "last_close_month": tags.get("dagster/asset_partition_range_end", tags.get("dagster/partition")),
    }


def runs_asset(published: list[dg.AssetKey]) -> dg.AssetsDefinition:
    """``published``: every asset whose table this step publishes, from the asset graph
    (``io_managers.published_keys``), so a new attribution table joins without a list to edit."""

    @table_asset(
        RUNS,
        group="marts",
        kinds={"sql"},
        deps=published,
        description=(
            "Publishes the run's attribution tables from the run workspace in one transaction (readers see every table of "
            "the previous run or every table of this one) and, in the same transaction, appends this run's row to "
            "attribution.runs (parameters, status, per-source row accounting) and attribution.run_sources."
        ),
    )
    def runs(
        context: dg.AssetExecutionContext, warehouse: Warehouse, settings: AttributionSettings, workspace: Workspace
    ) -> dg.MaterializeResult:
        record = context.instance.get_run_record_by_id(context.run.run_id)
        started = dt.datetime.fromtimestamp(record.start_time, dt.timezone.utc) if record and record.start_time else None
        counts = source_counts(context.instance)
        journeys = context.instance.get_latest_materialization_event(dg.AssetKey(["attribution", "journeys"]))
        warnings = (
            journeys.asset_materialization.metadata.get("referential_warnings") if journeys and journeys.asset_materialization else None
        )
        credit = context.instance.get_latest_materialization_event(dg.AssetKey(["attribution", "touch_credit"]))
        excluded = credit.asset_materialization.metadata.get("excluded_touches") if credit and credit.asset_materialization else None
        links = context.instance.get_latest_materialization_event(key_of(IDENTITY_LINKS))
        stitching = links.asset_materialization.metadata if links and links.asset_materialization else {}
        run_workspace = workspace.for_run(context.instance, context.run.run_id)
        record = lambda connection: record_run(  # noqa: E731
            warehouse.client,
            connection=connection,
            run_id=context.run.run_id,
            status="success",
            started_at=started,
            message="all assets materialized",
            parameters={
                **resolved_parameters(context.instance, settings),
                **run_months(context.run.tags),
                **plausible_range(settings.params(run_started_at(context))),
            },
            source_rows=counts,
            warnings=dict(warnings.value) if warnings is not None else {},
            excluded_touches=excluded.value if excluded is not None else None,
            stitch_counts={name: stitching[name].value for name in STITCH_COUNTS if name in stitching},
        )
        published = publish(warehouse, run_workspace, also=record)
        context.log.info(f"published {len(published)} table(s) in one transaction: {', '.join(sorted(published)) or 'none'}")
        run_workspace.remove()
        workspace.prune(context.instance)
        return dg.MaterializeResult(
            metadata={"source_rows": dg.MetadataValue.json(counts), "published_rows": dg.MetadataValue.json(published)}
        )

    return runs
