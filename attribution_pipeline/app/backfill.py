"""Month backfills on Dagster's own machinery: ``attribution run --from A --to B --parallel N``.

The command submits one Dagster asset backfill of every asset over those close
months, the same backfill the UI's "Materialize" over a partition range launches,
and a ``dagster-daemon`` runs it: the close-month partitioned assets (journeys,
touch_credit, channel_attribution) in N runs of contiguous month ranges (their
multi-run backfill policy, ``ATTRIBUTION_BACKFILL_MONTHS_PER_RUN``), the sources
before them and every all-months asset after the months it reads, each once.
The runs go through the instance's run queue (tag ``attribution/warehouse``:
dagster.yaml's concurrency limits) and its run launcher, so the same backfill
fans out on a Kubernetes or Celery run launcher unchanged.

The command starts a ``dagster-daemon`` for the length of the backfill, loading
the definitions with this run's deployment (source, warehouse, months per run).
A daemon already serving the instance would run it with its own code location,
so then the command refuses and says how to launch the backfill from the UI.

DuckDB allows one writer per file, so there the CLI runs the whole range as one
run instead (identical results, tested).
"""

from __future__ import annotations

import datetime as dt
import math
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import dagster as dg

from attribution_pipeline.app.outcome import failure_message
from attribution_pipeline.orchestration.deployment import Deployment
from attribution_pipeline.orchestration.partitions import month_key

# A daemon whose backfill heartbeat is younger than this is taken as running.
_HEARTBEAT_FRESH = dt.timedelta(seconds=90)
_BACKFILL_TAG = "dagster/backfill"
_RANGE_START, _RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


@dataclass(frozen=True)
class StageRun:
    """One Dagster run of the backfill: what it covered and how it ended."""

    label: str
    run_id: str | None
    success: bool
    message: str
    publishes: bool = False  # it materialized attribution/runs


def months_per_run(months: int, runs: int) -> int:
    """Months per run so that ``months`` split into at most ``runs`` contiguous ranges."""
    return max(1, math.ceil(months / max(1, runs)))


def range_tags(first: str, last: str) -> dict[str, str]:
    return {_RANGE_START: first, _RANGE_END: last}


def execute(deployment: Deployment, run_config: dict, first: str, last: str, selection: list[dg.AssetKey] | None = None):
    """One Dagster run over close months [first, last], in this process (the job's
    in-process executor), recorded in the deployment's instance; every asset unless
    ``selection`` narrows it. Through ``execute_job``, not ``execute_in_process``: the
    latter keeps every step's output in memory until the run ends (to hand them back),
    which held every source's frames through a whole 10M-touch run. The job pointer
    carries the deployment's values, so the job is rebuilt from them, not from the
    environment."""
    job = dg.build_reconstructable_job("attribution_pipeline.definitions", "attribution_job", reconstructable_kwargs=deployment.as_kwargs())
    with dg.DagsterInstance.from_config(deployment.dagster_home) as instance:
        return dg.execute_job(
            job,
            instance,
            run_config=run_config,
            tags=range_tags(first, last),
            asset_selection=selection,
            raise_on_error=False,
        )


class DaemonAlreadyRunning(RuntimeError):
    """Another dagster-daemon serves the instance: it would run the backfill with its own
    code location (its source, warehouse and months per run), not this command's."""


def daemon_is_running(instance: dg.DagsterInstance) -> bool:
    heartbeat = instance.get_daemon_heartbeats().get("BACKFILL")
    return heartbeat is not None and time.time() - heartbeat.timestamp < _HEARTBEAT_FRESH.total_seconds()


