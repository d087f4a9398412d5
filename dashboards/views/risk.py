"""Customer risk: the tiers, the new early warnings, the credit reviews, and one customer's story.

Reads the prediction marts (``dim_customer_risk``, ``fct_customer_risk_history``,
``fct_payment_predictions``, ``rpt_credit_review_queue``) from the published file. The queries sit
here rather than in ``dashboards/data.py`` only because they concern this page alone; they use the
same cached read-only connection.
"""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from dashboards import data
from dashboards import formatting as fmt
from dashboards.views import shared
from ingestion.erp_contracts import FUNCTIONAL_CURRENCY

TITLE = "Customer risk"
TIERS = ("critical", "high", "normal")
RISK_MARTS = (
    "dim_customer_risk",
    "fct_customer_risk_history",
    "fct_payment_predictions",
    "rpt_credit_review_queue",
)


@st.cache_data(ttl=data.QUERY_TTL_SECONDS, max_entries=data.QUERY_CACHE_ENTRIES, show_spinner=False)
def risk_customers(source: data.MartsSource) -> pd.DataFrame:
    """One row per customer, riskiest first."""
    return data._frame(
        source,
        f"""select customer_id, customer_name, collector_id, as_of_date, risk_tier, risk_score, trend,
                   shift_days, is_alerted, is_new_alert, alert_signals, previous_risk_tier,
                   open_amount_functional, overdue_amount_functional, expected_late_30_amount_functional,
                   expected_days_late, baseline_days_late, recent_days_late, reasons, drivers,
                   model_name, model_version
            from {data._mart("dim_customer_risk")}
            order by case risk_tier when 'critical' then 0 when 'high' then 1 else 2 end,
                     risk_score desc, customer_id""",
    )


@st.cache_data(ttl=data.QUERY_TTL_SECONDS, max_entries=data.QUERY_CACHE_ENTRIES, show_spinner=False)
def review_queue(source: data.MartsSource, limit: int = 25) -> pd.DataFrame:
    return data._frame(
        source,
        f"""select review_priority, customer_id, customer_name, review_category, risk_tier,
                   current_credit_limit_functional, recommended_credit_limit_functional, reasons
            from {data._mart("rpt_credit_review_queue")}
            where needs_review order by review_priority limit $limit""",
        {"limit": limit},
    )


@st.cache_data(ttl=data.QUERY_TTL_SECONDS, max_entries=data.QUERY_CACHE_ENTRIES, show_spinner=False)
def risk_history(source: data.MartsSource, customer_id: str) -> pd.DataFrame:
    return data._frame(
        source,
        f"""select as_of_date, risk_score, risk_tier, is_alerted, recent_days_late, baseline_days_late
            from {data._mart("fct_customer_risk_history")}
            where customer_id = $c order by as_of_date""",
        {"c": customer_id},
    )


@st.cache_data(ttl=data.QUERY_TTL_SECONDS, max_entries=data.QUERY_CACHE_ENTRIES, show_spinner=False)
def invoice_predictions(source: data.MartsSource, customer_id: str) -> pd.DataFrame:
    return data._frame(
        source,
        f"""select invoice_id, due_date, days_past_due, currency, open_amount, p10_pay_date, p50_pay_date,
                   p90_pay_date, p_paid_within_30, expected_bucket, top_driver, drivers
            from {data._mart("fct_payment_predictions")}
            where customer_id = $c order by due_date, invoice_id""",
        {"c": customer_id},
    )


def reasons_text(reasons: str | None) -> list[str]:
    """The evidence sentences of a reasons JSON list (empty when none)."""
    if not isinstance(reasons, str) or not reasons:
        return []
    return [str(r) for r in json.loads(reasons)]


def drivers_text(drivers: str | None) -> str:
    """'feature +3.1 d, feature -0.5 d': the SHAP drivers of a prediction in one line."""
    if not isinstance(drivers, str) or not drivers:
        return ""
    return ", ".join(f"{d['feature']} {d['effect_days']:+.1f} d" for d in json.loads(drivers))


def _label(row: pd.Series) -> str:
    return f"{row['customer_name'] or row['customer_id']} ({row['customer_id']}) · {row['risk_tier']} {row['risk_score']}"


def render() -> None:
    source = shared.require_source()
    with shared.friendly_errors():
        missing = [m for m in RISK_MARTS if f"{data.MARTS_SCHEMA}.{m}" not in data.published_tables(source)]
        st.title(TITLE)
        if missing:
            st.info(
                "No predictions published yet: the prediction step trains a payment model on the first "
                "run and scores every open invoice. Run `make run`, then reload this page."
            )
            return
        customers = risk_customers(source)
        if customers.empty:
            st.info("The prediction marts hold no customer yet.")
            return
        first = customers.iloc[0]
        st.caption(
            f"As of {first['as_of_date'].isoformat()} · model {first['model_name']} version {first['model_version']}"
        )
        _tiles(customers)
        left, right = st.columns([2, 3])
        with left:
            _tier_distribution(customers)
        with right:
            _new_alerts(customers)
        _reviews(source)
        _drill_down(source, customers)


def _tiles(customers: pd.DataFrame) -> None:
    counts = customers["risk_tier"].value_counts()
    tiles = st.columns(5)
    for tile, tier in zip(tiles, TIERS, strict=False):
        tile.metric(f"{tier.capitalize()} customers", int(counts.get(tier, 0)), border=True)
    tiles[3].metric(
        "New alerts",
        int(customers["is_new_alert"].sum()),
        help="Customers alerted today and not on the previous scoring day.",
        border=True,
    )
    tiles[4].metric(
        f"Expected 30+ days late ({FUNCTIONAL_CURRENCY})",
        fmt.money(sum(customers["expected_late_30_amount_functional"].dropna(), start=0)),
        help="Open amount times the probability of payment more than 30 days late, summed.",
        border=True,
    )


