"""The marketer-facing report: one self-contained HTML page built from the figures
``queries.py`` reads. Charts are plotly figures with plotly.js inlined once, and a
Content-Security-Policy forbids every network request: the page works from a USB
stick and prints cleanly.
"""

from __future__ import annotations

import datetime as dt
import html
import json

import plotly.graph_objects as go
import plotly.offline
import polars as pl

from attribution_pipeline.report.queries import FUNNEL_STAGES, Funnel, ReportData, load

_CSP = "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; img-src data:; font-src data:"

_CSS = """
body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1d2733;margin:0 auto;max-width:1180px;padding:24px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:19px;margin:32px 0 8px;border-bottom:2px solid #e3e8ee;padding-bottom:4px}
.sub{color:#5b6776}.cards{display:flex;gap:14px;flex-wrap:wrap}.card{border:1px solid #e3e8ee;border-radius:8px;padding:10px 14px;min-width:180px}
.card b{display:block;font-size:21px}table{border-collapse:collapse;width:100%;margin:8px 0;font-size:13.5px}
th,td{padding:5px 8px;border-bottom:1px solid #eef1f4;text-align:left}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
th.sort{cursor:pointer;user-select:none}td:first-child{white-space:nowrap}th.sort:after{content:' \\2195';color:#9aa5b1}.ok{color:#137333}.bad{color:#b3261e;font-weight:600}
.chart{height:380px}.scroll{overflow-x:auto}section{break-inside:avoid}.muted{color:#8a96a3}
@media print{body{max-width:none;padding:0}.chart{height:300px}h2{break-after:avoid}}
"""

_SORT_JS = """
document.querySelectorAll('table.sortable').forEach(function(table){
  table.querySelectorAll('th.sort').forEach(function(th, index){
    th.addEventListener('click', function(){
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      var down = th.getAttribute('data-dir') !== 'desc';
      rows.sort(function(a, b){
        var x = a.cells[index].getAttribute('data-v'), y = b.cells[index].getAttribute('data-v');
        var nx = parseFloat(x), ny = parseFloat(y);
        var c = (isNaN(nx) || isNaN(ny)) ? String(x).localeCompare(String(y)) : nx - ny;
        return down ? -c : c;
      });
      rows.forEach(function(row){ body.appendChild(row); });
      th.setAttribute('data-dir', down ? 'desc' : 'asc');
    });
  });
});
"""


def _money(value: float | None, currency: str) -> str:
    return "unknown" if value is None else f"{value:,.2f} {currency}"


def _amount(value: float | None) -> str:
    return "unknown" if value is None else f"{value:,.2f}"


CAMPAIGN_ROWS = 50  # the page stays printable; `attribution export` gives them all


def _cell(text: str, value=None, numeric: bool = False) -> str:
    sort = "" if value is None else f' data-v="{html.escape(str(value))}"'
    return f"<td{' class=n' if numeric else ''}{sort}>{html.escape(text)}</td>"


def _table(headers: list[str], rows: list[str], sortable: bool = False, numeric_from: int = 1) -> str:
    head = "".join(
        f"<th class='{'n ' if i >= numeric_from else ''}{'sort' if sortable else ''}'>{html.escape(h)}</th>" for i, h in enumerate(headers)
    )
    return (
        f"<div class=scroll><table{' class=sortable' if sortable else ''}><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _chart(figure: go.Figure, div_id: str) -> str:
    figure.update_layout(margin={"l": 50, "r": 20, "t": 30, "b": 40}, template="plotly_white", font={"size": 12})
    return (
        "<div class=chart>"
        + figure.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config={"displayModeBar": False, "responsive": True})
        + "</div>"
    )


