"""attribution.runs and attribution.run_sources: one row per run, and its row accounting.

Written by the last asset of a successful run, and by the CLI for a run that
failed, so a failed run is on record with the reason.
"""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import sqlalchemy as sa

from attribution_pipeline.warehouse.client import WarehouseClient
from attribution_pipeline.warehouse.tables import RUN_SOURCES, RUNS, STITCH_COUNTS


def record_run(
    client: WarehouseClient,
    run_id: str,
    status: str,
    started_at: dt.datetime | None,
    message: str,
    parameters: dict,
    source_rows: dict[str, dict],
    warnings: dict[str, int] | None = None,
    excluded_touches: int | None = None,
    stitch_counts: dict[str, int] | None = None,
    connection: sa.Connection | None = None,
) -> None:
    """Appends the run's rows; inside ``connection``'s transaction when given (the
    publishing step records the run in the transaction that publishes its tables)."""
    finished_at = dt.datetime.now(dt.timezone.utc)
    run = pl.DataFrame(
        {
            "run_id": [run_id],
            "started_at": [started_at],
            "finished_at": [finished_at],
            "status": [status],
            "message": [message],
            "parameters": [json.dumps(parameters, sort_keys=True, default=str)],
            "source_rows": [json.dumps(source_rows, sort_keys=True)],
            "warnings": [json.dumps(warnings or {}, sort_keys=True)],
            "excluded_touches": [excluded_touches],
            **{name: [(stitch_counts or {}).get(name)] for name in STITCH_COUNTS},
        },
        schema={
            "run_id": pl.String,
            "started_at": pl.Datetime("us", "UTC"),
            "finished_at": pl.Datetime("us", "UTC"),
            "status": pl.String,
            "message": pl.String,
            "parameters": pl.String,
            "source_rows": pl.String,
            "warnings": pl.String,
            "excluded_touches": pl.Int64,
            **dict.fromkeys(STITCH_COUNTS, pl.Int64),
        },
    )
    sources = pl.DataFrame(
        [
            {
                "run_id": run_id,
                "source": source,
                "files": ", ".join(counts.get("files", [])),
                "rows_in": counts["rows_in"],
                "rows_passed": counts["rows_passed"],
                "rows_quarantined": counts["rows_quarantined"],
            }
            for source, counts in source_rows.items()
        ],
        schema={
            "run_id": pl.String,
            "source": pl.String,
            "files": pl.String,
            "rows_in": pl.Int64,
            "rows_passed": pl.Int64,
            "rows_quarantined": pl.Int64,
        },
    )
    if connection is None:
        with client.transaction() as conn:
            _append(client, conn, run_id, run, sources)
    else:
        _append(client, connection, run_id, run, sources)


def _append(client: WarehouseClient, conn: sa.Connection, run_id: str, run: pl.DataFrame, sources: pl.DataFrame) -> None:
    for table in (RUNS, RUN_SOURCES):
        client.ensure_table(table, conn)
        conn.execute(sa.delete(table).where(table.c.run_id == run_id))
    client.append(RUNS, run, conn)
    client.append(RUN_SOURCES, sources, conn)
