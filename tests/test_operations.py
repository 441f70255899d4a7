"""Reliability under operations: SIGKILL mid-run, a dropped PostgreSQL connection,
and two runs against one warehouse at once. Every output table must always be a
complete version (the previous or the new one), and the next run must succeed."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from attribution_pipeline.app.crash_trials import PUBLISH, crash_trial, environment, run_command, same, snapshot
from attribution_pipeline.sample_data import generate
from pipeline_runs import private_copy, run_cli, run_in_own_home, session_folder


def _build(folder: Path) -> None:
    """Two inputs, and the warehouse one complete run of each leaves."""
    for name, seed in (("old", 1), ("new", 2)):
        generate(folder / name, touches=2_500, seed=seed)
        (folder / f"run_{name}").mkdir()
        run_in_own_home(folder / f"run_{name}", folder / name, f"duckdb:///{folder / f'{name}.duckdb'}")


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> Path:
    return session_folder(tmp_path_factory, "operations", _build)


@pytest.fixture(scope="module")
def inputs(shared) -> tuple[Path, Path]:
    return shared / "old", shared / "new"


@pytest.fixture(scope="module")
def expected(shared, tmp_path_factory) -> dict[str, dict]:
    """The tables one complete run of each input leaves, computed once per session
    (DuckDB and PostgreSQL hold identical rows: tests/test_pipeline.py)."""
    files = {name: private_copy(shared / f"{name}.duckdb", tmp_path_factory) for name in ("old", "new")}
    tables = {name: snapshot(f"duckdb:///{file}") for name, file in files.items()}
    tables["old_file"] = files["old"]  # a copy is the old run's warehouse, without running it again
    return tables


@pytest.fixture(autouse=True)
def _own_dagster_home(dagster_home):
    """Every test runs against an instance of its own (conftest.dagster_home)."""


def complete_run(source: Path, url: str) -> None:
    """A run in this process: the same code path, without a new interpreter's imports."""
    assert run_cli("--source", str(source), "--warehouse", url) == 0


def warehouse_url(kind: str, tmp_path: Path, name: str, request) -> str:
    if kind == "duckdb":
        return f"duckdb:///{tmp_path / f'{name}.duckdb'}"
    admin = request.getfixturevalue("postgres_url")
    database = f"ops_{name}_{os.getpid()}_{random.randrange(10**6)}"
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{database}"'))
    engine.dispose()
    request.addfinalizer(lambda: _drop(admin, database))
    return sa.engine.make_url(admin).set(database=database).render_as_string(hide_password=False)


def _drop(admin: str, database: str) -> None:
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    engine.dispose()


@pytest.mark.parametrize("kind", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_sigkill_while_publishing_leaves_one_version_of_every_table_and_the_next_run_succeeds(
    kind, inputs, expected, tmp_path, request, dagster_home
):
    """The kill follows the start of the publishing step (attribution/runs, one transaction for every table) by a
    random moment, and the trial checks that it landed while the run was writing: after its first warehouse write
    began, before its last ended. Then every published table is the old run's or every one is the new run's, with
    one run id, and the next run succeeds. benchmarks/crash_trials.py kills after random writing steps, 20 times."""
    old, new = inputs
    home = dagster_home.parent / "subprocess_home"
    url = warehouse_url(kind, tmp_path, "trial", request)
    if kind == "duckdb":
        shutil.copyfile(expected["old_file"], url.removeprefix("duckdb:///"))
    else:
        complete_run(old, url)
    assert all(same(expected["old"][name], got) for name, got in snapshot(url).items())
    trial = crash_trial(
        old,
        new,
        url,
        home,
        expected["old"],
        expected["new"],
        random.Random(7),
        step=PUBLISH,
        max_delay=0.3,
        rerun=lambda: run_cli("--source", str(old), "--warehouse", url),
    )
    assert trial.during_writes, trial.seen[-5:]
    assert trial.one_version, (trial.tables, trial.run_ids)
    assert trial.rerun_ok, trial


@pytest.mark.postgres
def test_dropped_postgres_connection_is_retried_and_the_run_completes(inputs, expected, tmp_path, request, dagster_home):
    old, _ = inputs
    home = dagster_home.parent / "subprocess_home"
    url = warehouse_url("postgres", tmp_path, "faulty", request)
    database = sa.engine.make_url(url).database
    admin = sa.create_engine(request.getfixturevalue("postgres_url"), isolation_level="AUTOCOMMIT")
    process = subprocess.Popen(run_command(old, url), env=environment(home), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    killed = 0
    with admin.connect() as conn:
        while process.poll() is None and not killed:
            killed = conn.execute(
                sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = :db AND pid <> pg_backend_pid() AND state = 'active'"
                ),
                {"db": database},
            ).scalar()
            time.sleep(0.01)
    output, _ = process.communicate()
    admin.dispose()
    assert killed, "the run finished before a connection could be dropped"
    assert process.returncode == 0, output[-2000:]
    assert "Traceback" not in output
    got = snapshot(url)
    assert all(same(expected["old"][name], got[name]) for name in got)


@pytest.mark.parametrize("kind", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_two_runs_at_once_never_interleave_writes(kind, inputs, expected, tmp_path, request, dagster_home):
    """PostgreSQL: advisory locks make the second writer wait, both succeed. DuckDB:
    one process per file, so the second either waits (retries) or fails with a
    readable message. Either way the tables are one complete version."""
    old, _ = inputs
    home_a, home_b = dagster_home.parent / "home_a", dagster_home.parent / "home_b"
    url = warehouse_url(kind, tmp_path, "shared", request)
    results = {}

    def launch(name: str, home: Path) -> None:
        results[name] = subprocess.run(run_command(old, url), env=environment(home), capture_output=True, text=True)

    threads = [threading.Thread(target=launch, args=(name, home)) for name, home in (("a", home_a), ("b", home_b))]
    for thread in threads:
        thread.start()
        time.sleep(1.0)
    for thread in threads:
        thread.join()
    codes = sorted(result.returncode for result in results.values())
    for result in results.values():
        assert "Traceback" not in result.stdout + result.stderr
        if result.returncode:
            assert kind == "duckdb" and "in use by another process" in result.stderr
            assert "wait for that run to finish and try again" in result.stderr
    assert codes in ([0, 0], [0, 1])
    if kind == "postgres":
        assert codes == [0, 0]
    got = snapshot(url)
    differ = {name: (_height(expected["old"][name]), _height(got[name])) for name in got if not same(expected["old"][name], got[name])}
    assert not differ, (differ, codes, {name: result.stderr[-3000:] for name, result in results.items()})


def _height(frame) -> int | None:
    return None if frame is None else frame.height
