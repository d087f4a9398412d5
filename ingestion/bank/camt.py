"""ISO 20022 camt.052 (intraday report), camt.053 (statement) and camt.054 (notification).

One reader serves all three and every version from 001.01 to 001.08: namespaces are ignored,
because the element names we read did not change between versions (only where a few of them sit,
handled below: ``Sts`` became ``Sts/Cd`` in v8, a party ``Nm`` moved under ``Pty`` in v8,
``TxDtls/Amt`` exists from v3 on, v1 names the message ``...V01`` and the account ``PrtryAcct``).

The file is read as a stream (lxml ``iterparse``): each ``Ntry`` is turned into transactions when it
ends and then dropped, so memory stays flat on month-end files of many megabytes. Each entry's
elements are indexed by path once (one walk), because lxml's ``find`` costs microseconds per call
and an entry needs a few dozen lookups.

What becomes a ``BankTransaction``: one per ``TxDtls`` of a booked ``Ntry`` (batch bookings carry many
payments under one entry). The amount comes from ``TxDtls/Amt`` or ``TxDtls/AmtDtls/TxAmt/Amt``;
when a detail has none, the entry amount is used if the entry has a single detail, and when several
details have no amount the entry stays one transaction with their references merged (splitting it
would invent amounts). Entries whose status is not booked (``PDNG``, ``INFO``) are reported as
warnings, not as movements.

Security: XML from outside is parsed with lxml with entity resolution, DTD loading, network access
and huge trees switched off, and any DTD is refused before parsing. ISO 20022 messages never carry a DTD, so a
``<!DOCTYPE`` can only be an attack (billion laughs, external entities) or a broken export.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass
from decimal import Decimal

from lxml import etree

from ingestion.bank.common import name_source, parse_decimal
from ingestion.normalized import BankTransaction, ParseError, ParseResult, StatementBalance

_MESSAGES = {
    "BkToCstmrStmt": ("camt.053", "Stmt"),
    "BkToCstmrAcctRpt": ("camt.052", "Rpt"),
    "BkToCstmrDbtCdtNtfctn": ("camt.054", "Ntfctn"),
}
_OPENING_CODES = ("OPBD", "PRCD")  # opening booked; previously closed booked (= today's opening)
_CLOSING_CODES = ("CLBD",)
_AMOUNT = re.compile(r"^\d+(\.\d+)?$")
_PROLOG_END = re.compile(rb"<[A-Za-z_]")


_LOCAL_NAMES: dict[str, str] = {}


def _local(tag) -> str:
    """ "{urn:...camt.053.001.08}Ntry" -> "Ntry" (cached: a file has a few dozen distinct tags)."""
    name = _LOCAL_NAMES.get(tag)
    if name is None:
        name = tag.rpartition("}")[2] if isinstance(tag, str) else ""
        if len(_LOCAL_NAMES) < 10_000:
            _LOCAL_NAMES[tag] = name
    return name


class _Index:
    """The elements under one element by relative path ("Refs/EndToEndId"), built in one walk."""

    __slots__ = ("line", "paths")

    def __init__(self, el: etree._Element):
        self.line: int = el.sourceline or 0
        self.paths: dict[str, list[etree._Element]] = {}
        self._walk(el, "")

    def _walk(self, el, prefix: str) -> None:
        for child in el:
            name = _local(child.tag)
            if not name:
                continue
            path = prefix + name
            self.paths.setdefault(path, []).append(child)
            if len(child):
                self._walk(child, path + "/")

    def all(self, path: str) -> list[etree._Element]:
        return self.paths.get(path, [])

    def first(self, path: str) -> etree._Element | None:
        found = self.paths.get(path)
        return found[0] if found else None

    def text(self, *paths: str) -> str | None:
        """The first non-empty text among ``paths``, in the order given."""
        for path in paths:
            for el in self.paths.get(path, ()):
                if el.text and el.text.strip():
                    return el.text.strip()
        return None

    def texts(self, path: str) -> list[str]:
        return [el.text.strip() for el in self.paths.get(path, ()) if el.text and el.text.strip()]


def _check_prolog(data: bytes) -> None:
    root_start = _PROLOG_END.search(data)
    prolog = data[: root_start.start()] if root_start else data
    if b"<!DOCTYPE" in prolog.upper() or b"<!ENTITY" in prolog.upper():
        raise ParseError(
            "XML with a DOCTYPE/ENTITY declaration is refused "
            "(camt messages never carry one; entity expansion is a known attack)"
        )


def _date(x: _Index, path: str) -> dt.date | None:
    """``Dt`` or ``DtTm`` under ``path``; a DtTm keeps the bank's local date (no shift to UTC)."""
    value = x.text(f"{path}/Dt", f"{path}/DtTm", path)
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        node = x.first(path)
        raise ParseError(
            f"<{path}> {value!r} is not an ISO date", node.sourceline if node is not None else None
        ) from None


