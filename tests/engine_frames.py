"""Builders of staged frames for engine tests: plain dicts in, typed polars frames out."""

from __future__ import annotations

import datetime as dt

import polars as pl

UTC = dt.timezone.utc
TS = pl.Datetime("us", "UTC")

TOUCH_SCHEMA = {
    "touch_id": pl.String,
    "occurred_at": TS,
    "email": pl.String,
    "account_domain": pl.String,
    "domain_is_given": pl.Boolean,
    "channel": pl.String,
    "campaign_id": pl.String,
    "touch_type": pl.String,
}
OPPORTUNITY_SCHEMA = {
    "opportunity_id": pl.String,
    "account_domain": pl.String,
    "created_at": TS,
    "closed_at": TS,
    "is_closed": pl.Boolean,
    "is_won": pl.Boolean,
    "amount_cents": pl.Int64,
}
CONTACT_SCHEMA = {"opportunity_id": pl.String, "email": pl.String}


def at(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


def touch(touch_id: str, occurred_at: dt.datetime, *, email=None, domain=None, given=None, channel="direct", campaign_id=None):
    """A staged touch; ``given`` defaults to True when a domain is passed."""
    return {
        "touch_id": touch_id,
        "occurred_at": occurred_at,
        "email": email,
        "account_domain": domain,
        "domain_is_given": (domain is not None) if given is None else given,
        "channel": channel,
        "campaign_id": campaign_id,
        "touch_type": None,
    }


def deal(opportunity_id: str, domain: str, created_at, closed_at=None, *, won=True, closed=None, cents=10_000):
    closed = (closed_at is not None) if closed is None else closed
    return {
        "opportunity_id": opportunity_id,
        "account_domain": domain,
        "created_at": created_at,
        "closed_at": closed_at,
        "is_closed": closed,
        "is_won": won,
        "amount_cents": cents,
    }


def frames(touches, opportunities, contacts=()):
    return (
        pl.DataFrame(list(touches), schema=TOUCH_SCHEMA),
        pl.DataFrame(list(opportunities), schema=OPPORTUNITY_SCHEMA),
        pl.DataFrame(list(contacts), schema=CONTACT_SCHEMA),
    )
