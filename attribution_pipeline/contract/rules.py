"""The SPEC 1 data contract: each source's columns, key and row rules.

``stage`` turns a raw frame (every column text, plus ``_source_file`` and
``_source_row``) into typed, normalized rows and quarantined rows. Every raw
row ends up in exactly one of the two, so rows in = passed + quarantined.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl
import pycountry

from attribution_pipeline.contract.normalize import (
    channel_from_utms,
    email_domain,
    normalize_domain,
    normalize_email,
    parse_boolean,
    parse_money,
    parse_timestamp,
    trimmed,
)
from models.params import AttributionParams

SOURCE_FILE = "_source_file"
SOURCE_ROW = "_source_row"
LINEAGE = [SOURCE_FILE, SOURCE_ROW]


@dataclass(frozen=True)
class Check:
    """A row rule: ``broken`` is true for rows that break it (null counts as kept)."""

    rule: str
    broken: pl.Expr
    message: pl.Expr


@dataclass(frozen=True)
class SourceContract:
    name: str
    columns: tuple[str, ...]  # every contract column, in output order
    required_columns: tuple[str, ...]  # a file without one of these is unusable
    key: tuple[str, ...] = ()
    optional: bool = False  # the source may be absent altogether
    build: Callable[[AttributionParams], tuple[dict[str, pl.Expr], list[Check]]] = field(default=lambda params: ({}, []))

    parsed_columns: tuple[str, ...] = ()


def _text(column: str) -> pl.Expr:
    return pl.col(f"_t_{column}")


def _quoted(column: str) -> pl.Expr:
    return pl.concat_str(pl.lit("'"), _text(column), pl.lit("'"))


def _required(column: str) -> Check:
    return Check(f"{column}.required", _text(column).is_null(), pl.lit(f"{column} is required but empty"))


def _unparseable(column: str, parsed: pl.Expr, rule: str, what: str) -> Check:
    return Check(
        f"{column}.{rule}",
        _text(column).is_not_null() & parsed.is_null(),
        pl.concat_str(pl.lit(f"{column} "), _quoted(column), pl.lit(f" is not {what}")),
    )


def _timestamp_checks(column: str, parsed: pl.Expr, params: AttributionParams) -> list[Check]:
    return [_unparseable(column, parsed, "invalid_timestamp", "an ISO-8601 timestamp or date"), _plausible(column, parsed, params)]


def _date_checks(column: str, parsed: pl.Expr, params: AttributionParams) -> list[Check]:
    return [_unparseable(column, parsed, "invalid_date", "an ISO-8601 date"), _plausible(column, parsed, params, date=True)]


def plausible_bounds(params: AttributionParams, date: bool = False) -> tuple:
    """[earliest, latest] of SPEC 1's plausible range, as datetimes (or dates); latest None: unbounded."""
    earliest, latest = params.earliest_valid, params.latest_valid
    return (earliest.date(), latest.date() if latest else None) if date else (earliest, latest)