def _amount(node: etree._Element, what: str) -> tuple[Decimal, str]:
    raw = (node.text or "").strip()
    if not _AMOUNT.match(raw):
        raise ParseError(f"{what} {raw!r} is not an unsigned decimal amount", node.sourceline)
    currency = node.get("Ccy")
    if not currency:
        raise ParseError(f"{what} has no Ccy attribute", node.sourceline)
    return parse_decimal(raw, what, node.sourceline), currency


def _account_id(x: _Index, prefix: str) -> str | None:
    p = prefix
    # PrtryAcct: camt.05x.001.01
    return x.text(f"{p}Id/IBAN", f"{p}Id/Othr/Id", f"{p}Id/BBAN", f"{p}Id/PrtryAcct/Id")


def _party_name(x: _Index, role: str) -> str | None:
    # v2-v7: <Dbtr><Nm>; v8: <Dbtr><Pty><Nm> (a Dbtr may also be an agent: <Agt><FinInstnId><Nm>)
    r = f"RltdPties/{role}"
    return x.text(f"{r}/Nm", f"{r}/Pty/Nm", f"{r}/Agt/FinInstnId/Nm")


def _bank_code(x: _Index, prefix: str) -> str | None:
    domain = x.text(f"{prefix}Domn/Cd")
    if domain:
        family = [x.text(f"{prefix}Domn/Fmly/Cd"), x.text(f"{prefix}Domn/Fmly/SubFmlyCd")]
        return "-".join(filter(None, [domain, *family]))
    return x.text(f"{prefix}Prtry/Cd")


def parse_camt(data: bytes, source_name: str = "camt") -> ParseResult:
    """Parse a camt.052/053/054 file; raises ParseError naming the line for anything it cannot read."""
    try:
        return name_source(_parse_camt(data), source_name)
    except ParseError as exc:
        raise name_source(exc, source_name) from None


@dataclass
class _Record:
    element: etree._Element
    statement_id: str | None = None
    account: str | None = None
    bank: str | None = None
    currency: str | None = None
    opening: tuple | None = None
    closing: tuple | None = None
    movements: Decimal = Decimal(0)


# Only these elements produce events (lxml filters in C): an entry's inner elements are read from
# its subtree when the entry ends, so they need no events of their own.
_EVENT_TAGS = [f"{{*}}{name}" for name in ("Stmt", "Rpt", "Ntfctn", "Id", "Acct", "Bal", "Ntry")]


def _parse_camt(data: bytes) -> ParseResult:
    _check_prolog(data)
    events = etree.iterparse(
        io.BytesIO(data),
        events=("end",),
        tag=_EVENT_TAGS,
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        remove_comments=True,
        remove_pis=True,
    )
    result: ParseResult | None = None
    message = record_tag = fmt = None
    record: _Record | None = None
    records = 0
    try:
        for _event, el in events:
            if message is None:
                message, fmt, record_tag = _message(el)
                result = ParseResult(source_format=fmt)
            parent = el.getparent()
            name = _local(el.tag)
            if parent is message:
                if name == record_tag:
                    if record is None or record.element is not el:
                        record = _Record(element=el)  # a statement with no Id/Acct/Bal/Ntry at all
                    _finish_record(record, fmt, result)
                    records += 1
                    record = None
                    _drop(el)
            elif parent is not None and parent.getparent() is message and _local(parent.tag) == record_tag:
                if record is None or record.element is not parent:
                    record = _Record(element=parent)
                _record_child(name, el, record, fmt, result)
                _drop(el)
    except etree.XMLSyntaxError as exc:
        raise ParseError(f"XML is not well-formed (truncated or damaged): {exc.msg}", exc.lineno) from None
    if result is None:  # no element we listen for: still say what the file is, or is not
        if events.root is None:
            raise ParseError("empty XML document")
        _, fmt, record_tag = _message(events.root)
    if not records:
        raise ParseError(f"{fmt} message has no <{record_tag}> (no statement in the file)")
    return result


def _message(el: etree._Element) -> tuple[etree._Element, str, str]:
    """The message element (Document's child) and what it is, checked at the first event."""
    tree = el.getroottree()
    # A DTD the byte scan could not see (e.g. UTF-16): refuse before reading any further.
    if tree.docinfo.internalDTD is not None:
        raise ParseError("XML with a DOCTYPE declaration is refused")
    root = tree.getroot()
    if _local(root.tag) != "Document" or len(root) == 0:
        raise ParseError(
            f"root element is <{_local(root.tag)}>, not an ISO 20022 <Document>", root.sourceline
        )
    message = root[0]
    # camt.05x.001.01 names the message element with its version (BkToCstmrAcctRptV01).
    name = re.sub(r"V\d+$", "", _local(message.tag))
    if name not in _MESSAGES:
        raise ParseError(f"<{_local(message.tag)}> is not a camt.052/053/054 message", message.sourceline)
    return message, *_MESSAGES[name]


