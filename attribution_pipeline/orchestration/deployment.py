"""Where a deployment points: every environment variable the project reads, declared
once (name, default, meaning), and read in one place, ``Deployment.from_environment``,
when the definitions load or the command line starts. Everything downstream takes
the values; nothing else reads ``os.environ``, and nothing writes it.

Dagster and the settings are imported only where they are needed, so that
``attribution sample-data`` and ``export`` start without them.

The source and warehouse URLs may hold passwords, so when they come from the
environment they stay ``dg.EnvVar`` (resolved by Dagster at run time and shown in
the UI by name, not value). The command line passes plain values instead.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from attribution_pipeline.warehouse.client import DEFAULT_DUCKDB_MEMORY_LIMIT, DEFAULT_WAREHOUSE_URL

# Early enough for any realistic CRM history; a run only covers the months from
# its earliest deal on (``attribution run``), so an early start costs nothing.
DEFAULT_PARTITION_START = "2000-01-01"
DEFAULT_SCHEDULE_CRON = "0 6 * * *"  # every day at 06:00
DEFAULT_SCHEDULE_TIMEZONE = "UTC"


def variable(env: str, default: str | None, meaning: str, secret: bool = False):
    """One deployment variable: its environment name, default and meaning (the README's table)."""
    return field(default=default, metadata={"env": env, "meaning": meaning, "secret": secret})


@dataclass(frozen=True)
class Deployment:
    source: str | None = variable(
        "ATTRIBUTION_SOURCE", None, "landing folder or source database URL; `attribution run` takes it from `--source`", secret=True
    )
    warehouse_url: str = variable(
        "ATTRIBUTION_WAREHOUSE_URL", DEFAULT_WAREHOUSE_URL, "warehouse SQLAlchemy URL; the default of `--warehouse`", secret=True
    )
    partition_start: str = variable(
        "ATTRIBUTION_PARTITION_START",
        DEFAULT_PARTITION_START,
        "first close-month partition (earlier than any realistic CRM history); a closed deal before it is quarantined as "
        "`closed_at.outside_partitions`",
    )
    duckdb_memory_limit: str = variable(
        "ATTRIBUTION_DUCKDB_MEMORY_LIMIT",
        DEFAULT_DUCKDB_MEMORY_LIMIT,
        "DuckDB's `memory_limit` for warehouse connections: the buffer pool evicts and spills above it instead of growing to 80% of RAM",
    )
    report_path: str | None = variable(
        "ATTRIBUTION_REPORT_PATH",
        None,
        "where the `attribution/report` asset writes the HTML report (default `attribution_report.html` in the Dagster home)",
    )
    backfill_months_per_run: str | None = variable(
        "ATTRIBUTION_BACKFILL_MONTHS_PER_RUN",
        None,
        "months per run when Dagster backfills the close-month partitioned assets (their multi-run backfill policy); "
        "unset: every month of a backfill in one run. `attribution run --parallel N` sets it for its own backfill",
    )
    schedule_cron: str = variable("ATTRIBUTION_SCHEDULE_CRON", DEFAULT_SCHEDULE_CRON, "cron expression of the daily schedule")
    schedule_timezone: str = variable(
        "ATTRIBUTION_SCHEDULE_TIMEZONE", DEFAULT_SCHEDULE_TIMEZONE, "IANA timezone of the daily and quarterly_snapshot schedules"
    )
    dagster_home: str | None = variable(
        "DAGSTER_HOME", None, "Dagster instance folder (absolute path); `attribution run` uses `./.dagster_state/` when it is unset"
    )
    # Defaults of run settings taken from the environment (a setting declares its
    # variable in orchestration/settings.py), as (name, text) pairs.
    settings: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_environment(
        cls, environ: Mapping[str, str] | None = None, secrets_as_env_vars: bool = False, with_settings: bool = True
    ) -> Deployment:
        """The deployment the environment describes; unset variables take their defaults.
        ``secrets_as_env_vars``: a secret that is set stays a ``dg.EnvVar`` (for the
        Dagster definitions), else its value is read now (for the command line).
        ``with_settings``: also the settings' defaults (imports the settings and Dagster)."""
        environ = os.environ if environ is None else environ
        if secrets_as_env_vars:
            import dagster as dg
        values = {}
        for spec in dataclasses.fields(cls):
            env = spec.metadata.get("env")
            if env is None or not environ.get(env, "").strip():
                continue
            values[spec.name] = dg.EnvVar(env) if secrets_as_env_vars and spec.metadata["secret"] else environ[env].strip()
        settings = {}
        if with_settings:
            from attribution_pipeline.orchestration.settings import setting_env

            settings = {name: environ[env] for name, env in setting_env().items() if environ.get(env, "").strip()}
        return cls(**values, settings=tuple(sorted(settings.items())))

    def replace(self, **changes) -> Deployment:
        return dataclasses.replace(self, **changes)

    def as_kwargs(self) -> dict[str, str]:
        """Plain text values, for a job pointer rebuilt in another process (``of`` reads them)."""
        import dagster as dg

        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "settings"}
        if any(isinstance(value, dg.EnvVar) for value in values.values()):
            raise ValueError("a deployment holding dg.EnvVar values cannot be passed as text")
        return {name: value for name, value in values.items() if value is not None} | {"settings": json.dumps(self.settings)}

    def as_environment(self) -> dict[str, str]:
        """The deployment as the environment variables ``from_environment`` reads, for a
        process that loads the definitions itself (a ``dagster-daemon``)."""
        from attribution_pipeline.orchestration.settings import setting_env

        values = self.as_kwargs()
        environment = {f.metadata["env"]: values[f.name] for f in dataclasses.fields(self) if "env" in f.metadata and f.name in values}
        names = setting_env()
        return environment | {names[name]: text for name, text in self.settings}

    @classmethod
    def of(cls, kwargs: Mapping[str, str]) -> Deployment:
        settings = tuple(tuple(pair) for pair in json.loads(kwargs.get("settings", "[]")))
        return cls(**{name: value for name, value in kwargs.items() if name != "settings"}, settings=settings)

    def settings_defaults(self) -> dict:
        """The settings' values from the environment, checked by the declaration."""
        from attribution_pipeline.orchestration.settings import AttributionSettings

        return AttributionSettings.model_validate(dict(self.settings)).model_dump(include=set(dict(self.settings)))


def variables() -> list[tuple[str, str | None, str]]:
    """(environment name, default, meaning) of every deployment variable and setting."""
    from attribution_pipeline.orchestration.settings import AttributionSettings, setting_env

    rows = [(f.metadata["env"], f.default, f.metadata["meaning"]) for f in dataclasses.fields(Deployment) if "env" in f.metadata]
    for name, env in setting_env().items():
        info = AttributionSettings.model_fields[name]
        rows.append((env, str(info.get_default(call_default_factory=True)), f"default of the `{name}` setting: {info.description}"))
    return rows
