"""Builders for hand-made cash-application situations: a customer master, open items, bank lines."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pandas as pd

from ingestion.normalized import BankTransaction, RemittanceDocument, RemittanceLine
from ml.cashapp.engine import CashApplicationEngine, build_engine
from ml.cashapp.rules import Rules, load_rules

DAY = dt.date(2026, 3, 16)
_refs = itertools.count(1)

ACME = {
    "customer_id": "C000001",
    "customer_name": "Acme Widgets Inc.",
    "parent_customer_id": None,
    "currency": "USD",
    "bank_account": "021000021 99887766",
}
ACME_WEST = {
    "customer_id": "C000002",
    "customer_name": "Acme Widgets West LLC",
    "parent_customer_id": "C000001",
    "currency": "USD",
    "bank_account": None,
}
WESER = {
    "customer_id": "C000010",
    "customer_name": "Weser Fahrzeugteile GmbH & Co. KG",
    "parent_customer_id": None,
    "currency": "EUR",
    "bank_account": "DE44 5001 0517 5407 3249 31",
}
CEDAR = {
    "customer_id": "C000020",
    "customer_name": "Cedar Solutions Limited",
    "parent_customer_id": None,
    "currency": "GBP",
    "bank_account": "GB29NWBK60161331926819",
}
MASTER = [ACME, ACME_WEST, WESER, CEDAR]


def customers(rows=MASTER) -> pd.DataFrame:
    return pd.DataFrame(rows)


def inv(
    item_id: str,
    customer_id: str,
    amount: str,
    *,
    currency: str = "USD",
    due: dt.date | None = None,
    issued: dt.date | None = None,
    open_amount: str | None = None,
    discount_pct: str | None = None,
    discount_due: dt.date | None = None,
    po: str | None = None,
) -> dict:
    issued = issued or DAY - dt.timedelta(days=40)
    return {
        "item_id": item_id,
        "item_type": "invoice",
        "customer_id": customer_id,
        "currency": currency,
        "document_date": issued,
        "due_date": due or issued + dt.timedelta(days=30),
        "original_amount": Decimal(amount),
        "open_amount": Decimal(open_amount or amount),
        "discount_pct": Decimal(discount_pct) if discount_pct else None,
        "discount_due_date": discount_due,
        "po_number": po,
    }


def txn(
    amount: str,
    *,
    name: str | None = "ACME WIDGETS INC",
    account: str | None = "02100002199887766",
    text: str | None = None,
    currency: str = "USD",
    day: dt.date = DAY,
    e2e: str | None = None,
    customer_reference: str | None = None,
) -> BankTransaction:
    n = next(_refs)
    return BankTransaction(
        "camt.053",
        "DE89370400440532013000",
        "COBADEFFXXX",
        "STMT",
        day,
        day,
        Decimal(amount),
        currency,
        "CRDT",
        counterparty_name=name,
        counterparty_account=account,
        end_to_end_id=e2e,
        bank_reference=f"REF{n:06d}",
        customer_reference=customer_reference,
        remittance_text=text,
    )


def advice(
    lines: list[tuple],
    *,
    total: str | None,
    payer: str = "Acme Widgets Inc.",
    currency: str = "USD",
    reference: str | None = None,
    day: dt.date = DAY,
    fmt: str = "eml",
) -> RemittanceDocument:
    """``lines``: (reference, paid, discount, deduction, reason) tuples (trailing ones optional)."""
    out = []
    for n, ln in enumerate(lines, start=1):
        ref, paid, *rest = ln
        disc = rest[0] if len(rest) > 0 else None
        ded = rest[1] if len(rest) > 1 else None
        reason = rest[2] if len(rest) > 2 else None
        out.append(
            RemittanceLine(
                ref,
                Decimal(paid) if paid is not None else None,
                discount_amount=Decimal(disc) if disc else None,
                deduction_amount=Decimal(ded) if ded else None,
                deduction_reason=reason,
                position=n,
            )
        )
    return RemittanceDocument(fmt, payer, reference, day, Decimal(total) if total else None, currency, out)


def engine(
    items: list[dict], *, rules: Rules | None = None, master=MASTER, history=None, corrections=None
) -> CashApplicationEngine:
    return build_engine(
        pd.DataFrame(items),
        customers(master),
        rules=rules or load_rules(),
        history=history,
        corrections=corrections,
    )
