"""SPEC 3's journeys on a filled DuckDB warehouse, by each polars engine: wall seconds
and peak RSS of ``build_journeys`` over every deal (each engine in its own process).

    uv run --frozen python benchmarks/journeys_engine.py PATH/warehouse.duckdb

The warehouse must hold the staging tables of a run (``attribution run``); the touches
are scanned from a Parquet copy, as the journeys asset scans its workspace file.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TABLES = ("touches", "opportunities", "opportunity_contacts")


def one(folder: Path, engine: str) -> None:
    import polars as pl

    from models.journeys import build_journeys, resolve_as_of
    from models.params import AttributionParams

    utc = lambda frame, columns: frame.with_columns(pl.col(c).dt.convert_time_zone("UTC") for c in columns)  # noqa: E731
    touches = utc(pl.scan_parquet(folder / "touches.parquet"), ["occurred_at"])
    deals = utc(pl.read_parquet(folder / "opportunities.parquet"), ["created_at", "closed_at"])
    contacts = pl.read_parquet(folder / "opportunity_contacts.parquet")
    params = AttributionParams()
    as_of = resolve_as_of(touches, deals.lazy(), None)
    start = time.perf_counter()
    rows = build_journeys(touches, deals.lazy(), contacts.lazy(), params, as_of).collect(engine=engine).height
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"| {engine} | {rows:,} | {time.perf_counter() - start:.1f} | {peak:.2f} |")


def main() -> int:
    if len(sys.argv) == 3:
        one(Path(sys.argv[1]), sys.argv[2])
        return 0
    import duckdb

    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        with duckdb.connect(sys.argv[1], read_only=True) as connection:
            for table in TABLES:
                connection.execute(f"COPY staging.{table} TO '{folder / table}.parquet' (FORMAT parquet)")
        print("| engine | journey rows | wall s | peak RSS GB |\n|---|---|---|---|")
        for engine in ("in-memory", "streaming"):
            subprocess.run([sys.executable, __file__, str(folder), engine], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
