"""The marketer report, rendered by headless Chromium (Debian's package): every
section and chart present, the figures right, no console message and no request
leaving the page. A screenshot is kept as a test artifact."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import polars as pl
import pytest

from attribution_pipeline.app.cli import main
from attribution_pipeline.report.page import SECTIONS
from attribution_pipeline.sample_data import generate
from models.registry import MODELS
from pipeline_runs import read, run_cli, run_in_own_home, under_ci

ARTIFACTS = Path(os.environ.get("ATTRIBUTION_TEST_ARTIFACTS", Path(__file__).parents[1] / "test-artifacts"))
CHARTS = ("chart-channels", "chart-trend", "chart-journeys", "chart-funnel", "chart-sourcing", "chart-velocity", "chart-sla")


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if under_ci():
            pytest.fail("chromium is not installed; .ci/run installs Debian's chromium package")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return found


def render(page: Path, screenshot: Path | None = None) -> tuple[str, list[str]]:
    """The DOM after scripts ran, and every console message Chromium logged."""
    command = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--window-size=1280,2400",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=5000",
    ]
    command += [f"--screenshot={screenshot}"] if screenshot else ["--dump-dom"]
    done = subprocess.run([*command, page.as_uri()], capture_output=True, text=True, timeout=120)
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return done.stdout, console


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[str, Path]:
    folder = tmp_path_factory.mktemp("report")
    generate(folder / "landing", touches=1500, seed=3)
    url = f"duckdb:///{folder / 'w.duckdb'}"
    home = run_in_own_home(folder, folder / "landing", url)
    assert (home / "attribution_report.html").exists()  # the Dagster asset wrote one too
    page = folder / "report.html"
    assert main(["report", "--warehouse", url, "--out", str(page)]) == 0
    return url, page


def test_report_in_chromium(built):
    """One build, checked three ways (a build costs a pipeline run)."""
    url, page = built
    dom = check_renders_every_section_and_chart_offline(page)
    check_figures_match_the_warehouse(url, dom)
    check_channel_table_matches_touch_credit(url, page)
    check_funnel_agrees_with_the_tables(url, dom)


def check_renders_every_section_and_chart_offline(page: Path) -> str:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    dom, console = render(page)
    _, screenshot_console = render(page, ARTIFACTS / "report.png")
    assert console == [] and screenshot_console == [], console + screenshot_console  # no error, no blocked request
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000
    for key, title, _ in SECTIONS:
        assert f'id="{key}"' in dom and title in dom.replace("&amp;", "&"), key
    for chart in CHARTS:  # plotly drew each chart (its SVG exists only after the script ran)
        block = dom.split(f'id="{chart}"', 1)[1][:20_000]
        assert "main-svg" in block, chart
    # The policy blocks every request and Chromium logs each blocked one to the console,
    # so the empty console above also says that nothing was requested.
    assert "default-src 'none'" in page.read_text()[:2000]
    return dom


def check_figures_match_the_warehouse(url: str, dom: str) -> None:
    """Won deals and revenue from staging, credit per model from touch_credit (not the
    channel mart the page reads), formatted as the page formats them."""
    deals = read(url, "staging", "opportunities").filter(pl.col("is_won"))
    won_cents = int(deals.get_column("amount_cents").sum())
    assert f">{deals.height:,}<" in dom
    assert f"{won_cents / 100:,.2f} USD" in dom
    credit = read(url, "attribution", "touch_credit")
    totals = credit.group_by("model").agg((pl.col("credited_amount").cast(pl.Decimal(38, 2)) * 100).cast(pl.Int64).sum().alias("cents"))
    reconciliation = dom.split('id="reconciliation"', 1)[1].split("</section>", 1)[0]
    for model, cents in totals.iter_rows():
        assert cents == won_cents, model
        row = reconciliation.split(f"<td>{model}</td>", 1)[1].split("</tr>", 1)[0]
        assert f"{cents / 100:,.2f} USD" in row and "reconciles" in row, model
    assert "DOES NOT RECONCILE" not in dom


def check_channel_table_matches_touch_credit(url: str, page: Path) -> None:
    """Each channel's credited revenue per model, summed independently from
    touch_credit, is the figure in that channel's row of the page."""
    html_text = page.read_text()
    section = html_text.split("<section id=channels>", 1)[1].split("</section>", 1)[0]
    credit = read(url, "attribution", "touch_credit")
    cents = (pl.col("credited_amount").cast(pl.Decimal(38, 2)) * 100).cast(pl.Int64)
    sums = credit.group_by("channel", "model").agg(cents.sum().alias("cents"))
    models = sorted(sums.get_column("model").unique().to_list())
    checked = 0
    for channel in sums.get_column("channel").unique().to_list():
        row = section.split(f"<td>{channel}</td>", 1)[1].split("</tr>", 1)[0]
        cells = re.findall(r"<td class=n[^>]*>([^<]*)</td>", row)
        expected = {m: c for _, m, c in sums.filter(pl.col("channel") == channel).iter_rows()}
        assert cells == [f"{expected.get(m, 0) / 100:,.2f}" for m in models], channel
        checked += 1
    assert checked >= 5


