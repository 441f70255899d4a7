"""The SPEC 1 data contract: each source declared once, as its columns' roles and the
rules between them (``roles.py``), with its key and whether it may be absent.

``stage`` turns a raw frame (every column text, plus ``_source_file`` and
``_source_row``) into typed, normalized rows and quarantined rows. Every raw
row ends up in exactly one of the two, so rows in = passed + quarantined. The
great-expectations suites (``validation.py``) are built from the same declaration.
A new source is one ``SourceContract`` here plus its sample generator.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from attribution_pipeline.contract.normalize import trimmed
from attribution_pipeline.contract.roles import (
    CONVERSION_DATE,
    FX_DEN,
    FX_NUM,
    Boolean,
    Channel,
    Check,
    Currency,
    CurrencyCode,
    Date,
    Domain,
    Email,
    Implies,
    Money,
    NotBefore,
    Rate,
    RequiredWhen,
    Role,
    Rule,
    Text,
    Timestamp,
    WithinPartitions,
    parsed,
    text,
)
from models.params import AttributionParams

SOURCE_FILE = "_source_file"
SOURCE_ROW = "_source_row"
LINEAGE = [SOURCE_FILE, SOURCE_ROW]


@dataclass(frozen=True)
class SourceContract:
    """One source: ``declaration`` lists its columns (each with its role) in output order,
    with the rules between columns where they are judged; ``key`` is unique per row."""

    name: str
    declaration: tuple[Role | Rule, ...]
    key: tuple[str, ...] = ()
    optional: bool = False  # the source may be absent altogether

    @property
    def roles(self) -> tuple[Role, ...]:
        return tuple(item for item in self.declaration if isinstance(item, Role))

    @property
    def rules(self) -> tuple[Rule, ...]:
        return tuple(item for item in self.declaration if isinstance(item, Rule))

    @property
    def columns(self) -> tuple[str, ...]:
        """Every contract column, in output order."""
        return tuple(role.column for role in self.roles)

    @property
    def required_columns(self) -> tuple[str, ...]:
        """A file without one of these is unusable."""
        return tuple(role.column for role in self.roles if role.header_required)

    @property
    def currency(self) -> Currency | None:
        """The role whose rate converts the source's money, if it has money."""
        return next((role for role in self.roles if isinstance(role, Currency)), None)

    def build(self, params: AttributionParams) -> tuple[dict[str, pl.Expr], list[Check]]:
        """The staged columns (name -> expression over the trimmed texts) and the row
        rules, in the order of the declaration."""
        values: dict[str, pl.Expr] = {}
        for role in self.roles:
            values.update(role.parse(params))
        return values, [check for item in self.declaration for check in item.checks(params, values)]


LEAD_TIMES = ("created_at", "mql_at", "sql_at", "first_sales_activity_at", "disqualified_at")
# Funnel stages in order: a stage time before an earlier stage's is a quarantine rule.
LEAD_STAGE_ORDER = (("mql_at", "created_at"), ("sql_at", "mql_at"), ("sql_at", "created_at"))


# Rate dates are module functions, not lambdas: a contract is pickled to the validator process.
def _start_date(params: AttributionParams) -> pl.Expr:
    return parsed("start_date")


def _open_deal_rate_date(params: AttributionParams) -> pl.Expr:
    """A closed deal converts at its close date, an open one at the as-of date (none: the latest rate)."""
    as_of = pl.lit(params.as_of.date() if params.as_of else None, pl.Date)
    return pl.when(parsed("is_closed")).then(parsed("closed_at").dt.date()).otherwise(as_of)


