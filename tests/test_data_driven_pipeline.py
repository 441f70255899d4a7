"""The data-driven models through the pipeline (issue 10): what they learn is in
attribution.channel_values, learned from every month, and each won deal's credit
follows those values to the cent."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from attribution_pipeline.sample_data import generate
from pipeline_runs import read, run_cli


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    from pipeline_runs import run_in_own_home

    folder = tmp_path_factory.mktemp("data_driven")
    generate(folder / "landing", touches=1500, seed=21)
    url = f"duckdb:///{folder / 'w.duckdb'}"
    run_in_own_home(folder, folder / "landing", url, "--models", "linear,markov,shapley", "--bootstrap-draws", "50")
    return url, folder / "landing"


def removal_effects_from_scratch(journeys: pl.DataFrame) -> dict[str, float]:
    """The first-order absorbing chain of the README, written here without the engine: each closed
    deal's channels in journey order ((unknown) for none, repeats in a row are one state) walk from
    (start) to (conversion) when won, else to (null); transition probabilities are counts over row
    totals; P(conversion) solves (I - Q) x = r; removing a channel sends its state to (null)."""
    paths: dict[str, list] = {}
    for deal, channel, won in (
        journeys.filter(pl.col("is_closed")).sort("opportunity_id", "position").select("opportunity_id", "channel", "is_won").iter_rows()
    ):
        steps = paths.setdefault(deal, [won, []])[1]
        state = channel if channel is not None else "(unknown)"
        if not steps or steps[-1] != state:
            steps.append(state)
    counts: dict[tuple[str, str], float] = {}
    for won, steps in paths.values():
        walk = ["(start)", *steps, "(conversion)" if won else "(null)"]
        for source, target in zip(walk, walk[1:]):
            counts[(source, target)] = counts.get((source, target), 0.0) + 1.0
    channels = sorted({state for _, steps in paths.values() for state in steps})

    def conversion(removed: str | None) -> float:
        transient = ["(start)"] + [c for c in channels if c != removed]
        index = {state: i for i, state in enumerate(transient)}
        totals: dict[str, float] = {}
        for (source, _), n in counts.items():
            totals[source] = totals.get(source, 0.0) + n
        q, r = np.zeros((len(transient), len(transient))), np.zeros(len(transient))
        for (source, target), n in counts.items():
            if source not in index:
                continue
            if target == "(conversion)":
                r[index[source]] += n / totals[source]
            elif target in index:
                q[index[source], index[target]] += n / totals[source]
        return float(np.linalg.solve(np.eye(len(transient)) - q, r)[0])

    base = conversion(None)
    return {channel: 1 - conversion(channel) / base for channel in channels}


def test_channel_values_are_learned_from_every_closed_deal(warehouse):
    """The removal effects in the table equal the chain built from scratch here from the journeys
    table (the run covered every month, so it holds every deal): won convert, lost do not, open
    ones are left out."""
    warehouse, _ = warehouse
    journeys = read(warehouse, "attribution", "journeys")
    expected = removal_effects_from_scratch(journeys)
    values = read(warehouse, "attribution", "channel_values")
    markov = dict(values.filter(pl.col("model") == "markov").select("channel", "value").iter_rows())
    assert markov == pytest.approx(expected, rel=1e-12)
    assert set(values.get_column("model")) == {"markov", "shapley"}
    for model in ("markov", "shapley"):
        shares = values.filter(pl.col("model") == model).get_column("share").drop_nulls()
        assert abs(shares.sum() - 1) < 1e-12


def test_each_won_deal_is_credited_by_the_learned_values(warehouse):
    """Per deal, a channel's credit over the deal's amount is its value over the sum
    of the values of the deal's distinct channels (negative as 0), and the deal's
    cents add up exactly: checked in plain Python for every won deal."""
    warehouse, _ = warehouse
    values = read(warehouse, "attribution", "channel_values")
    credit = read(warehouse, "attribution", "touch_credit")
    won = dict(read(warehouse, "staging", "opportunities").filter(pl.col("is_won")).select("opportunity_id", "amount_cents").iter_rows())
    checked = 0
    for model in ("markov", "shapley"):
        value = {c: max(v, 0.0) for c, v in values.filter(pl.col("model") == model).select("channel", "value").iter_rows()}
        rows = credit.filter(pl.col("model") == model, pl.col("touch_id").is_not_null())
        for (deal,), part in rows.group_by("opportunity_id"):
            cents = (part.get_column("credited_amount").cast(pl.Decimal(38, 2)) * 100).cast(pl.Int64)
            assert cents.sum() == won[deal]
            channels = part.get_column("channel").fill_null("(unknown)")
            total = sum(value.get(c, 0.0) for c in set(channels))
            if total <= 0:
                continue
            by_channel = dict(part.with_columns(channel=channels, cents=cents).group_by("channel").agg(pl.col("cents").sum()).iter_rows())
            for channel, got in by_channel.items():
                assert abs(got - won[deal] * value.get(channel, 0.0) / total) <= len(part), (model, deal, channel)
            checked += 1
    assert checked > 10


def test_a_month_rerun_uses_values_learned_from_every_month(warehouse, tmp_path, dagster_home):
    """Re-running one month leaves channel_values and that month's credit as they were:
    the values come from all months of journeys, not from the month re-run."""
    import shutil

    original, landing = warehouse
    before_values = read(original, "attribution", "channel_values").drop("run_id").sort("model", "channel")
    credit = read(original, "attribution", "touch_credit")
    month = credit.filter(pl.col("model") == "markov").get_column("closed_at").dt.strftime("%Y-%m").mode().sort()[0]
    copy = tmp_path / "w.duckdb"
    shutil.copy(original.removeprefix("duckdb:///"), copy)
    url = f"duckdb:///{copy}"
    assert (
        run_cli(
            "--source", str(landing), "--warehouse", url, "--models", "linear,markov,shapley", "--month", month, "--bootstrap-draws", "50"
        )
        == 0
    )
    after_values = read(url, "attribution", "channel_values").drop("run_id").sort("model", "channel")
    assert after_values.equals(before_values)
    intervals = [read(u, "attribution", "channel_attribution_intervals").drop("run_id").sort("model", "channel") for u in (original, url)]
    assert intervals[0].equals(intervals[1])  # the same seed, the same intervals, to the last bit
    order = ["model", "opportunity_id", "position"]
    after = read(url, "attribution", "touch_credit").drop("run_id").sort(order, nulls_last=True)
    assert after.equals(credit.drop("run_id").sort(order, nulls_last=True))


def test_intervals_hold_every_channel_and_bracket_the_estimate(warehouse):
    """90% bootstrap intervals per data-driven model and channel: the point estimates
    add up to the won revenue of the deals with a journey, and lower <= upper."""
    warehouse, _ = warehouse
    intervals = read(warehouse, "attribution", "channel_attribution_intervals")
    values = read(warehouse, "attribution", "channel_values")
    journeys = read(warehouse, "attribution", "journeys")
    won = read(warehouse, "staging", "opportunities").filter(
        pl.col("is_won"), pl.col("opportunity_id").is_in(journeys.get_column("opportunity_id").implode())
    )
    for model in ("markov", "shapley"):
        rows = intervals.filter(pl.col("model") == model)
        assert set(rows.get_column("channel")) == set(values.filter(pl.col("model") == model).get_column("channel"))
        assert abs(rows.get_column("credited_revenue").sum() - won.get_column("amount_cents").sum() / 100) < 0.01
        assert (rows.get_column("lower") <= rows.get_column("upper")).all()
    assert set(intervals.get_column("draws")) == {50} and set(intervals.get_column("seed")) == {0}
