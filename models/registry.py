"""The models by name. Adding a model is one function (``rules``, ``milestones``,
``data_driven``) and one line here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from models import data_driven, milestones, rules
from models.params import AttributionParams

WeightFunction = Callable[[pl.LazyFrame, AttributionParams], pl.LazyFrame]


@dataclass(frozen=True)
class Model:
    name: str
    weights: WeightFunction
    exact: bool  # True: returns integer num/den; False: returns a float `weight`
    description: str


MODELS: dict[str, Model] = {
    model.name: model
    for model in (
        Model("first_touch", rules.first_touch, True, "All credit to the first touch."),
        Model("last_touch", rules.last_touch, True, "All credit to the last touch."),
        Model("linear", rules.linear, True, "Equal credit to every touch."),
        Model(
            "time_decay",
            rules.time_decay,
            False,
            "Credit halves every half_life_days before conversion.",
        ),
        Model(
            "position_based",
            rules.position_based,
            True,
            "U-shaped: first and last weighted, the middle shares the rest.",
        ),
        Model("w_shaped", milestones.w_shaped, True, "First touch, lead and opportunity creation weighted; others share the rest."),
        Model("full_path", milestones.full_path, True, "W-shaped plus the closing touch; others share the rest."),
        Model("last_non_direct", milestones.last_non_direct, True, "All credit to the last touch not on the direct channel."),
        Model(
            "markov", data_driven.markov, False, "Channels credited by their exact Markov removal effect, learned from won and lost deals."
        ),
        Model("shapley", data_driven.shapley, False, "Channels credited by their Shapley value over channel-set conversion rates."),
    )
}


def get_models(names: list[str] | None = None) -> list[Model]:
    """The models a run computes, in registry order; unknown names are an error."""
    if names is None:
        return list(MODELS.values())
    unknown = sorted(set(names) - set(MODELS))
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}; known: {sorted(MODELS)}")
    return [model for model in MODELS.values() if model.name in names]
