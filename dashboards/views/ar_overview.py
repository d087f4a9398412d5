"""AR overview: how much is open, how old it is, how fast it is collected, and who owes the most."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import data
from dashboards import formatting as fmt
from dashboards.views import shared
from ingestion.erp_contracts import FUNCTIONAL_CURRENCY

TITLE = "AR overview"


def _kpi_tiles(summary: data.AgingSummary, kpis: dict | None, filtered: bool) -> None:
    company = " (company-wide: the KPI mart is not split by the filters)" if filtered else ""
    # The exact open AR needs about twice the width of a percentage to show without an ellipsis.
    tiles = st.columns([2, 1, 1, 1, 1])
    document_note = (
        f"{fmt.money(summary.document_total, summary.document_currency)} in {summary.document_currency}"
        if summary.document_currency
        else None
    )
    tiles[0].metric(
        f"Open AR ({FUNCTIONAL_CURRENCY})",
        fmt.money(summary.total),
        help=f"Open balance of {summary.customers} customers, converted at each item's FX rate."
        + (f" {document_note}." if document_note else ""),
        border=True,
    )
    tiles[1].metric(
        "% current",
        fmt.percent(fmt.ratio(summary.current, summary.total)),
        help="Share of open AR not yet due.",
        border=True,
    )
    tiles[2].metric(
        "Share over 90",
        fmt.percent(fmt.ratio(summary.over_90, summary.total)),
        help="Share of open AR more than 90 days past due.",
        border=True,
    )
    dso = kpis.get("dso_standard") if kpis else None
    countback = kpis.get("dso_countback") if kpis else None
    tiles[3].metric(
        "DSO (days)",
        fmt.number(dso),
        border=True,
        help=f"Standard DSO; countback DSO {fmt.days(countback)}{company}.",
    )
    tiles[4].metric(
        "CEI",
        fmt.percent_points(kpis.get("cei_pct") if kpis else None),
        border=True,
        help=f"Collection effectiveness index{company}.",
    )


def _aging_section(summary: data.AgingSummary) -> None:
    st.subheader("Aging by bucket")
    left, right = st.columns([3, 2])
    # The chart only draws bars, so floats are fine there; the figures beside it stay Decimal.
    chart = pd.DataFrame(
        {
            "Bucket": list(summary.buckets),
            f"Open AR ({FUNCTIONAL_CURRENCY})": [float(v) for v in summary.buckets.values()],
        }
    )
    left.bar_chart(chart, x="Bucket", y=f"Open AR ({FUNCTIONAL_CURRENCY})", sort=False, height=280)
    table = pd.DataFrame(
        {
            "Bucket": list(summary.buckets),
            "Open AR": [fmt.money(v) for v in summary.buckets.values()],
            "Share": [fmt.percent(fmt.ratio(v, summary.total)) for v in summary.buckets.values()],
        }
    )
    table.loc[len(table)] = [
        "Total",
        fmt.money(summary.total),
        fmt.percent(fmt.ratio(summary.total, summary.total)),
    ]
    right.dataframe(
        table,
        hide_index=True,
        column_config={
            "Open AR": st.column_config.TextColumn(alignment="right"),
            "Share": st.column_config.TextColumn(alignment="right"),
        },
    )


def _trend_section(trend: pd.DataFrame) -> None:
    st.subheader("DSO and CEI trend")
    if trend.empty:
        st.info("No KPI history in the marts yet.")
        return
    left, right = st.columns(2)
    dso = (
        trend[["dso_standard", "dso_countback", "best_possible_dso"]]
        .astype(float)
        .rename(
            columns={
                "dso_standard": "DSO (standard)",
                "dso_countback": "DSO (countback)",
                "best_possible_dso": "Best possible DSO",
            }
        )
    )
    left.line_chart(dso, y_label="days", height=280)
    cei = trend[["cei_pct"]].astype(float).rename(columns={"cei_pct": "CEI %"})
    right.line_chart(cei, y_label="CEI (%)", height=280)


def _top_customers_section(top: pd.DataFrame) -> None:
    st.subheader("Top customers by past-due AR")
    if top.empty:
        st.success("No past-due AR for this selection.")
        return
    amounts = {
        "open_functional": "Open AR",
        "past_due_functional": "Past due",
        "over_90_functional": "Over 90",
    }
    shown = pd.DataFrame(
        {
            "Customer": top["customer_name"],
            "Top parent": top["top_parent_customer_name"],
            "Collector": top["collector_name"],
            "Currencies": top["currencies"],
            **{label: top[col].map(fmt.money) for col, label in amounts.items()},
        }
    )
    st.dataframe(
        shown,
        hide_index=True,
        column_config={label: st.column_config.TextColumn(alignment="right") for label in amounts.values()},
    )


def render() -> None:
    source = shared.require_source()
    with shared.friendly_errors():
        selection = shared.sidebar_filters(source)
        st.title(TITLE)
        if selection is None:
            st.info("The published marts hold no open AR yet.")
            return
        as_of, filters = selection
        summary = data.aging_summary(source, as_of, filters)
        kpis = data.kpis(source, as_of)
        items = data.open_items_summary(source, as_of, filters)
        published = data.published_at(source)
        st.caption(
            f"As of {as_of.isoformat()} · amounts in {FUNCTIONAL_CURRENCY} (functional currency) · "
            f"{items.items:,} open items, {items.disputed_items:,} disputed "
            f"({fmt.money(items.disputed_functional)})"
            + (f" · published {published:%Y-%m-%d %H:%M %Z}" if published else "")
        )
        _kpi_tiles(summary, kpis, filters.active)
        _aging_section(summary)
        _trend_section(data.kpi_trend(source, as_of))
        _top_customers_section(data.top_overdue_customers(source, as_of, filters))
