"""Identity stitching end to end (issue 18): a hand-written landing folder with one case
per line of the issue's semantics, run once on DuckDB and once on PostgreSQL with
``--stitch-window-days 10``. Every expected value below is derived by hand from the rows.

Anonymous ids and what the issue's rules make of them:
- ``c1``: linked once, to alice@acme.example, by the form fill a2 at 2024-02-10T00:00Z.
  Window 10 days: a1 (exactly 10 days before, its id padded with spaces) and a3 (exactly
  10 days after) are stitched; a0 and a4, 1 microsecond outside, stay anonymous.
- ``c2``: bob and carol on one device: ambiguous, b3 stays anonymous.
- ``c3``: g1 carries its own e-mail (gina) while identities link c3 to ian: ambiguous,
  g1 keeps gina, g2 stays anonymous.
- ``c5``: linked only by an identities row (Gus@Delta.example, normalized): d1 and d2
  are stitched and take the derived domain delta.example, so they match deal D by domain.
- ``c6``: linked to the free-mail hal@gmail.com: h2 is stitched, derives no domain, and
  matches deal E through its contact only (match_type email).
- w1's id is whitespace and w2's empty: both are null (not counted); x1's id is never linked.
"""

from __future__ import annotations

import contextlib
import csv
import io
from pathlib import Path

import polars as pl
import pytest

from attribution_pipeline.orchestration.io_managers import conform
from attribution_pipeline.warehouse.client import WarehouseClient
from attribution_pipeline.warehouse.tables import IDENTITY_LINKS, JOURNEYS, RUNS, STITCH_COUNTS, TOUCH_CREDIT
from pipeline_runs import run_in_own_home, session_folder

# (touch_id, occurred_at, email, account_domain, channel, anonymous_id)
TOUCHES = [
    ("a0", "2024-01-30T23:59:59.999999Z", "", "", "paid_search", "c1"),
    ("a1", "2024-01-31T00:00:00Z", "", "", "paid_search", "  c1 "),
    ("a2", "2024-02-10T00:00:00Z", "alice@acme.example", "", "email", "c1"),
    ("a3", "2024-02-20T00:00:00Z", "", "", "paid_social", "c1"),
    ("a4", "2024-02-20T00:00:00.000001Z", "", "", "paid_social", "c1"),
    ("b1", "2024-02-01T00:00:00Z", "bob@beta.example", "", "email", "c2"),
    ("b2", "2024-02-02T00:00:00Z", "carol@beta.example", "", "email", "c2"),
    ("b3", "2024-02-03T00:00:00Z", "", "", "display", "c2"),
    ("g1", "2024-02-05T00:00:00Z", "gina@acme.example", "", "organic_search", "c3"),
    ("g2", "2024-02-06T00:00:00Z", "", "", "display", "c3"),
    ("d1", "2024-05-25T00:00:00Z", "", "", "display", "c5"),
    ("d2", "2024-06-03T00:00:00Z", "", "", "display", "c5"),
    ("h1", "2024-06-01T00:00:00Z", "hal@gmail.com", "", "events", "c6"),
    ("h2", "2024-06-05T00:00:00Z", "", "", "email", "c6"),
    ("w1", "2024-02-15T00:00:00Z", "", "acme.example", "direct", "   "),
    ("w2", "2024-02-15T00:00:00Z", "walt@zeta.example", "", "direct", ""),
    ("x1", "2024-03-05T00:00:00Z", "", "", "display", "x1"),
]
IDENTITIES = [("c3", "ian@acme.example", "2024-02-01T00:00:00Z"), ("c5", "Gus@Delta.example", "2024-06-01T00:00:00Z")]
# (deal, domain, created, closed, amount); every deal is won
DEALS = [
    ("A", "acme.example", "2024-03-01", "2024-04-01", "1000.00"),
    ("B", "beta.example", "2024-03-01", "2024-04-01", "500.00"),
    ("D", "delta.example", "2024-06-10", "2024-07-01", "2000.00"),
    ("E", "epsilon.example", "2024-06-10", "2024-07-01", "3000.00"),
]
CONTACTS = [("A", "alice@acme.example"), ("B", "bob@beta.example"), ("E", "hal@gmail.com")]

# (opportunity_id, touch_id, match_type, identity), in journey order
JOURNEY_ROWS = [
    ("A", "a1", "both", "stitched"),
    ("A", "g1", "domain", "given"),
    ("A", "a2", "both", "given"),
    ("A", "w1", "domain", None),
    ("A", "a3", "both", "stitched"),
    ("B", "b1", "both", "given"),
    ("B", "b2", "domain", "given"),
    ("D", "d1", "domain", "stitched"),
    ("D", "d2", "domain", "stitched"),
    ("E", "h1", "email", "given"),
    ("E", "h2", "email", "stitched"),
]
LINKS = [
    ("c1", "alice@acme.example", "2024-02-10T00:00:00", "touch", False),
    ("c2", "bob@beta.example", "2024-02-01T00:00:00", "touch", True),
    ("c2", "carol@beta.example", "2024-02-02T00:00:00", "touch", True),
    ("c3", "gina@acme.example", "2024-02-05T00:00:00", "touch", True),
    ("c3", "ian@acme.example", "2024-02-01T00:00:00", "identities", True),
    ("c5", "gus@delta.example", "2024-06-01T00:00:00", "identities", False),
    ("c6", "hal@gmail.com", "2024-06-01T00:00:00", "touch", False),
]
# 15 touches have an id (w1 and w2 have none); stitched a1 a3 d1 d2 h2; left a0 a4 b3 g2 x1; ambiguous c2 c3
COUNTS = {"touches_with_anonymous_id": 15, "touches_stitched": 5, "touches_left_anonymous": 5, "anonymous_ids_ambiguous": 2}
# first_touch credit by channel, cents: A -> a1, B -> b1, D -> d1, E -> h1
FIRST_TOUCH = {"paid_search": 100_000, "email": 50_000, "display": 200_000, "events": 300_000}


