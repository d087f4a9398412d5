"""The collections marts the collector and manager pages read, hand-made on top of the dashboard fixture
warehouse (``tests/dashboards/dashboard_marts_fixture.py``: customers C001-C004, collectors COL1 Alice
Ng and COL2 Ben Ortiz, open items at AS_OF 2026-11-20), with known figures:

- worklist for Monday 2026-11-23: Ben Ortiz calls Cobalt Inc (rank 1, 215,044.44 overdue) and e-mails
  Borealis Ltd (rank 2); Alice Ng escalates Acme Corp (85,000.00), Acme Europe GmbH is postponed.
- latest weekly forecast (as of AS_OF): week w expects 100,000.00 * (14 - w), low 80%, high 120%;
  13 weeks 9,100,000.00 expected.
- the forecast as of 2026-10-23 against actuals: weeks 1-4 complete, week 3 off by -40% (the one alert).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import duckdb

AS_OF = dt.date(2026, 11, 20)
WORKLIST_DATE = dt.date(2026, 11, 23)
PAST_ORIGIN = dt.date(2026, 10, 23)
TOTAL_13W_EXPECTED = Decimal("9100000.00")

WORKLIST = [
    # collector, name, customer, customer name, action, channel, status, rank, overdue, days, tier, tone
    ("COL2", "Ben Ortiz", "C004", "Cobalt Inc", "call", "phone", "today", 1, "215044.44", 45, "high", "firm"),
    ("COL2", "Ben Ortiz", "C003", "Borealis Ltd", "reminder_email", "email", "today", 2, "25000.00", 150, "normal", "firm"),
    ("COL1", "Alice Ng", "C001", "Acme Corp", "escalation", "phone", "today", 1, "85000.00", 150, "critical", "firm"),
    ("COL1", "Alice Ng", "C002", "Acme Europe GmbH", "postpone", None, "postponed", None, "16200.00", 75, "normal", "friendly"),
]  # fmt: skip


def _weekly(origin: dt.date, factor: Decimal = Decimal(1)) -> list[tuple]:
    rows = []
    for w in range(1, 14):
        start = origin + dt.timedelta(days=7 * (w - 1) + 1)
        expected = Decimal("100000.00") * (14 - w) * factor
        rows.append(
            (
                origin,
                w,
                start,
                start + dt.timedelta(days=6),
                expected * Decimal("0.8"),
                expected,
                expected * Decimal("1.2"),
            )
        )
    return rows


def add_collections_marts(path: Path) -> Path:
    con = duckdb.connect(str(path))
    try:
        con.execute(
            """create table marts.rpt_collector_worklist (
                as_of_date date, worklist_date date, collector_id varchar, collector_name varchar,
                customer_id varchar, customer_name varchar, segment varchar, risk_tier varchar, action varchar,
                channel varchar, reason varchar, status varchar, queue_rank integer, scheduled_for date,
                priority decimal(18, 2), overdue_amount_functional decimal(18, 2),
                at_risk_amount_functional decimal(18, 2), p_contact_changes_outcome decimal(9, 6),
                max_days_overdue integer, overdue_invoices varchar, tone varchar, best_weekday varchar,
                best_hour integer, currency varchar, email_to varchar, email_subject varchar, email_body varchar)"""
        )
        for col, cname, cid, name, action, channel, status, rank, overdue, days, tier, tone in WORKLIST:
            email = action == "reminder_email"
            con.execute(
                "insert into marts.rpt_collector_worklist values "
                "(?, ?, ?, ?, ?, ?, 'smb', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0.3, ?, '', ?, 'Tue', 10, 'USD', ?, ?, ?)",
                [
                    AS_OF, WORKLIST_DATE, col, cname, cid, name, tier, action, channel,
                    f"{days} days overdue" if action != "postpone" else "promise to pay pending, due 2026-11-25",
                    status, rank, WORKLIST_DATE if rank else None, Decimal(overdue) / 10 if rank else Decimal(0),
                    Decimal(overdue), Decimal(overdue) / 2, days, tone,
                    f"ap@{cid.lower()}.example" if email else None,
                    f"Overdue invoices of {name}" if email else None,
                    f"Dear {name},\nplease pay." if email else None,
                ],
            )  # fmt: skip
        con.execute(
            """create table marts.fct_payment_predictions as
            select as_of_date, item_id as invoice_id, customer_id, null::varchar as customer_name, collector_id,
                currency, document_date as invoice_date, due_date, days_past_due, original_amount as invoice_amount,
                open_amount_functional as invoice_amount_functional, open_amount, open_amount_functional,
                true as is_open_in_ledger,
                5.0::double as p10_days_late, 12.0::double as p50_days_late, 40.0::double as p90_days_late,
                (greatest(due_date, as_of_date + 1) + 2)::date as p10_pay_date,
                (greatest(due_date, as_of_date + 1) + 9)::date as p50_pay_date,
                (greatest(due_date, as_of_date + 1) + 37)::date as p90_pay_date,
                0.2::double as p_paid_by_due, 0.7::double as p_paid_within_30, 0.85::double as p_paid_within_60,
                0.92::double as p_paid_within_90, 0.3::double as p_late_over_30, 'days_past_due' as top_driver
            from marts.fct_ar_open_items where as_of_date = ? and item_type = 'invoice'""",
            [AS_OF],
        )
        con.execute(
            """create table marts.rpt_collections_customer_history (
                event_id varchar, event_kind varchar, customer_id varchar, event_at timestamp, event_type varchar,
                status varchar, currency varchar, amount decimal(18, 2), summary varchar)"""
        )
        con.execute(
            """insert into marts.rpt_collections_customer_history values
            ('A1', 'contact', 'C004', '2026-11-10 10:00', 'call', 'no_answer', null, null, 'tried the AP line'),
            ('P1', 'promise', 'C004', '2026-10-01 00:00', 'promise_to_pay', 'broken', 'USD', 50000.00, 'pay by 2026-10-15'),
            ('M1', 'message', 'C004', '2026-11-12 08:30', 'message', null, null, null,
             'Re: overdue — we are waiting for the approval of INV-4002')"""
        )
        weekly = (
            "as_of_date date, week_number integer, week_start date, week_end date, "
            "low_amount_functional decimal(18, 2), expected_amount_functional decimal(18, 2), "
            "high_amount_functional decimal(18, 2)"
        )
        con.execute(f"create table marts.rpt_cash_forecast_weekly ({weekly})")
        con.executemany(
            "insert into marts.rpt_cash_forecast_weekly values (?, ?, ?, ?, ?, ?, ?)",
            _weekly(AS_OF) + _weekly(PAST_ORIGIN),
        )
        con.execute(
            f"""create table marts.rpt_cash_forecast_vs_actual ({weekly}, is_complete boolean,
                actual_amount_functional decimal(18, 2), deviation_amount_functional decimal(18, 2),
                deviation_pct decimal(18, 2), is_within_band boolean, is_alert boolean,
                alert_threshold_pct decimal(9, 2), ledger_as_of_date date)"""
        )
        for origin, w, start, end, low, exp, high in _weekly(PAST_ORIGIN)[:4]:
            complete = end <= AS_OF
            actual = exp * (Decimal("0.6") if w == 3 else Decimal("1.05")) if complete else exp / 2
            dev = actual - exp
            con.execute(
                "insert into marts.rpt_cash_forecast_vs_actual values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 20, ?)",
                [origin, w, start, end, low, exp, high, complete, actual, dev, round(dev * 100 / exp, 2),
                 low <= actual <= high, complete and abs(dev) * 100 > 20 * exp, AS_OF],
            )  # fmt: skip
    finally:
        con.close()
    return path
