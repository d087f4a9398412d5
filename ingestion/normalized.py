"""The normalized records every bank and remittance parser produces.

Parsers (camt, MT940, BAI2, lockbox, X12 820, CSV, remittance documents) differ in what they read;
they agree on what they hand over. Amounts are ``Decimal`` (exact, never float); a debit is a
negative ``amount`` with ``credit_debit='DBIT'``. ``position`` is where the record sits in its
file (1-based, in reading order) so a person can find it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import asdict, dataclass, field
from decimal import Decimal


@dataclass
class BankTransaction:
    """One booked movement on a bank account (a camt entry detail, an MT940 :61:, a BAI2 16 record, a lockbox check)."""

    source_format: str  # camt.053 | camt.054 | camt.052 | mt940 | mt942 | bai2 | lockbox | csv
    account: str  # IBAN or bank account number, as the bank states it
    bank: str | None  # BIC, routing number or bank name where the file says
    statement_id: str | None
    booking_date: dt.date | None
    value_date: dt.date | None
    amount: Decimal  # signed: credits positive, debits negative
    currency: str
    credit_debit: str  # CRDT | DBIT
    counterparty_name: str | None = None
    counterparty_account: str | None = None
    end_to_end_id: str | None = None
    bank_reference: str | None = None  # the bank's own id (AcctSvcrRef, MT940 bank ref, BAI2 bank ref)
    customer_reference: str | None = None  # the customer's/originator's reference
    remittance_text: str | None = None  # unstructured remittance (Ustrd, :86: REMI, 88 records)
    structured_references: list[str] = field(
        default_factory=list
    )  # creditor references (RF..., invoice numbers)
    transaction_code: str | None = None  # BTC / GVC / BAI type code
    is_reversal: bool = False
    position: int = 0
    raw: str | None = None  # the source text of the record, for people to read

    def identity(self) -> str:
        """Stable identity of a movement across files and formats (see docs in ingestion/bank/README)."""
        parts = [
            self.account.replace(" ", "").upper(),
            self.booking_date.isoformat() if self.booking_date else "",
            self.value_date.isoformat() if self.value_date else "",
            f"{self.amount:.2f}",
            self.currency,
            (self.end_to_end_id or "").strip() if (self.end_to_end_id or "").upper() != "NOTPROVIDED" else "",
            (self.bank_reference or "").strip(),
        ]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()

    def as_dict(self) -> dict:
        d = asdict(self)
        d["identity"] = self.identity()
        return d


@dataclass
class StatementBalance:
    """Opening/closing balance a statement states, to reconcile movements against."""

    source_format: str
    account: str
    statement_id: str | None
    currency: str
    opening_balance: Decimal | None
    opening_date: dt.date | None
    closing_balance: Decimal | None
    closing_date: dt.date | None
    movements_total: Decimal  # signed sum of the statement's booked movements


@dataclass
class RemittanceLine:
    """One invoice a payer says a payment covers."""

    invoice_reference: str
    paid_amount: Decimal | None
    invoice_amount: Decimal | None = None
    discount_amount: Decimal | None = None
    deduction_amount: Decimal | None = None
    deduction_reason: str | None = None
    confidence: float = 1.0  # 1.0 for structured formats; extraction confidence for documents
    position: int = 0


@dataclass
class RemittanceDocument:
    """A remittance advice (EDI 820, lockbox detail, e-mail, PDF, HTML, spreadsheet)."""

    source_format: str  # x12-820 | lockbox | eml | pdf | html | xlsx | csv | txt
    payer_name: str | None
    payment_reference: str | None
    payment_date: dt.date | None
    total_amount: Decimal | None
    currency: str | None
    lines: list[RemittanceLine] = field(default_factory=list)
    payer_confidence: float = 1.0
    position: int = 0


class ParseError(ValueError):
    """A file that cannot be read: the message says where and which rule, for a person."""

    def __init__(self, reason: str, line: int | None = None):
        self.reason = reason
        self.line = line
        super().__init__(f"line {line}: {reason}" if line else reason)


@dataclass
class ParseResult:
    source_format: str
    transactions: list[BankTransaction] = field(default_factory=list)
    balances: list[StatementBalance] = field(default_factory=list)
    remittances: list[RemittanceDocument] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