def _plausible(column: str, parsed: pl.Expr, params: AttributionParams, date: bool = False) -> Check:
    """SPEC 1: a value before the earliest date or after the run's time plus the
    tolerance is implausible (a mistyped year), so no single row moves the as-of."""
    earliest, latest = plausible_bounds(params, date)
    dtype = pl.Date if date else pl.Datetime("us", "UTC")
    early = parsed < pl.lit(earliest, dtype)
    late = parsed > pl.lit(latest, dtype) if latest is not None else pl.lit(False)
    shown = (lambda value: value.isoformat()) if date else (lambda value: value.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    reason = pl.when(early).then(
        pl.lit(f" is before the earliest plausible {'date' if date else 'time'} {shown(earliest)} (--earliest-date)")
    )
    if latest is not None:
        reason = reason.otherwise(
            pl.lit(
                f" is after the latest plausible {'date' if date else 'time'} {shown(latest)}: the run's start plus "
                "--future-tolerance-days (fix the value at the source, or raise the tolerance if such dates are real)"
            )
        )
    return Check(f"{column}.out_of_range", early | late, pl.concat_str(pl.lit(f"{column} "), _quoted(column), reason))


def _within_partitions(params: AttributionParams, closed: pl.Expr, is_closed: pl.Expr) -> list[Check]:
    """A closed deal converts at closed_at: outside the close-month partitions it would
    never be credited, so it is quarantined with advice that works (the partition start).
    A value outside the plausible range is reported once, as closed_at.out_of_range."""
    if params.close_months is None:
        return []
    start, end = params.close_months
    earliest, latest = plausible_bounds(params)
    utc = pl.Datetime("us", "UTC")
    plausible = (closed >= pl.lit(earliest, utc)) & (closed <= pl.lit(latest, utc) if latest else pl.lit(True))
    before = closed < pl.lit(start, utc)
    after = closed >= pl.lit(end, utc)
    reason = (
        pl.when(before)
        .then(
            pl.lit(
                f" is before the first close-month partition {start:%Y-%m}: set ATTRIBUTION_PARTITION_START to "
                "that month or earlier to credit this deal"
            )
        )
        .otherwise(pl.lit(f" is after the last close-month partition {end - dt.timedelta(days=1):%Y-%m}: it lies in the future"))
    )
    return [
        Check(
            "closed_at.outside_partitions",
            is_closed & plausible & (before | after),
            pl.concat_str(pl.lit("closed_at "), _quoted("closed_at"), reason),
        )
    ]


def _money_checks(column: str, problem: pl.Expr) -> list[Check]:
    return [
        Check(
            f"{column}.{rule}",
            problem == rule,
            pl.concat_str(pl.lit(f"{column} "), _quoted(column), pl.lit(f" {text}")),
        )
        for rule, text in (
            ("negative_money", "is negative; money must be >= 0"),
            ("invalid_money", "is not a decimal amount"),
            ("too_many_decimals", "has more than 2 decimal places (never rounded)"),
            ("money_out_of_range", "is too large"),
        )
    ]


def _boolean(column: str) -> tuple[pl.Expr, list[Check]]:
    parsed = parse_boolean(_text(column))
    return parsed, [_required(column), _unparseable(column, parsed, "invalid_boolean", "a boolean (true/false, t/f, yes/no, y/n, 1/0)")]


ISO_4217 = sorted(currency.alpha_3 for currency in pycountry.currencies)
_FX_NUM, _FX_DEN, _CONVERSION_DATE = "_fx_num", "_fx_den", "_conversion_date"


def _currency(params: AttributionParams, date_column: str) -> tuple[pl.Expr, list[Check]]:
    """ISO 4217 code (default: the reporting currency) and, for another currency,
    a usable fx rate on or before the row's conversion date (attached by ``stage``)."""
    code = _text("currency").str.to_uppercase().fill_null(pl.lit(params.reporting_currency))
    known = code.is_in(ISO_4217)
    checks = [
        Check(
            "currency.invalid_currency",
            ~known,
            pl.concat_str(pl.lit("currency "), _quoted("currency"), pl.lit(" is not an ISO 4217 code")),
        ),
        Check(
            "currency.no_rate",
            known & (code != params.reporting_currency) & pl.col(_FX_NUM).is_null(),
            pl.concat_str(
                pl.lit("no fx rate for "),
                code,
                pl.lit(f" to {params.reporting_currency} on or before "),
                pl.col(_CONVERSION_DATE).cast(pl.String).fill_null(pl.lit("the latest rate date")),
                pl.lit(f" ({date_column}) in fx_rates"),
            ),
        ),
    ]
    return code, checks


def _touches(params: AttributionParams) -> tuple[dict[str, pl.Expr], list[Check]]:
    occurred = parse_timestamp(_text("occurred_at")).value
    email = normalize_email(_text("email"))
    given_domain = normalize_domain(_text("account_domain"))
    derived = email_domain(email)
    derived = pl.when(~derived.is_in(sorted(params.freemail_domains))).then(derived)
    channel = _text("channel").str.to_lowercase()
    columns = {
        "touch_id": _text("touch_id"),
        "occurred_at": occurred,
        "email": email,
        "account_domain": pl.coalesce(given_domain, derived),
        "domain_is_given": given_domain.is_not_null(),
        "channel": pl.coalesce(channel, channel_from_utms(_text("utm_source"), _text("utm_medium"))),
        "campaign_id": _text("campaign_id"),
        "utm_source": _text("utm_source"),
        "utm_medium": _text("utm_medium"),
        "utm_campaign": _text("utm_campaign"),
        "utm_content": _text("utm_content"),
        "utm_term": _text("utm_term"),
        "touch_type": _text("touch_type"),
    }
    checks = [_required("touch_id"), _required("occurred_at"), *_timestamp_checks("occurred_at", occurred, params)]
    return columns, checks


def _campaigns(params: AttributionParams) -> tuple[dict[str, pl.Expr], list[Check]]:
    start = parse_timestamp(_text("start_date")).value.dt.date()
    end = parse_timestamp(_text("end_date")).value.dt.date()
    cost = parse_money(_text("cost"))
    currency, currency_checks = _currency(params, "start_date")
    columns = {
        "campaign_id": _text("campaign_id"),
        "campaign_name": _text("campaign_name"),
        "channel": _text("channel").str.to_lowercase(),
        "start_date": start,
        "end_date": end,
        "cost_cents": cost.cents,
        "currency": currency,
    }
    checks = [
        _required("campaign_id"),
        _required("campaign_name"),
        _required("channel"),
        _required("start_date"),
        *_date_checks("start_date", start, params),
        *_date_checks("end_date", end, params),
        Check("end_date.before_start", end < start, pl.lit("end_date is before start_date")),
        *_money_checks("cost", cost.problem),
        *currency_checks,
    ]
    return columns, checks


def _opportunities(params: AttributionParams) -> tuple[dict[str, pl.Expr], list[Check]]:
    created = parse_timestamp(_text("created_at")).value
    closed = parse_timestamp(_text("closed_at"), end_of_day=True).value
    domain = normalize_domain(_text("account_domain"))
    is_closed, closed_checks = _boolean("is_closed")
    is_won, won_checks = _boolean("is_won")
    amount = parse_money(_text("amount"))
    currency, currency_checks = _currency(params, "closed_at, or the as-of time for an open deal")
    columns = {
        "opportunity_id": _text("opportunity_id"),
        "account_domain": domain,
        "created_at": created,
        "closed_at": closed,
        "stage": _text("stage"),
        "is_closed": is_closed,
        "is_won": is_won,
        "amount_cents": amount.cents,
        "currency": currency,
    }
    checks = [
        _required("opportunity_id"),
        _required("account_domain"),
        Check(
            "account_domain.invalid_domain",
            _text("account_domain").is_not_null() & domain.is_null(),
            pl.concat_str(pl.lit("account_domain "), _quoted("account_domain"), pl.lit(" has no domain left after normalization")),
        ),
        _required("created_at"),
        *_timestamp_checks("created_at", created, params),
        *_timestamp_checks("closed_at", closed, params),
        _required("stage"),
        *closed_checks,
        *won_checks,
        Check("is_won.won_not_closed", is_won & ~is_closed, pl.lit("is_won is true but is_closed is false")),
        Check(
            "closed_at.required_when_closed",
            is_closed & _text("closed_at").is_null(),
            pl.lit("closed_at is required when is_closed is true"),
        ),
        Check("closed_at.before_created", closed < created, pl.lit("closed_at is before created_at")),
        *_within_partitions(params, closed, is_closed),
        _required("amount"),
        *_money_checks("amount", amount.problem),
        *currency_checks,
    ]
    return columns, checks


def _contacts(params: AttributionParams) -> tuple[dict[str, pl.Expr], list[Check]]:
    columns = {
        "opportunity_id": _text("opportunity_id"),
        "email": normalize_email(_text("email")),
        "role": _text("role"),
    }
    return columns, [_required("opportunity_id"), _required("email")]


LEAD_TIMES = ("created_at", "mql_at", "sql_at", "first_sales_activity_at", "disqualified_at")
# Funnel stages in order: a stage time before an earlier stage's is a quarantine rule.
LEAD_STAGE_ORDER = (("mql_at", "created_at"), ("sql_at", "mql_at"), ("sql_at", "created_at"))


def _leads(params: AttributionParams) -> tuple[dict[str, pl.Expr], list[Check]]:
    times = {column: parse_timestamp(_text(column)).value for column in LEAD_TIMES}
    email = normalize_email(_text("email"))
    columns = {
        "lead_id": _text("lead_id"),
        "email": email,
        "account_domain": normalize_domain(_text("account_domain")),
        **times,
        "owner": _text("owner"),
        "converted_opportunity_id": _text("converted_opportunity_id"),
    }
    checks = [_required("lead_id"), _required("created_at")]
    checks += [check for column in LEAD_TIMES for check in _timestamp_checks(column, times[column], params)]
    checks += [
        Check(f"{later}.before_{earlier}", times[later] < times[earlier], pl.lit(f"{later} is before {earlier}"))
        for later, earlier in LEAD_STAGE_ORDER
    ]
    return columns, checks


def _stage_history(params: AttributionParams) -> tuple[dict[str, pl.Expr], list[Check]]:
    entered = parse_timestamp(_text("entered_at")).value
    columns = {"opportunity_id": _text("opportunity_id"), "stage": _text("stage").str.to_lowercase(), "entered_at": entered}
    checks = [_required("opportunity_id"), _required("stage"), _required("entered_at"), *_timestamp_checks("entered_at", entered, params)]
    return columns, checks


# A positive decimal rate, kept exact as num / 10**places.
_RATE = r"^\+?(?P<units>[0-9]*)(?:\.(?P<places>[0-9]{0,12}))?$"


def _fx_rates(params: AttributionParams) -> tuple[dict[str, pl.Expr], list[Check]]:
    rate_date = parse_timestamp(_text("rate_date")).value.dt.date()
    parts = _text("rate_to_reporting").str.extract_groups(_RATE)
    units, places = parts.struct.field("units"), parts.struct.field("places").fill_null("")
    digits = pl.concat_str(units.fill_null(""), places)
    rate_num = digits.cast(pl.Int64, strict=False)
    well_formed = units.is_not_null() & (digits.str.len_bytes().is_between(1, 18))
    currency = _text("currency").str.to_uppercase()
    columns = {
        "currency": currency,
        "rate_date": rate_date,
        "rate_to_reporting": _text("rate_to_reporting"),
        "rate_num": pl.when(well_formed).then(rate_num),
        "rate_den": pl.when(well_formed).then(pl.lit(10, pl.Int64).pow(places.str.len_bytes())),
    }
    checks = [
        _required("currency"),
        Check(
            "currency.invalid_currency",
            currency.is_not_null() & ~currency.is_in(ISO_4217),
            pl.concat_str(pl.lit("currency "), _quoted("currency"), pl.lit(" is not an ISO 4217 code")),
        ),
        _required("rate_date"),
        *_date_checks("rate_date", rate_date, params),
        _required("rate_to_reporting"),
        Check(
            "rate_to_reporting.invalid_rate",
            _text("rate_to_reporting").is_not_null() & ~(well_formed & (rate_num > 0)).fill_null(False),
            pl.concat_str(
                pl.lit("rate_to_reporting "),
                _quoted("rate_to_reporting"),
                pl.lit(" is not a positive decimal with at most 12 places and 18 digits"),
            ),
        ),
    ]
    return columns, checks


def _contract(name, columns, required, key, build, optional=False) -> SourceContract:
    sample, _ = build(AttributionParams())
    return SourceContract(
        name=name,
        columns=tuple(columns),
        required_columns=tuple(required),
        key=tuple(key),
        optional=optional,
        build=build,
        parsed_columns=tuple(sample),
    )


CONTRACTS: dict[str, SourceContract] = {
    contract.name: contract
    for contract in (
        _contract(
            "touches",
            [
                "touch_id",
                "occurred_at",
                "email",
                "account_domain",
                "channel",
                "campaign_id",
                "utm_source",
                "utm_medium",
                "utm_campaign",
                "utm_content",
                "utm_term",
                "touch_type",
            ],
            ["touch_id", "occurred_at"],
            ["touch_id"],
            _touches,
        ),
        _contract(
            "campaigns",
            ["campaign_id", "campaign_name", "channel", "start_date", "end_date", "cost", "currency"],
            ["campaign_id", "campaign_name", "channel", "start_date"],
            ["campaign_id"],
            _campaigns,
        ),
        _contract(
            "opportunities",
            ["opportunity_id", "account_domain", "created_at", "closed_at", "stage", "is_closed", "is_won", "amount", "currency"],
            ["opportunity_id", "account_domain", "created_at", "closed_at", "stage", "is_closed", "is_won", "amount"],
            ["opportunity_id"],
            _opportunities,
        ),
        _contract(
            "opportunity_contacts",
            ["opportunity_id", "email", "role"],
            ["opportunity_id", "email"],
            [],
            _contacts,
            optional=True,
        ),
        _contract(
            "fx_rates",
            ["currency", "rate_date", "rate_to_reporting"],
            ["currency", "rate_date", "rate_to_reporting"],
            ["currency", "rate_date"],
            _fx_rates,
            optional=True,
        ),
        _contract(
            "leads",
            ["lead_id", "email", "account_domain", *LEAD_TIMES, "owner", "converted_opportunity_id"],
            ["lead_id", "created_at"],
            ["lead_id"],
            _leads,
            optional=True,
        ),
        _contract(
            "opportunity_stage_history",
            ["opportunity_id", "stage", "entered_at"],
            ["opportunity_id", "stage", "entered_at"],
            ["opportunity_id", "stage", "entered_at"],
            _stage_history,
            optional=True,
        ),
    )
}

# Sources whose money is converted to the reporting currency: the money columns
# and the date whose rate applies (SPEC 1: the latest rate_date on or before it).
CONVERTED_MONEY: dict[str, tuple[tuple[str, ...], Callable[[AttributionParams], pl.Expr]]] = {
    "opportunities": (
        ("amount_cents",),
        lambda params: (
            pl.when(pl.col("_p_is_closed"))
            .then(pl.col("_p_closed_at").dt.date())
            .otherwise(pl.lit(params.as_of.date() if params.as_of else None, pl.Date))
        ),
    ),
    "campaigns": (("cost_cents",), lambda params: pl.col("_p_start_date")),
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
    keys = [_text(column) for column in key]
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
    frame = frame.with_columns(conversion_date.alias(_CONVERSION_DATE))
    rates = (
        fx_rates.select("currency", "rate_date", "rate_num", "rate_den")
        if fx_rates is not None and fx_rates.height
        else pl.DataFrame(schema={"currency": pl.String, "rate_date": pl.Date, "rate_num": pl.Int64, "rate_den": pl.Int64})
    ).lazy()
    lookup = pl.col(_CONVERSION_DATE).fill_null(pl.date(9999, 12, 31)).alias("_lookup_date")
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
    same = pl.col("_p_currency") == params.reporting_currency
    return joined.with_columns(
        pl.when(same).then(pl.lit(1, pl.Int64)).otherwise(pl.col("rate_num")).alias(_FX_NUM),
        pl.when(same).then(pl.lit(1, pl.Int64)).otherwise(pl.col("rate_den")).alias(_FX_DEN),
    ).drop("_lookup_date", "rate_date", "rate_num", "rate_den", strict=False)


def _converted(cents: str) -> pl.Expr:
    """cents * num / den rounded half up to whole cents, in 128-bit integers."""
    scaled = pl.col(cents).cast(pl.Int128) * pl.col(_FX_NUM).cast(pl.Int128) * 2 + pl.col(_FX_DEN).cast(pl.Int128)
    return (scaled // (pl.col(_FX_DEN).cast(pl.Int128) * 2)).cast(pl.Int64).alias(cents)


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
    if contract.name in CONVERTED_MONEY:  # the fx checks need the rates attached first
        money, conversion_date = CONVERTED_MONEY[contract.name]
        frame = _attach_rates(frame.with_columns(**parsed), conversion_date(params), fx_rates, params).with_columns(**verdicts)
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
    judged = judged.select(pl.col(r"^_t_.*$"), pl.col(r"^_p_.*$"), *[c for c in (_FX_NUM,) if c in judged.columns], "_rules", SOURCE_ROW)
    return Staged(valid=valid, quarantine=rejected, judged=judged)
