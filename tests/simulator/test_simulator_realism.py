"""The behaviours AR people expect are present, and payment timing carries signals a model can learn."""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import Counter, defaultdict

import pytest

from simulator.profiles import ARCHETYPES, build_customers


@pytest.fixture(scope="module")
def mid_world(tmp_path_factory, build_world):
    return build_world(tmp_path_factory.mktemp("mid_world"), customers=150, years=2, seed=11)


def test_every_archetype_is_present_in_a_default_sized_world():
    customers = build_customers(42, 300, dt.date(2024, 11, 1), dt.date(2026, 11, 20))
    counts = Counter(c.archetype for c in customers)
    assert set(counts) == set(ARCHETYPES)
    assert min(counts.values()) >= 10
    assert sum(1 for c in customers if c.parent is not None) >= 20
    assert {c.currency for c in customers} == {"USD", "EUR", "GBP"}


def _truth(world):
    customers = {r["customer_id"]: r for r in world.truth("customers")}
    outcomes = [o for o in world.truth("invoice_outcomes") if o["resolution"] == "paid"]
    return customers, outcomes


def test_bigger_invoices_than_usual_are_paid_later(mid_world):
    customers, outcomes = _truth(mid_world)
    by_cust = defaultdict(list)
    for o in outcomes:
        by_cust[o["customer_id"]].append(o)
    xs, ys = [], []
    for cid, rows in by_cust.items():
        if customers[cid]["archetype"] == "prompt" or len(rows) < 8:
            continue
        med_late = statistics.median(int(r["days_late"]) for r in rows)
        med_amt = statistics.median(float(r["amount"]) for r in rows)
        for r in rows:
            xs.append(math.log(float(r["amount"]) / med_amt))
            ys.append(int(r["days_late"]) - med_late)
    assert statistics.correlation(xs, ys) > 0.1


def test_deteriorating_customers_pay_later_month_after_month(mid_world):
    customers, outcomes = _truth(mid_world)
    gaps = []
    for cid, c in customers.items():
        if c["archetype"] != "slow_deteriorating":
            continue
        start = c["deterioration_start"]
        before = [int(o["days_late"]) for o in outcomes if o["customer_id"] == cid and o["due_date"] < start]
        later = [
            int(o["days_late"])
            for o in outcomes
            if o["customer_id"] == cid
            and o["due_date"] > (dt.date.fromisoformat(start) + dt.timedelta(days=120)).isoformat()
        ]
        if len(before) >= 3 and len(later) >= 3:
            gaps.append(statistics.mean(later) - statistics.mean(before))
    assert len(gaps) >= 3 and statistics.median(gaps) > 10


def test_defaulted_customers_stop_paying_and_leave_old_items(mid_world):
    customers = {r["customer_id"]: r for r in mid_world.truth("customers")}
    default = {cid: c["default_date"] for cid, c in customers.items() if c["archetype"] == "sudden_default"}
    assert default
    for _, p in mid_world.rows("payments"):
        if p["customer_id"] in default:
            assert p["payment_date"] < default[p["customer_id"]]
    old = [
        r
        for r in mid_world.truth("open_items")
        if r["aging_bucket"] == "120+" and r["item_type"] == "invoice"
    ]
    assert old and {r["customer_id"] for r in old} & set(default)


def test_a_default_is_preceded_by_a_run_up_a_model_can_see(mid_world):
    """In the 150 days before a default the customer pays later, pays more in part and takes no
    discount: the evidence an early warning needs, before the payments stop."""
    customers = {r["customer_id"]: r for r in mid_world.truth("customers")}
    before, runup = defaultdict(list), defaultdict(list)
    for o in mid_world.truth("invoice_outcomes"):
        c = customers[o["customer_id"]]
        if c["archetype"] != "sudden_default" or not o["first_payment_date"]:
            continue  # cash that never came is not evidence anyone could see before the default
        default = dt.date.fromisoformat(c["default_date"])
        due = dt.date.fromisoformat(o["due_date"])
        if due < default - dt.timedelta(days=180):
            before[o["customer_id"]].append(o)
        elif due < default:
            runup[o["customer_id"]].append(o)
    both = [cid for cid in runup if len(before[cid]) >= 4 and len(runup[cid]) >= 2]
    assert len(both) >= 3

    def late(o: dict) -> int:
        paid = o["paid_date"] or o["first_payment_date"]
        return (dt.date.fromisoformat(paid) - dt.date.fromisoformat(o["due_date"])).days

    later = [
        statistics.mean(late(o) for o in runup[cid]) - statistics.mean(late(o) for o in before[cid])
        for cid in both
    ]
    assert statistics.median(later) > 10
    runup_rows = [o for cid in both for o in runup[cid]]
    before_rows = [o for cid in both for o in before[cid]]
    in_part = [o["is_installment"] == "true" or not o["paid_date"] for o in runup_rows]
    assert sum(in_part) / len(in_part) > 0.12  # about 1% before the run-up
    assert sum(o["is_installment"] == "true" for o in before_rows) / len(before_rows) < 0.05
    assert all(o["discount_taken"] == "0.00" for o in runup_rows)


