"""raw.*, staging.* and quarantine.*: each source read as it is (every value as text,
plus file and row), checked as a whole (SPEC 2, blocking), then staged and validated
row by row (assets/staging.py), in one step per source."""

import shutil
from dataclasses import replace
from pathlib import Path

import dagster as dg
import polars as pl

from assets.staging import stage_source, staging_checks
from attribution_pipeline.contract.checks import judge_source, source_is_usable
from attribution_pipeline.contract.rules import CONTRACTS, LINEAGE, SourceContract
from attribution_pipeline.contract.validation import check_source, collect, submit
from attribution_pipeline.orchestration.partitions import covered_window
from attribution_pipeline.orchestration.resources import LandingSource, run_started_at
from attribution_pipeline.orchestration.settings import AttributionSettings
from attribution_pipeline.orchestration.table_assets import check_result, check_spec, table_out, tables_asset
from attribution_pipeline.sources.readers import SourceError
from attribution_pipeline.warehouse.tables import quarantine_table
from attribution_pipeline.warehouse.workspace import Workspace


def _empty(contract: SourceContract) -> pl.DataFrame:
    schema = {column: pl.String for column in contract.columns}
    schema.update({LINEAGE[0]: pl.String, LINEAGE[1]: pl.Int64})
    return pl.DataFrame(schema=schema)


def source_asset(contract: SourceContract, partitions: dg.MonthlyPartitionsDefinition) -> dg.AssetsDefinition:
    """raw, staging and quarantine of one source, in one step: read it, check it as a
    whole, stage and validate its rows. One step instead of three keeps a small run
    cheap (each step costs Dagster events and a load of its input)."""
    raw_key, staged_key = (dg.AssetKey([schema, contract.name]) for schema in ("raw", "staging"))
    ins = {"fx_rates": dg.AssetIn(key=["staging", "fx_rates"])} if contract.currency is not None else {}

    @tables_asset(
        name=f"ingest_{contract.name}",
        outs={
            "raw": table_out(
                raw_key.path,
                group="raw",
                is_required=False,
                description=(
                    f"`{contract.name}` rows exactly as read from the source, every value as text, "
                    "with `_source_file` and `_source_row` (1-based data row). Extra columns are kept."
                    + (" Optional source: absent means no rows." if contract.optional else "")
                ),
            ),
            "staged": table_out(
                staged_key.path,
                group="staging",
                is_required=False,
                description=f"Validated, normalized `{contract.name}` rows (SPEC 1), with `_source_file` and `_source_row`.",
            ),
            "quarantined": table_out(
                quarantine_table(contract.name),
                group="staging",
                is_required=False,
                description=f"Rejected `{contract.name}` rows: rules broken, message, source file and row, original values.",
            ),
        },
        ins=ins,
        check_specs=[check_spec(source_is_usable(contract), raw_key), *staging_checks(staged_key)],
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
        usable = judge_source(contract, header, files, source.location, outcomes or [])
        yield check_result(source_is_usable(contract), raw_key, usable)
        if not usable.passed:  # blocking: nothing of this source is staged
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


def source_assets(partitions: dg.MonthlyPartitionsDefinition) -> list[dg.AssetsDefinition]:
    return [source_asset(contract, partitions) for contract in CONTRACTS.values()]
