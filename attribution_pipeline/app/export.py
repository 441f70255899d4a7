"""``attribution export``: one warehouse table to a CSV or Parquet file."""

import argparse
import json
from pathlib import Path

from attribution_pipeline.app.errors import EXIT_OK, EXIT_USAGE, fail, first_line

EXPORT_FORMATS = {".csv": "write_csv", ".parquet": "write_parquet"}


def missing_duckdb_file(url: str) -> str | None:
    """A reader must not create an empty DuckDB file where the user mistyped a path."""
    prefix = "duckdb:///"
    if url.startswith(prefix) and url[len(prefix) :] not in ("", ":memory:") and not Path(url[len(prefix) :]).exists():
        return f"--warehouse {url}: no such DuckDB file"
    return None


def export_table(args: argparse.Namespace) -> int:
    """One table to a file, as the warehouse holds it (money as decimals, times in UTC)."""
    from attribution_pipeline.warehouse.client import WarehouseClient

    if missing := missing_duckdb_file(args.warehouse):
        return fail(missing, EXIT_USAGE)
    writer = EXPORT_FORMATS.get(args.out.suffix.lower())
    if writer is None:
        return fail(f"--out {args.out}: the file name must end in .csv or .parquet", EXIT_USAGE)
    schema, _, name = args.table.rpartition(".")
    schema = schema or "attribution"
    try:
        client = WarehouseClient(args.warehouse)
    except Exception as error:
        return fail(f"--warehouse {args.warehouse}: {first_line(error)}", EXIT_USAGE)
    try:
        if not client.has_table(schema, name):
            return fail(f"table {schema}.{name} does not exist in {args.warehouse} (run `attribution run` first?)")
        frame = client.read(schema, name)
    except Exception as error:
        return fail(f"reading {schema}.{name} from {args.warehouse}: {first_line(error)}")
    finally:
        client.dispose()
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        getattr(frame, writer)(args.out)
    except OSError as error:
        return fail(f"--out {args.out}: {first_line(error)}")
    print(json.dumps({"table": f"{schema}.{name}", "rows": frame.height, "out": str(args.out)}))
    return EXIT_OK
