"""The output tables (SPEC 5) as SQLAlchemy tables: their names, columns, types
and meanings are a public API, so they are declared once, here.

The same declarations create the tables on every dialect, cast frames before
they are written, and render the README's table dictionary.
"""

from __future__ import annotations

import sqlalchemy as sa

ATTRIBUTION = "attribution"
STAGING = "staging"
QUARANTINE = "quarantine"

Money = sa.Numeric(18, 2)
Timestamp = sa.DateTime(timezone=True)

METADATA = sa.MetaData()


def _table(schema: str, name: str, grain: str, *columns: sa.Column) -> sa.Table:
    return sa.Table(name, METADATA, *columns, schema=schema, comment=grain)


def _col(name: str, type_: sa.types.TypeEngine, doc: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, type_, nullable=nullable, comment=doc)


RUN_ID = ("run_id", sa.Text, "Dagster run id of the run that wrote the row")

JOURNEYS = _table(
    ATTRIBUTION,
    "journeys",
    "One row per (opportunity, touch) matched by SPEC 3, for won, lost and open deals.",
    _col("opportunity_id", sa.Text, "The deal", nullable=False),
    _col("touch_id", sa.Text, "The matched touch", nullable=False),
    _col("position", sa.Integer, "1 = first touch of the journey, ordered by (occurred_at, touch_id bytes)", nullable=False),
    _col("n_touches", sa.Integer, "Number of touches in the deal's journey", nullable=False),
    _col("match_type", sa.Text, "How the touch matched: email (a contact), domain, or both", nullable=False),
    _col(
        "identity",
        sa.Text,
        "How the touch got its e-mail: given (on the touch), stitched (from its anonymous_id's one linked e-mail), or null (none)",
    ),
    _col("occurred_at", Timestamp, "When the touch happened (UTC)", nullable=False),
    _col("conversion_at", Timestamp, "closed_at for a closed deal, the run's as-of time for an open one", nullable=False),
    _col("channel", sa.Text, "The touch's channel (given, or from the UTM channel grouping)"),
    _col("campaign_id", sa.Text, "The touch's campaign, if any"),
    _col("touch_type", sa.Text, "The touch's type, if given"),
    _col("account_domain", sa.Text, "The opportunity's account domain"),
    _col("is_won", sa.Boolean, "The deal is closed-won"),
    _col("is_closed", sa.Boolean, "The deal is closed (won or lost)"),
    _col(*RUN_ID),
)

TOUCH_CREDIT = _table(
    ATTRIBUTION,
    "touch_credit",
    "One row per (model, won opportunity, touch) with weight > 0, plus one '(unattributed)' row per model for a won deal without touches.",
    _col("model", sa.Text, "Attribution model name", nullable=False),
    _col("opportunity_id", sa.Text, "The won deal", nullable=False),
    _col("touch_id", sa.Text, "The credited touch; null on the unattributed row"),
    _col("position", sa.Integer, "The touch's position in the journey; null when unattributed"),
    _col("n_touches", sa.Integer, "Journey length; 0 when unattributed", nullable=False),
    _col("weight", sa.Double, "The model's weight for this touch; weights of a deal sum to 1", nullable=False),
    _col(
        "credited_amount",
        Money,
        "Credited revenue in the reporting currency, whole cents; a deal's credits sum exactly to its amount",
        nullable=False,
    ),
    _col("occurred_at", Timestamp, "When the touch happened (UTC); null when unattributed"),
    _col("channel", sa.Text, "The touch's channel, or '(unattributed)'", nullable=False),
    _col("campaign_id", sa.Text, "The touch's campaign, if any"),
    _col("account_domain", sa.Text, "The opportunity's account domain"),
    _col("closed_at", Timestamp, "When the deal closed (UTC)", nullable=False),
    _col(*RUN_ID),
)

