"""Dagster resources: where the inputs come from, where the tables go, and the
run's parameters. They are bound once, in ``definitions.py``, from ``EnvVar``;
values are read at run time, never at import time.
"""

import datetime as dt
import os
from pathlib import Path

import dagster as dg
import polars as pl
from pydantic import Field, PrivateAttr

from attribution_pipeline.contract.normalize import parse_timestamp
from attribution_pipeline.contract.rules import CONTRACTS
from attribution_pipeline.sources.readers import (
    SourceError,
    database_has_table,
    is_database_url,
    is_query,
    landing_files,
    read_database,
    read_landing,
)
from attribution_pipeline.warehouse.client import DEFAULT_WAREHOUSE_URL, WarehouseClient
from models.funnel import DEFAULT_NON_MARKETING_CHANNELS, DEFAULT_SLA_HOURS, DEFAULT_STAGE_ORDER
from models.params import DEFAULT_FREEMAIL_DOMAINS, DEFAULT_LEAD_TOUCH_TYPES, AttributionParams, MilestoneWeights, PositionWeights
from models.registry import MODELS, get_models


class Warehouse(dg.ConfigurableResource):
    """The warehouse every table is written to, as a SQLAlchemy URL
    (``duckdb:///path.duckdb`` embedded, ``postgresql+psycopg://...`` in production)."""

    url: str = Field(default=DEFAULT_WAREHOUSE_URL, description="SQLAlchemy URL of the warehouse")
    _client: WarehouseClient | None = PrivateAttr(default=None)

    @property
    def client(self) -> WarehouseClient:
        if self._client is None:
            self._client = WarehouseClient(self.url)
        return self._client

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._client is not None:
            self._client.dispose()


class LandingSource(dg.ConfigurableResource):
    """Where the inputs are: a landing folder (``DIR/<source>.csv|.parquet`` or
    ``DIR/<source>/`` part files) or a SQLAlchemy URL with a table or query per source."""

    location: str = Field(description="Landing folder path, or a SQLAlchemy URL")
    tables: dict[str, str] = Field(
        default_factory=dict,
        description="For a database source: source name -> table name or SELECT query (default: the source name)",
    )

    def _absent_table(self, source: str) -> bool:
        """An optional source with no table of its name (and none configured) is absent."""
        return source not in self.tables and CONTRACTS[source].optional and not database_has_table(self.location, source)

    def describe(self, source: str) -> list[str]:
        """The files or tables a source is read from, without reading them."""
        if is_database_url(self.location):
            if self._absent_table(source):
                return []
            target = self.tables.get(source, source)
            return [f"query {source}" if is_query(target) else target]
        folder = Path(self.location)
        return [str(path.relative_to(folder)) for path in landing_files(folder, source)] if folder.is_dir() else []

    def read(self, source: str, parts: Path | None = None) -> tuple[pl.DataFrame | pl.LazyFrame | None, list[str]]:
        """The source's rows as text, and the files or tables they came from (None when absent).
        ``parts``: a folder where a landing source's files are kept as text, one at a time
        (``read_landing``), for a scan of them instead of the rows in memory."""
        if is_database_url(self.location):
            if self._absent_table(source):
                return None, []
            target = self.tables.get(source, source)
            frame = read_database(self.location, source, target)
            return frame, [f"query {source}" if is_query(target) else target]
        folder = Path(self.location)
        if not folder.is_dir():
            raise SourceError(
                source, str(folder), "landing folder does not exist (create one with `attribution sample-data --out DIR`)", "source.missing"
            )
        return read_landing(folder, source, CONTRACTS[source].required_columns, parts)


