"""The worklist rules on concrete cases: postponement, escalation triggers, levels, capacity, drafts, exports."""

from __future__ import annotations

import csv
import datetime as dt

import pandas as pd
import pytest

from ml.collections.export import export_worklists, neutralize
from ml.collections.strategy import DEFAULT_STRATEGY, StrategyError, load_strategy, parse_strategy
from ml.collections.worklist import WorklistInputs, build_worklist, worklist_inputs_from_warehouse

AS_OF = dt.date(2026, 3, 11)  # a Wednesday
D = dt.timedelta


@pytest.fixture(scope="module")
def strategy():
    return load_strategy()


def inputs(
    invoices,
    *,
    promises=(),
    disputes=(),
    activities=(),
    predictions=None,
    tiers=None,
    capacity=10,
    customers=None,
):
    """invoices: (invoice_id, customer_id, days_overdue, open_minor)."""
    bal = pd.DataFrame(
        [
            {
                "invoice_id": i,
                "customer_id": c,
                "currency": "USD",
                "invoice_date": AS_OF - D(days=30 + d),
                "due_date": AS_OF - D(days=d),
                "open_minor": m,
                "open_functional_minor": m,
                "fx_rate": "1",
            }
            for i, c, d, m in invoices
        ]
    )
    ids = sorted(set(bal["customer_id"]))
    cust = (
        customers
        if customers is not None
        else pd.DataFrame(
            {
                "customer_id": ids,
                "customer_name": [f"{c} Ltd" for c in ids],
                "segment": "mid_market",
                "collector_id": "COL1",
                "contact_email": [f"ap@{c.lower()}.example" for c in ids],
                "currency": "USD",
            }
        )
    )
    cols = pd.DataFrame(
        {"collector_id": ["COL1"], "collector_name": ["Maria Gonzalez"], "daily_capacity": [capacity]}
    )
    pr = pd.DataFrame(
        list(promises),
        columns=[
            "promise_id",
            "customer_id",
            "invoice_id",
            "promised_pay_date",
            "promised_minor",
            "status",
            "resolved_date",
        ],
    )
    ds = pd.DataFrame(
        list(disputes),
        columns=["dispute_id", "customer_id", "invoice_id", "opened_date", "status", "disputed_minor"],
    )
    ac = pd.DataFrame(list(activities), columns=["customer_id", "activity_at", "activity_type", "outcome"])
    return WorklistInputs(cust, cols, bal, pr, ds, ac, predictions, tiers)


def row(wl, customer):
    return wl.set_index("customer_id").loc[customer]


def ts(days_ago: int, hour: int = 10) -> str:
    return f"{AS_OF - D(days=days_ago)}T{hour:02d}:00:00"


# --- postponement ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "promised_in, expected",
    [
        (5, "postpone"),  # pending, not yet due
        (-2, "postpone"),  # due two days ago: still inside the 3-day grace for the money to land
        (
            -4,
            "escalation",
        ),  # past the grace and still open: the promise is as good as broken → no postponement
    ],
)
def test_pending_promise_postpones(strategy, promised_in, expected):
    status = "open"
    promises = [("P1", "C1", "I1", AS_OF + D(days=promised_in), 100_00, status, None)]
    acts = (
        [("C1", ts(10), "email", "sent"), ("C1", ts(8), "email", "sent")] if expected == "escalation" else []
    )
    wl = build_worklist(
        inputs([("I1", "C1", 20, 100_00)], promises=promises, activities=acts), strategy, AS_OF
    )
    r = row(wl, "C1")
    assert r["action"] == expected
    if expected == "postpone":
        assert r["reason"] == f"promise to pay pending, due {AS_OF + D(days=promised_in)}"
        assert r["status"] == "postponed" and pd.isna(r["rank"]) and r["priority"] == 0


def _preds(invoice_id, p10, p50, p90, p_due, p30):
    return pd.DataFrame(
        [
            {
                "invoice_id": invoice_id,
                "p10_days_late": p10,
                "p50_days_late": p50,
                "p90_days_late": p90,
                "p_paid_by_due": p_due,
                "p_paid_within_30": p30,
                "p_paid_within_60": 1.0,
                "p_paid_within_90": 1.0,
            }
        ]
    )


def test_payment_predicted_within_three_days_postpones(strategy):
    # 20 days overdue, predicted paid 21-22 days late: tomorrow or the day after
    wl = build_worklist(
        inputs([("I1", "C1", 20, 500_00)], predictions=_preds("I1", 21, 21.5, 22, 0, 1.0)), strategy, AS_OF
    )
    assert row(wl, "C1")["action"] == "postpone"
    assert row(wl, "C1")["reason"] == "payment predicted within 3 days (91% of the overdue amount)"