PIPELINE_CREDIT = _table(
    ATTRIBUTION,
    "pipeline_credit",
    "One row per (model, opportunity, touch at creation) with weight > 0, for every opportunity (open, won or lost), plus one '(unattributed)' row per model for a deal without a touch at creation.",
    _col("model", sa.Text, "Attribution model name", nullable=False),
    _col("opportunity_id", sa.Text, "The deal, whatever its state", nullable=False),
    _col("touch_id", sa.Text, "The credited touch (occurred_at <= the deal's created_at); null on the unattributed row"),
    _col("position", sa.Integer, "The touch's position in the journey at creation; null when unattributed"),
    _col("n_touches", sa.Integer, "Touches in the journey at creation (after exclusions); 0 when unattributed", nullable=False),
    _col("weight", sa.Double, "The model's weight for this touch; weights of a deal sum to 1", nullable=False),
    _col(
        "credited_amount",
        Money,
        "Pipeline credited, whole cents of the deal's current amount; a deal's credits sum exactly to its amount",
        nullable=False,
    ),
    _col("occurred_at", Timestamp, "When the touch happened (UTC); null when unattributed"),
    _col("channel", sa.Text, "The touch's channel, or '(unattributed)'", nullable=False),
    _col("campaign_id", sa.Text, "The touch's campaign, if any"),
    _col("account_domain", sa.Text, "The opportunity's account domain"),
    _col("created_at", Timestamp, "When the deal was created (UTC): the journey ends here", nullable=False),
    _col("deal_state", sa.Text, "open, won or lost, as of the run", nullable=False),
    _col("closed_at", Timestamp, "When the deal closed (UTC); null while open"),
    _col(
        "conversion_at",
        Timestamp,
        "closed_at for a closed deal, the run's as-of time for an open one (the partition month)",
        nullable=False,
    ),
    _col(*RUN_ID),
)

CAMPAIGN_ATTRIBUTION = _table(
    ATTRIBUTION,
    "campaign_attribution",
    "One row per (model, campaign) for every campaign in campaigns or on credited touches, plus a null campaign_id row for credit without a campaign.",
    _col("model", sa.Text, "Attribution model name", nullable=False),
    _col("campaign_id", sa.Text, "The campaign; null for credit without a campaign (unattributed included)"),
    _col("campaign_name", sa.Text, "From campaigns; null when the id is not in campaigns"),
    _col("channel", sa.Text, "The campaign's channel from campaigns"),
    _col("credited_revenue", Money, "Revenue credited to the campaign's touches", nullable=False),
    _col("credited_deals", sa.Double, "Sum of the weights credited to the campaign", nullable=False),
    _col("cost", Money, "The campaign's whole cost; null when unknown"),
    _col("roas", sa.Double, "credited_revenue / cost; null when cost is null or 0"),
    _col(
        "leads",
        sa.BigInteger,
        "Leads whose first touch (at or before the lead's creation) carries the campaign; on the null row, leads whose first touch has no campaign or who have none",
        nullable=False,
    ),
    _col("cpl", sa.Double, "Cost per lead: cost / leads; null when cost is unknown or leads is 0"),
    _col(
        "cpa", sa.Double, "Cost per acquisition: cost / credited_deals under this model; null when cost is unknown or credited_deals is 0"
    ),
    _col(*RUN_ID),
)

CHANNEL_ATTRIBUTION = _table(
    ATTRIBUTION,
    "channel_attribution",
    "One row per (model, channel, close_month).",
    _col("model", sa.Text, "Attribution model name", nullable=False),
    _col("channel", sa.Text, "Channel, or '(unattributed)'", nullable=False),
    _col("close_month", sa.Date, "Calendar month of closed_at in UTC, as its first day", nullable=False),
    _col("credited_revenue", Money, "Revenue credited to the channel in that month", nullable=False),
    _col("credited_deals", sa.Double, "Sum of the weights credited to the channel in that month", nullable=False),
    _col("share", sa.Double, "credited_revenue / the model's credited revenue that month; null when that is 0"),
    _col(*RUN_ID),
)


def _pipeline_measures(what: str) -> tuple[sa.Column, ...]:
    return (
        _col("pipeline_created", Money, f"Amount of the deals created, credited to the {what} under the model", nullable=False),
        _col("pipeline_open", Money, "Of it, deals still open as of the run", nullable=False),
        _col("pipeline_won", Money, "Of it, deals closed won", nullable=False),
        _col("pipeline_lost", Money, "Of it, deals closed lost", nullable=False),
        _col("credited_deals", sa.Double, f"Sum of the weights credited to the {what}", nullable=False),
    )


