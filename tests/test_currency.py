"""fx_rates and conversion to the reporting currency (SPEC 1), with hand-computed cents."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from attribution_pipeline.contract.rules import CONTRACTS, stage
from models.params import AttributionParams

PARAMS = AttributionParams()  # reporting currency USD


def raw(rows: list[dict]) -> pl.DataFrame:
    columns = sorted({key for row in rows for key in row})
    frame = pl.DataFrame([{c: row.get(c) for c in columns} for row in rows], schema={c: pl.String for c in columns})
    return frame.with_columns(_source_file=pl.lit("x.csv"), _source_row=pl.int_range(1, pl.len() + 1, dtype=pl.Int64))


def rates(*rows: tuple[str, str, str]) -> pl.DataFrame:
    staged = stage(CONTRACTS["fx_rates"], raw([{"currency": c, "rate_date": d, "rate_to_reporting": r} for c, d, r in rows]), PARAMS)
    assert staged.quarantine.height == 0
    return staged.valid


def deal(opportunity_id: str, amount: str, currency: str | None, closed_at: str | None = "2024-03-10", closed: str = "true") -> dict:
    return {
        "opportunity_id": opportunity_id,
        "account_domain": "acme.com",
        "created_at": "2024-01-01",
        "closed_at": closed_at,
        "stage": "Closed",
        "is_closed": closed,
        "is_won": closed,
        "amount": amount,
        "currency": currency,
    }


FX = rates(("EUR", "2024-03-01", "1.0842"), ("EUR", "2024-03-11", "2"), ("GBP", "2024-01-01", "1.25"))


def test_amount_converted_with_latest_rate_on_or_before_close_and_rounded_half_up():
    staged = stage(
        CONTRACTS["opportunities"],
        raw(
            [
                deal("o1", "100.00", "EUR"),  # rate of 03-01 (03-11 is after the close): 10000 * 1.0842 = 10842
                deal("o2", "0.05", "EUR"),  # 5 * 1.0842 = 5.421 -> 5
                deal("o3", "0.50", "GBP"),  # 50 * 1.25 = 62.5 -> 63 (half up)
                deal("o4", "100.00", "EUR", closed_at="2024-03-11"),  # rate of 03-11, on the day: 20000
                deal("o5", "7.00", None),  # default: the reporting currency
                deal("o6", "7.00", "usd"),
            ]
        ),
        PARAMS,
        FX,
    )
    assert staged.quarantine.height == 0
    assert dict(staged.valid.select("opportunity_id", "amount_cents").iter_rows()) == {
        "o1": 10842,
        "o2": 5,
        "o3": 63,
        "o4": 20000,
        "o5": 700,
        "o6": 700,
    }


def test_missing_rate_is_quarantined_naming_currency_and_date():
    staged = stage(
        CONTRACTS["opportunities"],
        raw(
            [
                deal("early", "1.00", "EUR", closed_at="2024-02-29"),  # before the first EUR rate
                deal("jpy", "1.00", "JPY"),
                deal("fine", "1.00", "EUR"),
            ]
        ),
        PARAMS,
        FX,
    )
    rows = {r["raw_values"]: (r["rule"], r["message"]) for r in staged.quarantine.iter_rows(named=True)}
    assert [r for r, _ in rows.values()] == ["currency.no_rate", "currency.no_rate"]
    messages = " | ".join(m for _, m in rows.values())
    assert "EUR" in messages and "2024-02-29" in messages and "JPY" in messages and "2024-03-10" in messages
    assert staged.valid.get_column("opportunity_id").to_list() == ["fine"]


def test_open_deal_uses_the_latest_rate_or_the_as_of_date():
    open_deal = [deal("open", "100.00", "EUR", closed_at=None, closed="false")]
    latest = stage(CONTRACTS["opportunities"], raw(open_deal), PARAMS, FX)
    assert latest.valid.get_column("amount_cents").to_list() == [20000]
    as_of = AttributionParams(as_of=dt.datetime(2024, 3, 5, tzinfo=dt.timezone.utc))
    dated = stage(CONTRACTS["opportunities"], raw(open_deal), as_of, FX)
    assert dated.valid.get_column("amount_cents").to_list() == [10842]


def test_campaign_cost_converted_at_start_date_and_unknown_cost_stays_null():
    staged = stage(
        CONTRACTS["campaigns"],
        raw(
            [
                {
                    "campaign_id": "c1",
                    "campaign_name": "A",
                    "channel": "email",
                    "start_date": "2024-03-02",
                    "cost": "1000.00",
                    "currency": "EUR",
                },
                {
                    "campaign_id": "c2",
                    "campaign_name": "B",
                    "channel": "email",
                    "start_date": "2024-03-02",
                    "cost": None,
                    "currency": "EUR",
                },
            ]
        ),
        PARAMS,
        FX,
    )
    assert dict(staged.valid.select("campaign_id", "cost_cents").iter_rows()) == {"c1": 108420, "c2": None}


@pytest.mark.parametrize(
    ("row", "rule"),
    [
        (("EUR", "2024-03-01", "0"), "rate_to_reporting.invalid_rate"),
        (("EUR", "2024-03-01", "-1.1"), "rate_to_reporting.invalid_rate"),
        (("EUR", "2024-03-01", "1e3"), "rate_to_reporting.invalid_rate"),
        (("EUR", "2024-02-30", "1.1"), "rate_date.invalid_date"),
        (("EURO", "2024-03-01", "1.1"), "currency.invalid_currency"),
    ],
)
def test_invalid_fx_rows_are_quarantined(row, rule):
    currency, date, rate = row
    staged = stage(CONTRACTS["fx_rates"], raw([{"currency": currency, "rate_date": date, "rate_to_reporting": rate}]), PARAMS)
    assert staged.quarantine.get_column("rule").to_list() == [rule]


def test_duplicate_rate_for_one_day_quarantines_both_unless_identical():
    rows = [{"currency": "EUR", "rate_date": "2024-03-01", "rate_to_reporting": r} for r in ("1.1", "1.2")]
    staged = stage(CONTRACTS["fx_rates"], raw(rows), PARAMS)
    assert staged.quarantine.get_column("rule").to_list() == ["currency+rate_date.duplicate_key"] * 2
