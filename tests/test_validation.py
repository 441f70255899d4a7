"""great-expectations suites: whole-source rules, and the row suite agreeing with
the polars quarantine rule for rule (two independent implementations of SPEC 1)."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attribution_pipeline.contract.rules import CONTRACTS, LINEAGE, stage
from attribution_pipeline.contract.validation import check_rows, check_source, referential_warnings, row_expectations
from models.params import AttributionParams

UTC = dt.timezone.utc
# A run on 2026-12-02 with the default tolerance and the default partitions (2000-01 to 2026-12).
PARAMS = AttributionParams(
    latest_valid=dt.datetime(2026, 12, 3, 12, tzinfo=UTC),
    close_months=(dt.datetime(2000, 1, 1, tzinfo=UTC), dt.datetime(2027, 1, 1, tzinfo=UTC)),
)
POOLS = {
    "id": ["a", "b", " a ", "", None, "c"],
    "timestamp": [
        "2024-03-01",
        "2024-03-01T10:00:00Z",
        "2024-02-30",
        "1709287200",
        "2024-03-01T10:00:00+25:00",
        " ",
        None,
        "2024-13-01",
        "2024-03-02T00:00:00-05:00",
        "2099-01-01",
        "1989-12-31T23:59:59Z",
        "1990-01-01",
        "1995-06-01T10:00:00Z",
        "2026-12-03T12:00:00Z",
        "2026-12-03T12:00:01Z",
    ],
    "boolean": ["true", "FALSE", "yes", "n", "1", "0", "maybe", "yeſ", "ＴＲＵＥ", "", None],
    "money": ["12.34", "12.340", "12.345", "-1", "1e3", "NaN", "inf", ".5", "5.", "+3", "1,000", "١٢", "", None],
    "currency": ["USD", "usd", "EUR", "XYZ", "US", "", None],
    "text": ["x", "", " ", None, "'; DROP TABLE x; --"],
    "domain": ["acme.com", "HTTPS://WWW.Acme.com/x", "http://", "xn--bcher-kva.example", "", None],
}
COLUMN_POOLS = {
    "touches": {"touch_id": "id", "occurred_at": "timestamp", "email": "text", "account_domain": "domain", "anonymous_id": "text"},
    "identities": {"anonymous_id": "text", "email": "text", "identified_at": "timestamp"},
    "campaigns": {
        "campaign_id": "id",
        "campaign_name": "text",
        "channel": "text",
        "start_date": "timestamp",
        "end_date": "timestamp",
        "cost": "money",
        "currency": "currency",
    },
    "opportunities": {
        "opportunity_id": "id",
        "account_domain": "domain",
        "created_at": "timestamp",
        "closed_at": "timestamp",
        "stage": "text",
        "is_closed": "boolean",
        "is_won": "boolean",
        "amount": "money",
        "currency": "currency",
    },
    "opportunity_contacts": {"opportunity_id": "id", "email": "text"},
    "fx_rates": {"currency": "currency", "rate_date": "timestamp", "rate_to_reporting": "money"},
    "leads": {
        "lead_id": "id",
        "email": "text",
        "account_domain": "domain",
        "created_at": "timestamp",
        "mql_at": "timestamp",
        "sql_at": "timestamp",
        "first_sales_activity_at": "timestamp",
        "disqualified_at": "timestamp",
        "owner": "text",
        "converted_opportunity_id": "id",
    },
    "opportunity_stage_history": {"opportunity_id": "id", "stage": "text", "entered_at": "timestamp"},
}


@st.composite
def raw_frame(draw, source: str):
    pools = COLUMN_POOLS[source]
    n = draw(st.integers(min_value=1, max_value=80))
    data = {column: [draw(st.sampled_from(POOLS[pool])) for _ in range(n)] for column, pool in pools.items()}
    data["_source_file"] = ["f.csv"] * n
    data["_source_row"] = list(range(1, n + 1))
    return pl.DataFrame(data, schema={**{c: pl.String for c in pools}, "_source_file": pl.String, "_source_row": pl.Int64})


def quarantined_for(staged, rule: str) -> int:
    rules = staged.quarantine.get_column("rules").to_list()
    return sum(rule in row.split(",") for row in rules)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_row_suite_counts_equal_quarantine_counts_rule_for_rule(data):
    for source, contract in CONTRACTS.items():
        raw = data.draw(raw_frame(source), label=source)
        staged = stage(contract, raw, PARAMS)
        mirrored = {e.rule for e in row_expectations(contract, PARAMS) if e.mirrors_quarantine}
        for outcome in check_rows(contract, staged.judged_view(), PARAMS):
            if outcome.rule in mirrored:
                assert outcome.unexpected_count == quarantined_for(staged, outcome.rule), (source, outcome.rule)


def test_row_suite_reports_samples_with_source_rows():
    raw = pl.DataFrame(
        {"touch_id": ["t1", "t2"], "occurred_at": ["2024-01-01", "2024-02-30"], "_source_file": ["t.csv"] * 2, "_source_row": [1, 2]}
    )
    staged = stage(CONTRACTS["touches"], raw, PARAMS)
    outcome = next(o for o in check_rows(CONTRACTS["touches"], staged.judged_view(), PARAMS) if o.rule == "occurred_at.invalid_timestamp")
    assert (outcome.success, outcome.unexpected_count, outcome.sample) == (False, 1, ["row 2: '2024-02-30'"])


def test_source_suite_names_missing_columns_and_empty_sources():
    raw = pl.DataFrame({"touch_id": ["t1"], "_source_file": ["t.csv"], "_source_row": [1]})
    failed = [(o.rule, o.column) for o in check_source(CONTRACTS["touches"], raw) if not o.success]
    assert failed == [("source.missing_column", "occurred_at")]
    empty = raw.clear()
    failed = [o.rule for o in check_source(CONTRACTS["touches"], empty) if not o.success]
    assert failed == ["source.missing_column", "source.no_rows"]


def test_referential_warnings_count_each_kind():
    touches = pl.DataFrame({"touch_id": ["t1", "t2", "t3"], "campaign_id": ["c1", "c9", None]})
    campaigns = pl.DataFrame({"campaign_id": ["c1"]})
    opportunities = pl.DataFrame({"opportunity_id": ["o1", "o2"], "is_won": [True, True]})
    contacts = pl.DataFrame({"opportunity_id": ["o1", "o7"], "email": ["a@x.com", "b@x.com"]})
    journeys = pl.DataFrame({"opportunity_id": ["o1"], "touch_id": ["t1"]})
    assert referential_warnings(touches, campaigns, opportunities, contacts, journeys) == {
        "touch_campaign_ids_missing_from_campaigns": 1,  # c9
        "contacts_of_unknown_deals": 1,  # o7
        "won_deals_without_touches": 1,  # o2
        "touches_matching_no_deal": 2,  # t2, t3
    }


@settings(
    max_examples=2,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_staging_in_chunks_equals_staging_at_once(data, monkeypatch):
    """Chunks change memory only: the same staged and quarantined rows, and the same
    GX counts, with keys repeated across chunks (the pools repeat ids often)."""
    import logging
    from types import SimpleNamespace

    from assets import staging

    monkeypatch.setattr(staging, "CHUNK_ROWS", 17)
    context = SimpleNamespace(log=logging.getLogger("test"))
    for source, contract in CONTRACTS.items():
        raw = data.draw(raw_frame(source), label=source)
        whole = stage(contract, raw, PARAMS)
        valid, rows, passed, quarantine, outcomes = staging.stage_in_chunks(context, contract, raw, PARAMS, None, Path(tempfile.mkdtemp()))
        assert valid.collect().equals(whole.valid), source
        assert (rows, passed) == (raw.height, whole.valid.height), source
        assert quarantine.equals(whole.quarantine), source
        at_once = {o.rule: (o.success, o.unexpected_count, o.element_count) for o in check_rows(contract, whole.judged_view(), PARAMS)}
        chunked = {o.rule: (o.success, o.unexpected_count, o.element_count) for o in outcomes}
        assert chunked == at_once, source


def test_a_new_source_is_one_declaration_judged_by_both_suites():
    """A source the pipeline has never seen, declared with roles only: staging quarantines
    the rows the hand-derived rules say, and the GX suite built from the same declaration
    counts the same rows rule for rule, with no code naming the source."""
    from attribution_pipeline.contract.roles import Boolean, Money, NotBefore, Text, Timestamp
    from attribution_pipeline.contract.rules import SourceContract

    contract = SourceContract(
        "subscriptions",
        (
            Text("subscription_id", required=True),
            Timestamp("started_at", required=True),
            Timestamp("renews_on"),
            NotBefore("renews_on", "started_at", rule="renews_on.before_start"),
            Boolean("active", required=True),
            Money("mrr"),
        ),
        key=("subscription_id",),
    )
    assert contract.required_columns == ("subscription_id", "started_at", "active")
    raw = pl.DataFrame(
        {
            "subscription_id": ["s1", "s2", "s3", "s4", "s5", ""],
            "started_at": ["2024-03-01", "2024-03-01", "2024-02-30", "2024-03-01", "2024-03-05", "2024-03-01"],
            "renews_on": ["2025-03-01", "2024-02-01", "", "2025-03-01", "2024-03-05", None],
            "active": ["yes", "true", "n", "maybe", "0", "1"],
            "mrr": ["10.00", "5", "1.234", "", "-1", "7"],
            "_source_file": ["s.csv"] * 6,
            "_source_row": list(range(1, 7)),
        }
    )
    staged = stage(contract, raw, PARAMS)
    # By hand: s1 is clean; s2 renews before it starts; s3 has no such day (and 3 decimals);
    # s4's active is not a boolean; s5 renews on its start day (kept) but its mrr is negative;
    # the last row has no id.
    assert staged.valid.get_column("subscription_id").to_list() == ["s1"]
    assert staged.valid.columns == ["subscription_id", "started_at", "renews_on", "active", "mrr_cents", *LINEAGE]
    assert staged.valid.get_column("mrr_cents").to_list() == [1000]
    rules = dict(zip(staged.quarantine.get_column("source_row").to_list(), staged.quarantine.get_column("rules").to_list()))
    assert rules == {
        2: "renews_on.before_start",
        3: "started_at.invalid_timestamp,mrr.too_many_decimals",
        4: "active.invalid_boolean",
        5: "mrr.negative_money",
        6: "subscription_id.required",
    }
    expectations = row_expectations(contract, PARAMS)
    mirrored = {e.rule for e in expectations if e.mirrors_quarantine}
    assert mirrored >= {"renews_on.before_start", "started_at.invalid_timestamp", "active.invalid_boolean", "subscription_id.required"}
    outcomes = {o.rule: o.unexpected_count for o in check_rows(contract, staged.judged_view(), PARAMS)}
    for rule in mirrored:
        assert outcomes[rule] == quarantined_for(staged, rule), rule
    assert outcomes["mrr.money"] == 2  # the money pattern: 1.234 and -1


def test_every_contract_travels_to_the_validator_process():
    """The GX suites run in their own process, so each declaration must pickle (no lambdas)."""
    import pickle

    for name, contract in CONTRACTS.items():
        assert pickle.loads(pickle.dumps(contract)).columns == contract.columns, name
