"""Seeded synthetic landing folder: realistic B2B touches, campaigns, deals and leads.

Why this exists: the pipeline has to be demonstrated, tested and benchmarked
without anyone's CRM export, so this module fabricates a landing folder that
satisfies SPEC 1 (the input contract) *and* looks like the real thing a
marketing-ops team would drop on us:

* accounts with company domains (``acme-12.com``, ``eu.hooli-7.io``) and a
  handful of contacts each, plus the people who use gmail.com & co. (their
  touches carry no account_domain, so only opportunity_contacts can tie them
  to a deal) and a few consultant deals whose account_domain *is* a
  free-mail domain (SPEC 3's special case);
* deals (30% won, 40% lost, 30% open) with touches spread over the months
  before them, some after the close and many unrelated ones, so that the
  journey window of SPEC 3 has something to cut;
* every representation SPEC 1 says must be normalized: mixed ISO-8601 forms
  (``Z``, offsets, naive, date-only), domains written as URLs or in upper
  case, channels missing (to be derived from UTMs) or upper-cased, mixed
  boolean spellings, headers in mixed case with stray spaces, an unknown
  extra column, repeated contact rows and ~1% of campaign ids that campaigns
  does not know about;
* the funnel around them, in plain columns and ``...Z`` UTC timestamps:
  ``leads`` (one per person, created at their first identified touch; ~60%
  reach MQL, half of those SQL; one person per deal converted into it before
  it was created) and ``opportunity_stage_history`` (qualification ->
  discovery -> proposal -> negotiation -> closed_won/closed_lost, agreeing
  with each deal's created_at, closed_at and status; rows lightly shuffled).

Everything written is *valid* under SPEC 1; producing invalid rows is the
job of the validation tests, not of this generator.

Determinism: all randomness comes from ``numpy.random.SeedSequence([seed,
stream])`` with one fixed stream per table and per touch chunk (listed
above ``_build_world``: a new table takes a new stream, so adding one leaves
the bytes of the others unchanged), values are rendered as strings by
polars (no float formatting, no locale), and Parquet is written with fixed
compression and row-group size (polars writes no timestamps into the file),
so the same ``(touches, seed, fmt, chunk_rows)`` gives byte-identical files.
Across numpy/polars upgrades the bytes may change; the shape of the data
does not. Leads depend on the touches (each person's first one), so they
too change with ``chunk_rows``.

Scale: all work is vectorized (numpy for the random draws, polars for the
string rendering); the only Python loops run over chunks and over a handful
of channels, deal stages and lead-matching rounds. Touches are produced ``chunk_rows`` at a time, and above that
size they are written as ``touches/part-NNNNN.<fmt>`` (SPEC 1 accepts a folder
of part files per source), so memory follows the chunk, not the total.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl

__all__ = ["CHANNELS", "DEFAULT_CHUNK_ROWS", "SOURCES", "generate"]

SOURCES = (
    "touches",
    "campaigns",
    "opportunities",
    "opportunity_contacts",
    "leads",
    "opportunity_stage_history",
)
DEFAULT_CHUNK_ROWS = 2_000_000

# The ten channels of SPEC 1's default channel grouping, in a fixed order: the
# index into this tuple is the channel code used throughout.
CHANNELS = (
    "paid_search",
    "paid_social",
    "display",
    "email",
    "organic_social",
    "organic_search",
    "referral",
    "event",
    "webinar",
    "direct",
)
_CH = {name: code for code, name in enumerate(CHANNELS)}

# --- time frame: two calendar years, ending 2025-12-31 (UTC) -----------------
_DAY = 86_400
_START = 1_704_067_200  # 2024-01-01T00:00:00Z
_END = 1_767_225_599  # 2025-12-31T23:59:59Z
_SPAN_DAYS = (_END + 1 - _START) // _DAY  # 731

# --- written column names ---------------------------------------------------
# Mixed case and stray spaces on purpose: SPEC 1 matches names
# case-insensitively after trimming, and the loader must prove it does.
# Parquet files carry the very same names.
_TOUCH_HEADERS = {
    "touch_id": "Touch_ID",
    "occurred_at": " Occurred_At ",
    "email": "EMAIL",
    "account_domain": "Account_Domain",
    "channel": "channel",
    "campaign_id": "Campaign_Id ",
    "utm_source": "UTM_Source",
    "utm_medium": "utm_medium",
    "utm_campaign": "utm_campaign",
    "utm_content": "Utm_Content",
    "utm_term": "utm_term",
    "touch_type": "Touch_Type",
    "landing_page": "landing_page",  # not in SPEC 1: must land in raw and be ignored
}
_CAMPAIGN_HEADERS = {
    "campaign_id": "Campaign_ID",
    "campaign_name": "campaign_name",
    "channel": " Channel",
    "start_date": "Start_Date",
    "end_date": "end_date",
    "cost": "COST",
    "currency": "Currency",
}
_OPPORTUNITY_HEADERS = {
    "opportunity_id": "Opportunity_ID",
    "account_domain": "account_domain",
    "created_at": "Created_At",
    "closed_at": "closed_at ",
    "stage": "Stage",
    "is_closed": "IS_CLOSED",
    "is_won": "is_won",
    "amount": "Amount",
    "currency": "currency",
}
_CONTACT_HEADERS = {"opportunity_id": "Opportunity_Id", "email": "Email ", "role": "ROLE"}

# --- vocabularies -----------------------------------------------------------
# At least as many first names as the largest account has contacts: contacts
# of one account get distinct first names, which keeps their emails distinct.
_FIRST_NAMES = (
    "anna", "ben", "carla", "david", "elena", "felix", "grace", "hugo", "ines",
    "jack", "kate", "liam", "maya", "noah", "olga", "paul", "quinn", "rosa",
    "sam", "tara", "umar", "vera", "will", "xena", "yusuf", "zoe", "aisha",
    "bruno", "chen", "dana", "emil", "fatima", "gina", "hiro", "ivan", "julia",
    "karl", "lena", "marco", "nina",
)  # fmt: skip
_LAST_NAMES = (
    "smith", "jones", "garcia", "muller", "rossi", "dubois", "kim", "nguyen",
    "patel", "silva", "novak", "jensen", "khan", "tanaka", "cohen", "murphy",
    "schmidt", "lopez", "ivanova", "brown", "wilson", "martin", "becker",
    "costa", "olsen", "wagner", "hughes", "fischer", "moreau", "santos",
)  # fmt: skip
_COMPANY_WORDS = (
    "acme", "globex", "initech", "umbrella", "hooli", "soylent", "vandelay",
    "stark", "wayne", "wonka", "cyberdyne", "tyrell", "aperture", "massive",
    "pied-piper", "dunder", "gringotts", "oscorp", "nakatomi", "monarch",
    "blueth", "sterling", "prestige", "vehement", "bluebook", "northwind",
    "contoso", "fabrikam", "tailspin", "litware",
)  # fmt: skip
_TLDS = ("com", "com", "com", "com", "io", "co", "net", "de", "co.uk", "ai")
_SUBDOMAINS = ("eu", "us", "uk", "apac", "corp", "emea")
# A subset of SPEC 1's default free-mail list (so they are recognized as such).
_FREEMAIL = ("gmail.com", "gmail.com", "gmail.com", "yahoo.com", "outlook.com",
             "hotmail.com", "icloud.com", "proton.me")  # fmt: skip

_OFFSETS = ("+01:00", "+02:00", "-05:00", "-08:00", "+05:30", "+09:00", "-03:00", "+00:00")
_OFFSET_MINUTES = np.array([60, 120, -300, -480, 330, 540, -180, 0], dtype=np.int64)

_PAGES = ("/", "/pricing", "/demo", "/product", "/blog/multi-touch-attribution",
          "/blog/roas-explained", "/customers", "/integrations", "/contact",
          "/webinars/attribution-101", "/docs/getting-started", "/careers")  # fmt: skip

# Touch mix by channel (sums to 1), in CHANNELS order.
_CHANNEL_P = np.array([0.18, 0.12, 0.06, 0.17, 0.06, 0.14, 0.05, 0.04, 0.05, 0.13])

# (utm_source, utm_medium) pairs per channel. Each pair maps to its channel under
# SPEC 1's default grouping (the tests re-derive it), and together they hit most
# branches of that table: e.g. linkedin/cpc is rule 1, not rule 2; linkedin/post
# reaches organic_social through the *source* clause of rule 6; (direct)/(none)
# falls through to "anything else". Repeats weight the draw.
_UTM_PAIRS: dict[str, Sequence[tuple[str | None, str | None]]] = {
    "paid_search": [("google", "cpc")] * 5 + [("google", "ppc"), ("bing", "cpc"),
                    ("google", "paid_search"), ("bing", "sem"), ("adwords", "paidsearch")],
    "paid_social": [("linkedin", "cpc")] * 4 + [("facebook", "cpc"), ("twitter", "ppc"),
                    ("reddit", "cpc"), ("linkedin", "paid_social"), ("instagram", "paidsocial"),
                    ("youtube", "cpc")],
    "display": [("google", "display"), ("doubleclick", "cpm"), ("criteo", "banner"),
                ("stackadapt", "programmatic")],
    "email": [("newsletter", "email")] * 3 + [("hubspot", "email"), ("marketo", "e-mail"),
              ("newsletter", "newsletter")],
    "organic_social": [("linkedin", "social"), ("twitter", "social"), ("facebook", "social"),
                       ("linkedin", "organic_social"), ("youtube", "social_media"),
                       ("x", "sm"), ("linkedin", "post")],
    "organic_search": [("google", "organic")] * 4 + [("bing", "organic"),
                       ("duckduckgo", "organic")],
    "referral": [("partner", "referral"), ("g2", "referral"), ("capterra", "affiliate"),
                 ("northwind-partners", "partner")],
    "event": [("saastr", "event"), ("dreamforce", "events"), ("booth", "tradeshow"),
              ("web-summit", "conference")],
    "webinar": [("zoom", "webinar"), ("on24", "webinar"), ("goto", "webinar")],
    "direct": [(None, None)] * 9 + [("(direct)", "(none)")],
}  # fmt: skip
_AD_VARIANTS = tuple(f"ad-{i:02d}" for i in range(1, 13))
_UTM_CONTENT: dict[str, Sequence[str | None]] = {
    "paid_search": _AD_VARIANTS,
    "paid_social": _AD_VARIANTS + ("carousel", "video-15s"),
    "display": _AD_VARIANTS + ("300x250", "728x90"),
    "email": ("cta-button", "header-link", "footer-link", None),
}
_UTM_TERM: dict[str, Sequence[str | None]] = {
    "paid_search": ("marketing attribution", "multi touch attribution software",
                    "b2b attribution", "roas calculator", "campaign analytics",
                    "revenue attribution", None),
}  # fmt: skip

_TOUCH_TYPES = (
    "page_view",
    "form_submit",
    "ad_click",
    "email_click",
    "event",
    "meeting",
    "webinar",
)
# P(touch_type | channel); rows in CHANNELS order, columns in _TOUCH_TYPES order.
_TOUCH_TYPE_P = np.array(
    [
        [0.35, 0.10, 0.55, 0.00, 0.00, 0.00, 0.00],  # paid_search
        [0.30, 0.10, 0.60, 0.00, 0.00, 0.00, 0.00],  # paid_social
        [0.25, 0.05, 0.70, 0.00, 0.00, 0.00, 0.00],  # display
        [0.20, 0.10, 0.00, 0.70, 0.00, 0.00, 0.00],  # email
        [0.85, 0.15, 0.00, 0.00, 0.00, 0.00, 0.00],  # organic_social
        [0.85, 0.15, 0.00, 0.00, 0.00, 0.00, 0.00],  # organic_search
        [0.80, 0.20, 0.00, 0.00, 0.00, 0.00, 0.00],  # referral
        [0.10, 0.10, 0.00, 0.00, 0.60, 0.20, 0.00],  # event
        [0.15, 0.15, 0.00, 0.00, 0.00, 0.00, 0.70],  # webinar
        [0.60, 0.15, 0.00, 0.00, 0.00, 0.25, 0.00],  # direct (sales meetings have no UTMs)
    ]
)

# Campaign channels and their share of campaigns; organic_search and direct
# have no campaigns.
_CAMPAIGN_CHANNELS = np.array(
    [
        _CH[c]
        for c in (
            "paid_search",
            "paid_social",
            "display",
            "email",
            "event",
            "webinar",
            "referral",
            "organic_social",
        )
    ]  # fmt: skip
)
_CAMPAIGN_CHANNEL_P = np.array([0.24, 0.20, 0.10, 0.20, 0.08, 0.09, 0.05, 0.04])
# Relative spend per touch by channel (CHANNELS order) and P(touch carries the
# campaign_id of the running campaign | channel).
_COST_FACTOR = np.array([1.6, 1.3, 1.0, 0.2, 0.5, 0.0, 0.6, 2.5, 0.5, 0.0])
_P_CAMPAIGN = np.array([0.92, 0.92, 0.95, 0.85, 0.30, 0.0, 0.40, 0.80, 0.85, 0.0])
_FLIGHTS_PER_LANE = 8  # campaigns of one channel run in parallel "lanes" of ~8 flights
_CHANNEL_LABELS = ("Paid Search", "Paid Social", "Display", "Email", "Organic Social",
                   "Organic Search", "Referral", "Event", "Webinar", "Direct")  # fmt: skip
_CHANNEL_SHORT = ("ps", "psoc", "disp", "em", "osoc", "seo", "ref", "evt", "web", "dir")
_THEMES = ("Pipeline Accelerator", "Attribution, Demystified", "Q-End Push", "Brand Lift",
           "ROI Calculator", "Customer Stories", "Product Launch", "Free Trial",
           "Analyst Report", "Retargeting", "Competitor Switch", "Summer Summit")  # fmt: skip

_OPEN_STAGES = ("Prospecting", "Qualification", "Proposal", "Negotiation")
_ROLES = ("decision_maker", "champion", "influencer", "user")

# Stage history: the pipeline stages in order, then the two closed stages.
_HISTORY_STAGES = (
    "qualification",
    "discovery",
    "proposal",
    "negotiation",
    "closed_won",
    "closed_lost",
)
# Where an open deal currently is (its ``stage`` in opportunities) in _HISTORY_STAGES;
# Prospecting comes before qualification, so such a deal has only entered the first stage.
_OPEN_STAGE_CODE = {"Prospecting": 0, "Qualification": 0, "Proposal": 2, "Negotiation": 3}
_SALES_REPS = ("ana.silva", "ben.okafor", "chloe.martin", "diego.ramos", "emma.larsen",
               "farid.haddad")  # fmt: skip
_LEAD_COLUMNS = ("lead_id", "email", "account_domain", "created_at", "mql_at", "sql_at",
                 "first_sales_activity_at", "disqualified_at", "owner",
                 "converted_opportunity_id")  # fmt: skip
_STAGE_HISTORY_COLUMNS = ("opportunity_id", "stage", "entered_at")

# Time renderings: Z, Z with milliseconds, explicit offset, naive, date-only.
_Z, _ZMS, _OFFSET, _NAIVE, _DATE = range(5)


# ---------------------------------------------------------------------------
# small vectorized helpers
# ---------------------------------------------------------------------------
def _rng(seed: int, stream: int) -> np.random.Generator:
    """One independent generator per (seed, stream).

    Separate streams per table and per touch chunk mean that a chunk can be
    regenerated alone and that adding a column to one table does not shift
    the random draws of every other table.
    """
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, stream])))


def _pick(rng: np.random.Generator, p: Sequence[float] | np.ndarray, n: int) -> np.ndarray:
    """Categorical draws by inverse CDF (faster and more stable than rng.choice with p)."""
    cum = np.cumsum(np.asarray(p, dtype=np.float64))
    codes = np.searchsorted(cum / cum[-1], rng.random(n), side="right")
    return np.minimum(codes, len(cum) - 1)


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pl.Series:
    """``prefix`` + zero-padded number, e.g. ``t0000042``.

    A fixed width makes the ids sort the same as text (C collation, SPEC 3)
    and as numbers, so "the touch with the smaller id" means the same to everyone.
    """
    padded = pl.Series("id", numbers, dtype=pl.Int64).cast(pl.String).str.zfill(width)
    return (prefix + padded).alias("id")


def _lookup(values: Sequence[str | None], codes: np.ndarray) -> pl.Series:
    """Vectorized ``values[codes]`` into a polars string Series (nulls kept)."""
    return pl.Series(list(values), dtype=pl.String).gather(codes)


def _per_channel(rng: np.random.Generator, table: dict[str, Sequence[str | None]], channel: np.ndarray) -> pl.Series:
    """Uniform draw from each touch's channel-specific option list (null if none)."""
    flat: list[str | None] = []
    start = np.zeros(len(CHANNELS), dtype=np.int64)
    count = np.zeros(len(CHANNELS), dtype=np.int64)
    for code, name in enumerate(CHANNELS):
        options = list(table.get(name, ())) or [None]
        start[code], count[code] = len(flat), len(options)
        flat.extend(options)
    idx = start[channel] + (rng.random(len(channel)) * count[channel]).astype(np.int64)
    return _lookup(flat, idx)


