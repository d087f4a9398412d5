"""Accounting invariants: the ERP extracts, the open-item truth and the payment truth agree to the cent."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from decimal import ROUND_HALF_UP, Decimal

AS_OF = dt.date(2026, 11, 20)
CENT = Decimal("0.01")


def _d(text: str) -> Decimal:
    return Decimal(text) if text else Decimal(0)


def _recompute_open_items(world) -> dict[str, tuple]:
    """The AR ledger at as_of from the ERP extracts alone, with Decimal: the rules in the brief."""
    rate = {"USD": Decimal(1)}
    for _, r in world.rows("fx_rates"):
        if r["rate_date"] == AS_OF.isoformat():
            rate[r["currency"]] = Decimal(r["rate_to_functional"])
    items = {}
    for _, r in world.rows("invoices"):
        items[r["invoice_id"]] = [
            "invoice",
            r["customer_id"],
            r["currency"],
            r["invoice_date"],
            r["due_date"],
            Decimal(r["amount"]),
        ]
    for _, r in world.rows("credit_memos"):
        if r["applied_invoice_id"]:
            items[r["applied_invoice_id"]][5] -= Decimal(r["amount"])
        else:
            items[r["credit_memo_id"]] = [
                "credit_memo",
                r["customer_id"],
                r["currency"],
                r["credit_date"],
                r["credit_date"],
                -Decimal(r["amount"]),
            ]
    for _, r in world.rows("payments"):
        items[r["payment_id"]] = [
            "unapplied_payment",
            r["customer_id"],
            r["currency"],
            r["payment_date"],
            r["payment_date"],
            -Decimal(r["amount"]),
        ]
    for _, r in world.rows("payment_applications"):
        items[r["invoice_id"]][5] -= Decimal(r["applied_amount"]) + Decimal(r["discount_amount"])
        items[r["payment_id"]][5] += Decimal(r["applied_amount"])
    out = {}
    for item_id, (kind, cust, cur, doc, due, open_amount) in items.items():
        if open_amount == 0:
            continue
        functional = (open_amount * rate[cur]).quantize(CENT, rounding=ROUND_HALF_UP)
        dpd = (AS_OF - dt.date.fromisoformat(due)).days
        bucket = (
            "current"
            if dpd <= 0
            else "1-30"
            if dpd <= 30
            else "31-60"
            if dpd <= 60
            else "61-90"
            if dpd <= 90
            else "91-120"
            if dpd <= 120
            else "120+"
        )
        out[item_id] = (kind, cust, cur, doc, due, open_amount, rate[cur], functional, dpd, bucket)
    return out


def test_open_items_truth_equals_the_ledger_recomputed_from_the_extracts(tiny_world):
    expected = _recompute_open_items(tiny_world)
    got = {}
    for r in tiny_world.truth("open_items"):
        got[r["item_id"]] = (
            r["item_type"],
            r["customer_id"],
            r["currency"],
            r["document_date"],
            r["due_date"],
            Decimal(r["open_amount"]),
            Decimal(r["fx_rate"]),
            Decimal(r["open_amount_functional"]),
            int(r["days_past_due"]),
            r["aging_bucket"],
        )
    assert got == expected
    kinds = Counter(v[0] for v in got.values())
    assert kinds["invoice"] > 20 and kinds["unapplied_payment"] >= 1
    assert all((v[5] > 0) == (v[0] == "invoice") for v in got.values())


def test_applications_never_exceed_invoice_or_payment_amounts(tiny_world):
    inv_amount = {r["invoice_id"]: Decimal(r["amount"]) for _, r in tiny_world.rows("invoices")}
    pay_amount = {r["payment_id"]: Decimal(r["amount"]) for _, r in tiny_world.rows("payments")}
    reduced, applied = defaultdict(Decimal), defaultdict(Decimal)
    for _, r in tiny_world.rows("payment_applications"):
        reduced[r["invoice_id"]] += Decimal(r["applied_amount"]) + Decimal(r["discount_amount"])
        applied[r["payment_id"]] += Decimal(r["applied_amount"])
    for _, r in tiny_world.rows("credit_memos"):
        if r["applied_invoice_id"]:
            reduced[r["applied_invoice_id"]] += Decimal(r["amount"])
    assert all(reduced[i] <= inv_amount[i] for i in reduced)
    assert all(applied[p] <= pay_amount[p] for p in applied)
    fully = sum(1 for i in reduced if reduced[i] == inv_amount[i])
    assert fully > len(inv_amount) * 0.6  # most invoices of a year are settled by as_of


def test_applications_are_on_or_after_the_payment_and_for_the_credited_account(tiny_world):
    pay = {r["payment_id"]: r for _, r in tiny_world.rows("payments")}
    inv = {r["invoice_id"]: r for _, r in tiny_world.rows("invoices")}
    late = 0
    for _, r in tiny_world.rows("payment_applications"):
        p = pay[r["payment_id"]]
        assert r["applied_date"] >= p["payment_date"] >= inv[r["invoice_id"]]["invoice_date"]
        assert inv[r["invoice_id"]]["customer_id"] == p["customer_id"]
        assert inv[r["invoice_id"]]["currency"] == p["currency"]
        late += r["applied_date"] > p["payment_date"]
    apps = len(tiny_world.rows("payment_applications"))
    assert 0 < late < apps * 0.3  # most cash is applied the day it arrives


def test_payment_truth_matches_erp_payments_and_allocations_sum(tiny_world):
    erp = {r["payment_id"]: r for _, r in tiny_world.rows("payments")}
    truth = {r["payment_id"]: r for r in tiny_world.truth("payments")}
    assert set(erp) == set(truth)
    alloc = defaultdict(Decimal)
    count = Counter()
    for a in tiny_world.truth("payment_allocations"):
        alloc[a["payment_id"]] += Decimal(a["applied_amount"])
        count[a["payment_id"]] += 1
        assert Decimal(a["applied_amount"]) > 0
        assert (Decimal(a["deduction_amount"]) > 0) == bool(a["deduction_reason"])
    for pid, t in truth.items():
        e = erp[pid]
        assert (t["customer_id"], t["received_date"], t["amount"], t["currency"], t["channel"]) == (
            e["customer_id"],
            e["payment_date"],
            e["amount"],
            e["currency"],
            e["method"],
        )
        assert alloc[pid] == Decimal(t["amount"]) - Decimal(t["unapplied_amount"])
        assert int(t["bundled_invoice_count"]) == count[pid]
        assert (t["is_overpayment"] == "true") == (Decimal(t["unapplied_amount"]) > 0)
        assert t["value_date"] >= t["received_date"]
        assert t["free_text_reference"] == e["reference"]
        assert t["payer_name_as_written"] == t["payer_name_as_written"].upper()


def test_erp_cash_applied_equals_truth_allocations_once_posted(tiny_world):
    """AR applies exactly the cash the payer allocated; only its timing (and refused discounts) differ."""
    erp = defaultdict(Decimal)
    for _, r in tiny_world.rows("payment_applications"):
        erp[(r["payment_id"], r["invoice_id"])] += Decimal(r["applied_amount"])
    truth_pay = {r["payment_id"]: r for r in tiny_world.truth("payments")}
    for a in tiny_world.truth("payment_allocations"):
        key = (a["payment_id"], a["invoice_id"])
        if truth_pay[a["payment_id"]]["erp_applied_date"]:
            assert erp[key] == Decimal(a["applied_amount"]), key
        else:
            assert key not in erp  # cash arrived but AR had not applied it by as_of


def test_invoice_outcomes_cover_every_invoice_once_and_add_up(tiny_world):
    outcomes = tiny_world.truth("invoice_outcomes")
    ids = [o["invoice_id"] for o in outcomes]
    assert len(ids) == len(set(ids))
    assert set(ids) == {r["invoice_id"] for _, r in tiny_world.rows("invoices")}
    resolutions = Counter(o["resolution"] for o in outcomes)
    assert resolutions["paid"] > len(outcomes) * 0.7
    for o in outcomes:
        # What the ERP counts against the invoice; a refused discount or unrepaid deduction stays open.
        settled = (
            _d(o["amount_paid"])
            + _d(o["discount_allowed"])
            + _d(o["credited_amount"])
            + _d(o["written_off_amount"])
        )
        if o["closed_date"]:
            assert settled == Decimal(o["amount"]), o["invoice_id"]
        else:
            assert settled < Decimal(o["amount"]), o["invoice_id"]
        assert _d(o["discount_allowed"]) <= _d(o["discount_taken"])
        if o["resolution"] == "paid":
            assert o["invoice_date"] < o["paid_date"]
            assert (
                int(o["days_late"])
                == (dt.date.fromisoformat(o["paid_date"]) - dt.date.fromisoformat(o["due_date"])).days
            )
            assert (o["paid_date"] > AS_OF.isoformat()) == (o["paid_after_as_of"] == "true")
        if o["resolution"] in ("never", "open_at_horizon"):
            assert o["paid_date"] == ""
    # Invoices open at as_of that will be paid have their future date in the truth.
    assert any(o["paid_after_as_of"] == "true" for o in outcomes)


def test_outcomes_agree_with_payment_truth(tiny_world):
    paid_by_invoice = defaultdict(Decimal)
    for a in tiny_world.truth("payment_allocations"):
        paid_by_invoice[a["invoice_id"]] += Decimal(a["applied_amount"])
    for o in tiny_world.truth("invoice_outcomes"):
        if o["paid_after_as_of"] == "false" and o["resolution"] == "paid":
            assert paid_by_invoice[o["invoice_id"]] == Decimal(o["amount_paid"]), o["invoice_id"]


def test_message_truth_covers_every_message(tiny_world):
    msgs = {r["message_id"]: r for _, r in tiny_world.rows("customer_messages")}
    truth = {r["message_id"]: r for r in tiny_world.truth("message_intents")}
    assert set(msgs) == set(truth)
    intents = Counter(t["intent"] for t in truth.values())
    assert intents["remittance_advice"] > 0 and intents["promise_to_pay"] > 0
    for t in truth.values():
        if t["intent"] == "promise_to_pay":
            assert t["promised_date"] and Decimal(t["promised_amount"]) > 0
        else:
            assert t["promised_date"] == "" and t["promised_amount"] == ""
        assert bool(t["dispute_reason"]) == (t["intent"] == "dispute")