def _reconciliation(d: ReportData) -> str:
    rows = []
    for model, credited_cents, unattributed_cents in d.by_model.iter_rows():
        ok = credited_cents == d.won_cents
        credited, unattributed = credited_cents / 100, unattributed_cents / 100
        share = unattributed / credited if credited else 0.0
        rows.append(
            "<tr>"
            + _cell(model)
            + _cell(_money(credited, d.currency), credited, True)
            + f"<td class='n {'ok' if ok else 'bad'}'>{'reconciles' if ok else 'DOES NOT RECONCILE'}</td>"
            + _cell(_money(unattributed, d.currency), unattributed, True)
            + _cell(f"{share:.1%}", share, True)
            + "</tr>"
        )
    cards = (
        f"<div class=cards><div class=card>won deals<b id=won-deals>{d.won_deals:,}</b></div>"
        f"<div class=card>won revenue<b id=won-revenue>{_money(d.won_cents / 100, d.currency)}</b></div></div>"
    )
    return cards + _table(["model", "credited revenue", "equals won revenue", "unattributed", "unattributed share"], rows)


def _channels(d: ReportData) -> str:
    if d.by_channel.is_empty():
        return "<p class=muted>No credited revenue in these months.</p>"
    pivot = d.by_channel.pivot(on="model", index="channel", values="credited_revenue", aggregate_function="sum").fill_null(0.0)
    models = sorted(c for c in pivot.columns if c != "channel")
    pivot = pivot.sort(d.model if d.model in models else models[0], descending=True) if models else pivot
    figure = go.Figure([go.Bar(name=m, x=pivot["channel"].to_list(), y=pivot[m].to_list()) for m in models])
    figure.update_layout(barmode="group", yaxis_title=f"credited revenue ({d.currency})")
    rows = [
        "<tr>" + _cell(row["channel"]) + "".join(_cell(_amount(row[m]), row[m], True) for m in models) + "</tr>"
        for row in pivot.iter_rows(named=True)
    ]
    return _chart(figure, "chart-channels") + _table(["channel", *(f"{m} ({d.currency})" for m in models)], rows, sortable=True)


def _campaigns(d: ReportData) -> str:
    if d.campaigns.is_empty():
        return "<p class=muted>No campaigns.</p>"
    models = sorted(d.campaigns["model"].unique().to_list())
    wide = d.campaigns.pivot(on="model", index=["campaign_id", "campaign_name", "channel", "cost"], values=["credited_revenue", "roas"])
    wide = wide.sort(
        f"credited_revenue_{d.model}" if f"credited_revenue_{d.model}" in wide.columns else wide.columns[-1],
        descending=True,
        nulls_last=True,
    )
    rows, total = [], wide.height
    for row in wide.head(CAMPAIGN_ROWS).iter_rows(named=True):
        cells = _cell(row["campaign_id"] or "(none)") + _cell(row["campaign_name"] or "") + _cell(row["channel"] or "")
        cells += _cell(_amount(row["cost"]), row["cost"] if row["cost"] is not None else -1, True)
        for m in models:
            revenue, roas = row.get(f"credited_revenue_{m}"), row.get(f"roas_{m}")
            cells += _cell(_amount(revenue), revenue or 0, True)
            cells += _cell("unknown" if roas is None else f"{roas:,.2f}", roas if roas is not None else -1, True)
        rows.append(f"<tr>{cells}</tr>")
    headers = ["campaign", "name", "channel", f"cost ({d.currency})"] + [h for m in models for h in (f"{m} revenue", f"{m} ROAS")]
    shown = (
        f"The {min(total, CAMPAIGN_ROWS)} campaigns with the most {d.model} revenue of {total:,}"
        if total > CAMPAIGN_ROWS
        else f"All {total:,} campaigns"
    )
    return (
        f"<p class=sub>{shown}, over all close months (cost and ROAS span months; unknown cost: ROAS unknown); "
        f"revenue in {html.escape(d.currency)}. Click a header to sort; `attribution export --table campaign_attribution` has every row.</p>"
        + _table(headers, rows, True, 3)
    )


