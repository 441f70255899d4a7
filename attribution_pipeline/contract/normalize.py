"""SPEC 1 normalization as polars expressions: timestamps, domains, e-mails,
booleans, money and the default channel grouping.

Each parser returns the parsed value and leaves invalid input null, so the
caller can tell "absent" (the raw value is null) from "unparseable" (raw
present, parsed null) and quarantine the latter with a rule, never crash.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

UTC = "UTC"
TIMESTAMP = pl.Datetime("us", UTC)

# ISO-8601 extended format: a date, optionally a time (seconds and up to nine
# fraction digits optional) and an offset. Fractions beyond microseconds are
# truncated, since the warehouse keeps microseconds.
_ISO_TIMESTAMP = (
    r"^(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})"
    r"(?:[Tt ](?P<hour>[0-9]{2}):(?P<minute>[0-9]{2})(?::(?P<second>[0-9]{2})(?:[.,](?P<fraction>[0-9]{1,9}))?)?"
    r"\s*(?P<offset>[Zz]|UTC|[+-][0-9]{2}(?::?[0-9]{2})?)?)?$"
)
MAX_OFFSET_MINUTES = 18 * 60  # the widest offset any ISO-8601 parser accepts


def trimmed(column: str) -> pl.Expr:
    """Every text value is trimmed; an empty or whitespace-only value is null."""
    value = pl.col(column).str.strip_chars()
    return pl.when(value.str.len_bytes() > 0).then(value)


@dataclass(frozen=True)
class ParsedTimestamp:
    value: pl.Expr  # Datetime(us, UTC); null when absent or invalid
    date_only: pl.Expr


def parse_timestamp(text: pl.Expr, end_of_day: bool = False) -> ParsedTimestamp:
    """ISO-8601 to UTC: an offset is converted, a naive value is UTC, and a
    date-only value is 00:00:00 that day (23:59:59.999999 with ``end_of_day``).
    """
    parts = text.str.extract_groups(_ISO_TIMESTAMP)
    hour = parts.struct.field("hour")
    fraction = parts.struct.field("fraction").fill_null("").str.slice(0, 6).str.pad_end(6, "0")
    canonical = pl.concat_str(
        parts.struct.field("date"),
        pl.lit("T"),
        hour.fill_null("00"),
        pl.lit(":"),
        parts.struct.field("minute").fill_null("00"),
        pl.lit(":"),
        parts.struct.field("second").fill_null("00"),
        pl.lit("."),
        fraction,
    )
    naive = canonical.str.strptime(pl.Datetime("us"), "%Y-%m-%dT%H:%M:%S%.6f", strict=False)
    offset = parts.struct.field("offset").str.to_uppercase()
    digits = offset.str.replace_all(":", "")
    offset_minutes = (
        pl.when(offset.is_null() | offset.is_in(["Z", "UTC"]))
        .then(pl.lit(0))
        .otherwise(
            (digits.str.slice(1, 2).cast(pl.Int32) * 60 + digits.str.slice(3, 2).cast(pl.Int32, strict=False).fill_null(0))
            * pl.when(digits.str.starts_with("-")).then(-1).otherwise(1)
        )
    )
    minute_part = digits.str.slice(3, 2).cast(pl.Int32, strict=False).fill_null(0)
    second = parts.struct.field("second").cast(pl.Int32, strict=False).fill_null(0)
    # chrono reads second 60 as a leap second rolling into the next minute; reject it.
    offset_ok = offset_minutes.abs().le(MAX_OFFSET_MINUTES) & minute_part.lt(60) & second.lt(60)
    utc = (naive - pl.duration(minutes=offset_minutes)).dt.replace_time_zone(UTC)
    date_only = hour.is_null()
    if end_of_day:
        utc = pl.when(date_only).then(utc + pl.duration(days=1, microseconds=-1)).otherwise(utc)
    return ParsedTimestamp(value=pl.when(offset_ok).then(utc), date_only=date_only)


def normalize_domain(text: pl.Expr) -> pl.Expr:
    """Lower-case; drop a scheme, one leading ``www.``, everything from the
    first ``/ ? # :``, and a trailing dot. Subdomains are kept."""
    domain = (
        text.str.to_lowercase()
        .str.replace(r"^[a-z][a-z0-9+.\-]*://", "")
        .str.replace(r"^www\.", "")
        .str.replace(r"[/?#:][\s\S]*$", "")
        .str.replace(r"\.$", "")
        .str.strip_chars()
    )
    return pl.when(domain.str.len_bytes() > 0).then(domain)


def normalize_email(text: pl.Expr) -> pl.Expr:
    return text.str.to_lowercase()


