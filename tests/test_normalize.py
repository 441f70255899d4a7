"""SPEC 1 normalization (attribution_pipeline.contract.normalize), value by value.

Every expected value below is worked out by hand from SPEC 1 ("Normalization,
used below" and the default channel-grouping table), never copied from what
the code returns. Each helper runs one expression over a one-column frame of
text so that a whole table of cases is a single polars call.
"""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from attribution_pipeline.contract.normalize import (
    TIMESTAMP,
    channel_from_utms,
    email_domain,
    normalize_domain,
    normalize_email,
    parse_boolean,
    parse_money,
    parse_timestamp,
    trimmed,
)


def _apply(values: list[str | None], make) -> list:
    frame = pl.DataFrame({"x": values}, schema={"x": pl.String})
    return frame.select(out=make(pl.col("x")))["out"].to_list()


def one(value: str | None, make):
    return _apply([value], make)[0]


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


# --------------------------------------------------------------------------
# trimming: "Every text value is trimmed; an empty or whitespace-only value is null."
# --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  acme  ", "acme"),
        ("\tacme\n", "acme"),
        ("a b", "a b"),  # inner spaces are part of the value
        ("", None),
        ("   ", None),
        ("\t \n", None),
        ("\u00a0", None),  # no-break space is Unicode whitespace
        ("\u3000x\u2003", "x"),  # ideographic / em space
        (None, None),
    ],
)
def test_trimmed(raw, expected):
    frame = pl.DataFrame({"c": [raw]}, schema={"c": pl.String})
    assert frame.select(out=trimmed("c"))["out"].to_list() == [expected]


# --------------------------------------------------------------------------
# timestamps: ISO-8601; offset converted to UTC; naive = UTC; date-only =
# 00:00:00 UTC (closed_at: 23:59:59.999999 UTC)
# --------------------------------------------------------------------------
def ts(value: str | None, end_of_day: bool = False):
    return one(value, lambda e: parse_timestamp(e, end_of_day=end_of_day).value)


def test_timestamp_dtype_is_utc_microseconds():
    frame = pl.DataFrame({"x": ["2024-03-01T10:00:00Z"]})
    out = frame.select(out=parse_timestamp(pl.col("x")).value)
    assert out.schema["out"] == TIMESTAMP == pl.Datetime("us", "UTC")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # Z is UTC
        ("2024-03-01T10:00:00Z", utc(2024, 3, 1, 10, 0, 0)),
        ("2024-03-01T10:00:00z", utc(2024, 3, 1, 10, 0, 0)),
        # +02:00 -> subtract two hours
        ("2024-03-01T10:00:00+02:00", utc(2024, 3, 1, 8, 0, 0)),
        # -0500 (basic offset) -> add five hours
        ("2024-03-01T10:00:00-0500", utc(2024, 3, 1, 15, 0, 0)),
        # +02 (hours only)
        ("2024-03-01T10:00:00+02", utc(2024, 3, 1, 8, 0, 0)),
        # half-hour offsets keep their minutes
        ("2024-03-01T10:00:00+05:30", utc(2024, 3, 1, 4, 30, 0)),
        ("2024-03-01T10:00:00-03:30", utc(2024, 3, 1, 13, 30, 0)),
        # an offset that crosses midnight moves the date
        ("2024-03-01T01:00:00+02:00", utc(2024, 2, 29, 23, 0, 0)),
        ("2024-12-31T22:00:00-05:00", utc(2025, 1, 1, 3, 0, 0)),
        # +00:00 and -00:00 are UTC
        ("2024-03-01T10:00:00+00:00", utc(2024, 3, 1, 10, 0, 0)),
        ("2024-03-01T10:00:00-00:00", utc(2024, 3, 1, 10, 0, 0)),
        # naive = UTC, with T or space, with or without seconds
        ("2024-03-01T10:00:00", utc(2024, 3, 1, 10, 0, 0)),
        ("2024-03-01 10:00:00", utc(2024, 3, 1, 10, 0, 0)),
        ("2024-03-01T10:17", utc(2024, 3, 1, 10, 17, 0)),
        # date-only = 00:00:00 UTC of that day
        ("2024-03-01", utc(2024, 3, 1, 0, 0, 0)),
        ("2024-02-29", utc(2024, 2, 29, 0, 0, 0)),  # 2024 is a leap year
        # fractional seconds to the microsecond
        ("2024-03-01T10:00:00.5Z", utc(2024, 3, 1, 10, 0, 0, 500_000)),
        ("2024-03-01T10:00:00.123456Z", utc(2024, 3, 1, 10, 0, 0, 123_456)),
        ("2024-03-01T10:00:00.000001", utc(2024, 3, 1, 10, 0, 0, 1)),
        ("2024-03-01T10:00:00.250+01:00", utc(2024, 3, 1, 9, 0, 0, 250_000)),
        # the last instant of a day stays on that day
        ("2024-03-01T23:59:59.999999Z", utc(2024, 3, 1, 23, 59, 59, 999_999)),
    ],
)
def test_timestamp_valid(raw, expected):
    assert ts(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "2024-02-30",  # no such day
        "2023-02-29",  # not a leap year
        "2024-13-01",  # no such month
        "2024-00-10",
        "2024-03-01T24:00:00",  # hour 24
        "2024-03-01T23:59:60",  # leap second
        "2024-03-01T23:59:60Z",
        "2024-03-01T10:60:00",  # minute 60
        "2024-03-01T10:00:00+25:00",  # no such offset
        "2024-03-01T10:00:00-25:00",
        "2024-03-01T10:00:00+02:60",  # offset minute 60
        "1709287200",  # epoch seconds are not ISO-8601
        "1709287200000",  # epoch milliseconds
        "1709287200.5",
        "garbage",
        "01/03/2024",  # US/European style dates
        "2024/03/01",
        "March 1, 2024",
        "2024-3-1",
        "24-03-01",
        "2024-03-01T",
        "2024-03-01Tgarbage",
        "2024-03-01 10:00:00 garbage",
        "T10:00:00",
        "10:00:00",
    ],
)
def test_timestamp_invalid_is_null(raw):
    assert ts(raw) is None