def _drop(el: etree._Element) -> None:
    """Free what was read: the element's content and the siblings before it."""
    el.clear(keep_tail=False)
    parent = el.getparent()
    if parent is not None:
        while el.getprevious() is not None:
            del parent[0]


def _record_child(name: str, el: etree._Element, record: _Record, fmt: str, result: ParseResult) -> None:
    if name == "Id":
        record.statement_id = (el.text or "").strip() or None
    elif name == "Acct":
        x = _Index(el)
        record.account = _account_id(x, "")
        record.bank = x.text(
            "Svcr/FinInstnId/BIC",
            "Svcr/FinInstnId/BICFI",
            "Svcr/FinInstnId/Nm",
            "Svcr/FinInstnId/NmAndAdr/Nm",
        )
        record.currency = x.text("Ccy")
    elif name == "Bal":
        x = _Index(el)
        code = x.text("Tp/CdOrPrtry/Cd", "Tp/CdOrPrtry/Prtry")
        amt = x.first("Amt")
        if amt is None:
            raise ParseError(f"balance {code} has no <Amt>", el.sourceline)
        amount, currency = _amount(amt, f"balance {code}")
        if x.text("CdtDbtInd") == "DBIT":
            amount = -amount
        value = (amount, currency, _date(x, "Dt"))
        if code in _OPENING_CODES and (record.opening is None or code == "OPBD"):
            record.opening = value
        elif code in _CLOSING_CODES:
            record.closing = value
    elif name == "Ntry":
        if not record.account:
            raise ParseError(
                f"<{_local(record.element.tag)}> {record.statement_id} has no account id "
                "(Acct/Id) before its entries",
                record.element.sourceline,
            )
        _parse_entry(_Index(el), fmt, record, result)


def _finish_record(record: _Record, fmt: str, result: ParseResult) -> None:
    if not record.account:
        raise ParseError(
            f"<{_local(record.element.tag)}> {record.statement_id} has no account id (Acct/Id)",
            record.element.sourceline,
        )
    if record.opening or record.closing:
        currency = record.currency or (record.opening or record.closing)[1]
        result.balances.append(
            StatementBalance(
                source_format=fmt,
                account=record.account,
                statement_id=record.statement_id,
                currency=currency or "",
                opening_balance=record.opening[0] if record.opening else None,
                opening_date=record.opening[2] if record.opening else None,
                closing_balance=record.closing[0] if record.closing else None,
                closing_date=record.closing[2] if record.closing else None,
                movements_total=record.movements,
            )
        )


def _parse_entry(entry: _Index, fmt: str, record: _Record, result: ParseResult) -> None:
    amt_node = entry.first("Amt")
    if amt_node is None:
        raise ParseError("<Ntry> without <Amt>", entry.line)
    entry_amount, entry_currency = _amount(amt_node, "entry amount")
    indicator = entry.text("CdtDbtInd")
    if indicator not in ("CRDT", "DBIT"):
        raise ParseError(f"entry CdtDbtInd {indicator!r} is neither CRDT nor DBIT", entry.line)
    status = entry.text("Sts/Cd", "Sts", "Sts/Prtry")
    if status not in (None, "BOOK"):
        result.warnings.append(f"line {entry.line}: entry with status {status} skipped (not booked)")
        return
    signed_entry = entry_amount if indicator == "CRDT" else -entry_amount
    record.movements += signed_entry
    before = len(result.transactions)
    _entry_transactions(entry, entry_amount, entry_currency, indicator, fmt, record, result)
    booked = sum((t.amount for t in result.transactions[before:]), Decimal(0))
    if booked != signed_entry:
        result.warnings.append(
            f"line {entry.line}: transaction details add up to {booked}, entry amount is {signed_entry}"
        )


