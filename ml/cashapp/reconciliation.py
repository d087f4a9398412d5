"""The daily reconciliation file for the ERP: what to post for every bank movement of a run.

Layout (CSV, UTF-8 without BOM, comma separated, ``"`` quoting where needed, CRLF line ends as RFC
4180 has them, one header row). Every received amount is accounted for: per bank movement, its
APPLICATION and WRITE_OFF rows plus its UNAPPLIED row add up to the amount received, and a CONTROL row
per currency closes the file with the total and the number of records.

===================  =========================================================================
column               content
===================  =========================================================================
record_type          APPLICATION (cash applied to an invoice), WRITE_OFF (a small overpayment
                     written off to income), UNAPPLIED (cash to post on account or in suspense
                     until a person decides: suggestions not yet accepted, unidentified cash,
                     overpayments), CONTROL (per-currency total, last rows of the file)
posting_date         booking date of the bank movement, YYYY-MM-DD
bank_transaction_id  the movement's identity (stable across files and formats)
customer_id          ERP customer the row posts to (empty when nobody was identified)
invoice_id           invoice paid (APPLICATION only)
currency             ISO 4217
amount               cash applied / written off / unapplied; CONTROL: the currency's total received;
                     dot decimal, two places, never negative
discount_amount      early-pay discount allowed on the invoice (APPLICATION)
deduction_amount     deduction taken by the payer, or a tolerated difference closed (APPLICATION)
deduction_reason     the payer's reason, or BANK_FEE / FX_DIFFERENCE / SMALL_DIFFERENCE
method               how the match was made (remittance, reference, exact_amount, ...)
confidence           calibrated confidence of the match, 0-1, four places
model_version        scorer that decided (``openar-cashapp-scorer/<n>`` or ``heuristic``)
reason               UNAPPLIED: overpayment | pending_review | unidentified; CONTROL: record count
evidence             why, in words a person checks
===================  =========================================================================

Spreadsheet safety: a cell a spreadsheet would read as a formula (starting with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return, as OWASP's CSV-injection guidance lists them) is written with a
leading ``'``. Payer names and references come from outside; they are data, never formulas.
"""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pandas as pd

from ml.cashapp.engine import CashAppResult
from ml.cashapp.money import fmt, to_cents

RECONCILIATION_COLUMNS = (
    "record_type",
    "posting_date",
    "bank_transaction_id",
    "customer_id",
    "invoice_id",
    "currency",
    "amount",
    "discount_amount",
    "deduction_amount",
    "deduction_reason",
    "method",
    "confidence",
    "model_version",
    "reason",
    "evidence",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralize(value) -> str:
    """A cell as text, with a leading ``'`` when a spreadsheet would take it for a formula."""
    if value is None or (isinstance(value, float) and value != value) or value is pd.NA:
        return ""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _amount(v) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return ""
    c = to_cents(v if isinstance(v, Decimal | int) else str(v))
    if c < 0:
        raise ValueError(f"reconciliation amounts are never negative, got {v}")
    return fmt(c)


def reconciliation_rows(result: CashAppResult) -> list[dict]:
    """The file's rows (before neutralization) for one run's result."""
    pays = result.payments
    apps = result.applications
    rows: list[dict] = []
    by_tid: dict[str, list[dict]] = {}
    for r in apps.to_dict("records"):
        by_tid.setdefault(r["transaction_id"], []).append(r)
    totals: dict[str, list] = {}
    for p in pays.sort_values(["booking_date", "transaction_id"], kind="stable").to_dict("records"):
        tid = p["transaction_id"]
        posted = Decimal("0.00")
        for a in by_tid.get(tid, ()):
            kind = "WRITE_OFF" if a["item_type"] == "write_off" else "APPLICATION"
            rows.append(
                {
                    "record_type": kind,
                    "posting_date": p["booking_date"],
                    "bank_transaction_id": tid,
                    "customer_id": a["customer_id"],
                    "invoice_id": a["item_id"],
                    "currency": a["currency"],
                    "amount": a["applied_amount"],
                    "discount_amount": a["discount_amount"] if kind == "APPLICATION" else None,
                    "deduction_amount": a["deduction_amount"] if kind == "APPLICATION" else None,
                    "deduction_reason": a["deduction_reason"],
                    "method": a["method"],
                    "confidence": a["confidence"],
                    "model_version": a["model_version"],
                    "reason": None,
                    "evidence": a["evidence"],
                }
            )
            posted += a["applied_amount"]
        rest = p["amount"] - posted
        if rest:
            reason = {"auto_applied": "overpayment", "suggested": "pending_review"}.get(
                p["status"], "unidentified"
            )
            rows.append(
                {
                    "record_type": "UNAPPLIED",
                    "posting_date": p["booking_date"],
                    "bank_transaction_id": tid,
                    "customer_id": p["customer_id"],
                    "invoice_id": None,
                    "currency": p["currency"],
                    "amount": rest,
                    "discount_amount": None,
                    "deduction_amount": None,
                    "deduction_reason": None,
                    "method": p["method"],
                    "confidence": p["confidence"],
                    "model_version": p["model_version"],
                    "reason": reason,
                    "evidence": None,
                }
            )
        t = totals.setdefault(p["currency"], [Decimal("0.00"), 0])
        t[0] += p["amount"]
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["currency"]] = counts.get(r["currency"], 0) + 1
    for cur in sorted(totals):
        rows.append(
            {
                "record_type": "CONTROL",
                "posting_date": None,
                "bank_transaction_id": None,
                "customer_id": None,
                "invoice_id": None,
                "currency": cur,
                "amount": totals[cur][0],
                "discount_amount": None,
                "deduction_amount": None,
                "deduction_reason": None,
                "method": None,
                "confidence": None,
                "model_version": result.model_version,
                "reason": f"{counts.get(cur, 0)} records",
                "evidence": None,
            }
        )
    return rows


def write_reconciliation_csv(result: CashAppResult, path: str | Path) -> dict[str, Decimal]:
    """Write the run's reconciliation file (layout in the module docstring); returns the per-currency
    totals of received cash it states in its CONTROL rows.

    Raises ``AssertionError`` if any movement's rows do not add up to its amount: such a file must
    never reach the ERP."""
    rows = reconciliation_rows(result)
    posted: dict[str, Decimal] = {}
    for r in rows:
        if r["record_type"] != "CONTROL":
            posted[r["bank_transaction_id"]] = posted.get(r["bank_transaction_id"], Decimal(0)) + r["amount"]
    for tid, amt in zip(result.payments.transaction_id, result.payments.amount, strict=True):
        if posted.get(tid, Decimal(0)) != amt:
            raise AssertionError(f"reconciliation rows of {tid} post {posted.get(tid)} of {amt}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\r\n")
        w.writerow(RECONCILIATION_COLUMNS)
        for r in rows:
            cells = []
            for col in RECONCILIATION_COLUMNS:
                v = r[col]
                if col in ("amount", "discount_amount", "deduction_amount"):
                    v = _amount(v)
                elif col == "confidence" and v is not None and v == v:
                    v = f"{float(v):.4f}"
                elif col == "posting_date" and v is not None:
                    v = pd.Timestamp(v).date().isoformat()
                cells.append(neutralize(v))
            w.writerow(cells)
    tmp.replace(path)  # a half-written file is never left where the ERP picks files up
    return {r["currency"]: r["amount"] for r in rows if r["record_type"] == "CONTROL"}
