"""staging.* and quarantine.*: each raw row either passes the SPEC 1 contract
(typed, normalized, converted to the reporting currency) or is quarantined with
the rules it broke. Two checks per source: the great-expectations row suite
(a report, non-blocking) and the quarantined share (blocking). The step that
runs them is the source's ingest step (assets/ingest.py)."""

import datetime as dt
from pathlib import Path

import dagster as dg
import polars as pl

from attribution_pipeline.contract.checks import QUARANTINE_SHARE_WITHIN_LIMIT, ROWS_MEET_CONTRACT, judge_quarantine_share, judge_rows
from attribution_pipeline.contract.roles import derived_domain
from attribution_pipeline.contract.rules import LINEAGE, SOURCE_ROW, SourceContract, duplicate_stats, stage
from attribution_pipeline.contract.validation import check_keys, check_rows, collect, merge_outcomes, submit
from attribution_pipeline.orchestration.settings import AttributionSettings
from attribution_pipeline.orchestration.table_assets import check_result, check_spec, table_asset
from attribution_pipeline.warehouse.tables import IDENTITY_LINKS
from models import funnel, identity
from models.params import AttributionParams

# Rows staged and validated at a time: the parsed and judged columns of a chunk
# take several times its raw size, so a 10M-row source is never judged at once.
CHUNK_ROWS = 1_000_000


def stage_in_chunks(
    context: dg.AssetExecutionContext,
    contract: SourceContract,
    raw: pl.DataFrame | pl.LazyFrame,
    params,
    fx_rates: pl.DataFrame | None,
    parts: Path,
) -> tuple[pl.LazyFrame, int, int, pl.DataFrame, list]:
    """Staged rows (a scan of the chunk files written to ``parts``, so no chunk is held
    after it is staged; ``parts`` exists), the source's row count, the staged count, the quarantined rows and the GX row-suite outcomes
    of a whole source, CHUNK_ROWS at a time. Repeated keys are found over the whole
    source first and key uniqueness is validated on it, so chunking changes nothing but
    memory."""
    raw = raw.lazy()  # a scan of the landing files' text, or rows read from a database
    height = raw.select(pl.len()).collect().item()
    duplicates = duplicate_stats(contract, raw)
    files, quarantine, outcomes, passed = [], [], [], 0
    whole = height <= CHUNK_ROWS  # one chunk: key uniqueness is judged with the other rules, in one GX call
    pending = None  # (future, arguments) of the chunk GX is judging: one at a time, so memory holds two chunks at most
    for start in range(0, max(height, 1), CHUNK_ROWS):
        staged = stage(contract, raw.slice(start, CHUNK_ROWS).collect(), params, fx_rates, duplicates)
        if pending is not None:
            outcomes.append(collect(pending[0], check_rows, *pending[1]))
        view = staged.judged_view()  # GX judges it in the validator process while the next chunk stages
        pending = (submit(check_rows, contract, view, params, whole), (contract, view, params, whole))
        files.append(parts / f"{len(files):05d}.parquet")
        staged.valid.write_parquet(files[-1])
        passed += staged.valid.height
        quarantine.append(staged.quarantine)
        if height > CHUNK_ROWS:
            context.log.info(f"{contract.name}: rows {start + 1:,} to {min(start + CHUNK_ROWS, height):,} of {height:,} staged")
        del staged, view  # free this chunk's frames before the next
    outcomes.append(collect(pending[0], check_rows, *pending[1]))
    del pending
    # Only the key columns go to the validator: pickling a 10M-row source whole took longer than judging it.
    columns = raw.collect_schema().names()
    key_columns = raw.select(*[c for c in contract.key if c in columns], SOURCE_ROW).collect() if not whole else None
    keys = None if whole else submit(check_keys, contract, key_columns, params)
    if whole:  # the key rules last, where check_keys puts them
        outcomes = [o for o in outcomes[0] if not o.rule.endswith(".unique")] + [o for o in outcomes[0] if o.rule.endswith(".unique")]
    else:
        outcomes = merge_outcomes(outcomes) + collect(keys, check_keys, contract, key_columns, params)
    return pl.scan_parquet(files), height, passed, pl.concat(quarantine), outcomes


