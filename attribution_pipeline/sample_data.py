"""Seeded synthetic landing folder: realistic B2B touches, campaigns and deals.

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
  does not know about.

Everything written is *valid* under SPEC 1; producing invalid rows is the
job of the validation tests, not of this generator.

Determinism: all randomness comes from ``numpy.random.SeedSequence([seed,
stream])`` with one fixed stream per table and per touch chunk, values are
rendered as strings by polars (no float formatting, no locale), and Parquet
is written with fixed compression and row-group size (polars writes no
timestamps into the file), so the same ``(touches, seed, fmt, chunk_rows)``
gives byte-identical files. Across numpy/polars upgrades the bytes may
change; the shape of the data does not.

Scale: all work is vectorized (numpy for the random draws, polars for the
string rendering); the only Python loops run over chunks and over a handful
of channels. Touches are produced ``chunk_rows`` at a time, and above that
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

SOURCES = ("touches", "campaigns", "opportunities", "opportunity_contacts")
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
    "organic_search": [("google", "organic")] * 4 + [("bing", "organic"), ("duckduckgo", "organic")],
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

_TOUCH_TYPES = ("page_view", "form_submit", "ad_click", "email_click", "event", "meeting", "webinar")
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
    [_CH[c] for c in ("paid_search", "paid_social", "display", "email", "event",
                      "webinar", "referral", "organic_social")]  # fmt: skip
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
    """``prefix`` + zero-padded number, e.g. ``t0000042``: fixed width keeps C-collation order sane."""
    padded = pl.Series("id", numbers, dtype=pl.Int64).cast(pl.String).str.zfill(width)
    return (prefix + padded).alias("id")


def _lookup(values: Sequence[str | None], codes: np.ndarray) -> pl.Series:
    """Vectorized ``values[codes]`` into a polars string Series (nulls kept)."""
    return pl.Series(list(values), dtype=pl.String).gather(codes)


def _per_channel(
    rng: np.random.Generator, table: dict[str, Sequence[str | None]], channel: np.ndarray
) -> pl.Series:
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


def _render_ts(
    seconds: np.ndarray, form: np.ndarray, rng: np.random.Generator
) -> pl.Series:
    """Render UTC epoch seconds as ISO-8601 text in the form chosen per row.

    The instant is preserved by every form except date-only, which SPEC 1
    reads as 00:00 UTC of the (UTC) day, so ordering guarantees made on the
    instants survive rendering: an offset form shows local time plus the
    offset, a naive form is UTC by SPEC 1. One strftime call is shared by all
    forms; the rest is cheap slicing and concatenation.
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
    return pl.DataFrame({"s": series, "k": keep}).select(
        pl.when(pl.col("k")).then(pl.col("s")).alias("s")
    ).to_series()


# ---------------------------------------------------------------------------
# the world: accounts, contacts, deals and campaigns (small, built once)
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class _World:
    """Entities that every touch chunk draws from; sized from the touch count.

    Kept as numpy arrays (for index arithmetic) plus polars Series (for
    strings), so a chunk of touches is a handful of gathers.
    """

    acct_domain: pl.Series  # canonical (normalized) account domain
    acct_contact_start: np.ndarray
    acct_n_contacts: np.ndarray
    contact_email: pl.Series  # canonical (normalized) email
    contact_freemail: np.ndarray
    opp_acct: np.ndarray
    opp_created: np.ndarray  # epoch seconds
    opp_conv: np.ndarray  # closed_at, or the end of the data for open deals
    opp_closed: np.ndarray
    opp_lead: np.ndarray  # seconds of research before created_at
    opp_cum_weight: np.ndarray  # cumulative share of journey touches
    lane_start: np.ndarray  # per channel: first campaign lane
    lane_count: np.ndarray  # per channel: number of lanes (0 = no campaigns)
    camp_key: np.ndarray  # sorted lane * 2**32 + start second
    camp_row: np.ndarray  # campaign row for each camp_key
    campaign_ids: pl.Series  # known ids, then the unknown ones
    campaign_slugs: pl.Series  # utm_campaign for each id above
    n_campaigns: int
    n_unknown_campaigns: int
    frames: dict[str, pl.DataFrame]


