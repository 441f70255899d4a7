"""The Dagster code location: every asset is documented, grouped and kinded, by layer."""

from __future__ import annotations

import dagster as dg

from attribution_pipeline.definitions import ALL_ASSETS_JOB, build_definitions
from attribution_pipeline.warehouse.tables import PUBLIC_TABLES, PUBLISHED, SNAPSHOT_TABLES

defs = build_definitions()

LAYER_GROUPS = {"raw": "raw", "staging": "staging", "quarantine": "staging"}
SOURCES = ["campaigns", "fx_rates", "identities", "leads", "opportunities", "opportunity_contacts", "opportunity_stage_history", "touches"]


def specs() -> dict[str, dg.AssetSpec]:
    graph = defs.resolve_asset_graph()
    return {key.to_user_string(): graph.get(key) for key in graph.get_all_asset_keys()}


def test_every_layer_has_its_assets():
    expected = {f"{layer}/{source}" for layer in ("raw", "staging", "quarantine") for source in SOURCES}
    expected |= {
        f"attribution/{name}"
        for name in (
            "journeys",
            "channel_values",
            "channel_attribution_intervals",
            "touch_credit",
            "campaign_attribution",
            "channel_attribution",
            "pipeline_credit",
            "pipeline_channel_attribution",
            "pipeline_campaign_attribution",
            "pipeline_sourcing",
            "funnel_monthly",
            "lead_sla",
            "lead_sla_compliance",
            "stage_velocity",
            "snapshot_drift",
            "runs",
            "report",
        )
    }
    expected |= {"staging/lead_first_touch", "staging/identity_links"}
    assert set(specs()) == expected


def test_every_asset_has_group_kinds_and_description():
    for key, node in specs().items():
        layer, name = key.split("/")
        expected_group = LAYER_GROUPS.get(layer) or (
            "attribution"
            if name in ("journeys", "channel_values", "channel_attribution_intervals", "touch_credit", "pipeline_credit")
            else "marts"
        )
        assert node.group_name == expected_group, key
        assert node.kinds, key
        assert node.description and len(node.description) > 40, key


def test_public_tables_are_assets_with_documented_columns():
    keys = set(specs())
    for table in PUBLIC_TABLES:
        if table.name != "run_sources" and table not in SNAPSHOT_TABLES:  # written by the runs asset / snapshot_job
            assert f"{table.schema}/{table.name}" in keys
        assert table.comment
        assert all(column.comment for column in table.columns), table.name


def test_reconciliation_check_blocks_the_marts():
    checks = {check.name: check for check in defs.resolve_asset_graph().asset_check_keys}
    assert "touch_credit_reconciles" in checks
    graph = defs.resolve_asset_graph()
    spec = graph.get_check_spec(checks["touch_credit_reconciles"])
    assert spec.blocking


def test_the_whole_graph_job_resolves():
    job = defs.resolve_job_def(ALL_ASSETS_JOB)
    assert len(job.asset_layer.executable_asset_keys) == len(specs())


def test_public_table_assets_declare_their_column_schema():
    nodes = specs()
    for table in PUBLIC_TABLES:
        if table.name == "run_sources" or table in SNAPSHOT_TABLES:  # written with runs / by a freeze, not by an asset
            continue
        schema = nodes[f"{table.schema}/{table.name}"].metadata["dagster/column_schema"]
        assert [column.name for column in schema.columns] == [column.name for column in table.columns]
        assert all(column.description for column in schema.columns)


def test_validation_checks_exist_with_the_right_blocking_flags():
    graph = defs.resolve_asset_graph()
    flags = {(key.asset_key.to_user_string(), key.name): graph.get_check_spec(key).blocking for key in graph.asset_check_keys}
    for source in SOURCES:
        assert flags[(f"raw/{source}", "source_is_usable")] is True
        assert flags[(f"staging/{source}", "quarantine_share_within_limit")] is True
        assert flags[(f"staging/{source}", "rows_meet_contract")] is False
    assert flags[("attribution/journeys", "referential_integrity")] is False
    assert flags[("attribution/touch_credit", "touch_credit_reconciles")] is True
    assert flags[("attribution/pipeline_credit", "pipeline_credit_reconciles")] is True


def test_the_publishing_step_follows_every_attribution_table_in_the_graph():
    """attribution/runs publishes the run's attribution tables: its upstream is every
    declared table the pipeline computes into that schema, found from the asset graph."""
    graph = defs.resolve_asset_graph()
    parents = {key.to_user_string() for key in graph.get(dg.AssetKey(["attribution", "runs"])).parent_keys}
    assert parents == {f"attribution/{table.name}" for table in PUBLISHED}
    assert {key.to_user_string() for key in graph.get(dg.AssetKey(["attribution", "report"])).parent_keys} == {"attribution/runs"}


def test_every_step_that_writes_tables_retries_and_backfills_in_one_run():
    for node in defs.resolve_asset_graph().asset_nodes:
        if node.key.to_user_string() == "attribution/report":  # writes a file, not a table
            continue
        assert node.backfill_policy == dg.BackfillPolicy.single_run(), node.key
        assert node.assets_def.op.retry_policy is not None, node.key
