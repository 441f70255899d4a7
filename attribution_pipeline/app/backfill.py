"""Month backfills in parallel on PostgreSQL: ``attribution run --from A --to B --parallel N``.

A Dagster run covers one partition range, and the multiprocess executor runs
the steps of one run side by side, not its months. So a parallel backfill is
stages of ordinary runs against the same instance, the same shape Dagster's
own multi-run backfills take (``stages`` derives them from the asset graph):

1. one run of the unpartitioned sources and staging (validated once);
2. the months split into N contiguous ranges, one run each of the partitioned
   assets that need only the sources (journeys), N worker processes at a
   time; each run replaces its own months in one transaction per table, and
   PostgreSQL's advisory lock keeps writes to one table apart;
3. one run of the all-months assets that need journeys or only the sources
   (the data-driven models' fit, learned from every deal in the sources, and
   the marts that read journeys);
4. month ranges again for touch_credit and channel_attribution;
5. one run of every remaining all-months asset (campaign_attribution, runs,
   the report).

DuckDB allows one writer per file, so there the CLI runs the whole range as
one run instead (identical results, tested).
"""

from __future__ import annotations

import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context

import dagster as dg

from attribution_pipeline.app.outcome import failure_message
from attribution_pipeline.orchestration.deployment import Deployment
from attribution_pipeline.orchestration.partitions import month_key

SOURCES_STAGE, PARTITIONED_STAGE, MARTS_STAGE = "sources", "partitioned", "marts"
_SOURCE_SCHEMAS = ("raw", "staging", "quarantine")


@dataclass(frozen=True)
class StageRun:
    """One Dagster run of a stage: what it covered and how it ended."""

    label: str
    run_id: str | None
    success: bool
    message: str


def month_chunks(keys: list[str], workers: int) -> list[tuple[str, str]]:
    """``keys`` split into at most ``workers`` contiguous ranges of near-equal length."""
    count = min(workers, len(keys))
    size, extra = divmod(len(keys), count)
    chunks, start = [], 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        chunks.append((keys[start], keys[end - 1]))
        start = end
    return chunks


def range_tags(first: str, last: str) -> dict[str, str]:
    return {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}


def stages(defs: dg.Definitions) -> list[tuple[str, list[dg.AssetKey]]]:
    """The assets in stages, from the graph itself: the sources (raw, staging,
    quarantine) first, then alternately close-month partitioned assets (run by month
    ranges) and all-months assets (run once), each stage after everything it reads.
    Today: sources; journeys; the data-driven fit and the marts that need only
    journeys; touch_credit and channel_attribution; the rest."""
    graph = defs.resolve_asset_graph()
    level: dict[dg.AssetKey, int] = {}

    def place(key: dg.AssetKey) -> int:
        if key not in level:
            if key.path[0] in _SOURCE_SCHEMAS:
                level[key] = 0
            else:
                after = max((place(parent) for parent in graph.get(key).parent_keys), default=0)
                if graph.get(key).partitions_def is not None:  # partitioned stages are odd
                    level[key] = after if after % 2 else after + 1
                else:  # all-months stages are even, after the sources
                    level[key] = max(2, after if after % 2 == 0 else after + 1)
        return level[key]

    for key in graph.get_all_asset_keys():
        place(key)
    layers = sorted(set(level.values()))
    return [
        (
            SOURCES_STAGE if layer == 0 else PARTITIONED_STAGE if layer % 2 else MARTS_STAGE,
            sorted(k for k, v in level.items() if v == layer),
        )
        for layer in layers
    ]


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


def run_stage(deployment: Deployment, keys: list[dg.AssetKey], run_config: dict, first: str, last: str, label: str) -> StageRun:
    """Execute one stage's assets as their own Dagster run, in this process."""
    result = execute(deployment, run_config, first, last, keys)
    return StageRun(label, result.run_id, result.success, "" if result.success else failure_message(result))


def _run_months(deployment: dict[str, str], run_config: dict, first: str, last: str, index: int) -> StageRun:
    """A worker process: one run of stage ``index`` (partitioned) over [first, last]."""
    from attribution_pipeline.definitions import definitions_for

    label = f"months {first[:7]} to {last[:7]}"
    try:
        stage_deployment = Deployment.of(deployment)
        return run_stage(stage_deployment, stages(definitions_for(stage_deployment))[index][1], run_config, first, last, label)
    except Exception as error:  # a failure before any step ran
        return StageRun(label, None, False, f"{type(error).__name__}: {error}")


def run_parallel(
    defs: dg.Definitions, deployment: Deployment, run_config: dict, first: str, last: str, workers: int, keys: list[str]
) -> list[StageRun]:
    """The stages in order; stops after the first stage that fails and says which runs ended how."""
    say = lambda line: print(f"attribution: {line}", file=sys.stderr, flush=True)  # noqa: E731
    months = [key for key in keys if month_key(first) <= key <= month_key(last)]
    plan = stages(defs)
    say(f"parallel backfill: {len(plan)} stages; {len(months)} month(s) in up to {workers} runs per partitioned stage")
    runs: list[StageRun] = []
    for index, (kind, assets) in enumerate(plan):
        names = ", ".join(key.to_user_string() for key in assets[:4]) + (", ..." if len(assets) > 4 else "")
        if kind != PARTITIONED_STAGE:
            runs.append(run_stage(deployment, assets, run_config, first, last, f"{kind}: {names}"))
        else:
            # spawn, not fork: each worker starts clean instead of copying this process's
            # open database connections and Dagster instance.
            chunks = month_chunks(months, workers)
            with ProcessPoolExecutor(max_workers=len(chunks), mp_context=get_context("spawn")) as pool:
                futures = [pool.submit(_run_months, deployment.as_kwargs(), run_config, start, end, index) for start, end in chunks]
                for future in as_completed(futures):
                    done = future.result()
                    say(f"{names}, {done.label}: {'done' if done.success else 'FAILED: ' + done.message} (run {done.run_id})")
                    runs.append(done)
        if not all(run.success for run in runs):
            break
    return runs


def is_duckdb(url: str) -> bool:
    return url.split(":", 1)[0].split("+", 1)[0] == "duckdb"


__all__ = ["StageRun", "execute", "is_duckdb", "month_chunks", "range_tags", "run_parallel", "run_stage", "stages"]
