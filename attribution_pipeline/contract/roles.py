"""What a source's columns are, as data: each column's role (text, e-mail, domain,
timestamp, date, money, currency, boolean, ...) and the rules between columns (one
time not before another, won implies closed). A source is declared as a sequence of
these (``rules.CONTRACTS``), and that one declaration drives both judges of a row:

- ``Role.parse`` / ``Role.checks`` here: the polars expressions that stage a row and
  the verdicts that quarantine it;
- ``validation.row_expectations``: the great-expectations suite that counts the same
  rules independently, dispatched on the role's type, never on the source's name.

The order of the declaration is the order the rules are judged in: a row's
``rule`` in quarantine is the first it broke.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

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
)
from models.params import AttributionParams

ISO_4217 = sorted(currency.alpha_3 for currency in pycountry.currencies)
FX_NUM, FX_DEN, CONVERSION_DATE = "_fx_num", "_fx_den", "_conversion_date"


@dataclass(frozen=True)
class Check:
    """A row rule: ``broken`` is true for rows that break it (null counts as kept)."""

    rule: str
    broken: pl.Expr
    message: pl.Expr


def text(column: str) -> pl.Expr:
    """The column's trimmed text (empty is null), as ``stage`` prepares it."""
    return pl.col(f"_t_{column}")


def parsed(column: str) -> pl.Expr:
    """The column's staged value, once ``stage`` has parsed it."""
    return pl.col(f"_p_{column}")


def _quoted(column: str) -> pl.Expr:
    return pl.concat_str(pl.lit("'"), text(column), pl.lit("'"))


def required_check(column: str) -> Check:
    return Check(f"{column}.required", text(column).is_null(), pl.lit(f"{column} is required but empty"))


def _unparseable(column: str, value: pl.Expr, rule: str, what: str) -> Check:
    return Check(
        f"{column}.{rule}",
        text(column).is_not_null() & value.is_null(),
        pl.concat_str(pl.lit(f"{column} "), _quoted(column), pl.lit(f" is not {what}")),
    )


def plausible_bounds(params: AttributionParams, date: bool = False) -> tuple:
    """[earliest, latest] of SPEC 1's plausible range, as datetimes (or dates); latest None: unbounded."""
    earliest, latest = params.earliest_valid, params.latest_valid
    return (earliest.date(), latest.date() if latest else None) if date else (earliest, latest)