def _trend(d: ReportData) -> str:
    figure = go.Figure()
    for channel in sorted(d.trend["channel"].unique().to_list()) if not d.trend.is_empty() else []:
        part = d.trend.filter(pl.col("channel") == channel)
        figure.add_bar(name=channel, x=[str(m) for m in part["close_month"].to_list()], y=part["credited_revenue"].to_list())
    figure.update_layout(barmode="stack", yaxis_title=f"credited revenue ({d.currency}), {d.model}")
    return _chart(figure, "chart-trend")


def _journeys(d: ReportData) -> str:
    j = d.journeys
    if j.is_empty():
        return "<p class=muted>No won deal with touches in scope.</p>"
    email = (j["matched_by"] == "e-mail").mean()
    facts = [
        ("won deals with touches", f"{j.height:,}"),
        ("touches per won deal, median (mean)", f"{j['touches'].median():,.1f} ({j['touches'].mean():,.1f})"),
        (
            "days from first touch to close, median (90th percentile)",
            f"{j['days_to_close'].median():,.1f} ({j['days_to_close'].quantile(0.9):,.1f})",
        ),
        ("deals matched by a contact's e-mail", f"{email:.1%}"),
        ("deals matched by account domain only", f"{1 - email:.1%}"),
    ]
    stitching = d.stitching
    share = stitching.stitched_touches / stitching.won_touches if stitching.won_touches else 0.0
    facts.append(("won-deal touches stitched from an anonymous visitor", f"{stitching.stitched_touches:,} ({share:.1%})"))
    figure = go.Figure(go.Histogram(x=j["touches"].to_list(), nbinsx=40))
    figure.update_layout(xaxis_title="touches per won deal", yaxis_title="deals")
    return (
        _table(["fact", "value"], ["<tr>" + _cell(k) + _cell(v, numeric=True) + "</tr>" for k, v in facts])
        + _stitching(d)
        + _chart(figure, "chart-journeys")
    )


def _stitching(d: ReportData) -> str:
    """First-touch credit by channel with and without identity stitching: where the
    reading before the form fill moves the credit."""
    frame = d.stitching.first_touch
    if not d.stitching.stitched_touches:
        return "<p class=muted>No touch of a won deal was stitched, so first-touch credit is the same without stitching.</p>"
    rows = [
        "<tr>" + _cell(channel) + "".join(_cell(_amount(cents / 100), cents, True) for cents in (on, off, on - off)) + "</tr>"
        for channel, on, off in frame.sort("with_stitching", descending=True).iter_rows()
    ]
    return "<h3>First-touch credit with and without identity stitching</h3>" + _table(
        ["channel", "with stitching", "without stitching", "change"], rows, sortable=True
    )


def _quality(d: ReportData) -> str:
    rows = [
        "<tr>" + _cell(s) + _cell(r) + _cell(f"{n:,}", n, True) + "</tr>" for s, r, n in d.quarantine.sort("source", "rule").iter_rows()
    ]
    quarantined = _table(["source", "rule", "rows quarantined"], rows, numeric_from=2) if rows else "<p>No row was quarantined.</p>"
    warnings = ["<tr>" + _cell(k.replace("_", " ")) + _cell(f"{v:,}", v, True) + "</tr>" for k, v in sorted(d.warnings.items())]
    return quarantined + "<h3>Referential warnings (never blocking)</h3>" + _table(["warning", "rows"], warnings)


def _provenance(d: ReportData) -> str:
    params = d.run["parameters"]
    rows = [("run id", d.run["run_id"]), ("finished at (UTC)", str(d.run["finished_at"])), ("as-of", str(params.get("as_of_resolved")))]
    rows += [(k, json.dumps(v) if isinstance(v, (list, dict)) else str(v)) for k, v in sorted(params.items()) if k != "as_of_resolved"]
    return _table(["", "value"], ["<tr>" + _cell(k) + _cell(v) + "</tr>" for k, v in rows], numeric_from=9)


def _rate(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.1%}" if denominator else "–"