def _write(path: Path, header: list[str], rows) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def write_landing(folder: Path) -> Path:
    folder.mkdir(parents=True)
    _write(folder / "touches.csv", ["touch_id", "occurred_at", "email", "account_domain", "channel", "anonymous_id"], TOUCHES)
    _write(folder / "identities.csv", ["anonymous_id", "email", "identified_at"], IDENTITIES)
    _write(
        folder / "opportunities.csv",
        ["opportunity_id", "account_domain", "created_at", "closed_at", "stage", "is_closed", "is_won", "amount"],
        [(deal, domain, created, closed, "closed_won", "true", "true", amount) for deal, domain, created, closed, amount in DEALS],
    )
    _write(folder / "opportunity_contacts.csv", ["opportunity_id", "email"], CONTACTS)
    _write(folder / "campaigns.csv", ["campaign_id", "campaign_name", "channel", "start_date"], [("c", "C", "email", "2024-01-01")])
    return folder


ARGS = ("--stitch-window-days", "10", "--models", "first_touch,linear")


def _build(folder: Path) -> None:
    landing = write_landing(folder / "landing")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        (folder / "duck").mkdir()
        run_in_own_home(folder / "duck", landing, f"duckdb:///{folder / 'warehouse.duckdb'}", *ARGS)
    (folder / "summary.txt").write_text(printed.getvalue())


@pytest.fixture(scope="module")
def duck(tmp_path_factory) -> Path:
    return session_folder(tmp_path_factory, "stitching", _build)


def tables(url: str) -> dict[str, pl.DataFrame]:
    client = WarehouseClient(url)
    try:
        found = {
            table.name: conform(client.read(table.schema, table.name), table) for table in (JOURNEYS, TOUCH_CREDIT, IDENTITY_LINKS, RUNS)
        }
    finally:
        client.dispose()
    return found


def check_tables(found: dict[str, pl.DataFrame]) -> None:
    journeys = found["journeys"].sort("opportunity_id", "position")
    assert journeys.select("opportunity_id", "touch_id", "match_type", "identity").rows() == JOURNEY_ROWS
    links = found["identity_links"].sort("anonymous_id", "email")
    as_rows = links.select(
        "anonymous_id", "email", pl.col("first_linked_at").dt.strftime("%Y-%m-%dT%H:%M:%S"), "source", "ambiguous"
    ).rows()
    assert as_rows == LINKS
    run = found["runs"].row(0, named=True)
    assert {name: run[name] for name in STITCH_COUNTS} == COUNTS
    first = found["touch_credit"].filter(pl.col("model") == "first_touch")
    assert dict(first.group_by("channel").agg(pl.col("credited_cents").sum()).iter_rows()) == FIRST_TOUCH


def test_stitching_known_answers_on_duckdb(duck):
    check_tables(tables(f"duckdb:///{duck / 'warehouse.duckdb'}"))


def test_stitching_known_answers_on_postgres(duck, tmp_path, postgres_database):
    run_in_own_home(tmp_path, duck / "landing", postgres_database, *ARGS)
    found = tables(postgres_database)
    check_tables(found)
    expected = tables(f"duckdb:///{duck / 'warehouse.duckdb'}")
    for name in ("journeys", "touch_credit", "identity_links"):
        key = [c for c in found[name].columns if c != "run_id"]
        assert found[name].drop("run_id").sort(key).equals(expected[name].drop("run_id").sort(key)), name


def test_the_cli_summary_says_what_stitching_did(duck):
    summary = (duck / "summary.txt").read_text()
    assert (
        "identity stitching: 15 touches with an anonymous_id: 5 stitched, 5 left anonymous; "
        "2 anonymous ids ambiguous (linked to two or more e-mails)"
    ) in summary


# Without stitching: A's first touch is g1 (a1 is stitched and had no domain of its own),
# D keeps no touch at all (d1 and d2 matched only through the stitched e-mail's domain).
FIRST_TOUCH_UNSTITCHED = {"organic_search": 100_000, "email": 50_000, "(unattributed)": 200_000, "events": 300_000}


@pytest.mark.parametrize("warehouse", ["duckdb", "postgresql"])
def test_the_report_shows_stitched_share_and_first_touch_with_and_without(duck, warehouse, request):
    from attribution_pipeline.report.page import render
    from attribution_pipeline.report.queries import load

    if warehouse == "duckdb":
        url = f"duckdb:///{duck / 'warehouse.duckdb'}"
    else:
        url = request.getfixturevalue("postgres_database")
        run_in_own_home(request.getfixturevalue("tmp_path"), duck / "landing", url, *ARGS)
    data = load(url, None, None, None)
    assert (data.stitching.won_touches, data.stitching.stitched_touches) == (len(JOURNEY_ROWS), 5)
    table = data.stitching.first_touch
    assert dict(table.select("channel", "with_stitching").iter_rows()) == {**dict.fromkeys(FIRST_TOUCH_UNSTITCHED, 0), **FIRST_TOUCH}
    assert dict(table.select("channel", "without_stitching").iter_rows()) == {**dict.fromkeys(FIRST_TOUCH, 0), **FIRST_TOUCH_UNSTITCHED}
    page = render(data)
    assert "First-touch credit with and without identity stitching" in page and "5 (45.5%)" in page
