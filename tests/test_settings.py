"""Each setting is declared once (orchestration/settings.py); its command-line flag, its
Dagster config field, its environment variable and its README row are derived from
that declaration or checked against it here, so they cannot disagree."""

import argparse
import re
from pathlib import Path

import dagster as dg
import pytest

from attribution_pipeline.app.cli import _parser
from attribution_pipeline.app.flags import kind, settings_from_flags
from attribution_pipeline.definitions import build_definitions
from attribution_pipeline.orchestration.deployment import Deployment, variables
from attribution_pipeline.orchestration.settings import AttributionSettings, setting_env, setting_flag

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
# The flags `attribution run` had before they were derived: each keeps its name.
FLAGS_BEFORE = {
    "--lookback-days",
    "--half-life-days",
    "--position-weights",
    "--models",
    "--w-shaped-weights",
    "--full-path-weights",
    "--lead-touch-types",
    "--exclude-touch-types",
    "--exclude-channels",
    "--markov-order",
    "--dedupe-paths",
    "--include-open-deals",
    "--bootstrap-draws",
    "--bootstrap-seed",
    "--reporting-currency",
    "--as-of",
    "--max-quarantine-share",
    "--earliest-date",
    "--future-tolerance-days",
    "--non-marketing-channels",
    "--stage-order",
    "--lead-sla-hours",
}
# run's flags that are not settings: where to read, where to write, which months.
NOT_SETTINGS = {"--source", "--warehouse", "--source-table", "--month", "--from", "--to", "--parallel", "-h", "--help"}
# Values unlike every default, written as a user would type them, and what the config holds then.
TYPED = {float: ("2.5", 2.5), int: ("2", 2), str: ("2024-06-30", "2024-06-30"), list[str]: ("B, a", ["b", "a"])}


def run_parser(environ: dict | None = None) -> argparse.ArgumentParser:
    parser = _parser(Deployment.from_environment(environ or {}), with_setting_flags=True)
    return next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction)).choices["run"]


def test_every_setting_has_one_flag_and_every_flag_is_a_setting_or_a_run_option():
    run = run_parser()
    flags = {option: action.dest for action in run._actions for option in action.option_strings}
    assert {flags[setting_flag(name)] for name in AttributionSettings.model_fields} == set(AttributionSettings.model_fields)
    assert set(flags) - NOT_SETTINGS == {setting_flag(name) for name in AttributionSettings.model_fields}
    assert FLAGS_BEFORE <= set(flags)


@pytest.mark.parametrize("name", sorted(AttributionSettings.model_fields))
def test_a_flag_reaches_the_dagster_config_field_of_its_name(name):
    flag = setting_flag(name)
    if kind(name) is bool:
        argv, expected = [flag], True
    elif kind(name) == list[float]:
        metavar = AttributionSettings.model_fields[name].json_schema_extra["metavar"]
        count = len(metavar.split(","))
        argv, expected = [flag, ",".join(["1"] + ["0"] * (count - 1))], [1.0] + [0.0] * (count - 1)
    elif name == "models":
        argv, expected = [flag, "Linear,markov"], ["linear", "markov"]
    elif name == "as_of":
        argv, expected = [flag, "2024-06-30"], "2024-06-30"
    elif name == "markov_order":
        argv, expected = [flag, "3"], 3
    elif name == "max_quarantine_share":
        argv, expected = [flag, "0.25"], 0.25
    else:
        argv, expected = [flag, TYPED[kind(name)][0]], TYPED[kind(name)][1]
    args = run_parser().parse_args(["--source", "x", *argv])
    settings = settings_from_flags(args, {})
    assert getattr(settings, name) == expected
    assert settings.model_dump()[name] == expected
    # Every other field keeps its declared default.
    defaults = AttributionSettings().model_dump()
    assert {k: v for k, v in settings.model_dump().items() if k != name} == {k: v for k, v in defaults.items() if k != name}
    settings.params()  # the value is one the engine accepts