PIPELINE_CHANNEL_ATTRIBUTION = _table(
    ATTRIBUTION,
    "pipeline_channel_attribution",
    "One row per (model, created_month, channel): the pipeline created, credited at creation, and what became of it.",
    _col("model", sa.Text, "Attribution model name", nullable=False),
    _col("created_month", sa.Date, "Calendar month of the deals' created_at in UTC, as its first day", nullable=False),
    _col("channel", sa.Text, "Channel, or '(unattributed)'", nullable=False),
    *_pipeline_measures("channel"),
    _col("share", sa.Double, "pipeline_created / the model's pipeline created that month; null when that is 0"),
    _col(*RUN_ID),
)

PIPELINE_CAMPAIGN_ATTRIBUTION = _table(
    ATTRIBUTION,
    "pipeline_campaign_attribution",
    "One row per (model, campaign) for every campaign in campaigns or on pipeline credit, plus a null campaign_id row for credit without a campaign.",
    _col("model", sa.Text, "Attribution model name", nullable=False),
    _col("campaign_id", sa.Text, "The campaign; null for credit without a campaign (unattributed included)"),
    _col("campaign_name", sa.Text, "From campaigns; null when the id is not in campaigns"),
    _col("channel", sa.Text, "The campaign's channel from campaigns"),
    *_pipeline_measures("campaign's touches"),
    _col("cost", Money, "The campaign's whole cost; null when unknown"),
    _col("pipeline_to_cost", sa.Double, "pipeline_created / cost; null when cost is null or 0"),
    _col(*RUN_ID),
)

SNAPSHOT_ID = ("snapshot_id", sa.Text, "The snapshot, e.g. 2024-Q3-v1 (period and version)")


def _snapshot_measures() -> tuple[sa.Column, ...]:
    return (
        _col("credited_revenue", Money, "Won revenue of the deals closed in the period, credited under the model", nullable=False),
        _col("pipeline_created", Money, "Amount of the deals created in the period, credited at creation under the model", nullable=False),
        _col("pipeline_open", Money, "Of it, deals open at the freeze", nullable=False),
        _col("pipeline_won", Money, "Of it, deals won at the freeze", nullable=False),
        _col("pipeline_lost", Money, "Of it, deals lost at the freeze", nullable=False),
    )


# Period snapshots (issue 19): written by `attribution snapshot` / snapshot_job only,
# append-only (a supersede sets the old header's superseded_by and superseded_at).
SNAPSHOTS = _table(
    ATTRIBUTION,
    "snapshots",
    "One row per frozen period snapshot: its period, the run it froze, and the period's totals as reported.",
    _col(*SNAPSHOT_ID, nullable=False),
    _col("period", sa.Text, "The period frozen: YYYY-Qn (a quarter) or YYYY-MM (a month)", nullable=False),
    _col("period_start", Timestamp, "First instant of the period (UTC)", nullable=False),
    _col("period_end", Timestamp, "First instant after the period (UTC)", nullable=False),
    _col("version", sa.Integer, "1 for the first freeze of the period, +1 per --supersede", nullable=False),
    _col("run_id", sa.Text, "Dagster run id of the published run the snapshot froze", nullable=False),
    _col("as_of", Timestamp, "That run's as-of time (open deals are valued as of it)"),
    _col("frozen_at", Timestamp, "When the snapshot was taken (UTC)", nullable=False),
    _col("input_fingerprint", sa.Text, "sha256 of that run's parameters and per-source row accounting", nullable=False),
    _col("won_revenue", Money, "Amount of the deals won that closed in the period", nullable=False),
    _col("won_deals", sa.BigInteger, "Number of those deals", nullable=False),
    _col("pipeline_created", Money, "Amount of the deals created in the period, whatever their state", nullable=False),
    _col("pipeline_deals", sa.BigInteger, "Number of those deals", nullable=False),
    _col("superseded_by", sa.Text, "The snapshot that replaced this one; null while it is the period's current snapshot"),
    _col("superseded_at", Timestamp, "When it was superseded"),
)

