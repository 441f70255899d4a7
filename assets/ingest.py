"""raw.*: each source loaded as it is (every value as text, plus file and row),
and the blocking whole-source check of SPEC 2 on it."""

import dagster as dg
import polars as pl

from attribution_pipeline.contract import CONTRACTS, LINEAGE, SourceContract
from attribution_pipeline.io_managers import SINGLE_RUN, WRITE_RETRY
from attribution_pipeline.resources import LandingSource
from attribution_pipeline.sources import SourceError
from attribution_pipeline.validation import check_source


def _empty(contract: SourceContract) -> pl.DataFrame:
    schema = {column: pl.String for column in contract.columns}
    schema.update({LINEAGE[0]: pl.String, LINEAGE[1]: pl.Int64})
    return pl.DataFrame(schema=schema)


def raw_asset(contract: SourceContract) -> dg.AssetsDefinition:
    key = dg.AssetKey(["raw", contract.name])

    @dg.asset(
        key=key,
        group_name="raw",
        kinds={"polars", "sql"},
        retry_policy=WRITE_RETRY,
        backfill_policy=SINGLE_RUN,
        description=(
            f"`{contract.name}` rows exactly as read from the source, every value as text, "
            "with `_source_file` and `_source_row` (1-based data row). Extra columns are kept."
            + (" Optional source: absent means no rows." if contract.optional else "")
        ),
        # Evaluated in the same step as the read: a step of its own per source cost more
        # (events, loading the frame back) than the check itself.
        check_specs=[dg.AssetCheckSpec(
            "source_is_usable", asset=key, blocking=True,
            description=(
                "Whole-source rules (great-expectations): every required column "
                f"({', '.join(contract.required_columns)}) exists and there is at least one data row. "
                "A failure stops everything downstream."
            ),
        )],
    )
    def _raw(context: dg.AssetExecutionContext, source: LandingSource):
        try:
            frame, files = source.read(contract.name)
        except SourceError as error:  # a broken input does not heal by retrying
            raise dg.Failure(description=str(error), allow_retries=False) from error
        if frame is None:
            if not contract.optional:
                problem = SourceError(
                    contract.name, source.location,
                    f"no {contract.name}.csv, {contract.name}.parquet or {contract.name}/ folder found; add one "
                    f"(a required source: {', '.join(c.name for c in CONTRACTS.values() if not c.optional)})", "source.missing",
                )
                raise dg.Failure(description=str(problem), allow_retries=False)
            frame = _empty(contract)
        extra = [c for c in frame.columns if c not in contract.columns and c not in LINEAGE]
        context.log.info(f"read {frame.height:,} {contract.name} rows from {len(files)} file(s)")
        yield dg.Output(
            frame,
            metadata={
                "files": dg.MetadataValue.json(files),
                "rows_in": dg.MetadataValue.int(frame.height),
                "present": dg.MetadataValue.bool(bool(files)),
                "extra_columns": dg.MetadataValue.json(extra),
            },
        )
        yield source_check_result(contract, frame, files, source.location)

    return _raw


def source_check_result(contract: SourceContract, raw: pl.DataFrame, files: list[str], location: str) -> dg.AssetCheckResult:
    """SPEC 2's whole-source rules on what was read (an absent optional source passes)."""
    if not files and contract.optional:
        return dg.AssetCheckResult(check_name="source_is_usable", passed=True, metadata={"message": "optional source absent"})
    outcomes = check_source(contract, raw)
    missing = [o.column for o in outcomes if o.rule == "source.missing_column" and not o.success]
    problems = []
    if missing:
        header = [c for c in raw.columns if c not in LINEAGE]
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
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        description=message,
        metadata={
            "message": dg.MetadataValue.text(message),
            "expectations": dg.MetadataValue.json([o.as_metadata() for o in outcomes]),
        },
    )


RAW_ASSETS = [raw_asset(contract) for contract in CONTRACTS.values()]
