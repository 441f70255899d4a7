"""Leads and opportunity stage history, built after the touches (a lead starts at a
person's first touch)."""

from __future__ import annotations

import numpy as np
import polars as pl

from attribution_pipeline.sample_data.render import id_series, lookup, masked
from attribution_pipeline.sample_data.vocabulary import DAY, END, HISTORY_STAGES, LEAD_COLUMNS, OPEN_STAGE_CODE, SALES_REPS, START
from attribution_pipeline.sample_data.world import Deals, World


def render_utc(seconds: np.ndarray, keep: np.ndarray | None = None) -> pl.Series:
    """Epoch seconds as ``2024-03-01T10:00:00Z`` (null where ``keep`` is false)."""
    text = pl.from_epoch(pl.Series(seconds.astype(np.int64)), time_unit="s").dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return text if keep is None else masked(text, keep)


def converted_deal(world: World) -> np.ndarray:
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


def build_leads(rng: np.random.Generator, world: World, first_seen: np.ndarray) -> pl.DataFrame:
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

    deal = converted_deal(world)
    converted = deal >= 0
    n_conv = int(converted.sum())
    rest = max(1, n - n_conv)
    p_mql = float(np.clip((0.6 * n - n_conv) / rest, 0.3, 0.9))
    p_sql = float(np.clip((0.3 * n - n_conv) / (rest * p_mql), 0.1, 0.9))

    # created_at: the first identified touch, else any time but the last month.
    seen = first_seen < np.iinfo(np.int64).max
    lag = rng.integers(0, 900, n)
    t_any = START + (rng.random(n) * (END - 30 * DAY - START)).astype(np.int64)
    created = np.minimum(np.where(seen, first_seen + lag, t_any), END)

    # Funnel of leads that did not convert.
    mql_delay = np.clip(np.exp(rng.normal(np.log(4.0 * DAY), 1.3, n)), 60, 180 * DAY)
    is_mql = rng.random(n) < p_mql
    is_sql = is_mql & (rng.random(n) < p_sql)
    mql = created + mql_delay.astype(np.int64)
    fast = rng.random(n) < 0.8
    act_delay = np.where(fast, rng.uniform(0.1, 24, n) * hour, rng.uniform(24, 96, n) * hour).astype(np.int64)
    sql_delay = np.clip(np.exp(rng.normal(np.log(10.0 * DAY), 0.9, n)), DAY, 200 * DAY)
    sql = mql + act_delay + sql_delay.astype(np.int64)

    # Converted leads: the whole funnel fits before the deal's creation day.
    opp = np.maximum(deal, 0)
    deal_day = deals.created[opp] // DAY * DAY
    before = (rng.uniform(1, 19, n) * DAY).astype(np.int64)
    conv_created = np.minimum(created, deal_day - before)
    conv_mql = conv_created + ((deal_day - conv_created) * rng.uniform(0.05, 0.6, n)).astype(np.int64)
    conv_sql = conv_mql + ((deal_day - conv_mql) * rng.uniform(0.5, 1.0, n)).astype(np.int64)
    created = np.where(converted, conv_created, created)
    mql = np.where(converted, conv_mql, mql)
    sql = np.where(converted, conv_sql, sql)
    is_mql = (converted | is_mql) & (mql <= END)
    is_sql = (converted | is_sql) & is_mql & (sql <= END)

    activity = mql + act_delay
    acted = is_mql & (is_sql | (rng.random(n) >= 0.30)) & (activity <= END)

    after = np.maximum(created, np.where(is_mql, np.where(acted, activity, mql), created))
    disqualified = after + (rng.uniform(1, 45, n) * DAY).astype(np.int64)
    is_dq = ~is_sql & (rng.random(n) < 0.20) & (disqualified <= END)

    rep = rng.integers(0, len(SALES_REPS), n_acct)[acct_of]

    # Lead ids follow creation order, as in a CRM; rows are written in id order.
    rows = np.lexsort((np.arange(n), created))
    frame = pl.DataFrame(
        {
            "lead_id": id_series("lead-", np.arange(1, n + 1), max(6, len(str(n)))),
            "email": accounts.email.gather(rows),
            "account_domain": masked(accounts.domain.gather(acct_of[rows]), ~accounts.freemail[rows]),
            "created_at": render_utc(created[rows]),
            "mql_at": render_utc(mql[rows], is_mql[rows]),
            "sql_at": render_utc(sql[rows], is_sql[rows]),
            "first_sales_activity_at": render_utc(activity[rows], acted[rows]),
            "disqualified_at": render_utc(disqualified[rows], is_dq[rows]),
            "owner": masked(lookup(SALES_REPS, rep[rows]), is_mql[rows]),
            "converted_opportunity_id": masked(deals.frame["opportunity_id"].gather(opp[rows]), converted[rows]),
        }
    )
    return frame.select(LEAD_COLUMNS)


def build_stage_history(rng: np.random.Generator, deals: Deals) -> pl.DataFrame:
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
    for name, code in OPEN_STAGE_CODE.items():
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
    span = deals.conversion - deals.created - count  # conversion is END for open deals
    t = deals.created[deal] + (span[deal] * (reach / total[deal])).astype(np.int64) + j
    t = np.where(closed[deal] & last, deals.conversion[deal], t)

    shuffle = np.argsort(np.arange(len(deal)) + rng.uniform(0, 6, len(deal)), kind="stable")
    return pl.DataFrame(
        {
            "opportunity_id": deals.frame["opportunity_id"].gather(deal[shuffle]),
            "stage": lookup(HISTORY_STAGES, code[shuffle]),
            "entered_at": render_utc(t[shuffle]),
        }
    )
