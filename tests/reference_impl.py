"""Independent, deliberately simple reference implementation of SPEC 3 and 4.

This module is a *test oracle*: it is written from /work/shared/SPEC.md alone,
uses only the standard library, and favours obvious correctness over speed
(everything is nested loops over plain dicts).  It must not import anything
from the implementation under test.

Inputs are already-normalized rows (see SPEC 1):

touches
    {"touch_id": str, "occurred_at": datetime (tz-aware UTC),
     "email": str | None, "account_domain": str | None (effective domain:
     given, or derived from the email), "domain_is_given": bool,
     "channel": str, "campaign_id": str | None}
opportunities
    {"opportunity_id": str, "account_domain": str, "created_at": datetime,
     "closed_at": datetime | None, "is_closed": bool, "is_won": bool,
     "amount_cents": int}
contacts
    [{"opportunity_id": str, "email": str}]
params
    {"lookback_days": float | int, "half_life_days": float,
     "position_weights": (f, m, l) as Fractions, "as_of": datetime | None,
     "freemail_domains": set[str]}

Choices made where the SPEC is silent or ambiguous are marked "CHOICE:".
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from fractions import Fraction

MODELS = ("first_touch", "last_touch", "linear", "time_decay", "position_based")
RATIONAL_MODELS = ("first_touch", "last_touch", "linear", "position_based")
UNATTRIBUTED = "(unattributed)"

DEFAULT_FREEMAIL = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "hotmail.com",
        "outlook.com",
        "live.com",
        "icloud.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "gmx.com",
    }
)

_US_PER_DAY = 86_400 * 1_000_000


# --------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------


def _micros(delta: timedelta) -> int:
    """A timedelta as an exact integer number of microseconds."""
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _order_key(touch_row: dict) -> tuple:
    """SPEC 3: order by (occurred_at, touch_id as a UTF-8 byte string)."""
    return (touch_row["occurred_at"], touch_row["touch_id"].encode("utf-8"))


def _as_fraction(x) -> Fraction:
    """Position weights as exact rationals.

    CHOICE: a float is read by its shortest decimal repr (0.4 -> 2/5), not by
    its binary value (0.4 -> 3602879701896397/9007199254740992), because the
    SPEC calls these weights rationals k_i/D and its defaults are decimals.
    """
    if isinstance(x, float):
        return Fraction(repr(x))
    return Fraction(x)


def default_as_of(touches, opportunities) -> datetime:
    """SPEC 3: the as-of time defaults to the latest timestamp in the inputs.

    CHOICE: "the inputs" here are touches.occurred_at and opportunities'
    created_at and closed_at (closed_at after its date-only end-of-day
    expansion, i.e. as normalized).  Campaign dates and fx rate dates are not
    seen by this module.
    """
    stamps = [t["occurred_at"] for t in touches]
    for o in opportunities:
        stamps.append(o["created_at"])
        if o.get("closed_at") is not None:
            stamps.append(o["closed_at"])
    if not stamps:
        raise ValueError("no timestamps in the inputs: as_of cannot default")
    return max(stamps)


def conversion_at(opportunity: dict, as_of: datetime) -> datetime:
    """closed_at for a closed deal, the run's as-of time for an open one.

    CHOICE: for a closed deal the as-of time plays no part, even when
    closed_at is later than as_of.
    """
    if opportunity["is_won"] and not opportunity["is_closed"]:
        raise ValueError(f"{opportunity['opportunity_id']}: is_won implies is_closed")
    if opportunity["is_closed"]:
        if opportunity.get("closed_at") is None:
            raise ValueError(f"{opportunity['opportunity_id']}: closed without closed_at")
        return opportunity["closed_at"]
    return as_of


# --------------------------------------------------------------------------
# SPEC 3: journeys
# --------------------------------------------------------------------------


def journeys(touches, opportunities, contacts, params) -> list[dict]:
    """One row per (opportunity, matched touch), for every deal (won, lost, open).

    Keys: opportunity_id, touch_id, position (1-based), n_touches, match_type
    ("email", "domain", "both"), conversion_at, occurred_at.

    CHOICE: rows also carry the touch's channel and campaign_id, so that
    touch_credit() can fill its channel column from journeys rows alone.
    """
    freemail = set(params.get("freemail_domains", DEFAULT_FREEMAIL))
    as_of = params.get("as_of")
    if as_of is None:
        as_of = default_as_of(touches, opportunities)
    # CHOICE: lookback_days -> timedelta(days=lookback_days); a fractional
    # value is thereby rounded to a whole microsecond (round-half-even).
    lookback = timedelta(days=params.get("lookback_days", 365))

    seen_ids = set()
    for t in touches:
        if t["touch_id"] in seen_ids:
            raise ValueError(f"duplicate touch_id {t['touch_id']!r}")
        seen_ids.add(t["touch_id"])

    # SPEC 1: a repeated (opportunity_id, email) counts once.
    contact_emails: dict[str, set[str]] = {}
    for c in contacts:
        if c.get("email") is None:
            continue
        contact_emails.setdefault(c["opportunity_id"], set()).add(c["email"])

    out: list[dict] = []
    for opp in opportunities:
        opp_id = opp["opportunity_id"]
        opp_domain = opp["account_domain"]
        opp_is_freemail = opp_domain in freemail
        emails = contact_emails.get(opp_id, set())
        start = opp["created_at"] - lookback
        end = conversion_at(opp, as_of)

        matched = []
        for t in touches:
            by_email = t.get("email") is not None and t["email"] in emails

            if t.get("account_domain") is None:
                by_domain = False
            elif opp_is_freemail:
                by_domain = bool(t["domain_is_given"]) and t["account_domain"] == opp_domain
            else:
                by_domain = t["account_domain"] == opp_domain

            if not (by_email or by_domain):
                continue
            if not (start <= t["occurred_at"] <= end):  # both bounds inclusive
                continue
            if by_email and by_domain:
                match_type = "both"
            elif by_email:
                match_type = "email"
            else:
                match_type = "domain"
            matched.append((t, match_type))

        matched.sort(key=lambda pair: _order_key(pair[0]))
        n = len(matched)
        for position, (t, match_type) in enumerate(matched, start=1):
            out.append(
                {
                    "opportunity_id": opp_id,
                    "touch_id": t["touch_id"],
                    "position": position,
                    "n_touches": n,
                    "match_type": match_type,
                    "conversion_at": end,
                    "occurred_at": t["occurred_at"],
                    "channel": t.get("channel"),
                    "campaign_id": t.get("campaign_id"),
                }
            )
    return out


# --------------------------------------------------------------------------
# SPEC 4: weights
# --------------------------------------------------------------------------


def rational_weights(model: str, n: int, position_weights=None) -> list[Fraction]:
    """Exact weights w_1..w_n for first_touch, last_touch, linear, position_based."""
    if n < 1:
        raise ValueError("n must be >= 1")
    if model == "first_touch":
        return [Fraction(1)] + [Fraction(0)] * (n - 1)
    if model == "last_touch":
        return [Fraction(0)] * (n - 1) + [Fraction(1)]
    if model == "linear":
        return [Fraction(1, n)] * n
    if model == "position_based":
        if position_weights is None:
            position_weights = (Fraction(2, 5), Fraction(1, 5), Fraction(2, 5))
        f, m, l = (_as_fraction(x) for x in position_weights)
        if f < 0 or m < 0 or l < 0:
            raise ValueError("position weights must be >= 0")
        # CHOICE: (f, m, l) must sum to 1; otherwise the n >= 3 weights would
        # not sum to 1 as SPEC 4 requires.  They are not silently rescaled.
        if f + m + l != 1:
            raise ValueError(f"position weights must sum to 1, got {f + m + l}")
        if n == 1:
            return [Fraction(1)]
        if n == 2:
            if f + l == 0:
                # CHOICE: ratio 0:0 is undefined (only when m == 1); split
                # evenly, 1/2 each.
                return [Fraction(1, 2), Fraction(1, 2)]
            return [f / (f + l), l / (f + l)]
        return [f] + [m / (n - 2)] * (n - 2) + [l]
    raise ValueError(f"not a rational model: {model!r}")


def time_decay_weights(occurred_ats, conversion_at_, half_life_days) -> list[float]:
    """Float64 weights w_i proportional to 2^(-(d_i - d_min)/h).

    d_i = conversion_at - occurred_at_i in fractional days.

    CHOICE: d_i - d_min is computed exactly as an integer number of
    microseconds (it equals occurred_at_max - occurred_at_i) and only then
    divided, in float64, by 86_400_000_000 and by h; the normalizing sum is
    math.fsum (correctly rounded).  Another implementation subtracting float
    days may differ in the last ulp, which SPEC 4 tolerates (one cent on a
    row, never on a total).
    """
    h = float(half_life_days)
    if not h > 0 or math.isinf(h):
        raise ValueError("half_life_days must be a positive finite number")
    d_us = [_micros(conversion_at_ - ts) for ts in occurred_ats]
    d_min = min(d_us)
    raw = [2.0 ** (-((d - d_min) / _US_PER_DAY) / h) for d in d_us]
    total = math.fsum(raw)  # >= 1.0: the d_min touch contributes 2^0 = 1
    return [r / total for r in raw]


# --------------------------------------------------------------------------
# SPEC 4: cents by largest remainder
# --------------------------------------------------------------------------


def _largest_remainder(amount_cents: int, floors: list[int], remainders: list) -> list[int]:
    """Give the (amount - sum(floors)) largest remainders one cent each.

    Equal remainders go to the earlier position (lower index).
    """
    leftover = amount_cents - sum(floors)
    if not 0 <= leftover <= len(floors):
        raise AssertionError(f"leftover {leftover} out of range for {len(floors)} rows")
    order = sorted(range(len(floors)), key=lambda i: (-remainders[i], i))
    cents = list(floors)
    for i in order[:leftover]:
        cents[i] += 1
    return cents


def cents_rational(amount_cents: int, weights: list[Fraction]) -> list[int]:
    """Exact integer floors/remainders of amount_cents * k_i / D."""
    if sum(weights) != 1:
        raise AssertionError("weights do not sum to 1")
    products = [amount_cents * w for w in weights]  # exact Fractions
    floors = [p.numerator // p.denominator for p in products]
    remainders = [p - fl for p, fl in zip(products, floors)]  # exact, in [0, 1)
    return _largest_remainder(amount_cents, floors, remainders)


def cents_float(amount_cents: int, weights: list[float]) -> list[int]:
    """SPEC 4 step 1 for time_decay: raw = amount_cents * w_i in float64."""
    raws = [float(amount_cents) * w for w in weights]
    floors = [math.floor(r) for r in raws]
    remainders = [r - fl for r, fl in zip(raws, floors)]  # float64
    return _largest_remainder(amount_cents, floors, remainders)


# --------------------------------------------------------------------------
# SPEC 4: touch_credit
# --------------------------------------------------------------------------


def touch_credit(journeys_rows, opportunities, params, models=MODELS, touches=None) -> list[dict]:
    """One row per (model, won opportunity, touch) with weight > 0, plus one
    unattributed row per (model, won opportunity without a matched touch).

    Keys: model, opportunity_id, touch_id, position, n_touches, weight (float),
    credited_cents (int), channel, occurred_at, campaign_id.

    channel / campaign_id come from the journeys rows (as produced by
    journeys() above) or, when `touches` is given, from the touches by id.
    """
    for model in models:
        if model not in MODELS:
            raise ValueError(f"unknown model {model!r}")
    by_touch = {t["touch_id"]: t for t in touches} if touches is not None else None

    won = [o for o in opportunities if o["is_won"]]
    known_ids = {o["opportunity_id"] for o in opportunities}
    rows_by_opp: dict[str, list[dict]] = {}
    for r in journeys_rows:
        if r["opportunity_id"] not in known_ids:
            raise ValueError(f"journey row for unknown opportunity {r['opportunity_id']!r}")
        rows_by_opp.setdefault(r["opportunity_id"], []).append(r)

    out: list[dict] = []
    for model in models:
        for opp in won:
            opp_id = opp["opportunity_id"]
            amount = opp["amount_cents"]
            if not isinstance(amount, int) or amount < 0:
                raise ValueError(f"{opp_id}: amount_cents must be an int >= 0")
            journey = sorted(rows_by_opp.get(opp_id, []), key=lambda r: r["position"])
            n = len(journey)

            if n == 0:
                out.append(
                    {
                        "model": model,
                        "opportunity_id": opp_id,
                        "touch_id": None,
                        "position": None,
                        "n_touches": 0,
                        "weight": 1.0,
                        "credited_cents": amount,
                        "channel": UNATTRIBUTED,
                        "occurred_at": None,
                        "campaign_id": None,
                    }
                )
                continue

            # sanity: the journey is positions 1..n, all saying n_touches == n
            if [r["position"] for r in journey] != list(range(1, n + 1)):
                raise ValueError(f"{opp_id}: positions are not 1..{n}")
            if any(r["n_touches"] != n for r in journey):
                raise ValueError(f"{opp_id}: n_touches disagrees with the journey")

            if model == "time_decay":
                weights = time_decay_weights(
                    [r["occurred_at"] for r in journey],
                    journey[0]["conversion_at"],
                    params.get("half_life_days", 7),
                )
                cents = cents_float(amount, weights)
                float_weights = weights
            else:
                weights = rational_weights(model, n, params.get("position_weights"))
                cents = cents_rational(amount, weights)
                float_weights = [float(w) for w in weights]

            for r, w, wf, c in zip(journey, weights, float_weights, cents):
                if not w > 0:
                    # CHOICE (time_decay): a weight that underflows to 0.0 is
                    # a weight of 0 and its row is dropped like any other.
                    if c != 0:
                        raise AssertionError("a zero-weight touch received cents")
                    continue
                if by_touch is not None:
                    channel = by_touch[r["touch_id"]].get("channel")
                    campaign_id = by_touch[r["touch_id"]].get("campaign_id")
                else:
                    channel = r.get("channel")
                    campaign_id = r.get("campaign_id")
                out.append(
                    {
                        "model": model,
                        "opportunity_id": opp_id,
                        "touch_id": r["touch_id"],
                        "position": r["position"],
                        "n_touches": n,
                        "weight": wf,
                        "credited_cents": c,
                        "channel": channel,
                        "occurred_at": r["occurred_at"],
                        "campaign_id": campaign_id,
                    }
                )
    return out
