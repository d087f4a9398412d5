"""BAI lockbox transmission: checks a bank deposited for us, with the invoices each check pays.

The layout below is the common BAI lockbox layout as US banks send it: fixed-width 80-character
records, the record type in column 1, amounts in cents without a decimal point, dates YYMMDD.
Banks differ in the filler and in optional fields; the positions read here are the ones below, and
anything that does not fit them is refused with the line number. Trailing blanks may be cut
(shorter lines are padded), lines longer than 80 characters are refused.

=====  =========================  ==========================================================
Type   Record                     Columns (1-based, inclusive)
=====  =========================  ==========================================================
1      Immediate address header   2-3 priority, 4-13 destination (company id),
                                  14-23 origin (bank routing), 24-29 transmission date,
                                  30-33 time
2      Service record             2-11 destination, 12-21 origin, 22-80 bank-specific
5      Batch header               2-4 batch no., 5-7 item 000, 8-14 lockbox no.,
                                  15-20 deposit date, 21-30 destination, 31-40 origin
6      Check detail               2-4 batch no., 5-7 item no., 8-17 check amount (cents),
                                  18-26 remitter bank routing (ABA), 27-36 remitter account,
                                  37-46 check number, 47-52 check date (blank if not captured),
                                  53-80 remitter name
4      Overflow (invoice)         2-4 batch no., 5-7 item no. of the check it belongs to,
                                  8 overflow type (4 = invoice), 9-10 sequence 01..,
                                  11 last-overflow flag (9 = last, 0 = more follow),
                                  12-26 invoice number, 27-36 amount paid (cents),
                                  37-46 invoice gross amount (cents, blank if unknown),
                                  47-56 discount taken (cents, blank if none)
7      Batch total                2-4 batch no., 5-7 item 999, 8-14 lockbox no.,
                                  15-20 deposit date, 21-23 number of checks,
                                  24-33 batch total (cents)
8      Lockbox total              2-4 999, 5-7 999, 8-14 lockbox no., 15-20 deposit date,
                                  21-24 number of checks, 25-34 lockbox total (cents)
9      Trailer                    2-7 number of records in the file, 1 and 9 included
=====  =========================  ==========================================================

Each check becomes a ``BankTransaction`` (source_format ``lockbox``; account = lockbox number;
counterparty account = routing/account from the MICR line) and, when it has invoice overflow
records, a ``RemittanceDocument`` with one line per invoice. Batch, lockbox and record-count totals
must match, or the file is refused: a lockbox file that does not add up cannot be posted.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ingestion.bank.common import decode_text, name_source, split_lines
from ingestion.normalized import (
    BankTransaction,
    ParseError,
    ParseResult,
    RemittanceDocument,
    RemittanceLine,
)

RECORD_LENGTH = 80


def parse_lockbox(data: bytes, source_name: str = "lockbox", currency: str = "USD") -> ParseResult:
    """Parse a BAI lockbox file; raises ParseError naming the line for anything it cannot read."""
    try:
        return name_source(_parse(data, currency), source_name)
    except ParseError as exc:
        raise name_source(exc, source_name) from None


def _col(rec: str, start: int, end: int) -> str:
    return rec[start - 1 : end].strip()


def _num(rec: str, start: int, end: int, what: str, line: int, *, optional: bool = False) -> int | None:
    value = _col(rec, start, end)
    if not value and optional:
        return None
    if not value.isdigit():
        raise ParseError(f"{what} (columns {start}-{end}) {value!r} is not a number", line)
    return int(value)


def _date(rec: str, start: int, end: int, what: str, line: int, *, optional: bool = False) -> dt.date | None:
    value = _col(rec, start, end)
    if not value and optional:
        return None
    try:
        return dt.datetime.strptime(value, "%y%m%d").date()
    except ValueError:
        raise ParseError(f"{what} (columns {start}-{end}) {value!r} is not YYMMDD", line) from None


def _cents(value: int | None) -> Decimal | None:
    return None if value is None else Decimal(value).scaleb(-2)


def _parse(data: bytes, currency: str) -> ParseResult:
    warnings: list[str] = []
    lines = split_lines(decode_text(data, warnings))
    records = [(n, ln.rstrip()) for n, ln in enumerate(lines, start=1) if ln.strip()]
    if not records:
        raise ParseError("empty lockbox file")
    result = ParseResult(source_format="lockbox", warnings=warnings)
    bank = None
    batch = None  # dict for the open batch
    lockbox_count = 0
    lockbox_total = 0
    check = None  # (transaction, document) of the last 6 record
    seen_trailer = False
    for number, rec in records:
        if seen_trailer:
            raise ParseError("record after the 9 trailer", number)
        if len(rec) > RECORD_LENGTH:
            raise ParseError(f"record is {len(rec)} characters, the layout has {RECORD_LENGTH}", number)
        rec = rec.ljust(RECORD_LENGTH)
        kind = rec[0]
        if number == records[0][0] and kind != "1":
            raise ParseError(f"a lockbox file starts with a type 1 header, not {kind!r}", number)
        if kind == "1":
            if number != records[0][0]:
                raise ParseError("a second type 1 header", number)
            bank = _col(rec, 14, 23) or None
            _date(rec, 24, 29, "transmission date", number)
        elif kind == "2":
            pass  # service record: bank-specific routing data, nothing for us
        elif kind == "5":
            if batch is not None:
                raise ParseError(f"batch {batch['number']} has no type 7 total before the next batch", number)
            batch = {
                "number": _num(rec, 2, 4, "batch number", number),
                "lockbox": _col(rec, 8, 14),
                "date": _date(rec, 15, 20, "deposit date", number),
                "count": 0,
                "total": 0,
            }
            if not batch["lockbox"]:
                raise ParseError("batch header without a lockbox number (columns 8-14)", number)
        elif kind == "6":
            if batch is None:
                raise ParseError("check record outside a batch (type 5 missing)", number)
            check = _check(rec, number, batch, bank, currency, result)
            batch["count"] += 1
            batch["total"] += check["cents"]
        elif kind == "4":
            _overflow(rec, number, batch, check, currency, result)
        elif kind == "7":
            if batch is None:
                raise ParseError("batch total without a batch", number)
            _expect(_num(rec, 2, 4, "batch number", number), batch["number"], "batch number", number)
            _expect(_num(rec, 21, 23, "number of checks", number), batch["count"], "number of checks", number)
            _expect(_num(rec, 24, 33, "batch total", number), batch["total"], "batch total (cents)", number)
            lockbox_count += batch["count"]
            lockbox_total += batch["total"]
            batch = None
            check = None
        elif kind == "8":
            if batch is not None:
                raise ParseError(
                    f"lockbox total while batch {batch['number']} is open (type 7 missing)", number
                )
            _expect(
                _num(rec, 21, 24, "number of checks", number),
                lockbox_count,
                "lockbox number of checks",
                number,
            )
            _expect(
                _num(rec, 25, 34, "lockbox total", number), lockbox_total, "lockbox total (cents)", number
            )
            lockbox_count = lockbox_total = 0
        elif kind == "9":
            _expect(_num(rec, 2, 7, "record count", number), len(records), "record count", number)
            seen_trailer = True
        else:
            raise ParseError(f"record type {kind!r} is not a lockbox record (1, 2, 4, 5, 6, 7, 8, 9)", number)
    if not seen_trailer:
        raise ParseError("the file ends without its type 9 trailer (truncated?)", records[-1][0])
    if batch is not None or lockbox_count:
        raise ParseError(
            "the file ends with a batch or lockbox not totalled (types 7/8 missing)", records[-1][0]
        )
    for doc in result.remittances:
        paid = sum((ln.paid_amount or Decimal(0) for ln in doc.lines), Decimal(0))
        if paid != doc.total_amount:
            warnings.append(
                f"line {doc.position}: check {doc.payment_reference} is {doc.total_amount} but its "
                f"invoices add up to {paid}"
            )
    return result


def _expect(stated: int | None, computed: int, what: str, line: int) -> None:
    if stated != computed:
        raise ParseError(f"{what}: the record says {stated}, the checks add up to {computed}", line)


def _check(rec: str, number: int, batch: dict, bank: str | None, currency: str, result: ParseResult) -> dict:
    _expect(_num(rec, 2, 4, "batch number", number), batch["number"], "batch number of the check", number)
    item = _num(rec, 5, 7, "item number", number)
    cents = _num(rec, 8, 17, "check amount", number)
    routing, account, check_no = _col(rec, 18, 26), _col(rec, 27, 36), _col(rec, 37, 46)
    check_date = _date(rec, 47, 52, "check date", number, optional=True)
    name = _col(rec, 53, 80) or None
    amount = _cents(cents)
    tx = BankTransaction(
        source_format="lockbox",
        account=batch["lockbox"],
        bank=bank,
        statement_id=f"{batch['lockbox']}/{batch['date'].isoformat()}",
        booking_date=batch["date"],
        value_date=None,
        amount=amount,
        currency=currency,
        credit_debit="CRDT",
        counterparty_name=name,
        counterparty_account=f"{routing}/{account}" if routing or account else None,
        bank_reference=f"{batch['number']:03d}-{item:03d}",
        customer_reference=check_no or None,
        transaction_code="LOCKBOX",
        position=number,
        raw=rec.rstrip(),
    )
    result.transactions.append(tx)
    doc = RemittanceDocument(
        source_format="lockbox",
        payer_name=name,
        payment_reference=check_no or None,
        payment_date=check_date or batch["date"],
        total_amount=amount,
        currency=currency,
        position=number,
    )
    return {
        "tx": tx,
        "doc": doc,
        "item": item,
        "cents": cents,
        "batch": batch["number"],
        "last": False,
        "seq": 0,
    }


def _overflow(
    rec: str, number: int, batch: dict | None, check: dict | None, currency: str, result: ParseResult
) -> None:
    if batch is None or check is None:
        raise ParseError("overflow (type 4) record without a check (type 6) before it", number)
    if (_num(rec, 2, 4, "batch number", number), _num(rec, 5, 7, "item number", number)) != (
        check["batch"],
        check["item"],
    ):
        raise ParseError(
            f"overflow record for batch/item {_col(rec, 2, 4)}/{_col(rec, 5, 7)} follows check "
            f"{check['batch']:03d}/{check['item']:03d}",
            number,
        )
    if check["last"]:
        raise ParseError("overflow record after the one flagged last (column 11 = 9)", number)
    if _col(rec, 8, 8) != "4":
        return  # other overflow types (e.g. 6 = check image reference) carry no invoice
    seq = _num(rec, 9, 10, "overflow sequence", number)
    if seq != check["seq"] + 1:
        raise ParseError(f"overflow sequence {seq} after {check['seq']}", number)
    check["seq"] = seq
    flag = _col(rec, 11, 11)
    if flag not in ("0", "9"):
        raise ParseError(f"last-overflow flag (column 11) {flag!r} is neither 0 nor 9", number)
    check["last"] = flag == "9"
    invoice = _col(rec, 12, 26)
    if not invoice:
        raise ParseError("invoice overflow record without an invoice number (columns 12-26)", number)
    doc: RemittanceDocument = check["doc"]
    doc.lines.append(
        RemittanceLine(
            invoice_reference=invoice,
            paid_amount=_cents(_num(rec, 27, 36, "amount paid", number)),
            invoice_amount=_cents(_num(rec, 37, 46, "invoice amount", number, optional=True)),
            discount_amount=_cents(_num(rec, 47, 56, "discount", number, optional=True)),
            position=number,
        )
    )
    if len(doc.lines) == 1:
        result.remittances.append(doc)
    tx: BankTransaction = check["tx"]
    tx.structured_references.append(invoice)
    tx.remittance_text = "invoices " + ", ".join(tx.structured_references)
