"""The daily schedule and the landing-folder sensor, through Dagster's test contexts."""

from __future__ import annotations

import json
import os
import time

import dagster as dg

from attribution_pipeline.definitions import ALL_ASSETS_JOB, build_definitions, definitions_from_environment
from attribution_pipeline.orchestration.automation import landing_sensor
from attribution_pipeline.orchestration.deployment import Deployment


def evaluate(sensor: dg.SensorDefinition, cursor: str | None):
    context = dg.build_sensor_context(cursor=cursor)
    result = sensor.evaluate_tick(context)
    return result, context.cursor


def test_schedule_time_and_timezone_are_configurable(monkeypatch):
    schedule = build_definitions(Deployment(schedule_cron="30 7 * * 1-5", schedule_timezone="Europe/Berlin")).resolve_schedule_def(
        "daily_attribution"
    )
    assert (schedule.cron_schedule, schedule.execution_timezone, schedule.job_name) == ("30 7 * * 1-5", "Europe/Berlin", ALL_ASSETS_JOB)
    monkeypatch.setenv("ATTRIBUTION_SCHEDULE_CRON", "0 2 * * *")
    monkeypatch.setenv("ATTRIBUTION_SCHEDULE_TIMEZONE", "America/New_York")
    schedule = definitions_from_environment().resolve_schedule_def("daily_attribution")
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 2 * * *", "America/New_York")
    default = build_definitions().resolve_schedule_def("daily_attribution")
    assert (default.cron_schedule, default.execution_timezone) == ("0 6 * * *", "UTC")


def test_schedule_requests_a_run_of_the_whole_job():
    schedule = build_definitions().resolve_schedule_def("daily_attribution")
    context = dg.build_schedule_context(scheduled_execution_time=None)
    result = schedule.evaluate_tick(context)
    assert len(result.run_requests) == 1


def test_sensor_launches_once_per_change_of_the_landing_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTRIBUTION_SOURCE", str(tmp_path))
    sensor = landing_sensor(ALL_ASSETS_JOB, dg.EnvVar("ATTRIBUTION_SOURCE"))

    result, cursor = evaluate(sensor, None)
    assert not result.run_requests and "no data files" in result.skip_message

    (tmp_path / "touches.csv").write_text("touch_id,occurred_at\nt1,2024-01-01\n")
    result, cursor = evaluate(sensor, cursor)
    assert len(result.run_requests) == 1
    assert json.loads(cursor) == {"touches.csv": [(tmp_path / "touches.csv").stat().st_size, (tmp_path / "touches.csv").stat().st_mtime_ns]}

    result, cursor = evaluate(sensor, cursor)  # nothing changed: no second run
    assert not result.run_requests and "unchanged" in result.skip_message

    (tmp_path / "touches").mkdir()
    (tmp_path / "touches" / "part-1.csv").write_text("touch_id,occurred_at\nt2,2024-01-02\n")
    result, cursor = evaluate(sensor, cursor)  # a part file added
    assert len(result.run_requests) == 1
    assert result.run_requests[0].tags["attribution/changed_files"] == "touches/part-1.csv"

    path = tmp_path / "touches.csv"
    path.write_text("touch_id,occurred_at\nt1,2024-01-01\nt3,2024-01-03\n")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 1_000_000))
    result, cursor = evaluate(sensor, cursor)  # a file changed
    assert [request.tags["attribution/changed_files"] for request in result.run_requests] == ["touches.csv"]
    first_key = result.run_requests[0].run_key
    result, _ = evaluate(sensor, None)  # same files from scratch: the same run key, so Dagster dedupes it
    assert result.run_requests[0].run_key == first_key


def test_sensor_skips_a_database_source(monkeypatch):
    monkeypatch.setenv("ATTRIBUTION_SOURCE", "postgresql+psycopg://host/db")
    result, _ = evaluate(landing_sensor(ALL_ASSETS_JOB, "postgresql+psycopg://host/db"), None)
    assert not result.run_requests and "not a landing folder" in result.skip_message