def _funnel_section(d: ReportData) -> str:
    f = d.funnel
    scope = f"created {f.months[0]:%Y-%m} to {(f.months[1] - dt.timedelta(days=1)):%Y-%m}" if f.months else "created in any month"
    parts = [
        f"<p class=sub>Leads and opportunities {scope} (MQL weeks likewise); stages are cumulative and rates are to date "
        "(the README defines every figure).</p>"
    ]
    parts.append(_lead_funnel(f, d.currency))
    parts.append("<h3>Marketing-sourced share of pipeline</h3>" + _sourcing(f, d.currency))
    parts.append("<h3>Stage velocity</h3>" + _velocity(f, d.run["parameters"].get("stage_order") or []))
    parts.append("<h3>Lead hand-off SLA compliance</h3>" + _sla(f))
    return "".join(parts)


def _lead_funnel(f: Funnel, currency: str) -> str:
    if f.by_channel.is_empty() or not f.by_channel["leads"].sum():
        return "<p class=muted>No leads (the leads source is absent or empty).</p>"
    totals = {stage: int(f.by_channel[stage].sum()) for stage in FUNNEL_STAGES}
    names = ["leads", "MQLs", "SQLs", "opportunities", "won deals"]
    figure = go.Figure(go.Funnel(y=names, x=list(totals.values()), textinfo="value+percent previous"))
    cards = (
        "<div class=cards>"
        + "".join(
            f"<div class=card>{html.escape(name)}<b id=funnel-{stage}>{totals[stage]:,}</b>"
            + (f"<span class=sub>{_rate(totals[stage], totals[previous])} of {html.escape(names[i - 1])}</span>" if i else "")
            + "</div>"
            for i, (name, stage, previous) in enumerate(zip(names, FUNNEL_STAGES, (None, *FUNNEL_STAGES)))
        )
        + f"<div class=card>won revenue<b id=funnel-won-revenue>{_money(float(f.by_channel['won_revenue'].sum()), currency)}</b></div></div>"
    )
    rows = []
    for row in f.by_channel.sort("leads", descending=True).iter_rows(named=True):
        cells = _cell(row["channel"]) + "".join(_cell(f"{int(row[stage]):,}", row[stage], True) for stage in FUNNEL_STAGES)
        cells += "".join(
            _cell(_rate(row[later], row[earlier]), row[later] / row[earlier] if row[earlier] else -1, True)
            for earlier, later in zip(FUNNEL_STAGES, FUNNEL_STAGES[1:])
        )
        cells += _cell(_amount(row["won_revenue"]), row["won_revenue"], True)
        rows.append(f"<tr>{cells}</tr>")
    headers = ["first-touch channel", *names, "lead→MQL", "MQL→SQL", "SQL→opportunity", "opportunity→won", f"won revenue ({currency})"]
    return cards + _chart(figure, "chart-funnel") + _table(headers, rows, sortable=True)


def _sourcing(f: Funnel, currency: str) -> str:
    if f.sourcing.is_empty():
        return "<p class=muted>No opportunities.</p>"
    total = f.sourcing["amount"].sum()
    sourced = f.sourcing.filter(pl.col("sourcing") == "marketing_sourced")["amount"].sum()
    influenced = f.sourcing.filter(pl.col("sourcing") == "marketing_influenced")["amount"].sum()
    figure = go.Figure()
    for kind in ("marketing_sourced", "marketing_influenced", "sales_sourced"):
        part = f.sourcing.filter(pl.col("sourcing") == kind)
        figure.add_bar(name=kind.replace("_", " "), x=[str(m) for m in part["created_month"].to_list()], y=part["amount"].to_list())
    figure.update_layout(barmode="stack", yaxis_title=f"pipeline created ({currency})")
    cards = (
        f"<div class=cards><div class=card>marketing-sourced share of pipeline<b id=sourced-share>{_rate(sourced, total)}</b></div>"
        f"<div class=card>marketing-influenced share<b id=influenced-share>{_rate(influenced, total)}</b></div>"
        f"<div class=card>pipeline created<b>{_money(float(total), currency)}</b></div></div>"
    )
    return cards + _chart(figure, "chart-sourcing")