def _entry_transactions(entry, entry_amount, entry_currency, indicator, fmt, record: _Record, result) -> None:
    details = [_Index(d) for d in entry.all("NtryDtls/TxDtls") + entry.all("NtryDtls/Btch/TxDtls")]
    base = dict(
        source_format=fmt,
        account=record.account,
        bank=record.bank,
        statement_id=record.statement_id,
        booking_date=_date(entry, "BookgDt"),
        value_date=_date(entry, "ValDt"),
        is_reversal=(entry.text("RvslInd") or "").lower() == "true",
    )
    entry_ref = entry.text("AcctSvcrRef")
    entry_code = _bank_code(entry, "BkTxCd/")
    entry_info = entry.text("AddtlNtryInf")

    amounts = [_detail_amount(d, entry_currency, result.warnings) for d in details]
    if len(details) == 1 and amounts[0] is not None and amounts[0][0] != entry_amount:
        # One detail is the whole entry: the entry amount is what was booked on the account.
        result.warnings.append(
            f"line {details[0].line}: the only transaction detail states "
            f"{amounts[0][0]}, the entry {entry_amount}; the entry amount is used"
        )
        amounts = [None]
    if not details or (len(details) > 1 and all(a is None for a in amounts)):
        # No detail, or several details none of which says its amount: one movement for the entry.
        merged = _merge([_detail_fields(d, indicator) for d in details])
        result.transactions.append(
            BankTransaction(
                **base,
                amount=entry_amount if indicator == "CRDT" else -entry_amount,
                currency=entry_currency,
                credit_debit=indicator,
                bank_reference=merged.get("bank_reference") or entry_ref,
                transaction_code=merged.get("transaction_code") or entry_code,
                remittance_text=merged.get("remittance_text") or entry_info,
                end_to_end_id=merged.get("end_to_end_id"),
                customer_reference=merged.get("customer_reference"),
                counterparty_name=merged.get("counterparty_name"),
                counterparty_account=merged.get("counterparty_account"),
                structured_references=merged.get("structured_references", []),
                position=entry.line,
                raw=f"Ntry at line {entry.line}",
            )
        )
        return
    for detail, amount in zip(details, amounts, strict=True):
        if amount is None:
            if len(details) > 1:
                raise ParseError("batch entry: this TxDtls has no amount while others have one", detail.line)
            amount = (entry_amount, entry_currency, None)
        value, currency, detail_indicator = amount
        ind = detail_indicator or indicator
        fields = _detail_fields(detail, ind)
        result.transactions.append(
            BankTransaction(
                **base,
                amount=value if ind == "CRDT" else -value,
                currency=currency,
                credit_debit=ind,
                bank_reference=fields.pop("bank_reference", None) or entry_ref,
                transaction_code=fields.pop("transaction_code", None) or entry_code,
                remittance_text=fields.pop("remittance_text", None) or entry_info,
                **fields,
                position=detail.line,
                raw=f"TxDtls at line {detail.line}",
            )
        )


def _detail_amount(
    detail: _Index, entry_currency: str, warnings: list[str]
) -> tuple[Decimal, str, str | None] | None:
    """The detail's amount in the account's (entry's) currency, or None.

    A detail may state the instructed amount in the payer's currency (e.g. CHF under a SEK entry);
    that is not what moved on this account, so only an amount in the entry's currency is used.
    """
    for path in ("Amt", "AmtDtls/TxAmt/Amt"):
        node = detail.first(path)
        if node is None:
            continue
        value, currency = _amount(node, "transaction amount")
        if currency == entry_currency:
            return value, currency, detail.text("CdtDbtInd")
        warnings.append(
            f"line {node.sourceline}: transaction amount {value} {currency} is not in the "
            f"entry's currency {entry_currency}; the entry amount is used"
        )
        break
    return None


def _detail_fields(detail: _Index, indicator: str) -> dict:
    # Money in: the payer (debtor) is the counterparty; money out: the payee (creditor). The ultimate
    # party is preferred for the name because it is the customer whose invoices a payment factory or
    # parent company pays; the account stays the one that moved the money.
    role = "Dbtr" if indicator == "CRDT" else "Cdtr"
    refs = detail.texts("RmtInf/Strd/CdtrRefInf/Ref") + detail.texts("RmtInf/Strd/RfrdDocInf/Nb")
    remittance = " ".join(detail.texts("RmtInf/Ustrd") + detail.texts("RmtInf/Strd/AddtlRmtInf"))
    fields = {
        "counterparty_name": _party_name(detail, f"Ultmt{role}") or _party_name(detail, role),
        "counterparty_account": _account_id(detail, f"RltdPties/{role}Acct/"),
        "end_to_end_id": detail.text("Refs/EndToEndId"),
        "customer_reference": detail.text("Refs/InstrId", "Refs/PmtInfId", "Refs/MndtId"),
        "remittance_text": remittance or detail.text("AddtlTxInf"),
        "structured_references": list(dict.fromkeys(refs)),
    }
    bank_ref = detail.text("Refs/AcctSvcrRef")
    if bank_ref:
        fields["bank_reference"] = bank_ref
    code = _bank_code(detail, "BkTxCd/")
    if code:
        fields["transaction_code"] = code
    return fields


def _merge(parts: list[dict]) -> dict:
    merged: dict = {"structured_references": []}
    texts = []
    for part in parts:
        for key, value in part.items():
            if key == "structured_references":
                merged[key] = list(dict.fromkeys(merged[key] + value))
            elif key == "remittance_text":
                if value:
                    texts.append(value)
            elif value and not merged.get(key):
                merged[key] = value
    merged["remittance_text"] = " | ".join(dict.fromkeys(texts)) or None
    return merged