def test_payment_predicted_later_does_not_postpone(strategy):
    wl = build_worklist(
        inputs([("I1", "C1", 20, 500_00)], predictions=_preds("I1", 28, 35, 50, 0, 0.2)), strategy, AS_OF
    )
    r = row(wl, "C1")
    assert r["action"] == "call" and r["reason"] == "20 days overdue: level 2 (call)"
    assert 0 < r["at_risk_functional_minor"] < 500_00


# --- escalation triggers and levels ------------------------------------------------------------------


def test_broken_promise_escalates(strategy):
    promises = [("P1", "C1", "I1", AS_OF - D(days=14), 100_00, "broken", AS_OF - D(days=10))]
    wl = build_worklist(inputs([("I1", "C1", 20, 100_00)], promises=promises), strategy, AS_OF)
    r = row(wl, "C1")
    assert r["action"] == "escalation" and r["channel"] == "phone"
    assert r["reason"] == f"promise to pay broken on {AS_OF - D(days=10)}"
    assert r["tone"] == "firm"


def test_an_old_broken_promise_no_longer_escalates(strategy):
    promises = [("P1", "C1", "I1", AS_OF - D(days=50), 100_00, "broken", AS_OF - D(days=45))]
    wl = build_worklist(inputs([("I1", "C1", 20, 100_00)], promises=promises), strategy, AS_OF)
    assert row(wl, "C1")["action"] == "call"
    assert row(wl, "C1")["tone"] == "firm"  # but the tone remembers it for a year


@pytest.mark.parametrize(
    "history, expected",
    [
        ([("email", "sent", 12), ("email", "sent", 6)], "escalation"),  # two reminders, no answer
        ([("email", "sent", 6)], "call"),  # one reminder only
        ([("email", "sent", 12), ("email", "sent", 8), ("call", "reached", 6)], "call"),  # answered since
    ],
)
def test_no_response_after_two_reminders_escalates(strategy, history, expected):
    acts = [("C1", ts(days), kind, outcome) for kind, outcome, days in history]
    wl = build_worklist(inputs([("I1", "C1", 20, 100_00)], activities=acts), strategy, AS_OF)
    assert row(wl, "C1")["action"] == expected
    if expected == "escalation":
        assert row(wl, "C1")["reason"] == "no response after 2 reminders"


@pytest.mark.parametrize(
    "days_overdue, segment, action",
    [
        (4, "mid_market", "wait"),  # the first reminder comes at 5 days overdue
        (5, "mid_market", "reminder_email"),
        (10, "mid_market", "reminder_email"),
        (10, "enterprise", "call"),  # enterprise accounts get a call at 10 days
        (20, "small_business", "statement"),
        (35, "small_business", "call"),
        (50, "mid_market", "escalation"),
        (80, "mid_market", "pre_legal"),
        (80, "enterprise", "escalation"),  # pre-legal only at 120 days for enterprise
    ],
)
def test_dunning_levels_by_segment(strategy, days_overdue, segment, action):
    cust = pd.DataFrame(
        {
            "customer_id": ["C1"],
            "customer_name": ["C1 Ltd"],
            "segment": [segment],
            "collector_id": ["COL1"],
            "contact_email": ["ap@c1.example"],
            "currency": ["USD"],
        }
    )
    wl = build_worklist(inputs([("I1", "C1", days_overdue, 100_00)], customers=cust), strategy, AS_OF)
    assert row(wl, "C1")["action"] == action


def test_recent_contact_waits(strategy):
    wl = build_worklist(
        inputs([("I1", "C1", 20, 100_00)], activities=[("C1", ts(1), "call", "reached")]), strategy, AS_OF
    )
    assert row(wl, "C1")["action"] == "wait"
    assert (
        row(wl, "C1")["reason"] == "last contact 2026-03-10 (2 day(s) before)"
    )  # the list is for Thursday 12th


def test_dispute_follow_up(strategy):
    disputes = [("D1", "C1", "I1", AS_OF - D(days=12), "open", 80_00)]
    wl = build_worklist(inputs([("I1", "C1", 20, 100_00)], disputes=disputes), strategy, AS_OF)
    r = row(wl, "C1")
    assert r["action"] == "dispute_follow_up"
    assert r["reason"] == "1 open dispute(s), oldest 12 days, 80% of overdue"
    young = [("D1", "C1", "I1", AS_OF - D(days=3), "open", 80_00)]
    assert (
        row(build_worklist(inputs([("I1", "C1", 20, 100_00)], disputes=young), strategy, AS_OF), "C1")[
            "action"
        ]
        == "wait"
    )


# --- priority, capacity, drafts ----------------------------------------------------------------------


