"""Bank movements made ready for matching, and remittance advices linked to the movement they describe.

A remittance advice arrives apart from the money (an e-mail, an EDI 820, a lockbox coupon), so the
link is itself a match: first by the payment reference the advice quotes (end-to-end id, check
number, bank or customer reference), else by the same amount and currency within
``remittance_link_days`` of the booking date, the payer's name breaking ties. An advice that matches
no movement, or several equally well, is left unlinked and reported rather than guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ingestion.normalized import BankTransaction, RemittanceDocument
from ml.cashapp.knowledge import normalize_account
from ml.cashapp.money import to_cents
from ml.cashapp.names import name_similarity, normalize_name
from ml.cashapp.references import compact


@dataclass(slots=True)
class Payment:
    transaction_id: str
    date: int  # booking date (value date when the bank gives none), ordinal
    amount: int  # cents, > 0
    currency: str
    account: str  # normalized counterparty account
    name: str
    name_norm: str
    text: str  # every free-text field a payer can put references in
    source_format: str
    txn: BankTransaction
    docs: list[RemittanceDocument] = field(default_factory=list)
    order: int = 0  # position in the run, to keep outputs in input order
    other_names: tuple[str, ...] = ()  # other parties the bank text names (see _OTHER_PARTY_KEYS)


# US banks write the details of a BAI2 ACH or wire credit as "KEY:=VALUE" lines in its 88 records
# (ORIG CO NAME/ORIG ID of the ACH originator, ORG/ORG ID of the wire's ordering party, ADDENDA and
# OBI with what the payer wrote). When the parser leaves the counterparty empty, the payer is there.
_PAYER_NAME_KEYS = ("ORIG CO NAME", "ORG", "ORIGINATOR", "ORIG NAME", "BY ORDER OF")
_PAYER_ID_KEYS = ("ORIG ID", "ORG ID", "ORIGINATOR ID")
# The individual (receiver) name of an ACH or card entry: on an ACH credit it is us, but on a card
# settlement the originator is the card processor (the same name on every customer's card payments)
# and the individual name is the card holder. Identification tries it beside the originator.
_OTHER_PARTY_KEYS = ("IND NAME",)
# What describes the payment's route or our own side, never the invoices paid: kept out of the text
# references are read from (an originator id or routing number can look like a partial invoice number).
_ROUTE_KEYS = frozenset(
    (*_PAYER_NAME_KEYS, *_PAYER_ID_KEYS, "IND NAME", "IND ID", "BNF NAME", "BNF", "BNF ID", "SEC",
     "CO ENTRY DESCR", "SENDER BNK", "RECEIVER BNK", "ORIG BNK", "LOCKBOX", "ITEMS")
)  # fmt: skip


def bank_text_fields(text: str | None) -> tuple[dict[str, str], str]:
    """``KEY:=VALUE`` fields of a bank text, and the rest of the text without the routing fields."""
    if not text or ":=" not in text:
        return {}, text or ""
    fields: dict[str, str] = {}
    rest = []
    for line in text.splitlines():
        key, sep, value = line.partition(":=")
        key = key.strip().upper()
        if sep and key:
            fields.setdefault(key, value.strip())
            if key not in _ROUTE_KEYS:
                rest.append(value.strip())
        elif line.strip():
            rest.append(line.strip())
    return fields, " ".join(rest)


def payer_of(txn: BankTransaction) -> tuple[str | None, str | None]:
    """The payer's name and account as the bank gave them: the parsed counterparty, else the
    originator fields of the bank text (see ``bank_text_fields``)."""
    name, account = txn.counterparty_name, txn.counterparty_account
    if not name or not account:
        text_name, text_account = payer_of_text(txn.remittance_text)
        name, account = name or text_name, account or text_account
    return name, account


def payer_of_text(text: str | None) -> tuple[str | None, str | None]:
    """The payer's name and id from the ``KEY:=VALUE`` fields of a bank text (``None`` where absent)."""
    fields, _ = bank_text_fields(text)
    name = next((fields[k] for k in _PAYER_NAME_KEYS if fields.get(k)), None)
    account = next((fields[k] for k in _PAYER_ID_KEYS if fields.get(k)), None)
    return name, account


