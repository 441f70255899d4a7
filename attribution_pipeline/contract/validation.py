"""great-expectations suites for the SPEC 1 contract, run inside Dagster asset checks.

Two suites per source:
- the **source suite** (whole-source rules: required columns present, at least
  one data row), run on the raw frame; a failure blocks everything downstream;
- the **row suite**, run on the judged frame (each column's trimmed text as
  ``<column>`` and its parsed value as ``<column>__parsed``). Each expectation
  names the contract rule it mirrors; GX counts the rows breaking it
  independently of the polars rules that route rows to quarantine, and the
  tests hold the two counts equal.

GX runs with an ephemeral context through its pandas data source (it has no
polars source, and its SQL engine does not run on DuckDB). It is imported
where a suite is built, not with this module: the import takes about 5 s, and
processes that validate nothing (a parallel backfill's month workers) skip it.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import multiprocessing
import sys
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from attribution_pipeline.contract.normalize import trimmed
from attribution_pipeline.contract.roles import (
    FX_NUM,
    ISO_4217,
    Boolean,
    Currency,
    CurrencyCode,
    Date,
    Implies,
    Money,
    NotBefore,
    RequiredWhen,
    Timestamp,
    WithinPartitions,
    plausible_bounds,
)
from attribution_pipeline.contract.rules import LINEAGE, SOURCE_ROW, SourceContract
from models.params import AttributionParams

SAMPLE_SIZE = 5
# At most 2 significant decimal places (trailing zeros are not rounding), >= 0.
MONEY_TEXT = r"^\+?(?:[0-9]+(?:\.[0-9]{0,2}0*)?|\.[0-9]{1,2}0*)$"
# Case-insensitive in ASCII only, spelled out: GX cannot take inline flags, and
# Unicode case folding would accept 'yeſ' where the contract does not.
BOOLEAN_TEXT = (
    "^(?:"
    + "|".join(
        "".join(f"[{c.upper()}{c}]" if c.isalpha() else c for c in word)
        for word in ("true", "false", "t", "f", "yes", "no", "y", "n", "1", "0")
    )
    + ")$"
)


@dataclass(frozen=True)
class Expectation:
    rule: str  # the contract rule this expectation mirrors
    gx_expectation: Any
    mirrors_quarantine: bool = True  # its unexpected rows are exactly the rows quarantined for `rule`


@dataclass
class Outcome:
    rule: str
    expectation: str
    column: str | None
    success: bool
    unexpected_count: int
    element_count: int
    sample: list = field(default_factory=list)

    def as_metadata(self) -> dict:
        return {
            "rule": self.rule,
            "expectation": self.expectation,
            "column": self.column,
            "success": self.success,
            "unexpected_count": self.unexpected_count,
            "sample": [str(value) for value in self.sample],
        }


def _present(column: str):
    from great_expectations.expectations.row_conditions import Column

    return Column(column).is_not_null()


def source_expectations(contract: SourceContract) -> list[Expectation]:
    """Whole-source rules (SPEC 2): every required column exists, and there is a data row."""
    import great_expectations.expectations as gxe

    return [Expectation("source.missing_column", gxe.ExpectColumnToExist(column=c)) for c in contract.required_columns] + [
        Expectation("source.no_rows", gxe.ExpectTableRowCountToBeBetween(min_value=1))
    ]


def row_expectations(contract: SourceContract, params: AttributionParams) -> list[Expectation]:
    """Row rules of SPEC 1 for one source, on the judged frame: from the same declaration
    as the polars rules (``roles.py``), one suite part per role and rule type."""
    import great_expectations.expectations as gxe

    expectations = [
        Expectation(f"{role.column}.required", gxe.ExpectColumnValuesToNotBeNull(column=role.column))
        for role in contract.roles
        if role.required
    ]
    if len(contract.key) == 1:
        expectations.append(
            Expectation(f"{contract.key[0]}.unique", gxe.ExpectColumnValuesToBeUnique(column=contract.key[0]), mirrors_quarantine=False)
        )
    elif contract.key:
        expectations.append(
            Expectation(
                f"{'+'.join(contract.key)}.unique",
                gxe.ExpectCompoundColumnsToBeUnique(column_list=list(contract.key)),
                mirrors_quarantine=False,
            )
        )
    for item in contract.declaration:
        suite = _SUITES.get(type(item))
        if suite is not None:
            expectations += suite(item, params)
    return expectations


def _parseable(column: str, rule: str) -> Expectation:
    import great_expectations.expectations as gxe

    return Expectation(f"{column}.{rule}", gxe.ExpectColumnValuesToNotBeNull(column=f"{column}__parsed", row_condition=_present(column)))


def _timestamp(role: Timestamp, params: AttributionParams) -> list[Expectation]:
    return [_parseable(role.column, "invalid_timestamp"), _plausible(role.column, params, date=False)]


def _date(role: Date, params: AttributionParams) -> list[Expectation]:
    return [_parseable(role.column, "invalid_date"), _plausible(role.column, params, date=True)]


def _money(role: Money, params: AttributionParams) -> list[Expectation]:
    import great_expectations.expectations as gxe

    return [
        Expectation(
            f"{role.column}.money", gxe.ExpectColumnValuesToMatchRegex(column=role.column, regex=MONEY_TEXT), mirrors_quarantine=False
        )
    ]


def _known_currency(role: Currency | CurrencyCode, params: AttributionParams) -> list[Expectation]:
    import great_expectations.expectations as gxe

    return [
        Expectation(f"{role.column}.invalid_currency", gxe.ExpectColumnValuesToBeInSet(column=f"{role.column}__parsed", value_set=ISO_4217))
    ]


def _currency(role: Currency, params: AttributionParams) -> list[Expectation]:
    import great_expectations.expectations as gxe
    from great_expectations.expectations.row_conditions import Column

    other = Column(f"{role.column}__parsed") != params.reporting_currency
    no_rate = gxe.ExpectColumnValuesToNotBeNull(column=FX_NUM, row_condition=other)
    return _known_currency(role, params) + [Expectation(f"{role.column}.no_rate", no_rate, mirrors_quarantine=False)]


def _boolean(role: Boolean, params: AttributionParams) -> list[Expectation]:
    import great_expectations.expectations as gxe

    return [Expectation(f"{role.column}.invalid_boolean", gxe.ExpectColumnValuesToMatchRegex(column=role.column, regex=BOOLEAN_TEXT))]


def _not_before(rule: NotBefore, params: AttributionParams) -> list[Expectation]:
    import great_expectations.expectations as gxe

    pair = gxe.ExpectColumnPairValuesAToBeGreaterThanB(
        column_A=f"{rule.later}__parsed", column_B=f"{rule.earlier}__parsed", or_equal=True, ignore_row_if="either_value_is_missing"
    )
    return [Expectation(rule.rule, pair)]


def _implies(rule: Implies, params: AttributionParams) -> list[Expectation]:
    import great_expectations.expectations as gxe

    pair = gxe.ExpectColumnPairValuesToBeInSet(
        column_A=f"{rule.column}__parsed",
        column_B=f"{rule.needs}__parsed",
        value_pairs_set=[(False, False), (False, True), (True, True)],
        ignore_row_if="either_value_is_missing",
    )
    return [Expectation(rule.rule, pair)]


def _required_when(rule: RequiredWhen, params: AttributionParams) -> list[Expectation]:
    import great_expectations.expectations as gxe
    from great_expectations.expectations.row_conditions import Column

    flagged = Column(f"{rule.flag}__parsed") == True  # noqa: E712 (builds a GX condition, not a truth test)
    return [Expectation(rule.rule, gxe.ExpectColumnValuesToNotBeNull(column=rule.column, row_condition=flagged))]


def _within_partitions(rule: WithinPartitions, params: AttributionParams) -> list[Expectation]:
    """A flagged row with a plausible value lies inside the close-month partitions."""
    import great_expectations.expectations as gxe
    from great_expectations.expectations.row_conditions import Column

    if params.close_months is None:
        return []
    start, end = params.close_months
    earliest, latest = plausible_bounds(params)
    value = Column(f"{rule.column}__parsed")
    plausible = (Column(f"{rule.flag}__parsed") == True) & (value >= earliest)  # noqa: E712
    if latest is not None:
        plausible = plausible & (value <= latest)
    between = gxe.ExpectColumnValuesToBeBetween(
        column=f"{rule.column}__parsed", min_value=start, max_value=end - dt.timedelta(microseconds=1), row_condition=plausible
    )
    return [Expectation(rule.rule, between)]


# The GX suite part of each role and rule type (roles without one, e.g. Text, need none).
_SUITES = {
    Timestamp: _timestamp,
    Date: _date,
    Money: _money,
    Currency: _currency,
    CurrencyCode: _known_currency,
    Boolean: _boolean,
    NotBefore: _not_before,
    Implies: _implies,
    RequiredWhen: _required_when,
    WithinPartitions: _within_partitions,
}


def _plausible(column: str, params: AttributionParams, date: bool) -> Expectation:
    """SPEC 1's plausible range of a timestamp or date column (contract.plausible_bounds)."""
    import great_expectations.expectations as gxe

    earliest, latest = plausible_bounds(params, date)
    if date:  # pandas holds a polars Date as a naive datetime64: compare at midnight
        earliest, latest = (dt.datetime.combine(day, dt.time()) if day else None for day in (earliest, latest))
    return Expectation(
        f"{column}.out_of_range", gxe.ExpectColumnValuesToBeBetween(column=f"{column}__parsed", min_value=earliest, max_value=latest)
    )


