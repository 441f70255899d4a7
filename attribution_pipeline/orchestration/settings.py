"""The run's settings (SPEC 4), each declared once: its type, default, constraint and
help text are the ``Field`` below. The Dagster config is this resource; the
``attribution run`` flags (``app/flags.py``) and the environment variables that give
a default (``deployment.py``) are derived from the same fields, so they cannot
disagree (``tests/test_settings.py``).

A field's ``json_schema_extra`` may say:
- ``flag``: the command-line flag when it is not ``--`` + the name with dashes;
- ``metavar``: how the flag's value is written (``F,M,L``); a list of numbers takes as
  many numbers as the metavar has parts;
- ``env``: an environment variable that gives the default.

Adding a setting is one field here and its use (README, "Extending").
"""

from __future__ import annotations

import datetime as dt

import dagster as dg
import polars as pl
from pydantic import Field

from attribution_pipeline.contract.normalize import parse_timestamp
from models.funnel import DEFAULT_NON_MARKETING_CHANNELS, DEFAULT_SLA_HOURS, DEFAULT_STAGE_ORDER
from models.params import DEFAULT_FREEMAIL_DOMAINS, DEFAULT_LEAD_TOUCH_TYPES, AttributionParams, MilestoneWeights, PositionWeights
from models.registry import MODELS, get_models


def extra(flag: str | None = None, metavar: str | None = None, env: str | None = None) -> dict:
    """The parts of a setting's declaration that pydantic has no word for."""
    return {key: value for key, value in {"flag": flag, "metavar": metavar, "env": env}.items() if value is not None}