def test_timestamp_null_stays_null():
    assert ts(None) is None
    assert ts(None, end_of_day=True) is None


def test_timestamp_date_only_flag():
    flags = _apply(["2024-03-01", "2024-03-01T00:00:00Z"], lambda e: parse_timestamp(e).date_only)
    assert flags == [True, False]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # closed_at: a date-only value is the END of that day
        ("2024-03-01", utc(2024, 3, 1, 23, 59, 59, 999_999)),
        ("2024-02-29", utc(2024, 2, 29, 23, 59, 59, 999_999)),
        ("2024-12-31", utc(2024, 12, 31, 23, 59, 59, 999_999)),
        # an explicit time is kept as written, even midnight
        ("2024-03-01T00:00:00Z", utc(2024, 3, 1, 0, 0, 0)),
        ("2024-03-01T10:00:00+02:00", utc(2024, 3, 1, 8, 0, 0)),
        ("2024-03-01T10:00:00", utc(2024, 3, 1, 10, 0, 0)),
    ],
)
def test_timestamp_end_of_day(raw, expected):
    assert ts(raw, end_of_day=True) == expected


@pytest.mark.parametrize("raw", ["2024-02-30", "garbage", "1709287200", "2024-03-01T24:00:00"])
def test_timestamp_end_of_day_invalid_is_null(raw):
    assert ts(raw, end_of_day=True) is None


def test_timestamp_many_rows_mixed():
    """A column mixing valid and invalid values: each row judged on its own."""
    values = ["2024-03-01T10:00:00Z", "garbage", None, "2024-03-01", "2024-02-30", "2024-03-01T10:00:00-0500"]
    assert _apply(values, lambda e: parse_timestamp(e).value) == [
        utc(2024, 3, 1, 10),
        None,
        None,
        utc(2024, 3, 1),
        None,
        utc(2024, 3, 1, 15),
    ]


@pytest.mark.parametrize(
    "raw",
    [
        # ISO-8601-shaped text whose digits are not ASCII must be rejected as
        # invalid (null), never make the whole column fail.
        "2024-03-01T10:00:00+\u0660\u0662:00",  # Arabic-Indic digits in the offset
        "2024-03-01T10:00:00+\uff10\uff12",  # full-width digits in the offset
    ],
)
def test_timestamp_non_ascii_digit_offset_is_invalid_not_a_crash(raw):
    assert ts(raw) is None


@pytest.mark.parametrize(
    "raw",
    [
        "\u0662\u0660\u0662\u0664-03-01",  # Arabic-Indic year
        "２０２４-03-01",  # full-width year
        "2024-03-01T１０:00:00",  # full-width hour
    ],
)
def test_timestamp_non_ascii_digits_elsewhere_are_invalid(raw):
    assert ts(raw) is None


