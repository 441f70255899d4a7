"""Run parameters of the engine (SPEC 4), independent of how they are configured.

The Dagster layer turns its ``Config`` into one of these; tests build them
directly. Position weights are kept as exact fractions so that the cents of
position_based can be split in integers (SPEC 4, money rule 1).
"""

from __future__ import annotations

import datetime as dt
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
class AttributionParams:
    """Everything a run's numbers depend on besides its inputs."""

    lookback_days: float = 365.0
    half_life_days: float = 7.0
    position_weights: PositionWeights = field(default_factory=PositionWeights)
    reporting_currency: str = "USD"
    as_of: dt.datetime | None = None
    freemail_domains: frozenset[str] = DEFAULT_FREEMAIL_DOMAINS

    def __post_init__(self) -> None:
        if self.lookback_days < 0:
            raise ValueError(f"lookback_days must be >= 0, got {self.lookback_days}")
        if not self.half_life_days > 0:
            raise ValueError(f"half_life_days must be > 0, got {self.half_life_days}")
        self.position_weights.validate()
        if self.as_of is not None and self.as_of.tzinfo is None:
            raise ValueError("as_of must be timezone-aware (UTC)")
