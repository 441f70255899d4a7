"""Touches, one chunk at a time: which person, channel, UTM pair, page, campaign and device."""

from __future__ import annotations

import numpy as np
import polars as pl

from attribution_pipeline.sample_data.identities import session_ids
from attribution_pipeline.sample_data.render import (
    DOMAIN_VARIANT_P,
    EMAIL_VARIANT_P,
    id_series,
    lookup,
    per_channel_draw,
    pick,
    render_domain,
    render_email,
    render_ts,
)
from attribution_pipeline.sample_data.vocabulary import (
    CHANNEL_P,
    CHANNELS,
    DAY,
    END,
    P_CAMPAIGN,
    PAGES,
    START,
    TOUCH_TYPE_P,
    TOUCH_TYPES,
    UTM_CONTENT,
    UTM_PAIRS,
    UTM_TERM,
)
from attribution_pipeline.sample_data.world import World


def utm_pair_table() -> tuple[pl.Series, pl.Series, np.ndarray, np.ndarray]:
    """Flatten UTM_PAIRS: sources, mediums, and per channel the first pair and the pair count."""
    pairs: list[tuple[str | None, str | None]] = []
    start = np.zeros(len(CHANNELS), dtype=np.int64)
    count = np.zeros(len(CHANNELS), dtype=np.int64)
    for code, name in enumerate(CHANNELS):
        start[code], count[code] = len(pairs), len(UTM_PAIRS[name])
        pairs.extend(UTM_PAIRS[name])
    sources = pl.Series([src for src, _ in pairs], dtype=pl.String)
    mediums = pl.Series([med for _, med in pairs], dtype=pl.String)
    return sources, mediums, start, count


def touch_chunk(
    world: World,
    rng: np.random.Generator,
    first: int,
    n: int,
    width: int,
    sessions: np.random.Generator | None = None,
) -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
    """``n`` touches with ids ``first+1 ..``: 75% deal journeys, 17% nurture, 8% anonymous.

    Journey touches pick a deal (exponentially weighted, so journey lengths
    vary a lot), a person at its account, and a time between the start of
    research (up to ~10 months before created_at) and the close, skewed
    towards the close; 5% of them fall after the close. Nurture touches are
    people of any account at any time; anonymous ones have neither email nor
    account. 10% of identified touches have no email but a given
    account_domain (reverse-IP / ad-platform data); free-mail people never
    carry an account_domain.

    With ``sessions`` (a generator of its own, not ``rng``) a last column
    ``anonymous_id`` is added (identities.session_ids): half of the touches
    with an email carry their person's device id, 3 in 4 anonymous touches
    carry the device of the person drawn for them (a session before or after
    they identify, which stitching gives their email) and the rest a one-off
    id; a few devices are
    shared by two people (ambiguous). Every other column is the same with or
    without it, since ``rng`` draws exactly the same.

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
    research = np.maximum(START, created - deals.research[opp])
    t_in = research + ((conv - research) * rng.random(n) ** 0.75).astype(np.int64)
    after = journey & deals.closed[opp] & (rng.random(n) < 0.05)
    t_after = conv + (np.minimum(90 * DAY, END - conv) * rng.random(n)).astype(np.int64)
    t_any = START + (rng.random(n) * (END - START)).astype(np.int64)
    t = np.where(journey, np.where(after, t_after, t_in), t_any)

    has_email = ~anon & (rng.random(n) >= 0.10)
    has_domain = ~anon & ~freemail & (~has_email | (rng.random(n) < 0.66))

    # How: channel, then UTMs that SPEC 1's grouping maps back to that channel.
    channel = pick(rng, CHANNEL_P, n)
    utm_sources, utm_mediums, pair_start, pair_count = utm_pair_table()
    pair = pair_start[channel] + (rng.random(n) * pair_count[channel]).astype(np.int64)
    utm_case = pick(rng, (0.94, 0.03, 0.03), n)  # as is / both UPPER / Title source
    channel_given = rng.random(n) < 0.40
    channel_upper = rng.random(n) < 0.12

    # Campaign: the flight running at t in a random lane of the channel.
    lanes = campaigns.lane_count[channel]
    lane = campaigns.lane_start[channel] + (rng.random(n) * np.maximum(lanes, 1)).astype(np.int64)
    slot = np.searchsorted(campaigns.key, lane * (1 << 32) + t, side="right") - 1
    camp = campaigns.row[np.clip(slot, 0, len(campaigns.row) - 1)]
    attach = (lanes > 0) & (rng.random(n) < P_CAMPAIGN[channel])
    unknown = attach & (rng.random(n) < 0.01)
    camp = np.where(unknown, campaigns.n_known + rng.integers(0, campaigns.n_unknown, n), camp)
    camp = np.where(attach, camp, 0)

    type_cum = np.cumsum(TOUCH_TYPE_P, axis=1)[channel]
    touch_type = np.minimum((rng.random(n)[:, None] >= type_cum).sum(axis=1), len(TOUCH_TYPES) - 1)
    del type_cum
    has_type = rng.random(n) >= 0.02
    page = rng.integers(0, len(PAGES), n)
    has_page = ~np.isin(touch_type, (TOUCH_TYPES.index("event"), TOUCH_TYPES.index("meeting")))

    form = pick(rng, (0.64, 0.16, 0.08, 0.09, 0.03), n)  # Z, Z+ms, offset, naive, date
    frame = pl.DataFrame(
        {
            "touch_id": id_series("t", np.arange(first + 1, first + n + 1), width),
            "occurred_at": render_ts(t, form, rng),
            "email": render_email(accounts.email.gather(contact), pick(rng, EMAIL_VARIANT_P, n)),
            "account_domain": render_domain(
                accounts.domain.gather(acct),
                pick(rng, DOMAIN_VARIANT_P, n),
                lookup(PAGES, page),
            ),
            "channel": lookup(CHANNELS, channel),
            "campaign_id": campaigns.ids.gather(camp),
            "utm_source": utm_sources.gather(pair),
            "utm_medium": utm_mediums.gather(pair),
            "utm_campaign": campaigns.slugs.gather(camp),
            "utm_content": per_channel_draw(rng, UTM_CONTENT, channel),
            "utm_term": per_channel_draw(rng, UTM_TERM, channel),
            "touch_type": lookup(TOUCH_TYPES, touch_type),
            "landing_page": lookup(PAGES, page),
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
    if sessions is not None:
        frame = frame.with_columns(session_ids(sessions, contact, anon, has_email, first))
    return frame, seen_person, seen_at