def card(dom: str, element_id: str) -> str:
    return dom.split(f'id="{element_id}">', 1)[1].split("<", 1)[0]


def check_funnel_agrees_with_the_tables(url: str, dom: str) -> None:
    """The funnel section against the tables, each figure from a source other than the
    one the page reads where there is one: leads from staging, won deals and revenue
    summed from funnel_monthly, the sourced share from pipeline_sourcing, and SLA
    compliance from the per-lead lead_sla (the page reads the weekly roll-up)."""
    leads = read(url, "staging", "leads")
    assert card(dom, "funnel-leads") == f"{leads.height:,}"
    funnel = read(url, "attribution", "funnel_monthly")
    for stage in ("mqls", "sqls", "opportunities", "won_deals"):
        assert card(dom, f"funnel-{stage}") == f"{int(funnel.get_column(stage).sum()):,}", stage
    assert card(dom, "funnel-won-revenue") == f"{float(funnel.get_column('won_revenue').sum()):,.2f} USD"
    assert int(funnel.get_column("won_deals").sum()) > 0 and int(funnel.get_column("mqls").sum()) < leads.height
    sourcing = read(url, "attribution", "pipeline_sourcing")
    amount = sourcing.get_column("amount").cast(pl.Float64)
    sourced = sourcing.filter(pl.col("sourcing") == "marketing_sourced").get_column("amount").cast(pl.Float64).sum()
    assert card(dom, "sourced-share") == f"{sourced / amount.sum():.1%}"
    sla = read(url, "attribution", "lead_sla").get_column("status").value_counts()
    counts = dict(sla.iter_rows())
    assert card(dom, "sla-compliance") == f"{counts.get('met', 0) / (counts.get('met', 0) + counts.get('breached', 0)):.1%}"


@pytest.mark.postgres
def test_report_from_postgres_reconciles_to_the_cent(tmp_path, postgres_database, dagster_home, monkeypatch):
    """The report's SQL is portable: the same figures from a PostgreSQL warehouse
    (the page's tables are written server-side, so no browser is needed here)."""
    monkeypatch.setenv("ATTRIBUTION_PARTITION_START", "2024-01-01")
    generate(tmp_path / "landing", touches=800, seed=4)
    assert run_cli("--source", str(tmp_path / "landing"), "--warehouse", postgres_database) == 0
    page = tmp_path / "report.html"
    assert main(["report", "--warehouse", postgres_database, "--out", str(page), "--model", "time_decay"]) == 0
    text = page.read_text()
    deals = read(postgres_database, "staging", "opportunities").filter(pl.col("is_won"))
    won_cents = int(deals.get_column("amount_cents").sum())
    assert f"{won_cents / 100:,.2f} USD" in text and "DOES NOT RECONCILE" not in text
    assert text.count(">reconciles<") == len(MODELS)  # one row per model
    assert "trend for model <b>time_decay</b>" in text
    for key, _, _ in SECTIONS:
        assert f"<section id={key}>" in text
