"""The Dagster instance can keep its runs and events in PostgreSQL (dagster-postgres),
as a production deployment does; the pipeline runs unchanged against it."""

from __future__ import annotations

import dagster as dg
import pytest
import sqlalchemy as sa

from attribution_pipeline.sample_data import generate
from pipeline_runs import run_cli

INSTANCE_YAML = """\
storage:
  postgres:
    postgres_url: "{url}"
run_queue:
  max_concurrent_runs: 4
telemetry:
  enabled: false
"""


@pytest.mark.postgres
def test_pipeline_runs_with_run_and_event_storage_in_postgres(tmp_path, monkeypatch, postgres_database, duckdb_url):
    storage_url = sa.engine.make_url(postgres_database).set(drivername="postgresql+psycopg2").render_as_string(hide_password=False)
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(INSTANCE_YAML.format(url=storage_url))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    landing = tmp_path / "landing"
    generate(landing, touches=1_000, seed=3)

    assert run_cli("--source", str(landing), "--warehouse", duckdb_url) == 0

    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        runs = instance.get_runs()
        assert len(runs) == 1 and runs[0].is_success
        materialized = instance.get_latest_materialization_event(dg.AssetKey(["attribution", "touch_credit"]))
        assert materialized is not None and materialized.run_id == runs[0].run_id
    engine = sa.create_engine(postgres_database)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM runs")).scalar() == 1  # dagster's own table
    engine.dispose()