def _sample(frame, kwargs: dict, detail: dict) -> list[str]:
    """A few unexpected rows as ``row N: original text``: a parsed value (NaT, NaN)
    says nothing, the text the user wrote does."""
    indices = list(detail.get("partial_unexpected_index_list") or [])[:SAMPLE_SIZE]
    column = kwargs.get("column") or kwargs.get("column_A")
    if not indices or column is None:
        return [str(value) for value in list(detail.get("partial_unexpected_list") or [])[:SAMPLE_SIZE]]
    base = {"_fx_num": "currency"}.get(column, column.removesuffix("__parsed"))
    text_column = base if base in frame.columns else column
    rows = frame["source_row"] if "source_row" in frame.columns else None
    return [
        (f"row {rows.iloc[i]}: " if rows is not None else "") + repr(frame[text_column].iloc[i])
        for i in indices
        if isinstance(i, int) and i < len(frame)
    ]


@functools.cache
def _frames_source():
    """One ephemeral GX context and pandas data source per process: making them for
    every validation cost more than most validations (GX writes its config each time)."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context.data_sources.add_pandas("frames")


def _whole_frame(name: str):
    """The batch definition of one named suite's frames (made on first use)."""
    source = _frames_source()
    try:
        return source.get_asset(name).get_batch_definition("whole")
    except (LookupError, ValueError):
        return source.add_dataframe_asset(name).add_batch_definition_whole_dataframe("whole")


