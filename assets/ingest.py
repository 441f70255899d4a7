"""raw.*: each source loaded as it is (every value as text, plus file and row)."""

import dagster as dg
import polars as pl

from attribution_pipeline.contract import CONTRACTS, LINEAGE, SourceContract
from attribution_pipeline.resources import LandingSource
from attribution_pipeline.sources import SourceError

def _empty(contract: SourceContract) -> pl.DataFrame:
    schema = {column: pl.String for column in contract.columns}
    schema.update({LINEAGE[0]: pl.String, LINEAGE[1]: pl.Int64})
    return pl.DataFrame(schema=schema)

def raw_asset(contract: SourceContract) -> dg.AssetsDefinition:
    @dg.asset(
        key=["raw", contract.name],
        group_name="raw",
        kinds={"polars", "sql"},
        description=(
            f"`{contract.name}` rows exactly as read from the source, every value as text, "
            "with `_source_file` and `_source_row` (1-based data row). Extra columns are kept."
            + (" Optional source: absent means no rows." if contract.optional else "")
        ),
    )
    def _raw(context: dg.AssetExecutionContext, source: LandingSource) -> dg.Output[pl.DataFrame]:
        frame, files = source.read(contract.name)
        if frame is None:
            if not contract.optional:
                raise SourceError(contract.name, source.location, f"no {contract.name}.csv, {contract.name}.parquet or {contract.name}/ folder found")
            frame = _empty(contract)
        missing = [column for column in contract.required_columns if column not in frame.columns]
        if files and missing:
            raise SourceError(contract.name, ", ".join(files), f"missing required column(s) {missing}")
        if files and frame.height == 0:
            raise SourceError(contract.name, ", ".join(files), "no data rows")
        extra = [c for c in frame.columns if c not in contract.columns and c not in LINEAGE]
        context.log.info(f"read {frame.height:,} {contract.name} rows from {len(files)} file(s)")
        return dg.Output(
            frame,
            metadata={
                "files": dg.MetadataValue.json(files),
                "rows_in": dg.MetadataValue.int(frame.height),
                "extra_columns": dg.MetadataValue.json(extra),
            },
        )

    return _raw

RAW_ASSETS = [raw_asset(contract) for contract in CONTRACTS.values()]