class AttributionSettings(dg.ConfigurableResource):
    """The run's parameters (SPEC 4). Every output row records the run, and the
    run's parameters are stored in ``attribution.runs``."""

    lookback_days: float = Field(default=365.0, description="Touches count from created_at minus this many 24-hour days")
    half_life_days: float = Field(default=7.0, description="time_decay: credit halves every this many days before conversion")
    position_first: float = Field(default=0.4, description="position_based: share of the first touch")
    position_middle: float = Field(default=0.2, description="position_based: share split by the middle touches")
    position_last: float = Field(default=0.4, description="position_based: share of the last touch")
    reporting_currency: str = Field(default="USD", description="ISO 4217 code of every credited amount")
    as_of: str | None = Field(default=None, description="ISO-8601 as-of time for open deals; default: the latest timestamp in the inputs")
    freemail_domains: list[str] = Field(
        default_factory=lambda: sorted(DEFAULT_FREEMAIL_DOMAINS),
        description="Domains never derived from an e-mail as an account domain",
    )
    max_quarantine_share: float = Field(default=0.5, description="A source with a larger share of rows quarantined stops the run")
    earliest_date: str = Field(
        default="1990-01-01",
        description="A timestamp or date before this ISO-8601 date is implausible and quarantined (`<column>.out_of_range`)",
    )
    future_tolerance_days: float = Field(
        default=1.0,
        description="A timestamp or date later than the run's start plus this many days is implausible and quarantined (`<column>.out_of_range`)",
    )
    stage_order: list[str] = Field(
        default_factory=lambda: list(DEFAULT_STAGE_ORDER),
        description="stage_velocity: opportunity stages in order; conversion is to the next one",
    )
    lead_sla_hours: float = Field(default=DEFAULT_SLA_HOURS, description="lead_sla: hours sales has to act on an MQL")
    non_marketing_channels: list[str] = Field(
        default_factory=lambda: list(DEFAULT_NON_MARKETING_CHANNELS),
        description="pipeline_sourcing: channels whose touches are not marketing (sales activity, direct visits)",
    )

    models: list[str] = Field(
        default_factory=lambda: list(MODELS), description="Models the run computes, by name (default: every registered model)"
    )
    w_shaped_weights: list[float] = Field(
        default_factory=lambda: [0.3, 0.3, 0.3, 0.1],
        description="w_shaped: shares of the first touch, the lead-creation touch, the opportunity-creation touch, and the rest (sum 1)",
    )
    full_path_weights: list[float] = Field(
        default_factory=lambda: [0.225, 0.225, 0.225, 0.225, 0.1],
        description="full_path: shares of the first, lead-creation, opportunity-creation and closing touches, and the rest (sum 1)",
    )
    lead_touch_types: list[str] = Field(
        default_factory=lambda: sorted(DEFAULT_LEAD_TOUCH_TYPES),
        description="w_shaped, full_path: touch types that create a lead (the first such touch is the lead-creation milestone)",
    )
    excluded_touch_types: list[str] = Field(
        default_factory=list, description="Touch types that never take credit: removed from journeys before every model"
    )
    excluded_channels: list[str] = Field(
        default_factory=list, description="Channels that never take credit: removed from journeys before every model"
    )
    markov_order: int = Field(default=1, description="markov: order of the chain, 1 to 3 (states are the last 1-3 channels)")
    dedupe_paths: bool = Field(default=False, description="markov, shapley: collapse repeated consecutive channels of a path")
    include_open_deals: bool = Field(default=False, description="markov, shapley: learn from open deals too, as non-conversions")
    bootstrap_draws: int = Field(
        default_factory=lambda: int(os.environ.get("ATTRIBUTION_BOOTSTRAP_DRAWS", "100")),
        description="channel_attribution_intervals: bootstrap draws over deals (0: no intervals); default $ATTRIBUTION_BOOTSTRAP_DRAWS or 100",
    )
    bootstrap_seed: int = Field(default=0, description="channel_attribution_intervals: seed of the draws (same seed, same intervals)")

    def params(self, now: dt.datetime | None = None) -> AttributionParams:
        """The engine's parameters; ``now`` (the run's start) bounds the plausible range
        of timestamps: without it there is no upper bound."""
        if not self.future_tolerance_days >= 0:
            raise ValueError(f"future_tolerance_days must be >= 0, got {self.future_tolerance_days}")
        return AttributionParams(
            earliest_valid=parse_earliest(self.earliest_date),
            latest_valid=now.astimezone(dt.timezone.utc) + dt.timedelta(days=self.future_tolerance_days) if now else None,
            lookback_days=self.lookback_days,
            half_life_days=self.half_life_days,
            position_weights=PositionWeights.of(self.position_first, self.position_middle, self.position_last),
            reporting_currency=self.reporting_currency.strip().upper(),
            as_of=parse_as_of(self.as_of),
            freemail_domains=frozenset(domain.strip().lower() for domain in self.freemail_domains),
            w_shaped_weights=milestone_weights("w_shaped", self.w_shaped_weights, ("first", "lead", "opportunity", "rest")),
            full_path_weights=milestone_weights("full_path", self.full_path_weights, ("first", "lead", "opportunity", "closed", "rest")),
            lead_touch_types=_lower(self.lead_touch_types),
            excluded_touch_types=_lower(self.excluded_touch_types),
            excluded_channels=_lower(self.excluded_channels),
            markov_order=self.markov_order,
            dedupe_paths=self.dedupe_paths,
            include_open_paths=self.include_open_deals,
        )

    def model_names(self) -> list[str]:
        """The models this run computes, in registry order; an unknown name is an error."""
        return [model.name for model in get_models([name.strip().lower() for name in self.models])]


def _lower(values: list[str]) -> frozenset[str]:
    return frozenset(value.strip().lower() for value in values if value.strip())


def milestone_weights(model: str, values: list[float], names: tuple[str, ...]) -> MilestoneWeights:
    """w_shaped takes (first, lead, opportunity, rest), full_path also a closing share."""
    if len(values) != len(names):
        raise ValueError(f"{model} weights need {len(names)} numbers ({', '.join(names)}), got {len(values)}")
    shares = dict(zip(names, values)) | ({"closed": 0} if "closed" not in names else {})
    return MilestoneWeights.of(**shares, model=model)


def parse_earliest(text: str) -> dt.datetime:
    """The earliest plausible date, as 00:00 UTC of that day."""
    try:
        day = dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"earliest_date {text!r} is not an ISO-8601 date (YYYY-MM-DD)") from None
    return dt.datetime.combine(day, dt.time(), dt.timezone.utc)


def run_started_at(context: dg.AssetExecutionContext) -> dt.datetime:
    """When the run was created: the same wall-clock time for every step of a run, in
    any process, so the plausible range of timestamps is the same for every source."""
    record = context.instance.get_run_record_by_id(context.run.run_id)
    return record.create_timestamp.astimezone(dt.timezone.utc) if record else dt.datetime.now(dt.timezone.utc)


def parse_as_of(text: str | None) -> dt.datetime | None:
    """The same ISO-8601 rules as the inputs (naive = UTC, date-only = midnight)."""
    if text is None or not text.strip():
        return None
    value = pl.DataFrame({"as_of": [text.strip()]}).select(parse_timestamp(pl.col("as_of")).value).item()
    if value is None:
        raise ValueError(f"as_of {text!r} is not an ISO-8601 timestamp")
    return value.astimezone(dt.timezone.utc)
