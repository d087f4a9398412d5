"""SWIFT MT940 (customer statement) and MT942 (interim transaction report).

Library use: the pinned ``mt940`` package (0.8.x) is a small parser whose ``MT940`` class crashes on 17
of the 54 public sample files we test against (blank entry dates and blank transaction-type codes in
``:61:``, ``:86:`` before the first ``:61:``, files that are one tag long, 30 February) and ignores
``:60M:``/``:62M:``, MT942 tags and line numbers. So the statement assembly and the ``:61:`` line are read
here; the package's bank-specific ``/TAG/`` readers for ``:86:`` (``ing_description``,
``abn_amro_description``, ``rabo_description``) are used as they are.

What real files do, and what this module does about it:

- SWIFT envelopes ``{1:...}{2:...}{4:`` and ``-}`` / ``-}{5:...}`` trailers, a ``:940:`` line, bank
  header lines (``ABNANL2A``/``940``) and other free text before the first ``:20:``: skipped.
- Control characters (SOH/ETX around each message, stray binary bytes): removed.
- Lines that look like a tag but are not one of MT940/942's (``:12:``, ``:26:`` inside wrapped ``:86:``
  text): continuation of the field before, because ``:86:`` is wrapped at 65 characters wherever the
  text happens to be.
- ``:86:`` as German ``?NN`` subfields (``?20``-``?29`` and ``?60``-``?63`` purpose, ``?32``/``?33``
  name, ``?31`` account; some banks write ``>NN``), with SEPA keys ``EREF+``, ``KREF+``, ``MREF+``,
  ``SVWZ+``, ``ABWA+`` inside the purpose; ``/TAG/value`` structures (ING, ABN AMRO, Rabobank);
  or free text.
- Amounts with a decimal comma or point; ``:61:`` marks ``C``/``D``, ``RC``/``RD`` (reversals),
  ``EC``/``ED`` (MT942 expected); entry dates that cross the new year; 30 February (clamped to the
  month's last day with a warning).
- Several statements per file; ``:60F:``/``:60M:`` opening and ``:62F:``/``:62M:`` closing balances.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal

import mt940 as mt940_lib

from ingestion.bank.common import decode_text, name_source, parse_decimal, split_lines
from ingestion.normalized import BankTransaction, ParseError, ParseResult, StatementBalance

KNOWN_TAGS = {
    "20",
    "21",
    "25",
    "25P",
    "28",
    "28C",
    "13",
    "13D",
    "34F",
    "60F",
    "60M",
    "61",
    "86",
    "62F",
    "62M",
    "64",
    "65",
    "90C",
    "90D",
    "NS",
}
_TAG_LINE = re.compile(r"^:([0-9]{2}[A-Z]?|NS):")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ENVELOPE = re.compile(r"^(\{[1-3]:(\{[^}]*\}|[^}])*\})*\{4:")
_BALANCE = re.compile(r"^([CD])(\d{6})([A-Z]{3})?(\d[\d]*(?:[,.]\d*)?)$")
# :61: value date, [entry date MMDD or four blanks], mark, [funds code = third letter of the
# currency], amount, transaction type (N/S/F + 3), then references. A superset of the mt940 package's
# TRANSACTION_RE: that one refuses blank entry dates ("200101    D65,00") and blank type codes ("S   X").
_STATEMENT_LINE = re.compile(
    r"^(?P<value_date>\d{6})(?P<entry_date>\d{4}|\s{4})?\s?"
    r"(?P<mark>RC|RD|EC|ED|C|D)(?P<funds>[A-Z])?"
    r"(?P<amount>\d+(?:[,.]\d*)?)"
    r"(?P<type>[NSF][A-Z0-9 ]{3})?"
    r"(?P<rest>.*)$"
)
_TRAILER = re.compile(r"^-(\}.*|[A-Z]{0,4})\s*$|^\{5:")  # "-", "-}", "-}{5:...}", ING's "-XXX"
_WHITESPACE = re.compile(r"\s+")
_GERMAN_86 = re.compile(r"^(\d{3})([?>])")
_SEPA_KEYS = re.compile(r"(EREF|KREF|MREF|CRED|DEBT|SVWZ|ABWA|ABWE|IBAN|BIC|COAM|OAMT)\+")
_SLASH_TAGS = re.compile(r"/(EREF|REMI|NAME|IBAN|BENM|ORDP|CNTP|TRTP|MARF|PREF|BIC)/")


@dataclass
class _Field:
    tag: str
    value: str
    line: int


@dataclass
class _Statement:
    line: int
    reference: str
    account: str | None = None
    number: str | None = None
    opening: tuple[Decimal, str | None, dt.date] | None = None
    closing: tuple[Decimal, str | None, dt.date] | None = None
    currency: str | None = None
    fields: list[_Field] = field(default_factory=list)


def parse_mt94x(data: bytes, source_name: str = "mt940") -> ParseResult:
    """Parse an MT940 or MT942 file; raises ParseError naming the line for anything it cannot read."""
    try:
        return name_source(_parse(data), source_name)
    except ParseError as exc:
        raise name_source(exc, source_name) from None


def _tokenize(lines: list[str], warnings: list[str]) -> tuple[list[_Field], bool]:
    fields: list[_Field] = []
    is_942 = False
    skipped = 0
    in_message = False  # after a "-" trailer, text up to the next tag is envelope or bank header
    for number, raw in enumerate(lines, start=1):
        line = _CONTROL.sub("", raw).replace("\t", " ")
        envelope = _ENVELOPE.match(line)
        if envelope:
            is_942 = is_942 or bool(re.search(r"\{2:[IO]942", line))
            line = line[envelope.end() :]
        if _TRAILER.match(line):
            in_message = False
            continue
        match = _TAG_LINE.match(line)
        if match and match.group(1) in KNOWN_TAGS:
            tag = match.group(1)
            fields.append(_Field(tag, line[match.end() :], number))
            is_942 = is_942 or tag in ("13D", "34F", "90C", "90D")
            in_message = True
        elif line.startswith(":940:") or line.startswith(":942:"):
            is_942 = is_942 or line.startswith(":942:")
        elif in_message:
            fields[-1].value += "\n" + line
        elif line.strip():
            skipped += 1
    if skipped:
        warnings.append(f"{skipped} line(s) of text outside statements (headers, envelopes) skipped")
    return fields, is_942


def _parse(data: bytes) -> ParseResult:
    warnings: list[str] = []
    text = decode_text(data, warnings)
    fields, is_942 = _tokenize(split_lines(text), warnings)
    if not fields:
        raise ParseError("no MT940/MT942 tag (:20:, :25:, :61: ...) found")
    fmt = "mt942" if is_942 else "mt940"
    result = ParseResult(source_format=fmt, warnings=warnings)
    if fields[0].tag != "20":
        first = next((f for f in fields if f.tag == "20"), None)
        if first is None or any(f.tag not in ("NS",) for f in fields[: fields.index(first)]):
            raise ParseError(
                f"tag :{fields[0].tag}: comes before any :20: statement start: "
                "a fragment, not a complete MT940/MT942 statement",
                fields[0].line,
            )
    statements: list[_Statement] = []
    for f in fields:
        if f.tag == "20":
            statements.append(_Statement(line=f.line, reference=f.value.strip()))
        elif statements:
            statements[-1].fields.append(f)
    for st in statements:
        _parse_statement(st, fmt, result)
    return result


def _parse_balance(
    value: str, what: str, line: int, warnings: list[str]
) -> tuple[Decimal, str | None, dt.date]:
    m = _BALANCE.match(value.strip().replace(" ", ""))
    if not m:
        raise ParseError(f"{what} {value!r} is not C/D + YYMMDD + currency + amount", line)
    mark, date, currency, amount = m.groups()
    if currency is None:
        warnings.append(f"line {line}: {what} has no currency code")
    value_ = parse_decimal(amount.replace(",", "."), what, line)
    return (-value_ if mark == "D" else value_), currency, _date(date, what, line, warnings)


def _date(text: str, what: str, line: int, warnings: list[str]) -> dt.date:
    if not text.isdigit() or len(text) != 6:
        raise ParseError(f"{what}: {text!r} is not a YYMMDD date", line)
    yy, month, day = int(text[:2]), int(text[2:4]), int(text[4:6])
    year = 2000 + yy if yy < 70 else 1900 + yy  # SWIFT years have two digits; 1970-2069 covers real files
    if not 1 <= month <= 12 or day < 1:
        raise ParseError(f"{what}: {text!r} is not a YYMMDD date", line)
    last = calendar.monthrange(year, month)[1]
    if day > last:
        if day > 31:
            raise ParseError(f"{what}: {text!r} is not a YYMMDD date", line)
        # Some German banks book month-end interest and fees on "30 February" (30/360 day count).
        warnings.append(f"line {line}: {what} {text} does not exist; read as {year}-{month:02d}-{last}")
        day = last
    return dt.date(year, month, day)


def _parse_statement(st: _Statement, fmt: str, result: ParseResult) -> None:
    warnings = result.warnings
    pending: list[tuple[_Field, list[_Field]]] = []  # each :61: with the :86: fields that follow it
    totals: dict[str, tuple[int, Decimal]] = {}
    closed = False
    for f in st.fields:
        tag, value = f.tag, f.value
        if tag == "25":
            if st.account is not None and pending:
                raise ParseError(
                    f"a second :25: account ({value.strip()[:40]!r}) inside the statement that "
                    f"began at line {st.line}: the file is broken",
                    f.line,
                )
            st.account = value.strip()
        elif tag in ("28", "28C"):
            st.number = value.strip()
        elif tag in ("60F", "60M"):
            if st.opening is None:
                st.opening = _parse_balance(value, f":{tag}: opening balance", f.line, warnings)
                st.currency = st.currency or st.opening[1]
        elif tag in ("62F", "62M"):
            st.closing = _parse_balance(value, f":{tag}: closing balance", f.line, warnings)
            st.currency = st.currency or st.closing[1]
            closed = True
        elif tag == "61":
            if closed:
                raise ParseError(
                    f":61: after the closing balance of the statement that began at line {st.line} "
                    "(a new statement must start with :20:)",
                    f.line,
                )
            pending.append((f, []))
        elif tag == "86":
            if pending and not closed:
                pending[-1][1].append(f)
        elif tag == "34F":
            m = re.match(r"^([A-Z]{3})", value.strip())
            if m:
                st.currency = st.currency or m.group(1)
        elif tag in ("90C", "90D"):
            m = re.match(r"^(\d+)([A-Z]{3})([\d,.]+)$", value.strip())
            if m:
                totals[tag] = (
                    int(m.group(1)),
                    parse_decimal(m.group(3).replace(",", "."), f":{tag}:", f.line),
                )
                st.currency = st.currency or m.group(2)
    if st.account is None:
        raise ParseError(
            f"statement that began at line {st.line} has no :25: account identification", st.line
        )
    if st.currency is None:
        m = re.search(r"([A-Z]{3})$", st.account)
        st.currency = m.group(1) if m else None
    if pending and st.currency is None:
        raise ParseError(
            f"statement that began at line {st.line} states no currency (no :60F:/:62F:/:34F:)", st.line
        )
    if fmt == "mt940" and st.opening is not None and st.closing is None:
        raise ParseError(
            f"statement that began at line {st.line} has an opening balance but no closing "
            ":62F:/:62M: (truncated file?)",
            st.line,
        )

    statement_id = f"{st.reference}/{st.number}" if st.number else st.reference
    bank = st.account.split("/", 1)[0] if "/" in st.account else None
    movements = Decimal(0)
    credits = debits = (0, Decimal(0))
    for line61, details in pending:
        tx = _transaction(line61, details, fmt, st, statement_id, bank, warnings)
        movements += tx.amount
        if tx.amount >= 0:
            credits = (credits[0] + 1, credits[1] + tx.amount)
        else:
            debits = (debits[0] + 1, debits[1] - tx.amount)
        result.transactions.append(tx)
    for tag, (count, total) in (("90C", credits), ("90D", debits)):
        if tag in totals and totals[tag] != (count, total):
            warnings.append(
                f"statement at line {st.line}: :{tag}: says {totals[tag][0]} items of "
                f"{totals[tag][1]}, the :61: lines add up to {count} of {total}"
            )
    if st.opening or st.closing:
        result.balances.append(
            StatementBalance(
                source_format=fmt,
                account=st.account,
                statement_id=statement_id,
                currency=st.currency or "",
                opening_balance=st.opening[0] if st.opening else None,
                opening_date=st.opening[2] if st.opening else None,
                closing_balance=st.closing[0] if st.closing else None,
                closing_date=st.closing[2] if st.closing else None,
                movements_total=movements,
            )
        )
    elif not pending:
        warnings.append(f"statement at line {st.line} has neither balances nor transactions")


def _transaction(f61: _Field, details: list[_Field], fmt, st: _Statement, statement_id, bank, warnings):
    first, _, supplementary = f61.value.partition("\n")
    m = _STATEMENT_LINE.match(first.rstrip())
    if not m:
        raise ParseError(
            f":61: {first!r} is not YYMMDD[MMDD] C/D/RC/RD [funds code] amount type reference", f61.line
        )
    value_date = _date(m["value_date"], ":61: value date", f61.line, warnings)
    entry_date = None
    if m["entry_date"] and m["entry_date"].strip():
        month, day = int(m["entry_date"][:2]), int(m["entry_date"][2:])
        year = value_date.year
        # The entry date has no year: a booking on 2 January for a 31 December value date is next year.
        if month - value_date.month > 6:
            year -= 1
        elif value_date.month - month > 6:
            year += 1
        entry_date = _date(f"{year % 100:02d}{month:02d}{day:02d}", ":61: entry date", f61.line, warnings)
    mark = m["mark"]
    amount = parse_decimal(m["amount"].replace(",", "."), ":61: amount", f61.line)
    # RC = reversal of a credit (money leaves), RD = reversal of a debit (money returns).
    is_debit = mark in ("D", "RC", "ED")
    customer_ref, _, bank_ref = m["rest"].partition("//")
    customer_ref = customer_ref.strip() or None
    if customer_ref and customer_ref.upper() == "NONREF":
        customer_ref = None
    info = _parse_86("\n".join(d.value for d in details))
    code = info.pop("gvc", None) or (m["type"].strip() if m["type"] and m["type"].strip() else None)
    raw = f":61:{f61.value}" + "".join(f"\n:86:{d.value}" for d in details)
    return BankTransaction(
        source_format=fmt,
        account=st.account,
        bank=bank,
        statement_id=statement_id,
        booking_date=entry_date or value_date,
        value_date=value_date,
        amount=-amount if is_debit else amount,
        currency=st.currency or "",
        credit_debit="DBIT" if is_debit else "CRDT",
        counterparty_name=info.get("name"),
        counterparty_account=info.get("account"),
        end_to_end_id=info.get("eref"),
        bank_reference=bank_ref.strip() or None,
        customer_reference=info.get("kref") or customer_ref,
        remittance_text=info.get("remittance") or (supplementary.strip() or None if not details else None),
        structured_references=info.get("refs", []),
        transaction_code=code,
        is_reversal=mark in ("RC", "RD"),
        position=f61.line,
        raw=raw,
    )


def _clean(text: str | None) -> str | None:
    if text is None:
        return None
    text = _WHITESPACE.sub(" ", text).strip()
    return text or None


def _parse_86(text: str) -> dict:
    """Counterparty, references and remittance text from an :86: field (see the module docstring)."""
    if not text.strip():
        return {}
    german = _GERMAN_86.match(text.lstrip())
    if german:
        return _parse_german_86(text.lstrip(), german.group(1), german.group(2))
    flat = "".join(text.splitlines())
    if _SLASH_TAGS.search(flat):
        return _parse_slash_86(text)
    return {"remittance": _clean(text)}


def _parse_german_86(text: str, gvc: str, sep: str) -> dict:
    # Lines are wrapped at 65 characters wherever the text is, so they are glued back without a space.
    flat = "".join(text.splitlines())
    parts = re.split(re.escape(sep) + r"(\d{2})", flat[3:])
    sub: dict[int, list[str]] = {}
    for key, value in zip(parts[1::2], parts[2::2], strict=False):
        sub.setdefault(int(key), []).append(value)
    # Purpose subfields ?20-?29 and ?60-?63 hold 27 characters each (DFU-Abkommen, Anlage 3); a SEPA
    # key ("EREF+", "SVWZ+" ...) at the start of a subfield begins a new item. A subfield without a key
    # continues the item before it, mid-word, when that one filled its subfield or is the SVWZ purpose
    # (banks trim trailing blanks, so SVWZ text may wrap early); otherwise it is free text of its own
    # (old non-SEPA texts such as "EREF+X?21MTLG:Grund ...").
    segments: list[list[str]] = []  # [key or "", text]
    previous: tuple[int, int] | None = None  # (subfield number, length) of the last piece
    for number in [*range(20, 30), *range(60, 64)]:
        for piece in sub.get(number, []):
            key = _SEPA_KEYS.match(piece)
            adjacent = previous is not None and (
                number in (previous[0], previous[0] + 1) or (previous[0], number) == (29, 60)
            )
            if key:
                segments.append([key.group(1), piece[key.end() :]])
            elif segments and adjacent and (previous[1] >= 27 or segments[-1][0] == "SVWZ"):
                segments[-1][1] += piece
            else:
                segments.append(["", piece])
            previous = (number, len(piece))
    keyed = {k: _clean(v) for k, v in segments if k}
    free = _clean(" ".join(v for k, v in segments if not k))
    info: dict = {"gvc": gvc}
    eref = keyed.get("EREF")
    if eref and eref.upper() != "NOTPROVIDED":
        info["eref"] = eref
    if keyed.get("KREF") and keyed["KREF"].upper() != "NOTPROVIDED":
        info["kref"] = keyed["KREF"]
    if keyed.get("MREF"):
        info["refs"] = [keyed["MREF"]]
    info["remittance"] = keyed.get("SVWZ") or free or _clean("".join(sub.get(0, [])))
    # ABWA: the ultimate payer ("abweichender Auftraggeber"), the customer a payment is for.
    info["name"] = keyed.get("ABWA") or _clean("".join(sub.get(32, []) + sub.get(33, [])))
    info["account"] = _clean("".join(sub.get(31, [])))
    return info


def _parse_slash_86(text: str) -> dict:
    if "/CNTP/" in text.replace("\n", ""):
        values = mt940_lib.ing_description(text)
        cntp = values.get("cntp") or {}
        remi = values.get("remi") or {}
        name, account = cntp.get("name"), cntp.get("account_number")
        remittance = remi.get("remittance_info") if isinstance(remi, dict) else remi
    elif re.search(r"/(TRTP|IBAN)/", text.replace("\n", "")):
        values = mt940_lib.abn_amro_description(text)
        name, account, remittance = (
            values.get("name"),
            values.get("iban") or values.get("account"),
            values.get("remi"),
        )
    else:
        values = mt940_lib.rabo_description(text)
        name, account, remittance = values.get("name"), None, values.get("remi")
    eref = _clean(values.get("eref"))
    info = {"name": _clean(name), "account": _clean(account), "remittance": _clean(remittance)}
    if eref and eref.upper() not in ("NOTPROVIDED", "NONREF"):
        info["eref"] = eref
    return info
