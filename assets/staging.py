"""staging.* and quarantine.*: each raw row either passes the SPEC 1 contract
(typed and normalized) or is quarantined with the rule it broke."""

import dagster as dg
import polars as pl

from attribution_pipeline.contract import CONTRACTS, SourceContract, stage
from attribution_pipeline.resources import AttributionSettings
from attribution_pipeline.sources import SourceError

def staging_asset(contract: SourceContract) -> dg.AssetsDefinition:
    @dg.multi_asset(
        name=f"stage_{contract.name}",
        group_name="staging",
        outs={
            "staged": dg.AssetOut(
                key=["staging", contract.name],
                kinds={"polars", "sql"},
                description=f"Validated, normalized `{contract.name}` rows (SPEC 1), with `_source_file` and `_source_row`.",
            ),
            "quarantined": dg.AssetOut(
                key=["quarantine", contract.name],
                kinds={"polars", "sql"},
                description=f"Rejected `{contract.name}` rows: rule, message, source file and row, original values.",
            ),
        },
        ins={"raw": dg.AssetIn(key=["raw", contract.name])},
    )
    def _stage(context: dg.AssetExecutionContext, settings: AttributionSettings, raw: pl.DataFrame):
        staged = stage(contract, raw, settings.params())
        rows_in, passed, rejected = raw.height, staged.valid.height, staged.quarantine.height
        if rows_in != passed + rejected:  # the contract's promise; never silently drop a row
            raise RuntimeError(f"{contract.name}: {rows_in} rows in but {passed} passed + {rejected} quarantined")
        if rows_in and rejected / rows_in > settings.max_quarantine_share:
            top = staged.quarantine.group_by("rule").len().sort("len", descending=True).row(0)
            files = ", ".join(sorted(set(raw.get_column("_source_file").to_list())))
            raise SourceError(
                contract.name,
                files,
                f"{rejected:,} of {rows_in:,} rows quarantined ({rejected / rows_in:.0%}), above max_quarantine_share "
                f"{settings.max_quarantine_share:.0%}; most common rule {top[0]} ({top[1]:,} rows)",
            )
        by_rule = dict(staged.quarantine.group_by("rule").len().sort("rule").iter_rows())
        counts = {"rows_in": rows_in, "rows_passed": passed, "rows_quarantined": rejected}
        context.log.info(f"{contract.name}: {passed:,} passed, {rejected:,} quarantined of {rows_in:,}")
        yield dg.Output(staged.valid, output_name="staged", metadata={k: dg.MetadataValue.int(v) for k, v in counts.items()})
        yield dg.Output(
            staged.quarantine.with_columns(run_id=pl.lit(context.run.run_id)),
            output_name="quarantined",
            metadata={"rows_by_rule": dg.MetadataValue.json(by_rule), **{k: dg.MetadataValue.int(v) for k, v in counts.items()}},
        )

    return _stage

STAGING_ASSETS = [staging_asset(contract) for contract in CONTRACTS.values()]