SNAPSHOTS_CHANNEL = _table(
    ATTRIBUTION,
    "snapshots_channel",
    "One row per (snapshot, model, channel): the period's channel figures as frozen.",
    _col(*SNAPSHOT_ID, nullable=False),
    _col("model", sa.Text, "Attribution model name", nullable=False),
    _col("channel", sa.Text, "Channel, or '(unattributed)'", nullable=False),
    *_snapshot_measures(),
)

SNAPSHOTS_CAMPAIGN = _table(
    ATTRIBUTION,
    "snapshots_campaign",
    "One row per (snapshot, model, campaign) credited in the period, with a null campaign_id row for credit without a campaign.",
    _col(*SNAPSHOT_ID, nullable=False),
    _col("model", sa.Text, "Attribution model name", nullable=False),
    _col("campaign_id", sa.Text, "The campaign; null for credit without a campaign (unattributed included)"),
    _col("campaign_name", sa.Text, "From campaigns at the freeze"),
    _col("channel", sa.Text, "The campaign's channel from campaigns at the freeze"),
    *_snapshot_measures(),
    _col("cost", Money, "The campaign's whole cost at the freeze; null when unknown"),
)

SNAPSHOTS_CREDIT = _table(
    ATTRIBUTION,
    "snapshots_credit",
    "One row per (snapshot, measure, model, opportunity, channel): the cents frozen, what drift compares.",
    _col(*SNAPSHOT_ID, nullable=False),
    _col("measure", sa.Text, "revenue (won deals closed in the period) or pipeline (deals created in it)", nullable=False),
    _col("model", sa.Text, "Attribution model name", nullable=False),
    _col("opportunity_id", sa.Text, "The deal", nullable=False),
    _col("channel", sa.Text, "Channel, or '(unattributed)'", nullable=False),
    _col("credited_amount", Money, "Credited to the channel for the deal under the model, whole cents", nullable=False),
)

SNAPSHOTS_DEALS = _table(
    ATTRIBUTION,
    "snapshots_deals",
    "One row per (snapshot, opportunity) in the period's revenue or pipeline: the deal's facts as frozen.",
    _col(*SNAPSHOT_ID, nullable=False),
    _col("opportunity_id", sa.Text, "The deal", nullable=False),
    _col("in_revenue", sa.Boolean, "Won and closed in the period", nullable=False),
    _col("in_pipeline", sa.Boolean, "Created in the period", nullable=False),
    _col("amount", Money, "Its amount in the reporting currency", nullable=False),
    _col("deal_state", sa.Text, "open, won or lost", nullable=False),
    _col("created_at", Timestamp, "When the deal was created (UTC)", nullable=False),
    _col("closed_at", Timestamp, "When it closed (UTC); null while open"),
    _col("touches", sa.BigInteger, "Distinct touches credited to it in the period's rows", nullable=False),
    _col("touches_sha256", sa.Text, "sha256 of those touches' sorted touch_id@occurred_at: a late touch changes it", nullable=False),
)

SNAPSHOT_DRIFT = _table(
    ATTRIBUTION,
    "snapshot_drift",
    "One row per (current snapshot, measure, model, channel, opportunity) whose credit differs now from the frozen credit.",
    _col(*SNAPSHOT_ID, nullable=False),
    _col("period", sa.Text, "The snapshot's period", nullable=False),
    _col("measure", sa.Text, "revenue or pipeline", nullable=False),
    _col("model", sa.Text, "Attribution model name", nullable=False),
    _col("channel", sa.Text, "Channel, or '(unattributed)'", nullable=False),
    _col("opportunity_id", sa.Text, "The deal that explains the difference", nullable=False),
    _col("frozen_amount", Money, "Credit as frozen (0 when the deal was not in the snapshot)", nullable=False),
    _col("current_amount", Money, "Credit now, over the same period (0 when the deal left it)", nullable=False),
    _col(
        "drift_amount",
        Money,
        "current_amount - frozen_amount; per (snapshot, measure, model, channel) they sum to the mart's change",
        nullable=False,
    ),
    _col(
        "reason",
        sa.Text,
        "The first that holds: added_after_freeze, removed_since_freeze, amount_changed, stage_changed, dates_changed, "
        "touches_changed (late or removed touches), restated (same deal and touches: parameters or learned values changed)",
        nullable=False,
    ),
    _col(*RUN_ID),
)

