"""Run options of the models (stage-aware models issue): --models, the milestone
weights and the exclusions, through the command line and Dagster."""

from __future__ import annotations

import polars as pl
import pytest

from attribution_pipeline.app.cli import main
from attribution_pipeline.sample_data import generate
from pipeline_runs import read, run_cli


def test_models_and_exclusions_through_the_pipeline(tmp_path, duckdb_url, dagster_home):
    """Two of eight models, page views excluded: touch_credit holds those two models
    only, no page view takes credit, every won deal still reconciles to the cent, and
    attribution.runs records how many touches of won deals were left out, counted
    here from journeys on its own."""
    generate(tmp_path / "landing", touches=1200, seed=11)
    assert (
        run_cli(
            "--source",
            str(tmp_path / "landing"),
            "--warehouse",
            duckdb_url,
            "--models",
            "W_Shaped, linear",
            "--exclude-touch-types",
            "page_view",
        )
        == 0
    )
    credit = read(duckdb_url, "attribution", "touch_credit")
    assert set(credit.get_column("model")) == {"linear", "w_shaped"}
    journeys = read(duckdb_url, "attribution", "journeys")
    credited = credit.join(journeys.select("opportunity_id", "touch_id", "touch_type"), on=["opportunity_id", "touch_id"])
    assert credited.height == credit.filter(pl.col("touch_id").is_not_null()).height
    assert "page_view" not in set(credited.get_column("touch_type").drop_nulls())
    won = read(duckdb_url, "staging", "opportunities").filter(pl.col("is_won"))
    cents = (pl.col("credited_amount").cast(pl.Decimal(38, 2)) * 100).cast(pl.Int64).sum()
    for model, total in credit.group_by("model").agg(cents).iter_rows():
        assert total == won.get_column("amount_cents").sum(), model
    page_views = journeys.filter(pl.col("is_won") & (pl.col("touch_type") == "page_view")).height
    assert page_views > 0
    runs = read(duckdb_url, "attribution", "runs")
    assert runs.get_column("excluded_touches").to_list() == [page_views]
    campaigns = read(duckdb_url, "attribution", "campaign_attribution")
    assert set(campaigns.get_column("model")) == {"linear", "w_shaped"}


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--w-shaped-weights", "0.3,0.3,0.3,0.2", "w_shaped weights must sum to 1"),
        ("--w-shaped-weights", "0.5,0.5,0.1,-0.1", "w_shaped weights must be >= 0"),
        ("--full-path-weights", "0.25,0.25,0.25,0.25", "full_path weights need 5 numbers"),
        ("--full-path-weights", "a,b,c,d,e", "--full-path-weights 'a,b,c,d,e' must be comma-separated numbers"),
        ("--models", "linear,u_shaped", "unknown model(s) ['u_shaped']"),
    ],
)
def test_bad_model_options_stop_before_anything_runs(option, value, message, tmp_path, capsys):
    """A clear one-line error, exit 2, and no warehouse file created."""
    warehouse = tmp_path / "w.duckdb"
    assert main(["run", "--source", str(tmp_path), "--warehouse", f"duckdb:///{warehouse}", option, value]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not warehouse.exists()
