"""raw.*, staging.* and quarantine.*: each source read as it is (every value as text,
plus file and row), checked as a whole (SPEC 2, blocking), then staged and validated
row by row (assets/staging.py), in one step per source."""

import shutil
from dataclasses import replace
from pathlib import Path

import dagster as dg
import polars as pl

from assets.staging import stage_source, staging_checks
from attribution_pipeline.contract.rules import CONTRACTS, CONVERTED_MONEY, LINEAGE, SourceContract
from attribution_pipeline.contract.validation import check_source, collect, submit
from attribution_pipeline.orchestration.io_managers import SINGLE_RUN, WRITE_RETRY
from attribution_pipeline.orchestration.partitions import covered_window
from attribution_pipeline.orchestration.resources import LandingSource, run_started_at
from attribution_pipeline.orchestration.settings import AttributionSettings
from attribution_pipeline.sources.readers import SourceError
from attribution_pipeline.warehouse.workspace import Workspace


def _empty(contract: SourceContract) -> pl.DataFrame:
    schema = {column: pl.String for column in contract.columns}
    schema.update({LINEAGE[0]: pl.String, LINEAGE[1]: pl.Int64})
    return pl.DataFrame(schema=schema)


def source_asset(contract: SourceContract, partitions: dg.MonthlyPartitionsDefinition) -> dg.AssetsDefinition:
    """raw, staging and quarantine of one source, in one step: read it, check it as a
    whole, stage and validate its rows. One step instead of three keeps a small run
    cheap (each step costs Dagster events and a load of its input)."""
    raw_key, staged_key, quarantine_key = (dg.AssetKey([schema, contract.name]) for schema in ("raw", "staging", "quarantine"))
    ins = {"fx_rates": dg.AssetIn(key=["staging", "fx_rates"])} if contract.name in CONVERTED_MONEY else {}

    @dg.multi_asset(
        name=f"ingest_{contract.name}",
        outs={
            "raw": dg.AssetOut(
                key=raw_key,
                group_name="raw",
                kinds={"polars", "sql"},
                is_required=False,
                description=(
                    f"`{contract.name}` rows exactly as read from the source, every value as text, "
                    "with `_source_file` and `_source_row` (1-based data row). Extra columns are kept."
                    + (" Optional source: absent means no rows." if contract.optional else "")
                ),
            ),
            "staged": dg.AssetOut(
                key=staged_key,
                group_name="staging",
                kinds={"polars", "sql"},
                is_required=False,
                description=f"Validated, normalized `{contract.name}` rows (SPEC 1), with `_source_file` and `_source_row`.",
            ),
            "quarantined": dg.AssetOut(
                key=quarantine_key,
                group_name="staging",
                kinds={"polars", "sql"},
                is_required=False,
                description=f"Rejected `{contract.name}` rows: rules broken, message, source file and row, original values.",
            ),
        },
        ins=ins,
        retry_policy=WRITE_RETRY,
        backfill_policy=SINGLE_RUN,
        check_specs=[
            dg.AssetCheckSpec(
                "source_is_usable",
                asset=raw_key,
                blocking=True,
                description=(
                    "Whole-source rules (great-expectations): every required column "
                    f"({', '.join(contract.required_columns)}) exists and there is at least one data row. "
                    "A failure stops everything downstream."
                ),
            ),
            *staging_checks(staged_key),
        ],
    )
    def _ingest(context: dg.AssetExecutionContext, source: LandingSource, settings: AttributionSettings, workspace: Workspace, **inputs):
        run_workspace = workspace.for_run(context.instance, context.run.run_id)
        raw_parts, staged_parts = run_workspace.parts(f"raw_{contract.name}"), run_workspace.parts(contract.name)
        try:
            yield from _ingest_source(context, source, settings, staged_parts, raw_parts, **inputs)
        finally:  # the outputs are stored (or the step failed): the pieces they were made of go
            shutil.rmtree(raw_parts, ignore_errors=True)
            shutil.rmtree(staged_parts, ignore_errors=True)

    def _ingest_source(context, source: LandingSource, settings: AttributionSettings, parts, raw_parts, **inputs):
        frame, files = read_source(contract, source, raw_parts)  # a scan of the files' text, for a landing folder
        rows, header = frame.lazy().select(pl.len()).collect().item(), frame.lazy().head(0).collect()
        extra = [c for c in header.columns if c not in contract.columns and c not in LINEAGE]
        context.log.info(f"read {rows:,} {contract.name} rows from {len(files)} file(s)")
        yield dg.Output(
            frame,
            output_name="raw",
            metadata={
                "files": dg.MetadataValue.json(files),
                "rows_in": dg.MetadataValue.int(rows),
                "present": dg.MetadataValue.bool(bool(files)),
                "extra_columns": dg.MetadataValue.json(extra),
            },
        )
        # GX judges the whole source in the validator process while this one stages its rows.
        whole_source = (contract, header, rows)  # the whole-source rules need no row values
        judged = submit(check_source, *whole_source) if files or not contract.optional else None
        # The plausible range ends at the run's start plus the tolerance; a closed deal
        # must close inside the close-month partitions to be credited.
        params = replace(settings.params(run_started_at(context)), close_months=covered_window(partitions))
        staging = stage_source(context, contract, frame, params, settings.max_quarantine_share, inputs.get("fx_rates"), parts)
        del frame  # the staging generator holds the rows while it stages them, and no longer
        first = next(staging) if judged is not None else None  # the row suite's check result, staged and validated
        outcomes = collect(judged, check_source, *whole_source) if judged is not None else None
        check = source_check_result(contract, header, files, source.location, outcomes)
        yield check
        if not check.passed:  # blocking: nothing of this source is staged
            return
        if first is not None:
            yield first
        yield from staging

    return _ingest