def payment_of(txn: BankTransaction, order: int = 0) -> Payment:
    """A credit movement → :class:`Payment`. Raises ``ValueError`` for what cash application cannot take."""
    if txn.credit_debit != "CRDT" or txn.amount <= 0:
        raise ValueError(
            f"transaction {txn.identity()[:12]} is not a credit; cash application takes credits only"
        )
    day = txn.booking_date or txn.value_date
    if day is None:
        raise ValueError(f"transaction {txn.identity()[:12]} has neither booking nor value date")
    e2e = txn.end_to_end_id if (txn.end_to_end_id or "").upper() != "NOTPROVIDED" else None
    fields, free_text = bank_text_fields(txn.remittance_text)
    parts = [free_text, txn.customer_reference, e2e, *txn.structured_references]
    name, account = payer_of(txn)
    others = tuple(fields[k] for k in _OTHER_PARTY_KEYS if fields.get(k) and fields[k] != name)
    return Payment(
        transaction_id=txn.identity(),
        date=day.toordinal(),
        amount=to_cents(txn.amount),
        currency=txn.currency.upper(),
        account=normalize_account(account),
        name=name or "",
        name_norm=normalize_name(name),
        text=" ".join(p for p in parts if p),
        source_format=txn.source_format,
        txn=txn,
        order=order,
        other_names=others,
    )


def doc_total(doc: RemittanceDocument) -> int | None:
    """The amount an advice says was paid: its total, else the sum of its lines' paid amounts."""
    if doc.total_amount is not None:
        return to_cents(doc.total_amount)
    paid = [ln.paid_amount for ln in doc.lines]
    if paid and all(p is not None for p in paid):
        return sum(to_cents(p) for p in paid)
    return None


def _refs_of(p: Payment) -> set[str]:
    t = p.txn
    out = set()
    for v in (t.end_to_end_id, t.customer_reference, t.bank_reference):
        if v and v.upper() != "NOTPROVIDED":
            c = compact(v)
            if len(c) >= 3:
                out.add(c)
    return out


def link_remittances(
    payments: list[Payment], docs: list[RemittanceDocument], link_days: int
) -> list[RemittanceDocument]:
    """Attach each advice to its payment (``Payment.docs``); returns the advices left unlinked."""
    by_ref: dict[str, list[Payment]] = {}
    by_amount: dict[tuple[str, int], list[Payment]] = {}
    for p in payments:
        for r in _refs_of(p):
            by_ref.setdefault(r, []).append(p)
        by_amount.setdefault((p.currency, p.amount), []).append(p)
    unlinked = []
    for doc in docs:
        total = doc_total(doc)
        cur = (doc.currency or "").upper()
        day = doc.payment_date.toordinal() if doc.payment_date else None
        chosen = None
        if doc.payment_reference:
            hits = by_ref.get(compact(doc.payment_reference), [])
            if total is not None:
                hits = [p for p in hits if p.amount == total] or hits
            if day is not None:
                hits = [p for p in hits if abs(p.date - day) <= link_days]
            if len(hits) == 1:
                chosen = hits[0]
        if chosen is None and total is not None:
            pool = (
                by_amount.get((cur, total), [])
                if cur
                else [p for (c, a), ps in by_amount.items() if a == total for p in ps]
            )
            if day is not None:
                pool = [p for p in pool if abs(p.date - day) <= link_days]
            if len(pool) == 1:
                chosen = pool[0]
            elif len(pool) > 1 and doc.payer_name:
                who = normalize_name(doc.payer_name)
                scored = sorted(
                    (
                        (name_similarity(p.name_norm, who), -abs(p.date - (day or p.date)), p.order, p)
                        for p in pool
                    ),
                    key=lambda x: (-x[0], -x[1], x[2]),
                )
                best, second = scored[0], scored[1]
                if best[0] >= 70 and (best[0] - second[0] >= 10 or best[1] > second[1]):
                    chosen = best[3]
        if chosen is None:
            unlinked.append(doc)
        else:
            chosen.docs.append(doc)
    return unlinked


def link_by_payer(
    unlinked: list[RemittanceDocument], payments: list[Payment], payer_of, invoices_of, link_days: int
) -> list[RemittanceDocument]:
    """Second pass for advices with neither a usable reference nor a total: the payment of the same
    payer family (``payer_of(payment)`` / ``invoices_of(doc)``: sets of family keys) within the date
    window, if exactly one, and only if it is at least what the advice's readable lines add up to."""
    if not unlinked:
        return unlinked
    by_family: dict[str, list[Payment]] = {}
    for p in payments:
        for fam in payer_of(p):
            by_family.setdefault(fam, []).append(p)
    left = []
    for doc in unlinked:
        day = doc.payment_date.toordinal() if doc.payment_date else None
        known = sum(to_cents(ln.paid_amount) for ln in doc.lines if ln.paid_amount is not None)
        pool = {id(p): p for fam in invoices_of(doc) for p in by_family.get(fam, ())}
        hits = [
            p
            for p in pool.values()
            if (day is None or abs(p.date - day) <= link_days)
            and p.amount >= known
            and not p.docs
            and (not doc.currency or doc.currency.upper() == p.currency)
        ]
        if len(hits) == 1:
            hits[0].docs.append(doc)
        else:
            left.append(doc)
    return left