class AttributionSettings(dg.ConfigurableResource):
    """The run's parameters (SPEC 4). Every output row records the run, and the
    run's parameters are stored in ``attribution.runs``."""

    lookback_days: float = Field(
        default=365.0,
        ge=0,
        description="Touches count from created_at minus this many 24-hour days",
        json_schema_extra=extra(metavar="DAYS"),
    )
    half_life_days: float = Field(
        default=7.0,
        gt=0,
        description="time_decay: credit halves every this many days before conversion",
        json_schema_extra=extra(metavar="DAYS"),
    )
    position_weights: list[float] = Field(
        default_factory=lambda: [0.4, 0.2, 0.4],
        description="position_based: shares of the first touch, the middle touches and the last touch (sum 1)",
        json_schema_extra=extra(metavar="F,M,L"),
    )
    models: list[str] = Field(
        default_factory=lambda: list(MODELS),
        description="Models the run computes, by name (default: every registered model)",
        json_schema_extra=extra(metavar="M1,M2"),
    )
    w_shaped_weights: list[float] = Field(
        default_factory=lambda: [0.3, 0.3, 0.3, 0.1],
        description="w_shaped: shares of the first touch, the lead-creation touch, the opportunity-creation touch, and the rest (sum 1)",
        json_schema_extra=extra(metavar="FT,LC,OC,REST"),
    )
    full_path_weights: list[float] = Field(
        default_factory=lambda: [0.225, 0.225, 0.225, 0.225, 0.1],
        description="full_path: shares of the first, lead-creation, opportunity-creation and closing touches, and the rest (sum 1)",
        json_schema_extra=extra(metavar="FT,LC,OC,CW,REST"),
    )
    lead_touch_types: list[str] = Field(
        default_factory=lambda: sorted(DEFAULT_LEAD_TOUCH_TYPES),
        description="w_shaped, full_path: touch types that create a lead (the first such touch is the lead-creation milestone)",
        json_schema_extra=extra(metavar="T1,T2"),
    )
    excluded_touch_types: list[str] = Field(
        default_factory=list,
        description="Touch types that never take credit (e.g. page_view): removed from journeys before every model",
        json_schema_extra=extra(flag="--exclude-touch-types", metavar="T1,T2"),
    )
    excluded_channels: list[str] = Field(
        default_factory=list,
        description="Channels that never take credit: removed from journeys before every model",
        json_schema_extra=extra(flag="--exclude-channels", metavar="C1,C2"),
    )
    markov_order: int = Field(
        default=1,
        ge=1,
        le=3,
        description="markov: order of the chain, 1 to 3 (states are the last 1-3 channels)",
        json_schema_extra=extra(metavar="K"),
    )
    dedupe_paths: bool = Field(default=False, description="markov, shapley: collapse repeated consecutive channels of a path")
    include_open_deals: bool = Field(default=False, description="markov, shapley: learn from open deals too, as non-conversions")
    bootstrap_draws: int = Field(
        default=100,
        ge=0,
        description="markov, shapley: bootstrap draws over deals for the 90% intervals (0: no intervals)",
        json_schema_extra=extra(metavar="N", env="ATTRIBUTION_BOOTSTRAP_DRAWS"),
    )
    bootstrap_seed: int = Field(
        default=0,
        description="channel_attribution_intervals: seed of the draws (same seed, same intervals)",
        json_schema_extra=extra(metavar="S"),
    )
    reporting_currency: str = Field(
        default="USD", description="ISO 4217 code of every credited amount", json_schema_extra=extra(metavar="CODE")
    )
    as_of: str | None = Field(
        default=None,
        description="ISO-8601 as-of time for open deals; default: the latest timestamp in the inputs",
        json_schema_extra=extra(metavar="TIMESTAMP"),
    )
    freemail_domains: list[str] = Field(
        default_factory=lambda: sorted(DEFAULT_FREEMAIL_DOMAINS),
        description="Domains never derived from an e-mail as an account domain",
        json_schema_extra=extra(metavar="D1,D2"),
    )
    stitch_window_days: float | None = Field(
        default=None,
        ge=0,
        description="Identity stitching: an anonymous touch takes its id's e-mail only within this many days of the id's "
        "first link, before or after it (default: no limit)",
        json_schema_extra=extra(metavar="DAYS"),
    )
    no_stitching: bool = Field(
        default=False,
        description="Do not stitch anonymous touches to e-mails: journeys as if no touch had an anonymous_id",
    )
    max_quarantine_share: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="A source with a larger share of rows quarantined stops the run",
        json_schema_extra=extra(metavar="X"),
    )
    earliest_date: str = Field(
        default="1990-01-01",
        description="A timestamp or date before this ISO-8601 date is implausible and quarantined (`<column>.out_of_range`)",
        json_schema_extra=extra(metavar="YYYY-MM-DD"),
    )
    future_tolerance_days: float = Field(
        default=1.0,
        ge=0,
        description="A timestamp or date later than the run's start plus this many days is implausible and quarantined "
        "(`<column>.out_of_range`)",
        json_schema_extra=extra(metavar="D"),
    )
    non_marketing_channels: list[str] = Field(
        default_factory=lambda: list(DEFAULT_NON_MARKETING_CHANNELS),
        description="pipeline_sourcing: channels whose touches are not marketing (sales activity, direct visits)",
        json_schema_extra=extra(metavar="C1,C2"),
    )
    stage_order: list[str] = Field(
        default_factory=lambda: list(DEFAULT_STAGE_ORDER),
        description="stage_velocity: opportunity stages in order; conversion is to the next one",
        json_schema_extra=extra(metavar="S1,S2"),
    )
    lead_sla_hours: float = Field(
        default=DEFAULT_SLA_HOURS, description="lead_sla: hours sales has to act on an MQL", json_schema_extra=extra(metavar="H")
    )

    def params(self, now: dt.datetime | None = None) -> AttributionParams:
        """The engine's parameters; ``now`` (the run's start) bounds the plausible range
        of timestamps: without it there is no upper bound."""
        return AttributionParams(
            earliest_valid=parse_earliest(self.earliest_date),
            latest_valid=now.astimezone(dt.timezone.utc) + dt.timedelta(days=self.future_tolerance_days) if now else None,
            lookback_days=self.lookback_days,
            half_life_days=self.half_life_days,
            position_weights=position_weights(self.position_weights),
            reporting_currency=self.reporting_currency.strip().upper(),
            as_of=parse_as_of(self.as_of),
            freemail_domains=frozenset(domain.strip().lower() for domain in self.freemail_domains),
            w_shaped_weights=milestone_weights("w_shaped", self.w_shaped_weights, ("first", "lead", "opportunity", "rest")),
            full_path_weights=milestone_weights("full_path", self.full_path_weights, ("first", "lead", "opportunity", "closed", "rest")),
            lead_touch_types=_lower(self.lead_touch_types),
            excluded_touch_types=_lower(self.excluded_touch_types),
            excluded_channels=_lower(self.excluded_channels),
            stitch_identities=not self.no_stitching,
            stitch_window_days=self.stitch_window_days,
            markov_order=self.markov_order,
            dedupe_paths=self.dedupe_paths,
            include_open_paths=self.include_open_deals,
        )

    def model_names(self) -> list[str]:
        """The models this run computes, in registry order; an unknown name is an error."""
        return [model.name for model in get_models([name.strip().lower() for name in self.models])]


def setting_flag(name: str) -> str:
    """The command-line flag of a setting."""
    declared = AttributionSettings.model_fields[name].json_schema_extra or {}
    return declared.get("flag", "--" + name.replace("_", "-"))


def setting_env() -> dict[str, str]:
    """Setting name -> the environment variable that gives its default."""
    return {
        name: info.json_schema_extra["env"]
        for name, info in AttributionSettings.model_fields.items()
        if info.json_schema_extra and "env" in info.json_schema_extra
    }


def _lower(values: list[str]) -> frozenset[str]:
    return frozenset(value.strip().lower() for value in values if value.strip())


def position_weights(values: list[float]) -> PositionWeights:
    if len(values) != 3:
        raise ValueError(f"position_based weights need three numbers (first, middle, last), got {len(values)}")
    return PositionWeights.of(*values)


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


def parse_as_of(text: str | None) -> dt.datetime | None:
    """The same ISO-8601 rules as the inputs (naive = UTC, date-only = midnight)."""
    if text is None or not text.strip():
        return None
    value = pl.DataFrame({"as_of": [text.strip()]}).select(parse_timestamp(pl.col("as_of")).value).item()
    if value is None:
        raise ValueError(f"as_of {text!r} is not an ISO-8601 timestamp")
    return value.astimezone(dt.timezone.utc)
