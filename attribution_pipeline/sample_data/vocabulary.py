"""What the sample data is made of: sources, channels, names, pages, UTM pairs,
stages, and the probabilities every draw uses."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SOURCES = (
    "touches",
    "campaigns",
    "opportunities",
    "opportunity_contacts",
    "leads",
    "opportunity_stage_history",
    "identities",  # only with anonymous sessions (generate's default)
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
CH = {name: code for code, name in enumerate(CHANNELS)}

# --- time frame: two calendar years, ending 2025-12-31 (UTC) -----------------
DAY = 86_400
START = 1_704_067_200  # 2024-01-01T00:00:00Z
END = 1_767_225_599  # 2025-12-31T23:59:59Z
SPAN_DAYS = (END + 1 - START) // DAY  # 731

# --- written column names ---------------------------------------------------
# Mixed case and stray spaces on purpose: SPEC 1 matches names
# case-insensitively after trimming, and the loader must prove it does.
# Parquet files carry the very same names.
TOUCH_HEADERS = {
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
    "anonymous_id": "Anonymous_Id",  # only with anonymous sessions (generate's default)
}
CAMPAIGN_HEADERS = {
    "campaign_id": "Campaign_ID",
    "campaign_name": "campaign_name",
    "channel": " Channel",
    "start_date": "Start_Date",
    "end_date": "end_date",
    "cost": "COST",
    "currency": "Currency",
}
OPPORTUNITY_HEADERS = {
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
CONTACT_HEADERS = {"opportunity_id": "Opportunity_Id", "email": "Email ", "role": "ROLE"}

# --- vocabularies -----------------------------------------------------------
# At least as many first names as the largest account has contacts: contacts
# of one account get distinct first names, which keeps their emails distinct.
FIRST_NAMES = (
    "anna", "ben", "carla", "david", "elena", "felix", "grace", "hugo", "ines",
    "jack", "kate", "liam", "maya", "noah", "olga", "paul", "quinn", "rosa",
    "sam", "tara", "umar", "vera", "will", "xena", "yusuf", "zoe", "aisha",
    "bruno", "chen", "dana", "emil", "fatima", "gina", "hiro", "ivan", "julia",
    "karl", "lena", "marco", "nina",
)  # fmt: skip
LAST_NAMES = (
    "smith", "jones", "garcia", "muller", "rossi", "dubois", "kim", "nguyen",
    "patel", "silva", "novak", "jensen", "khan", "tanaka", "cohen", "murphy",
    "schmidt", "lopez", "ivanova", "brown", "wilson", "martin", "becker",
    "costa", "olsen", "wagner", "hughes", "fischer", "moreau", "santos",
)  # fmt: skip
COMPANY_WORDS = (
    "acme", "globex", "initech", "umbrella", "hooli", "soylent", "vandelay",
    "stark", "wayne", "wonka", "cyberdyne", "tyrell", "aperture", "massive",
    "pied-piper", "dunder", "gringotts", "oscorp", "nakatomi", "monarch",
    "blueth", "sterling", "prestige", "vehement", "bluebook", "northwind",
    "contoso", "fabrikam", "tailspin", "litware",
)  # fmt: skip
TLDS = ("com", "com", "com", "com", "io", "co", "net", "de", "co.uk", "ai")
SUBDOMAINS = ("eu", "us", "uk", "apac", "corp", "emea")
# A subset of SPEC 1's default free-mail list (so they are recognized as such).
FREEMAIL = ("gmail.com", "gmail.com", "gmail.com", "yahoo.com", "outlook.com",
             "hotmail.com", "icloud.com", "proton.me")  # fmt: skip

OFFSETS = ("+01:00", "+02:00", "-05:00", "-08:00", "+05:30", "+09:00", "-03:00", "+00:00")
OFFSET_MINUTES = np.array([60, 120, -300, -480, 330, 540, -180, 0], dtype=np.int64)

PAGES = ("/", "/pricing", "/demo", "/product", "/blog/multi-touch-attribution",
          "/blog/roas-explained", "/customers", "/integrations", "/contact",
          "/webinars/attribution-101", "/docs/getting-started", "/careers")  # fmt: skip

# Touch mix by channel (sums to 1), in CHANNELS order.
CHANNEL_P = np.array([0.18, 0.12, 0.06, 0.17, 0.06, 0.14, 0.05, 0.04, 0.05, 0.13])

# (utm_source, utm_medium) pairs per channel. Each pair maps to its channel under
# SPEC 1's default grouping (the tests re-derive it), and together they hit most
# branches of that table: e.g. linkedin/cpc is rule 1, not rule 2; linkedin/post
# reaches organic_social through the *source* clause of rule 6; (direct)/(none)
# falls through to "anything else". Repeats weight the draw.
UTM_PAIRS: dict[str, Sequence[tuple[str | None, str | None]]] = {
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
AD_VARIANTS = tuple(f"ad-{i:02d}" for i in range(1, 13))
UTM_CONTENT: dict[str, Sequence[str | None]] = {
    "paid_search": AD_VARIANTS,
    "paid_social": AD_VARIANTS + ("carousel", "video-15s"),
    "display": AD_VARIANTS + ("300x250", "728x90"),
    "email": ("cta-button", "header-link", "footer-link", None),
}
UTM_TERM: dict[str, Sequence[str | None]] = {
    "paid_search": ("marketing attribution", "multi touch attribution software",
                    "b2b attribution", "roas calculator", "campaign analytics",
                    "revenue attribution", None),
}  # fmt: skip

TOUCH_TYPES = (
    "page_view",
    "form_submit",
    "ad_click",
    "email_click",
    "event",
    "meeting",
    "webinar",
)
# P(touch_type | channel); rows in CHANNELS order, columns in TOUCH_TYPES order.
TOUCH_TYPE_P = np.array(
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
CAMPAIGN_CHANNELS = np.array(
    [
        CH[c]
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
CAMPAIGN_CHANNEL_P = np.array([0.24, 0.20, 0.10, 0.20, 0.08, 0.09, 0.05, 0.04])
# Relative spend per touch by channel (CHANNELS order) and P(touch carries the
# campaign_id of the running campaign | channel).
COST_FACTOR = np.array([1.6, 1.3, 1.0, 0.2, 0.5, 0.0, 0.6, 2.5, 0.5, 0.0])
P_CAMPAIGN = np.array([0.92, 0.92, 0.95, 0.85, 0.30, 0.0, 0.40, 0.80, 0.85, 0.0])
FLIGHTS_PER_LANE = 8  # campaigns of one channel run in parallel "lanes" of ~8 flights
CHANNEL_LABELS = ("Paid Search", "Paid Social", "Display", "Email", "Organic Social",
                   "Organic Search", "Referral", "Event", "Webinar", "Direct")  # fmt: skip
CHANNEL_SHORT = ("ps", "psoc", "disp", "em", "osoc", "seo", "ref", "evt", "web", "dir")
THEMES = ("Pipeline Accelerator", "Attribution, Demystified", "Q-End Push", "Brand Lift",
           "ROI Calculator", "Customer Stories", "Product Launch", "Free Trial",
           "Analyst Report", "Retargeting", "Competitor Switch", "Summer Summit")  # fmt: skip

OPEN_STAGES = ("Prospecting", "Qualification", "Proposal", "Negotiation")
ROLES = ("decision_maker", "champion", "influencer", "user")

# Stage history: the pipeline stages in order, then the two closed stages.
HISTORY_STAGES = (
    "qualification",
    "discovery",
    "proposal",
    "negotiation",
    "closed_won",
    "closed_lost",
)
# Where an open deal currently is (its ``stage`` in opportunities) in HISTORY_STAGES;
# Prospecting comes before qualification, so such a deal has only entered the first stage.
OPEN_STAGE_CODE = {"Prospecting": 0, "Qualification": 0, "Proposal": 2, "Negotiation": 3}
SALES_REPS = ("ana.silva", "ben.okafor", "chloe.martin", "diego.ramos", "emma.larsen",
               "farid.haddad")  # fmt: skip
LEAD_COLUMNS = ("lead_id", "email", "account_domain", "created_at", "mql_at", "sql_at",
                 "first_sales_activity_at", "disqualified_at", "owner",
                 "converted_opportunity_id")  # fmt: skip
STAGE_HISTORY_COLUMNS = ("opportunity_id", "stage", "entered_at")
IDENTITY_COLUMNS = ("anonymous_id", "email", "identified_at")

# Time renderings: Z, Z with milliseconds, explicit offset, naive, date-only.
Z, ZMS, OFFSET, NAIVE, DATE = range(5)
