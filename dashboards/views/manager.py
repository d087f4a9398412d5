"""Collections manager: the 13-week cash forecast (all receipts: open AR + invoices not issued yet) with
its calibrated band, each past forecast against the cash that came (alerts), the collectors' scheduled
workload, and a what-if.

Reads the published marts only. The what-if runs ``ml.collections.whatif.whatif_from_published`` on
the published invoice-level predictions (``fct_payment_predictions``): it moves the chosen customers'
payment distributions and reports the change against the same base, without the warehouse.
"""

from __future__ import annotations

from decimal import Decimal

import altair as alt
import pandas as pd
import streamlit as st

from dashboards import data
from dashboards import formatting as fmt
from dashboards.views import shared
from ml.collections.whatif import PUBLISHED_PREDICTION_COLUMNS, whatif_from_published

TITLE = "Collections manager"
FORECAST_MART = "rpt_cash_forecast_weekly"
VS_ACTUAL_MART = "rpt_cash_forecast_vs_actual"
WORKLIST_MART = "rpt_collector_worklist"
PREDICTIONS_MART = "fct_payment_predictions"


def _has(source: data.MartsSource, mart: str) -> bool:
    return f"{data.MARTS_SCHEMA}.{mart}" in data.published_tables(source)


@st.cache_data(ttl=data.QUERY_TTL_SECONDS, max_entries=data.QUERY_CACHE_ENTRIES, show_spinner=False)
def latest_forecast(source: data.MartsSource) -> pd.DataFrame:
    m = data._mart(FORECAST_MART)
    return data._frame(
        source, f"select * from {m} where as_of_date = (select max(as_of_date) from {m}) order by week_number"
    )


@st.cache_data(ttl=data.QUERY_TTL_SECONDS, max_entries=data.QUERY_CACHE_ENTRIES, show_spinner=False)
def forecast_vs_actual(source: data.MartsSource) -> pd.DataFrame:
    return data._frame(
        source, f"select * from {data._mart(VS_ACTUAL_MART)} order by as_of_date desc, week_number"
    )


@st.cache_data(ttl=data.QUERY_TTL_SECONDS, max_entries=data.QUERY_CACHE_ENTRIES, show_spinner=False)
def scheduled_workload(source: data.MartsSource) -> pd.DataFrame:
    """Actions of the latest worklist per scheduled work day, collector and action (rolled-over
    items land on later days: the backlog the current capacity implies)."""
    return data._frame(
        source,
        f"""select scheduled_for, coalesce(collector_name, collector_id) as collector, action, count(*) as actions
            from {data._mart(WORKLIST_MART)} where scheduled_for is not null
            group by all order by all""",
    )


@st.cache_data(ttl=data.QUERY_TTL_SECONDS, max_entries=data.QUERY_CACHE_ENTRIES, show_spinner=False)
def published_predictions(source: data.MartsSource) -> pd.DataFrame:
    m = data._mart(PREDICTIONS_MART)
    return data._frame(
        source,
        f"""select customer_name, as_of_date, {", ".join(PUBLISHED_PREDICTION_COLUMNS)} from {m}
            where is_open_in_ledger and as_of_date = (select max(as_of_date) from {m})""",
    )


@st.cache_data(ttl=data.QUERY_TTL_SECONDS, max_entries=32, show_spinner=False)
def run_whatif(source: data.MartsSource, delay_top: int, days: int, defaults: tuple[str, ...]):
    preds = published_predictions(source)
    as_of = preds["as_of_date"].max()
    return whatif_from_published(preds, as_of, delay_top=delay_top, days=days, defaults=defaults)


def _money_minor(minor: int) -> str:
    return fmt.money(Decimal(int(minor)).scaleb(-2))


SCOPE_TEXT = {
    "open_ar_and_new_business": "All receipts expected: cash from the invoices open today plus cash from "
    "invoices not issued yet (each customer's invoicing run-rate × its usual pay lag).",
    "open_ar": "Cash from the invoices open today only: invoices issued later are not included.",
}