RUNS = _table(
    ATTRIBUTION,
    "runs",
    "One row per run: its parameters, outcome and per-source row accounting.",
    _col("run_id", sa.Text, "Dagster run id", nullable=False),
    _col("started_at", Timestamp, "When the run started (UTC)"),
    _col("finished_at", Timestamp, "When the run finished (UTC)"),
    _col("status", sa.Text, "success or failed", nullable=False),
    _col("message", sa.Text, "Why a failed run failed; a summary for a successful one"),
    _col("parameters", sa.Text, "The run's parameters as JSON (as_of resolved)"),
    _col("source_rows", sa.Text, "Per source: rows in, passed and quarantined, as JSON"),
    _col(
        "warnings",
        sa.Text,
        "Referential warnings (counts) as JSON: unknown campaign ids, contacts of unknown deals, won deals without touches, touches matching no deal",
    ),
    _col(
        "excluded_touches",
        sa.BigInteger,
        "Touches of won deals removed from credit by the excluded touch types and channels; null for a failed run",
    ),
    _col("touches_with_anonymous_id", sa.BigInteger, "Staged touches with an anonymous_id; null for a failed run"),
    _col("touches_stitched", sa.BigInteger, "Of those, touches without an e-mail that took their anonymous_id's e-mail"),
    _col(
        "touches_left_anonymous",
        sa.BigInteger,
        "Of those, touches still without an e-mail (never identified, ambiguous, outside the window, or --no-stitching)",
    ),
    _col("anonymous_ids_ambiguous", sa.BigInteger, "Anonymous ids linked to two or more e-mails (a shared device): they stitch nothing"),
)

# The stitch counts of a run (models/identity.stitch_summary), in RUNS's column order.
STITCH_COUNTS = ("touches_with_anonymous_id", "touches_stitched", "touches_left_anonymous", "anonymous_ids_ambiguous")

IDENTITY_LINKS = _table(
    STAGING,
    "identity_links",
    "One row per (anonymous_id, email) linked by a touch carrying both or by an identities row (issue 18).",
    _col("anonymous_id", sa.Text, "The cookie or device id", nullable=False),
    _col("email", sa.Text, "The e-mail it was linked to (normalized)", nullable=False),
    _col(
        "first_linked_at",
        Timestamp,
        "The earliest time the pair was seen (UTC): the stitch window is measured from the id's first link",
        nullable=False,
    ),
    _col("source", sa.Text, "touch (some touch carries the pair) or identities (only the identities source links it)", nullable=False),
    _col("ambiguous", sa.Boolean, "The id links to two or more e-mails: it stitches nothing", nullable=False),
    _col(*RUN_ID),
)

RUN_SOURCES = _table(
    ATTRIBUTION,
    "run_sources",
    "One row per (run, source): row accounting; rows_in = rows_passed + rows_quarantined.",
    _col("run_id", sa.Text, "Dagster run id", nullable=False),
    _col("source", sa.Text, "Source name", nullable=False),
    _col("files", sa.Text, "Files or tables read, comma-separated"),
    _col("rows_in", sa.BigInteger, "Rows read", nullable=False),
    _col("rows_passed", sa.BigInteger, "Rows that passed validation into staging", nullable=False),
    _col("rows_quarantined", sa.BigInteger, "Rows rejected into quarantine", nullable=False),
)


def quarantine_table(source: str) -> sa.Table:
    """``quarantine.<source>``: one row per rejected source row, with its rule and original values."""
    key = f"{QUARANTINE}.{source}"
    if key in METADATA.tables:
        return METADATA.tables[key]
    return _table(
        QUARANTINE,
        source,
        f"One row per rejected {source} row.",
        _col("source", sa.Text, "Source name", nullable=False),
        _col("rule", sa.Text, "The first rule the row broke, as column.rule", nullable=False),
        _col("rules", sa.Text, "Every rule the row broke, comma-separated", nullable=False),
        _col("message", sa.Text, "Every rule the row broke, in words", nullable=False),
        _col("source_file", sa.Text, "File or table the row came from", nullable=False),
        _col("source_row", sa.BigInteger, "1-based data row within that file", nullable=False),
        _col("raw_values", sa.Text, "The row's original values as JSON text", nullable=False),
        _col(*RUN_ID),
    )


