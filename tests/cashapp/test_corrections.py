"""People's decisions feed the next run: a corrected situation is automatic the next time."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest

from ml.cashapp.corrections import (
    CORRECTION_COLUMNS,
    confirmed_from_corrections,
    training_arrays,
    training_labels,
    validate_corrections,
)
from ml.cashapp.engine import AUTO, SUGGESTED
from tests.cashapp.builders import DAY, engine, inv, txn

NEW_ACCOUNT = "GB94BARC10201530093459"
TRADING_NAME = "ROADRUNNER SUPPLY"  # how Acme Widgets' new payment factory appears on bank lines


def _correction(res, *, action="accept", rank=1, customer="C000001", items=None, cid="K1", payer=None):
    """The rows the cash-application page writes for a decision on the run's first payment."""
    p = res.payments.iloc[0]
    t = (
        res.exceptions.iloc[0]
        if payer is None
        else pd.Series({"counterparty_account": payer[0], "counterparty_name": payer[1]})
    )
    rows = []
    for item_id, amount in items or [(None, None)]:
        rows.append(
            {
                "correction_id": cid,
                "transaction_id": p.transaction_id,
                "action": action,
                "suggestion_rank": rank,
                "customer_id": customer,
                "item_id": item_id,
                "applied_amount": amount,
                "discount_amount": None,
                "deduction_amount": None,
                "deduction_reason": None,
                "booking_date": p.booking_date,
                "amount": p.amount,
                "counterparty_account": t.counterparty_account,
                "counterparty_name": t.counterparty_name,
                "decided_by": "ar.clerk",
                "decided_at": "2026-03-16T10:00:00+00:00",
                "note": None,
            }
        )
    return pd.DataFrame(rows, columns=list(CORRECTION_COLUMNS))


def test_a_correction_for_a_new_payer_account_makes_the_next_payment_automatic():
    items = [
        inv("INV-100001", "C000001", "412.50"),
        inv("INV-100002", "C000001", "733.10"),
        inv("INV-100003", "C000020", "99.00", currency="GBP"),
    ]
    first = engine(items).run([txn("412.50", name=TRADING_NAME, account=NEW_ACCOUNT)])
    assert first.payments.status.tolist() == [SUGGESTED]
    assert first.exceptions.reason.tolist() == ["payer_not_identified"]
    top = first.suggestions[first.suggestions["rank"] == 1]
    assert top.item_id.tolist() == ["INV-100001"]

    corrections = _correction(first, items=[("INV-100001", Decimal("412.50"))])
    # the next day's run: INV-100001 is closed in the ERP, the correction is in the table
    nxt = [txn("733.10", name=TRADING_NAME, account=NEW_ACCOUNT, day=DAY + dt.timedelta(days=7))]
    before = engine(items[1:]).run(nxt)
    assert before.payments.status.tolist() == [SUGGESTED]  # without the correction: still a guess
    after = engine(items[1:], corrections=corrections).run(nxt)
    assert after.payments.status.tolist() == [AUTO]
    assert after.applications.item_id.tolist() == ["INV-100002"]
    assert "payer account on 1 confirmed payment(s)" in after.applications.evidence.iloc[0]


def test_a_rejection_stops_an_account_pointing_at_the_wrong_customer():
    # history: this account once paid for Cedar; a person says it was a mistake
    history = pd.DataFrame(
        [
            {
                "transaction_id": "T0",
                "booking_date": DAY - dt.timedelta(days=30),
                "amount": Decimal("50.00"),
                "counterparty_account": NEW_ACCOUNT,
                "counterparty_name": "SHARED SERVICES LTD",
                "customer_id": "C000020",
                "item_id": None,
                "applied_amount": Decimal("0"),
                "discount_amount": Decimal("0"),
                "deduction_amount": Decimal("0"),
                "source": "auto",
            }
        ]
    )
    items = [inv("INV-200001", "C000020", "640.00", currency="GBP")]
    t = [txn("640.00", name="SHARED SERVICES LTD", account=NEW_ACCOUNT, currency="GBP")]
    assert engine(items, history=history).run(t).payments.status.tolist() == [AUTO]
    res = engine(items, history=history).run(t)
    rej = _correction(
        res, action="reject", customer="C000020", cid="K2", payer=(NEW_ACCOUNT, "SHARED SERVICES LTD")
    )
    again = engine(items, history=history, corrections=rej).run(t)
    assert again.payments.status.tolist() != [AUTO]