def _render_ts(seconds: np.ndarray, form: np.ndarray, rng: np.random.Generator) -> pl.Series:
    """Render UTC epoch seconds as ISO-8601 text in the form chosen per row.

    An offset form shows local time plus the offset and a naive form is UTC
    (SPEC 1), so both keep the instant; the millisecond form adds < 1 s; the
    date-only form means 00:00 UTC of the UTC day (or its end, for closed_at).
    Hence ``a <= b`` on instants survives rendering a without milliseconds
    and b as closed_at (which is how deals are rendered). One strftime call
    serves all forms; the rest is cheap slicing and concatenation.
    """
    n = len(seconds)
    off = rng.integers(0, len(_OFFSETS), n)
    local = seconds + np.where(form == _OFFSET, _OFFSET_MINUTES[off] * 60, 0)
    millis = rng.integers(0, 1000, n)
    frame = pl.DataFrame(
        {
            "local": local,
            "form": form.astype(np.int8),
            "ms": millis,
            "off": _lookup(_OFFSETS, off),
        }
    )
    base = pl.from_epoch(pl.col("local"), time_unit="s").dt.strftime("%Y-%m-%dT%H:%M:%S")
    form_c = pl.col("form")
    text = (
        pl.when(form_c == _Z)
        .then(base + "Z")
        .when(form_c == _ZMS)
        .then(pl.concat_str(base, pl.lit("."), pl.col("ms").cast(pl.String).str.zfill(3), pl.lit("Z")))
        .when(form_c == _OFFSET)
        .then(base + pl.col("off"))
        .when(form_c == _NAIVE)
        .then(pl.concat_str(base.str.slice(0, 10), pl.lit(" "), base.str.slice(11)))
        .otherwise(base.str.slice(0, 10))
    )
    return frame.select(text.alias("ts")).to_series()