def _build_accounts(rng: np.random.Generator, n_touches: int) -> dict[str, object]:
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
                pl.col("w"), pl.lit("-"), pl.col("n"), pl.lit("."), pl.col("t"),
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
    f, l = pl.col("f"), pl.col("l")
    company_local = (
        pl.when(pl.col("p") == 0).then(pl.concat_str(f, pl.lit("."), l))
        .when(pl.col("p") == 1).then(pl.concat_str(f, pl.lit("_"), l))
        .otherwise(f)
    )  # fmt: skip
    # Free-mail addresses are shared namespaces: the contact number keeps them unique.
    freemail_local = pl.concat_str(f, pl.lit("."), l, pl.col("no"))
    email = frame.select(
        pl.when(~pl.col("fm"))
        .then(pl.concat_str(company_local, pl.lit("@"), pl.col("ad")))
        .when(pl.col("company"))
        .then(pl.concat_str(freemail_local, pl.lit("@"), pl.col("fmd")))
        .otherwise(pl.concat_str(freemail_local, pl.lit("@"), pl.col("ad")))
        .alias("email")
    ).to_series()
    return {
        "n_company": n_company,
        "n_consult": n_consult,
        "acct_domain": acct_domain,
        "acct_contact_start": contact_start,
        "acct_n_contacts": n_contacts,
        "contact_email": email,
        "contact_freemail": freemail,
    }


def _build_opportunities(
    rng: np.random.Generator, n_touches: int, n_company: int, n_consult: int, acct_domain: pl.Series
) -> tuple[dict[str, np.ndarray], pl.DataFrame]:
    """About one deal per 40 touches: 30% won, 40% lost, 30% open.

    Closed deals are created, then closed 1 week to 1 year later (median
    about two months) and always before the end of the data; open deals are
    mostly recent, as in a live pipeline. ~2% of deals belong to consultants
    whose account_domain is a free-mail domain (SPEC 3: such a deal matches
    only by contact or by a *given* free-mail account_domain).
    """
    n_opp = max(2, round(n_touches / 40))
    n_free = max(1, round(n_opp * 0.02))
    acct = np.concatenate(
        [rng.integers(0, n_company, n_opp - n_free), n_company + rng.integers(0, n_consult, n_free)]
    )
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
            "account_domain": _render_domain(acct_domain.gather(acct), domain_variant, page),
            "created_at": _render_ts(created, created_form, rng),
            "closed_at": _masked(_render_ts(closed_at, closed_form, rng), closed),
            "stage": pl.Series(stage, dtype=pl.String),
            "is_closed": _render_bool(closed, rng),
            "is_won": _render_bool(won, rng),
            "amount": _render_money(cents),
            "currency": pl.Series(["USD"] * n_opp, dtype=pl.String),
        }
    )
    arrays = {
        "opp_acct": acct,
        "opp_created": created,
        "opp_conv": conv,
        "opp_closed": closed,
        # Research starts 2 weeks to 10 months before the deal is opened.
        "opp_lead": (rng.uniform(14, 300, n_opp) * _DAY).astype(np.int64),
        # Exponential journey sizes: some deals have 1-2 touches, a few have hundreds.
        "opp_cum_weight": np.cumsum(rng.exponential(1.0, n_opp)),
    }
    return arrays, frame


def _render_bool(values: np.ndarray, rng: np.random.Generator) -> pl.Series:
    """Mostly ``true``/``false``, with ~10% other spellings SPEC 1 accepts (TRUE, 1/0, yes/no)."""
    style = _pick(rng, (0.90, 0.04, 0.03, 0.03), len(values))
    true = np.array(["true", "TRUE", "1", "yes"])
    false = np.array(["false", "FALSE", "0", "no"])
    return pl.Series(np.where(values, true[style], false[style]), dtype=pl.String)


