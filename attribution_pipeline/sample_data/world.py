"""The world every touch refers to: accounts, contacts, deals and campaigns (small,
built once per folder)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from attribution_pipeline.sample_data.render import (
    id_series,
    lookup,
    masked,
    pick,
    render_dates,
    render_domain,
    render_email,
    render_money,
    render_ts,
    seeded_rng,
)
from attribution_pipeline.sample_data.vocabulary import (
    CAMPAIGN_CHANNEL_P,
    CAMPAIGN_CHANNELS,
    CHANNEL_LABELS,
    CHANNEL_SHORT,
    CHANNELS,
    COMPANY_WORDS,
    COST_FACTOR,
    DAY,
    END,
    FIRST_NAMES,
    FLIGHTS_PER_LANE,
    FREEMAIL,
    LAST_NAMES,
    OPEN_STAGES,
    ROLES,
    SPAN_DAYS,
    START,
    SUBDOMAINS,
    THEMES,
    TLDS,
)


@dataclass(frozen=True)
class Accounts:
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
class Deals:
    """What touch generation needs to know about each opportunity (times in epoch seconds)."""

    account: np.ndarray
    created: np.ndarray
    conversion: np.ndarray  # closed_at, or the end of the data for open deals
    closed: np.ndarray
    research: np.ndarray  # seconds of research before created_at
    cum_weight: np.ndarray  # cumulative share of journey touches
    frame: pl.DataFrame  # the opportunities table as written


@dataclass(frozen=True)
class Campaigns:
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


def build_accounts(rng: np.random.Generator, n_touches: int) -> Accounts:
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
    word = lookup(COMPANY_WORDS, rng.integers(0, len(COMPANY_WORDS), n_company))
    tld = lookup(TLDS, rng.integers(0, len(TLDS), n_company))
    sub = lookup(SUBDOMAINS, rng.integers(0, len(SUBDOMAINS), n_company))
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
    consult_domain = lookup(FREEMAIL, rng.integers(0, len(FREEMAIL), n_consult))
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
    first_offset = rng.integers(0, len(FIRST_NAMES), n_acct)
    first = lookup(FIRST_NAMES, (first_offset[acct_of] + idx_in_acct) % len(FIRST_NAMES))
    last = lookup(LAST_NAMES, rng.integers(0, len(LAST_NAMES), n_all))
    pattern = rng.integers(0, 3, n_acct)[acct_of]  # each company has one address scheme
    fm_domain = lookup(FREEMAIL, rng.integers(0, len(FREEMAIL), n_all))
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
    return Accounts(n_company, acct_domain, contact_start, n_contacts, email, freemail)


def build_deals(rng: np.random.Generator, n_touches: int, accounts: Accounts) -> Deals:
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

    status = pick(rng, (0.30, 0.40, 0.30), n_opp)  # 0 won, 1 lost, 2 open
    closed = status < 2
    won = status == 0
    cycle = np.clip(np.exp(rng.normal(np.log(60.0), 0.7, n_opp)), 7, 365) * DAY
    cycle = cycle.astype(np.int64)
    earliest = START + 20 * DAY
    created_closed = earliest + (rng.random(n_opp) * (END - cycle - earliest)).astype(np.int64)
    open_age = np.minimum(rng.exponential(90.0, n_opp) * DAY, (END - earliest) - DAY)
    created_open = (END - DAY - open_age).astype(np.int64)
    created = np.where(closed, created_closed, created_open)
    closed_at = created + cycle
    conv = np.where(closed, closed_at, END)

    # Amounts: log-normal around $20k; mostly round numbers like real quotes.
    dollars = np.clip(np.exp(rng.normal(np.log(20_000.0), 0.9, n_opp)), 1_000, 2_000_000)
    rounding = pick(rng, (0.6, 0.3, 0.1), n_opp)
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
    open_stage = np.array(OPEN_STAGES)[rng.integers(0, len(OPEN_STAGES), n_opp)]
    stage = np.where(closed, stage, open_stage)

    created_form = pick(rng, (0.75, 0.0, 0.10, 0.05, 0.10), n_opp)
    closed_form = pick(rng, (0.70, 0.0, 0.10, 0.05, 0.15), n_opp)
    domain_variant = pick(rng, (0.85, 0.05, 0.04, 0.02, 0.04), n_opp)
    page = lookup(("/", "/about", "/en-us/"), rng.integers(0, 3, n_opp))

    frame = pl.DataFrame(
        {
            "opportunity_id": id_series("opp-", np.arange(1, n_opp + 1), max(6, len(str(n_opp)))),
            "account_domain": render_domain(accounts.domain.gather(acct), domain_variant, page),
            "created_at": render_ts(created, created_form, rng),
            "closed_at": masked(render_ts(closed_at, closed_form, rng), closed),
            "stage": pl.Series(stage, dtype=pl.String),
            "is_closed": render_bool(closed, rng),
            "is_won": render_bool(won, rng),
            "amount": render_money(cents),
            "currency": pl.Series(["USD"] * n_opp, dtype=pl.String),
        }
    )
    return Deals(
        account=acct,
        created=created,
        conversion=conv,
        closed=closed,
        # Research starts 2 weeks to 10 months before the deal is opened.
        research=(rng.uniform(14, 300, n_opp) * DAY).astype(np.int64),
        # Exponential journey sizes: some deals get 1-2 touches, a few hundreds.
        cum_weight=np.cumsum(rng.exponential(1.0, n_opp)),
        frame=frame,
    )


def render_bool(values: np.ndarray, rng: np.random.Generator) -> pl.Series:
    """Mostly ``true``/``false``, with ~10% other spellings SPEC 1 accepts (TRUE, 1/0, yes/no)."""
    style = pick(rng, (0.90, 0.04, 0.03, 0.03), len(values))
    true = np.array(["true", "TRUE", "1", "yes"])
    false = np.array(["false", "FALSE", "0", "no"])
    return pl.Series(np.where(values, true[style], false[style]), dtype=pl.String)


def build_campaigns(rng: np.random.Generator, n_touches: int) -> Campaigns:
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
    n_cc = len(CAMPAIGN_CHANNELS)
    which = np.concatenate([np.arange(n_cc), pick(rng, CAMPAIGN_CHANNEL_P, n_camp - n_cc)])
    channel = CAMPAIGN_CHANNELS[which]

    per_channel = np.bincount(channel, minlength=len(CHANNELS))
    lane_count = np.where(per_channel > 0, np.maximum(1, per_channel // FLIGHTS_PER_LANE), 0)
    lane_start = np.concatenate([[0], np.cumsum(lane_count)[:-1]])

    # Rank of each campaign within its channel -> lane and flight number.
    order = np.argsort(channel, kind="stable")
    rank = np.empty(n_camp, dtype=np.int64)
    rank[order] = np.arange(n_camp) - np.searchsorted(channel[order], channel[order])
    lane = lane_start[channel] + rank % lane_count[channel]
    first_flight = rank < lane_count[channel]
    start_day = np.where(first_flight, 0, rng.integers(1, SPAN_DAYS - 30, n_camp))

    by_lane = np.lexsort((start_day, lane))
    lane_s, day_s = lane[by_lane], start_day[by_lane]
    last_in_lane = np.append(lane_s[1:] != lane_s[:-1], True)
    next_day = np.append(day_s[1:], SPAN_DAYS)
    end_day_s = np.maximum(day_s, next_day - 1)
    end_known_s = np.where(last_in_lane, rng.random(n_camp) < 0.3, rng.random(n_camp) >= 0.08)
    end_day_s = np.where(last_in_lane, SPAN_DAYS - 1, end_day_s)

    # Campaign ids follow launch order, like a real ad account.
    launch = np.lexsort((lane_s, day_s))
    row_of_sorted = np.empty(n_camp, dtype=np.int64)
    row_of_sorted[launch] = np.arange(n_camp)
    ch_s = channel[by_lane]

    n_unknown = max(3, n_camp // 40)
    width = max(5, len(str(n_camp + n_unknown)))
    ids = id_series("cmp-", np.arange(1, n_camp + n_unknown + 1), width)

    rows = np.empty(n_camp, dtype=np.int64)
    rows[row_of_sorted] = np.arange(n_camp)  # sorted position of each output row
    r_ch, r_day, r_end, r_end_known = ch_s[rows], day_s[rows], end_day_s[rows], end_known_s[rows]
    theme = rng.integers(0, len(THEMES), n_camp)
    month = render_dates(r_day).str.slice(0, 7)
    name = (
        pl.DataFrame({"t": lookup(THEMES, theme), "c": lookup(CHANNEL_LABELS, r_ch), "m": month})
        .select(pl.concat_str("t", "c", "m", separator=" | "))
        .to_series()
    )
    theme_slug = lookup(THEMES, theme).str.to_lowercase().str.replace_all(r"[^a-z0-9]+", "-")
    slug = (
        pl.DataFrame({"t": theme_slug, "c": lookup(CHANNEL_SHORT, r_ch), "m": month, "i": ids[:n_camp]})
        .select(pl.concat_str("t", "c", "m", "i", separator="_"))
        .to_series()
    )
    # Unknown ids look like campaigns deleted from the ad account after the fact.
    slugs = pl.concat([slug, "legacy_" + ids[n_camp:]])

    expected_touches = n_touches / n_camp
    cost_cents = (expected_touches * 40 * COST_FACTOR[r_ch] * np.exp(rng.normal(0, 0.6, n_camp)) * 100).astype(np.int64)
    cost_cents = np.where(rng.random(n_camp) < 0.5, cost_cents // 100 * 100, cost_cents)
    channel_text = lookup(CHANNELS, r_ch)
    upper = rng.random(n_camp) < 0.10

    frame = pl.DataFrame(
        {
            "campaign_id": ids[:n_camp],
            "campaign_name": name,
            "channel": pl.DataFrame({"c": channel_text, "u": upper})
            .select(pl.when(pl.col("u")).then(pl.col("c").str.to_uppercase()).otherwise(pl.col("c")))
            .to_series(),
            "start_date": render_dates(r_day),
            "end_date": masked(render_dates(r_end), r_end_known),
            "cost": masked(render_money(cost_cents), rng.random(n_camp) >= 0.15),
            "currency": pl.Series(["USD"] * n_camp, dtype=pl.String),
        }
    )
    return Campaigns(
        lane_start=lane_start,
        lane_count=lane_count,
        key=lane_s.astype(np.int64) * (1 << 32) + (START + day_s * DAY),
        row=row_of_sorted,
        ids=ids,
        slugs=slugs,
        n_known=n_camp,
        n_unknown=n_unknown,
        frame=frame,
    )


def build_contacts(rng: np.random.Generator, accounts: Accounts, deals: Deals) -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
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
    k = np.minimum(n_c, 1 + pick(rng, (0.35, 0.30, 0.20, 0.15), len(opp_acct)))
    opp = np.repeat(np.arange(len(opp_acct)), k)
    j = np.arange(len(opp)) - np.repeat(np.cumsum(k) - k, k)
    offset = rng.integers(0, 1 << 30, len(opp_acct))
    contact = start[opp] + (offset[opp] + j) % n_c[opp]
    role = np.where((j == 0) & (rng.random(len(opp)) < 0.7), 0, pick(rng, (0.1, 0.35, 0.35, 0.2), len(opp)))
    email = render_email(accounts.email.gather(contact), pick(rng, (0.95, 0.05), len(opp)))

    dup = np.flatnonzero(rng.random(len(opp)) < 0.02)
    if dup.size == 0:
        dup = np.array([0])
    rows = np.sort(np.concatenate([np.arange(len(opp)), dup]), kind="stable")
    frame = pl.DataFrame(
        {
            "opportunity_id": deals.frame["opportunity_id"].gather(opp[rows]),
            "email": email.gather(rows),
            "role": lookup(ROLES, role[rows]),
        }
    )
    return frame, opp, contact


@dataclass(frozen=True)
class World:
    """Everything but the touches: small (a few % of the touch count), built once per run."""

    accounts: Accounts
    deals: Deals
    campaigns: Campaigns
    contacts: pl.DataFrame  # the opportunity_contacts table as written
    link_opp: np.ndarray  # per distinct (deal, person) link of contacts: the deal ...
    link_person: np.ndarray  # ... and the person (index into accounts.email)


# RNG streams (never reuse or reorder: each one fixes the bytes of its table):
# 0 accounts, 1 deals, 2 campaigns, 3 opportunity_contacts, 4 leads,
# 5 opportunity_stage_history, 6 identities, 100 + part for touch chunk ``part``,
# 2**32 + part for the anonymous_id of touch chunk ``part`` (above any 100 + part).
STREAM_LEADS = 4
STREAM_STAGE_HISTORY = 5
STREAM_IDENTITIES = 6
STREAM_TOUCHES = 100
STREAM_SESSIONS = 1 << 32


def build_world(n_touches: int, seed: int) -> World:
    accounts = build_accounts(seeded_rng(seed, 0), n_touches)
    deals = build_deals(seeded_rng(seed, 1), n_touches, accounts)
    campaigns = build_campaigns(seeded_rng(seed, 2), n_touches)
    contacts, link_opp, link_person = build_contacts(seeded_rng(seed, 3), accounts, deals)
    return World(accounts, deals, campaigns, contacts, link_opp, link_person)
