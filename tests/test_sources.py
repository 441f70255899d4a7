"""SPEC 1 "Inputs" and SPEC 2 whole-source problems (attribution_pipeline.sources.readers).

Landing folders are built in ``tmp_path``: ``DIR/<source>.csv|.parquet`` or
any number of part files under ``DIR/<source>/``; a SQL source is a small
DuckDB file read through SQLAlchemy. Every value must come back as text,
exactly as written, with headers trimmed and lower-cased, extra columns kept,
and each row's file and 1-based data row number; typed Parquet/SQL columns
must come back as text that staging parses to the same value.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest

from attribution_pipeline.contract.rules import CONTRACTS, stage
from attribution_pipeline.sources.readers import SourceError, landing_files, read_database, read_file, read_landing
from models.params import AttributionParams

UTC = dt.UTC

pytestmark = pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result:UserWarning")


def utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def assert_all_text(frame: pl.DataFrame) -> None:
    for name, dtype in frame.schema.items():
        if name == "_source_row":
            assert dtype == pl.Int64
        else:
            assert dtype == pl.String, (name, dtype)


# --------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------
def test_single_csv_values_exactly_as_written(tmp_path):
    write(
        tmp_path / "touches.csv",
        'touch_id,occurred_at,email,amount_like\n007,2024-03-01T10:00:00Z,  Jane@Acme.COM ,12.340\n"t,2","2024-03-01","multi\nline",\n',
    )
    frame, names = read_landing(tmp_path, "touches")
    assert names == ["touches.csv"]
    assert_all_text(frame)
    assert frame.columns == ["touch_id", "occurred_at", "email", "amount_like", "_source_file", "_source_row"]
    assert frame["touch_id"].to_list() == ["007", "t,2"]  # never inferred as numbers
    assert frame["email"].to_list() == ["  Jane@Acme.COM ", "multi\nline"]  # untrimmed, as written
    assert frame["amount_like"][0] == "12.340"
    assert frame["_source_file"].to_list() == ["touches.csv", "touches.csv"]
    assert frame["_source_row"].to_list() == [1, 2]  # 1-based data rows


def test_csv_quarantine_shows_original_text(tmp_path):
    write(tmp_path / "touches.csv", "touch_id,occurred_at\nt1,2024-03-01\n  t2 , 2024-02-30 \n")
    frame, _ = read_landing(tmp_path, "touches")
    staged = stage(CONTRACTS["touches"], frame, AttributionParams())
    assert staged.valid["touch_id"].to_list() == ["t1"]
    q = staged.quarantine.row(0, named=True)
    assert (q["rule"], q["source_file"], q["source_row"]) == ("occurred_at.invalid_timestamp", "touches.csv", 2)
    assert json.loads(q["raw_values"]) == {"touch_id": "  t2 ", "occurred_at": " 2024-02-30 "}


def test_csv_header_case_and_spaces_are_normalized_and_extras_kept(tmp_path):
    write(tmp_path / "touches.csv", " Touch_ID ,OCCURRED_AT,\tEmail , Landing Page \nt1,2024-03-01,a@acme.com,/pricing\n")
    frame, _ = read_landing(tmp_path, "touches")
    assert frame.columns[:4] == ["touch_id", "occurred_at", "email", "landing page"]
    assert frame["landing page"].to_list() == ["/pricing"]  # unknown extra column kept
    staged = stage(CONTRACTS["touches"], frame, AttributionParams())
    assert staged.valid.select("touch_id", "email", "account_domain").rows() == [("t1", "a@acme.com", "acme.com")]
    assert "landing page" not in staged.valid.columns


def test_csv_with_utf8_bom_header(tmp_path):
    (tmp_path / "touches.csv").write_bytes(b"\xef\xbb\xbftouch_id,occurred_at\nt1,2024-03-01\n")
    frame, _ = read_landing(tmp_path, "touches")
    assert frame.columns[:2] == ["touch_id", "occurred_at"]


@pytest.mark.parametrize(
    "header",
    [
        "Email, email ",  # same once lower-cased and trimmed
        "EMAIL,email",
        "touch_id, Touch_Id",
    ],
)
def test_colliding_headers_are_a_source_error_naming_the_file(tmp_path, header):
    write(tmp_path / "touches.csv", f"{header}\na,b\n")
    with pytest.raises(SourceError) as error:
        read_landing(tmp_path, "touches")
    assert "touches.csv" in str(error.value)
    assert "touches" in error.value.source


def test_identical_headers_are_a_source_error(tmp_path):
    write(tmp_path / "touches.csv", "touch_id,email,email\nt1,a@acme.com,b@other.com\n")
    with pytest.raises(SourceError, match="touches.csv"):
        read_landing(tmp_path, "touches")


def test_colliding_headers_in_a_part_file_name_that_part(tmp_path):
    write(tmp_path / "touches" / "part-1.csv", "touch_id,occurred_at\nt1,2024-03-01\n")
    write(tmp_path / "touches" / "part-2.csv", "Touch_ID,touch_id \nt2,t3\n")
    with pytest.raises(SourceError, match="part-2.csv"):
        read_landing(tmp_path, "touches")


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("touches.parquet", b"PAR1 this is not parquet \x00\x01\x02\xff\xfe garbage"),
        ("touches.parquet", b"\x00" * 64),
        ("touches.csv", b""),  # empty file: no header at all
    ],
)
def test_unreadable_file_is_a_source_error_naming_the_file(tmp_path, name, content):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(SourceError) as error:
        read_landing(tmp_path, "touches")
    assert name in str(error.value)
    assert error.value.location == name


def test_unreadable_part_file_names_the_part(tmp_path):
    write(tmp_path / "touches" / "a.csv", "touch_id,occurred_at\nt1,2024-03-01\n")
    (tmp_path / "touches" / "b.parquet").write_bytes(b"\x89garbage\x00\xff")
    with pytest.raises(SourceError) as error:
        read_landing(tmp_path, "touches")
    assert "b.parquet" in str(error.value)


def test_absent_source_has_no_frame(tmp_path):
    write(tmp_path / "campaigns.csv", "campaign_id\nc1\n")
    assert read_landing(tmp_path, "touches") == (None, [])
    assert landing_files(tmp_path, "touches") == []


# --------------------------------------------------------------------------
# Parquet and folders of part files
# --------------------------------------------------------------------------
def test_single_parquet_string_file(tmp_path):
    pl.DataFrame({"Touch_ID ": [" t1 ", "t2"], "occurred_at": ["2024-03-01T10:00:00+02:00", None]}).write_parquet(
        tmp_path / "touches.parquet"
    )
    frame, names = read_landing(tmp_path, "touches")
    assert names == ["touches.parquet"]
    assert_all_text(frame)
    assert frame.select("touch_id", "occurred_at", "_source_file", "_source_row").rows() == [
        (" t1 ", "2024-03-01T10:00:00+02:00", "touches.parquet", 1),
        ("t2", None, "touches.parquet", 2),
    ]


def test_folder_of_mixed_csv_and_parquet_parts(tmp_path):
    folder = tmp_path / "touches"
    write(folder / "part-0001.csv", "Touch_ID,Occurred_At,Email\nt1,2024-03-01T10:00:00Z,a@acme.com\nt2,2024-03-01,b@gmail.com\n")
    pl.DataFrame({"touch_id": ["t3"], "OCCURRED_AT": ["2024-03-02T00:00:00-05:00"], "utm_medium": ["cpc"]}).write_parquet(
        folder / "part-0002.parquet"
    )
    write(folder / "nested" / "part-0003.csv", "touch_id,occurred_at\nt4,2024-03-03\n")
    write(folder / "_SUCCESS", "")
    write(folder / "README.txt", "not data")
    write(tmp_path / "campaigns.csv", "campaign_id\nc1\n")  # another source: not picked up

    frame, names = read_landing(tmp_path, "touches")
    assert sorted(names) == ["touches/nested/part-0003.csv", "touches/part-0001.csv", "touches/part-0002.parquet"]
    assert_all_text(frame)
    assert frame.height == 4
    by_id = {row["touch_id"]: row for row in frame.iter_rows(named=True)}
    assert (by_id["t1"]["_source_file"], by_id["t1"]["_source_row"]) == ("touches/part-0001.csv", 1)
    assert (by_id["t2"]["_source_file"], by_id["t2"]["_source_row"]) == ("touches/part-0001.csv", 2)
    assert (by_id["t3"]["_source_file"], by_id["t3"]["_source_row"]) == ("touches/part-0002.parquet", 1)
    assert (by_id["t4"]["_source_file"], by_id["t4"]["_source_row"]) == ("touches/nested/part-0003.csv", 1)
    # columns missing from a part are null there
    assert by_id["t1"]["utm_medium"] is None and by_id["t3"]["email"] is None

    staged = stage(CONTRACTS["touches"], frame, AttributionParams())
    assert staged.quarantine.height == 0
    got = {r["touch_id"]: (r["occurred_at"], r["account_domain"], r["channel"]) for r in staged.valid.iter_rows(named=True)}
    assert got == {
        "t1": (utc(2024, 3, 1, 10), "acme.com", "direct"),
        "t2": (utc(2024, 3, 1), None, "direct"),  # free-mail: no account
        "t3": (utc(2024, 3, 2, 5), None, "paid_search"),
        "t4": (utc(2024, 3, 3), None, "direct"),
    }


def test_parquet_typed_columns_are_read_as_parseable_text(tmp_path):
    berlin = dt.datetime(2024, 3, 10, 12, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    typed = pl.DataFrame(
        {
            "opportunity_id": pl.Series([42], dtype=pl.Int64),
            "account_domain": ["acme.com"],
            "created_at": pl.Series([dt.datetime(2024, 3, 1, 9, 15, 30, 123456)], dtype=pl.Datetime("us")),
            "closed_at": pl.Series([berlin], dtype=pl.Datetime("us", "UTC")).dt.convert_time_zone("Europe/Berlin"),
            "stage": ["Closed Won"],
            "is_closed": [True],
            "is_won": [True],
            "amount": pl.Series([Decimal("1234.50")], dtype=pl.Decimal(12, 2)),
            "currency": ["USD"],
            "probability": [0.75],
        }
    )
    typed.write_parquet(tmp_path / "opportunities.parquet")
    frame, _ = read_landing(tmp_path, "opportunities")
    assert_all_text(frame)
    staged = stage(CONTRACTS["opportunities"], frame, AttributionParams())
    assert staged.quarantine.height == 0, staged.quarantine.to_dicts()
    row = staged.valid.row(0, named=True)
    assert row["opportunity_id"] == "42"
    assert row["created_at"] == utc(2024, 3, 1, 9, 15, 30, 123456)  # naive = UTC
    assert row["closed_at"] == utc(2024, 3, 10, 11, 30)  # 12:30 +01:00
    assert (row["is_closed"], row["is_won"]) == (True, True)
    assert row["amount_cents"] == 123_450
    assert frame["probability"].to_list() == ["0.75"]  # extra typed column kept as text


@pytest.mark.parametrize(
    ("dtype", "value", "expected"),
    [
        (pl.Datetime("ns"), dt.datetime(2024, 3, 1, 10, 0, 0, 5), utc(2024, 3, 1, 10, 0, 0, 5)),
        (pl.Datetime("ms", "UTC"), utc(2024, 3, 1, 10, 0, 0, 250_000), utc(2024, 3, 1, 10, 0, 0, 250_000)),
        (pl.Datetime("us", "America/New_York"), utc(2024, 7, 1, 16), utc(2024, 7, 1, 16)),  # 12:00 -04:00
        (pl.Date, dt.date(2024, 2, 29), utc(2024, 2, 29)),
    ],
)
def test_parquet_timestamp_types(tmp_path, dtype, value, expected):
    pl.DataFrame({"touch_id": ["t1"], "occurred_at": pl.Series([value], dtype=dtype)}).write_parquet(tmp_path / "touches.parquet")
    frame, _ = read_landing(tmp_path, "touches")
    assert_all_text(frame)
    staged = stage(CONTRACTS["touches"], frame, AttributionParams())
    assert staged.valid["occurred_at"].to_list() == [expected]


def test_parquet_campaign_types(tmp_path):
    pl.DataFrame(
        {
            "campaign_id": pl.Series([1, 2, 3], dtype=pl.Int32),
            "campaign_name": ["a", "b", "c"],
            "channel": ["Email", "email", "EMAIL"],
            "start_date": pl.Series([dt.date(2024, 3, 1)] * 3, dtype=pl.Date),
            "end_date": pl.Series([dt.date(2024, 3, 31), None, dt.date(2024, 2, 1)], dtype=pl.Date),
            "cost": pl.Series([99.5, None, 12.0], dtype=pl.Float64),
        }
    ).write_parquet(tmp_path / "campaigns.parquet")
    frame, _ = read_landing(tmp_path, "campaigns")
    assert_all_text(frame)
    staged = stage(CONTRACTS["campaigns"], frame, AttributionParams())
    assert staged.valid.select("campaign_id", "channel", "start_date", "end_date", "cost_cents").rows() == [
        ("1", "email", dt.date(2024, 3, 1), dt.date(2024, 3, 31), 9950),
        ("2", "email", dt.date(2024, 3, 1), None, None),  # unknown cost stays null
    ]
    assert staged.quarantine.select("rule", "source_row").rows() == [("end_date.before_start", 3)]


def test_parquet_booleans_read_as_text_staging_parses(tmp_path):
    pl.DataFrame(
        {
            "opportunity_id": ["o1", "o2"],
            "account_domain": ["acme.com", "beta.io"],
            "created_at": ["2024-03-01", "2024-03-01"],
            "closed_at": [None, "2024-03-05"],
            "stage": ["Open", "Lost"],
            "is_closed": [False, True],
            "is_won": [False, False],
            "amount": pl.Series([10, 0], dtype=pl.Int64),
        }
    ).write_parquet(tmp_path / "opportunities.parquet")
    frame, _ = read_landing(tmp_path, "opportunities")
    staged = stage(CONTRACTS["opportunities"], frame, AttributionParams())
    assert staged.valid.select("opportunity_id", "is_closed", "is_won", "amount_cents").rows() == [
        ("o1", False, False, 1000),
        ("o2", True, False, 0),
    ]


# --------------------------------------------------------------------------
# SQL sources (SQLAlchemy; DuckDB file)
# --------------------------------------------------------------------------
@pytest.fixture
def sql_source(tmp_path) -> str:
    path = tmp_path / "source_db.duckdb"
    con = duckdb.connect(str(path))
    con.execute("SET TimeZone = 'UTC'")
    con.execute('CREATE TABLE touches ("Touch_ID" VARCHAR, " Occurred_At " VARCHAR, email VARCHAR, utm_source VARCHAR, utm_medium VARCHAR)')
    con.execute(
        "INSERT INTO touches VALUES ('t1', '2024-03-01T10:00:00+02:00', ' Jane@Acme.com ', 'LinkedIn', 'cpc'),"
        " ('t2', 'not a time', NULL, NULL, NULL)"
    )
    con.execute("CREATE SCHEMA crm")
    con.execute(
        "CREATE TABLE crm.opportunities (opportunity_id INTEGER, account_domain VARCHAR, created_at TIMESTAMP,"
        " closed_at TIMESTAMPTZ, stage VARCHAR, is_closed BOOLEAN, is_won BOOLEAN, amount DECIMAL(12, 2),"
        " currency VARCHAR, region VARCHAR)"
    )
    con.execute(
        "INSERT INTO crm.opportunities VALUES"
        " (1, 'https://www.Acme.com/', TIMESTAMP '2024-03-01 09:00:00', TIMESTAMPTZ '2024-03-10 12:00:00+02:00',"
        "  'Won', true, true, 1234.50, NULL, 'EMEA'),"
        " (2, 'beta.io', TIMESTAMP '2024-03-01 09:00:00', NULL, 'Open', false, false, 0.00, 'USD', 'AMER'),"
        " (3, 'gamma.io', TIMESTAMP '2024-03-05 09:00:00', TIMESTAMPTZ '2024-03-04 00:00:00+00:00',"
        "  'Won', true, true, 10.00, NULL, 'APAC')"
    )
    con.close()
    return f"duckdb:///{path}"


def test_sql_table_by_name(sql_source):
    frame = read_database(sql_source, "touches", "touches")
    assert_all_text(frame)
    assert frame.columns == ["touch_id", "occurred_at", "email", "utm_source", "utm_medium", "_source_file", "_source_row"]
    assert frame["email"].to_list() == [" Jane@Acme.com ", None]  # as written
    assert set(frame["_source_file"].to_list()) == {frame["_source_file"][0]}
    assert "touches" in frame["_source_file"][0]
    staged = stage(CONTRACTS["touches"], frame, AttributionParams())
    assert staged.valid.select("touch_id", "occurred_at", "email", "account_domain", "channel").rows() == [
        ("t1", utc(2024, 3, 1, 8), "jane@acme.com", "acme.com", "paid_social"),
    ]
    q = staged.quarantine.row(0, named=True)
    assert (q["rule"], q["source_row"]) == ("occurred_at.invalid_timestamp", 2)
    assert "touches" in q["source_file"]


def test_sql_schema_qualified_table_with_typed_columns(sql_source):
    frame = read_database(sql_source, "opportunities", "crm.opportunities")
    assert_all_text(frame)
    assert "region" in frame.columns  # extra column kept
    assert "crm.opportunities" in frame["_source_file"][0]
    assert frame.sort("_source_row")["_source_row"].to_list() == [1, 2, 3]
    staged = stage(CONTRACTS["opportunities"], frame, AttributionParams())
    valid = {r["opportunity_id"]: r for r in staged.valid.iter_rows(named=True)}
    assert sorted(valid) == ["1", "2"]
    assert valid["1"]["account_domain"] == "acme.com"
    assert valid["1"]["created_at"] == utc(2024, 3, 1, 9)
    assert valid["1"]["closed_at"] == utc(2024, 3, 10, 10)  # 12:00 +02:00
    assert (valid["1"]["is_closed"], valid["1"]["is_won"]) == (True, True)
    assert valid["1"]["amount_cents"] == 123_450
    assert valid["1"]["currency"] == "USD"
    assert (valid["2"]["closed_at"], valid["2"]["is_closed"], valid["2"]["amount_cents"]) == (None, False, 0)
    assert staged.quarantine.select("rule").to_series().to_list() == ["closed_at.before_created"]


def test_sql_select_query(sql_source):
    query = "SELECT opportunity_id AS \"Opportunity_ID\", account_domain, amount FROM crm.opportunities WHERE region <> 'APAC' ORDER BY opportunity_id"
    frame = read_database(sql_source, "opportunities", query)
    assert_all_text(frame)
    assert frame.select("opportunity_id", "account_domain", "amount", "_source_row").rows() == [
        ("1", "https://www.Acme.com/", "1234.50", 1),
        ("2", "beta.io", "0.00", 2),
    ]
    assert frame["_source_file"].n_unique() == 1


@pytest.mark.parametrize(
    "query",
    [
        '  with t as (select * from touches) select * from t order by "Touch_ID"',
        '\nSELECT\n  *\nFROM touches\nORDER BY "Touch_ID"',
        'Select * From touches Order By "Touch_ID"',
    ],
)
def test_sql_query_forms(sql_source, query):
    frame = read_database(sql_source, "touches", query)
    assert frame["touch_id"].to_list() == ["t1", "t2"]
    assert "touches" in frame["_source_file"][0]


@pytest.mark.parametrize("table", ["selected_touches", "withheld_touches"])
def test_sql_table_whose_name_starts_like_a_keyword(tmp_path, table):
    path = tmp_path / "names.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA crm")
    con.execute(f"CREATE TABLE {table} (touch_id VARCHAR, occurred_at VARCHAR)")
    con.execute(f"INSERT INTO {table} VALUES ('t1', '2024-03-01')")
    con.close()
    frame = read_database(f"duckdb:///{path}", "touches", table)
    assert frame.select("touch_id", "occurred_at").rows() == [("t1", "2024-03-01")]


@pytest.mark.parametrize("target", ["no_such_table", "crm.no_such_table", "SELECT * FROM nowhere"])
def test_sql_unreadable_is_a_source_error(sql_source, target):
    with pytest.raises(SourceError) as error:
        read_database(sql_source, "touches", target)
    assert error.value.source == "touches"
    if not target.startswith("SELECT"):
        assert target in str(error.value)


def test_sql_colliding_headers_are_a_source_error(sql_source):
    with pytest.raises(SourceError, match="touches"):
        read_database(sql_source, "touches", 'SELECT "Touch_ID", "Touch_ID" AS "touch_id " FROM touches')


def test_direct_read_file_uses_display_name(tmp_path):
    path = write(tmp_path / "anything.csv", "A ,b\n1,2\n")
    frame = read_file(path, "touches", "shown/name.csv")
    assert frame.rows() == [("1", "2", "shown/name.csv", 1)]
    assert frame.columns == ["a", "b", "_source_file", "_source_row"]