def daemon_command() -> list[str]:
    """How the daemon is started: the installed ``dagster-daemon``, loading this project's definitions."""
    return [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-m", "attribution_pipeline.definitions"]


@contextmanager
def daemon_for(deployment: Deployment, instance: dg.DagsterInstance):
    """A ``dagster-daemon`` for this backfill, loading the definitions with the
    deployment's values (source, warehouse, months per run), stopped after it."""
    if daemon_is_running(instance):
        raise DaemonAlreadyRunning(
            f"a dagster-daemon is already running against the Dagster instance in {deployment.dagster_home}; it would run "
            "the backfill with its own source and warehouse. Launch the backfill from its UI (Materialize over the months), "
            "or stop it, or run this command with another DAGSTER_HOME"
        )
    environment = {**os.environ, **deployment.as_environment()}
    with open(Path(deployment.dagster_home) / "daemon.log", "ab") as log:
        process = subprocess.Popen(daemon_command(), env=environment, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        instance.wipe_daemon_heartbeats()  # it is gone: the next backfill need not wait for them to age


def submit(defs: dg.Definitions, instance: dg.DagsterInstance, months: list[str], run_config: dict, tags: dict) -> str:
    """One asset backfill of every asset over ``months`` (partition keys), as the UI submits it."""
    from dagster._core.execution.backfill import PartitionBackfill
    from dagster._core.utils import make_new_backfill_id

    graph = defs.resolve_asset_graph()
    backfill = PartitionBackfill.from_asset_partitions(
        backfill_id=make_new_backfill_id(),
        asset_graph=graph,
        partition_names=months,
        asset_selection=sorted(graph.get_all_asset_keys(), key=lambda key: key.to_user_string()),
        backfill_timestamp=time.time(),
        tags=tags,
        dynamic_partitions_store=instance,
        all_partitions=False,
        title=f"attribution: close months {months[0][:7]} to {months[-1][:7]}",
        description="Submitted by `attribution run --parallel`",
        run_config=run_config,
    )
    instance.add_backfill(backfill)
    return backfill.backfill_id


def wait(instance: dg.DagsterInstance, backfill_id: str, say, process: subprocess.Popen) -> None:
    """Until the daemon has finished the backfill, saying each run as it ends."""
    from dagster._core.execution.backfill import BulkActionStatus

    said: set[str] = set()
    finished = {BulkActionStatus.COMPLETED, BulkActionStatus.COMPLETED_SUCCESS, BulkActionStatus.COMPLETED_FAILED}
    finished |= {BulkActionStatus.FAILED, BulkActionStatus.CANCELED}
    while True:
        backfill = instance.get_backfill(backfill_id)
        for run in instance.get_runs(filters=dg.RunsFilter(tags={_BACKFILL_TAG: backfill_id})):
            if run.is_finished and run.run_id not in said:
                said.add(run.run_id)
                say(f"{label(run)}: {run.status.value.lower()} (run {run.run_id})")
        if backfill.status in finished:
            return
        if process.poll() is not None:
            raise RuntimeError(f"dagster-daemon exited with code {process.returncode} before the backfill finished")
        time.sleep(1)


def label(run: dg.DagsterRun) -> str:
    assets = sorted(key.to_user_string() for key in run.asset_selection or ())
    names = ", ".join(assets[:3]) + (", ..." if len(assets) > 3 else "")
    if _RANGE_START in run.tags:
        return f"months {run.tags[_RANGE_START][:7]} to {run.tags[_RANGE_END][:7]}: {names}"
    return f"all months: {names}"


def stage_runs(instance: dg.DagsterInstance, backfill_id: str) -> list[StageRun]:
    """The backfill's runs, oldest first, and how each ended (a failure said in one line)."""
    publisher = dg.AssetKey(["attribution", "runs"])
    runs = []
    for run in reversed(instance.get_runs(filters=dg.RunsFilter(tags={_BACKFILL_TAG: backfill_id}))):
        success = run.status == dg.DagsterRunStatus.SUCCESS
        message = "" if success else failure_message(SimpleNamespace(all_events=_events(instance, run.run_id)))
        runs.append(StageRun(label(run), run.run_id, success, message, publisher in (run.asset_selection or ())))
    return runs


def _events(instance: dg.DagsterInstance, run_id: str) -> list:
    return [entry.dagster_event for entry in instance.all_logs(run_id) if entry.dagster_event is not None]


def run_backfill(deployment: Deployment, run_config: dict, first: str, last: str, runs: int, keys: list[str]) -> list[StageRun]:
    """The months [first, last] of partition ``keys`` as a Dagster backfill in up to ``runs``
    month ranges; the runs it took, oldest first (none: the daemon ran none)."""
    say = lambda line: print(f"attribution: {line}", file=sys.stderr, flush=True)  # noqa: E731
    months = [key for key in keys if month_key(first) <= key <= month_key(last)]
    per_run = months_per_run(len(months), runs)
    deployment = deployment.replace(backfill_months_per_run=str(per_run))
    from attribution_pipeline.definitions import CONCURRENCY_TAG, definitions_for

    defs = definitions_for(deployment)
    with dg.DagsterInstance.from_config(deployment.dagster_home) as instance:
        with daemon_for(deployment, instance) as process:
            backfill_id = submit(defs, instance, months, run_config, {CONCURRENCY_TAG: "default"})
            say(
                f"backfill {backfill_id}: {len(months)} month(s) in runs of up to {per_run} month(s), run by a dagster-daemon "
                f"(log: {Path(deployment.dagster_home) / 'daemon.log'}; the UI shows it under Overview > Backfills)"
            )
            wait(instance, backfill_id, say, process)
        return stage_runs(instance, backfill_id)


def is_duckdb(url: str) -> bool:
    return url.split(":", 1)[0].split("+", 1)[0] == "duckdb"


__all__ = ["DaemonAlreadyRunning", "StageRun", "daemon_command", "execute", "is_duckdb", "months_per_run", "range_tags", "run_backfill"]