def _forecast(fc: pd.DataFrame) -> None:
    st.subheader(f"Cash forecast, 13 weeks from {fc['as_of_date'].iloc[0]}")
    scope = fc["forecast_scope"].iloc[0] if "forecast_scope" in fc.columns else "open_ar"
    st.caption(
        SCOPE_TEXT.get(scope, scope)
        + " Low–high: a band calibrated on past forecasts' errors to hold about 80% of weeks."
    )
    total = {
        c: sum(fc[c], Decimal("0.00"))
        for c in ("low_amount_functional", "expected_amount_functional", "high_amount_functional")
    }
    tiles = st.columns(3)
    tiles[0].metric("Expected, 13 weeks", fmt.money(total["expected_amount_functional"]), border=True)
    tiles[1].metric("Low (P10 weeks summed)", fmt.money(total["low_amount_functional"]), border=True)
    tiles[2].metric("High (P90 weeks summed)", fmt.money(total["high_amount_functional"]), border=True)
    if "open_ar_expected_amount_functional" in fc.columns:
        split = st.columns(2)
        split[0].metric(
            "of which open AR today",
            fmt.money(sum(fc["open_ar_expected_amount_functional"], Decimal("0.00"))),
            border=True,
        )
        split[1].metric(
            "of which invoices not issued yet",
            fmt.money(sum(fc["new_business_expected_amount_functional"], Decimal("0.00"))),
            border=True,
        )
    chart = pd.DataFrame(
        {
            "Week from": pd.to_datetime(fc["week_start"]),
            "Low": fc["low_amount_functional"].map(float),
            "Expected": fc["expected_amount_functional"].map(float),
            "High": fc["high_amount_functional"].map(float),
        }
    )
    base = alt.Chart(chart).encode(x=alt.X("Week from:T"))
    band = base.mark_area(opacity=0.25).encode(y=alt.Y("Low:Q", title="Cash (USD)"), y2="High:Q")
    line = base.mark_line(point=True).encode(
        y="Expected:Q", tooltip=["Week from:T", "Low:Q", "Expected:Q", "High:Q"]
    )
    st.altair_chart(band + line, use_container_width=True)


def _vs_actual(va: pd.DataFrame) -> None:
    st.subheader("Forecast vs actual")
    st.caption(
        "Actual: all cash applied to invoices in the week (including invoices issued after the forecast), "
        "at the forecast day's exchange rates; the open-AR columns compare the part from invoices open then."
    )
    if va.empty:
        st.info("No past forecast has reached a week yet.")
        return
    complete = va[va["is_complete"]]
    alerts = complete[complete["is_alert"]]
    threshold = va["alert_threshold_pct"].iloc[0]
    tiles = st.columns(3)
    tiles[0].metric("Past forecasts", f"{va['as_of_date'].nunique():,}", border=True)
    tiles[1].metric(f"Weeks off by more than {threshold:.0f}%", f"{len(alerts):,}", border=True)
    inside = int(complete["is_within_band"].sum())
    tiles[2].metric(
        "Weeks inside the band",
        fmt.percent(inside / len(complete)) if len(complete) else fmt.EMPTY,
        border=True,
    )
    if len(alerts):
        st.warning(
            f"{len(alerts)} week(s) deviated by more than {threshold:.0f}% from their forecast; the largest: "
            + ", ".join(
                f"week {r.week_number} of the forecast as of {r.as_of_date} ({r.deviation_pct:+.1f}%)"
                for r in alerts.reindex(alerts["deviation_pct"].abs().sort_values(ascending=False).index)
                .head(3)
                .itertuples()
            )
        )
    origins = sorted(va["as_of_date"].unique(), reverse=True)
    origin = st.selectbox(
        "Forecast as of", origins, format_func=lambda d: d.isoformat(), key="manager_origin"
    )
    one = va[va["as_of_date"] == origin]
    st.dataframe(
        pd.DataFrame(
            {
                "Week": one["week_number"],
                "From": one["week_start"],
                "To": one["week_end"],
                "Expected": one["expected_amount_functional"].map(fmt.money),
                "Band": [
                    f"{fmt.money(lo)} – {fmt.money(hi)}"
                    for lo, hi in zip(
                        one["low_amount_functional"], one["high_amount_functional"], strict=True
                    )
                ],
                "Actual": one["actual_amount_functional"].map(fmt.money),
                **(
                    {
                        "Open AR: expected": one["open_ar_expected_amount_functional"].map(fmt.money),
                        "Open AR: actual": one["actual_open_ar_amount_functional"].map(fmt.money),
                    }
                    if "actual_open_ar_amount_functional" in one.columns
                    else {}
                ),
                "Deviation": one["deviation_pct"].map(
                    lambda v: fmt.EMPTY if v is None or pd.isna(v) else f"{v:+.1f}%"
                ),
                "Complete": one["is_complete"].map(lambda v: "yes" if v else "so far"),
                "Alert": one["is_alert"].map(lambda v: "⚠" if v else ""),
            }
        ),
        hide_index=True,
    )


