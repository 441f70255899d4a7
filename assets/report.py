"""attribution/report: the marketer-facing HTML page, rebuilt after every run's marts."""

import dagster as dg

from attribution_pipeline.orchestration.io_managers import PUBLISHER
from attribution_pipeline.orchestration.resources import ReportDestination, Warehouse
from attribution_pipeline.report.page import summary_markdown, write_report


@dg.asset(
    key=["attribution", "report"],
    group_name="marts",
    kinds={"html"},
    deps=[PUBLISHER],  # it reads the tables that step published
    description=(
        "One self-contained HTML page for marketers and sales leaders: reconciliation, credit by channel and model, "
        "campaign ROAS, monthly trend, journey facts, data quality and the run it was built from. Written to "
        "$ATTRIBUTION_REPORT_PATH (default: attribution_report.html in the Dagster home)."
    ),
)
def report(context: dg.AssetExecutionContext, warehouse: Warehouse, report_destination: ReportDestination) -> dg.MaterializeResult:
    path = report_destination.resolve(context.instance)
    data = write_report(warehouse.url, path)
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(path.resolve())),
            "summary": dg.MetadataValue.md(summary_markdown(data)),
            "won_deals": dg.MetadataValue.int(data.won_deals),
        }
    )