def test_a_settings_environment_variable_is_the_default_of_the_flag_and_of_the_dagster_resource():
    assert setting_env() == {"bootstrap_draws": "ATTRIBUTION_BOOTSTRAP_DRAWS"}
    environ = {"ATTRIBUTION_BOOTSTRAP_DRAWS": "7"}
    deployment = Deployment.from_environment(environ)
    parse = run_parser(environ).parse_args
    assert settings_from_flags(parse(["--source", "x"]), deployment.settings_defaults()).bootstrap_draws == 7
    assert settings_from_flags(parse(["--source", "x", "--bootstrap-draws", "3"]), deployment.settings_defaults()).bootstrap_draws == 3
    resources = build_definitions(deployment).resources
    assert resources["settings"].bootstrap_draws == 7
    assert build_definitions(Deployment()).resources["settings"].bootstrap_draws == 100
    with pytest.raises(Exception, match="bootstrap_draws"):
        Deployment.from_environment({"ATTRIBUTION_BOOTSTRAP_DRAWS": "-1"}).settings_defaults()


def test_help_text_is_the_declared_description_and_default():
    run = run_parser()
    helps = {action.dest: action.help for action in run._actions}
    for name, info in AttributionSettings.model_fields.items():
        assert info.description and helps[name].startswith(info.description.replace("%", "%%")), name


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--half-life-days", "0"], "--half-life-days 0.0: half_life_days must be > 0"),
        (["--max-quarantine-share", "2"], "--max-quarantine-share 2.0: max_quarantine_share must be between 0 and 1"),
        (["--markov-order", "4"], "--markov-order 4: markov_order must be between 1 and 3"),
        (["--bootstrap-draws", "-1"], "--bootstrap-draws -1: bootstrap_draws must be >= 0"),
        (["--bootstrap-draws", "1.5"], "--bootstrap-draws '1.5' must be a whole number"),
        (["--position-weights", "a,b"], "--position-weights 'a,b' must be comma-separated numbers (three numbers F,M,L)"),
    ],
)
def test_a_value_breaking_the_declared_constraint_is_one_line_naming_the_flag(argv, said):
    with pytest.raises(ValueError) as error:
        settings_from_flags(run_parser().parse_args(["--source", "x", *argv]), {})
    assert str(error.value) == said


def test_the_readme_documents_every_flag_and_variable_with_its_declared_default():
    for name, info in AttributionSettings.model_fields.items():
        row = re.search(rf"^\| `{re.escape(setting_flag(name))}[ `].*$", README, re.M)
        assert row, f"README has no row for {setting_flag(name)}"
    table = README[README.index("### Environment variables") :]
    table = table[: table.index("\n\n", table.index("| variable"))]
    documented = set(re.findall(r"^\| `([A-Z_]+)`", table, re.M))
    declared = {env for env, _, _ in variables()}
    assert documented - declared == {"CI", "ATTRIBUTION_TEST_POSTGRES_URL"}
    assert declared <= documented


def test_a_deployment_travels_to_another_process_as_text():
    deployment = Deployment(source="/landing", warehouse_url="duckdb:///w.duckdb", settings=(("bootstrap_draws", "7"),))
    assert Deployment.of(deployment.as_kwargs()) == deployment
    with pytest.raises(ValueError, match="EnvVar"):
        Deployment(source=dg.EnvVar("ATTRIBUTION_SOURCE")).as_kwargs()


def test_secrets_read_by_the_definitions_stay_environment_variables():
    environ = {"ATTRIBUTION_SOURCE": "/landing", "ATTRIBUTION_WAREHOUSE_URL": "postgresql+psycopg://u:secret@h/db"}
    for_dagster = Deployment.from_environment(environ, secrets_as_env_vars=True)
    assert isinstance(for_dagster.warehouse_url, dg.EnvVar) and for_dagster.warehouse_url.env_var_name == "ATTRIBUTION_WAREHOUSE_URL"
    assert Deployment.from_environment(environ).warehouse_url == "postgresql+psycopg://u:secret@h/db"
