"""The data-driven step beside the rule-based models step (issue 10's speed criterion).

    uv run --frozen python benchmarks/data_driven_step.py duckdb:///PATH/warehouse.duckdb [--draws 100]

Reads attribution.journeys and staging.opportunities of a finished run (every
month) and times, in this process, each step once after a warm-up:

- rule-based: ``credit_touches`` for every non-data-driven registered model;
- fit: ``fit_values`` for markov and shapley (what the channel_values asset does);
- bootstrap: ``bootstrap_intervals`` with ``--draws`` draws (channel_attribution_intervals);
- data-driven credit: ``credit_touches`` for markov and shapley with the fitted values.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import polars as pl  # noqa: E402

from attribution_pipeline.io_managers import conform  # noqa: E402
from attribution_pipeline.tables import JOURNEYS  # noqa: E402
from attribution_pipeline.warehouse import WarehouseClient  # noqa: E402
from models.credit import credit_touches  # noqa: E402
from models.data_driven import FITTERS, fit_values, with_amounts  # noqa: E402
from models.intervals import bootstrap_intervals  # noqa: E402
from models.params import AttributionParams  # noqa: E402
from models.registry import MODELS  # noqa: E402


def seconds(step) -> float:
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="warehouse of a finished `attribution run`")
    parser.add_argument("--draws", type=int, default=100, help="bootstrap draws (default 100, the run default)")
    args = parser.parse_args()
    client = WarehouseClient(args.url)
    try:
        journeys = conform(client.read("attribution", "journeys"), JOURNEYS)
        opportunities = client.read("staging", "opportunities")
    finally:
        client.dispose()
    params = AttributionParams()
    rule_based = [name for name in MODELS if name not in FITTERS]
    data_driven = list(FITTERS)
    fitted: dict = {}
    rows = with_amounts(journeys, opportunities)
    timings = {
        "rule-based models (" + ", ".join(rule_based) + ")": seconds(lambda: credit_touches(journeys.lazy(), opportunities.lazy(), params, rule_based).collect()),
        "fit (markov, shapley)": seconds(lambda: fitted.update(fit_values(rows, params, data_driven))),
    }
    learned = replace(params, channel_values=fitted)
    timings["data-driven credit (markov, shapley)"] = seconds(lambda: credit_touches(journeys.lazy(), opportunities.lazy(), learned, data_driven).collect())
    timings[f"bootstrap, {args.draws} draws"] = seconds(lambda: bootstrap_intervals(rows, params, data_driven, args.draws, 0))
    deals = journeys.get_column("opportunity_id").n_unique()
    print(f"{journeys.height:,} journey rows, {deals:,} deals with touches; {pl.__version__=}")
    print("| step | seconds |\n|---|---|")
    for step, value in timings.items():
        print(f"| {step} | {value:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