def _plausible(column: str, value: pl.Expr, params: AttributionParams, date: bool = False) -> Check:
    """SPEC 1: a value before the earliest date or after the run's time plus the
    tolerance is implausible (a mistyped year), so no single row moves the as-of."""
    earliest, latest = plausible_bounds(params, date)
    dtype = pl.Date if date else pl.Datetime("us", "UTC")
    early = value < pl.lit(earliest, dtype)
    late = value > pl.lit(latest, dtype) if latest is not None else pl.lit(False)
    shown = (lambda day: day.isoformat()) if date else (lambda time: time.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
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


@dataclass(frozen=True)
class Role:
    """A column of a source: its staged value(s) and the rules its own value must meet.
    ``required``: the value may not be empty (and the header must have the column);
    ``in_header``: the header must have the column even where its value may be empty."""

    column: str
    required: bool = False
    in_header: bool = False

    @property
    def header_required(self) -> bool:
        return self.required or self.in_header

    def parse(self, params: AttributionParams) -> dict[str, pl.Expr]:
        return {self.column: text(self.column)}

    def own_checks(self, params: AttributionParams, values: dict[str, pl.Expr]) -> list[Check]:
        return []

    def checks(self, params: AttributionParams, values: dict[str, pl.Expr]) -> list[Check]:
        return ([required_check(self.column)] if self.required else []) + self.own_checks(params, values)


@dataclass(frozen=True)
class Text(Role):
    lowercase: bool = False

    def parse(self, params):
        value = text(self.column)
        return {self.column: value.str.to_lowercase() if self.lowercase else value}


@dataclass(frozen=True)
class Email(Role):
    def parse(self, params):
        return {self.column: normalize_email(text(self.column))}


def derived_domain(email: pl.Expr, freemail_domains: frozenset[str]) -> pl.Expr:
    """SPEC 3's account domain of an e-mail: its domain, unless that is free-mail. One
    definition for a given e-mail (staging) and a stitched one (``models.identity``)."""
    domain = email_domain(email)
    return pl.when(~domain.is_in(sorted(freemail_domains))).then(domain)


@dataclass(frozen=True)
class Domain(Role):
    """An account domain, normalized. ``strict``: a value with no domain left after
    normalization is quarantined. ``from_email``: when empty, the domain of that e-mail
    column (unless free-mail), with ``domain_is_given`` saying which it was."""

    strict: bool = False
    from_email: str | None = None

    def parse(self, params):
        given = normalize_domain(text(self.column))
        if self.from_email is None:
            return {self.column: given}
        derived = derived_domain(normalize_email(text(self.from_email)), params.freemail_domains)
        return {self.column: pl.coalesce(given, derived), "domain_is_given": given.is_not_null()}

    def own_checks(self, params, values):
        if not self.strict:
            return []
        broken = text(self.column).is_not_null() & values[self.column].is_null()
        message = pl.concat_str(pl.lit(f"{self.column} "), _quoted(self.column), pl.lit(" has no domain left after normalization"))
        return [Check(f"{self.column}.invalid_domain", broken, message)]


@dataclass(frozen=True)
class Channel(Role):
    """A channel, lowercased; when empty, the channel grouping of the row's UTM source and medium."""

    def parse(self, params):
        return {self.column: pl.coalesce(text(self.column).str.to_lowercase(), channel_from_utms(text("utm_source"), text("utm_medium")))}


@dataclass(frozen=True)
class Timestamp(Role):
    """An ISO-8601 timestamp or date in UTC; ``end_of_day``: a bare date means its last microsecond."""

    end_of_day: bool = False

    def parse(self, params):
        return {self.column: parse_timestamp(text(self.column), end_of_day=self.end_of_day).value}

    def own_checks(self, params, values):
        value = values[self.column]
        return [
            _unparseable(self.column, value, "invalid_timestamp", "an ISO-8601 timestamp or date"),
            _plausible(self.column, value, params),
        ]


@dataclass(frozen=True)
class Date(Role):
    def parse(self, params):
        return {self.column: parse_timestamp(text(self.column)).value.dt.date()}

    def own_checks(self, params, values):
        value = values[self.column]
        return [_unparseable(self.column, value, "invalid_date", "an ISO-8601 date"), _plausible(self.column, value, params, date=True)]


MONEY_PROBLEMS = (
    ("negative_money", "is negative; money must be >= 0"),
    ("invalid_money", "is not a decimal amount"),
    ("too_many_decimals", "has more than 2 decimal places (never rounded)"),
    ("money_out_of_range", "is too large"),
)


@dataclass(frozen=True)
class Money(Role):
    """A decimal amount, staged exactly as integer cents in ``<column>_cents``."""

    @property
    def cents(self) -> str:
        return f"{self.column}_cents"

    def parse(self, params):
        return {self.cents: parse_money(text(self.column)).cents}

    def own_checks(self, params, values):
        problem = parse_money(text(self.column)).problem  # the parse the cents share (one subexpression)
        return [
            Check(
                f"{self.column}.{rule}",
                problem == rule,
                pl.concat_str(pl.lit(f"{self.column} "), _quoted(self.column), pl.lit(f" {words}")),
            )
            for rule, words in MONEY_PROBLEMS
        ]


@dataclass(frozen=True)
class Currency(Role):
    """The ISO 4217 code of the row's money (default: the reporting currency), converted
    to the reporting currency at the latest fx rate on or before ``rate_date``'s date.
    ``converts``: the money columns; ``rate_date_doc``: that date, in words."""

    converts: tuple[str, ...] = ()
    rate_date: Callable[[AttributionParams], pl.Expr] | None = None
    rate_date_doc: str = ""

    def parse(self, params):
        return {self.column: text(self.column).str.to_uppercase().fill_null(pl.lit(params.reporting_currency))}

    def own_checks(self, params, values):
        code = values[self.column]
        known = code.is_in(ISO_4217)
        no_rate = pl.concat_str(
            pl.lit("no fx rate for "),
            code,
            pl.lit(f" to {params.reporting_currency} on or before "),
            pl.col(CONVERSION_DATE).cast(pl.String).fill_null(pl.lit("the latest rate date")),
            pl.lit(f" ({self.rate_date_doc}) in fx_rates"),
        )
        return [
            Check(
                f"{self.column}.invalid_currency",
                ~known,
                pl.concat_str(pl.lit(f"{self.column} "), _quoted(self.column), pl.lit(" is not an ISO 4217 code")),
            ),
            Check(f"{self.column}.no_rate", known & (code != params.reporting_currency) & pl.col(FX_NUM).is_null(), no_rate),
        ]


@dataclass(frozen=True)
class CurrencyCode(Role):
    """An ISO 4217 code, uppercased (an fx rate's currency)."""

    def parse(self, params):
        return {self.column: text(self.column).str.to_uppercase()}

    def own_checks(self, params, values):
        code = values[self.column]
        message = pl.concat_str(pl.lit(f"{self.column} "), _quoted(self.column), pl.lit(" is not an ISO 4217 code"))
        return [Check(f"{self.column}.invalid_currency", code.is_not_null() & ~code.is_in(ISO_4217), message)]


@dataclass(frozen=True)
class Boolean(Role):
    def parse(self, params):
        return {self.column: parse_boolean(text(self.column))}

    def own_checks(self, params, values):
        return [_unparseable(self.column, values[self.column], "invalid_boolean", "a boolean (true/false, t/f, yes/no, y/n, 1/0)")]


# A positive decimal rate, kept exact as num / 10**places.
_RATE = r"^\+?(?P<units>[0-9]*)(?:\.(?P<places>[0-9]{0,12}))?$"


@dataclass(frozen=True)
class Rate(Role):
    """A positive decimal rate with at most 12 places and 18 digits, kept as its text and
    exactly as ``rate_num / rate_den``."""

    def _parts(self):
        parts = text(self.column).str.extract_groups(_RATE)
        units, places = parts.struct.field("units"), parts.struct.field("places").fill_null("")
        digits = pl.concat_str(units.fill_null(""), places)
        return digits.cast(pl.Int64, strict=False), units.is_not_null() & digits.str.len_bytes().is_between(1, 18), places

    def parse(self, params):
        num, well_formed, places = self._parts()
        return {
            self.column: text(self.column),
            "rate_num": pl.when(well_formed).then(num),
            "rate_den": pl.when(well_formed).then(pl.lit(10, pl.Int64).pow(places.str.len_bytes())),
        }

    def own_checks(self, params, values):
        num, well_formed, _ = self._parts()
        message = pl.concat_str(
            pl.lit(f"{self.column} "), _quoted(self.column), pl.lit(" is not a positive decimal with at most 12 places and 18 digits")
        )
        return [
            Check(f"{self.column}.invalid_rate", text(self.column).is_not_null() & ~(well_formed & (num > 0)).fill_null(False), message)
        ]


@dataclass(frozen=True)
class Rule:
    """A rule between columns, judged where it stands in the declaration."""

    def checks(self, params: AttributionParams, values: dict[str, pl.Expr]) -> list[Check]:
        raise NotImplementedError


@dataclass(frozen=True)
class NotBefore(Rule):
    """``later`` is not before ``earlier`` (either empty: kept)."""

    later: str
    earlier: str
    rule: str  # as column.rule, e.g. closed_at.before_created

    def checks(self, params, values):
        return [Check(self.rule, values[self.later] < values[self.earlier], pl.lit(f"{self.later} is before {self.earlier}"))]


@dataclass(frozen=True)
class Implies(Rule):
    """A true ``column`` needs a true ``needs`` (won implies closed)."""

    column: str
    needs: str
    rule: str

    def checks(self, params, values):
        return [Check(self.rule, values[self.column] & ~values[self.needs], pl.lit(f"{self.column} is true but {self.needs} is false"))]


@dataclass(frozen=True)
class RequiredWhen(Rule):
    """``column`` may not be empty where the boolean ``flag`` is true."""

    column: str
    flag: str

    @property
    def rule(self) -> str:
        return f"{self.column}.required_when_{self.flag.removeprefix('is_')}"

    def checks(self, params, values):
        message = pl.lit(f"{self.column} is required when {self.flag} is true")
        return [Check(self.rule, values[self.flag] & text(self.column).is_null(), message)]


@dataclass(frozen=True)
class WithinPartitions(Rule):
    """A row whose ``flag`` is true converts at ``column``: outside the close-month
    partitions it would never be credited, so it is quarantined with advice that works
    (the partition start). A value outside the plausible range is reported once, as
    ``<column>.out_of_range``."""

    column: str
    flag: str

    @property
    def rule(self) -> str:
        return f"{self.column}.outside_partitions"

    def checks(self, params, values):
        if params.close_months is None:
            return []
        start, end = params.close_months
        earliest, latest = plausible_bounds(params)
        utc = pl.Datetime("us", "UTC")
        value = values[self.column]
        plausible = (value >= pl.lit(earliest, utc)) & (value <= pl.lit(latest, utc) if latest else pl.lit(True))
        before, after = value < pl.lit(start, utc), value >= pl.lit(end, utc)
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
        message = pl.concat_str(pl.lit(f"{self.column} "), _quoted(self.column), reason)
        return [Check(self.rule, values[self.flag] & plausible & (before | after), message)]