def test_priority_and_capacity_rollover(strategy):
    inv = [
        ("I1", "SMALL", 20, 1_000_00),
        ("I2", "BIG", 20, 50_000_00),
        ("I3", "MID", 20, 10_000_00),
        ("I4", "CRIT", 20, 10_000_00),
    ]
    tiers = pd.DataFrame(
        {"customer_id": ["SMALL", "BIG", "MID", "CRIT"], "tier": ["normal", "normal", "normal", "critical"]}
    )
    wl = build_worklist(inputs(inv, tiers=tiers, capacity=2), strategy, AS_OF)
    wl = wl.sort_values("rank")
    assert wl["customer_id"].tolist() == ["BIG", "CRIT", "MID", "SMALL"]  # critical ×3 beats a bigger normal
    assert wl["status"].tolist() == ["today", "today", "rolled_over", "rolled_over"]
    assert wl["scheduled_for"].tolist() == [dt.date(2026, 3, 12)] * 2 + [dt.date(2026, 3, 13)] * 2
    big = row(wl, "BIG")
    # at risk = all of it (no predictions); P(change) = call effect 0.35 × responsiveness 1; urgency 1
    assert big["priority"] == pytest.approx(50_000 * 0.35, rel=1e-6)


def test_reminder_draft_lists_the_overdue_invoices(strategy):
    wl = build_worklist(
        inputs([("I1", "C1", 6, 1_234_56), ("I2", "C1", 5, 100_00), ("I3", "C1", -3, 999_00)]),
        strategy,
        AS_OF,
    )
    r = row(wl, "C1")
    assert r["action"] == "reminder_email" and r["tone"] == "friendly"
    assert r["email_subject"] == "Friendly reminder: USD 1,334.56 overdue on your account"
    assert "I1" in r["email_body"] and "1,234.56" in r["email_body"] and "I3" not in r["email_body"]
    assert r["email_body"].startswith("Dear C1 Ltd accounts payable team,")
    assert r["email_body"].rstrip().endswith("Maria Gonzalez")


def test_statement_lists_the_whole_account_and_invoices_in_due_order(strategy):
    cust = pd.DataFrame(
        {
            "customer_id": ["C1", "C2"],
            "customer_name": ["C1 Ltd", "C2 Ltd"],
            "segment": ["small_business", "mid_market"],
            "collector_id": ["COL1", "COL1"],
            "contact_email": ["ap@c1.example", "ap@c2.example"],
            "currency": ["USD", "USD"],
        }
    )
    wl = build_worklist(
        inputs(
            [
                ("I9", "C1", 20, 300_00),
                ("I2", "C1", 25, 50_00),
                ("I1", "C1", 25, 25_00),
                ("I5", "C1", -10, 1_000_00),  # not yet due: on the statement, not in the overdue list
                ("J1", "C2", 6, 10_00),
            ],
            customers=cust,
        ),
        strategy,
        AS_OF,
    )
    r = row(wl, "C1")
    assert r["action"] == "statement"
    assert r["overdue_invoices"] == "I1 I2 I9"  # due date, then invoice number
    body = r["email_body"]
    assert [body.index(i) for i in ("I1 ", "I2 ", "I9 ", "I5 ")] == sorted(
        body.index(i) for i in ("I1 ", "I2 ", "I9 ", "I5 ")
    )
    assert "1,000.00" in body and "J1" not in body
    firm = build_worklist(
        inputs(
            [("I9", "C1", 20, 300_00), ("I5", "C1", -10, 1_000_00)],
            customers=cust.iloc[:1],
            tiers=pd.DataFrame({"customer_id": ["C1"], "tier": ["critical"]}),
        ),
        strategy,
        AS_OF,
    )
    # the firm statement's total is what is overdue, though it lists every open item
    assert row(firm, "C1")["tone"] == "firm"
    assert "USD 300.00 overdue" in row(firm, "C1")["email_subject"]
    assert "1,000.00" in row(firm, "C1")["email_body"]
    assert row(wl, "C2")["email_body"].count("J1") == 1 and "I5" not in row(wl, "C2")["email_body"]


def test_best_weekday_from_answer_rates(strategy):
    # called on Mondays and Thursdays; answers only on Thursdays
    acts = []
    for w in range(1, 7):
        acts.append(("C1", f"{AS_OF - D(days=7 * w + 2)}T10:00:00", "call", "no_answer"))  # Mondays
        acts.append(("C1", f"{AS_OF - D(days=7 * w - 1)}T15:00:00", "call", "reached"))  # Thursdays
    wl = build_worklist(inputs([("I1", "C1", 20, 100_00)], activities=acts), strategy, AS_OF)
    assert row(wl, "C1")["best_weekday"] == "Thu" and row(wl, "C1")["best_hour"] == 15


