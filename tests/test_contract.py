"""SPEC 1/2 contract staging (attribution_pipeline.contract.rules.stage).

Raw frames are what the readers produce: every column text, plus
``_source_file`` (str) and ``_source_row`` (Int64). Expected values and rule
ids are worked out by hand from SPEC 1 (columns and rules per source) and
SPEC 2 (quarantine, duplicates, rows in = rows passed + rows quarantined).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attribution_pipeline.contract.rules import CONTRACTS, QUARANTINE_COLUMNS, stage
from models.params import AttributionParams

PARAMS = AttributionParams()
FILE = "landing/source.csv"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def raw_frame(rows: list[dict], columns: list[str] | None = None, file: str = FILE) -> pl.DataFrame:
    """All-text raw frame; row numbers are 1-based in list order."""
    if columns is None:
        columns = []
        for row in rows:
            columns += [c for c in row if c not in columns]
    data = {c: [row.get(c) for row in rows] for c in columns}
    frame = pl.DataFrame(data, schema={c: pl.String for c in columns})
    return frame.with_columns(
        pl.lit(file, pl.String).alias("_source_file"),
        pl.Series("_source_row", list(range(1, len(rows) + 1)), dtype=pl.Int64),
    )


def run(source: str, rows: list[dict], params: AttributionParams = PARAMS, **kwargs):
    raw = rows if isinstance(rows, pl.DataFrame) else raw_frame(rows, **kwargs)
    staged = stage(CONTRACTS[source], raw, params)
    # SPEC 2: no row is silently dropped
    assert staged.valid.height + staged.quarantine.height == raw.height
    rows_seen = sorted(staged.valid["_source_row"].to_list() + staged.quarantine["source_row"].to_list())
    assert rows_seen == sorted(raw["_source_row"].to_list())
    return staged


def rules_by_row(staged) -> dict[int, str]:
    return dict(zip(staged.quarantine["source_row"].to_list(), staged.quarantine["rule"].to_list()))


def valid_rows(staged) -> dict[int, dict]:
    return {row["_source_row"]: row for row in staged.valid.iter_rows(named=True)}


# --------------------------------------------------------------------------
# baseline rows, each valid
# --------------------------------------------------------------------------
def touch(**overrides) -> dict:
    row = {
        "touch_id": "t1", "occurred_at": "2024-03-01T10:00:00Z", "email": None, "account_domain": None,
        "channel": None, "campaign_id": None, "utm_source": None, "utm_medium": None,
        "utm_campaign": None, "utm_content": None, "utm_term": None, "touch_type": None,
    }  # fmt: skip
    row.update(overrides)
    return row


def campaign(**overrides) -> dict:
    row = {
        "campaign_id": "c1", "campaign_name": "Spring launch", "channel": "paid_search",
        "start_date": "2024-03-01", "end_date": "2024-03-31", "cost": "1000.00", "currency": None,
    }  # fmt: skip
    row.update(overrides)
    return row


def opportunity(**overrides) -> dict:
    row = {
        "opportunity_id": "o1", "account_domain": "acme.com", "created_at": "2024-03-01T09:00:00Z",
        "closed_at": "2024-03-10T12:00:00Z", "stage": "Closed Won", "is_closed": "true",
        "is_won": "true", "amount": "5000.00", "currency": None,
    }  # fmt: skip
    row.update(overrides)
    return row


def test_contract_columns_match_spec():
    assert set(CONTRACTS) >= {"touches", "campaigns", "opportunities", "opportunity_contacts"}
    assert set(CONTRACTS["touches"].columns) == {
        "touch_id", "occurred_at", "email", "account_domain", "channel", "campaign_id",
        "utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term", "touch_type", "anonymous_id",
    }  # fmt: skip
    assert set(CONTRACTS["campaigns"].columns) == {
        "campaign_id", "campaign_name", "channel", "start_date", "end_date", "cost", "currency",
    }  # fmt: skip
    assert set(CONTRACTS["opportunities"].columns) == {
        "opportunity_id", "account_domain", "created_at", "closed_at", "stage", "is_closed", "is_won",
        "amount", "currency",
    }  # fmt: skip
    assert set(CONTRACTS["opportunity_contacts"].columns) == {"opportunity_id", "email", "role"}
    assert CONTRACTS["opportunity_contacts"].optional
    assert CONTRACTS["identities"].columns == ("anonymous_id", "email", "identified_at") and CONTRACTS["identities"].optional


# --------------------------------------------------------------------------
# touches
# --------------------------------------------------------------------------
def test_touch_valid_row_is_normalized():
    staged = run("touches", [touch(
        touch_id="  t1 ", occurred_at=" 2024-03-01T10:00:00+02:00 ", email="  Jane.Doe@Acme.COM ",
        utm_source=" LinkedIn ", utm_medium="CPC", utm_campaign=" spring ", campaign_id=" c1 ",
        touch_type=" ad_click ",
    )])  # fmt: skip
    assert staged.quarantine.height == 0
    row = staged.valid.row(0, named=True)
    assert row["touch_id"] == "t1"
    assert row["occurred_at"] == utc(2024, 3, 1, 8, 0, 0)
    assert row["email"] == "jane.doe@acme.com"
    assert row["account_domain"] == "acme.com"  # from the e-mail
    assert row["domain_is_given"] is False
    assert row["channel"] == "paid_social"  # linkedin + cpc, rule 1
    assert row["campaign_id"] == "c1"
    assert row["utm_source"] == "LinkedIn"  # trimmed only
    assert row["utm_medium"] == "CPC"
    assert row["utm_campaign"] == "spring"
    assert row["touch_type"] == "ad_click"
    assert row["_source_file"] == FILE
    assert row["_source_row"] == 1
    assert staged.valid.schema["occurred_at"] == pl.Datetime("us", "UTC")


@pytest.mark.parametrize(
    ("email", "given_domain", "expected_domain", "is_given"),
    [
        ("jane@acme.com", None, "acme.com", False),
        ("Jane@Mail.ACME.com", None, "mail.acme.com", False),  # subdomain kept
        ("jane@acme.com", "https://www.Other.io/path", "other.io", True),  # given wins
        ("jane@gmail.com", "acme.com", "acme.com", True),
        ("jane@gmail.com", None, None, False),  # free-mail: no account
        ("Jane@GMAIL.COM", None, None, False),
        ("jane@googlemail.com", None, None, False),
        ("jane@yahoo.com", None, None, False),
        ("jane@hotmail.com", None, None, False),
        ("jane@outlook.com", None, None, False),
        ("jane@live.com", None, None, False),
        ("jane@icloud.com", None, None, False),
        ("jane@aol.com", None, None, False),
        ("jane@proton.me", None, None, False),
        ("jane@protonmail.com", None, None, False),
        ("jane@gmx.com", None, None, False),
        ("jane@gmail.com.", None, None, False),  # normalized first, then compared
        ("jane@gmail.com", "gmail.com", "gmail.com", True),  # a GIVEN free-mail domain is kept
        (None, "ACME.com.", "acme.com", True),
        (None, None, None, False),
        ("not-an-email", None, None, False),
        ("   ", "   ", None, False),  # whitespace-only = null
    ],
)
def test_touch_account_domain(email, given_domain, expected_domain, is_given):
    staged = run("touches", [touch(email=email, account_domain=given_domain)])
    row = staged.valid.row(0, named=True)
    assert row["account_domain"] == expected_domain
    assert row["domain_is_given"] is is_given


def test_touch_freemail_list_is_configurable():
    params = AttributionParams(freemail_domains=frozenset({"acme.com"}))
    staged = run("touches", [touch(touch_id="t1", email="a@acme.com"), touch(touch_id="t2", email="b@gmail.com")], params)
    assert valid_rows(staged)[1]["account_domain"] is None
    assert valid_rows(staged)[2]["account_domain"] == "gmail.com"


@pytest.mark.parametrize(
    ("given_channel", "src", "med", "expected"),
    [
        ("Paid_Social", None, None, "paid_social"),  # given: lower-cased
        ("  WEBINAR ", "google", "cpc", "webinar"),  # given wins over the UTMs
        ("Partner Marketing", None, None, "partner marketing"),  # a given value is not re-grouped
        (None, "google", "cpc", "paid_search"),  # derived
        ("   ", "google", "cpc", "paid_search"),  # whitespace-only = null = derived
        ("", None, "email", "email"),
        (None, " Google ", " Organic ", "organic_search"),  # UTMs trimmed before grouping
        (None, None, None, "direct"),
        (None, "google", "cpc2", "direct"),
    ],
)
def test_touch_channel_given_or_derived(given_channel, src, med, expected):
    staged = run("touches", [touch(channel=given_channel, utm_source=src, utm_medium=med)])
    assert staged.valid["channel"].to_list() == [expected]


def test_touch_missing_optional_columns_are_null():
    """A file with only the required columns: everything optional is null, channel is direct."""
    staged = run("touches", [{"touch_id": "t1", "occurred_at": "2024-03-01"}])
    row = staged.valid.row(0, named=True)
    assert row["occurred_at"] == utc(2024, 3, 1)
    assert row["email"] is None and row["account_domain"] is None and row["campaign_id"] is None
    assert row["domain_is_given"] is False
    assert row["channel"] == "direct"


def test_touch_rules():
    staged = run("touches", [
        touch(touch_id="ok"),                                       # 1
        touch(touch_id=None),                                       # 2
        touch(touch_id="   "),                                      # 3
        touch(touch_id="a", occurred_at=None),                      # 4
        touch(touch_id="b", occurred_at=" \t "),                    # 5
        touch(touch_id="c", occurred_at="2024-02-30"),              # 6
        touch(touch_id="d", occurred_at="1709287200"),              # 7
        touch(touch_id="e", occurred_at="2024-03-01T10:00:00+25:00"),  # 8
        touch(touch_id="f", occurred_at="yesterday"),               # 9
        touch(touch_id="g", campaign_id="not-a-campaign"),          # 10: kept, never dropped
    ])  # fmt: skip
    assert rules_by_row(staged) == {
        2: "touch_id.required",
        3: "touch_id.required",
        4: "occurred_at.required",
        5: "occurred_at.required",
        6: "occurred_at.invalid_timestamp",
        7: "occurred_at.invalid_timestamp",
        8: "occurred_at.invalid_timestamp",
        9: "occurred_at.invalid_timestamp",
    }
    assert sorted(valid_rows(staged)) == [1, 10]
    assert valid_rows(staged)[10]["campaign_id"] == "not-a-campaign"


def test_touch_non_ascii_offset_is_quarantined_not_a_crash():
    staged = run("touches", [touch(touch_id="ok"), touch(touch_id="bad", occurred_at="2024-03-01T10:00:00+\u0660\u0662:00")])
    assert rules_by_row(staged) == {2: "occurred_at.invalid_timestamp"}


# --------------------------------------------------------------------------
# duplicates (SPEC 2)
# --------------------------------------------------------------------------
def test_touch_duplicates():
    staged = run("touches", [
        touch(touch_id="same", occurred_at="2024-03-01T10:00:00Z"),  # 1 kept
        touch(touch_id="diff", occurred_at="2024-03-01T10:00:00Z"),  # 2
        touch(touch_id="same", occurred_at="2024-03-01T10:00:00Z"),  # 3 identical copy
        touch(touch_id="diff", occurred_at="2024-03-02T10:00:00Z"),  # 4 differs from 2
        touch(touch_id="same", occurred_at="2024-03-01T10:00:00Z"),  # 5 identical copy
        touch(touch_id="solo"),                                      # 6
    ])  # fmt: skip
    assert rules_by_row(staged) == {
        2: "touch_id.duplicate_key",
        3: "touch_id.duplicate_row",
        4: "touch_id.duplicate_key",
        5: "touch_id.duplicate_row",
    }
    assert sorted(valid_rows(staged)) == [1, 6]


def test_duplicates_two_identical_and_one_different_are_all_quarantined():
    """The copies are not all identical, so every row of the key goes."""
    staged = run("touches", [
        touch(touch_id="k", email="a@acme.com"),
        touch(touch_id="k", email="a@acme.com"),
        touch(touch_id="k", email="b@acme.com"),
    ])  # fmt: skip
    assert rules_by_row(staged) == {1: "touch_id.duplicate_key", 2: "touch_id.duplicate_key", 3: "touch_id.duplicate_key"}
    assert staged.valid.height == 0


def test_duplicate_keys_are_compared_after_trimming():
    staged = run("touches", [touch(touch_id=" k", touch_type="a"), touch(touch_id="k ", touch_type="b")])
    assert rules_by_row(staged) == {1: "touch_id.duplicate_key", 2: "touch_id.duplicate_key"}


def test_duplicate_first_copy_is_the_earliest_row_whatever_the_frame_order():
    raw = raw_frame([touch(touch_id="k"), touch(touch_id="k"), touch(touch_id="k")]).reverse()
    staged = run("touches", raw)
    assert staged.valid["_source_row"].to_list() == [1]
    assert rules_by_row(staged) == {2: "touch_id.duplicate_row", 3: "touch_id.duplicate_row"}


def test_duplicates_differing_only_in_an_extra_column_are_not_identical():
    """SPEC 2: 'identical in every column'; an unknown extra column is still a column of the row."""
    raw = raw_frame([touch(touch_id="k"), touch(touch_id="k")]).with_columns(note=pl.Series(["first", "second"], dtype=pl.String))
    staged = run("touches", raw)
    assert rules_by_row(staged) == {1: "touch_id.duplicate_key", 2: "touch_id.duplicate_key"}


def test_identical_copies_in_two_files_keep_one():
    raw = pl.concat([
        raw_frame([touch(touch_id="k")], file="touches/part-1.csv"),
        raw_frame([touch(touch_id="x"), touch(touch_id="k")], file="touches/part-2.csv"),
    ])  # fmt: skip
    staged = run("touches", raw)
    assert staged.valid.select("touch_id", "_source_file", "_source_row").sort("touch_id").rows() == [
        ("k", "touches/part-1.csv", 1), ("x", "touches/part-2.csv", 1),
    ]  # fmt: skip
    assert staged.quarantine.select("rule", "source_file", "source_row").rows() == [
        ("touch_id.duplicate_row", "touches/part-2.csv", 2),
    ]


def test_rows_without_a_key_are_not_duplicates_of_each_other():
    staged = run("touches", [touch(touch_id=None), touch(touch_id=None)])
    assert rules_by_row(staged) == {1: "touch_id.required", 2: "touch_id.required"}


def test_campaign_duplicates():
    staged = run("campaigns", [
        campaign(campaign_id="c1"),
        campaign(campaign_id="c1"),
        campaign(campaign_id="c2", cost="10"),
        campaign(campaign_id="c2", cost="20"),
    ])  # fmt: skip
    assert rules_by_row(staged) == {
        2: "campaign_id.duplicate_row",
        3: "campaign_id.duplicate_key",
        4: "campaign_id.duplicate_key",
    }


def test_opportunity_duplicates():
    staged = run("opportunities", [
        opportunity(opportunity_id="o1"),
        opportunity(opportunity_id="o2", amount="1.00"),
        opportunity(opportunity_id="o1"),
        opportunity(opportunity_id="o2", amount="2.00"),
    ])  # fmt: skip
    assert rules_by_row(staged) == {
        2: "opportunity_id.duplicate_key",
        3: "opportunity_id.duplicate_row",
        4: "opportunity_id.duplicate_key",
    }
    assert sorted(valid_rows(staged)) == [1]


# --------------------------------------------------------------------------
# campaigns
# --------------------------------------------------------------------------
def test_campaign_valid_row_is_normalized():
    staged = run("campaigns", [campaign(
        campaign_id=" c1 ", campaign_name="  Spring launch ", channel=" Paid_Search ",
        start_date="2024-03-01", end_date=" 2024-03-31 ", cost=" 1234.5 ", currency=None,
    )])  # fmt: skip
    assert staged.quarantine.height == 0
    row = staged.valid.row(0, named=True)
    assert row["campaign_id"] == "c1"
    assert row["campaign_name"] == "Spring launch"
    assert row["channel"] == "paid_search"
    assert row["start_date"] == date(2024, 3, 1)
    assert row["end_date"] == date(2024, 3, 31)
    assert row["cost_cents"] == 123_450
    assert row["currency"] == "USD"  # default: the reporting currency
    assert (row["_source_file"], row["_source_row"]) == (FILE, 1)


@pytest.mark.parametrize("cost", [None, "", "   "])
def test_campaign_unknown_cost_is_null_not_zero(cost):
    staged = run("campaigns", [campaign(cost=cost)])
    assert staged.valid["cost_cents"].to_list() == [None]


@pytest.mark.parametrize(
    ("cost", "cents"),
    [("0", 0), ("12", 1200), (".5", 50), ("12.340", 1234), ("99.99", 9999)],
)
def test_campaign_cost_values(cost, cents):
    assert run("campaigns", [campaign(cost=cost)]).valid["cost_cents"].to_list() == [cents]


def test_campaign_rules():
    staged = run("campaigns", [
        campaign(campaign_id="ok"),                                           # 1
        campaign(campaign_id=None),                                           # 2
        campaign(campaign_id="a", campaign_name="  "),                        # 3
        campaign(campaign_id="b", channel=None),                              # 4
        campaign(campaign_id="c", start_date=None),                           # 5
        campaign(campaign_id="d", start_date="2024-02-30"),                   # 6
        campaign(campaign_id="e", end_date="someday"),                        # 7
        campaign(campaign_id="f", start_date="2024-03-10", end_date="2024-03-09"),  # 8
        campaign(campaign_id="g", start_date="2024-03-10", end_date="2024-03-10"),  # 9 same day: ok
        campaign(campaign_id="h", end_date=None),                             # 10 end optional
        campaign(campaign_id="i", cost="12.345"),                             # 11
        campaign(campaign_id="j", cost="-1"),                                 # 12
        campaign(campaign_id="k", cost="1e3"),                                # 13
        campaign(campaign_id="l", cost="1,234.00"),                           # 14
        campaign(campaign_id="m", cost="9" * 30),                             # 15
        campaign(campaign_id="n", currency="EUR"),                            # 16 not convertible yet
        campaign(campaign_id="o", currency="USD"),                            # 17
        campaign(campaign_id="p", currency="dollars"),                        # 18
    ])  # fmt: skip
    assert rules_by_row(staged) == {
        2: "campaign_id.required",
        3: "campaign_name.required",
        4: "channel.required",
        5: "start_date.required",
        6: "start_date.invalid_date",
        7: "end_date.invalid_date",
        8: "end_date.before_start",
        11: "cost.too_many_decimals",
        12: "cost.negative_money",
        13: "cost.invalid_money",
        14: "cost.invalid_money",
        15: "cost.money_out_of_range",
        16: "currency.no_rate",
        18: "currency.invalid_currency",
    }
    assert sorted(valid_rows(staged)) == [1, 9, 10, 17]
    assert valid_rows(staged)[10]["end_date"] is None


def test_currency_default_follows_the_reporting_currency():
    params = AttributionParams(reporting_currency="EUR")
    staged = run("campaigns", [
        campaign(campaign_id="a", currency=None),
        campaign(campaign_id="b", currency="EUR"),
        campaign(campaign_id="c", currency="USD"),
    ], params)  # fmt: skip
    assert staged.valid["currency"].to_list() == ["EUR", "EUR"]
    assert rules_by_row(staged) == {3: "currency.no_rate"}
    message = staged.quarantine["message"][0]
    assert "USD" in message and "EUR" in message


# --------------------------------------------------------------------------
# opportunities
# --------------------------------------------------------------------------
def test_opportunity_valid_row_is_normalized():
    staged = run("opportunities", [opportunity(
        opportunity_id=" o1 ", account_domain=" HTTPS://www.Acme.com/deals ", created_at="2024-03-01T09:00:00Z",
        closed_at=" 2024-03-10 ", stage=" Closed Won ", is_closed=" TRUE ", is_won="Yes", amount=" 1000.00 ",
        currency=" ",
    )])  # fmt: skip
    assert staged.quarantine.height == 0
    row = staged.valid.row(0, named=True)
    assert row["opportunity_id"] == "o1"
    assert row["account_domain"] == "acme.com"
    assert row["created_at"] == utc(2024, 3, 1, 9)
    assert row["closed_at"] == utc(2024, 3, 10, 23, 59, 59, 999_999)  # date-only closed_at: end of day
    assert row["stage"] == "Closed Won"
    assert row["is_closed"] is True and row["is_won"] is True
    assert row["amount_cents"] == 100_000
    assert row["currency"] == "USD"
    assert staged.valid.schema["closed_at"] == pl.Datetime("us", "UTC")


def test_opportunity_free_mail_domain_is_kept():
    staged = run("opportunities", [opportunity(account_domain="Gmail.com")])
    assert staged.valid["account_domain"].to_list() == ["gmail.com"]


def test_opportunity_open_deal_without_closed_at_is_valid():
    staged = run("opportunities", [opportunity(is_closed="f", is_won="n", closed_at=None)])
    row = staged.valid.row(0, named=True)
    assert (row["is_closed"], row["is_won"], row["closed_at"]) == (False, False, None)


def test_opportunity_closed_lost_is_valid():
    staged = run("opportunities", [opportunity(is_closed="1", is_won="0")])
    row = staged.valid.row(0, named=True)
    assert (row["is_closed"], row["is_won"]) == (True, False)


@pytest.mark.parametrize(
    ("created_at", "closed_at", "closed_utc"),
    [
        # date-only closed_at = end of that day, so same-day touches still count
        ("2024-03-10T15:00:00Z", "2024-03-10", utc(2024, 3, 10, 23, 59, 59, 999_999)),
        ("2024-03-10T23:59:59.999999Z", "2024-03-10", utc(2024, 3, 10, 23, 59, 59, 999_999)),
        ("2024-03-10", "2024-03-10", utc(2024, 3, 10, 23, 59, 59, 999_999)),
        # equal instants satisfy >=
        ("2024-03-10T10:00:00Z", "2024-03-10T12:00:00+02:00", utc(2024, 3, 10, 10)),
    ],
)
def test_opportunity_closed_on_created_day_is_valid(created_at, closed_at, closed_utc):
    staged = run("opportunities", [opportunity(created_at=created_at, closed_at=closed_at)])
    assert staged.quarantine.height == 0
    assert staged.valid["closed_at"].to_list() == [closed_utc]


def test_opportunity_rules():
    staged = run("opportunities", [
        opportunity(opportunity_id="ok"),                                                     # 1
        opportunity(opportunity_id=None),                                                     # 2
        opportunity(opportunity_id="a", account_domain=" "),                                  # 3
        opportunity(opportunity_id="b", created_at=None),                                     # 4
        opportunity(opportunity_id="c", created_at="2024-03-01T24:00:00"),                    # 5
        opportunity(opportunity_id="d", stage=""),                                            # 6
        opportunity(opportunity_id="e", is_closed=None),                                      # 7
        opportunity(opportunity_id="f", is_closed="maybe"),                                   # 8
        opportunity(opportunity_id="g", is_won=None),                                         # 9
        opportunity(opportunity_id="h", is_won="2"),                                          # 10
        opportunity(opportunity_id="i", is_closed="false", is_won="true", closed_at=None),    # 11
        opportunity(opportunity_id="j", is_closed="yes", is_won="no", closed_at=None),        # 12
        opportunity(opportunity_id="k", created_at="2024-03-10T10:00:00Z",
                    closed_at="2024-03-09T23:00:00Z"),                                        # 13
        opportunity(opportunity_id="l", created_at="2024-03-10T10:00:00Z",
                    closed_at="2024-03-10T11:00:00+02:00"),                                   # 14: 09:00 UTC
        opportunity(opportunity_id="m", created_at="2024-03-10T10:00:00Z", closed_at="2024-03-09"),  # 15
        opportunity(opportunity_id="n", closed_at="2024-03-10T23:59:60Z"),                    # 16
        opportunity(opportunity_id="o", amount=None),                                         # 17
        opportunity(opportunity_id="p", amount="12.345"),                                     # 18
        opportunity(opportunity_id="q", amount="-1"),                                         # 19
        opportunity(opportunity_id="r", amount="NaN"),                                        # 20
        opportunity(opportunity_id="s", amount="1" + "0" * 20),                              # 21
        opportunity(opportunity_id="t", currency="GBP"),                                      # 22
        opportunity(opportunity_id="u", currency="12$"),                                      # 23
        opportunity(opportunity_id="v", is_closed="false", is_won="false",
                    closed_at="2024-03-10T12:00:00Z"),                                        # 24: ok
    ])  # fmt: skip
    assert rules_by_row(staged) == {
        2: "opportunity_id.required",
        3: "account_domain.required",
        4: "created_at.required",
        5: "created_at.invalid_timestamp",
        6: "stage.required",
        7: "is_closed.required",
        8: "is_closed.invalid_boolean",
        9: "is_won.required",
        10: "is_won.invalid_boolean",
        11: "is_won.won_not_closed",
        12: "closed_at.required_when_closed",
        13: "closed_at.before_created",
        14: "closed_at.before_created",
        15: "closed_at.before_created",
        16: "closed_at.invalid_timestamp",
        17: "amount.required",
        18: "amount.too_many_decimals",
        19: "amount.negative_money",
        20: "amount.invalid_money",
        21: "amount.money_out_of_range",
        22: "currency.no_rate",
        23: "currency.invalid_currency",
    }
    assert sorted(valid_rows(staged)) == [1, 24]


@pytest.mark.parametrize("domain", ["https://", "www.", "/deals", "."])
def test_opportunity_domain_with_nothing_left_is_quarantined(domain):
    staged = run("opportunities", [opportunity(account_domain=domain)])
    assert staged.valid.height == 0
    assert staged.quarantine["rule"][0].startswith("account_domain.")


@pytest.mark.parametrize("amount", ["\u0661\u0662", "\uff11\uff12"])
def test_opportunity_non_ascii_amount_is_quarantined(amount):
    staged = run("opportunities", [opportunity(amount=amount)])
    assert staged.valid.height == 0


# --------------------------------------------------------------------------
# opportunity_contacts
# --------------------------------------------------------------------------
def test_contacts():
    staged = run("opportunity_contacts", [
        {"opportunity_id": " o1 ", "email": " Jane@Acme.COM ", "role": " Champion "},
        {"opportunity_id": None, "email": "a@acme.com", "role": None},
        {"opportunity_id": "o1", "email": "  ", "role": None},
    ])  # fmt: skip
    assert staged.valid.select("opportunity_id", "email", "role").rows() == [("o1", "jane@acme.com", "Champion")]
    assert rules_by_row(staged) == {2: "opportunity_id.required", 3: "email.required"}


# --------------------------------------------------------------------------
# quarantine rows: rule, source file and row, ORIGINAL values (SPEC 2)
# --------------------------------------------------------------------------
def test_quarantine_row_carries_lineage_and_original_values():
    rows = [touch(touch_id="ok"), touch(touch_id="  bad ", occurred_at="  2024-02-30 ", email=" Jane@Acme.COM ")]
    raw = raw_frame(rows, file="touches/part-0001.csv").with_columns(Extra=pl.lit(" kept ", pl.String))
    staged = run("touches", raw)
    assert staged.quarantine.columns == QUARANTINE_COLUMNS
    q = staged.quarantine.row(0, named=True)
    assert q["source"] == "touches"
    assert q["rule"] == "occurred_at.invalid_timestamp"
    assert q["source_file"] == "touches/part-0001.csv"
    assert q["source_row"] == 2
    assert "2024-02-30" in q["message"]
    values = json.loads(q["raw_values"])
    expected = dict(rows[1])
    expected["Extra"] = " kept "  # unknown extra columns are kept in raw
    assert values == expected  # untrimmed, not lower-cased, nulls as null
    # the valid row keeps its lineage; the extra column is ignored downstream
    assert staged.valid.select("_source_file", "_source_row").rows() == [("touches/part-0001.csv", 1)]
    assert "Extra" not in staged.valid.columns


def test_lineage_from_several_files():
    raw = pl.concat([
        raw_frame([touch(touch_id="a"), touch(touch_id="b", occurred_at="bad")], file="touches/p1.csv"),
        raw_frame([touch(touch_id="c", occurred_at="bad"), touch(touch_id="d")], file="touches/p2.parquet"),
    ])  # fmt: skip
    staged = stage(CONTRACTS["touches"], raw, PARAMS)
    assert sorted(staged.quarantine.select("source_file", "source_row").rows()) == [("touches/p1.csv", 2), ("touches/p2.parquet", 1)]
    assert sorted(staged.valid.select("touch_id", "_source_file", "_source_row").rows()) == [
        ("a", "touches/p1.csv", 1), ("d", "touches/p2.parquet", 2),
    ]  # fmt: skip


def test_whitespace_only_everywhere_is_null():
    staged = run("touches", [touch(
        touch_id="t", email=" ", account_domain="\t", channel="  ", campaign_id=" ", utm_source=" ",
        utm_medium=" ", utm_campaign=" ", utm_content="\n", utm_term=" ", touch_type=" ",
    )])  # fmt: skip
    row = staged.valid.row(0, named=True)
    for column in ("email", "account_domain", "campaign_id", "utm_source", "utm_medium", "utm_campaign",
                   "utm_content", "utm_term", "touch_type"):  # fmt: skip
        assert row[column] is None, column
    assert row["channel"] == "direct"


def test_empty_frame():
    staged = run("touches", raw_frame([], columns=list(CONTRACTS["touches"].columns)))
    assert staged.valid.height == 0 and staged.quarantine.height == 0


# --------------------------------------------------------------------------
# property: random junk never loses or duplicates a row, never crashes
# --------------------------------------------------------------------------
# plausible and junk fragments, so that valid, invalid and duplicated rows all occur
FRAGMENTS = [
    "", " ", "  x  ", "t1", "t2", "2024-03-01", "2024-03-01T10:00:00Z", "2024-02-30", "2024-03-01T10:00:00+02:00",
    "true", "FALSE", "y", "maybe", "12.34", "12.345", "-1", "1e3", "USD", "EUR", "acme.com", "https://",
    "Jane@Acme.com", "a@gmail.com", "cpc", "linkedin", "null", "NaN", '"', "{", "\\", "\u00e9", "\u200b",
]  # fmt: skip
CELL = st.one_of(st.none(), st.sampled_from(FRAGMENTS), st.text(max_size=12))


@st.composite
def junk_frame(draw, source: str):
    columns = list(CONTRACTS[source].columns)
    # sometimes drop an optional column or add an unknown one
    if draw(st.booleans()):
        columns = columns + ["extra_col"]
    n = draw(st.integers(min_value=0, max_value=8))
    rows = [{c: draw(CELL) for c in columns} for _ in range(n)]
    if rows and draw(st.booleans()):  # an exact copy of a row
        rows.append(dict(rows[draw(st.integers(0, len(rows) - 1))]))
    return rows, columns


@pytest.mark.parametrize("source", ["touches", "campaigns", "opportunities", "opportunity_contacts"])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_property_rows_in_equal_rows_passed_plus_quarantined(source, data):
    rows, columns = data.draw(junk_frame(source))
    raw = raw_frame(rows, columns=columns)
    staged = run(source, raw)  # asserts valid + quarantine == raw, each row once
    contract = CONTRACTS[source]
    # the original text of every quarantined row
    for q in staged.quarantine.iter_rows(named=True):
        assert q["source"] == source and q["source_file"] == FILE and q["rule"]
        assert json.loads(q["raw_values"]) == rows[q["source_row"] - 1]
    # a key is unique among valid rows and never null
    for key in contract.key:
        assert staged.valid[key].null_count() == 0
        assert staged.valid[key].n_unique() == staged.valid.height


# --------------------------------------------------------------------------
# SPEC 1 plausible range and the close-month partitions (issue 20), to the microsecond
# --------------------------------------------------------------------------
# A run that started 2026-12-02 10:00 UTC with the default tolerance (1 day) and earliest date
# (1990-01-01), partitions 2000-01 to 2026-12.
RUN_PARAMS = AttributionParams(
    latest_valid=utc(2026, 12, 3, 10, 0),
    close_months=(utc(2000, 1, 1), utc(2027, 1, 1)),
)


def test_every_timestamp_column_has_a_plausible_range_inclusive_at_both_ends():
    staged = run("touches", [
        touch(touch_id="a", occurred_at="1990-01-01T00:00:00Z"),          # 1: the earliest instant: in
        touch(touch_id="b", occurred_at="1989-12-31T23:59:59.999999Z"),   # 2: 1 µs before: out
        touch(touch_id="c", occurred_at="2026-12-03T10:00:00Z"),          # 3: run start + 1 day exactly: in
        touch(touch_id="d", occurred_at="2026-12-03T10:00:00.000001Z"),   # 4: 1 µs later: out
        touch(touch_id="e", occurred_at="2026-12-03T11:00:00+02:00"),     # 5: 09:00 UTC: in
        touch(touch_id="f", occurred_at="2026-12-03"),                    # 6: midnight that day: in
        touch(touch_id="g", occurred_at="2926-01-01"),                    # 7: a mistyped year: out
    ], RUN_PARAMS)  # fmt: skip
    assert rules_by_row(staged) == {2: "occurred_at.out_of_range", 4: "occurred_at.out_of_range", 7: "occurred_at.out_of_range"}
    messages = dict(zip(staged.quarantine["source_row"].to_list(), staged.quarantine["message"].to_list()))
    assert "before the earliest plausible time 1990-01-01T00:00:00.000000Z (--earliest-date)" in messages[2]
    assert "after the latest plausible time 2026-12-03T10:00:00.000000Z" in messages[4]


def test_without_a_run_time_there_is_no_upper_bound():
    staged = run("touches", [touch(touch_id="far", occurred_at="2926-01-01")])
    assert staged.quarantine.height == 0


def test_dates_compare_by_day_and_a_date_only_closed_at_ends_its_day():
    """start_date 2026-12-03 is the latest plausible day (the run's start + 1 day falls on it); a date-only
    closed_at on 2026-12-03 means 23:59:59.999999, after 10:00 + 1 day, so it is out."""
    campaigns = run("campaigns", [
        campaign(campaign_id="in", start_date="2026-12-03", end_date=None),
        campaign(campaign_id="late", start_date="2026-12-04", end_date=None),
        campaign(campaign_id="early", start_date="1989-12-31", end_date=None),
    ], RUN_PARAMS)  # fmt: skip
    assert rules_by_row(campaigns) == {2: "start_date.out_of_range", 3: "start_date.out_of_range"}
    deals = run("opportunities", [
        opportunity(opportunity_id="day", created_at="2026-12-01", closed_at="2026-12-03"),
        opportunity(opportunity_id="noon", created_at="2026-12-01", closed_at="2026-12-02T12:00:00Z"),
    ], RUN_PARAMS)  # fmt: skip
    assert rules_by_row(deals) == {1: "closed_at.out_of_range"}


def test_a_closed_deal_outside_the_close_month_partitions_is_quarantined_with_the_setting_to_change():
    staged = run("opportunities", [
        opportunity(opportunity_id="before", created_at="1999-12-01", closed_at="1999-12-31T23:59:59.999999Z"),  # 1: out
        opportunity(opportunity_id="first", created_at="1999-12-01", closed_at="2000-01-01T00:00:00Z"),          # 2: in
        opportunity(opportunity_id="open_old", created_at="1999-06-01", closed_at=None, is_closed="false", is_won="false"),  # 3: open: in
        opportunity(opportunity_id="ancient", created_at="1980-01-01", closed_at="1985-01-01"),                   # 4: once
    ], RUN_PARAMS)  # fmt: skip
    assert rules_by_row(staged) == {1: "closed_at.outside_partitions", 4: "created_at.out_of_range"}
    row = staged.quarantine.filter(pl.col("source_row") == 1).row(0, named=True)
    assert row["message"] == (
        "closed_at '1999-12-31T23:59:59.999999Z' is before the first close-month partition 2000-01: "
        "set ATTRIBUTION_PARTITION_START to that month or earlier to credit this deal"
    )
    assert (
        staged.quarantine.filter(pl.col("source_row") == 4).get_column("rules").item() == "created_at.out_of_range,closed_at.out_of_range"
    )
