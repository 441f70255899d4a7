"""The bad-input corpus: every case asserts its exact outcome through `attribution run`.

Where each case runs
--------------------
* ROW-LEVEL cases (``bad_input_cases.py``, one test id per case): all of them are
  rows of ONE landing folder (``touches/`` and ``opportunities/`` hold several CSV
  and Parquet part files: UTF-8 with BOM and CRLF, header variants, quoted fields,
  typed Parquet), run ONCE per warehouse, on DuckDB and on PostgreSQL. Each case
  checks, per row, the exact ``rule``, every rule in ``rules``, the exact
  ``source_file`` and 1-based ``source_row``, the original text in
  ``raw_values``, and for valid rows their normalized values in ``staging``.
  ``test_every_valid_row_arrives_and_rows_are_accounted`` then checks per source
  that exactly the valid rows reach staging, exactly the bad ones quarantine,
  and attribution.run_sources has rows_in = rows_passed + rows_quarantined.
* BLOCKING cases (``BLOCKING`` below): one run each after a successful run of the
  valid base into the same warehouse. Each asserts exit code 1, exactly one
  ``attribution: error:`` line naming the source, the file and the rule, no
  traceback, the previous output tables (and the broken source's staging and
  quarantine tables) unchanged, and a ``failed`` row in attribution.runs saying
  why. Every case runs on DuckDB (copying one base warehouse file); on
  PostgreSQL (cloning one base database with CREATE DATABASE ... TEMPLATE) the
  cases that stop at a different point of the run: an unreadable file
  (empty_file), a missing source, a part file without a column, and a
  quarantine share over the limit (staged, then refused). The others fail while
  reading the file, before the warehouse is touched, exactly as on DuckDB; running
  all twelve on both kept the suite over its 5-minute budget.
* ``test_parquet_nested_extra_column_is_ignored`` and ``test_as_of_with_z_offset_runs``
  (bad input to the CLI itself): DuckDB only, one run each.

Under pytest-xdist (``-n 2`` by default) the corpus run of each warehouse and the
base DuckDB run happen once per session: the first worker runs them, the other
waits on a file lock and loads the cached tables / copies the base file.

Where the SPEC is silent the chosen outcome is stated in the case's description
(``Case.doc`` / ``Blocking.doc``, shown with any failure). A case that fails is a
bug to fix, never an expected failure. Output is captured at the file-descriptor level as well as
sys.stdout/stderr, so a traceback printed by anything would be seen.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import random
import re
import shutil
import sys
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa
from filelock import FileLock
from polars.testing import assert_frame_equal

from attribution_pipeline.app.cli import main
from attribution_pipeline.warehouse.client import WarehouseClient
from bad_input_cases import (
    AS_OF,
    COLUMNS,
    SOURCES,
    SQL_CAMPAIGN_NAME,
    SQL_OPPORTUNITY_ID,
    SQL_TOUCH_ID,
    ByWarehouse,
    Row,
    base_rows,
    build_corpus,
)
from models.registry import MODELS as REGISTRY
from pipeline_runs import TEST_INSTANCE_YAML, fast_directory

MODELS = sorted(REGISTRY)  # the checks sort by model name
OUTPUT_TABLES = ["journeys", "touch_credit", "campaign_attribution", "channel_attribution"]
WAREHOUSES = ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]
CORPUS = build_corpus()


# ---------------------------------------------------------------------------
# Running the CLI in-process with every byte of output captured.


@dataclass
class Outcome:
    code: int
    out: str
    err: str

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.startswith("attribution: error:")]

    def assert_no_traceback(self) -> None:
        assert "Traceback" not in self.out and "Traceback" not in self.err, self.err[-3000:]


def run_attribution(folder: Path, url: str, as_of: str = AS_OF) -> Outcome:
    """``attribution run`` in-process; stdout/stderr captured at the fd level and at sys level."""
    sys.stdout.flush()
    sys.stderr.flush()
    with tempfile.TemporaryFile() as out_fd, tempfile.TemporaryFile() as err_fd:
        saved = os.dup(1), os.dup(2)
        out_text, err_text = io.StringIO(), io.StringIO()
        os.dup2(out_fd.fileno(), 1)
        os.dup2(err_fd.fileno(), 2)
        try:
            with contextlib.redirect_stdout(out_text), contextlib.redirect_stderr(err_text):
                code = main(["run", "--source", str(folder), "--warehouse", url, "--as-of", as_of])
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
        out_fd.seek(0)
        err_fd.seek(0)
        return Outcome(
            code, out_text.getvalue() + out_fd.read().decode(errors="replace"), err_text.getvalue() + err_fd.read().decode(errors="replace")
        )


def read_table(url: str, schema: str, name: str) -> pl.DataFrame | None:
    client = WarehouseClient(url)
    try:
        return client.read(schema, name) if client.has_table(schema, name) else None
    finally:
        client.dispose()


def sorted_frame(frame: pl.DataFrame | None) -> pl.DataFrame | None:
    return None if frame is None else frame.sort(frame.columns, nulls_last=True)


@contextlib.contextmanager
def fresh_postgres(admin_url: str):
    """A PostgreSQL database of its own (like conftest's postgres_database, for a module-scoped run)."""
    name = f"attr_corpus_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _dagster_home(folder: Path) -> Path:
    """On tmpfs when there is one (pipeline_runs.fast_directory)."""
    folder = fast_directory("attr-corpus-home-", folder)
    (folder / "dagster.yaml").write_text(TEST_INSTANCE_YAML)
    return folder


@pytest.fixture(scope="module")
def module_env(tmp_path_factory):
    """The autouse dagster_home pattern of test_pipeline.py, for the module-scoped runs."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DAGSTER_HOME", str(_dagster_home(tmp_path_factory.mktemp("corpus_dagster_home"))))
        patch.setenv("ATTRIBUTION_SOURCE", "unset")
        patch.setenv("ATTRIBUTION_WAREHOUSE_URL", "unset")
        yield


@pytest.fixture(autouse=True)
def dagster_home(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(_dagster_home(tmp_path / "dagster_home")))
    monkeypatch.setenv("ATTRIBUTION_SOURCE", "unset")
    monkeypatch.setenv("ATTRIBUTION_WAREHOUSE_URL", "unset")


# ---------------------------------------------------------------------------
# ROW-LEVEL corpus: one run per warehouse.


@dataclass
class CorpusRun:
    warehouse: str
    url: str
    outcome: Outcome
    tables: dict[tuple[str, str], pl.DataFrame | None] = field(default_factory=dict)

    def table(self, schema: str, name: str) -> pl.DataFrame:
        frame = self.tables[(schema, name)]
        assert frame is not None, f"{schema}.{name} does not exist"
        return frame

    @property
    def run_id(self) -> str:
        return self.table("attribution", "runs").get_column("run_id").item()


@pytest.fixture(scope="module", params=WAREHOUSES)
def corpus_run(request, module_env, tmp_path_factory) -> CorpusRun:
    """The corpus run on one warehouse, its tables read once. Under xdist the first worker runs it and the
    others load the tables it cached, so the pipeline runs once per warehouse per test session."""
    warehouse = request.param
    shared = shared_dir(tmp_path_factory, f"corpus_{warehouse}")
    with FileLock(f"{shared}.lock") if shared else contextlib.nullcontext():
        if shared and (shared / "outcome.json").exists():
            return load_corpus_run(shared)
        folder = CORPUS.write(tmp_path_factory.mktemp("corpus_landing"))
        with contextlib.ExitStack() as stack:
            if warehouse == "duckdb":
                url = f"duckdb:///{tmp_path_factory.mktemp('corpus_duckdb') / 'warehouse.duckdb'}"
            else:
                url = stack.enter_context(fresh_postgres(request.getfixturevalue("postgres_url")))
            outcome = run_attribution(folder, url)
            run = CorpusRun(warehouse, url, outcome, {name: read_table(url, *name) for name in CORPUS_TABLES})
        if shared:
            save_corpus_run(run, shared)
        return run


CORPUS_TABLES = [("staging", s) for s in SOURCES] + [("quarantine", s) for s in SOURCES] + [("raw", "touches")]
CORPUS_TABLES += [("attribution", name) for name in OUTPUT_TABLES + ["runs", "run_sources"]]


def shared_dir(tmp_path_factory, name: str) -> Path | None:
    """A folder every xdist worker of this test session sees (None without xdist)."""
    uid = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    return tmp_path_factory.getbasetemp().parent / f"bad_inputs_{uid}_{name}" if uid else None


def save_corpus_run(run: CorpusRun, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for (schema, name), frame in run.tables.items():
        if frame is not None:
            frame.write_parquet(folder / f"{schema}.{name}.parquet")
    outcome = {"warehouse": run.warehouse, "url": run.url, "code": run.outcome.code, "out": run.outcome.out, "err": run.outcome.err}
    (folder / "outcome.json").write_text(json.dumps(outcome))  # written last: marks the cache complete


def load_corpus_run(folder: Path) -> CorpusRun:
    saved = json.loads((folder / "outcome.json").read_text())
    tables = {}
    for schema, name in CORPUS_TABLES:
        path = folder / f"{schema}.{name}.parquet"
        tables[(schema, name)] = pl.read_parquet(path) if path.exists() else None
    return CorpusRun(saved["warehouse"], saved["url"], Outcome(saved["code"], saved["out"], saved["err"]), tables)


def _located(frame: pl.DataFrame, file_column: str, row_column: str, row: Row) -> pl.DataFrame:
    return frame.filter((pl.col(file_column) == row.file) & (pl.col(row_column) == row.row))


def assert_quarantined(run: CorpusRun, row: Row) -> None:
    where = f"{row.source} {row.file} row {row.row} ({row.values.get('touch_id') or row.values})"[:300]
    found = _located(run.table("quarantine", row.source), "source_file", "source_row", row)
    assert found.height == 1, f"{where}: expected in quarantine with {row.rules}, found {found.height} rows"
    assert _located(run.table("staging", row.source), "_source_file", "_source_row", row).height == 0, f"{where} also staged"
    record = found.row(0, named=True)
    assert (record["rule"], record["rules"]) == (row.rules[0], ",".join(row.rules)), where
    assert record["source"] == row.source and record["run_id"] == run.run_id
    for text in row.message:
        assert text in record["message"], f"{where}: {text!r} not in message {record['message']!r}"
    raw = json.loads(record["raw_values"])
    for column, text in row.raw.items():
        assert raw.get(column) == text, f"{where}: raw_values[{column!r}] = {raw.get(column)!r:.200}, expected {text!r:.200}"


def assert_staged(run: CorpusRun, row: Row) -> None:
    where = f"{row.source} {row.file} row {row.row} ({row.values.get('touch_id') or row.values})"[:300]
    quarantined = _located(run.table("quarantine", row.source), "source_file", "source_row", row)
    assert quarantined.height == 0, f"{where}: valid row quarantined: {quarantined.select('rules', 'message').rows()}"
    found = _located(run.table("staging", row.source), "_source_file", "_source_row", row)
    assert found.height == 1, f"{where}: valid row not in staging"
    record = found.row(0, named=True)
    for column, expected in row.expect.items():
        if isinstance(expected, ByWarehouse):
            expected = expected.on(run.warehouse)
        assert record[column] == expected, f"{where}: staged {column} = {record[column]!r:.200}, expected {expected!r:.200}"


def _journey(run: CorpusRun, opportunity_id: str) -> pl.DataFrame:
    return run.table("attribution", "journeys").filter(pl.col("opportunity_id") == opportunity_id)


def check_sql_touch_is_credited(run: CorpusRun) -> None:
    for schema, name in [("staging", s) for s in SOURCES] + [("attribution", t) for t in OUTPUT_TABLES]:
        assert run.tables[(schema, name)] is not None, f"{schema}.{name} is gone"
    assert SQL_TOUCH_ID in _journey(run, "o_acme_won").get_column("touch_id").to_list()
    linear = run.table("attribution", "touch_credit").filter((pl.col("model") == "linear") & (pl.col("touch_id") == SQL_TOUCH_ID))
    assert linear.get_column("opportunity_id").to_list() == ["o_acme_won"]


def check_sql_opportunity_is_credited(run: CorpusRun) -> None:
    assert _journey(run, SQL_OPPORTUNITY_ID).get_column("touch_id").to_list() == ["t_sql_deal"]
    credit = run.table("attribution", "touch_credit").filter(pl.col("opportunity_id") == SQL_OPPORTUNITY_ID)
    totals = credit.group_by("model").agg((pl.col("credited_amount").cast(pl.Decimal(18, 2)) * 100).cast(pl.Int64).sum()).sort("model")
    assert totals.rows() == [(model, 70000) for model in MODELS]


def check_buecher_journey(run: CorpusRun) -> None:
    journey = _journey(run, "o_buecher_won")
    assert sorted(journey.get_column("touch_id").to_list()) == ["t_buecher_domain", "t_buecher_email"]
    assert set(journey.get_column("account_domain").to_list()) == {"bücher.example"}


def check_two_at_touch_in_acme_journey(run: CorpusRun) -> None:
    journey = _journey(run, "o_acme_won").filter(pl.col("touch_id") == "t_two_at")
    assert journey.get_column("match_type").to_list() == ["domain"]


def check_extra_columns_kept_in_raw(run: CorpusRun) -> None:
    columns = run.table("raw", "touches").columns
    assert "notes" in columns, columns
    # kept under its header text; polars leaves the header's doubled quote ("") as written, hence the loose match
    assert [c for c in columns if c.startswith('x"') and c.endswith("; drop table staging.touches; --")], columns
    assert run.table("staging", "touches").height > 0  # the table the extra column's name "drops" is intact


def check_sql_campaign_name_in_mart(run: CorpusRun) -> None:
    rows = run.table("attribution", "campaign_attribution").filter(pl.col("campaign_id") == "c_sql")
    assert rows.sort("model").select("model", "campaign_name").rows() == [(model, SQL_CAMPAIGN_NAME) for model in MODELS]
    unknown = run.table("attribution", "campaign_attribution").filter(pl.col("campaign_id") == "c_nope")
    assert unknown.height == len(MODELS) and unknown.get_column("campaign_name").is_null().all()


CHECKS: dict[str, Callable[[CorpusRun], None]] = {
    name.removeprefix("check_"): function for name, function in globals().items() if name.startswith("check_")
}


def _row_case_params():
    for name, case in CORPUS.cases.items():
        marks = []
        yield pytest.param(name, id=name, marks=marks)


@pytest.mark.parametrize("case_name", list(_row_case_params()))
def test_row_case(corpus_run: CorpusRun, case_name: str):
    """One corpus case: each of its rows quarantined by exactly its rules, or staged with its normalized values."""
    case = CORPUS.cases[case_name]
    assert case.rows
    try:
        for row in case.rows:
            (assert_staged if row.passes else assert_quarantined)(corpus_run, row)
        if case.check:
            CHECKS[case.check](corpus_run)
    except AssertionError as error:
        raise AssertionError(f"[{corpus_run.warehouse}] {case.name}: {case.doc}\n{error}") from error


@pytest.mark.parametrize("source", SOURCES)
def test_every_valid_row_arrives_and_rows_are_accounted(corpus_run: CorpusRun, source: str):
    """Exactly the valid rows reach staging and exactly the bad ones quarantine;
    run_sources: rows_in = rows_passed + rows_quarantined."""
    rows = CORPUS.rows(source)
    staged = set(corpus_run.table("staging", source).select("_source_file", "_source_row").iter_rows())
    quarantined = set(corpus_run.table("quarantine", source).select("source_file", "source_row").iter_rows())
    good = {(r.file, r.row) for r in rows if r.passes}
    bad = {(r.file, r.row) for r in rows if not r.passes}
    assert staged == good
    assert quarantined == bad
    assert corpus_run.table("staging", source).height == len(staged) and corpus_run.table("quarantine", source).height == len(quarantined)
    accounting = corpus_run.table("attribution", "run_sources").filter(source=source)
    assert accounting.select("run_id", "rows_in", "rows_passed", "rows_quarantined").rows() == [
        (corpus_run.run_id, len(rows), len(staged), len(quarantined))
    ]
    assert len(staged) + len(quarantined) == len(rows)


def test_corpus_run_succeeds_without_traceback(corpus_run: CorpusRun):
    outcome = corpus_run.outcome
    assert outcome.code == 0, outcome.err[-3000:]
    outcome.assert_no_traceback()
    assert outcome.error_lines == []
    assert "DOES NOT RECONCILE" not in outcome.out and "reconciles" in outcome.out
    runs = corpus_run.table("attribution", "runs")
    assert runs.select("status").rows() == [("success",)]


def test_corpus_won_revenue_is_credited_exactly(corpus_run: CorpusRun):
    """Every valid won deal and nothing else is credited, per model, to the cent. By hand (USD cents):
    acme 1,200,000 + umbrella 2,000,000 + hooli 333.33 EUR at 1.085 = 36,166 + same_day 10,000 + 12.340 -> 1,234
    + ' 99.5 ' -> 9,950 + .75 -> 75 + o_bool_y 1,000 + o_dup_same (first copy) 1,000 + SQL deal 70,000
    + bücher 300,000 + Parquet 1500.5 -> 150,050 = 3,779,475."""
    credit = corpus_run.table("attribution", "touch_credit")
    totals = credit.group_by("model").agg((pl.col("credited_amount").cast(pl.Decimal(18, 2)) * 100).cast(pl.Int64).sum()).sort("model")
    assert totals.rows() == [(model, 3_779_475) for model in MODELS]
    won = credit.get_column("opportunity_id").unique().sort().to_list()
    assert won == sorted(
        [
            "o_acme_won",
            "o_umbrella_won",
            "o_hooli_eur_won",
            "o_same_day",
            "o_trailing_zero",
            "o_padded_amount",
            "o_point_amount",
            "o_bool_y",
            "o_dup_same",
            SQL_OPPORTUNITY_ID,
            "o_buecher_won",
            "9001",
        ]
    )


# ---------------------------------------------------------------------------
# BLOCKING cases: one run each, after a good run of the valid base.


def write_csv(path: Path, columns: list[str], rows: list[dict], delimiter: str = ",", encoding: str = "utf-8") -> None:
    with open(path, "w", newline="", encoding=encoding) as handle:
        writer = csv.writer(handle, delimiter=delimiter, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([row.get(column, "") for column in columns])


def _empty_file(folder: Path) -> None:
    (folder / "touches.csv").write_bytes(b"")


def _header_only(folder: Path) -> None:
    write_csv(folder / "touches.csv", COLUMNS["touches"], [])


def _semicolon(folder: Path) -> None:
    write_csv(folder / "touches.csv", COLUMNS["touches"], base_rows("touches"), delimiter=";")


def _latin1(folder: Path) -> None:
    rows = base_rows("touches")
    rows[3] = rows[3] | {"utm_campaign": "Café Crème"}
    write_csv(folder / "touches.csv", COLUMNS["touches"], rows, encoding="latin-1")


def _binary_garbage(folder: Path) -> None:
    (folder / "opportunities.csv").write_bytes(random.Random(7).randbytes(4096))


def _truncated_parquet(folder: Path) -> None:
    (folder / "opportunities.csv").unlink()
    target = folder / "opportunities.parquet"
    pl.DataFrame(base_rows("opportunities"), schema={c: pl.String for c in COLUMNS["opportunities"]}).write_parquet(target)
    target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])


def _missing_amount(folder: Path) -> None:
    write_csv(folder / "opportunities.csv", [c for c in COLUMNS["opportunities"] if c != "amount"], base_rows("opportunities"))


def _mostly_bad(folder: Path) -> None:
    rows = base_rows("touches")  # 35 rows: 18 invalid dates are 51%, just above the default 50%
    rows = [row | {"occurred_at": "2024-02-30"} if i < 18 else row for i, row in enumerate(rows)]
    write_csv(folder / "touches.csv", COLUMNS["touches"], rows)


def _part_file_missing_column(folder: Path) -> None:
    (folder / "touches").mkdir()
    shutil.move(folder / "touches.csv", folder / "touches" / "part-1.csv")
    write_csv(
        folder / "touches" / "part-2.csv",
        ["touch_id", "email"],
        [{"touch_id": "t_late_1", "email": "a@acme.com"}, {"touch_id": "t_late_2", "email": "b@acme.com"}],
    )


def _duplicated_header(folder: Path) -> None:
    columns = COLUMNS["campaigns"] + ["campaign_id"]
    write_csv(folder / "campaigns.csv", columns, base_rows("campaigns"))


def _ragged_row(folder: Path) -> None:
    write_csv(folder / "touches.csv", COLUMNS["touches"], base_rows("touches"))
    with open(folder / "touches.csv", "a", encoding="utf-8") as handle:
        handle.write("t_ragged,2024-03-01T10:00:00Z,,,,,,,,,,,one-too-many\n")


def _missing_source(folder: Path) -> None:
    (folder / "opportunities.csv").unlink()


@dataclass(frozen=True)
class Blocking:
    name: str
    doc: str
    source: str
    file: str  # the file (or location) the message must name
    mutate: Callable[[Path], None]
    rule: str  # the rule id the message names
    advice: str  # what the message tells the user to change (advice that fixes this case)
    texts: tuple[str, ...] = ()  # further substrings of the message


BLOCKING = [
    Blocking(
        "empty_file",
        "A 0-byte touches.csv (no header, zero rows) is a whole-source problem.",
        "touches",
        "touches.csv",
        _empty_file,
        "source.unreadable",
        "write it again as UTF-8 CSV",
    ),
    Blocking(
        "header_only",
        "A touches.csv with a header and no data row: source.no_rows.",
        "touches",
        "touches.csv",
        _header_only,
        "source.no_rows",
        "export the source with its rows",
    ),
    Blocking(
        "semicolon_delimiter",
        """A ;-delimited touches.csv reads as one column: source.missing_column, with a hint
             about the delimiter.""",
        "touches",
        "touches.csv",
        _semicolon,
        "source.missing_column",
        "write it with commas",
        ("occurred_at", "not comma-delimited"),
    ),
    Blocking(
        "latin1_text",
        """A Latin-1 touches.csv ('Café Crème') is undecodable text, a whole-source problem (choice:
             SPEC silent on encodings; UTF-8, with or without BOM, is the only encoding read).""",
        "touches",
        "touches.csv",
        _latin1,
        "source.unreadable",
        "write it again as UTF-8 CSV",
        ("utf-8",),
    ),
    Blocking(
        "binary_garbage",
        "4 KiB of random bytes as opportunities.csv: unreadable file.",
        "opportunities",
        "opportunities.csv",
        _binary_garbage,
        "source.unreadable",
        "write it again as UTF-8 CSV",
    ),
    Blocking(
        "truncated_parquet",
        "An opportunities.parquet cut in half: unreadable file.",
        "opportunities",
        "opportunities.parquet",
        _truncated_parquet,
        "source.unreadable",
        "or as Parquet",
    ),
    Blocking(
        "missing_required_column",
        "opportunities.csv without its amount column: source.missing_column naming amount.",
        "opportunities",
        "opportunities.csv",
        _missing_amount,
        "source.missing_column",
        "add them",
        ("amount",),
    ),
    Blocking(
        "quarantine_share",
        """18 of 35 touches (51%) with invalid dates: above the default max_quarantine_share 0.5,
             source.quarantine_share naming the most common rule.""",
        "touches",
        "touches.csv",
        _mostly_bad,
        "source.quarantine_share",
        "raise --max-quarantine-share",
        ("18 of 35", "occurred_at.invalid_timestamp", "see quarantine.touches"),
    ),
    Blocking(
        "part_file_missing_column",
        """touches/ holds part-1.csv (valid) and part-2.csv without occurred_at: a file
             missing a required column is a whole-source problem naming that file (SPEC 2).""",
        "touches",
        "touches/part-2.csv",
        _part_file_missing_column,
        "source.missing_column",
        "add them to that file",
        ("occurred_at",),
    ),
    Blocking(
        "duplicated_header",
        "campaigns.csv naming campaign_id twice in its header: the file is ambiguous.",
        "campaigns",
        "campaigns.csv",
        _duplicated_header,
        "source.duplicate_column",
        "rename or remove one of them",
        ("campaign_id",),
    ),
    Blocking(
        "ragged_row",
        """A touches.csv row with more fields than the header makes the CSV malformed (choice: SPEC
             silent; a malformed CSV file is an unreadable file, not a row problem).""",
        "touches",
        "touches.csv",
        _ragged_row,
        "source.unreadable",
        "as many fields per row as the header",
    ),
    Blocking(
        "missing_source",
        "No opportunities file at all: a required source is missing.",
        "opportunities",
        "landing",
        _missing_source,
        "source.missing",
        "add one",
        ("opportunities.csv",),
    ),
]


def base_landing(folder: Path) -> Path:
    return build_corpus(base_only=True).write(folder)


def snapshot(url: str, source: str) -> dict[str, pl.DataFrame | None]:
    names = [("attribution", name) for name in OUTPUT_TABLES] + [("staging", source), ("quarantine", source)]
    return {f"{schema}.{name}": sorted_frame(read_table(url, schema, name)) for schema, name in names}


def assert_base_run_ok(outcome: Outcome, url: str) -> None:
    assert outcome.code == 0, outcome.err[-3000:]
    outcome.assert_no_traceback()
    accounting = read_table(url, "attribution", "run_sources")
    for source in SOURCES:
        expected = len(base_rows(source))
        assert accounting.filter(source=source).select("rows_in", "rows_passed", "rows_quarantined").rows() == [(expected, expected, 0)]


@pytest.fixture(scope="module")
def base_duckdb(module_env, tmp_path_factory) -> Path:
    """One good run of the valid base into a DuckDB file that each blocking case copies (once per session,
    shared by the xdist workers)."""
    shared = shared_dir(tmp_path_factory, "base_duckdb")
    folder = shared or tmp_path_factory.mktemp("base_duckdb")
    path = folder / "warehouse.duckdb"
    with FileLock(f"{shared}.lock") if shared else contextlib.nullcontext():
        if not (folder / "done").exists():
            folder.mkdir(parents=True, exist_ok=True)
            url = f"duckdb:///{path}"
            assert_base_run_ok(run_attribution(base_landing(folder / "landing"), url), url)
            (folder / "done").touch()
    return path


def assert_blocked(case: Blocking, url: str, folder: Path) -> None:
    before = snapshot(url, case.source)
    assert all(before[f"attribution.{name}"] is not None for name in OUTPUT_TABLES)
    case.mutate(folder)
    outcome = run_attribution(folder, url)
    print(f"{case.name}: {' '.join(case.doc.split())}")  # shown with a failure
    # The run stops: exit 1, no traceback, exactly one error line, nothing replaced, the failure on record.
    outcome.assert_no_traceback()
    assert outcome.code == 1, f"exit {outcome.code}: {outcome.err[-3000:]}"
    assert len(outcome.error_lines) == 1, outcome.err[-3000:]
    line = outcome.error_lines[0]
    after = snapshot(url, case.source)
    for name in before:
        if before[name] is None:
            assert after[name] is None, name
        else:
            assert_frame_equal(before[name], after[name], check_exact=True)
    runs = read_table(url, "attribution", "runs").sort("finished_at")
    assert runs.get_column("status").to_list() == ["success", "failed"]
    failed = runs.row(1, named=True)
    assert failed["run_id"] in line
    # The message says why (SPEC 2, 6): the source, the file and the rule, on stderr and in attribution.runs.
    for where, text in (("stderr", line), ("attribution.runs.message", failed["message"])):
        assert f"source {case.source}:" in text, f"{where} does not name source {case.source}: {text}"
        assert case.file in text, f"{where} does not name the file {case.file}: {text}"
        for expected in case.texts:
            assert expected in text, f"{where} does not say {expected!r}: {text}"
        assert case.advice in text, f"{where} does not say what to change ({case.advice!r}): {text}"
        assert re.search(r"rule source\.[a-z_]+", text) is not None, f"{where} names no rule: {text}"
        if case.rule:
            assert f"rule {case.rule}" in text, f"{where} does not name rule {case.rule}: {text}"


def _blocking_params():
    for case in BLOCKING:
        yield pytest.param(case, id=case.name)


@pytest.mark.parametrize("case", list(_blocking_params()))
def test_blocking_case_on_duckdb(case: Blocking, base_duckdb: Path, tmp_path: Path):
    target = tmp_path / "warehouse.duckdb"
    shutil.copyfile(base_duckdb, target)
    for suffix in (".wal",):
        if base_duckdb.with_name(base_duckdb.name + suffix).exists():
            shutil.copyfile(base_duckdb.with_name(base_duckdb.name + suffix), target.with_name(target.name + suffix))
    folder = base_landing(tmp_path / "landing")
    if case.file == "landing":
        case = Blocking(**{**case.__dict__, "file": str(folder)})
    assert_blocked(case, f"duckdb:///{target}", folder)


@pytest.fixture(scope="module")
def base_postgres(module_env, postgres_url, tmp_path_factory):
    """One good run of the valid base into a PostgreSQL database that each blocking case
    clones with CREATE DATABASE ... TEMPLATE (a file copy on the server, no second run)."""
    name = f"attr_corpus_base_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    assert_base_run_ok(run_attribution(base_landing(tmp_path_factory.mktemp("base_pg") / "landing"), url), url)
    yield name
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


POSTGRES_BLOCKING = {"empty_file", "missing_source", "part_file_missing_column", "quarantine_share"}


@pytest.mark.postgres
@pytest.mark.parametrize("case", [p for p in _blocking_params() if p.id in POSTGRES_BLOCKING])
def test_blocking_case_on_postgres(case: Blocking, base_postgres: str, postgres_url: str, tmp_path: Path):
    name = f"attr_corpus_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{base_postgres}"'))
    url = sa.engine.make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    try:
        folder = base_landing(tmp_path / "landing")
        if case.file == "landing":
            case = Blocking(**{**case.__dict__, "file": str(folder)})
        assert_blocked(case, url, folder)
    finally:
        sa.create_engine(url).dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_parquet_nested_extra_column_is_ignored(tmp_path: Path, duckdb_url: str):
    """touches.parquet with the valid base rows plus an extra List[String] column `tags`: an unknown extra column,
    so the run succeeds and every touch is staged (choice: how raw keeps a nested value is the code's business)."""
    folder = base_landing(tmp_path / "landing")
    rows = base_rows("touches")
    (folder / "touches.csv").unlink()
    frame = pl.DataFrame(rows, schema={c: pl.String for c in COLUMNS["touches"]})
    frame.with_columns(tags=pl.lit(["a", "b"], dtype=pl.List(pl.String))).write_parquet(folder / "touches.parquet")
    outcome = run_attribution(folder, duckdb_url)
    outcome.assert_no_traceback()
    assert outcome.code == 0, outcome.error_lines
    assert read_table(duckdb_url, "staging", "touches").height == len(rows)


def test_as_of_with_z_offset_runs(tmp_path: Path, duckdb_url: str):
    """--as-of is input too: its Z offset is ISO-8601, so the run goes through without a traceback."""
    folder = base_landing(tmp_path / "landing")
    outcome = run_attribution(folder, duckdb_url, as_of="2024-06-30T00:00:00Z")
    outcome.assert_no_traceback()
    assert outcome.code == 0, outcome.error_lines
