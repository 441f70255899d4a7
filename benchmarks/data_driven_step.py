"""The data-driven step beside the rule-based models step (issue 10's speed criterion).

    uv run --frozen python benchmarks/data_driven_step.py duckdb:///PATH/warehouse.duckdb [--draws 100]

Reads attribution.journeys and staging.opportunities of a finished run (every
month) and times, in this process, each step (the median of ``--repeat`` timings,
after a warm-up):

- rule-based step: ``credit_touches`` for every rule-based registered model, journeys
  in memory to the touch_credit frame (what the models step of ``run.py`` times);
- fit: ``fit_values`` for markov and shapley (paths, model structures, values);
- data_driven asset: ``models.intervals.learn``, the fit plus ``--draws`` bootstrap
  draws, exactly what the asset computes;
- credit of all ten models, with the learned values (touch_credit's frame).

The data-driven step is what turning markov and shapley on adds: the data_driven
asset plus the extra credit in touch_credit (all ten models' credit minus the
rule-based models' credit). Issue 10 asks for at most the rule-based step's time.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # models_step.py beside this file

import polars as pl  # noqa: E402
from models_step import load, median_seconds  # noqa: E402

from models.credit import credit_touches  # noqa: E402
from models.data_driven import FITTERS, fit_values  # noqa: E402
from models.intervals import learn  # noqa: E402
from models.params import AttributionParams  # noqa: E402
from models.registry import MODELS  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="warehouse of a finished `attribution run`")
    parser.add_argument("--draws", type=int, default=100, help="bootstrap draws (default 100, the run default)")
    parser.add_argument("--repeat", type=int, default=3, help="timings per step; the median is reported (default 3)")
    args = parser.parse_args()
    journeys, opportunities = load(args.url)
    params = AttributionParams()
    rule_based = [name for name in MODELS if name not in FITTERS]
    data_driven = list(FITTERS)
    fitted: dict = {}
    every = rule_based + data_driven

    def credit(models: list[str], values: dict) -> None:
        credit_touches(journeys.lazy(), opportunities.lazy(), replace(params, channel_values=values), models).collect()

    credit(every, fit_values(journeys, params, data_driven, opportunities))  # warm-up
    rule = median_seconds(lambda: credit(rule_based, {}), args.repeat)
    fit = median_seconds(lambda: fitted.update(fit_values(journeys, params, data_driven, opportunities)), args.repeat)
    asset = median_seconds(lambda: learn(journeys, opportunities, params, data_driven, args.draws, 0), args.repeat)
    ten = median_seconds(lambda: credit(every, fitted), args.repeat)
    added = asset + ten - rule
    deals = journeys.get_column("opportunity_id").n_unique()
    print(f"{journeys.height:,} journey rows, {deals:,} deals with touches; {pl.__version__=}")
    print("| step | seconds |\n|---|---|")
    print(f"| rule-based models step: credit of {', '.join(rule_based)} | {rule:.2f} |")
    print(f"| fit alone: paths, model structures and values | {fit:.2f} |")
    print(f"| data_driven asset: fit and bootstrap, {args.draws} draws | {asset:.2f} |")
    print(f"| credit of all ten models | {ten:.2f} |")
    print(
        f"| **data-driven step: data_driven asset + (ten models' credit - rule-based credit)** | **{added:.2f}** ({added / rule:.2f}x the rule-based step) |"
    )
    print(
        json.dumps(
            {
                "journey_rows": journeys.height,
                "deals": deals,
                "draws": args.draws,
                "rule_based": rule,
                "fit": fit,
                "data_driven_asset": asset,
                "all_ten": ten,
                "data_driven_step": added,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
