"""The models step alone, ours beside the peers', on the same won-deal paths.

    uv run --frozen --group bench python benchmarks/models_step.py duckdb:///path/to/warehouse.duckdb

Reads the journeys and opportunities a pipeline run left in a warehouse, keeps
them in memory, then times (wall seconds, median of --repeat runs):

- ours: ``models.credit.credit_touches`` for every registered model, journeys in
  memory to the collected ``touch_credit`` frame (weights, cents allocated by
  largest remainder, unattributed rows);
- marketing-attribution-models and ChannelAttribution on the won deals' paths
  (``peers.py``; each library's own parsing included, our conversion to its
  input format not).

Prints one JSON object; ``run.py`` calls it after each DuckDB run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))  # peers.py beside this file

from attribution_pipeline.orchestration.io_managers import conform  # noqa: E402
from attribution_pipeline.warehouse.client import WarehouseClient  # noqa: E402
from attribution_pipeline.warehouse.tables import JOURNEYS  # noqa: E402
from models.credit import credit_touches  # noqa: E402
from models.params import AttributionParams  # noqa: E402
from models.registry import get_models  # noqa: E402


def load(url: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    client = WarehouseClient(url)
    try:
        return conform(client.read("attribution", "journeys"), JOURNEYS), client.read("staging", "opportunities")
    finally:
        client.dispose()


def won_paths(journeys: pl.DataFrame, opportunities: pl.DataFrame) -> pl.DataFrame:
    """One row per (won deal, touch), the input peers.py expects."""
    won = opportunities.filter(pl.col("is_won")).select("opportunity_id", "amount_cents", "closed_at")
    return journeys.filter(pl.col("is_won")).select("opportunity_id", "position", "channel", "occurred_at").join(won, on="opportunity_id")


def median_seconds(work, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def median_run(runs: list[dict[str, float]]) -> dict[str, float]:
    """The run whose total is the median, with its per-model seconds."""
    return sorted(runs, key=lambda seconds: seconds["total"])[len(runs) // 2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("warehouse", help="SQLAlchemy URL of a warehouse a pipeline run has filled")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the median is reported (default 3)")
    args = parser.parse_args()
    journeys, opportunities = load(args.warehouse)
    paths = won_paths(journeys, opportunities)
    params = AttributionParams()
    ours = median_seconds(lambda: credit_touches(journeys.lazy(), opportunities.lazy(), params).collect(), args.repeat)
    result = {
        "won_deals": paths.get_column("opportunity_id").n_unique(),
        "won_path_touches": paths.height,
        "ours": {"models": [model.name for model in get_models()], "total": ours},
    }
    try:
        from peers import time_channel_attribution, time_mam
    except ImportError as error:  # the bench group is not installed
        result["peers"] = f"unavailable ({error}); install with `uv sync --frozen --group bench`"
    else:
        result["mam"] = median_run([time_mam(paths) for _ in range(args.repeat)])
        ca = [time_channel_attribution(paths) for _ in range(args.repeat)]
        result["channel_attribution"] = ca[0] if isinstance(ca[0], str) else median_run(ca)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
