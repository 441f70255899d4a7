"""Bootstrap intervals (models.intervals) against a naive bootstrap written from scratch.

The engine builds the paths' structures once and re-weights them per draw; the
oracle below does what the method says, literally: per draw, the resampled deals
(the same draws: ``default_rng(seed).integers(0, D, D)`` over deals in
opportunity_id order), their ``path_counts``, the public ``removal_effects`` /
``shapley_values`` on those, and each resampled won deal's amount split over its
distinct channels in proportion to their values (by touch count when all are 0).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.data_driven import PathFit
from models.intervals import bootstrap_intervals, learn
from models.markov import removal_effects
from models.params import AttributionParams
from models.paths import deal_paths, path_counts
from models.shapley import shapley_values

MODELS = ["markov", "shapley"]


def rows(deals: list[tuple[list[str], bool, bool, int]]) -> pl.DataFrame:
    """Journey rows with amounts: one deal per (channels, won, closed, amount_cents)."""
    records = [
        {
            "opportunity_id": f"o{d:03d}",
            "position": i,
            "channel": channel,
            "is_won": won and closed,
            "is_closed": closed,
            "amount_cents": cents,
        }
        for d, (channels, won, closed, cents) in enumerate(deals)
        for i, channel in enumerate(channels, start=1)
    ]
    schema = {
        "opportunity_id": pl.String,
        "position": pl.Int32,
        "channel": pl.String,
        "is_won": pl.Boolean,
        "is_closed": pl.Boolean,
        "amount_cents": pl.Int64,
    }
    return pl.DataFrame(records, schema=schema)


def naive_samples(journeys: pl.DataFrame, params: AttributionParams, model: str, draws: int, seed: int):
    fit_paths = deal_paths(journeys, params.include_open_paths, params.dedupe_paths)
    credit_paths = deal_paths(journeys, params.include_open_paths)
    ids = fit_paths.get_column("opportunity_id").to_list()
    full = dict(zip(credit_paths.get_column("opportunity_id").to_list(), credit_paths.get_column("channels").to_list()))
    won = dict(zip(ids, zip(fit_paths.get_column("converted").to_list(), fit_paths.get_column("value_cents").to_list())))
    channels = sorted({c for path in fit_paths.get_column("channels").to_list() for c in path})

    def credited(counts: Counter) -> np.ndarray:
        resampled = fit_paths[[i for i, n in sorted(counts.items()) for _ in range(n)]]
        counted = path_counts(resampled)
        values = removal_effects(counted, params.markov_order) if model == "markov" else shapley_values(counted)
        total = np.zeros(len(channels))
        for i, n in counts.items():
            converted, cents = won[ids[i]]
            if not converted:
                continue
            path = full[ids[i]]
            worth = {c: max(values.get(c, 0.0), 0.0) for c in set(path)}
            norm = sum(worth.values())
            for c in set(path):
                share = worth[c] / norm if norm > 0 else path.count(c) / len(path)
                total[channels.index(c)] += n * cents / 100 * share
        return total

    rng = np.random.default_rng(seed)
    deals = len(ids)
    samples = np.array([credited(Counter(rng.integers(0, deals, deals).tolist())) for _ in range(draws)])
    return channels, credited(Counter(range(deals))), samples


DEALS = st.lists(
    st.tuples(st.lists(st.sampled_from("abcd"), min_size=1, max_size=5), st.booleans(), st.booleans(), st.integers(1, 10**7)),
    min_size=1,
    max_size=12,
)


@settings(max_examples=25, deadline=None)
@given(DEALS, st.booleans(), st.booleans(), st.sampled_from([1, 2]), st.integers(0, 3))
def test_equals_a_naive_bootstrap(deals, dedupe, include_open, order, seed):
    journeys = rows(deals)
    params = replace(AttributionParams(), dedupe_paths=dedupe, include_open_paths=include_open, markov_order=order)
    got = bootstrap_intervals(PathFit(journeys, None, params, MODELS), draws=7, seed=seed)
    for model in MODELS:
        ours = got.filter(pl.col("model") == model).sort("channel")
        channels, point, samples = naive_samples(journeys, params, model, draws=7, seed=seed)
        if not deal_paths(journeys, include_open).height:
            assert ours.is_empty()
            continue
        assert ours.get_column("channel").to_list() == channels
        lower, upper = np.percentile(samples, [5, 95], axis=0)
        for column, expected in (("credited_revenue", point), ("lower", lower), ("upper", upper)):
            assert ours.get_column(column).to_numpy() == pytest.approx(expected, rel=1e-9, abs=1e-6)


def test_two_runs_give_the_same_intervals_to_the_last_bit_and_the_seed_matters():
    deals = [
        (list("abca"), True, True, 10_000),
        (list("b"), False, True, 0),
        (list("ca"), True, True, 5_000),
        (list("cb"), False, True, 0),
        (list("a"), True, True, 2_500),
        (list("bc"), True, True, 7_000),
    ]
    journeys = rows(deals)
    params = AttributionParams()
    first = learn(journeys, journeys.select("opportunity_id", "amount_cents").unique(), params, MODELS, 50, 0)
    again = learn(journeys, journeys.select("opportunity_id", "amount_cents").unique(), params, MODELS, 50, 0)
    assert first[0] == again[0] and first[1].equals(again[1])
    other = learn(journeys, journeys.select("opportunity_id", "amount_cents").unique(), params, MODELS, 50, 1)[1]
    assert not other.equals(first[1])
    # Every draw's credit adds up to the resampled won total, so the point estimates add up to the won total.
    for model in MODELS:
        assert first[1].filter(pl.col("model") == model).get_column("credited_revenue").sum() == pytest.approx(245.0)


def test_row_order_does_not_matter():
    """Rows straight from the journeys asset are in journey order and skip a sort; rows
    read back from a warehouse come in any order and are sorted first: same numbers."""
    deals = [
        (list("abca"), True, True, 10_000),
        (list("b"), False, True, 0),
        (list("ca"), True, True, 5_000),
        (list("cb"), False, True, 0),
        (list("a"), True, True, 2_500),
        (list("bcc"), True, True, 7_000),
    ]
    journeys = rows(deals)
    shuffled = journeys.sample(fraction=1.0, shuffle=True, seed=3)
    assert not shuffled.equals(journeys)
    for dedupe in (False, True):
        params = replace(AttributionParams(), dedupe_paths=dedupe)
        ordered, mixed = (learn(frame, None, params, MODELS, 20, 0) for frame in (journeys, shuffled))
        assert ordered[0] == mixed[0] and ordered[1].equals(mixed[1])