def test_corrections_are_validated_row_by_row():
    bad = pd.DataFrame([{"correction_id": "K9", "transaction_id": "T1", "action": "approve"}])
    with pytest.raises(
        ValueError, match=r"corrections row 1 \(K9\): action must be one of accept, correct, reject"
    ):
        validate_corrections(bad)
    bad = pd.DataFrame(
        [{"correction_id": "K9", "transaction_id": "T1", "action": "correct", "customer_id": None}]
    )
    with pytest.raises(ValueError, match="needs the customer_id"):
        validate_corrections(bad)
    bad = pd.DataFrame(
        [
            {
                "correction_id": "K9",
                "transaction_id": "T1",
                "action": "correct",
                "customer_id": "C1",
                "item_id": "INV-1",
                "applied_amount": "12.345",
            }
        ]
    )
    with pytest.raises(ValueError, match="applied_amount '12.345' is not an amount"):
        validate_corrections(bad)


def test_the_latest_decision_wins_and_becomes_a_training_label():
    items = [inv("INV-300001", "C000001", "500.00"), inv("INV-300002", "C000001", "500.00")]
    res = engine(items).run([txn("500.00")])
    assert res.payments.status.tolist() == [SUGGESTED]
    first = _correction(res, action="accept", items=[("INV-300001", Decimal("500.00"))], cid="K1")
    second = _correction(res, action="correct", items=[("INV-300002", Decimal("500.00"))], cid="K2")
    second["decided_at"] = "2026-03-16T11:00:00+00:00"
    corr = pd.concat([first, second], ignore_index=True)
    confirmed = confirmed_from_corrections(corr)
    assert confirmed[["item_id", "applied_amount", "source"]].values.tolist() == [
        ["INV-300002", Decimal("5.00E+2"), "correct"]
    ]
    frame, y = training_labels(res.candidates.to_frame(), confirmed, corr)
    assert y.sum() == 1
    assert frame.loc[frame.label == 1, "candidate_key"].tolist() == ["INV-300002:50000"]
    X, y2, groups, days, eligible, kinds, first = training_arrays(frame)
    assert X.shape == (len(frame), len(frame.columns) - 7) and set(groups) == {0}
    assert first.tolist() == (~frame["second_look"]).tolist()
    assert y2.tolist() == y.tolist()


def test_a_bank_fee_correction_makes_the_customer_s_next_net_of_fee_payment_automatic():
    # Weser's bank takes 25.00 off every wire: 2.5% of a 1,000.00 invoice, above the rules' 1% share,
    # so the first one is a short payment for a person to look at.
    weser = {"name": "WESER FAHRZEUGTEILE", "account": "DE44500105175407324931", "currency": "EUR"}
    items = [
        inv("INV-810001", "C000010", "1000.00", currency="EUR"),
        inv("INV-810002", "C000010", "1200.00", currency="EUR"),
    ]
    first = engine(items).run([txn("975.00", text="INV-810001", **weser)])
    assert first.payments.status.tolist() == [SUGGESTED]
    assert first.exceptions.reason.tolist() == ["partial_payment"]

    corr = _correction(first, action="correct", customer="C000010", items=[("INV-810001", Decimal("975.00"))])
    corr["deduction_amount"] = Decimal("25.00")
    corr["deduction_reason"] = "BANK_FEE"
    nxt = [txn("1175.00", text="INV-810002", day=DAY + dt.timedelta(days=30), **weser)]
    assert engine(items[1:]).run(nxt).payments.status.tolist() == [SUGGESTED]  # nobody said so yet
    after = engine(items[1:], corrections=corr).run(nxt)
    assert after.payments.status.tolist() == [AUTO]
    a = after.applications.iloc[0]
    assert (a.item_id, a.applied_amount, a.deduction_amount, a.deduction_reason, a.method) == (
        "INV-810002",
        Decimal("1175.00"),
        Decimal("25.00"),
        "BANK_FEE",
        "bank_fee",
    )
    # a shortfall larger than any fee confirmed is still a person's call
    bigger = [txn("1150.00", text="INV-810002", day=DAY + dt.timedelta(days=30), **weser)]
    assert engine(items[1:], corrections=corr).run(bigger).payments.status.tolist() == [SUGGESTED]