def _render_dates(days: np.ndarray) -> pl.Series:
    """Day offsets from 2024-01-01 as ``YYYY-MM-DD``."""
    secs = pl.Series(_START + days.astype(np.int64) * _DAY)
    return pl.from_epoch(secs, time_unit="s").dt.strftime("%Y-%m-%d")


def _render_money(cents: np.ndarray) -> pl.Series:
    """Whole cents as a decimal string with exactly two places (``48250.50``).

    Money is generated as integers and formatted by string arithmetic, never
    through floats, so there is no binary-rounding artefact like ``0.30000000000000004``.
    """
    frame = pl.DataFrame({"c": cents.astype(np.int64)})
    expr = pl.concat_str(
        (pl.col("c") // 100).cast(pl.String),
        pl.lit("."),
        (pl.col("c") % 100).cast(pl.String).str.zfill(2),
    )
    return frame.select(expr.alias("m")).to_series()


def _render_domain(domain: pl.Series, variant: np.ndarray, path: pl.Series) -> pl.Series:
    """Write a canonical domain the many ways people paste it into a form.

    Every variant normalizes back to ``domain`` under SPEC 1's domain rule
    (lower-case; drop scheme, one leading ``www.``, anything from ``/``; drop a
    trailing ``.``): plain, ``www.``, ``https://www.``, ``HTTPS://WWW.Acme-12.com/path``,
    upper case, ``http://d/`` and a trailing dot.
    """
    frame = pl.DataFrame({"d": domain, "v": variant.astype(np.int8), "p": path})
    d, v = pl.col("d"), pl.col("v")
    capitalized = d.str.slice(0, 1).str.to_uppercase() + d.str.slice(1)
    text = (
        pl.when(v == 1).then("www." + d)
        .when(v == 2).then("https://www." + d)
        .when(v == 3).then(pl.concat_str(pl.lit("HTTPS://WWW."), capitalized, pl.col("p")))
        .when(v == 4).then(d.str.to_uppercase())
        .when(v == 5).then(pl.concat_str(pl.lit("http://"), d, pl.lit("/")))
        .when(v == 6).then(d + ".")
        .otherwise(d)
    )  # fmt: skip
    return frame.select(text.alias("d")).to_series()


_DOMAIN_VARIANT_P = (0.57, 0.15, 0.08, 0.05, 0.08, 0.05, 0.02)


def _render_email(email: pl.Series, variant: np.ndarray) -> pl.Series:
    """Emails as typed by humans and CRMs: mostly lower case, some Title or UPPER, rare padding.

    All variants normalize back (SPEC 1: trimmed, lower-cased).
    """
    frame = pl.DataFrame({"e": email, "v": variant.astype(np.int8)})
    e, v = pl.col("e"), pl.col("v")
    text = (
        pl.when(v == 1).then(e.str.to_titlecase())
        .when(v == 2).then(e.str.to_uppercase())
        .when(v == 3).then(pl.concat_str(pl.lit(" "), e, pl.lit(" ")))
        .otherwise(e)
    )  # fmt: skip
    return frame.select(text.alias("e")).to_series()


_EMAIL_VARIANT_P = (0.935, 0.04, 0.02, 0.005)


def _masked(series: pl.Series, keep: np.ndarray) -> pl.Series:
    """Null out rows where ``keep`` is false (missing values are written as empty / null)."""
    return pl.DataFrame({"s": series, "k": keep}).select(pl.when(pl.col("k")).then(pl.col("s")).alias("s")).to_series()


# ---------------------------------------------------------------------------
# the world: accounts, contacts, deals and campaigns (small, built once)
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class _Accounts:
    """Accounts and their people, as canonical (already normalized) strings.

    Contacts of account ``a`` are rows ``contact_start[a] .. + n_contacts[a]``
    of the contact arrays, so "a random person at this account" is index
    arithmetic, vectorized over millions of touches.
    """

    n_company: int  # accounts 0 .. n_company-1 are companies, the rest consultants
    domain: pl.Series
    contact_start: np.ndarray
    n_contacts: np.ndarray
    email: pl.Series
    freemail: np.ndarray  # per contact


@dataclass(frozen=True)
class _Deals:
    """What touch generation needs to know about each opportunity (times in epoch seconds)."""

    account: np.ndarray
    created: np.ndarray
    conversion: np.ndarray  # closed_at, or the end of the data for open deals
    closed: np.ndarray
    research: np.ndarray  # seconds of research before created_at
    cum_weight: np.ndarray  # cumulative share of journey touches
    frame: pl.DataFrame  # the opportunities table as written


@dataclass(frozen=True)
class _Campaigns:
    """Campaign flights, indexed for "which campaign was running for this touch".

    ``key`` is ``lane * 2**32 + start second`` sorted, and ``row[i]`` the
    campaign (row of ``frame``) of ``key[i]``; ids and slugs have the known
    campaigns first, then the unknown ones (deleted from the ad account).
    """

    lane_start: np.ndarray  # per channel: first lane
    lane_count: np.ndarray  # per channel: number of lanes (0 = no campaigns)
    key: np.ndarray
    row: np.ndarray
    ids: pl.Series
    slugs: pl.Series
    n_known: int
    n_unknown: int
    frame: pl.DataFrame  # the campaigns table as written


def _build_accounts(rng: np.random.Generator, n_touches: int) -> _Accounts:
    """Company accounts (plus ~2% one-person consultant "accounts" on free mail) and their contacts.

    Roughly one company per 60 touches with 1-25 contacts each (mean ~5), so
    each person has a dozen touches, as in a real B2B funnel. About 4.5% of
    company contacts (and all consultants) use free-mail addresses: the
    pipeline must not derive an account from gmail.com.
    """
    n_company = max(4, round(n_touches / 60))
    n_consult = max(1, round(n_company * 0.02))
    n_acct = n_company + n_consult
    company = np.arange(n_acct) < n_company

    # Company domains are unique by construction: the account number is in the name.
    word = _lookup(_COMPANY_WORDS, rng.integers(0, len(_COMPANY_WORDS), n_company))
    tld = _lookup(_TLDS, rng.integers(0, len(_TLDS), n_company))
    sub = _lookup(_SUBDOMAINS, rng.integers(0, len(_SUBDOMAINS), n_company))
    has_sub = rng.random(n_company) < 0.10
    number = pl.Series(np.arange(1, n_company + 1)).cast(pl.String)
    company_domain = (
        pl.DataFrame({"w": word, "t": tld, "s": sub, "h": has_sub, "n": number})
        .select(
            pl.concat_str(
                pl.when(pl.col("h")).then(pl.col("s") + ".").otherwise(pl.lit("")),
                pl.col("w"),
                pl.lit("-"),
                pl.col("n"),
                pl.lit("."),
                pl.col("t"),
            )  # fmt: skip
        )
        .to_series()
    )
    consult_domain = _lookup(_FREEMAIL, rng.integers(0, len(_FREEMAIL), n_consult))
    acct_domain = pl.concat([company_domain, consult_domain]).alias("domain")

    n_contacts = np.where(
        company,
        1 + np.minimum(rng.poisson(4.0, n_acct), 24),
        1 + (rng.random(n_acct) < 0.3),
    ).astype(np.int64)
    contact_start = np.concatenate([[0], np.cumsum(n_contacts)[:-1]]).astype(np.int64)
    n_all = int(n_contacts.sum())
    acct_of = np.repeat(np.arange(n_acct), n_contacts)
    idx_in_acct = np.arange(n_all) - contact_start[acct_of]
    freemail = ~company[acct_of] | (rng.random(n_all) < 0.045)

    # Distinct first names within an account => distinct company emails.
    first_offset = rng.integers(0, len(_FIRST_NAMES), n_acct)
    first = _lookup(_FIRST_NAMES, (first_offset[acct_of] + idx_in_acct) % len(_FIRST_NAMES))
    last = _lookup(_LAST_NAMES, rng.integers(0, len(_LAST_NAMES), n_all))
    pattern = rng.integers(0, 3, n_acct)[acct_of]  # each company has one address scheme
    fm_domain = _lookup(_FREEMAIL, rng.integers(0, len(_FREEMAIL), n_all))
    contact_no = pl.Series(np.arange(1, n_all + 1)).cast(pl.String)
    frame = pl.DataFrame(
        {
            "f": first, "l": last, "p": pattern, "fm": freemail, "fmd": fm_domain,
            "ad": acct_domain.gather(acct_of), "company": company[acct_of], "no": contact_no,
        }
    )  # fmt: skip
    first_c, last_c = pl.col("f"), pl.col("l")
    company_local = (
        pl.when(pl.col("p") == 0).then(pl.concat_str(first_c, pl.lit("."), last_c))
        .when(pl.col("p") == 1).then(pl.concat_str(first_c, pl.lit("_"), last_c))
        .otherwise(first_c)
    )  # fmt: skip
    # Free-mail addresses are shared namespaces: the contact number keeps them unique.
    freemail_local = pl.concat_str(first_c, pl.lit("."), last_c, pl.col("no"))
    email = frame.select(
        pl.when(~pl.col("fm"))
        .then(pl.concat_str(company_local, pl.lit("@"), pl.col("ad")))
        .when(pl.col("company"))
        .then(pl.concat_str(freemail_local, pl.lit("@"), pl.col("fmd")))
        .otherwise(pl.concat_str(freemail_local, pl.lit("@"), pl.col("ad")))
        .alias("email")
    ).to_series()
    return _Accounts(n_company, acct_domain, contact_start, n_contacts, email, freemail)


def _build_deals(rng: np.random.Generator, n_touches: int, accounts: _Accounts) -> _Deals:
    """About one deal per 40 touches: 30% won, 40% lost, 30% open.

    Closed deals are created, then closed 1 week to 1 year later (median
    about two months) and always before the end of the data; open deals are
    mostly recent, as in a live pipeline. ~2% of deals belong to consultants
    whose account_domain is a free-mail domain (SPEC 3: such a deal matches
    only by contact or by a *given* free-mail account_domain).
    """
    n_company = accounts.n_company
    n_consult = len(accounts.n_contacts) - n_company
    n_opp = max(2, round(n_touches / 40))
    n_free = max(1, round(n_opp * 0.02))
    acct = np.concatenate([rng.integers(0, n_company, n_opp - n_free), n_company + rng.integers(0, n_consult, n_free)])
    acct = acct[rng.permutation(n_opp)]

    status = _pick(rng, (0.30, 0.40, 0.30), n_opp)  # 0 won, 1 lost, 2 open
    closed = status < 2
    won = status == 0
    cycle = np.clip(np.exp(rng.normal(np.log(60.0), 0.7, n_opp)), 7, 365) * _DAY
    cycle = cycle.astype(np.int64)
    earliest = _START + 20 * _DAY
    created_closed = earliest + (rng.random(n_opp) * (_END - cycle - earliest)).astype(np.int64)
    open_age = np.minimum(rng.exponential(90.0, n_opp) * _DAY, (_END - earliest) - _DAY)
    created_open = (_END - _DAY - open_age).astype(np.int64)
    created = np.where(closed, created_closed, created_open)
    closed_at = created + cycle
    conv = np.where(closed, closed_at, _END)

    # Amounts: log-normal around $20k; mostly round numbers like real quotes.
    dollars = np.clip(np.exp(rng.normal(np.log(20_000.0), 0.9, n_opp)), 1_000, 2_000_000)
    rounding = _pick(rng, (0.6, 0.3, 0.1), n_opp)
    cents = np.where(
        rounding == 0,
        np.maximum(1, np.round(dollars / 250)).astype(np.int64) * 25_000,
        np.where(
            rounding == 1,
            np.round(dollars).astype(np.int64) * 100,
            np.round(dollars * 100).astype(np.int64),
        ),
    )

    stage = np.where(won, "Closed Won", np.where(closed, "Closed Lost", ""))
    open_stage = np.array(_OPEN_STAGES)[rng.integers(0, len(_OPEN_STAGES), n_opp)]
    stage = np.where(closed, stage, open_stage)

    created_form = _pick(rng, (0.75, 0.0, 0.10, 0.05, 0.10), n_opp)
    closed_form = _pick(rng, (0.70, 0.0, 0.10, 0.05, 0.15), n_opp)
    domain_variant = _pick(rng, (0.85, 0.05, 0.04, 0.02, 0.04), n_opp)
    page = _lookup(("/", "/about", "/en-us/"), rng.integers(0, 3, n_opp))

    frame = pl.DataFrame(
        {
            "opportunity_id": _ids("opp-", np.arange(1, n_opp + 1), max(6, len(str(n_opp)))),
            "account_domain": _render_domain(accounts.domain.gather(acct), domain_variant, page),
            "created_at": _render_ts(created, created_form, rng),
            "closed_at": _masked(_render_ts(closed_at, closed_form, rng), closed),
            "stage": pl.Series(stage, dtype=pl.String),
            "is_closed": _render_bool(closed, rng),
            "is_won": _render_bool(won, rng),
            "amount": _render_money(cents),
            "currency": pl.Series(["USD"] * n_opp, dtype=pl.String),
        }
    )
    return _Deals(
        account=acct,
        created=created,
        conversion=conv,
        closed=closed,
        # Research starts 2 weeks to 10 months before the deal is opened.
        research=(rng.uniform(14, 300, n_opp) * _DAY).astype(np.int64),
        # Exponential journey sizes: some deals get 1-2 touches, a few hundreds.
        cum_weight=np.cumsum(rng.exponential(1.0, n_opp)),
        frame=frame,
    )


def _render_bool(values: np.ndarray, rng: np.random.Generator) -> pl.Series:
    """Mostly ``true``/``false``, with ~10% other spellings SPEC 1 accepts (TRUE, 1/0, yes/no)."""
    style = _pick(rng, (0.90, 0.04, 0.03, 0.03), len(values))
    true = np.array(["true", "TRUE", "1", "yes"])
    false = np.array(["false", "FALSE", "0", "no"])
    return pl.Series(np.where(values, true[style], false[style]), dtype=pl.String)


def _build_campaigns(rng: np.random.Generator, n_touches: int) -> _Campaigns:
    """About one campaign per 2000 touches (at least 12), run as consecutive flights.

    Each campaign channel has one or more parallel "lanes"; a lane is a
    sequence of flights, each ending the day before the next starts (the last
    one is usually still running: empty end_date). A touch of that channel
    picks a lane and gets the flight running at its time, so campaign_ids on
    touches are consistent with campaign dates and channels. Costs scale with
    the touches a campaign draws (so ROAS is plausible at any size), and ~15%
    are unknown (null, not 0).
    """
    n_camp = max(12, round(n_touches / 2000))
    n_cc = len(_CAMPAIGN_CHANNELS)
    which = np.concatenate([np.arange(n_cc), _pick(rng, _CAMPAIGN_CHANNEL_P, n_camp - n_cc)])
    channel = _CAMPAIGN_CHANNELS[which]

    per_channel = np.bincount(channel, minlength=len(CHANNELS))
    lane_count = np.where(per_channel > 0, np.maximum(1, per_channel // _FLIGHTS_PER_LANE), 0)
    lane_start = np.concatenate([[0], np.cumsum(lane_count)[:-1]])

    # Rank of each campaign within its channel -> lane and flight number.
    order = np.argsort(channel, kind="stable")
    rank = np.empty(n_camp, dtype=np.int64)
    rank[order] = np.arange(n_camp) - np.searchsorted(channel[order], channel[order])
    lane = lane_start[channel] + rank % lane_count[channel]
    first_flight = rank < lane_count[channel]
    start_day = np.where(first_flight, 0, rng.integers(1, _SPAN_DAYS - 30, n_camp))

    by_lane = np.lexsort((start_day, lane))
    lane_s, day_s = lane[by_lane], start_day[by_lane]
    last_in_lane = np.append(lane_s[1:] != lane_s[:-1], True)
    next_day = np.append(day_s[1:], _SPAN_DAYS)
    end_day_s = np.maximum(day_s, next_day - 1)
    end_known_s = np.where(last_in_lane, rng.random(n_camp) < 0.3, rng.random(n_camp) >= 0.08)
    end_day_s = np.where(last_in_lane, _SPAN_DAYS - 1, end_day_s)

    # Campaign ids follow launch order, like a real ad account.
    launch = np.lexsort((lane_s, day_s))
    row_of_sorted = np.empty(n_camp, dtype=np.int64)
    row_of_sorted[launch] = np.arange(n_camp)
    ch_s = channel[by_lane]

    n_unknown = max(3, n_camp // 40)
    width = max(5, len(str(n_camp + n_unknown)))
    ids = _ids("cmp-", np.arange(1, n_camp + n_unknown + 1), width)

    rows = np.empty(n_camp, dtype=np.int64)
    rows[row_of_sorted] = np.arange(n_camp)  # sorted position of each output row
    r_ch, r_day, r_end, r_end_known = ch_s[rows], day_s[rows], end_day_s[rows], end_known_s[rows]
    theme = rng.integers(0, len(_THEMES), n_camp)
    month = _render_dates(r_day).str.slice(0, 7)
    name = (
        pl.DataFrame({"t": _lookup(_THEMES, theme), "c": _lookup(_CHANNEL_LABELS, r_ch), "m": month})
        .select(pl.concat_str("t", "c", "m", separator=" | "))
        .to_series()
    )
    theme_slug = _lookup(_THEMES, theme).str.to_lowercase().str.replace_all(r"[^a-z0-9]+", "-")
    slug = (
        pl.DataFrame({"t": theme_slug, "c": _lookup(_CHANNEL_SHORT, r_ch), "m": month, "i": ids[:n_camp]})
        .select(pl.concat_str("t", "c", "m", "i", separator="_"))
        .to_series()
    )
    # Unknown ids look like campaigns deleted from the ad account after the fact.
    slugs = pl.concat([slug, "legacy_" + ids[n_camp:]])

    expected_touches = n_touches / n_camp
    cost_cents = (expected_touches * 40 * _COST_FACTOR[r_ch] * np.exp(rng.normal(0, 0.6, n_camp)) * 100).astype(np.int64)
    cost_cents = np.where(rng.random(n_camp) < 0.5, cost_cents // 100 * 100, cost_cents)
    channel_text = _lookup(CHANNELS, r_ch)
    upper = rng.random(n_camp) < 0.10

    frame = pl.DataFrame(
        {
            "campaign_id": ids[:n_camp],
            "campaign_name": name,
            "channel": pl.DataFrame({"c": channel_text, "u": upper})
            .select(pl.when(pl.col("u")).then(pl.col("c").str.to_uppercase()).otherwise(pl.col("c")))
            .to_series(),
            "start_date": _render_dates(r_day),
            "end_date": _masked(_render_dates(r_end), r_end_known),
            "cost": _masked(_render_money(cost_cents), rng.random(n_camp) >= 0.15),
            "currency": pl.Series(["USD"] * n_camp, dtype=pl.String),
        }
    )
    return _Campaigns(
        lane_start=lane_start,
        lane_count=lane_count,
        key=lane_s.astype(np.int64) * (1 << 32) + (_START + day_s * _DAY),
        row=row_of_sorted,
        ids=ids,
        slugs=slugs,
        n_known=n_camp,
        n_unknown=n_unknown,
        frame=frame,
    )


def _build_contacts(rng: np.random.Generator, accounts: _Accounts, deals: _Deals) -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
    """1-4 people per deal from its account, first usually the decision maker; ~2% rows repeated.

    Contacts are what ties free-mail people (and consultants) to deals, so
    they are drawn from the account's whole contact list, free-mail included.
    ~2% of rows are repeated right after the original (CRM exports do that).
    The copies are identical in every column, not just in (opportunity_id,
    email): SPEC 1 says a repeat counts once, and SPEC 2 keeps one copy of
    fully identical rows, so the link survives either reading.

    Also returns, per distinct (deal, person) link in written order, the deal
    and the person (contact index): leads need to know who is on which deal.
    """
    opp_acct = deals.account
    n_c = accounts.n_contacts[opp_acct]
    start = accounts.contact_start[opp_acct]
    k = np.minimum(n_c, 1 + _pick(rng, (0.35, 0.30, 0.20, 0.15), len(opp_acct)))
    opp = np.repeat(np.arange(len(opp_acct)), k)
    j = np.arange(len(opp)) - np.repeat(np.cumsum(k) - k, k)
    offset = rng.integers(0, 1 << 30, len(opp_acct))
    contact = start[opp] + (offset[opp] + j) % n_c[opp]
    role = np.where((j == 0) & (rng.random(len(opp)) < 0.7), 0, _pick(rng, (0.1, 0.35, 0.35, 0.2), len(opp)))
    email = _render_email(accounts.email.gather(contact), _pick(rng, (0.95, 0.05), len(opp)))

    dup = np.flatnonzero(rng.random(len(opp)) < 0.02)
    if dup.size == 0:
        dup = np.array([0])
    rows = np.sort(np.concatenate([np.arange(len(opp)), dup]), kind="stable")
    frame = pl.DataFrame(
        {
            "opportunity_id": deals.frame["opportunity_id"].gather(opp[rows]),
            "email": email.gather(rows),
            "role": _lookup(_ROLES, role[rows]),
        }
    )
    return frame, opp, contact


@dataclass(frozen=True)
class _World:
    """Everything but the touches: small (a few % of the touch count), built once per run."""

    accounts: _Accounts
    deals: _Deals
    campaigns: _Campaigns
    contacts: pl.DataFrame  # the opportunity_contacts table as written
    link_opp: np.ndarray  # per distinct (deal, person) link of contacts: the deal ...
    link_person: np.ndarray  # ... and the person (index into accounts.email)


# RNG streams (never reuse or reorder: each one fixes the bytes of its table):
# 0 accounts, 1 deals, 2 campaigns, 3 opportunity_contacts, 4 leads,
# 5 opportunity_stage_history, 100 + part for touch chunk ``part``.
_STREAM_LEADS = 4
_STREAM_STAGE_HISTORY = 5
_STREAM_TOUCHES = 100


def _build_world(n_touches: int, seed: int) -> _World:
    accounts = _build_accounts(_rng(seed, 0), n_touches)
    deals = _build_deals(_rng(seed, 1), n_touches, accounts)
    campaigns = _build_campaigns(_rng(seed, 2), n_touches)
    contacts, link_opp, link_person = _build_contacts(_rng(seed, 3), accounts, deals)
    return _World(accounts, deals, campaigns, contacts, link_opp, link_person)


# ---------------------------------------------------------------------------
# touches, one chunk at a time
# ---------------------------------------------------------------------------
def _utm_pair_table() -> tuple[pl.Series, pl.Series, np.ndarray, np.ndarray]:
    """Flatten _UTM_PAIRS: sources, mediums, and per channel the first pair and the pair count."""
    pairs: list[tuple[str | None, str | None]] = []
    start = np.zeros(len(CHANNELS), dtype=np.int64)
    count = np.zeros(len(CHANNELS), dtype=np.int64)
    for code, name in enumerate(CHANNELS):
        start[code], count[code] = len(pairs), len(_UTM_PAIRS[name])
        pairs.extend(_UTM_PAIRS[name])
    sources = pl.Series([src for src, _ in pairs], dtype=pl.String)
    mediums = pl.Series([med for _, med in pairs], dtype=pl.String)
    return sources, mediums, start, count


def _touch_chunk(world: _World, rng: np.random.Generator, first: int, n: int, width: int) -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
    """``n`` touches with ids ``first+1 ..``: 75% deal journeys, 17% nurture, 8% anonymous.

    Journey touches pick a deal (exponentially weighted, so journey lengths
    vary a lot), a person at its account, and a time between the start of
    research (up to ~10 months before created_at) and the close, skewed
    towards the close; 5% of them fall after the close. Nurture touches are
    people of any account at any time; anonymous ones have neither email nor
    account. 10% of identified touches have no email but a given
    account_domain (reverse-IP / ad-platform data); free-mail people never
    carry an account_domain.

    Besides the frame, returns the person (contact index) and the epoch
    second of every touch that carries an email, so that leads can start at
    each person's first identified touch. Returning them draws nothing.
    """
    accounts, deals, campaigns = world.accounts, world.deals, world.campaigns

    # Who: a deal's account, or any account; then a person there.
    kind = rng.random(n)
    journey = kind < 0.75
    anon = kind >= 0.92
    opp = np.searchsorted(deals.cum_weight, rng.random(n) * deals.cum_weight[-1], side="right")
    opp = np.minimum(opp, len(deals.account) - 1)
    acct = np.where(journey, deals.account[opp], rng.integers(0, len(accounts.n_contacts), n))
    contact = accounts.contact_start[acct] + (rng.random(n) * accounts.n_contacts[acct]).astype(np.int64)
    freemail = accounts.freemail[contact]

    # When: inside the deal's research-to-close window, after the close, or any time.
    conv, created = deals.conversion[opp], deals.created[opp]
    research = np.maximum(_START, created - deals.research[opp])
    t_in = research + ((conv - research) * rng.random(n) ** 0.75).astype(np.int64)
    after = journey & deals.closed[opp] & (rng.random(n) < 0.05)
    t_after = conv + (np.minimum(90 * _DAY, _END - conv) * rng.random(n)).astype(np.int64)
    t_any = _START + (rng.random(n) * (_END - _START)).astype(np.int64)
    t = np.where(journey, np.where(after, t_after, t_in), t_any)

    has_email = ~anon & (rng.random(n) >= 0.10)
    has_domain = ~anon & ~freemail & (~has_email | (rng.random(n) < 0.66))

    # How: channel, then UTMs that SPEC 1's grouping maps back to that channel.
    channel = _pick(rng, _CHANNEL_P, n)
    utm_sources, utm_mediums, pair_start, pair_count = _utm_pair_table()
    pair = pair_start[channel] + (rng.random(n) * pair_count[channel]).astype(np.int64)
    utm_case = _pick(rng, (0.94, 0.03, 0.03), n)  # as is / both UPPER / Title source
    channel_given = rng.random(n) < 0.40
    channel_upper = rng.random(n) < 0.12

    # Campaign: the flight running at t in a random lane of the channel.
    lanes = campaigns.lane_count[channel]
    lane = campaigns.lane_start[channel] + (rng.random(n) * np.maximum(lanes, 1)).astype(np.int64)
    slot = np.searchsorted(campaigns.key, lane * (1 << 32) + t, side="right") - 1
    camp = campaigns.row[np.clip(slot, 0, len(campaigns.row) - 1)]
    attach = (lanes > 0) & (rng.random(n) < _P_CAMPAIGN[channel])
    unknown = attach & (rng.random(n) < 0.01)
    camp = np.where(unknown, campaigns.n_known + rng.integers(0, campaigns.n_unknown, n), camp)
    camp = np.where(attach, camp, 0)

    type_cum = np.cumsum(_TOUCH_TYPE_P, axis=1)[channel]
    touch_type = np.minimum((rng.random(n)[:, None] >= type_cum).sum(axis=1), len(_TOUCH_TYPES) - 1)
    del type_cum
    has_type = rng.random(n) >= 0.02
    page = rng.integers(0, len(_PAGES), n)
    has_page = ~np.isin(touch_type, (_TOUCH_TYPES.index("event"), _TOUCH_TYPES.index("meeting")))

    form = _pick(rng, (0.64, 0.16, 0.08, 0.09, 0.03), n)  # Z, Z+ms, offset, naive, date
    frame = pl.DataFrame(
        {
            "touch_id": _ids("t", np.arange(first + 1, first + n + 1), width),
            "occurred_at": _render_ts(t, form, rng),
            "email": _render_email(accounts.email.gather(contact), _pick(rng, _EMAIL_VARIANT_P, n)),
            "account_domain": _render_domain(
                accounts.domain.gather(acct),
                _pick(rng, _DOMAIN_VARIANT_P, n),
                _lookup(_PAGES, page),
            ),
            "channel": _lookup(CHANNELS, channel),
            "campaign_id": campaigns.ids.gather(camp),
            "utm_source": utm_sources.gather(pair),
            "utm_medium": utm_mediums.gather(pair),
            "utm_campaign": campaigns.slugs.gather(camp),
            "utm_content": _per_channel(rng, _UTM_CONTENT, channel),
            "utm_term": _per_channel(rng, _UTM_TERM, channel),
            "touch_type": _lookup(_TOUCH_TYPES, touch_type),
            "landing_page": _lookup(_PAGES, page),
            "has_email": has_email,
            "has_domain": has_domain,
            "channel_given": channel_given,
            "channel_upper": channel_upper,
            "attach": attach,
            "has_type": has_type,
            "has_page": has_page,
            "utm_case": utm_case.astype(np.int8),
        }
    )

    def kept(flag: str, column: str) -> pl.Expr:
        return pl.when(pl.col(flag)).then(pl.col(column)).alias(column)

    case = pl.col("utm_case")
    upper_channel = pl.col("channel").str.to_uppercase()
    seen_person, seen_at = contact[has_email], t[has_email]
    frame = frame.select(
        "touch_id",
        "occurred_at",
        kept("has_email", "email"),
        kept("has_domain", "account_domain"),
        pl.when(pl.col("channel_given"))
        .then(pl.when(pl.col("channel_upper")).then(upper_channel).otherwise(pl.col("channel")))
        .alias("channel"),
        kept("attach", "campaign_id"),
        pl.when(case == 1)
        .then(pl.col("utm_source").str.to_uppercase())
        .when(case == 2)
        .then(pl.col("utm_source").str.to_titlecase())
        .otherwise(pl.col("utm_source"))
        .alias("utm_source"),
        pl.when(case == 1).then(pl.col("utm_medium").str.to_uppercase()).otherwise(pl.col("utm_medium")).alias("utm_medium"),
        kept("attach", "utm_campaign"),
        "utm_content",
        "utm_term",
        kept("has_type", "touch_type"),
        kept("has_page", "landing_page"),
    )
    return frame, seen_person, seen_at


# ---------------------------------------------------------------------------
# leads and opportunity stage history (after the touches: leads start at them)
# ---------------------------------------------------------------------------
def _render_utc(seconds: np.ndarray, keep: np.ndarray | None = None) -> pl.Series:
    """Epoch seconds as ``2024-03-01T10:00:00Z`` (null where ``keep`` is false)."""
    text = pl.from_epoch(pl.Series(seconds.astype(np.int64)), time_unit="s").dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return text if keep is None else _masked(text, keep)


def _converted_deal(world: _World) -> np.ndarray:
    """Per person, the deal their lead converted into (-1 for none): about one person per deal.

    A deal converts one of its opportunity_contacts, preferably the first
    (usually the decision maker); a person converts at most once, into the
    earliest-created of their deals. A few proposal rounds settle conflicts
    (people on several deals); a deal whose people all converted elsewhere
    keeps no lead.
    """
    deals = world.deals
    n_people = len(world.accounts.email)
    order = np.lexsort((np.arange(len(world.link_opp)), deals.created[world.link_opp]))
    pair_opp, pair_person = world.link_opp[order], world.link_person[order]
    deal_of = np.full(n_people, -1, dtype=np.int64)
    person_of = np.full(len(deals.created), -1, dtype=np.int64)
    for _round in range(6):
        free = np.flatnonzero((person_of[pair_opp] < 0) & (deal_of[pair_person] < 0))
        if free.size == 0:
            break
        _, first = np.unique(pair_opp[free], return_index=True)  # each deal's first free person
        proposals = np.sort(free[first])  # in pair order: earliest deal first
        _, taken = np.unique(pair_person[proposals], return_index=True)
        accepted = proposals[taken]
        person_of[pair_opp[accepted]] = pair_person[accepted]
        deal_of[pair_person[accepted]] = pair_opp[accepted]
    return deal_of


def _build_leads(rng: np.random.Generator, world: _World, first_seen: np.ndarray) -> pl.DataFrame:
    """One lead per person of the world, with a funnel consistent with the deals.

    created_at is the person's first touch that carries their email (a few
    minutes later: the CRM syncs), or any time for people never seen. About
    60% of leads reach MQL and half of those SQL. The lead of one person per
    deal converted into it: created, MQL and SQL on or before the UTC day the
    deal was created (so even a date-only created_at is not earlier). The
    funnel rates of the other leads are set so that the totals stay near
    60% / 30%, however many leads converted. first_sales_activity_at is hours
    after mql_at (80% within a day, else 1-4 days), empty for ~15% of MQLs
    (the ones not yet at SQL: sales has not acted); ~20% of the leads that
    never reach SQL are disqualified some days later. A stage that would
    fall after the end of the data has not happened yet (empty), and so have
    the later stages. The owner is the account's sales rep, set from MQL on.
    """
    accounts, deals = world.accounts, world.deals
    n = len(accounts.email)
    n_acct = len(accounts.n_contacts)
    acct_of = np.repeat(np.arange(n_acct), accounts.n_contacts)
    hour = 3_600

    deal = _converted_deal(world)
    converted = deal >= 0
    n_conv = int(converted.sum())
    rest = max(1, n - n_conv)
    p_mql = float(np.clip((0.6 * n - n_conv) / rest, 0.3, 0.9))
    p_sql = float(np.clip((0.3 * n - n_conv) / (rest * p_mql), 0.1, 0.9))

    # created_at: the first identified touch, else any time but the last month.
    seen = first_seen < np.iinfo(np.int64).max
    lag = rng.integers(0, 900, n)
    t_any = _START + (rng.random(n) * (_END - 30 * _DAY - _START)).astype(np.int64)
    created = np.minimum(np.where(seen, first_seen + lag, t_any), _END)

    # Funnel of leads that did not convert.
    mql_delay = np.clip(np.exp(rng.normal(np.log(4.0 * _DAY), 1.3, n)), 60, 180 * _DAY)
    is_mql = rng.random(n) < p_mql
    is_sql = is_mql & (rng.random(n) < p_sql)
    mql = created + mql_delay.astype(np.int64)
    fast = rng.random(n) < 0.8
    act_delay = np.where(fast, rng.uniform(0.1, 24, n) * hour, rng.uniform(24, 96, n) * hour).astype(np.int64)
    sql_delay = np.clip(np.exp(rng.normal(np.log(10.0 * _DAY), 0.9, n)), _DAY, 200 * _DAY)
    sql = mql + act_delay + sql_delay.astype(np.int64)

    # Converted leads: the whole funnel fits before the deal's creation day.
    opp = np.maximum(deal, 0)
    deal_day = deals.created[opp] // _DAY * _DAY
    before = (rng.uniform(1, 19, n) * _DAY).astype(np.int64)
    conv_created = np.minimum(created, deal_day - before)
    conv_mql = conv_created + ((deal_day - conv_created) * rng.uniform(0.05, 0.6, n)).astype(np.int64)
    conv_sql = conv_mql + ((deal_day - conv_mql) * rng.uniform(0.5, 1.0, n)).astype(np.int64)
    created = np.where(converted, conv_created, created)
    mql = np.where(converted, conv_mql, mql)
    sql = np.where(converted, conv_sql, sql)
    is_mql = (converted | is_mql) & (mql <= _END)
    is_sql = (converted | is_sql) & is_mql & (sql <= _END)

    activity = mql + act_delay
    acted = is_mql & (is_sql | (rng.random(n) >= 0.30)) & (activity <= _END)

    after = np.maximum(created, np.where(is_mql, np.where(acted, activity, mql), created))
    disqualified = after + (rng.uniform(1, 45, n) * _DAY).astype(np.int64)
    is_dq = ~is_sql & (rng.random(n) < 0.20) & (disqualified <= _END)

    rep = rng.integers(0, len(_SALES_REPS), n_acct)[acct_of]

    # Lead ids follow creation order, as in a CRM; rows are written in id order.
    rows = np.lexsort((np.arange(n), created))
    frame = pl.DataFrame(
        {
            "lead_id": _ids("lead-", np.arange(1, n + 1), max(6, len(str(n)))),
            "email": accounts.email.gather(rows),
            "account_domain": _masked(accounts.domain.gather(acct_of[rows]), ~accounts.freemail[rows]),
            "created_at": _render_utc(created[rows]),
            "mql_at": _render_utc(mql[rows], is_mql[rows]),
            "sql_at": _render_utc(sql[rows], is_sql[rows]),
            "first_sales_activity_at": _render_utc(activity[rows], acted[rows]),
            "disqualified_at": _render_utc(disqualified[rows], is_dq[rows]),
            "owner": _masked(_lookup(_SALES_REPS, rep[rows]), is_mql[rows]),
            "converted_opportunity_id": _masked(deals.frame["opportunity_id"].gather(opp[rows]), converted[rows]),
        }
    )
    return frame.select(_LEAD_COLUMNS)


def _build_stage_history(rng: np.random.Generator, deals: _Deals) -> pl.DataFrame:
    """The stages each opportunity entered, from its created_at on, in a lightly shuffled order.

    Won deals mostly went through negotiation; lost ones dropped out at any
    stage; open deals stop at their current ``stage`` of opportunities. A
    closed deal ends with closed_won / closed_lost at exactly its closed_at.
    ~5% of the deals that passed two stages went back once (e.g. proposal ->
    negotiation -> proposal -> negotiation). Times are whole seconds,
    strictly increasing per deal: the first is created_at, the others fall
    between it and closed_at (or the end of the data, for open deals).
    """
    n_opp = len(deals.created)
    stage_text = deals.frame["stage"].to_numpy()
    won = stage_text == "Closed Won"
    closed = deals.closed

    reached_closed = np.where(won, 2 + (rng.random(n_opp) < 0.85), rng.integers(0, 4, n_opp))  # furthest pipeline stage of a closed deal
    reached = np.where(closed, reached_closed, 0)
    for name, code in _OPEN_STAGE_CODE.items():
        reached = np.where(~closed & (stage_text == name), code, reached)
    eligible = reached >= 1
    p_back = min(1.0, 0.05 * n_opp / max(1, int(eligible.sum())))
    back = eligible & (rng.random(n_opp) < p_back)
    back_at = 1 + (rng.random(n_opp) * np.maximum(reached, 1)).astype(np.int64)  # 1..reached

    count = reached + 1 + 2 * back + closed
    deal = np.repeat(np.arange(n_opp), count)
    start = np.cumsum(count) - count
    j = np.arange(len(deal)) - start[deal]
    b, i = back[deal], back_at[deal]
    code = np.where(b & (j == i + 1), i - 1, np.where(b & (j > i + 1), j - 2, j))
    last = j == count[deal] - 1
    code = np.where(closed[deal] & last, np.where(won[deal], 4, 5), code)

    # Times: a weight per gap before each row; row 0's weight is an open deal's
    # time in its current stage (it has not left it by the end of the data).
    # Row j lands at created + share of (span - rows) + j seconds: strictly increasing.
    weight = rng.uniform(0.3, 1.0, len(deal))
    reach = np.cumsum(np.where(j == 0, 0.0, weight))
    reach -= reach[start][deal]
    total = reach[start + count - 1] + np.where(closed, 0.0, weight[start])
    span = deals.conversion - deals.created - count  # conversion is _END for open deals
    t = deals.created[deal] + (span[deal] * (reach / total[deal])).astype(np.int64) + j
    t = np.where(closed[deal] & last, deals.conversion[deal], t)

    shuffle = np.argsort(np.arange(len(deal)) + rng.uniform(0, 6, len(deal)), kind="stable")
    return pl.DataFrame(
        {
            "opportunity_id": deals.frame["opportunity_id"].gather(deal[shuffle]),
            "stage": _lookup(_HISTORY_STAGES, code[shuffle]),
            "entered_at": _render_utc(t[shuffle]),
        }
    )


# ---------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------
def _write(frame: pl.DataFrame, path: Path, fmt: str, headers: dict[str, str]) -> None:
    """Write with the messy headers; every column is text so CSV and Parquet hold the same values.

    Parquet settings are pinned (zstd level 3, fixed row groups) because
    byte-identical output is part of the contract (SPEC 6: same seed, same
    bytes); polars puts no write time into the file.
    """
    frame = frame.rename(headers).rechunk()
    if fmt == "csv":
        frame.write_csv(path)
    else:
        frame.write_parquet(path, compression="zstd", compression_level=3, statistics=True, row_group_size=262_144)


def _clear_previous(out: Path) -> None:
    """Remove what an earlier generate() may have left for our sources (SOURCES).

    SPEC 1 reads ``<source>.csv``, ``<source>.parquet`` *and* every file in
    ``<source>/``, so a leftover ``touches.csv`` next to new part files (or a
    csv next to a parquet) would silently double the data. Only names this
    generator writes are removed; a foreign file in a source folder stops the
    run before anything is deleted, since it would be read as part of the source.
    """
    ours = [out / f"{source}.{ext}" for source in SOURCES for ext in ("csv", "parquet")]
    for source in SOURCES:
        folder = out / source
        if folder.is_dir():
            parts = [*folder.glob("part-*.csv"), *folder.glob("part-*.parquet")]
            foreign = sorted(p.name for p in folder.iterdir() if p not in parts)
            if foreign:
                raise FileExistsError(
                    f"{folder} holds files the sample-data generator did not write "
                    f"({', '.join(foreign[:3])}); they would be read as part of {source}. "
                    "Remove them or write to another folder."
                )
            ours.extend(parts)
    for path in ours:
        path.unlink(missing_ok=True)
    for source in SOURCES:
        if (out / source).is_dir():
            (out / source).rmdir()


def generate(
    out_dir: str | Path,
    touches: int = 20_000,
    seed: int = 1,
    fmt: Literal["csv", "parquet"] = "csv",
    progress: Callable[[str], None] | None = None,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> dict[str, int]:
    """Write a synthetic landing folder and return the rows written per source.

    Writes ``out_dir/touches.<fmt>``, ``campaigns.<fmt>``, ``opportunities.<fmt>``,
    ``opportunity_contacts.<fmt>``, ``leads.<fmt>`` and
    ``opportunity_stage_history.<fmt>``; when ``touches > chunk_rows`` the
    touches go to ``out_dir/touches/part-00000.<fmt>``, ... instead, one part
    per chunk, so that neither this generator nor a reader has to hold 10M
    rows at once. Everything else (accounts, deals, campaigns) is sized from
    ``touches``: ~1 deal per 40 touches, ~1 campaign per 2000 (at least 12)
    and ~1 lead (person) per 12.

    The same ``(touches, seed, fmt, chunk_rows)`` writes byte-identical files;
    files this generator wrote earlier for these sources (either format or
    layout) are removed first so that the folder holds exactly one copy of
    each source. ``progress`` receives one human-readable line per table and
    per touch chunk, for CLIs and long benchmark runs.
    """
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"fmt must be 'csv' or 'parquet', not {fmt!r}")
    if isinstance(touches, bool) or not isinstance(touches, int) or touches < 1:
        raise ValueError(f"touches must be a positive integer, not {touches!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, not {seed!r}")
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be positive, not {chunk_rows!r}")
    say = progress or (lambda _line: None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _clear_previous(out)

    began = time.perf_counter()
    world = _build_world(touches, seed)
    small = {
        "campaigns": (world.campaigns.frame, _CAMPAIGN_HEADERS),
        "opportunities": (world.deals.frame, _OPPORTUNITY_HEADERS),
        "opportunity_contacts": (world.contacts, _CONTACT_HEADERS),
        "opportunity_stage_history": (
            _build_stage_history(_rng(seed, _STREAM_STAGE_HISTORY), world.deals),
            {c: c for c in _STAGE_HISTORY_COLUMNS},
        ),
    }
    counts = {"touches": touches}
    for source, (frame, headers) in small.items():
        _write(frame, out / f"{source}.{fmt}", fmt, headers)
        counts[source] = frame.height
        say(f"{source}: {frame.height:,} rows -> {source}.{fmt}")

    n_parts = -(-touches // chunk_rows)
    width = max(7, len(str(touches)))
    if n_parts > 1:
        (out / "touches").mkdir()
    # Each person's first touch that carries their email: where their lead starts.
    first_seen = np.full(len(world.accounts.email), np.iinfo(np.int64).max, dtype=np.int64)
    for part in range(n_parts):
        first = part * chunk_rows
        n = min(chunk_rows, touches - first)
        chunk, person, at = _touch_chunk(world, _rng(seed, _STREAM_TOUCHES + part), first, n, width)
        np.minimum.at(first_seen, person, at)
        name = f"touches/part-{part:05d}.{fmt}" if n_parts > 1 else f"touches.{fmt}"
        _write(chunk, out / name, fmt, _TOUCH_HEADERS)
        del chunk, person, at
        elapsed = time.perf_counter() - began
        say(f"touches: part {part + 1}/{n_parts}, {n:,} rows -> {name} ({elapsed:.1f}s)")

    leads = _build_leads(_rng(seed, _STREAM_LEADS), world, first_seen)
    _write(leads, out / f"leads.{fmt}", fmt, {c: c for c in _LEAD_COLUMNS})
    counts["leads"] = leads.height
    say(f"leads: {leads.height:,} rows -> leads.{fmt}")
    return {source: counts[source] for source in SOURCES}