def read_source(
    contract: SourceContract, source: LandingSource, parts: Path | None = None
) -> tuple[pl.DataFrame | pl.LazyFrame, list[str]]:
    """The source's rows as text and the files they came from; an absent optional source
    is no rows. ``parts``: where a landing folder's files are kept as text (a scan of them
    is returned)."""
    try:
        frame, files = source.read(contract.name, parts)
    except SourceError as error:  # a broken input does not heal by retrying
        raise dg.Failure(description=str(error), allow_retries=False) from error
    if frame is None:
        if not contract.optional:
            problem = SourceError(
                contract.name,
                source.location,
                f"no {contract.name}.csv, {contract.name}.parquet or {contract.name}/ folder found; add one "
                f"(a required source: {', '.join(c.name for c in CONTRACTS.values() if not c.optional)})",
                "source.missing",
            )
            raise dg.Failure(description=str(problem), allow_retries=False)
        frame = _empty(contract)
    return frame, files


def source_check_result(
    contract: SourceContract, raw: pl.DataFrame, files: list[str], location: str, outcomes: list | None = None
) -> dg.AssetCheckResult:
    """SPEC 2's whole-source rules on what was read (an absent optional source passes);
    ``outcomes``: the whole-source suite's, when already evaluated."""
    raw_key = dg.AssetKey(["raw", contract.name])
    if not files and contract.optional:
        return dg.AssetCheckResult(
            check_name="source_is_usable", asset_key=raw_key, passed=True, metadata={"message": "optional source absent"}
        )
    outcomes = outcomes if outcomes is not None else check_source(contract, raw)
    missing = [o.column for o in outcomes if o.rule == "source.missing_column" and not o.success]
    problems = []
    if missing:
        header = [c for c in raw.collect_schema().names() if c not in LINEAGE]
        hint = ""
        if len(header) == 1 and any(sep in header[0] for sep in ";\t|"):
            hint = f"; the header is one column {header[0][:80]!r}, so the file is not comma-delimited: write it with commas"
        advice = hint or "; add them (headers match case-insensitively after trimming)"
        problems.append(f"rule source.missing_column: missing required column(s) {missing}{advice}")
    if any(o.rule == "source.no_rows" and not o.success for o in outcomes):
        problems.append("rule source.no_rows: no data rows; export the source with its rows, or leave an optional source out")
    where = ", ".join(files) or location
    message = f"source {contract.name}: {where}: " + "; ".join(problems) if problems else "usable"
    return dg.AssetCheckResult(
        check_name="source_is_usable",
        asset_key=raw_key,
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        description=message,
        metadata={
            "message": dg.MetadataValue.text(message),
            "expectations": dg.MetadataValue.json([o.as_metadata() for o in outcomes]),
        },
    )


def source_assets(partitions: dg.MonthlyPartitionsDefinition) -> list[dg.AssetsDefinition]:
    return [source_asset(contract, partitions) for contract in CONTRACTS.values()]