def _velocity(f: Funnel, stage_order: list[str]) -> str:
    v = f.velocity
    if v.is_empty():
        return "<p class=muted>No stage history (the opportunity_stage_history source is absent or empty).</p>"
    order = [stage.strip().lower() for stage in stage_order]
    v = v.with_columns(_order=pl.col("stage").replace_strict(order, list(range(len(order))), default=len(order))).sort(
        "_order", "stage", "created_month"
    )
    figure = go.Figure()
    for stage in v["stage"].unique(maintain_order=True).to_list():
        part = v.filter(pl.col("stage") == stage)
        figure.add_scatter(
            name=stage, mode="lines+markers", x=[str(m) for m in part["created_month"].to_list()], y=part["median_days"].to_list()
        )
    figure.update_layout(yaxis_title="median days in stage", xaxis_title="month the deal was created")
    # Per row, the deals a conversion rate is over: converted / rate, or all that
    # left when none converted (then every deal still in the stage is waiting).
    decided = (
        pl.when(pl.col("conversion_to_next") > 0)
        .then((pl.col("converted_to_next") / pl.col("conversion_to_next")).round())
        .when(pl.col("conversion_to_next") == 0)
        .then(pl.col("deals_entered") - pl.col("still_in_stage"))
        .otherwise(0)
    )
    per_stage = (
        v.with_columns(decided=decided)
        .group_by("stage", maintain_order=True)
        .agg(
            pl.col("deals_entered").sum(),
            pl.col("still_in_stage").sum(),
            pl.col("next_stage").first(),
            pl.col("converted_to_next").sum(),
            pl.col("decided").sum(),
        )
    )
    rows = [
        "<tr>"
        + _cell(r["stage"])
        + _cell(f"{r['deals_entered']:,}", r["deals_entered"], True)
        + _cell(f"{r['still_in_stage']:,}", r["still_in_stage"], True)
        + _cell(r["next_stage"] or "–")
        + _cell(
            _rate(r["converted_to_next"] or 0, r["decided"]) if r["next_stage"] else "–",
            (r["converted_to_next"] or 0) / r["decided"] if r["decided"] else -1,
            True,
        )
        + "</tr>"
        for r in per_stage.iter_rows(named=True)
    ]
    return _chart(figure, "chart-velocity") + _table(
        ["stage", "deals entered", "still in stage", "next stage", "conversion to next"], rows, numeric_from=1
    )


def _sla(f: Funnel) -> str:
    if f.sla.is_empty():
        return "<p class=muted>No MQLs (the leads source is absent or has no mql_at).</p>"
    sla = f.sla.with_columns(
        compliance=pl.when(pl.col("met") + pl.col("breached") > 0).then(pl.col("met") / (pl.col("met") + pl.col("breached")))
    )
    figure = go.Figure(go.Scatter(x=[str(w) for w in sla["mql_week"].to_list()], y=sla["compliance"].to_list(), mode="lines+markers"))
    figure.update_layout(yaxis_title="SLA compliance", yaxis_tickformat=".0%", xaxis_title="week the leads became MQL")
    met, breached, waiting = (int(sla[c].sum()) for c in ("met", "breached", "waiting"))
    cards = (
        f"<div class=cards><div class=card>SLA compliance<b id=sla-compliance>{_rate(met, met + breached)}</b></div>"
        f"<div class=card>met / breached / waiting<b>{met:,} / {breached:,} / {waiting:,}</b></div></div>"
    )
    return cards + _chart(figure, "chart-sla")


def _intervals(d: ReportData) -> str:
    if d.intervals.is_empty():
        return "<p class=muted>No data-driven model in this run, or --bootstrap-draws 0.</p>"
    first = d.intervals.row(0, named=True)
    rows = [
        "<tr>"
        + _cell(r["model"])
        + _cell(r["channel"])
        + _cell(_amount(r["credited_revenue"]), r["credited_revenue"], True)
        + _cell(_amount(r["lower"]), r["lower"], True)
        + _cell(_amount(r["upper"]), r["upper"], True)
        + "</tr>"
        for r in d.intervals.iter_rows(named=True)
    ]
    return (
        f"<p class=sub>Credited revenue over all months and its 90% interval: {first['draws']} bootstrap draws over deals "
        f"(seed {first['seed']}), the channel values learned again in each draw. A wide interval means the data do not "
        "settle that channel's value.</p>"
        + _table(
            ["model", "channel", f"credited revenue ({d.currency})", "5th percentile", "95th percentile"],
            rows,
            sortable=True,
            numeric_from=2,
        )
    )


