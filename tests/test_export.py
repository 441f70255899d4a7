"""`attribution export`: a warehouse table to CSV or Parquet and back, unchanged."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from attribution_pipeline.app.cli import main
from attribution_pipeline.sample_data import generate
from pipeline_runs import read, run_in_own_home


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("export")
    generate(folder / "landing", touches=800, seed=5)
    url = f"duckdb:///{folder / 'w.duckdb'}"
    run_in_own_home(folder, folder / "landing", url)
    return url


@pytest.mark.parametrize("table", ["touch_credit", "attribution.campaign_attribution", "quarantine.touches", "staging.opportunities"])
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_export_round_trips(warehouse, tmp_path, table, suffix):
    schema, _, name = table.rpartition(".")
    expected = read(warehouse, schema or "attribution", name)
    out = tmp_path / f"out{suffix}"
    assert main(["export", "--warehouse", warehouse, "--table", table, "--out", str(out)]) == 0
    back = pl.read_parquet(out) if suffix == ".parquet" else pl.read_csv(out, schema=expected.schema)
    assert_frame_equal(back, expected)
    if name == "campaign_attribution":  # money leaves as decimal currency units, never as float or cents
        assert isinstance(back.schema["credited_revenue"], pl.Decimal) and isinstance(back.schema["cost"], pl.Decimal)


@pytest.mark.parametrize(
    ("table", "out", "code", "text"),
    [
        ("touch_credit", "out.xlsx", 2, "must end in .csv or .parquet"),
        ("no_such_table", "out.csv", 1, "attribution.no_such_table does not exist"),
    ],
)
def test_export_errors_are_one_clear_line(warehouse, tmp_path, capsys, table, out, code, text):
    assert main(["export", "--warehouse", warehouse, "--table", table, "--out", str(tmp_path / out)]) == code
    err = capsys.readouterr().err
    assert text in err and "Traceback" not in err


def test_readme_bi_queries_run_against_the_output_tables(warehouse):
    """The README's example SQL for BI is read from the README and run as written."""
    from pathlib import Path

    import sqlalchemy as sa

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    block = readme.split("Example queries for BI", 1)[1].split("```sql", 1)[1].split("```", 1)[0]
    queries = [query.strip() for query in block.split(";") if query.strip()]
    assert len(queries) == 3
    engine = sa.create_engine(warehouse)
    try:
        with engine.connect() as conn:
            for query in queries:
                assert conn.execute(sa.text(query)).all(), query
    finally:
        engine.dispose()