def test_a_slide_settles_at_a_worse_level_after_some_months(mid_world):
    customers = {r["customer_id"]: r for r in mid_world.truth("customers")}
    slides = [c for c in customers.values() if c["archetype"] == "slow_deteriorating"]
    assert slides
    for c in slides:
        start, end = (
            dt.date.fromisoformat(c["deterioration_start"]),
            dt.date.fromisoformat(c["deterioration_end"]),
        )
        months = (end - start).days / 30.4
        assert 4.9 <= months <= 13.4
        assert months * float(c["deterioration_days_per_month"]) >= 39  # a slide worth alerting on
        assert dt.date.fromisoformat(c["created_date"]) <= start - dt.timedelta(days=180)


def test_calls_are_answered_more_on_the_preferred_weekday_and_hour(mid_world):
    customers = {r["customer_id"]: r for r in mid_world.truth("customers")}
    answered = defaultdict(list)
    for _, a in mid_world.rows("collection_activities"):
        if a["activity_type"] != "call":
            continue
        c = customers[a["customer_id"]]
        at = dt.datetime.fromisoformat(a["activity_at"])
        preferred = (
            at.weekday() == int(c["preferred_contact_weekday"])
            and abs(at.hour - int(c["preferred_contact_hour"])) <= 1
        )
        answered[preferred].append(a["outcome"] in ("reached", "promise_to_pay", "dispute_raised"))
    assert statistics.mean(answered[True]) > statistics.mean(answered[False]) + 0.2


def test_month_end_payers_pay_at_month_end(mid_world):
    customers = {r["customer_id"]: r for r in mid_world.truth("customers")}
    days_left = [
        (dt.date.fromisoformat(p["payment_date"]).replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        - dt.date.fromisoformat(p["payment_date"])
        for _, p in mid_world.rows("payments")
        if customers[p["customer_id"]]["archetype"] == "month_end"
        and customers[p["customer_id"]]["channel"] == "wire"
    ]
    assert days_left
    share = sum(d.days <= 4 for d in days_left) / len(days_left)
    assert share > 0.6


def test_payment_truth_has_the_cash_application_cases(mid_world):
    pays = mid_world.truth("payments")
    assert sum(int(p["bundled_invoice_count"]) >= 2 for p in pays) > 50
    assert any(p["has_short_pay"] == "true" for p in pays)
    assert any(p["has_discount"] == "true" for p in pays)
    assert any(p["is_overpayment"] == "true" for p in pays)
    assert any(p["payer_customer_id"] != p["customer_id"] for p in pays)  # a parent paid for a subsidiary
    assert {p["channel"] for p in pays} == {"wire", "ach", "check", "card"}
    assert {p["remittance"] for p in pays} == {
        "none",
        "email_body",
        "email_pdf",
        "email_xlsx",
        "edi820",
        "lockbox_detail",
    }
    accounts = defaultdict(set)
    for p in pays:
        accounts[p["payer_customer_id"]].add(p["payer_account"])
    assert any(len(a) > 1 for a in accounts.values())  # a payer that changed bank account
    assert any(p["free_text_reference"] == "" for p in pays)
    assert any(len(p["free_text_reference"].split()) >= 3 for p in pays)


def test_unearned_discounts_are_taken_and_some_refused(mid_world):
    invoices = {r["invoice_id"]: r for _, r in mid_world.rows("invoices")}
    unearned = allowed_late = 0
    for o in mid_world.truth("invoice_outcomes"):
        if (
            float(o["discount_taken"] or 0) > 0
            and o["first_payment_date"] > invoices[o["invoice_id"]]["discount_due_date"]
        ):
            unearned += 1
            allowed_late += float(o["discount_allowed"]) > 0
    assert unearned > 0 and 0 < allowed_late < unearned


def test_promises_are_kept_and_broken(mid_world):
    final = {}
    for _, r in mid_world.rows("promises_to_pay"):
        final[r["promise_id"]] = r["status"]
    counts = Counter(final.values())
    assert counts["kept"] > counts["broken"] > 0


def test_every_message_intent_and_some_foreign_language(mid_world):
    intents = Counter(r["intent"] for r in mid_world.truth("message_intents"))
    assert set(intents) == {
        "promise_to_pay",
        "dispute",
        "invoice_copy_request",
        "remittance_advice",
        "contact_change",
        "out_of_office",
        "other",
    }
    bodies = [r["body"] for _, r in mid_world.rows("customer_messages")]
    assert any("Rechnung" in b for b in bodies) or any("facture" in b for b in bodies)