def _validate(name: str, frame: pl.DataFrame, expectations: list[Expectation]) -> list[Outcome]:
    import great_expectations as gx

    pandas_frame = frame.to_pandas()
    batch = _whole_frame(name).get_batch(batch_parameters={"dataframe": pandas_frame})
    for index, expectation in enumerate(expectations):  # built fresh per call, so tagging in place is safe
        expectation.gx_expectation.meta = {"index": index, "rule": expectation.rule}

    def results(chosen: list[Expectation], result_format: str) -> dict[int, object]:
        suite = gx.ExpectationSuite(name=name, expectations=[e.gx_expectation for e in chosen])
        found = batch.validate(suite, result_format={"result_format": result_format, "partial_unexpected_count": SAMPLE_SIZE})
        # GX does not return results in suite order: match them by the index in meta.
        return {item.expectation_config.meta["index"]: item for item in found.results}

    # Counts for every expectation (BASIC), then the unexpected rows' positions (SUMMARY,
    # for the samples) only for the few that failed: SUMMARY for all costs half again.
    items = results(expectations, "BASIC")
    failed = [expectations[index] for index, item in items.items() if not item.success and not _exception(item.exception_info)]
    if failed:
        items.update(results(failed, "SUMMARY"))
    outcomes = []
    for index in sorted(items):
        item, expectation = items[index], expectations[index]
        if error := _exception(item.exception_info):
            raise RuntimeError(f"great-expectations could not evaluate {expectation.rule} on {name}: {error}")
        kwargs = item.expectation_config.kwargs
        detail = item.result or {}
        outcomes.append(
            Outcome(
                rule=expectation.rule,
                expectation=item.expectation_config.type,
                column=kwargs.get("column")
                or kwargs.get("column_A")
                or (",".join(kwargs["column_list"]) if "column_list" in kwargs else None),
                success=bool(item.success),
                unexpected_count=int(detail.get("unexpected_count") or 0),
                element_count=int(detail.get("element_count") or 0),
                sample=_sample(pandas_frame, kwargs, detail),
            )
        )
    return outcomes