def _build_campaigns(
    rng: np.random.Generator, n_touches: int
) -> tuple[dict[str, object], pl.DataFrame]:
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
    name = pl.DataFrame(
        {"t": _lookup(_THEMES, theme), "c": _lookup(_CHANNEL_LABELS, r_ch), "m": month}
    ).select(pl.concat_str("t", "c", "m", separator=" | ")).to_series()
    theme_slug = _lookup(_THEMES, theme).str.to_lowercase().str.replace_all(r"[^a-z0-9]+", "-")
    slug = pl.DataFrame(
        {"t": theme_slug, "c": _lookup(_CHANNEL_SHORT, r_ch), "m": month, "i": ids[:n_camp]}
    ).select(pl.concat_str("t", "c", "m", "i", separator="_")).to_series()
    # Unknown ids look like campaigns deleted from the ad account after the fact.
    slugs = pl.concat([slug, "legacy_" + ids[n_camp:]])

    expected_touches = n_touches / n_camp
    cost_cents = (
        expected_touches * 40 * _COST_FACTOR[r_ch] * np.exp(rng.normal(0, 0.6, n_camp)) * 100
    ).astype(np.int64)
    cost_cents = np.where(rng.random(n_camp) < 0.5, cost_cents // 100 * 100, cost_cents)
    channel_text = _lookup(CHANNELS, r_ch)
    upper = rng.random(n_camp) < 0.10

    frame = pl.DataFrame(
        {
            "campaign_id": ids[:n_camp],
            "campaign_name": name,
            "channel": pl.DataFrame({"c": channel_text, "u": upper}).select(
                pl.when(pl.col("u")).then(pl.col("c").str.to_uppercase()).otherwise(pl.col("c"))
            ).to_series(),
            "start_date": _render_dates(r_day),
            "end_date": _masked(_render_dates(r_end), r_end_known),
            "cost": _masked(_render_money(cost_cents), rng.random(n_camp) >= 0.15),
            "currency": pl.Series(["USD"] * n_camp, dtype=pl.String),
        }
    )
    arrays = {
        "lane_start": lane_start,
        "lane_count": lane_count,
        "camp_key": lane_s.astype(np.int64) * (1 << 32) + (_START + day_s * _DAY),
        "camp_row": row_of_sorted,
        "campaign_ids": ids,
        "campaign_slugs": slugs,
        "n_campaigns": n_camp,
        "n_unknown_campaigns": n_unknown,
    }
    return arrays, frame


def _build_contacts(
    rng: np.random.Generator, accounts: dict[str, object], opp_acct: np.ndarray, opp_ids: pl.Series
) -> pl.DataFrame:
    """1-4 people per deal from its account, first usually the decision maker; ~2% rows repeated.

    Contacts are what ties free-mail people (and consultants) to deals, so
    they are drawn from the account's whole contact list, free-mail included.
    The repeated (opportunity_id, email) rows are exact copies or differ only
    in email case: SPEC 1 says a repeat counts once.
    """
    n_c = np.asarray(accounts["acct_n_contacts"])[opp_acct]
    start = np.asarray(accounts["acct_contact_start"])[opp_acct]
    k = np.minimum(n_c, 1 + _pick(rng, (0.35, 0.30, 0.20, 0.15), len(opp_acct)))
    opp = np.repeat(np.arange(len(opp_acct)), k)
    j = np.arange(len(opp)) - np.repeat(np.cumsum(k) - k, k)
    offset = rng.integers(0, 1 << 30, len(opp_acct))
    contact = start[opp] + (offset[opp] + j) % n_c[opp]
    role = np.where(
        (j == 0) & (rng.random(len(opp)) < 0.7), 0, _pick(rng, (0.1, 0.35, 0.35, 0.2), len(opp))
    )
    email = _render_email(
        pl.Series(accounts["contact_email"]).gather(contact), _pick(rng, (0.95, 0.05), len(opp))
    )

    dup = np.flatnonzero(rng.random(len(opp)) < 0.02)
    if dup.size == 0:
        dup = np.array([0])
    rows = np.sort(np.concatenate([np.arange(len(opp)), dup]), kind="stable")
    recase = np.zeros(len(rows), dtype=bool)
    recase[1:] = (rows[1:] == rows[:-1]) & (rng.random(len(rows) - 1) < 0.5)
    email_out = email.gather(rows)
    email_out = pl.DataFrame({"e": email_out, "r": recase}).select(
        pl.when(pl.col("r")).then(pl.col("e").str.to_uppercase()).otherwise(pl.col("e"))
    ).to_series()
    return pl.DataFrame(
        {
            "opportunity_id": opp_ids.gather(opp[rows]),
            "email": email_out,
            "role": _lookup(_ROLES, role[rows]),
        }
    )


def _build_world(n_touches: int, seed: int) -> _World:
    accounts = _build_accounts(_rng(seed, 0), n_touches)
    opp_arrays, opportunities = _build_opportunities(
        _rng(seed, 1),
        n_touches,
        int(accounts["n_company"]),
        int(accounts["n_consult"]),
        accounts["acct_domain"],  # type: ignore[arg-type]
    )
    camp_arrays, campaigns = _build_campaigns(_rng(seed, 2), n_touches)
    contacts = _build_contacts(
        _rng(seed, 3), accounts, opp_arrays["opp_acct"], opportunities["opportunity_id"]
    )
    return _World(
        acct_domain=accounts["acct_domain"],  # type: ignore[arg-type]
        acct_contact_start=accounts["acct_contact_start"],  # type: ignore[arg-type]
        acct_n_contacts=accounts["acct_n_contacts"],  # type: ignore[arg-type]
        contact_email=accounts["contact_email"],  # type: ignore[arg-type]
        contact_freemail=accounts["contact_freemail"],  # type: ignore[arg-type]
        **opp_arrays,
        **camp_arrays,  # type: ignore[arg-type]
        frames={
            "campaigns": campaigns,
            "opportunities": opportunities,
            "opportunity_contacts": contacts,
        },
    )


# ---------------------------------------------------------------------------
# touches, one chunk at a time
# ---------------------------------------------------------------------------
def _touch_chunk(world: _World, rng: np.random.Generator, first: int, n: int, width: int) -> pl.DataFrame:
    """``n`` touches with ids ``first+1 ..``: 75% deal journeys, 17% nurture, 8% anonymous.

    Journey touches pick a deal (exponentially weighted, so journey lengths
    vary a lot), a person at its account, and a time between the start of
    research (up to ~10 months before created_at) and the close, skewed
    towards the close; 5% of them fall after the close. Nurture touches are
    people of any account at any time; anonymous ones have neither email nor
    account. 10% of identified touches have no email but a given
    account_domain (reverse-IP / ad-platform data); free-mail people never
    carry an account_domain.
    """
    kind = rng.random(n)
    journey = kind < 0.75
    anon = kind >= 0.92

    n_opp = len(world.opp_acct)
    opp = np.minimum(
        np.searchsorted(world.opp_cum_weight, rng.random(n) * world.opp_cum_weight[-1], side="right"),
        n_opp - 1,
    )
    acct = np.where(journey, world.opp_acct[opp], rng.integers(0, len(world.acct_n_contacts), n))
    contact = world.acct_contact_start[acct] + (rng.random(n) * world.acct_n_contacts[acct]).astype(
        np.int64
    )
    freemail = world.contact_freemail[contact]

    conv, created = world.opp_conv[opp], world.opp_created[opp]
    research = np.maximum(_START, created - world.opp_lead[opp])
    t_in = research + ((conv - research) * rng.random(n) ** 0.75).astype(np.int64)
    after = journey & world.opp_closed[opp] & (rng.random(n) < 0.05)
    t_after = conv + (np.minimum(90 * _DAY, _END - conv) * rng.random(n)).astype(np.int64)
    t_any = _START + (rng.random(n) * (_END - _START)).astype(np.int64)
    t = np.where(journey, np.where(after, t_after, t_in), t_any)

    email_missing = anon | (rng.random(n) < 0.10)
    domain_given = ~anon & ~freemail & (email_missing | (rng.random(n) < 0.66))

    channel = _pick(rng, _CHANNEL_P, n)
    # UTMs: a uniform draw among the channel's (source, medium) pairs.
    pairs: list[tuple[str | None, str | None]] = []
    pair_start = np.zeros(len(CHANNELS), dtype=np.int64)
    pair_count = np.zeros(len(CHANNELS), dtype=np.int64)
    for code, name in enumerate(CHANNELS):
        pair_start[code], pair_count[code] = len(pairs), len(_UTM_PAIRS[name])
        pairs.extend(_UTM_PAIRS[name])
    pair = pair_start[channel] + (rng.random(n) * pair_count[channel]).astype(np.int64)
    utm_case = _pick(rng, (0.94, 0.03, 0.03), n)  # as is / UPPER both / Title source

    # Campaign: the flight running at t in a random lane of the channel.
    has_lanes = world.lane_count[channel] > 0
    lane = world.lane_start[channel] + (rng.random(n) * np.maximum(world.lane_count[channel], 1)).astype(
        np.int64
    )
    slot = np.searchsorted(world.camp_key, lane * (1 << 32) + t, side="right") - 1
    camp = world.camp_row[np.clip(slot, 0, len(world.camp_row) - 1)]
    attach = has_lanes & (rng.random(n) < _P_CAMPAIGN[channel])
    unknown = attach & (rng.random(n) < 0.01)
    camp = np.where(unknown, world.n_campaigns + rng.integers(0, world.n_unknown_campaigns, n), camp)
    camp = np.where(attach, camp, 0)

    type_cum = np.cumsum(_TOUCH_TYPE_P, axis=1)
    touch_type = np.minimum((rng.random(n)[:, None] >= type_cum[channel]).sum(axis=1), len(_TOUCH_TYPES) - 1)
    type_known = rng.random(n) >= 0.02
    page = rng.integers(0, len(_PAGES), n)
    page_known = ~np.isin(touch_type, (_TOUCH_TYPES.index("event"), _TOUCH_TYPES.index("meeting")))

    channel_given = rng.random(n) < 0.40
    channel_upper = rng.random(n) < 0.12

    form = _pick(rng, (0.64, 0.16, 0.08, 0.09, 0.03), n)
    occurred_at = _render_ts(t, form, rng)
    email = _render_email(world.contact_email.gather(contact), _pick(rng, _EMAIL_VARIANT_P, n))
    domain = _render_domain(
        world.acct_domain.gather(acct), _pick(rng, _DOMAIN_VARIANT_P, n), _lookup(_PAGES, page)
    )
    utm_content = _per_channel(rng, _UTM_CONTENT, channel)
    utm_term = _per_channel(rng, _UTM_TERM, channel)

    frame = pl.DataFrame(
        {
            "touch_id": _ids("t", np.arange(first + 1, first + n + 1), width),
            "occurred_at": occurred_at,
            "email": email,
            "account_domain": domain,
            "channel": _lookup(CHANNELS, channel),
            "campaign_id": world.campaign_ids.gather(camp),
            "utm_source": _lookup([p[0] for p in pairs], pair),
            "utm_medium": _lookup([p[1] for p in pairs], pair),
            "utm_campaign": world.campaign_slugs.gather(camp),
            "utm_content": utm_content,
            "utm_term": utm_term,
            "touch_type": _lookup(_TOUCH_TYPES, touch_type),
            "landing_page": _lookup(_PAGES, page),
            "_email": ~email_missing,
            "_domain": domain_given,
            "_channel": channel_given,
            "_upper": channel_upper,
            "_attach": attach,
            "_type": type_known,
            "_page": page_known,
            "_utm_case": utm_case.astype(np.int8),
        }
    )
    keep = pl.col
    utm_case_c = pl.col("_utm_case")
    return frame.select(
        "touch_id",
        "occurred_at",
        pl.when(keep("_email")).then("email").alias("email"),
        pl.when(keep("_domain")).then("account_domain").alias("account_domain"),
        pl.when(keep("_channel"))
        .then(pl.when(keep("_upper")).then(pl.col("channel").str.to_uppercase()).otherwise("channel"))
        .alias("channel"),
        pl.when(keep("_attach")).then("campaign_id").alias("campaign_id"),
        pl.when(utm_case_c == 1)
        .then(pl.col("utm_source").str.to_uppercase())
        .when(utm_case_c == 2)
        .then(pl.col("utm_source").str.to_titlecase())
        .otherwise("utm_source")
        .alias("utm_source"),
        pl.when(utm_case_c == 1)
        .then(pl.col("utm_medium").str.to_uppercase())
        .otherwise("utm_medium")
        .alias("utm_medium"),
        pl.when(keep("_attach")).then("utm_campaign").alias("utm_campaign"),
        "utm_content",
        "utm_term",
        pl.when(keep("_type")).then("touch_type").alias("touch_type"),
        pl.when(keep("_page")).then("landing_page").alias("landing_page"),
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
        frame.write_parquet(
            path, compression="zstd", compression_level=3, statistics=True, row_group_size=262_144
        )


def _clear_previous(out: Path) -> None:
    """Remove what an earlier generate() may have left for our four sources.

    SPEC 1 reads ``<source>.csv``, ``<source>.parquet`` *and* every file in
    ``<source>/``, so a leftover ``touches.csv`` next to new part files (or a
    csv next to a parquet) would silently double the data. Only names this
    generator writes are touched.
    """
    for source in SOURCES:
        for ext in ("csv", "parquet"):
            (out / f"{source}.{ext}").unlink(missing_ok=True)
        folder = out / source
        if folder.is_dir():
            for part in [*folder.glob("part-*.csv"), *folder.glob("part-*.parquet")]:
                part.unlink()
            if not any(folder.iterdir()):
                folder.rmdir()


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

    Writes ``out_dir/touches.<fmt>``, ``campaigns.<fmt>``, ``opportunities.<fmt>``
    and ``opportunity_contacts.<fmt>``; when ``touches > chunk_rows`` the
    touches go to ``out_dir/touches/part-00000.<fmt>``, ... instead, one part
    per chunk, so that neither this generator nor a reader has to hold 10M
    rows at once. Everything else (accounts, deals, campaigns) is sized from
    ``touches``: ~1 deal per 40 touches and ~1 campaign per 2000 (at least 12).

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
    counts: dict[str, int] = {}
    headers = {
        "campaigns": _CAMPAIGN_HEADERS,
        "opportunities": _OPPORTUNITY_HEADERS,
        "opportunity_contacts": _CONTACT_HEADERS,
    }
    for source in ("campaigns", "opportunities", "opportunity_contacts"):
        frame = world.frames[source]
        _write(frame, out / f"{source}.{fmt}", fmt, headers[source])
        counts[source] = frame.height
        say(f"{source}: {frame.height:,} rows -> {source}.{fmt}")

    n_parts = -(-touches // chunk_rows)
    width = max(7, len(str(touches)))
    if n_parts > 1:
        (out / "touches").mkdir()
    for part in range(n_parts):
        first = part * chunk_rows
        n = min(chunk_rows, touches - first)
        chunk = _touch_chunk(world, _rng(seed, 100 + part), first, n, width)
        name = f"touches/part-{part:05d}.{fmt}" if n_parts > 1 else f"touches.{fmt}"
        _write(chunk, out / name, fmt, _TOUCH_HEADERS)
        del chunk
        say(
            f"touches: part {part + 1}/{n_parts}, {n:,} rows -> {name} "
            f"({time.perf_counter() - began:.1f}s)"
        )
    counts = {"touches": touches, **counts}
    return counts