def _pipeline(d: ReportData) -> str:
    """Pipeline created per channel under every model, and what became of it under the chosen one."""
    if d.pipeline.is_empty():
        return "<p class=muted>No pipeline created in these months.</p>"
    f = d.funnel
    scope = f"created {f.months[0]:%Y-%m} to {(f.months[1] - dt.timedelta(days=1)):%Y-%m}" if f.months else "created in any month"
    pivot = d.pipeline.pivot(on="model", index="channel", values="pipeline_created", aggregate_function="sum").fill_null(0.0)
    models = sorted(c for c in pivot.columns if c != "channel")
    pivot = pivot.sort(d.model if d.model in models else models[0], descending=True)
    comparison = [
        "<tr>" + _cell(row["channel"]) + "".join(_cell(_amount(row[m]), row[m], True) for m in models) + "</tr>"
        for row in pivot.iter_rows(named=True)
    ]
    chosen = d.pipeline.filter(pl.col("model") == d.model).sort("pipeline_created", descending=True)
    states = ("pipeline_created", "pipeline_open", "pipeline_won", "pipeline_lost")
    outcome = [
        "<tr>" + _cell(row["channel"]) + "".join(_cell(_amount(row[c]), row[c], True) for c in states) + "</tr>"
        for row in chosen.iter_rows(named=True)
    ]
    intro = f"<p class=muted>Every deal {scope}, open, won or lost, credited its amount over the touches before it was created.</p>"
    return (
        intro
        + _table(["channel", *(f"{m} ({d.currency})" for m in models)], comparison, sortable=True)
        + f"<h3>What became of it, model {html.escape(d.model)}</h3>"
        + _table(["channel", "created", "still open", "won", "lost"], outcome, sortable=True)
    )


def _snapshots(d: ReportData) -> str:
    """The frozen periods and why today's numbers differ from them."""
    if d.snapshots.is_empty():
        return "<p class=muted>No period is frozen yet: <code>attribution snapshot --period 2024-Q3</code> freezes one.</p>"
    frozen = [
        "<tr>"
        + _cell(row["snapshot_id"])
        + _cell(row["period"])
        + _cell(f"{row['frozen_at']:%Y-%m-%d %H:%M} UTC")
        + _cell(_amount(row["won_revenue"]), row["won_revenue"], True)
        + _cell(_amount(row["pipeline_created"]), row["pipeline_created"], True)
        + "</tr>"
        for row in d.snapshots.iter_rows(named=True)
    ]
    table = _table(["snapshot", "period", "frozen", "won revenue", "pipeline created"], frozen, numeric_from=3)
    if d.drift.is_empty():
        return table + "<p class=muted>No drift: every frozen figure still holds.</p>"
    drift = [
        "<tr>"
        + "".join(_cell(row[c]) for c in ("snapshot_id", "measure", "model", "reason"))
        + _cell(f"{row['deals']:,}", row["deals"], True)
        + _cell(_amount(row["drift_amount"]), row["drift_amount"], True)
        + "</tr>"
        for row in d.drift.iter_rows(named=True)
    ]
    by_reason = _table(["snapshot", "measure", "model", "reason", "deals", f"drift ({d.currency})"], drift, sortable=True, numeric_from=4)
    money = ("frozen_amount", "current_amount", "drift_amount")
    channels = [
        "<tr>"
        + "".join(_cell(row[c]) for c in ("snapshot_id", "measure", "model", "channel"))
        + "".join(_cell(_amount(row[c]), row[c], True) for c in money)
        + "</tr>"
        for row in d.drift_channels.iter_rows(named=True)
    ]
    deals = [
        "<tr>"
        + "".join(_cell(row[c]) for c in ("snapshot_id", "measure", "opportunity_id", "channel", "reason"))
        + "".join(_cell(_amount(row[c]), row[c], True) for c in money)
        + "</tr>"
        for row in d.drift_deals.iter_rows(named=True)
    ]
    amounts = [f"frozen ({d.currency})", f"now ({d.currency})", f"drift ({d.currency})"]
    return (
        table
        + "<h3>Why the numbers moved</h3>"
        + by_reason
        + "<h3>Frozen against now, per model and channel</h3>"
        + _table(["snapshot", "measure", "model", "channel", *amounts], channels, sortable=True, numeric_from=4)
        + f"<h3>The deals that moved most, model {html.escape(d.model)}</h3>"
        + _table(["snapshot", "measure", "deal", "channel", "reason", *amounts], deals, sortable=True, numeric_from=5)
    )