# --------------------------------------------------------------------------
# domains
# --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("acme.com", "acme.com"),
        ("ACME.Com", "acme.com"),
        # a scheme is removed, whatever its case
        ("https://acme.com", "acme.com"),
        ("http://acme.com", "acme.com"),
        ("HTTPS://Acme.com", "acme.com"),
        ("Http://acme.com", "acme.com"),
        ("ftp://acme.com", "acme.com"),
        ("svn+ssh://acme.com", "acme.com"),
        ("git-http.v2://acme.com", "acme.com"),
        # one leading www. only
        ("www.acme.com", "acme.com"),
        ("WWW.ACME.COM", "acme.com"),
        ("https://www.acme.com", "acme.com"),
        ("www.www.acme.com", "www.acme.com"),
        ("wwwacme.com", "wwwacme.com"),  # not 'www.'
        ("acme.www.com", "acme.www.com"),  # not leading
        # everything from the first / ? # : removed
        ("acme.com/pricing", "acme.com"),
        ("acme.com/a/b?c=d#e", "acme.com"),
        ("acme.com?utm_source=x", "acme.com"),
        ("acme.com#top", "acme.com"),
        ("acme.com:8443", "acme.com"),
        ("https://www.acme.com:443/path?q=1#frag", "acme.com"),
        ("acme.com?next=http://other.com/", "acme.com"),  # the FIRST one
        # a trailing dot removed
        ("acme.com.", "acme.com"),
        ("https://acme.com./", "acme.com"),
        ("ACME.COM.:80", "acme.com"),
        # subdomains are kept
        ("mail.acme.com", "mail.acme.com"),
        ("https://eu.app.acme.co.uk/login", "eu.app.acme.co.uk"),
        # nothing left -> null
        ("https://", None),
        ("www.", None),
        ("/pricing", None),
        ("?x=1", None),
        (":8080", None),
        (".", None),
        ("https://www./x", None),
        (None, None),
    ],
)
def test_normalize_domain(raw, expected):
    assert one(raw, normalize_domain) == expected


# --------------------------------------------------------------------------
# e-mails
# --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Jane.Doe@Acme.COM", "jane.doe@acme.com"),
        ("jane@acme.com", "jane@acme.com"),
        ("JANE+NEWS@MAIL.ACME.COM", "jane+news@mail.acme.com"),
        (None, None),
    ],
)
def test_normalize_email(raw, expected):
    assert one(raw, normalize_email) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("jane@acme.com", "acme.com"),
        ("Jane@ACME.Com", "acme.com"),
        ("jane@mail.acme.com", "mail.acme.com"),  # subdomain kept
        ('"a@b"@acme.com', "acme.com"),  # the LAST @
        ("a@b@Other.org", "other.org"),
        ("jane@acme.com.", "acme.com"),  # normalized as a domain: trailing dot
        ("jane@www.acme.com", "acme.com"),  # ... and one leading www.
        ("jane@acme.com:25", "acme.com"),
        ("jane@", None),  # nothing after the @
        ("no-at-sign", None),
        (None, None),
    ],
)
def test_email_domain(raw, expected):
    assert one(raw, lambda e: email_domain(normalize_email(e))) == expected


# --------------------------------------------------------------------------
# booleans: true/false, t/f, yes/no, y/n, 1/0, in any case
# --------------------------------------------------------------------------
TRUE_SPELLINGS = ["true", "t", "yes", "y", "1"]
FALSE_SPELLINGS = ["false", "f", "no", "n", "0"]


def _cases(word: str) -> list[str]:
    variants = {word, word.upper(), word.capitalize(), word.swapcase()}
    if len(word) > 2:
        variants.add(word[0] + word[1:].upper())  # e.g. tRUE
        variants.add("".join(c.upper() if i % 2 else c for i, c in enumerate(word)))  # e.g. tRuE
    return sorted(variants)


@pytest.mark.parametrize("raw", [v for w in TRUE_SPELLINGS for v in _cases(w)])
def test_boolean_true(raw):
    assert one(raw, parse_boolean) is True


@pytest.mark.parametrize("raw", [v for w in FALSE_SPELLINGS for v in _cases(w)])
def test_boolean_false(raw):
    assert one(raw, parse_boolean) is False


@pytest.mark.parametrize(
    "raw", ["maybe", "2", "-1", "01", "1.0", "0.0", "on", "off", "tru", "yess", "ja", "nein", "truefalse", "y e s", None]
)
def test_boolean_unknown_is_null(raw):
    assert one(raw, parse_boolean) is None