def email_domain(email: pl.Expr) -> pl.Expr:
    """The normalized domain after the last ``@`` (null without an ``@``)."""
    after_at = email.str.extract(r"@([^@]*)$", 1)
    return normalize_domain(after_at)


_TRUE = ["true", "t", "yes", "y", "1"]
_FALSE = ["false", "f", "no", "n", "0"]


def parse_boolean(text: pl.Expr) -> pl.Expr:
    lowered = text.str.to_lowercase()
    return pl.when(lowered.is_in(_TRUE)).then(True).when(lowered.is_in(_FALSE)).then(False)


# Money: digits, optionally a point and decimals. Extra decimal places are
# accepted only when they are zeros (12.340 is exactly 12.34): anything else
# would need rounding, which SPEC 1 forbids.
_MONEY = r"^\+?(?P<units>[0-9]*)(?:\.(?P<cents>[0-9]*))?$"
MAX_MONEY_DIGITS = 15  # whole units; keeps cents well inside int64


@dataclass(frozen=True)
class ParsedMoney:
    cents: pl.Expr  # Int64, null when absent or invalid
    problem: pl.Expr  # null when fine, else a rule id


def parse_money(text: pl.Expr) -> ParsedMoney:
    parts = text.str.extract_groups(_MONEY)
    units = parts.struct.field("units")
    decimals = parts.struct.field("cents").fill_null("")
    significant = decimals.str.replace(r"0+$", "")
    has_digits = (units.str.len_bytes() + decimals.str.len_bytes()) > 0
    well_formed = units.is_not_null() & has_digits
    problem = (
        pl.when(text.is_null())
        .then(None)
        .when(text.str.contains(r"^-(?:[0-9]+\.?[0-9]*|\.[0-9]+)$"))
        .then(pl.lit("negative_money"))
        .when(~well_formed)
        .then(pl.lit("invalid_money"))
        .when(significant.str.len_bytes() > 2)
        .then(pl.lit("too_many_decimals"))
        .when(units.str.replace(r"^0+", "").str.len_bytes() > MAX_MONEY_DIGITS)
        .then(pl.lit("money_out_of_range"))
    )
    cents = pl.when(units.str.len_bytes() > 0).then(units).otherwise(pl.lit("0")).cast(
        pl.Int64, strict=False
    ) * 100 + significant.str.pad_end(2, "0").cast(pl.Int64, strict=False)
    return ParsedMoney(cents=pl.when(text.is_not_null() & problem.is_null()).then(cents), problem=problem)


# SPEC 1 default channel grouping: patterns match the whole lower-cased value,
# first match wins, anything else (no UTMs included) is direct.
PAID_MEDIUM = r"cpc|ppc|paid_?search|sem"
SOCIAL_SOURCE = r"linkedin|facebook|fb|instagram|twitter|x|reddit|tiktok|youtube"
DEFAULT_CHANNEL_RULES: tuple[tuple[str | None, str | None, str], ...] = (
    # (medium pattern, source pattern, channel); both given = both must match
    (PAID_MEDIUM, SOCIAL_SOURCE, "paid_social"),
    (PAID_MEDIUM, None, "paid_search"),
    (r"paid_?social|social_?paid", None, "paid_social"),
    (r"display|banner|cpm|programmatic", None, "display"),
    (r"e-?mail|newsletter", None, "email"),
    (r"social|organic_?social|social_?media|sm", None, "organic_social"),
    (None, SOCIAL_SOURCE, "organic_social"),
    (r"organic", None, "organic_search"),
    (r"referral|partner|affiliate", None, "referral"),
    (r"events?|tradeshow|conference", None, "event"),
    (r"webinar", None, "webinar"),
)
DEFAULT_CHANNEL = "direct"


def _whole(value: pl.Expr, pattern: str) -> pl.Expr:
    return value.str.contains(f"^(?:{pattern})$").fill_null(False)


def channel_from_utms(
    utm_source: pl.Expr,
    utm_medium: pl.Expr,
    rules: tuple[tuple[str | None, str | None, str], ...] = DEFAULT_CHANNEL_RULES,
    default: str = DEFAULT_CHANNEL,
) -> pl.Expr:
    source, medium = utm_source.str.to_lowercase(), utm_medium.str.to_lowercase()
    chain = None
    for medium_pattern, source_pattern, channel in rules:
        condition = pl.lit(True)
        if medium_pattern is not None:
            condition = condition & _whole(medium, medium_pattern)
        if source_pattern is not None:
            condition = condition & _whole(source, source_pattern)
        chain = (pl.when(condition) if chain is None else chain.when(condition)).then(pl.lit(channel))
    return chain.otherwise(pl.lit(default)) if chain is not None else pl.lit(default)
