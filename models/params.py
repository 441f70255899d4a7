"""Run parameters of the engine (SPEC 4), independent of how they are configured.

The Dagster layer turns its ``Config`` into one of these; tests build them
directly. Position and milestone weights are kept as exact fractions so that
the cents of position_based, w_shaped and full_path can be split in integers
(SPEC 4, money rule 1).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction

DEFAULT_FREEMAIL_DOMAINS: frozenset[str] = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "hotmail.com",
        "outlook.com",
        "live.com",
        "icloud.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "gmx.com",
    }
)


def exact_fraction(value: float | str | Fraction) -> Fraction:
    """Reads ``0.4`` as 2/5, not as the binary float nearest to it."""
    if isinstance(value, Fraction):
        return value
    return Fraction(str(value))


@dataclass(frozen=True)
class PositionWeights:
    """U-shaped weights (first, middle, last); non-negative and summing to 1."""

    first: Fraction = Fraction(2, 5)
    middle: Fraction = Fraction(1, 5)
    last: Fraction = Fraction(2, 5)

    @classmethod
    def of(cls, first, middle, last) -> PositionWeights:
        weights = cls(exact_fraction(first), exact_fraction(middle), exact_fraction(last))
        weights.validate()
        return weights

    def validate(self) -> None:
        parts = (self.first, self.middle, self.last)
        if any(part < 0 for part in parts):
            raise ValueError(f"position weights must be >= 0, got {self.describe()}")
        if sum(parts) != 1:
            raise ValueError(f"position weights must sum to 1, got {self.describe()}")

    def describe(self) -> str:
        return "/".join(str(float(part)) for part in (self.first, self.middle, self.last))


@dataclass(frozen=True)
class MilestoneWeights:
    """Shares of the milestone models (w_shaped, full_path); non-negative, summing to 1.

    ``first``, ``lead``, ``opportunity`` and ``closed`` go to the first touch,
    the lead-creation touch, the opportunity-creation touch and the last touch;
    ``rest`` is shared by the touches that are no milestone (models/milestones.py).
    """

    first: Fraction
    lead: Fraction
    opportunity: Fraction
    closed: Fraction
    rest: Fraction

    @classmethod
    def of(cls, first, lead, opportunity, closed, rest, *, model: str = "milestone") -> MilestoneWeights:
        """Reads strings and floats exactly (``0.3`` is 3/10); ``model`` names it in errors."""
        weights = cls(*(exact_fraction(part) for part in (first, lead, opportunity, closed, rest)))
        weights.validate(model)
        return weights

    def validate(self, model: str = "milestone") -> None:
        parts = (self.first, self.lead, self.opportunity, self.closed, self.rest)
        if any(part < 0 for part in parts):
            raise ValueError(f"{model} weights must be >= 0, got {self.describe()}")
        if sum(parts) != 1:
            raise ValueError(f"{model} weights must sum to 1, got {self.describe()}")

    def describe(self) -> str:
        """first/lead/opportunity/closed/rest, e.g. ``0.3/0.3/0.3/0.0/0.1``."""
        parts = (self.first, self.lead, self.opportunity, self.closed, self.rest)
        return "/".join(str(float(part)) for part in parts)


W_SHAPED_WEIGHTS = MilestoneWeights(Fraction(3, 10), Fraction(3, 10), Fraction(3, 10), Fraction(0), Fraction(1, 10))
FULL_PATH_WEIGHTS = MilestoneWeights(Fraction(9, 40), Fraction(9, 40), Fraction(9, 40), Fraction(9, 40), Fraction(1, 10))
DEFAULT_LEAD_TOUCH_TYPES: frozenset[str] = frozenset({"form_submit"})
# SPEC 1: a timestamp or date before this is implausible (quarantined).
DEFAULT_EARLIEST_VALID = dt.datetime(1990, 1, 1, tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class AttributionParams:
    """Everything a run's numbers depend on besides its inputs."""

    lookback_days: float = 365.0
    half_life_days: float = 7.0
    position_weights: PositionWeights = field(default_factory=PositionWeights)
    reporting_currency: str = "USD"
    as_of: dt.datetime | None = None
    freemail_domains: frozenset[str] = DEFAULT_FREEMAIL_DOMAINS
    w_shaped_weights: MilestoneWeights = W_SHAPED_WEIGHTS
    full_path_weights: MilestoneWeights = FULL_PATH_WEIGHTS
    # touch_type values that create a lead (the LC milestone: the first such touch)
    lead_touch_types: frozenset[str] = DEFAULT_LEAD_TOUCH_TYPES
    # Touches of these types or channels never take credit: they are removed from
    # every won deal's journey before any model runs (models/credit.py).
    excluded_touch_types: frozenset[str] = frozenset()
    excluded_channels: frozenset[str] = frozenset()
    # Data-driven models (models/data_driven.py): Markov chain order (1 to 3),
    # collapse repeated consecutive channels, count open deals as non-conversions.
    # Identity stitching (models/identity.py): on by default; the window in days
    # around an anonymous id's first link (None: no limit).
    stitch_identities: bool = True
    stitch_window_days: float | None = None
    markov_order: int = 1
    dedupe_paths: bool = False
    include_open_paths: bool = False
    # Learned channel values by model ("markov", "shapley"): fitted once per run on
    # every month's deals (the channel_values asset); credit_touches fits on the
    # journeys it is given when a model's values are missing.
    channel_values: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    # SPEC 1 plausible range of every timestamp and date: [earliest_valid,
    # latest_valid]. latest_valid is the run's wall-clock time plus a tolerance,
    # set by the pipeline at run time; None (engine tests) means no upper bound.
    earliest_valid: dt.datetime = DEFAULT_EARLIEST_VALID
    latest_valid: dt.datetime | None = None
    # [start, end) of the close-month partitions: a closed deal outside them could
    # never be credited, so staging quarantines it. None: no partitions (engine tests).
    close_months: tuple[dt.datetime, dt.datetime] | None = None

    def __post_init__(self) -> None:
        if self.lookback_days < 0:
            raise ValueError(f"lookback_days must be >= 0, got {self.lookback_days}")
        if not self.half_life_days > 0:
            raise ValueError(f"half_life_days must be > 0, got {self.half_life_days}")
        self.position_weights.validate()
        self.w_shaped_weights.validate("w_shaped")
        self.full_path_weights.validate("full_path")
        if self.markov_order not in (1, 2, 3):
            raise ValueError(f"markov_order must be 1, 2 or 3, got {self.markov_order}")
        for name in ("as_of", "earliest_valid", "latest_valid"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name} must be timezone-aware (UTC)")
        if self.latest_valid is not None and self.latest_valid < self.earliest_valid:
            raise ValueError(f"the plausible range is empty: earliest {self.earliest_valid} is after latest {self.latest_valid}")
