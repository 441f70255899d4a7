"""``attribution run``'s setting flags, derived from the settings declaration
(``orchestration/settings.py``): one flag per field, its help text the field's
description, its value parsed by the field's type and checked by the field's
constraint. A flag not given takes the declared default (or its environment
variable's value).
"""

from __future__ import annotations

import argparse
import typing

import pydantic

from attribution_pipeline.orchestration.settings import AttributionSettings, setting_env, setting_flag

COUNT_WORDS = {2: "two", 3: "three", 4: "four", 5: "five"}


def kind(name: str) -> type:
    """The field's value type: float, int, str, bool, or list[float] / list[str]."""
    annotation = AttributionSettings.model_fields[name].annotation
    arguments = [argument for argument in typing.get_args(annotation) if argument is not type(None)]
    return annotation if typing.get_origin(annotation) is list or not arguments else arguments[0]


def add_setting_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per setting; the default is None, meaning "not given"."""
    env = setting_env()
    for name, info in AttributionSettings.model_fields.items():
        declared = info.json_schema_extra or {}
        default = info.get_default(call_default_factory=True)
        shown = ",".join(map(str, default)) if isinstance(default, list) else default
        source = f"${env[name]} or " if name in env else ""
        help_text = f"{info.description} (default {source}{shown if shown not in ('', None) else 'none'})".replace("%", "%%")
        flag = setting_flag(name)
        if kind(name) is bool:
            parser.add_argument(flag, dest=name, action="store_true", default=None, help=help_text)
        else:
            parser.add_argument(flag, dest=name, default=None, metavar=declared.get("metavar"), help=help_text)


def parse_value(name: str, text: str):
    """A flag's text as the field's type: lists are comma-separated (names lowercased)."""
    flag, value_type = setting_flag(name), kind(name)
    if value_type == list[str]:
        return [part.strip().lower() for part in text.split(",") if part.strip()]
    if value_type == list[float]:
        try:
            return [float(part) for part in text.split(",")]
        except ValueError:
            metavar = (AttributionSettings.model_fields[name].json_schema_extra or {}).get("metavar", "")
            count = COUNT_WORDS.get(len(metavar.split(",")), str(len(metavar.split(","))))
            raise ValueError(f"{flag} {text!r} must be comma-separated numbers ({count} numbers {metavar})") from None
    if value_type in (int, float):
        try:
            return value_type(text)
        except ValueError:
            raise ValueError(f"{flag} {text!r} must be {'a whole number' if value_type is int else 'a number'}") from None
    return text


def settings_from_flags(args: argparse.Namespace, defaults: dict) -> AttributionSettings:
    """The run's settings: the declared defaults, then ``defaults`` (the environment's),
    then the flags given. A value breaking its field's constraint is a ValueError that
    names the flag."""
    given = {
        name: value if kind(name) is bool else parse_value(name, value)
        for name in AttributionSettings.model_fields
        if (value := getattr(args, name, None)) is not None
    }
    try:
        return AttributionSettings(**{**defaults, **given})
    except pydantic.ValidationError as error:
        raise ValueError("; ".join(_said(problem) for problem in error.errors())) from None


def _said(problem: dict) -> str:
    """``--half-life-days 0: half_life_days must be > 0``, from pydantic's error."""
    name = str(problem["loc"][0]) if problem["loc"] else "settings"
    bounds = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}
    info = AttributionSettings.model_fields.get(name)
    if problem["type"] in bounds and info is not None:
        limits = {type(rule).__name__: rule for rule in info.metadata}
        if "Ge" in limits and "Le" in limits:
            return f"{setting_flag(name)} {problem['input']}: {name} must be between {limits['Ge'].ge} and {limits['Le'].le}"
        rule = {"greater_than": "Gt", "greater_than_equal": "Ge", "less_than": "Lt", "less_than_equal": "Le"}[problem["type"]]
        limit = getattr(limits[rule], rule.lower())
        return f"{setting_flag(name)} {problem['input']}: {name} must be {bounds[problem['type']]} {limit}"
    return f"{setting_flag(name) if info else name}: {problem['msg']}"
