"""The customer risk page in AppTest, against published fixture marts with known risk rows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dashboard_marts_fixture as fx
import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from orchestration.publishing import publish_marts
from orchestration.settings import Settings, load_settings

D19, D20 = dt.date(2026, 11, 19), dt.date(2026, 11, 20)
REASON = "pays 12.0 days later than its usual 3.0 over 4 recent settlements"


def _risk_page():
    from dashboards.views import risk

    risk.render()


def _add_risk_marts(path: Path) -> None:
    con = duckdb.connect(str(path))
    try:
        con.execute(f"""
            create table {fx.MARTS}.dim_customer_risk as select * from (values
                ('C1', 'Acme', 'COL1', date '{D20}', 'critical', 81.5::decimal(5,1), 'worsening', 12.0::decimal(7,1),
                 true, true, 'paying_later,aging', 'normal', 5000.00::decimal(18,2), 4000.00::decimal(18,2),
                 3500.25::decimal(18,2), 40.0::decimal(7,1), 3.0::decimal(7,1), 15.0::decimal(7,1),
                 '["{REASON}"]', '[{{"feature": "dl_recent_mean", "value": 15.0, "effect_days": 9.5}}]',
                 'openar_payment_days', '4'),
                ('C2', 'Bolt', 'COL1', date '{D20}', 'high', 40.0::decimal(5,1), 'stable', 1.0::decimal(7,1),
                 true, false, 'aging', 'high', 2000.00::decimal(18,2), 500.00::decimal(18,2),
                 100.00::decimal(18,2), 8.0::decimal(7,1), 6.0::decimal(7,1), 7.0::decimal(7,1),
                 '["overdue invoices age beyond habit"]', null, 'openar_payment_days', '4'),
                ('C3', 'Cork', 'COL2', date '{D20}', 'normal', 5.0::decimal(5,1), 'stable', 0.0::decimal(7,1),
                 false, false, null, 'normal', 1000.00::decimal(18,2), 0.00::decimal(18,2),
                 0.00::decimal(18,2), 1.0::decimal(7,1), 1.0::decimal(7,1), 1.0::decimal(7,1),
                 '[]', null, 'openar_payment_days', '4')
            ) t(customer_id, customer_name, collector_id, as_of_date, risk_tier, risk_score, trend, shift_days,
                is_alerted, is_new_alert, alert_signals, previous_risk_tier, open_amount_functional,
                overdue_amount_functional, expected_late_30_amount_functional, expected_days_late,
                baseline_days_late, recent_days_late, reasons, drivers, model_name, model_version)
        """)
        con.execute(f"""
            create table {fx.MARTS}.fct_customer_risk_history as select * from (values
                (date '{D19}', 'C1', 'high', 50.0::decimal(5,1), false, 10.0::decimal(7,1), 3.0::decimal(7,1)),
                (date '{D20}', 'C1', 'critical', 81.5::decimal(5,1), true, 15.0::decimal(7,1), 3.0::decimal(7,1))
            ) t(as_of_date, customer_id, risk_tier, risk_score, is_alerted, recent_days_late, baseline_days_late)
        """)
        con.execute(f"""
            create table {fx.MARTS}.fct_payment_predictions as select * from (values
                ('INV-1', 'C1', date '2026-10-31', 20, 'USD', 3000.00::decimal(18,2), date '2026-11-25',
                 date '2026-12-10', null::date, 0.4000::decimal(5,4), '31-60', 'days_past_due',
                 '[{{"feature": "days_past_due", "value": 20, "effect_days": 6.2}}]')
            ) t(invoice_id, customer_id, due_date, days_past_due, currency, open_amount, p10_pay_date,
                p50_pay_date, p90_pay_date, p_paid_within_30, expected_bucket, top_driver, drivers)
        """)
        con.execute(f"""
            create table {fx.MARTS}.rpt_credit_review_queue as select * from (values
                (1, 'C1', 'Acme', 'hold', 'critical', 10000.00::decimal(18,2), 6000.00::decimal(18,2),
                 '["critical risk: stop new credit until the overdue balance is collected"]', true),
                (2, 'C3', 'Cork', 'maintain', 'normal', 5000.00::decimal(18,2), 5000.00::decimal(18,2), '[]', false)
            ) t(review_priority, customer_id, customer_name, review_category, risk_tier,
                current_credit_limit_functional, recommended_credit_limit_functional, reasons, needs_review)
        """)
    finally:
        con.close()


def _publish(data_dir: Path, *, risk: bool) -> Settings:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OPENAR_DATA_DIR", str(data_dir))
        settings = load_settings()
    warehouse = fx.build_warehouse(settings.warehouse_path)
    if risk:
        _add_risk_marts(warehouse)
    publish_marts(warehouse, settings.published_path)
    return settings


def _run(monkeypatch, settings: Settings) -> AppTest:
    monkeypatch.setenv("OPENAR_DATA_DIR", str(settings.data_dir))
    at = AppTest.from_function(_risk_page, default_timeout=30).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _frame(at: AppTest, first_column: str):
    return next(df.value for df in at.dataframe if df.value.columns[0] == first_column)


def test_tiers_alerts_reviews_and_drill_down(tmp_path, monkeypatch):
    at = _run(monkeypatch, _publish(tmp_path / "data", risk=True))
    assert [t.value for t in at.title] == ["Customer risk"]
    assert "As of 2026-11-20 · model openar_payment_days version 4" in at.caption[0].value
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Critical customers"] == "1" and metrics["High customers"] == "1"
    assert metrics["Normal customers"] == "1" and metrics["New alerts"] == "1"
    assert metrics["Expected 30+ days late (USD)"] == "$3,600.25"
    assert _frame(at, "Tier").to_dict("records") == [
        {"Tier": "critical", "Customers": 1, "Open AR": "$5,000.00"},
        {"Tier": "high", "Customers": 1, "Open AR": "$2,000.00"},
        {"Tier": "normal", "Customers": 1, "Open AR": "$1,000.00"},
    ]
    alerts = _frame(at, "Customer")  # new alerts come first: C1 only (C2's alert is not new)
    assert alerts["Customer"].to_list() == ["Acme"] and alerts["Evidence"].to_list() == [REASON]
    reviews = _frame(at, "Priority")
    assert reviews["Suggestion"].to_list() == ["hold"] and reviews["Recommended"].to_list() == ["$6,000.00"]

    # the drill-down opens on the riskiest customer: its reasons, drivers and open invoice
    assert at.selectbox(key="risk_customer").value == "C1"
    assert any(REASON in m.value for m in at.markdown)
    assert "dl_recent_mean +9.5 d" in " ".join(c.value for c in at.caption)
    invoices = _frame(at, "Invoice")
    assert invoices.to_dict("records")[0] | {} == {
        "Invoice": "INV-1",
        "Due": dt.date(2026, 10, 31),
        "Days past due": 20,
        "Open": "$3,000.00",
        "Most likely paid": dt.date(2026, 12, 10),
        "Range": "2026-11-25 – not in 120 days",
        "Paid within 30 d": "40.0%",
        "Why": "days_past_due +6.2 d",
    }

    at.selectbox(key="risk_customer").set_value("C3").run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Tier"] == "normal"
    assert any(t.value == "No open invoice." for t in at.markdown)


def test_without_prediction_marts_the_page_says_what_to_run(tmp_path, monkeypatch):
    at = _run(monkeypatch, _publish(tmp_path / "data", risk=False))
    assert [t.value for t in at.title] == ["Customer risk"]
    assert "No predictions published yet" in at.info[0].value