PIPELINE_SOURCING = _table(
    ATTRIBUTION,
    "pipeline_sourcing",
    "One row per (created month, channel, sourcing) over every opportunity (won, lost and open): who sourced the pipeline.",
    _col("created_month", sa.Date, "Calendar month of the opportunity's created_at in UTC, as its first day", nullable=False),
    _col(
        "channel",
        sa.Text,
        "Channel of the deciding marketing touch (the first on or before created_at, else the first after); '(none)' for sales-sourced",
        nullable=False,
    ),
    _col(
        "sourcing",
        sa.Text,
        "marketing_sourced (a marketing touch on or before created_at), marketing_influenced (only after it), or sales_sourced (none)",
        nullable=False,
    ),
    _col("opportunities", sa.BigInteger, "Opportunities created in the month with this channel and sourcing", nullable=False),
    _col("amount", Money, "Their amount, in the reporting currency", nullable=False),
    _col("share_of_opportunities", sa.Double, "opportunities / all opportunities created in the month", nullable=False),
    _col("share_of_amount", sa.Double, "amount / all amount created in the month (0 when that is 0)", nullable=False),
    _col(*RUN_ID),
)

LEAD_SLA = _table(
    ATTRIBUTION,
    "lead_sla",
    "One row per lead that reached MQL: how long sales took to act on it, against the hand-off SLA.",
    _col("lead_id", sa.Text, "The lead", nullable=False),
    _col("owner", sa.Text, "The lead's owner; '(unassigned)' when empty", nullable=False),
    _col("mql_at", Timestamp, "When the lead became marketing-qualified (UTC)", nullable=False),
    _col("mql_week", sa.Date, "Monday (UTC) of the week of mql_at", nullable=False),
    _col("first_sales_activity_at", Timestamp, "First sales activity on the lead; null while none"),
    _col(
        "hours_to_first_activity",
        sa.Double,
        "Hours from mql_at to first_sales_activity_at; null while none; negative when sales acted first",
    ),
    _col("sla_hours", sa.Double, "The SLA limit in hours this row was judged against", nullable=False),
    _col(
        "status",
        sa.Text,
        "met (acted within the limit, inclusive), breached (later, or still waiting past it at the as-of time), waiting",
        nullable=False,
    ),
    _col(*RUN_ID),
)

LEAD_SLA_COMPLIANCE = _table(
    ATTRIBUTION,
    "lead_sla_compliance",
    "One row per (MQL week, owner): hand-off SLA compliance.",
    _col("mql_week", sa.Date, "Monday (UTC) of the week the leads became MQL", nullable=False),
    _col("owner", sa.Text, "Lead owner, or '(unassigned)'", nullable=False),
    _col("leads", sa.BigInteger, "MQLs of the week and owner", nullable=False),
    _col("met", sa.BigInteger, "Of them, SLA met", nullable=False),
    _col("breached", sa.BigInteger, "Of them, SLA breached", nullable=False),
    _col("waiting", sa.BigInteger, "Of them, still waiting within the limit", nullable=False),
    _col("compliance", sa.Double, "met / (met + breached); null while every lead is waiting"),
    _col(*RUN_ID),
)