# --- the strategy file ------------------------------------------------------------------------------


def test_strategy_errors_name_the_key(tmp_path):
    import yaml

    doc = yaml.safe_load(DEFAULT_STRATEGY.read_text(encoding="utf-8"))
    doc["segments"]["default"][1]["action"] = "shout"
    with pytest.raises(StrategyError, match=r"'segments.default\[1\].action' must be one of"):
        parse_strategy(doc, "x.yaml")
    doc = yaml.safe_load(DEFAULT_STRATEGY.read_text(encoding="utf-8"))
    doc["templates"]["reminder"]["firm"]["body"] = "Pay {amount_due} now"
    with pytest.raises(StrategyError, match=r"'templates.reminder.firm.body' uses an unknown placeholder"):
        parse_strategy(doc, "x.yaml")
    doc = yaml.safe_load(DEFAULT_STRATEGY.read_text(encoding="utf-8"))
    del doc["postpone"]["predicted_within_days"]
    with pytest.raises(StrategyError, match="x.yaml: missing key 'postpone.predicted_within_days'"):
        parse_strategy(doc, "x.yaml")


# --- exports ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        ("=1+1", "'=1+1"),
        ("+1 555", "'+1 555"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("Acme", "Acme"),
        (-5, -5),
        (None, None),
    ],
)
def test_neutralize(value, expected):
    assert neutralize(value) == expected


def test_exports_neutralize_formulas_and_open_in_a_spreadsheet_library(strategy, tmp_path):
    from openpyxl import load_workbook

    evil = '=HYPERLINK("http://evil.example","Click")'
    cust = pd.DataFrame(
        {
            "customer_id": ["C1", "C2"],
            "customer_name": [evil, "Plain GmbH"],
            "segment": "mid_market",
            "collector_id": "COL1",
            "contact_email": ["+ap@c1.example", "ap@c2.example"],
            "currency": "USD",
        }
    )
    wl = build_worklist(
        inputs([("I1", "C1", 20, 1_000_00), ("I2", "C2", 6, 55_50)], customers=cust), strategy, AS_OF
    )
    files = export_worklists(wl, tmp_path)
    assert sorted(p.name for p in files) == ["worklist_COL1_2026-03-12.csv", "worklist_COL1_2026-03-12.xlsx"]
    with open(tmp_path / "worklist_COL1_2026-03-12.csv", encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    by = {r["Customer"]: r for r in rows}
    assert by["C1"]["Name"] == "'" + evil
    assert by["C1"]["E-mail to"] == "'+ap@c1.example"
    assert by["C2"]["Overdue (functional)"] == "55.50"
    ws = load_workbook(tmp_path / "worklist_COL1_2026-03-12.xlsx").active
    header = [c.value for c in ws[1]]
    name_col, amount_col = header.index("Name") + 1, header.index("Overdue (functional)") + 1
    values = {ws.cell(r, 4).value: r for r in range(2, ws.max_row + 1)}
    c1 = ws.cell(values["C1"], name_col)
    assert c1.value == "'" + evil and c1.data_type == "s"
    assert ws.cell(values["C2"], amount_col).value == pytest.approx(55.5)
    assert ws.cell(values["C2"], amount_col).data_type == "n"
    # the whole sheet holds no formula
    assert not any(c.data_type == "f" for r in ws.iter_rows() for c in r)


# --- the simulated world ------------------------------------------------------------------------------


def test_worklist_on_the_simulated_world(small_warehouse, strategy, tmp_path):
    con, _ = small_warehouse
    as_of = pd.Timestamp(con.execute("select max(_extract_date) from raw.erp_invoices").fetchone()[0]).date()
    inp = worklist_inputs_from_warehouse(con, as_of)
    wl = build_worklist(inp, strategy, as_of)
    overdue = inp.balances[pd.to_datetime(inp.balances["due_date"]) < pd.Timestamp(as_of)]
    assert sorted(wl["customer_id"]) == sorted(overdue["customer_id"].unique())  # every situation once
    caps = inp.collectors.set_index("collector_id")["daily_capacity"]
    today = wl[wl["status"] == "today"].groupby("collector_id").size()
    assert all(today[c] <= caps[c] for c in today.index)
    assert set(wl["status"]) <= {"today", "rolled_over", "postponed", "waiting"}
    assert (wl.loc[wl["status"] == "today", "priority"] > 0).all()
    drafts = wl[wl["action"].isin(["reminder_email", "statement"])]
    assert drafts["email_body"].notna().all()
    files = export_worklists(wl, tmp_path)
    assert len(files) == 2 * wl["collector_id"].nunique()