def _exception(info) -> str | None:
    """GX reports an expectation it could not evaluate in ``exception_info``, either
    directly or keyed by metric; never let that pass as a failed expectation."""
    if not isinstance(info, dict):
        return None
    if info.get("raised_exception") or info.get("exception_message"):
        return str(info.get("exception_message") or info)
    return next((found for value in info.values() if (found := _exception(value))), None)


def check_source(contract: SourceContract, raw: pl.DataFrame, rows: int | None = None) -> list[Outcome]:
    """The whole-source suite. Neither rule needs row values, so GX sees the header
    (for the columns) and a one-byte column as long as the source (for the row
    count): cheap at any scale. ``rows``: the source's row count when ``raw`` is only
    its header (what is sent to the validator process)."""
    expectations = source_expectations(contract)
    columns, count = expectations[:-1], expectations[-1:]
    header = raw.drop(LINEAGE, strict=False).head(0)
    row_marker = pl.DataFrame({"row": pl.repeat(0, raw.height if rows is None else rows, dtype=pl.Int8, eager=True)})
    return _validate(f"{contract.name}_columns", header, columns) + _validate(f"{contract.name}_row_count", row_marker, count)


def _referenced_columns(expectations: list[Expectation]) -> set[str]:
    columns = {"source_row"}
    for expectation in expectations:
        config = expectation.gx_expectation
        for attribute in ("column", "column_A", "column_B"):
            if getattr(config, attribute, None):
                columns.add(getattr(config, attribute))
        columns.update(getattr(config, "column_list", None) or [])
        condition = getattr(config, "row_condition", None)
        if condition is not None and hasattr(condition, "column"):
            columns.add(condition.column.name)
    return columns


def _is_key_rule(expectation: Expectation) -> bool:
    return expectation.rule.endswith(".unique")


def check_rows(contract: SourceContract, judged_view: pl.DataFrame, params: AttributionParams, keys: bool = True) -> list[Outcome]:
    """The row suite, on only the columns it reads (GX needs a pandas copy of them).
    ``keys=False`` leaves out key uniqueness, which a chunk of a source cannot
    judge: ``check_keys`` does it on the whole source."""
    expectations = [e for e in row_expectations(contract, params) if keys or not _is_key_rule(e)]
    if judged_view.height == 0:
        return _met_by_no_rows(expectations)
    needed = _referenced_columns(expectations)
    for column in list(needed):  # samples show the text behind a parsed column
        needed.add(column.removesuffix("__parsed"))
    needed.add("currency")
    frame = judged_view.select([c for c in judged_view.columns if c in needed])
    return _validate(f"{contract.name}_rows", frame, expectations)


def check_keys(contract: SourceContract, raw: pl.DataFrame, params: AttributionParams) -> list[Outcome]:
    """Key uniqueness over the whole source, on its trimmed key columns alone."""
    expectations = [e for e in row_expectations(contract, params) if _is_key_rule(e)]
    if not expectations:
        return []
    if raw.height == 0:
        return _met_by_no_rows(expectations)
    keys = [trimmed(c).alias(c) if c in raw.columns else pl.lit(None, pl.String).alias(c) for c in contract.key]
    return _validate(f"{contract.name}_keys", raw.select(*keys, pl.col(SOURCE_ROW).alias("source_row")), expectations)


def _met_by_no_rows(expectations: list[Expectation]) -> list[Outcome]:
    """Row expectations hold on a source with no rows (an optional source left out): said
    without asking GX, which would take longer than every real validation of a small run."""
    outcomes = []
    for expectation in expectations:
        config = expectation.gx_expectation
        columns = getattr(config, "column_list", None)
        column = getattr(config, "column", None) or getattr(config, "column_A", None) or (",".join(columns) if columns else None)
        outcomes.append(Outcome(expectation.rule, config.expectation_type, column, True, 0, 0))
    return outcomes


