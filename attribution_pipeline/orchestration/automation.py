"""When the pipeline runs by itself: a daily schedule, and a sensor that launches a
run when files in the landing folder are added or changed.

The sensor keeps a fingerprint of the landing folder (every data file's path,
size and modification time) in its cursor, so a run is requested once per
change, never twice for the same files, and nothing is re-read on a quiet tick.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import dagster as dg

from attribution_pipeline.contract.rules import CONTRACTS
from attribution_pipeline.orchestration.deployment import DEFAULT_SCHEDULE_CRON, DEFAULT_SCHEDULE_TIMEZONE
from attribution_pipeline.sources.readers import is_database_url, landing_files


def daily_schedule(job_name: str, cron: str = DEFAULT_SCHEDULE_CRON, timezone: str = DEFAULT_SCHEDULE_TIMEZONE) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name="daily_attribution",
        job_name=job_name,
        cron_schedule=cron,
        execution_timezone=timezone,
        description=f"The whole pipeline at '{cron}' ({timezone}). Set ATTRIBUTION_SCHEDULE_CRON and ATTRIBUTION_SCHEDULE_TIMEZONE to change it.",
    )


def landing_fingerprint(folder: Path) -> dict[str, list[int]]:
    """Every data file of every source: relative path -> [size, mtime in ns]."""
    fingerprint = {}
    for source in CONTRACTS:
        for path in landing_files(folder, source):
            stat = path.stat()
            fingerprint[str(path.relative_to(folder))] = [stat.st_size, stat.st_mtime_ns]
    return dict(sorted(fingerprint.items()))


def landing_sensor(job_name: str, source: str | None) -> dg.SensorDefinition:
    """``source``: the deployment's source, a path, a URL or a ``dg.EnvVar`` read at each tick."""

    @dg.sensor(
        name="landing_folder_changed",
        job_name=job_name,
        minimum_interval_seconds=60,
        description="Launches a run when data files in the landing folder (ATTRIBUTION_SOURCE) are added or changed.",
    )
    def _sensor(context: dg.SensorEvaluationContext):
        location = (source.get_value() if isinstance(source, dg.EnvVar) else source) or ""
        if not location or is_database_url(location):
            return dg.SkipReason("ATTRIBUTION_SOURCE is not a landing folder; nothing to watch")
        folder = Path(location)
        if not folder.is_dir():
            return dg.SkipReason(f"landing folder {folder} does not exist")
        fingerprint = landing_fingerprint(folder)
        if not fingerprint:
            return dg.SkipReason(f"no data files in {folder}")
        previous = json.loads(context.cursor) if context.cursor else {}
        if fingerprint == previous:
            return dg.SkipReason("landing folder unchanged")
        changed = sorted(path for path in fingerprint if previous.get(path) != fingerprint[path])
        context.update_cursor(json.dumps(fingerprint))
        key = hashlib.sha256(json.dumps(fingerprint).encode()).hexdigest()[:16]
        return dg.RunRequest(run_key=f"landing-{key}", tags={"attribution/changed_files": ", ".join(changed)[:1000]})

    return _sensor
