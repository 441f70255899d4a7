"""The great-expectations key-uniqueness suite (``validation.check_keys``) on N touch
ids with four repeated or null keys: wall seconds and peak RSS of the process, which
is what the validator process pays for a source of N rows.

    uv run --frozen python benchmarks/gx_keys.py 10000000
"""

from __future__ import annotations

import resource
import sys
import time


def main() -> int:
    import great_expectations  # noqa: F401 (imported before the clock starts, as the validator does)
    import polars as pl

    from attribution_pipeline.contract.rules import CONTRACTS
    from attribution_pipeline.contract.validation import check_keys
    from models.params import AttributionParams

    rows = int(sys.argv[1])
    keys = pl.select(touch_id=pl.format("t{}", pl.int_range(rows).cast(pl.String).str.zfill(9)))
    keys = keys.with_columns(
        pl.when(pl.int_range(rows) == 5)
        .then(pl.lit("t000000007"))
        .when(pl.int_range(rows).is_in([9, 11]))
        .then(None)
        .otherwise(pl.col("touch_id"))
        .alias("touch_id"),
        _source_row=pl.int_range(1, rows + 1),
    )
    start = time.perf_counter()
    outcome = check_keys(CONTRACTS["touches"], keys, AttributionParams())[0]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"| {rows:,} | {time.perf_counter() - start:.1f} | {peak:.2f} | {outcome.unexpected_count} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