STAGE_VELOCITY = _table(
    ATTRIBUTION,
    "stage_velocity",
    "One row per (opportunity stage, month the deal was created) with at least one stay in the stage; closing stages have none.",
    _col("stage", sa.Text, "Stage name as in opportunity_stage_history (lower-case)", nullable=False),
    _col("created_month", sa.Date, "Calendar month of the deal's created_at in UTC, as its first day", nullable=False),
    _col("deals_entered", sa.BigInteger, "Deals that entered the stage (once each, however often they re-entered)", nullable=False),
    _col("still_in_stage", sa.BigInteger, "Of them, open deals whose latest entry is this stage", nullable=False),
    _col("median_days", sa.Double, "Median days in the stage over deals that left it (re-entries added up)"),
    _col("p75_days", sa.Double, "75th percentile of those days (linear interpolation)"),
    _col("p90_days", sa.Double, "90th percentile of those days (linear interpolation)"),
    _col("next_stage", sa.Text, "The next stage in the configured stage order; null for a stage outside it or the last"),
    _col("converted_to_next", sa.BigInteger, "Deals that entered next_stage after first entering this one"),
    _col("conversion_to_next", sa.Double, "converted_to_next / (deals_entered - deals still in stage without converting)"),
    _col(*RUN_ID),
)

FUNNEL_MONTHLY = _table(
    ATTRIBUTION,
    "funnel_monthly",
    "One row per (month the lead was created, the lead's first-touch channel): the lead funnel from lead to won deal.",
    _col("created_month", sa.Date, "Calendar month of the lead's created_at in UTC, as its first day", nullable=False),
    _col(
        "channel",
        sa.Text,
        "Channel of the lead's first touch at or before its creation (by e-mail); '(none)' when no touch precedes it",
        nullable=False,
    ),
    _col("leads", sa.BigInteger, "Leads created", nullable=False),
    _col("mqls", sa.BigInteger, "Of them, leads that reached MQL (mql_at, or a later stage)", nullable=False),
    _col("sqls", sa.BigInteger, "Of them, leads sales accepted (sql_at, or an opportunity)", nullable=False),
    _col(
        "opportunities",
        sa.BigInteger,
        "Of them, leads converted into a known opportunity (counted once per opportunity, on its first lead)",
        nullable=False,
    ),
    _col("won_deals", sa.BigInteger, "Of those opportunities, the closed-won ones", nullable=False),
    _col("won_revenue", Money, "Amount of those won deals, in the reporting currency", nullable=False),
    _col("lead_to_mql", sa.Double, "mqls / leads (to date)"),
    _col("mql_to_sql", sa.Double, "sqls / mqls (to date); null when mqls is 0"),
    _col("sql_to_opportunity", sa.Double, "opportunities / sqls (to date); null when sqls is 0"),
    _col(
        "opportunity_to_won",
        sa.Double,
        "won_deals / opportunities (to date, open deals count as not won yet); null when opportunities is 0",
    ),
    _col("median_days_lead_to_mql", sa.Double, "Median days from created_at to mql_at, over leads with both"),
    _col("median_days_mql_to_sql", sa.Double, "Median days from mql_at to sql_at, over leads with both"),
    _col("median_days_sql_to_opportunity", sa.Double, "Median days from sql_at to the opportunity's created_at"),
    _col("median_days_opportunity_to_won", sa.Double, "Median days from the opportunity's created_at to its closed_at, over won deals"),
    _col(*RUN_ID),
)

CHANNEL_VALUES = _table(
    ATTRIBUTION,
    "channel_values",
    "One row per (data-driven model, channel): the value the model learned from every closed deal's path, won or lost.",
    _col("model", sa.Text, "markov (removal effect) or shapley (Shapley value)", nullable=False),
    _col("channel", sa.Text, "Channel; '(unknown)' for touches without one", nullable=False),
    _col(
        "value",
        sa.Double,
        "markov: 1 - P(conversion without the channel) / P(conversion), solved exactly from the absorbing chain; shapley: the channel's Shapley value of the channel-set conversion rates",
        nullable=False,
    ),
    _col("share", sa.Double, "max(value, 0) / the model's sum of max(value, 0); null when that sum is 0"),
    _col(*RUN_ID),
)