def staging_checks(staged_key: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    return [check_spec(ROWS_MEET_CONTRACT, staged_key), check_spec(QUARANTINE_SHARE_WITHIN_LIMIT, staged_key)]


def stage_source(
    context: dg.AssetExecutionContext,
    contract: SourceContract,
    raw: pl.DataFrame | pl.LazyFrame,
    params,
    max_share: float,
    fx_rates: pl.DataFrame | None,
    parts: Path,
):
    """Stage and validate one source's raw rows: the row-suite check, the blocking
    quarantine-share check, then (within the share) the staged and quarantined rows.
    ``parts``: a folder for the staged chunks (the ingest step removes it)."""
    staged_key = dg.AssetKey(["staging", contract.name])
    valid, rows_in, passed, quarantine, outcomes = stage_in_chunks(context, contract, raw, params, fx_rates, parts)
    rejected = quarantine.height
    files = ", ".join(sorted(raw.lazy().select(pl.col(LINEAGE[0]).unique()).collect().to_series().to_list()))
    del raw  # staged: the raw rows are the warehouse's now, and need not stay in memory while staging is stored
    if rows_in != passed + rejected:  # the contract's promise; never silently drop a row
        raise RuntimeError(f"{contract.name}: {rows_in} rows in but {passed} passed + {rejected} quarantined")
    by_rule = dict(quarantine.group_by("rule").len().sort("rule").iter_rows())  # rule -> rows
    yield check_result(ROWS_MEET_CONTRACT, staged_key, judge_rows(outcomes, by_rule))
    share = judge_quarantine_share(contract.name, files, rejected, rows_in, max_share, by_rule)
    yield check_result(QUARANTINE_SHARE_WITHIN_LIMIT, staged_key, share)
    if not share.passed:  # keep the previous staging and quarantine tables
        return
    counts = {"rows_in": rows_in, "rows_passed": passed, "rows_quarantined": rejected}
    context.log.info(f"{contract.name}: {passed:,} passed, {rejected:,} quarantined of {rows_in:,}")
    yield dg.Output(valid, output_name="staged", metadata={k: dg.MetadataValue.int(v) for k, v in counts.items()})
    yield dg.Output(
        quarantine,
        output_name="quarantined",
        metadata={"rows_by_rule": dg.MetadataValue.json(by_rule), **{k: dg.MetadataValue.int(v) for k, v in counts.items()}},
    )


@table_asset(
    ("staging", "lead_first_touch"),
    group="staging",
    ins={"leads": dg.AssetIn(key=["staging", "leads"]), "touches": dg.AssetIn(key=["staging", "touches"])},
    description=(
        "Per lead: channel and campaign of the first touch with the lead's e-mail at or before the lead's creation "
        "('(none)' when there is none). Read by funnel_monthly (first-touch channel) and campaign_attribution (CPL)."
    ),
)
def lead_first_touch(leads: pl.DataFrame, touches: pl.LazyFrame) -> pl.DataFrame:
    """Computed once, next to staging, so the marts need not hold every staged touch
    (the touches are scanned: only the e-mail, time, channel and campaign are read)."""
    return funnel.lead_first_touch(leads.lazy(), touches.lazy()).collect()


def stitched_touches(touches: pl.LazyFrame, links: pl.DataFrame | pl.LazyFrame, params: AttributionParams) -> pl.LazyFrame:
    """The staged touches as SPEC 3 matches them: an anonymous touch with its id's one
    e-mail (and that e-mail's account domain, unless free-mail), and every touch's
    ``identity``. With stitching off (--no-stitching) no link is used, so only the
    ``identity`` column (given or null) is new. Applied to all touches before any
    month is cut, so a backfill by month ranges stitches like one run."""
    links = links.lazy() if params.stitch_identities else links.lazy().clear()
    window = None if params.stitch_window_days is None else dt.timedelta(days=params.stitch_window_days)
    return identity.stitch(touches.lazy(), links, window, lambda email: derived_domain(email, params.freemail_domains))


@table_asset(
    IDENTITY_LINKS,
    group="staging",
    ins={"touches": dg.AssetIn(key=["staging", "touches"]), "identities": dg.AssetIn(key=["staging", "identities"])},
    description=(
        "Identity links (issue 18): every (anonymous_id, email) pair carried by one touch, plus every identities row; "
        "an id linked to two or more e-mails is ambiguous and stitches nothing. The run's stitch counts are its metadata."
    ),
)
def identity_links(context: dg.AssetExecutionContext, settings: AttributionSettings, touches: pl.LazyFrame, identities: pl.DataFrame):
    """Over all touches, once per run: the journeys of every month stitch with these links."""
    links = identity.identity_links(touches, identities.lazy()).collect(engine="streaming")
    counts = identity.stitch_summary(stitched_touches(touches, links, settings.params()), links.lazy())
    context.log.info(
        f"identity stitching: {counts['touches_with_anonymous_id']:,} touches with an anonymous_id, "
        f"{counts['touches_stitched']:,} stitched, {counts['touches_left_anonymous']:,} left anonymous; "
        f"{counts['anonymous_ids_ambiguous']:,} anonymous ids ambiguous"
        + (" (stitching off: --no-stitching)" if settings.no_stitching else "")
    )
    return dg.Output(links, metadata={name: dg.MetadataValue.int(value) for name, value in counts.items()})