def _workload(wl: pd.DataFrame) -> None:
    st.subheader("Workload: actions scheduled per day")
    if wl.empty:
        st.info("Nothing is scheduled.")
        return
    pivot = wl.pivot_table(
        index=["scheduled_for", "collector"], columns="action", values="actions", aggfunc="sum", fill_value=0
    )
    st.dataframe(pivot.reset_index(), hide_index=True)


def _whatif(source: data.MartsSource) -> None:
    st.subheader("What-if")
    preds = published_predictions(source)
    if preds.empty:
        st.info("No open invoice with a prediction is published: the what-if needs the payment predictions.")
        return
    customers = (
        preds.assign(open_f=preds["open_amount_functional"])
        .groupby("customer_id")
        .agg(name=("customer_name", "first"), open_f=("open_f", "sum"))
        .sort_values("open_f", ascending=False)
    )
    left, mid, right = st.columns(3)
    top = left.number_input("Largest customers", min_value=0, max_value=50, value=3, step=1, key="whatif_top")
    days = mid.number_input(
        "pay later by (days)", min_value=0, max_value=120, value=30, step=5, key="whatif_days"
    )
    defaults = right.multiselect(
        "…or default",
        list(customers.index),
        format_func=lambda c: f"{customers.loc[c, 'name'] or c} ({c})",
        key="whatif_defaults",
    )
    if not (top and days) and not defaults:
        st.caption("Pick a delay or a customer that defaults.")
        return
    try:
        w = run_whatif(source, int(top), int(days), tuple(defaults))
    except ValueError as exc:
        st.error(str(exc))
        return
    st.markdown(f"**{w.description}** ({', '.join(w.customers)})")
    tiles = st.columns(len(w.totals))
    for tile, r in zip(tiles, w.totals.itertuples(index=False), strict=True):
        tile.metric(
            f"Next {r.period_days} days",
            _money_minor(r.scenario_expected_minor),
            delta=_money_minor(r.delta_minor),
            border=True,
        )
    st.dataframe(
        pd.DataFrame(
            {
                "Week from": w.weekly["week_start"],
                "Base": w.weekly["base_expected_minor"].map(_money_minor),
                "Scenario": w.weekly["scenario_expected_minor"].map(_money_minor),
                "Change": w.weekly["delta_minor"].map(_money_minor),
            }
        ),
        hide_index=True,
    )


def render() -> None:
    source = shared.require_source()
    st.title(TITLE)
    with shared.friendly_errors():
        if not _has(source, FORECAST_MART):
            st.info(
                "No cash forecast has been published yet: run `make run` (the collections stage builds it)."
            )
            return
        fc = latest_forecast(source)
        if fc.empty:
            st.info("The cash forecast is empty.")
            return
        _forecast(fc)
        _vs_actual(forecast_vs_actual(source) if _has(source, VS_ACTUAL_MART) else pd.DataFrame())
        if _has(source, WORKLIST_MART):
            _workload(scheduled_workload(source))
        if _has(source, PREDICTIONS_MART):
            _whatif(source)
