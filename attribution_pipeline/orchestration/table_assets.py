"""How an asset stored in the warehouse is declared, once: its key is its table's
``schema.name``, its definition metadata the declared columns and grain, and every
such asset shares the kinds, the write retry and the single-run backfill policy. The
assets modules then say only what differs: the table, its group, its inputs, what it
means. The run id is stamped on the rows by the IO manager, not by the assets."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg
import sqlalchemy as sa

from attribution_pipeline.contract.checks import Check, Verdict
from attribution_pipeline.orchestration.io_managers import SINGLE_RUN, WRITE_RETRY, table_metadata

KINDS = {"polars", "sql"}

Stored = sa.Table | Sequence[str]  # a declared table, or the key of a table shaped like its input (raw, staging)


def key_of(stored: Stored) -> dg.AssetKey:
    return dg.AssetKey([stored.schema, stored.name]) if isinstance(stored, sa.Table) else dg.AssetKey(list(stored))


def _metadata(stored: Stored) -> dict | None:
    return table_metadata(stored) if isinstance(stored, sa.Table) else None


def table_asset(
    stored: Stored,
    *,
    group: str,
    description: str,
    ins: dict[str, dg.AssetIn] | None = None,
    partitions: dg.PartitionsDefinition | None = None,
    backfill: dg.BackfillPolicy = SINGLE_RUN,
    deps: Sequence[dg.AssetKey] | None = None,
    checks: Sequence[Check] = (),
    kinds: set[str] = KINDS,
):
    """The decorator of an asset that writes one table; ``backfill``: a partitioned
    asset's policy (``partitions.month_backfill_policy``)."""
    key = key_of(stored)
    return dg.asset(
        key=key,
        group_name=group,
        kinds=kinds,
        description=description,
        ins=ins,
        deps=deps,
        partitions_def=partitions,
        metadata=_metadata(stored),
        check_specs=[check_spec(check, key) for check in checks] or None,
        retry_policy=WRITE_RETRY,
        backfill_policy=backfill,
    )


def table_out(stored: Stored, *, group: str, description: str, is_required: bool = True) -> dg.AssetOut:
    """One table of a step that writes several (``tables_asset``)."""
    return dg.AssetOut(
        key=key_of(stored),
        group_name=group,
        kinds=KINDS,
        description=description,
        metadata=_metadata(stored),
        is_required=is_required,
    )


def tables_asset(
    name: str | None = None,
    *,
    outs: dict[str, dg.AssetOut],
    ins: dict[str, dg.AssetIn] | None = None,
    deps: Sequence[dg.AssetKey] | None = None,
    check_specs: Sequence[dg.AssetCheckSpec] = (),
):
    """The decorator of a step that writes several tables (``table_out`` each)."""
    return dg.multi_asset(
        name=name,
        outs=outs,
        ins=ins,
        deps=deps,
        check_specs=list(check_specs) or None,
        retry_policy=WRITE_RETRY,
        backfill_policy=SINGLE_RUN,
    )


def check_spec(check: Check, key: dg.AssetKey) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(check.name, asset=key, blocking=check.blocking, description=check.description)


def check_result(check: Check, key: dg.AssetKey, verdict: Verdict) -> dg.AssetCheckResult:
    """A blocking check fails as an error; the others warn."""
    metadata = dict(verdict.details)
    if verdict.message is not None:
        metadata["message"] = dg.MetadataValue.text(verdict.message)
    return dg.AssetCheckResult(
        check_name=check.name,
        asset_key=key,
        passed=verdict.passed,
        severity=dg.AssetCheckSeverity.ERROR if check.blocking else dg.AssetCheckSeverity.WARN,
        description=verdict.message,
        metadata=metadata,
    )