CHANNEL_ATTRIBUTION_INTERVALS = _table(
    ATTRIBUTION,
    "channel_attribution_intervals",
    "One row per (data-driven model, channel): credited revenue over all months with its 90% bootstrap interval.",
    _col("model", sa.Text, "markov or shapley", nullable=False),
    _col("channel", sa.Text, "Channel; '(unknown)' for touches without one", nullable=False),
    _col(
        "credited_revenue",
        sa.Double,
        "Revenue the model credits to the channel over every won deal with a journey (before cent rounding)",
        nullable=False,
    ),
    _col(
        "lower",
        sa.Double,
        "5th percentile of that revenue over the bootstrap draws (deals resampled, values learned again)",
        nullable=False,
    ),
    _col("upper", sa.Double, "95th percentile of that revenue over the bootstrap draws", nullable=False),
    _col("draws", sa.Integer, "Bootstrap draws (--bootstrap-draws)", nullable=False),
    _col("seed", sa.BigInteger, "Seed of the draws (--bootstrap-seed): the same seed gives the same interval", nullable=False),
    _col(*RUN_ID),
)

PUBLIC_TABLES = [
    JOURNEYS,
    CHANNEL_VALUES,
    CHANNEL_ATTRIBUTION_INTERVALS,
    TOUCH_CREDIT,
    CAMPAIGN_ATTRIBUTION,
    CHANNEL_ATTRIBUTION,
    PIPELINE_CREDIT,
    PIPELINE_CHANNEL_ATTRIBUTION,
    PIPELINE_CAMPAIGN_ATTRIBUTION,
    SNAPSHOTS,
    SNAPSHOTS_CHANNEL,
    SNAPSHOTS_CAMPAIGN,
    SNAPSHOTS_CREDIT,
    SNAPSHOTS_DEALS,
    SNAPSHOT_DRIFT,
    PIPELINE_SOURCING,
    FUNNEL_MONTHLY,
    LEAD_SLA,
    LEAD_SLA_COMPLIANCE,
    STAGE_VELOCITY,
    RUNS,
    RUN_SOURCES,
    IDENTITY_LINKS,
]
# Columns added to a public table after it first shipped, so a warehouse written by
# an older version gets them on its next run (any other difference is refused).
ADDED_COLUMNS = {
    "attribution.campaign_attribution": ("leads", "cpl", "cpa"),
    "attribution.journeys": ("identity",),
    "attribution.runs": ("excluded_touches", *STITCH_COUNTS),
}

MONEY_COLUMNS = {  # frame column in integer cents -> table column in Numeric(18, 2)
    "credited_cents": "credited_amount",
    "credited_revenue_cents": "credited_revenue",
    "cost_cents": "cost",
    "amount_cents": "amount",
    "won_revenue_cents": "won_revenue",
    "pipeline_created_cents": "pipeline_created",
    "pipeline_open_cents": "pipeline_open",
    "pipeline_won_cents": "pipeline_won",
    "pipeline_lost_cents": "pipeline_lost",
    "frozen_cents": "frozen_amount",
    "current_cents": "current_amount",
    "drift_cents": "drift_amount",
}

# Partitioned tables (by close month) and the column whose month is the partition:
# a run of months [start, end) replaces exactly the rows with that column in range.
PARTITION_COLUMNS = {
    "attribution.journeys": "conversion_at",
    "attribution.touch_credit": "closed_at",
    "attribution.channel_attribution": "close_month",
    "attribution.pipeline_credit": "conversion_at",
}


def cents_columns(table: sa.Table) -> dict[str, str]:
    """The table's money columns (Numeric(18, 2)) -> the frame column holding them in integer cents."""
    money = {public: cents for cents, public in MONEY_COLUMNS.items()}
    return {
        column.name: money[column.name]
        for column in table.columns
        if column.name in money and isinstance(column.type, sa.Numeric) and not isinstance(column.type, sa.Float)
    }


# Every table a run computes into the attribution schema; attribution/runs publishes
# them together, with the run's own row in RUNS and RUN_SOURCES.
# The snapshot tables are written by a freeze, never by a run.
SNAPSHOT_TABLES = (SNAPSHOTS, SNAPSHOTS_CHANNEL, SNAPSHOTS_CAMPAIGN, SNAPSHOTS_CREDIT, SNAPSHOTS_DEALS)
PUBLISHED = tuple(
    table for table in METADATA.tables.values() if table.schema == ATTRIBUTION and table not in (RUNS, RUN_SOURCES, *SNAPSHOT_TABLES)
)