def _tier_distribution(customers: pd.DataFrame) -> None:
    st.subheader("Tier distribution")
    by_tier = (
        customers.groupby("risk_tier")
        .agg(
            customers=("customer_id", "count"),
            open_amount=("open_amount_functional", lambda s: sum(s.dropna(), start=0)),
        )
        .reindex(list(TIERS), fill_value=0)
    )
    # The chart only draws bars, so floats are fine there; the table keeps Decimal.
    st.bar_chart(
        pd.DataFrame({"Tier": list(TIERS), "Customers": by_tier["customers"].astype(int).to_list()}),
        x="Tier",
        y="Customers",
        sort=False,
        height=220,
    )
    st.dataframe(
        pd.DataFrame(
            {
                "Tier": list(TIERS),
                "Customers": by_tier["customers"].astype(int).to_list(),
                "Open AR": [fmt.money(v) for v in by_tier["open_amount"]],
            }
        ),
        hide_index=True,
        column_config={"Open AR": st.column_config.TextColumn(alignment="right")},
    )


def _new_alerts(customers: pd.DataFrame) -> None:
    st.subheader("New alerts")
    alerts = customers[customers["is_new_alert"].astype(bool)]
    if alerts.empty:
        st.write("No new early warning since the previous scoring day.")
        return
    st.dataframe(
        pd.DataFrame(
            {
                "Customer": alerts["customer_name"].fillna(alerts["customer_id"]).to_list(),
                "Tier": alerts["risk_tier"].to_list(),
                "Score": [fmt.number(v) for v in alerts["risk_score"]],
                "Signals": alerts["alert_signals"].fillna("").to_list(),
                "Evidence": [next(iter(reasons_text(r)), "") for r in alerts["reasons"]],
            }
        ),
        hide_index=True,
    )


def _reviews(source: data.MartsSource) -> None:
    st.subheader("Credit reviews")
    queue = review_queue(source)
    if queue.empty:
        st.write("No credit limit needs a review.")
        return
    st.dataframe(
        pd.DataFrame(
            {
                "Priority": queue["review_priority"].to_list(),
                "Customer": queue["customer_name"].fillna(queue["customer_id"]).to_list(),
                "Suggestion": queue["review_category"].to_list(),
                "Tier": queue["risk_tier"].to_list(),
                "Current limit": [fmt.money(v) for v in queue["current_credit_limit_functional"]],
                "Recommended": [fmt.money(v) for v in queue["recommended_credit_limit_functional"]],
                "Why": [next(iter(reasons_text(r)), "") for r in queue["reasons"]],
            }
        ),
        hide_index=True,
        column_config={
            "Current limit": st.column_config.TextColumn(alignment="right"),
            "Recommended": st.column_config.TextColumn(alignment="right"),
        },
    )


def _drill_down(source: data.MartsSource, customers: pd.DataFrame) -> None:
    st.subheader("Customer")
    labels = {row["customer_id"]: _label(row) for _, row in customers.iterrows()}
    customer_id = st.selectbox("Customer", list(labels), format_func=labels.get, key="risk_customer")
    row = customers.set_index("customer_id").loc[customer_id]
    tiles = st.columns(4)
    tiles[0].metric("Tier", row["risk_tier"], border=True)
    tiles[1].metric("Score", fmt.number(row["risk_score"]), border=True)
    tiles[2].metric(
        "Days late, recent vs usual",
        f"{fmt.days(row['recent_days_late'])} vs {fmt.days(row['baseline_days_late'])}",
        help="Mean days late of the last 90 days' settlements against the customer's own baseline median.",
        border=True,
    )
    tiles[3].metric("Trend", row["trend"] or "", border=True)
    reasons = reasons_text(row["reasons"])
    if reasons:
        st.markdown("**Why**\n" + "\n".join(f"- {r}" for r in reasons))
    if drivers_text(row["drivers"]):
        st.caption(f"Top drivers of its predictions: {drivers_text(row['drivers'])}")
    history = risk_history(source, customer_id)
    if len(history) > 1:
        st.line_chart(
            pd.DataFrame(
                {
                    "Day": history["as_of_date"],
                    "Score": [float(v) for v in history["risk_score"]],
                }
            ),
            x="Day",
            y="Score",
            height=200,
        )
    predictions = invoice_predictions(source, customer_id)
    if predictions.empty:
        st.write("No open invoice.")
        return
    st.dataframe(
        pd.DataFrame(
            {
                "Invoice": predictions["invoice_id"].to_list(),
                "Due": predictions["due_date"].to_list(),
                "Days past due": predictions["days_past_due"].to_list(),
                "Open": [
                    fmt.money(v, c)
                    for v, c in zip(predictions["open_amount"], predictions["currency"], strict=True)
                ],
                "Most likely paid": predictions["p50_pay_date"].to_list(),
                "Range": [
                    f"{a.isoformat() if pd.notna(a) else '…'} – {b.isoformat() if pd.notna(b) else 'not in 120 days'}"
                    for a, b in zip(predictions["p10_pay_date"], predictions["p90_pay_date"], strict=True)
                ],
                "Paid within 30 d": [fmt.percent(v) for v in predictions["p_paid_within_30"]],
                "Why": [drivers_text(d) for d in predictions["drivers"]],
            }
        ),
        hide_index=True,
        column_config={"Open": st.column_config.TextColumn(alignment="right")},
    )
