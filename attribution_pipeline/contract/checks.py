"""The run's checks, beside the rules they judge: each is declared once (name, what it
checks, whether a failure stops everything downstream) and judged by a function that
returns a ``Verdict`` (passed, the message a user reads, details). The assets turn them
into Dagster check specs and results (``orchestration/table_assets.py``), so the
wording of a failure lives here, next to the rule, and not inside an asset body."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from attribution_pipeline.contract.rules import LINEAGE, SourceContract


@dataclass(frozen=True)
class Check:
    name: str
    description: str
    blocking: bool = False  # a failure stops every downstream step, and nothing is replaced


@dataclass(frozen=True)
class Verdict:
    passed: bool
    message: str | None = None  # what a user reads; None for a check whose details say it all
    details: dict = field(default_factory=dict)  # plain values: Dagster shows them as metadata


def source_is_usable(contract: SourceContract) -> Check:
    return Check(
        "source_is_usable",
        "Whole-source rules (great-expectations): every required column "
        f"({', '.join(contract.required_columns)}) exists and there is at least one data row. "
        "A failure stops everything downstream.",
        blocking=True,
    )


ROWS_MEET_CONTRACT = Check(
    "rows_meet_contract",
    "great-expectations row suite of SPEC 1 (required values, parseable types, unique keys, money, "
    "won implies closed, closed after created, ISO 4217, fx rates): per expectation, success, unexpected count "
    "and sample rows. Rows breaking a rule are quarantined, so this check warns and does not block.",
)
QUARANTINE_SHARE_WITHIN_LIMIT = Check(
    "quarantine_share_within_limit",
    "The share of quarantined rows is at most max_quarantine_share; above it the export is broken and nothing downstream is replaced.",
    blocking=True,
)
REFERENTIAL_INTEGRITY = Check(
    "referential_integrity",
    "Referential warnings (never blocking): touch campaign_ids missing from campaigns, contacts of unknown "
    "deals, won deals without touches (credited as '(unattributed)'), touches matching none of the deals "
    "converting in the run's months.",
)
TOUCH_CREDIT_RECONCILES = Check(
    "touch_credit_reconciles",
    "Per model, credited revenue equals the won total of the deals closing in the run's months, to the cent (SPEC 4).",
    blocking=True,
)

PIPELINE_CREDIT_RECONCILES = Check(
    "pipeline_credit_reconciles",
    "Per model, credited pipeline equals the amount of every deal converting in the run's months (open, won or lost), to the cent.",
    blocking=True,
)


def judge_source(contract: SourceContract, header: pl.DataFrame, files: list[str], location: str, outcomes: list) -> Verdict:
    """SPEC 2's whole-source rules on what was read, from the whole-source suite's
    ``outcomes``; an absent optional source passes."""
    if not files and contract.optional:
        return Verdict(True, "optional source absent")
    missing = [o.column for o in outcomes if o.rule == "source.missing_column" and not o.success]
    problems = []
    if missing:
        columns = [c for c in header.collect_schema().names() if c not in LINEAGE]
        hint = ""
        if len(columns) == 1 and any(sep in columns[0] for sep in ";\t|"):
            hint = f"; the header is one column {columns[0][:80]!r}, so the file is not comma-delimited: write it with commas"
        advice = hint or "; add them (headers match case-insensitively after trimming)"
        problems.append(f"rule source.missing_column: missing required column(s) {missing}{advice}")
    if any(o.rule == "source.no_rows" and not o.success for o in outcomes):
        problems.append("rule source.no_rows: no data rows; export the source with its rows, or leave an optional source out")
    where = ", ".join(files) or location
    message = f"source {contract.name}: {where}: " + "; ".join(problems) if problems else "usable"
    return Verdict(not problems, message, {"expectations": [o.as_metadata() for o in outcomes]})


def judge_rows(outcomes: list, by_rule: dict[str, int]) -> Verdict:
    """The row suite: a report of every expectation, and the quarantined rows by rule."""
    return Verdict(
        all(o.success for o in outcomes), None, {"expectations": [o.as_metadata() for o in outcomes], "quarantined_by_rule": by_rule}
    )


def judge_quarantine_share(source: str, files: str, rejected: int, rows_in: int, max_share: float, by_rule: dict[str, int]) -> Verdict:
    """Above ``max_share`` the export is broken: the message names the most common rule and the fixes."""
    share = rejected / rows_in if rows_in else 0.0
    if share <= max_share:
        return Verdict(True, f"{share:.2%} of rows quarantined", {"share": share})
    top = sorted(by_rule.items(), key=lambda item: (-item[1], item[0]))[:1]
    message = (
        f"source {source}: {files}: rule source.quarantine_share: {rejected:,} of {rows_in:,} rows quarantined "
        f"({share:.0%}), above max_quarantine_share {max_share:.0%}"
        + (f"; most common rule {top[0][0]} ({top[0][1]:,} rows)" if top else "")
        + f"; see quarantine.{source} for each row's rules, fix the export, or raise --max-quarantine-share "
        "if that share is expected"
    )
    return Verdict(False, message, {"share": share})


def judge_references(warnings: dict[str, int]) -> Verdict:
    """Cross-source facts (``validation.referential_warnings``): worth knowing, never blocking."""
    return Verdict(not any(warnings.values()), None, dict(warnings))


def judge_reconciliation(credited_by_model: dict[str, int], models: list[str], total_cents: int, table: str = "touch_credit") -> Verdict:
    """Credit that does not sum to its deals' amount (the won total for touch_credit, every
    deal's for pipeline_credit) is a defect of the engine, never of the inputs: nothing is
    published, and the advice is to report it."""
    off = {name: credited_by_model.get(name, 0) - total_cents for name in models if credited_by_model.get(name, 0) != total_cents}
    total = "won_total" if table == "touch_credit" else "deal_total"
    details = {total: total_cents / 100, "difference_cents_by_model": off}
    if not off:
        return Verdict(True, None, details)
    differences = ", ".join(f"{model} {cents:+,} cents" for model, cents in sorted(off.items()))
    what = "credited revenue differs from the won total" if table == "touch_credit" else "credited pipeline differs from the deals' total"
    message = (
        f"rule {table}.reconciles: {what} {total_cents / 100:,.2f} ({differences}); "
        "nothing was published. This is a defect in the attribution engine, not in the inputs: report it with this "
        "message and the run id"
    )
    return Verdict(False, message, details)