# -- where the suites run ------------------------------------------------------
# great-expectations takes seconds to import and its suites are pure Python: run in
# the step's own process they sit on the critical path. A validator process imports
# it once, beside the run (``attribution run`` starts it first thing, so the import
# overlaps Dagster's start), and evaluates the suites while the step stages the next
# chunk or the next source. A step submits a suite and collects the outcomes later.
_validator: ProcessPoolExecutor | None = None


def _warm_up() -> None:
    import great_expectations  # noqa: F401 (the import is the point)

    _frames_source()


def start_validator() -> None:
    """Start the validator process (idempotent) and have it import great-expectations now;
    not when this process has imported it already (a long-lived process, the tests): then
    evaluating here costs less than shipping the frames."""
    global _validator
    if _validator is None and "great_expectations" not in sys.modules:
        _validator = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        _validator.submit(_warm_up)


def stop_validator() -> None:
    """End the validator process (and release its queues, so multiprocessing's resource
    tracker has nothing to report at exit)."""
    global _validator
    if _validator is not None:
        pool, _validator = _validator, None
        pool.shutdown(wait=True, cancel_futures=True)


def submit(function, *args) -> Future:
    """``function(*args)`` in the validator process, else here (great-expectations already
    imported here, or the validator gone: killed, out of memory); a broken validator never
    fails a run on its own."""
    global _validator
    start_validator()
    if _validator is not None:
        try:
            return _validator.submit(function, *args)
        except BrokenProcessPool:
            _validator = None
    done: Future = Future()
    done.set_result(function(*args))
    return done


def collect(future: Future, function, *args):
    """The outcome of a submitted suite, evaluated here if the validator died meanwhile."""
    global _validator
    try:
        return future.result()
    except BrokenProcessPool:
        _validator = None
        return function(*args)


def merge_outcomes(chunks: list[list[Outcome]]) -> list[Outcome]:
    """One outcome per expectation from the same suite run on each chunk of a source."""
    merged = []
    for parts in zip(*chunks):
        first = parts[0]
        merged.append(
            Outcome(
                rule=first.rule,
                expectation=first.expectation,
                column=first.column,
                success=all(part.success for part in parts),
                unexpected_count=sum(part.unexpected_count for part in parts),
                element_count=sum(part.element_count for part in parts),
                sample=[value for part in parts for value in part.sample][:SAMPLE_SIZE],
            )
        )
    return merged


def referential_warnings(
    touches: pl.DataFrame | pl.LazyFrame,
    campaigns: pl.DataFrame,
    opportunities: pl.DataFrame,
    contacts: pl.DataFrame,
    journeys: pl.DataFrame,
    deals_in_scope: pl.DataFrame | None = None,
) -> dict[str, int]:
    """Cross-source facts that are worth knowing but never block (SPEC 1: an unknown
    campaign_id is kept and reported, never dropped). ``deals_in_scope``: the deals
    whose journeys were built (a range of months); default all opportunities."""
    scope = opportunities if deals_in_scope is None else deals_in_scope
    known_campaigns = campaigns.select("campaign_id")
    known_deals = opportunities.select("opportunity_id")
    matched_deals = journeys.select("opportunity_id").unique()
    return {
        "touch_campaign_ids_missing_from_campaigns": touches.lazy()
        .filter(pl.col("campaign_id").is_not_null())
        .join(known_campaigns.lazy(), on="campaign_id", how="anti")
        .select(pl.len())
        .collect()
        .item(),
        "contacts_of_unknown_deals": contacts.join(known_deals, on="opportunity_id", how="anti").height,
        "won_deals_without_touches": scope.filter(pl.col("is_won")).join(matched_deals, on="opportunity_id", how="anti").height,
        "touches_matching_no_deal": touches.lazy()
        .select("touch_id")
        .join(journeys.lazy().select("touch_id").unique(), on="touch_id", how="anti")
        .select(pl.len())
        .collect()
        .item(),
    }