# --------------------------------------------------------------------------
# money: a decimal with at most 2 places, >= 0; never rounded
# --------------------------------------------------------------------------
def money(value: str | None) -> tuple[int | None, str | None]:
    frame = pl.DataFrame({"x": [value]}, schema={"x": pl.String})
    parsed = parse_money(pl.col("x"))
    row = frame.select(cents=parsed.cents, problem=parsed.problem).row(0)
    return row[0], row[1]


@pytest.mark.parametrize(
    ("raw", "cents"),
    [
        ("12.34", 1234),
        ("12", 1200),
        ("12.3", 1230),
        ("12.30", 1230),
        ("12.05", 1205),
        (".5", 50),
        (".05", 5),
        ("0.5", 50),
        ("0", 0),
        ("0.00", 0),
        ("00012.34", 1234),
        # trailing zeros are not rounding: 12.340 is exactly 12.34
        ("12.340", 1234),
        ("12.3400000", 1234),
        ("12.000", 1200),
        ("999999999.99", 99_999_999_999),
        ("1000000", 100_000_000),
    ],
)
def test_money_valid(raw, cents):
    assert money(raw) == (cents, None)


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("12.345", "too_many_decimals"),
        ("0.001", "too_many_decimals"),
        ("12.3401", "too_many_decimals"),  # a significant digit after the zeros
        ("-1", "negative_money"),
        ("-12.34", "negative_money"),
        ("-.5", "negative_money"),
        ("1e3", "invalid_money"),
        ("1E3", "invalid_money"),
        ("NaN", "invalid_money"),
        ("nan", "invalid_money"),
        ("inf", "invalid_money"),
        ("Infinity", "invalid_money"),
        ("-inf", "invalid_money"),
        ("1,234.00", "invalid_money"),
        ("12,34", "invalid_money"),
        ("$12.34", "invalid_money"),
        ("12.34 USD", "invalid_money"),
        ("12 34", "invalid_money"),
        ("1.2.3", "invalid_money"),
        (".", "invalid_money"),
        ("abc", "invalid_money"),
        ("0x10", "invalid_money"),
        ("1" + "0" * 30, "money_out_of_range"),
        ("9" * 40 + ".99", "money_out_of_range"),
    ],
)
def test_money_invalid(raw, problem):
    assert money(raw) == (None, problem)


def test_money_absent_is_null_without_problem():
    assert money(None) == (None, None)


@pytest.mark.parametrize(
    "raw",
    [
        "\u0661\u0662",  # Arabic-Indic "12"
        "\uff11\uff12",  # full-width "12"
        "\u0967\u0966\u0966",  # Devanagari "100"
    ],
)
def test_money_non_ascii_digits_are_a_problem_not_silently_null(raw):
    cents, problem = money(raw)
    assert cents is not None or problem is not None


# --------------------------------------------------------------------------
# default channel grouping (whole-value match, lower-cased, first match wins)
# --------------------------------------------------------------------------
def channel(src: str | None, med: str | None) -> str:
    frame = pl.DataFrame({"s": [src], "m": [med]}, schema={"s": pl.String, "m": pl.String})
    return frame.select(out=channel_from_utms(pl.col("s"), pl.col("m")))["out"][0]


