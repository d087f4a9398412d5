"""Property: whatever arrives, every cent of every payment is applied, suggested or unapplied — exactly once.

Random accounts, open items and payments (exact, multi-invoice, partial, over, short with or without a
deduction on the advice, foreign currency, nonsense amounts) in three currencies, advices that may
contradict the bank amount, mixed with movements that are no customer payment (debits, a lockbox
deposit total, a sweep, a transfer from our own name), run through the engine both as it decides and
with every candidate forced through (threshold 0), so the auto-apply path and its reservations are
exercised too. ``test_every_kind_in_every_currency`` runs each kind of payment in each currency on a
fixed book, so the coverage does not depend on what hypothesis happens to draw.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingestion.normalized import BankTransaction, RemittanceDocument, RemittanceLine
from ml.cashapp.engine import AUTO, build_engine, check_conservation
from ml.cashapp.money import from_cents, to_cents
from ml.cashapp.rules import load_rules
from ml.cashapp.scoring import Scorer

DAY = dt.date(2026, 5, 4)
CURRENCIES = ("USD", "EUR", "GBP")
MASTER = pd.DataFrame(
    [
        {
            "customer_id": "C1",
            "customer_name": "Northwind Foods Inc.",
            "parent_customer_id": None,
            "currency": "USD",
            "bank_account": "111111111",
        },
        {
            "customer_id": "C2",
            "customer_name": "Northwind Foods West LLC",
            "parent_customer_id": "C1",
            "currency": "USD",
            "bank_account": "222222222",
        },
        {
            "customer_id": "C3",
            "customer_name": "Brightstone Packaging GmbH",
            "parent_customer_id": None,
            "currency": "EUR",
            "bank_account": "DE02120300000000202051",
        },
    ]
)
ACCOUNTS = {"C1": "111111111", "C2": "222222222", "C3": "DE02120300000000202051"}

item_st = st.tuples(
    st.sampled_from(["C1", "C2", "C3"]),
    st.sampled_from(CURRENCIES),
    st.integers(min_value=100, max_value=900_000),  # open cents
    st.integers(min_value=-60, max_value=60),  # due date offset
    st.booleans(),  # discount terms
)
KINDS = (
    "exact",
    "multi",
    "partial",
    "over",
    "short",
    "short_advised",
    "random",
    "foreign",
    "advice_mismatch",
)
# (kind, amount cents, currency): movements that are no customer payment
NOT_PAYMENTS = ("debit", "lockbox_total", "sweep", "own_name")
other_st = st.tuples(
    st.sampled_from(NOT_PAYMENTS), st.integers(min_value=1, max_value=5_000_000), st.sampled_from(CURRENCIES)
)
pay_st = st.tuples(
    st.sampled_from(KINDS),
    st.lists(st.integers(min_value=0, max_value=30), min_size=1, max_size=4),  # item picks
    st.integers(min_value=1, max_value=99),  # a percentage for partial/short/over
    st.sampled_from(["C1", "C2", "C3", "nobody"]),  # who sends it
    st.booleans(),  # with an advice
    st.booleans(),  # reference in free text
)


def _build(items_spec, pays_spec):
    items = []
    for n, (cust, cur, cents, due, disc) in enumerate(items_spec):
        doc = DAY - dt.timedelta(days=45)
        items.append(
            {
                "item_id": f"INV-{500000 + n}",
                "item_type": "invoice",
                "customer_id": cust,
                "currency": cur,
                "document_date": doc,
                "due_date": DAY + dt.timedelta(days=due),
                "original_amount": from_cents(cents),
                "open_amount": from_cents(cents),
                "discount_pct": Decimal("2.0000") if disc else None,
                "discount_due_date": DAY - dt.timedelta(days=1) if disc else None,
                "po_number": None,
            }
        )
    txns, docs = [], []
    for k, (kind, picks, pct, who, with_doc, with_ref) in enumerate(pays_spec):
        chosen = [items[p % len(items)] for p in picks] if items else []
        chosen = list({c["item_id"]: c for c in chosen}.values())
        cur = chosen[0]["currency"] if chosen else "USD"
        base = sum(to_cents(c["open_amount"]) for c in chosen if c["currency"] == cur) or 12_345
        if kind == "exact":
            amount = to_cents(chosen[0]["open_amount"]) if chosen else 5_000
        elif kind == "multi":
            amount = base
        elif kind == "partial":
            amount = max(1, base * pct // 100)
        elif kind == "over":
            amount = base + base * pct // 100 + 1
        elif kind in ("short", "short_advised"):
            amount = max(1, base - max(1, base * pct // 300))
        elif kind == "foreign":
            amount = base
            cur = next(c for c in CURRENCIES if c != cur)
        else:
            amount = 1 + (base * 7919 + pct) % 2_000_000
        account = ACCOUNTS.get(who, "FR7630006000011234567890189")
        name = {"C1": "NORTHWIND FOODS", "C2": "NORTHWIND FOODS WEST", "C3": "BRIGHTSTONE PACKAGING"}.get(
            who, "X Y Z"
        )
        ref = " ".join(c["item_id"] for c in chosen) if with_ref else None
        txns.append(
            BankTransaction(
                "camt.053",
                "DE89370400440532013000",
                None,
                "S",
                DAY,
                DAY,
                from_cents(amount),
                cur,
                "CRDT",
                counterparty_name=name,
                counterparty_account=account,
                bank_reference=f"B{k:05d}",
                remittance_text=ref,
            )
        )
        if with_doc and chosen:
            lines = []
            for n, c in enumerate(chosen, start=1):
                paid = to_cents(c["open_amount"])
                ded = None
                if kind == "short_advised" and n == 1:
                    ded = base - amount
                    paid -= ded
                if kind == "advice_mismatch":
                    paid += pct * 100  # the advice claims more than is open
                lines.append(
                    RemittanceLine(
                        c["item_id"],
                        from_cents(max(paid, 1)),
                        deduction_amount=from_cents(ded) if ded and ded > 0 else None,
                        deduction_reason="pricing" if ded else None,
                        position=n,
                    )
                )
            docs.append(
                RemittanceDocument(
                    "eml", name, None, DAY, from_cents(amount) if pct % 3 else None, cur, lines
                )
            )
    return pd.DataFrame(items), txns, docs


def _not_payment(k: int, kind: str, cents: int, cur: str) -> BankTransaction:
    fmt, code, name, sign = {
        "debit": ("camt.053", "PMNT-ICDT-ESCT", "SUPPLIER GMBH", -1),
        "lockbox_total": ("bai2", "115", None, 1),
        "sweep": ("camt.053", "CAMT-ACCB-ZABA", None, 1),
        "own_name": ("mt940", "NTRF", "Northstar Industrial Supply", 1),
    }[kind]
    return BankTransaction(
        fmt,
        "DE89370400440532013000",
        None,
        "S",
        DAY,
        DAY,
        from_cents(sign * cents),
        cur,
        "CRDT" if sign > 0 else "DBIT",
        counterparty_name=name,
        bank_reference=f"X{k:05d}",
        transaction_code=code,
    )


def _engine(items: pd.DataFrame, force: bool):
    return build_engine(
        items
        if len(items)
        else pd.DataFrame(
            columns=["item_id", "customer_id", "currency", "document_date", "due_date", "open_amount"]
        ),
        MASTER,
        rules=load_rules(),
        scorer=Scorer(version="force", threshold=0.0) if force else None,
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    items_spec=st.lists(item_st, min_size=0, max_size=14),
    pays_spec=st.lists(pay_st, min_size=1, max_size=8),
    others=st.lists(other_st, max_size=3),
    force=st.booleans(),
)
def test_every_cent_is_accounted_for(items_spec, pays_spec, others, force):
    items, txns, docs = _build(items_spec, pays_spec)
    extra = [_not_payment(k, *o) for k, o in enumerate(others)]
    res = _engine(items, force).run(txns + extra, docs)
    _check(res, items, txns, force)
    # what is no customer payment is set aside whole, never taken in part
    assert sorted(res.skipped.amount) == sorted(t.amount for t in extra)


def _check(res, items: pd.DataFrame, txns: list[BankTransaction], force: bool) -> None:
    opened = {r.item_id: to_cents(r.open_amount) for r in items.itertuples()} if len(items) else {}
    check_conservation(res)
    pays = res.payments
    assert len(pays) == len(txns)
    received: dict[str, Decimal] = {}
    for t in txns:
        received[t.currency] = received.get(t.currency, Decimal(0)) + t.amount
    for cur, total in received.items():
        mine = pays[pays.currency == cur]
        assert sum(mine.applied_amount) + sum(mine.suggested_amount) + sum(mine.unapplied_amount) == total
    # nothing is applied beyond what was open, and only in the payment's currency
    taken: dict[str, int] = {}
    for r in res.applications.itertuples():
        assert r.applied_amount >= 0 and r.discount_amount >= 0 and r.deduction_amount >= 0
        if r.item_type == "invoice":
            taken[r.item_id] = (
                taken.get(r.item_id, 0)
                + to_cents(r.applied_amount)
                + to_cents(r.discount_amount)
                + to_cents(r.deduction_amount)
            )
    for item_id, cents in taken.items():
        assert cents <= opened[item_id]
    cur_of = dict(zip(pays.transaction_id, pays.currency, strict=True))
    item_cur = {r.item_id: r.currency for r in items.itertuples()} if len(items) else {}
    for r in res.applications.itertuples():
        if r.item_type == "invoice":
            assert item_cur[r.item_id] == cur_of[r.transaction_id]
    # each suggestion proposes at most the amount received
    for (tid, _rank), grp in res.suggestions.groupby(["transaction_id", "rank"]):
        amount = pays.loc[pays.transaction_id == tid, "amount"].iloc[0]
        assert sum(grp.applied_amount) + grp.unapplied_amount.iloc[0] == amount
    if force:
        assert set(pays.status) <= {AUTO, "suggested", "unidentified"}


def test_every_kind_in_every_currency():
    """Each kind of payment, in each currency, against one book: conservation, and each kind does
    what it says (a multi-invoice payment spreads over its invoices, an overpayment leaves cash
    unapplied, a short payment advised with a deduction records it)."""
    items_spec = [
        (cust, cur, 10_000 + 1_337 * n, n % 40 - 20, n % 4 == 0)
        for n, (cust, cur) in enumerate(
            [(c, cur) for cur in CURRENCIES for c in ("C1", "C2", "C3") for _ in range(4)]
        )
    ]
    # items 0-11 are USD, 12-23 EUR, 24-35 GBP (four per customer)
    # each kind its own items, so no payment of the run finds its invoices taken by another
    picks_of = {
        "exact": [0],
        "multi": [1, 5],
        "short_advised": [2, 6],
        "over": [3, 7],
        "partial": [4],
        "short": [8],
        "random": [9],
        "foreign": [10],
        "advice_mismatch": [11],
    }
    pays_spec = []
    for base in (0, 12, 24):
        for kind in KINDS:
            picks = [base + i for i in picks_of[kind]]
            pays_spec.append((kind, picks, 30, "C1", kind in ("short_advised", "advice_mismatch"), True))
    items, txns, docs = _build(items_spec, pays_spec)
    for force in (False, True):
        res = _engine(items, force).run(txns, docs)
        _check(res, items, txns, force)
        assert set(res.payments.currency) == set(CURRENCIES)
        status = dict(zip(res.payments.transaction_id, res.payments.status, strict=True))
        by_kind = {}
        for (kind, *_), t in zip(pays_spec, txns, strict=True):
            by_kind.setdefault(kind, []).append(t.identity())
        for tid in by_kind["over"]:
            row = res.payments[res.payments.transaction_id == tid].iloc[0]
            assert row.unapplied_amount > 0 or row.status != AUTO
        if force:
            # forced through, every identified kind is applied, and its parts add up as it says
            for tid in by_kind["multi"]:
                assert status[tid] == AUTO
                assert len(res.applications[res.applications.transaction_id == tid]) == 2
            for tid in by_kind["short_advised"]:
                apps = res.applications[res.applications.transaction_id == tid]
                assert status[tid] == AUTO and sum(apps.deduction_amount) > 0
            for tid in by_kind["over"]:
                assert res.unapplied[res.unapplied.transaction_id == tid].unapplied_amount.sum() > 0
            for tid in by_kind["partial"]:
                assert status[tid] == AUTO
