"""Shared fixtures: warehouses (embedded DuckDB, the machine's PostgreSQL) and a sample landing folder."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """See _on_tmpfs; and import great-expectations once per test process, so that the
    in-process runs validate in this process (validation.start_validator keeps a
    validator process for a fresh process, which the subprocess tests exercise)."""
    import great_expectations  # noqa: F401

    _on_tmpfs(config)


def pytest_collection_modifyitems(config, items):
    """The tests marked ``longest`` start first, so that the two xdist workers spend their
    minute beside the rest of the suite instead of after it."""
    items.sort(key=lambda item: item.get_closest_marker("longest") is None)


def _on_tmpfs(config):
    """Test folders (DuckDB warehouses, landing folders, run workspaces) on tmpfs when there is
    one: a run commits and fsyncs many times, and the disk of a shared machine is slow and
    noisy. The xdist workers inherit the folder; it is removed when the session ends."""
    if config.option.basetemp or hasattr(config, "workerinput"):
        return
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        config.option.basetemp = tempfile.mkdtemp(prefix="attribution-pytest-", dir=shm)
        config.add_cleanup(lambda: shutil.rmtree(config.option.basetemp, ignore_errors=True))


POSTGRES_ADMIN_URL = os.environ.get("ATTRIBUTION_TEST_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/test")


def _postgres_available() -> str | None:
    try:
        engine = sa.create_engine(POSTGRES_ADMIN_URL)
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as error:  # noqa: BLE001 - any failure means "not reachable"
        return f"{type(error).__name__}: {str(error).splitlines()[0]}"


@pytest.fixture(autouse=True)
def close_months_from_2024(monkeypatch):
    """The test data closes in 2024-2025: fewer close-month partitions keep each run's
    Dagster bookkeeping (planned events per asset and month) small. Subprocess runs
    inherit it."""
    monkeypatch.setenv("ATTRIBUTION_PARTITION_START", "2024-01-01")
    # A few bootstrap draws per run; tests/test_data_driven_pipeline.py asks for more.
    monkeypatch.setenv("ATTRIBUTION_BOOTSTRAP_DRAWS", "5")


@pytest.fixture
def dagster_home(tmp_path, monkeypatch):
    """An instance of our own per test (telemetry off), on tmpfs when possible."""
    from pipeline_runs import TEST_INSTANCE_YAML, fast_directory

    folder = fast_directory("attr-dagster-", tmp_path / "dagster")
    home = folder / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(TEST_INSTANCE_YAML)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("ATTRIBUTION_SOURCE", "unset")
    monkeypatch.setenv("ATTRIBUTION_WAREHOUSE_URL", "unset")
    yield home
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A reachable PostgreSQL; under CI=true its absence fails the test instead of skipping it."""
    problem = _postgres_available()
    if problem:
        from pipeline_runs import under_ci

        if under_ci():
            pytest.fail(f"PostgreSQL is required under CI=true and is not reachable at {POSTGRES_ADMIN_URL}: {problem}")
        pytest.skip(f"PostgreSQL not reachable: {problem}")
    return POSTGRES_ADMIN_URL


@pytest.fixture
def postgres_database(postgres_url: str):
    """A fresh database per test, so tests (and xdist workers) never share tables."""
    yield from _fresh_database(postgres_url)


@pytest.fixture(scope="module")
def postgres_database_module(postgres_url: str):
    """A fresh database for one module's tests (one pipeline scenario checked many ways)."""
    yield from _fresh_database(postgres_url)


def _fresh_database(postgres_url: str):
    name = f"attr_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    yield url
    sa.create_engine(url).dispose()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def duckdb_url(tmp_path) -> str:
    return f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