CONTRACTS: dict[str, SourceContract] = {
    contract.name: contract
    for contract in (
        SourceContract(
            "touches",
            (
                Text("touch_id", required=True),
                Timestamp("occurred_at", required=True),
                Email("email"),
                Domain("account_domain", from_email="email"),
                Channel("channel"),
                Text("campaign_id"),
                *(Text(f"utm_{part}") for part in ("source", "medium", "campaign", "content", "term")),
                Text("touch_type"),
                Text("anonymous_id"),  # a cookie or device id: stitched to an e-mail (models/identity.py)
            ),
            key=("touch_id",),
        ),
        SourceContract(
            "campaigns",
            (
                Text("campaign_id", required=True),
                Text("campaign_name", required=True),
                Text("channel", required=True, lowercase=True),
                Date("start_date", required=True),
                Date("end_date"),
                NotBefore("end_date", "start_date", rule="end_date.before_start"),
                Money("cost"),
                Currency("currency", converts=("cost_cents",), rate_date=_start_date, rate_date_doc="start_date"),
            ),
            key=("campaign_id",),
        ),
        SourceContract(
            "opportunities",
            (
                Text("opportunity_id", required=True),
                Domain("account_domain", required=True, strict=True),
                Timestamp("created_at", required=True),
                Timestamp("closed_at", in_header=True, end_of_day=True),
                Text("stage", required=True),
                Boolean("is_closed", required=True),
                Boolean("is_won", required=True),
                Implies("is_won", "is_closed", rule="is_won.won_not_closed"),
                RequiredWhen("closed_at", "is_closed"),
                NotBefore("closed_at", "created_at", rule="closed_at.before_created"),
                WithinPartitions("closed_at", "is_closed"),
                Money("amount", required=True),
                Currency(
                    "currency",
                    converts=("amount_cents",),
                    rate_date=_open_deal_rate_date,
                    rate_date_doc="closed_at, or the as-of time for an open deal",
                ),
            ),
            key=("opportunity_id",),
        ),
        SourceContract(
            "opportunity_contacts",
            (Text("opportunity_id", required=True), Email("email", required=True), Text("role")),
            optional=True,
        ),
        SourceContract(
            "identities",  # links from elsewhere (a CDP's identify calls, a CRM form log)
            (Text("anonymous_id", required=True), Email("email", required=True), Timestamp("identified_at", required=True)),
            optional=True,
        ),
        SourceContract(
            "fx_rates",
            (CurrencyCode("currency", required=True), Date("rate_date", required=True), Rate("rate_to_reporting", required=True)),
            key=("currency", "rate_date"),
            optional=True,
        ),
        SourceContract(
            "leads",
            (
                Text("lead_id", required=True),
                Email("email"),
                Domain("account_domain"),
                *(Timestamp(column, required=column == "created_at") for column in LEAD_TIMES),
                Text("owner"),
                Text("converted_opportunity_id"),
                *(NotBefore(later, earlier, rule=f"{later}.before_{earlier}") for later, earlier in LEAD_STAGE_ORDER),
            ),
            key=("lead_id",),
            optional=True,
        ),
        SourceContract(
            "opportunity_stage_history",
            (
                Text("opportunity_id", required=True),
                Text("stage", required=True, lowercase=True),
                Timestamp("entered_at", required=True),
            ),
            key=("opportunity_id", "stage", "entered_at"),
            optional=True,
        ),
    )
}


@dataclass(frozen=True)
class Staged:
    valid: pl.DataFrame
    quarantine: pl.DataFrame
    judged: pl.DataFrame  # every row: trimmed text, parsed values and the rules it broke (for validation reports)

    def judged_view(self) -> pl.DataFrame:
        """Columns named ``<column>`` (trimmed text) and ``<column>__parsed``, plus ``rules``."""
        texts = [pl.col(c).alias(c[3:]) for c in self.judged.columns if c.startswith("_t_")]
        parsed = [pl.col(c).alias(f"{c[3:]}__parsed") for c in self.judged.columns if c.startswith("_p_")]
        extra = [pl.col(c) for c in ("_fx_num",) if c in self.judged.columns]
        return self.judged.select(*texts, *parsed, *extra, pl.col("_rules").alias("rules"), pl.col(SOURCE_ROW).alias("source_row"))


QUARANTINE_COLUMNS = ["source", "rule", "rules", "message", "source_file", "source_row", "raw_values"]


_COPIES, _VARIANTS, _FIRST = "_copies", "_variants", "_first_copy"