SECTIONS = (
    ("reconciliation", "Reconciliation", _reconciliation),
    ("channels", "Credited revenue by channel, every model", _channels),
    ("campaigns", "Campaigns: cost, credited revenue and ROAS per model", _campaigns),
    ("trend", "Monthly trend by channel", _trend),
    ("pipeline", "Pipeline created by channel, every model", _pipeline),
    ("snapshots", "Frozen periods and drift since", _snapshots),
    ("journeys", "Journeys of won deals", _journeys),
    ("intervals", "Data-driven models: how sure they are", _intervals),
    ("funnel", "Funnel: leads to revenue, pipeline sourcing, velocity and hand-off", _funnel_section),
    ("quality", "Data quality", _quality),
    ("provenance", "Run and parameters", _provenance),
)


def render(d: ReportData) -> str:
    """The whole page; plotly.js is inlined once, so nothing is fetched."""
    first, end = d.months
    last = (end - dt.timedelta(days=1)).replace(day=1)
    body = "".join(f"<section id={key}><h2>{html.escape(title)}</h2>{build(d)}</section>" for key, title, build in SECTIONS)
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f'<meta http-equiv=Content-Security-Policy content="{_CSP}">'
        "<meta name=viewport content='width=device-width, initial-scale=1'>"
        f"<title>Attribution report {first:%Y-%m} to {last:%Y-%m}</title><style>{_CSS}</style>"
        f"<script>{plotly.offline.get_plotlyjs()}</script></head><body>"
        f"<h1>Where revenue came from</h1><p class=sub>Deals closing {first:%Y-%m} to {last:%Y-%m}; "
        f"trend for model <b>{html.escape(d.model)}</b>; amounts in {html.escape(d.currency)}.</p>"
        f"{body}<script>{_SORT_JS}</script></body></html>"
    )


def write_report(url: str, out, model: str | None = None, first: dt.date | None = None, last: dt.date | None = None) -> ReportData:
    data = load(url, model, first, last)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(data), encoding="utf-8")
    return data


def summary_markdown(d: ReportData) -> str:
    """A few lines for the Dagster asset's metadata."""
    lines = [f"**{d.won_deals:,} won deals, {_money(d.won_cents / 100, d.currency)}** ({d.months[0]:%Y-%m} onwards)", ""]
    lines += [f"- {m}: {_money(c / 100, d.currency)}, unattributed {_money(u / 100, d.currency)}" for m, c, u in d.by_model.iter_rows()]
    return "\n".join(lines)


def screenshot(page, png, width: int = 1280, height: int = 2600) -> None:
    """The page as headless Chromium draws it (Debian's ``chromium`` package)."""
    import shutil
    import subprocess

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        raise RuntimeError("chromium is not installed (apt-get install chromium)")
    png.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--window-size={width},{height}",
            "--virtual-time-budget=5000",
            f"--screenshot={png.resolve()}",
            page.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0 or not png.exists():
        raise RuntimeError(f"chromium exited {done.returncode}: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ''}")
