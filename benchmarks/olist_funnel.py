"""The Olist marketing funnel (a real B2B seller-acquisition funnel, Brazil 2017-2018)
through the pipeline: an adapter from its two CSV files to our landing folder, a run,
and the funnel per first-touch channel read back from ``attribution.funnel_monthly``.

    uv run --frozen python benchmarks/olist_funnel.py --out /tmp/olist

The data is read from ``../shared/datasets/olist_marketing_funnel/`` (CC BY-NC-SA 4.0,
Olist; see its README) and never copied into the repository: the landing folder is
written under ``--out``.

How the files map (the dataset README's "How it maps to the engine"):

- every marketing-qualified lead (MQL) is a person with an account of their own
  (``lead@<mql_id>.olist.invalid``): one ``form_submit`` touch at its first contact
  date, channel = ``origin`` (empty and ``unknown`` become ``unknown``), campaign = the
  landing page it signed up on;
- landing pages are the campaigns (no name, no cost: CPL and ROAS stay unknown);
- a closed deal is a won opportunity created at the lead's first contact and
  closed at ``won_date``, amount ``declared_monthly_revenue`` in BRL (mostly 0:
  the real seller revenue is in Olist's order tables, not in this dataset);
- a lead is created and marketing-qualified at its first contact, owned by the SDR
  of its deal; Olist publishes no sales-accepted, activity or disqualification
  times and no lost deals, so SQLs equal opportunities (stages are cumulative),
  the hand-off SLA cannot be measured (nobody logged an activity, so every MQL
  past the limit counts as breached) and MQLs that never closed have no opportunity.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import polars as pl

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "olist_marketing_funnel"
PARTITION_START = "2017-01-01"  # deals close from 2017-12; the default first month is 2020-01


def landing(data: Path, out: Path) -> dict[str, int]:
    """Writes the landing folder; returns rows per source."""
    mqls = pl.read_csv(data / "olist_marketing_qualified_leads_dataset.csv", infer_schema=False)
    deals = pl.read_csv(data / "olist_closed_deals_dataset.csv", infer_schema=False)
    out.mkdir(parents=True, exist_ok=True)
    domain = pl.concat_str(pl.col("mql_id"), pl.lit(".olist.invalid"))
    contacted = pl.concat_str(pl.col("first_contact_date"), pl.lit("T00:00:00Z"))
    people = mqls.with_columns(account_domain=domain, email=pl.concat_str(pl.lit("lead@"), domain), contacted_at=contacted)
    # Olist's own "unknown" (and an empty origin) stay "unknown": left empty, SPEC 1
    # would read a touch without channel or UTM as direct.
    channel = (
        pl.when(pl.col("origin").is_in(["", "unknown"]).not_() & pl.col("origin").is_not_null())
        .then(pl.col("origin"))
        .otherwise(pl.lit("unknown"))
    )
    frames = {
        "touches": people.select(
            touch_id="mql_id",
            occurred_at="contacted_at",
            email="email",
            account_domain="account_domain",
            channel=channel,
            campaign_id="landing_page_id",
            touch_type=pl.lit("form_submit"),
        ),
        "campaigns": people.group_by("landing_page_id")
        .agg(pl.col("first_contact_date").min())
        .sort("landing_page_id")
        .select(
            campaign_id="landing_page_id",
            campaign_name=pl.concat_str(pl.lit("landing page "), pl.col("landing_page_id").str.slice(0, 8)),
            channel=pl.lit("landing_page"),
            start_date="first_contact_date",
            end_date=pl.lit(None, pl.String),
            cost=pl.lit(None, pl.String),
            currency=pl.lit(None, pl.String),
        ),
        "opportunities": deals.join(people, on="mql_id").select(
            opportunity_id="mql_id",
            account_domain="account_domain",
            created_at="contacted_at",
            closed_at=pl.col("won_date").str.replace(" ", "T") + "Z",
            stage=pl.lit("closed_won"),
            is_closed=pl.lit("true"),
            is_won=pl.lit("true"),
            amount=pl.col("declared_monthly_revenue").replace("", "0"),
            currency=pl.lit("BRL"),
        ),
        "opportunity_contacts": deals.join(people, on="mql_id").select(opportunity_id="mql_id", email="email", role=pl.lit("seller")),
        "leads": people.join(deals.select("mql_id", "sdr_id"), on="mql_id", how="left").select(
            lead_id="mql_id",
            email="email",
            account_domain="account_domain",
            created_at="contacted_at",
            mql_at="contacted_at",
            sql_at=pl.lit(None, pl.String),
            first_sales_activity_at=pl.lit(None, pl.String),
            disqualified_at=pl.lit(None, pl.String),
            owner="sdr_id",
            converted_opportunity_id=pl.when(pl.col("sdr_id").is_not_null()).then(pl.col("mql_id")),
        ),
    }
    (out / "landing").mkdir(exist_ok=True)
    for name, frame in frames.items():
        frame.write_csv(out / "landing" / f"{name}.csv")
    return {name: frame.height for name, frame in frames.items()}


def funnel_by_channel(url: str) -> pl.DataFrame:
    """funnel_monthly summed over months, per first-touch channel, with each channel's
    lead-to-won rate and share of all won deals (the last row, ``all``, is the total)."""
    from attribution_pipeline.warehouse.client import WarehouseClient

    client = WarehouseClient(url)
    try:
        months = client.read("attribution", "funnel_monthly")
    finally:
        client.dispose()
    stages = ["leads", "mqls", "sqls", "opportunities", "won_deals", "won_revenue"]
    totals = months.group_by("channel").agg(pl.col(stages).sum()).sort("leads", descending=True)
    everyone = months.select(pl.lit("all").alias("channel"), *(pl.col(s).sum() for s in stages))
    return pl.concat([totals, everyone]).with_columns(
        lead_to_won=pl.col("won_deals") / pl.col("leads"), share_of_won=pl.col("won_deals") / pl.col("won_deals").max()
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help=f"the dataset folder (default {DATA})")
    parser.add_argument("--out", type=Path, required=True, help="working folder: landing/, the DuckDB warehouse and the Dagster home")
    parser.add_argument("--warehouse", help="warehouse URL (default a DuckDB file under --out)")
    args = parser.parse_args(argv)
    if not (args.data / "olist_closed_deals_dataset.csv").exists():
        parser.error(f"{args.data} does not hold the Olist files (see ../shared/datasets/olist_marketing_funnel/README.txt)")
    rows = landing(args.data, args.out)
    print("landing rows:", ", ".join(f"{name} {count:,}" for name, count in rows.items()), file=sys.stderr)
    url = args.warehouse or f"duckdb:///{(args.out / 'warehouse.duckdb').resolve()}"
    home = args.out / "dagster_home"
    home.mkdir(exist_ok=True)
    os.environ.setdefault("DAGSTER_HOME", str(home.resolve()))
    os.environ.setdefault("ATTRIBUTION_PARTITION_START", PARTITION_START)
    from attribution_pipeline.app.cli import main as attribution

    code = attribution(["run", "--source", str(args.out / "landing"), "--warehouse", url, "--reporting-currency", "BRL"])
    if code != 0:
        return code
    with pl.Config(
        tbl_rows=30, tbl_cols=12, tbl_width_chars=200, tbl_formatting="MARKDOWN", tbl_hide_column_data_types=True, float_precision=3
    ):
        print(funnel_by_channel(url))
    return 0


if __name__ == "__main__":
    sys.exit(main())
