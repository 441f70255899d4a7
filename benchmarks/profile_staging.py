"""The touches staging path piece by piece, in one process: where its seconds and memory go.

    uv run --frozen python benchmarks/profile_staging.py LANDING_FOLDER

Prints, per piece, wall seconds and the process's peak RSS so far (it only grows):
reading the landing files, staging (parse, rules, quarantine), importing
great-expectations, the GX row suite, and writing raw and staging to a
temporary DuckDB file. One chunk of the whole source (no 2M-row chunking), so
run it on up to a few million touches.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

from attribution_pipeline.contract.rules import CONTRACTS, stage
from attribution_pipeline.contract.validation import check_rows
from attribution_pipeline.sources.readers import read_landing
from attribution_pipeline.warehouse.client import WarehouseClient
from models.params import AttributionParams


def main() -> int:
    folder = Path(sys.argv[1])
    started = time.perf_counter()

    def lap(label: str) -> None:
        nonlocal started
        now = time.perf_counter()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        print(f"{label:<28} {now - started:6.2f} s   peak {peak:5.2f} GB", flush=True)
        started = now

    params, contract = AttributionParams(), CONTRACTS["touches"]
    raw, _ = read_landing(folder, "touches", contract.required_columns)
    lap(f"read {raw.height:,} touches")
    staged = stage(contract, raw, params, None)
    lap("stage")
    import great_expectations  # noqa: F401

    lap("import great-expectations")
    check_rows(contract, staged.judged_view(), params)
    lap("GX row suite")
    with tempfile.TemporaryDirectory() as scratch:
        client = WarehouseClient(f"duckdb:///{Path(scratch) / 'profile.duckdb'}")
        client.replace_shaped("raw", "touches", raw)
        lap("write raw to DuckDB")
        client.replace_shaped("staging", "touches", staged.valid)
        lap("write staging to DuckDB")
        client.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