def duplicate_stats(contract: SourceContract, raw: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame | None:
    """For the rows whose key repeats anywhere in the source (few, usually):
    how many rows share the key, how many distinct versions they have, and
    whether the row is the first copy. Computed once over the whole source, so
    the source can then be staged in chunks. One hash pass over the key columns
    alone finds the repeats; only their rows are read whole (``raw`` may be a scan
    of the landing files, never held in memory at once)."""
    if not contract.key:
        return None
    raw = raw.lazy()
    columns = raw.collect_schema().names()
    value_columns = [c for c in columns if c not in LINEAGE]
    keys = [f"_t_{column}" for column in contract.key]
    key_texts = {key: trimmed(column) if column in columns else pl.lit(None, pl.String) for key, column in zip(keys, contract.key)}
    repeated = (pl.col(keys[0]) if len(keys) == 1 else pl.struct(keys)).is_duplicated()
    repeats = raw.select(*LINEAGE, **key_texts).filter(repeated).select(LINEAGE).collect()
    # The repeated rows whole, streamed from the scan (none: an empty frame of its columns).
    subset = raw.join(repeats.lazy(), on=LINEAGE, how="semi").collect(engine="streaming") if repeats.height else raw.head(0).collect()
    return (
        subset.lazy()
        .with_columns(**key_texts)
        .sort(LINEAGE)
        .select(
            *LINEAGE,
            pl.len().over(keys).alias(_COPIES),
            pl.struct([trimmed(c) for c in value_columns]).n_unique().over(keys).alias(_VARIANTS),
            (pl.int_range(pl.len()).over(keys) == 0).alias(_FIRST),
        )
        .collect()
    )


def _with_duplicate_columns(frame: pl.LazyFrame, stats: pl.DataFrame | None) -> pl.LazyFrame:
    """The ``duplicate_stats`` columns on every row (a key seen once: 1 copy, 1 version, first)."""
    if stats is None:
        return frame
    return frame.join(stats.lazy(), on=LINEAGE, how="left", maintain_order="left").with_columns(
        pl.col(_COPIES).fill_null(1), pl.col(_VARIANTS).fill_null(1), pl.col(_FIRST).fill_null(True)
    )


def _duplicate_checks(key: tuple[str, ...]) -> list[Check]:
    """SPEC 2: every row of a duplicated key is quarantined, unless the copies
    are identical in every column: then the first is kept, the rest rejected."""
    if not key:
        return []
    keys = [text(column) for column in key]
    has_key = pl.all_horizontal(k.is_not_null() for k in keys)
    copies, variants = pl.col(_COPIES), pl.col(_VARIANTS)
    key_text = pl.concat_str(keys, separator="|")
    return [
        Check(
            f"{'+'.join(key)}.duplicate_key",
            has_key & (copies > 1) & (variants > 1),
            pl.concat_str(
                pl.lit(f"{'+'.join(key)} '"),
                key_text,
                pl.lit("' appears "),
                copies.cast(pl.String),
                pl.lit(" times with different values"),
            ),
        ),
        Check(
            f"{'+'.join(key)}.duplicate_row",
            has_key & (copies > 1) & (variants == 1) & ~pl.col(_FIRST),
            pl.concat_str(pl.lit(f"identical copy of an earlier row with {'+'.join(key)} '"), key_text, pl.lit("'")),
        ),
    ]


def _attach_rates(frame: pl.LazyFrame, conversion_date: pl.Expr, fx_rates: pl.DataFrame | None, params: AttributionParams) -> pl.LazyFrame:
    """Adds the exact rate (num / den) of the latest rate_date on or before each row's
    conversion date: 1/1 in the reporting currency, null when no rate is usable.
    A null conversion date (an open deal without an explicit as-of) takes the latest rate."""
    frame = frame.with_columns(conversion_date.alias(CONVERSION_DATE))
    rates = (
        fx_rates.select("currency", "rate_date", "rate_num", "rate_den")
        if fx_rates is not None and fx_rates.height
        else pl.DataFrame(schema={"currency": pl.String, "rate_date": pl.Date, "rate_num": pl.Int64, "rate_den": pl.Int64})
    ).lazy()
    lookup = pl.col(CONVERSION_DATE).fill_null(pl.date(9999, 12, 31)).alias("_lookup_date")
    joined = (
        frame.with_columns(lookup)
        .sort("_lookup_date")
        .join_asof(
            rates.sort("rate_date"),
            left_on="_lookup_date",
            right_on="rate_date",
            by_left="_p_currency",
            by_right="currency",
            strategy="backward",
            check_sortedness=False,
        )
        .sort(LINEAGE)
    )
    same = parsed("currency") == params.reporting_currency
    return joined.with_columns(
        pl.when(same).then(pl.lit(1, pl.Int64)).otherwise(pl.col("rate_num")).alias(FX_NUM),
        pl.when(same).then(pl.lit(1, pl.Int64)).otherwise(pl.col("rate_den")).alias(FX_DEN),
    ).drop("_lookup_date", "rate_date", "rate_num", "rate_den", strict=False)


def _converted(cents: str) -> pl.Expr:
    """cents * num / den rounded half up to whole cents, in 128-bit integers."""
    scaled = pl.col(cents).cast(pl.Int128) * pl.col(FX_NUM).cast(pl.Int128) * 2 + pl.col(FX_DEN).cast(pl.Int128)
    return (scaled // (pl.col(FX_DEN).cast(pl.Int128) * 2)).cast(pl.Int64).alias(cents)


def stage(
    contract: SourceContract,
    raw: pl.DataFrame,
    params: AttributionParams,
    fx_rates: pl.DataFrame | None = None,
    duplicates: pl.DataFrame | None = None,
) -> Staged:
    """Splits raw rows into staged (typed, normalized, converted) and quarantined rows.

    One lazy query, so polars parses each value once: a rule's parse and its
    check share one expression (common subexpressions are computed once), each
    rule's verdict is a boolean column read by both the rule id and the rules
    list, and the messages are built for the rejected rows only.

    ``raw`` may be a chunk of the source: pass ``duplicates`` (``duplicate_stats``
    of the whole source) so that keys repeated across chunks are seen."""
    value_columns = [c for c in raw.columns if c not in LINEAGE]
    texts = {f"_t_{c}": trimmed(c) for c in value_columns}
    texts.update({f"_t_{c}": pl.lit(None, pl.String) for c in contract.columns if c not in value_columns})
    columns, checks = contract.build(params)
    checks = _duplicate_checks(contract.key) + checks
    parsed = {f"_p_{name}": expr for name, expr in columns.items()}
    verdicts = {f"_broken_{index}": check.broken.fill_null(False) for index, check in enumerate(checks)}
    if duplicates is None:
        duplicates = duplicate_stats(contract, raw)
    frame = _with_duplicate_columns(raw.lazy().sort(LINEAGE).with_columns(**texts), duplicates)
    money: tuple[str, ...] = ()
    if contract.currency is not None:  # converted money: the fx checks need the rates attached first
        money = contract.currency.converts
        frame = _attach_rates(frame.with_columns(**parsed), contract.currency.rate_date(params), fx_rates, params).with_columns(**verdicts)
    else:
        frame = frame.with_columns(**parsed, **verdicts)
    rule_ids = [pl.when(pl.col(flag)).then(pl.lit(check.rule)) for flag, check in zip(verdicts, checks)]
    judged = frame.with_columns(
        _rule=pl.coalesce(rule_ids) if rule_ids else pl.lit(None, pl.String),
        _rules=pl.concat_str(rule_ids, separator=",", ignore_nulls=True) if rule_ids else pl.lit(None, pl.String),
    ).collect(engine="streaming")
    valid = judged.filter(pl.col("_rule").is_null())
    if money:
        valid = valid.with_columns(_converted(f"_p_{column}") for column in money)
    valid = valid.select(*(pl.col(f"_p_{name}").alias(name) for name in columns), *LINEAGE)
    messages = [pl.when(pl.col(flag)).then(check.message) for flag, check in zip(verdicts, checks)]
    rejected = judged.filter(pl.col("_rule").is_not_null()).select(
        source=pl.lit(contract.name),
        rule="_rule",
        rules="_rules",
        message=pl.concat_str(messages, separator="; ", ignore_nulls=True) if messages else pl.lit(None, pl.String),
        source_file=SOURCE_FILE,
        source_row=SOURCE_ROW,
        raw_values=pl.struct(value_columns).struct.json_encode() if value_columns else pl.lit("{}"),
    )
    # What validation reads: texts, parsed values, rules (the raw columns and verdicts are done with).
    judged = judged.select(pl.col(r"^_t_.*$"), pl.col(r"^_p_.*$"), *[c for c in (FX_NUM,) if c in judged.columns], "_rules", SOURCE_ROW)
    return Staged(valid=valid, quarantine=rejected, judged=judged)