@pytest.mark.parametrize(
    ("src", "med", "expected"),
    [
        # rule 1: paid medium + social source
        ("linkedin", "cpc", "paid_social"),
        ("facebook", "ppc", "paid_social"),
        ("fb", "paid_search", "paid_social"),
        ("instagram", "paidsearch", "paid_social"),
        ("twitter", "sem", "paid_social"),
        ("x", "cpc", "paid_social"),
        ("reddit", "cpc", "paid_social"),
        ("tiktok", "cpc", "paid_social"),
        ("youtube", "cpc", "paid_social"),
        # rule 2: paid medium, any other source
        ("google", "cpc", "paid_search"),
        ("bing", "ppc", "paid_search"),
        ("google", "paid_search", "paid_search"),
        ("google", "paidsearch", "paid_search"),
        ("google", "sem", "paid_search"),
        (None, "cpc", "paid_search"),
        # rule 3
        ("newsletter-partner", "paid_social", "paid_social"),
        ("google", "paidsocial", "paid_social"),
        (None, "social_paid", "paid_social"),
        (None, "socialpaid", "paid_social"),
        # rule 4
        ("dv360", "display", "display"),
        (None, "banner", "display"),
        (None, "cpm", "display"),
        (None, "programmatic", "display"),
        # rule 5
        ("hubspot", "email", "email"),
        (None, "e-mail", "email"),
        (None, "newsletter", "email"),
        # rule 6: social media ...
        (None, "social", "organic_social"),
        (None, "organic_social", "organic_social"),
        (None, "organicsocial", "organic_social"),
        (None, "social_media", "organic_social"),
        (None, "socialmedia", "organic_social"),
        (None, "sm", "organic_social"),
        # ... or a social source (no paid medium)
        ("linkedin", None, "organic_social"),
        ("facebook", "post", "organic_social"),
        ("x", None, "organic_social"),
        ("youtube", "video", "organic_social"),
        # rule 7: medium exactly organic
        ("google", "organic", "organic_search"),
        (None, "organic", "organic_search"),
        # rule 8
        ("g2", "referral", "referral"),
        (None, "partner", "referral"),
        (None, "affiliate", "referral"),
        # rule 9
        (None, "event", "event"),
        (None, "events", "event"),
        (None, "tradeshow", "event"),
        (None, "conference", "event"),
        # rule 10
        (None, "webinar", "webinar"),
        # anything else, no UTMs included
        (None, None, "direct"),
        ("google", None, "direct"),
        ("google", "unknown", "direct"),
        ("newsletter", None, "direct"),  # only the MEDIUM decides email
    ],
)
def test_channel_rules(src, med, expected):
    assert channel(src, med) == expected


@pytest.mark.parametrize(
    ("src", "med", "expected"),
    [
        # first match wins: rule 1 before rule 2
        ("linkedin", "cpc", "paid_social"),
        # a social source with a non-paid medium: the medium's earlier rule wins
        ("linkedin", "email", "email"),
        ("facebook", "display", "display"),
        ("linkedin", "paid_social", "paid_social"),
        # rule 6 (social source) before rule 7 (organic)
        ("facebook", "organic", "organic_social"),
        ("x", "organic", "organic_social"),
        # rule 6 before rule 8/9/10 for a social source
        ("linkedin", "referral", "organic_social"),
        ("linkedin", "webinar", "organic_social"),
        # 'organic' is organic_search, 'organic_social' is organic_social
        ("google", "organic", "organic_search"),
        ("google", "organic_social", "organic_social"),
    ],
)
def test_channel_first_match_wins(src, med, expected):
    assert channel(src, med) == expected


@pytest.mark.parametrize(
    ("src", "med", "expected"),
    [
        ("LinkedIn", "CPC", "paid_social"),
        ("Google", "CpC", "paid_search"),
        ("X", "Cpc", "paid_social"),
        (None, "E-Mail", "email"),
        (None, "ORGANIC", "organic_search"),
        ("FACEBOOK", None, "organic_social"),
        (None, "Webinar", "webinar"),
    ],
)
def test_channel_case_insensitive(src, med, expected):
    assert channel(src, med) == expected


@pytest.mark.parametrize(
    ("src", "med", "expected"),
    [
        # patterns match the whole value, never a part of it
        ("google", "cpc2", "direct"),
        ("google", "xcpc", "direct"),
        ("google", "cpc-brand", "direct"),
        ("linkedin.com", "cpc", "paid_search"),  # 'linkedin.com' is not 'linkedin'
        ("xing", "cpc", "paid_search"),  # 'xing' is not 'x'
        ("fbx", None, "direct"),
        ("mx", None, "direct"),
        (None, "organic_search", "direct"),  # rule 7 is med = organic, exactly
        (None, "organic2", "direct"),
        (None, "emails", "direct"),
        (None, "social_network", "direct"),
        (None, "smm", "direct"),
        (None, "webinars", "direct"),
        (None, "display_ads", "direct"),
        (None, "eventss", "direct"),
        (None, "paid__search", "direct"),
        # the alternation is whole too: 'cpc|ppc' must not become '^cpc' OR 'ppc$'
        (None, "cpcfoo", "direct"),
        (None, "fooppc", "direct"),
        ("linkedinfoo", None, "direct"),
        ("foo_youtube", None, "direct"),
    ],
)
def test_channel_whole_value_match(src, med, expected):
    assert channel(src, med) == expected


def test_channel_many_rows():
    frame = pl.DataFrame(
        {"s": ["linkedin", "google", None, "x"], "m": ["cpc", "cpc", None, None]},
        schema={"s": pl.String, "m": pl.String},
    )
    out = frame.select(out=channel_from_utms(pl.col("s"), pl.col("m")))["out"].to_list()
    assert out == ["paid_social", "paid_search", "direct", "organic_social"]
