"""BAI2 cash-management balance reporting (BAI 2005 spec): ``01`` file, ``02`` group, ``03`` account with
summary/status items, ``16`` transaction detail, ``88`` continuation, ``49``/``98``/``99`` trailers.

Library use: the ``bai2`` package's type-code table (``bai2.constants.TypeCodes``: direction, level
and description of every standard code) and its time reader (``bai2.utils.parse_time``, which knows
``2400``/``9999`` as end of day). Its file parser is not used: it rejects files that banks really send
and that the spec allows -- an ``03`` record without summary items (``03,123,USD,,,,/``, 4 of the 6
public samples), a ``16`` record whose text contains ``/`` or is not slash-terminated, bank-specific
type codes -- and it glues ``88`` text onto the previous field with stray commas.

Rules implemented here:

- An ``88`` record continues the record before it. For ``16`` records it continues the free text,
  one ``88`` per line of text (kept as separate lines: wire details come as ``KEY:=value`` lines);
  for ``03`` records it continues the summary fields.
- The ``/`` that ends a record is optional; a ``16`` record's text runs to the end of the line, slashes
  included.
- Amounts have no decimal point: the currency (``03``, else ``02``, else USD) sets the implied
  decimals (2 for USD, 0 for JPY, 3 for KWD...). Summary amounts may carry a sign; detail amounts do not.
- Detail type codes 100-399 are credits and 400-699 debits; other codes take their direction from
  the bai2 table, and a code with no direction is refused with the line number.
- Account summary ``010`` (opening ledger) and ``015`` (closing ledger) become the statement balance.
- Control totals (``49`` account, ``98`` group, ``99`` file) must match the amounts: a mismatch means
  a damaged or altered file and is refused. Record counts that disagree are only warned about,
  because banks count ``88`` records inconsistently.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal

from bai2.constants import TypeCodes
from bai2.utils import parse_time

from ingestion.bank.common import decode_text, from_minor_units, name_source, parse_yymmdd, split_lines
from ingestion.normalized import BankTransaction, ParseError, ParseResult, StatementBalance

_TYPE_CODES = TypeCodes  # {"010": TypeCode(code, transaction, level, description), ...}
_SIGNED_INT = re.compile(r"^[+-]?\d+$")
_KEY_VALUE = re.compile(r"^\s*([A-Z][A-Z /]*?)\s*:=\s*(.*)$", re.MULTILINE)


@dataclass
class _Record:
    code: str
    line: int
    text: str  # the physical record after "NN," with 88 continuations joined
    continuations: list[str] = field(default_factory=list)


def parse_bai2(data: bytes, source_name: str = "bai2") -> ParseResult:
    """Parse a BAI2 file; raises ParseError naming the line for anything it cannot read."""
    try:
        return name_source(_parse(data), source_name)
    except ParseError as exc:
        raise name_source(exc, source_name) from None


def _records(lines: list[str]) -> list[_Record]:
    records: list[_Record] = []
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        code, _, rest = line.partition(",")
        if code == "88":
            if not records:
                raise ParseError("88 continuation record before any record", number)
            records[-1].continuations.append(rest)
            continue
        if code not in ("01", "02", "03", "16", "49", "98", "99"):
            raise ParseError(
                f"record type {code[:10]!r} is not a BAI2 record (01, 02, 03, 16, 49, 88, 98, 99)", number
            )
        records.append(_Record(code, number, rest))
    return records


def _fields(text: str) -> list[str]:
    text = text.strip()
    if text.endswith("/"):
        text = text[:-1]
    return [f.strip() for f in text.split(",")]


def _int(value: str, what: str, line: int) -> int | None:
    if value == "":
        return None
    if not _SIGNED_INT.match(value):
        raise ParseError(f"{what} {value!r} is not a whole number", line)
    return int(value)


def _availability_width(funds_type: str, rest: list[str], line: int) -> int:
    """How many fields the availability after a funds type takes (spec section 3, "Funds Type")."""
    if funds_type == "S":
        return 3
    if funds_type == "V":
        return 2
    if funds_type == "D":
        count = _int(rest[0] if rest else "", "distribution count", line)
        if count is None:
            raise ParseError("funds type D without a distribution count", line)
        return 1 + 2 * count
    return 0


def _parse(data: bytes) -> ParseResult:
    warnings: list[str] = []
    records = _records(split_lines(decode_text(data, warnings)))
    if not records:
        raise ParseError("empty BAI2 file")
    if records[0].code != "01":
        raise ParseError(f"a BAI2 file starts with an 01 file header, not {records[0].code}", records[0].line)
    if records[-1].code != "99":
        raise ParseError("the file ends without its 99 file trailer (truncated?)", records[-1].line)
    result = ParseResult(source_format="bai2", warnings=warnings)
    header = _fields(records[0].text)
    if len(header) >= 8 and header[7] not in ("2", ""):
        warnings.append(f"line {records[0].line}: version {header[7]} (not 2); read as BAI2")
    file_id = header[4] if len(header) > 4 else None

    group = None  # (fields, currency, as_of_date, line)
    account = None  # dict while inside an 03 ... 49
    group_total = file_total = 0
    group_accounts = group_count = 0
    counts = {"account": 0, "group": 0}
    for rec in records[1:]:
        physical = 1 + len(rec.continuations)
        counts["account"] += physical
        counts["group"] += physical
        if rec.code == "02":
            counts["group"] = physical
            if group is not None:
                raise ParseError("02 group header inside an open group (98 missing)", rec.line)
            g = _fields(rec.text)
            g += [""] * (7 - len(g))
            as_of = parse_yymmdd(g[3], "02 as-of date", rec.line) if g[3] else None
            if as_of is None:
                raise ParseError("02 group header without an as-of date", rec.line)
            if g[4]:
                try:
                    parse_time(g[4])
                except ValueError:
                    raise ParseError(f"02 as-of time {g[4]!r} is not HHMM", rec.line) from None
            group = {"originator": g[1] or None, "currency": g[5] or "USD", "as_of": as_of, "line": rec.line}
            group_total = group_accounts = 0
        elif rec.code == "03":
            if group is None or account is not None:
                raise ParseError("03 account record outside a group, or before the previous 49", rec.line)
            account = _account(rec, group, file_id)
            counts["account"] = physical
            group_accounts += 1
        elif rec.code == "16":
            if account is None:
                raise ParseError("16 transaction detail outside an account (03 missing)", rec.line)
            tx, minor = _detail(rec, account)
            account["control"] += minor
            if tx is None:
                warnings.append(f"line {rec.line}: 16 record with non-monetary type code skipped")
            else:
                account["transactions"].append(tx)
        elif rec.code == "49":
            if account is None:
                raise ParseError("49 account trailer without an 03 account record", rec.line)
            t = _fields(rec.text)
            stated = _int(t[0] if t else "", "49 account control total", rec.line)
            if stated != account["control"]:
                raise ParseError(
                    f"account {account['account']}: 49 control total {stated} but the 03 and 16 "
                    f"amounts add up to {account['control']} (damaged or altered file)",
                    rec.line,
                )
            if _int(t[1] if len(t) > 1 else "", "49 number of records", rec.line) not in (
                None,
                counts["account"],
            ):
                warnings.append(
                    f"line {rec.line}: 49 says {t[1]} records, the account has {counts['account']}"
                )
            _close_account(account, result)
            group_total += account["control"]
            account = None
        elif rec.code == "98":
            if group is None or account is not None:
                raise ParseError("98 group trailer without a group, or with an account still open", rec.line)
            t = _fields(rec.text) + ["", "", ""]
            stated = _int(t[0], "98 group control total", rec.line)
            if stated != group_total:
                raise ParseError(
                    f"98 group control total {stated} but the accounts add up to {group_total}", rec.line
                )
            if _int(t[1], "98 number of accounts", rec.line) not in (None, group_accounts):
                warnings.append(f"line {rec.line}: 98 says {t[1]} accounts, the group has {group_accounts}")
            if _int(t[2], "98 number of records", rec.line) not in (None, counts["group"]):
                warnings.append(f"line {rec.line}: 98 says {t[2]} records, the group has {counts['group']}")
            file_total += group_total
            group_count += 1
            group = None
        elif rec.code == "99":
            if group is not None:
                raise ParseError("99 file trailer with a group still open (98 missing)", rec.line)
            t = _fields(rec.text) + ["", "", ""]
            stated = _int(t[0], "99 file control total", rec.line)
            if stated != file_total:
                raise ParseError(
                    f"99 file control total {stated} but the groups add up to {file_total}", rec.line
                )
            if _int(t[1], "99 number of groups", rec.line) not in (None, group_count):
                warnings.append(f"line {rec.line}: 99 says {t[1]} groups, the file has {group_count}")
            total_records = sum(1 + len(r.continuations) for r in records)
            if _int(t[2], "99 number of records", rec.line) not in (None, total_records):
                warnings.append(f"line {rec.line}: 99 says {t[2]} records, the file has {total_records}")
        elif rec.code == "01":
            raise ParseError("a second 01 file header", rec.line)
    return result


def _account(rec: _Record, group: dict, file_id: str | None) -> dict:
    # The 03 record and its 88 continuations form one field list; each physical part may end in "/".
    # Some banks drop the empty funds-type field before that slash, so a part whose summary fields are
    # not whole groups of 4 (and has no availability that would explain it) is padded.
    f: list[str] = []
    for index, part in enumerate([rec.text] + rec.continuations):
        part = part.strip()
        part_fields = [x.strip() for x in (part[:-1] if part.endswith("/") else part).split(",")]
        summary = part_fields[2:] if index == 0 else part_fields
        if len(summary) % 4 and not {"S", "V", "D"} & set(summary[3::4]):
            part_fields += [""] * (4 - len(summary) % 4)
        f += part_fields
    if not f or not f[0]:
        raise ParseError("03 account record without an account number", rec.line)
    currency = (f[1] if len(f) > 1 and f[1] else group["currency"]).upper()
    summaries: dict[str, int] = {}
    control = 0
    rest = f[2:]
    while rest:
        chunk, rest = rest[:4], rest[4:]
        chunk += [""] * (4 - len(chunk))
        code, amount, _count, funds = chunk
        width = _availability_width(funds, rest, rec.line)
        rest = rest[width:]
        if not code:
            continue  # an empty summary slot ("03,123,USD,,,,/"): allowed, nothing to read
        value = _int(amount, f"03 summary {code} amount", rec.line)
        if value is not None:
            summaries[code] = value
            control += value
    return {
        "account": f[0],
        "currency": currency,
        "summaries": summaries,
        "control": control,
        "transactions": [],
        "group": group,
        "line": rec.line,
        "statement_id": f"{file_id or ''}/{group['as_of'].isoformat()}",
    }


def _detail(rec: _Record, account: dict) -> tuple[BankTransaction | None, int]:
    head = rec.text.split(",", 3)
    if len(head) < 3:
        raise ParseError("16 record needs at least type code, amount and funds type", rec.line)
    code, amount_text, funds = head[0].strip(), head[1].strip(), head[2].strip()
    tail = head[3] if len(head) > 3 else ""
    pieces = tail.split(",")
    width = _availability_width(funds, pieces, rec.line)
    value_date = None
    if funds == "V" and pieces and pieces[0].strip():
        value_date = parse_yymmdd(pieces[0].strip(), "16 value date", rec.line)
    pieces = pieces[width:]
    bank_ref = pieces[0].strip() if pieces else ""
    cust_ref = pieces[1].strip() if len(pieces) > 1 else ""
    text = ",".join(pieces[2:]).strip() if len(pieces) > 2 else ""
    lines = [text] + [c.strip() for c in rec.continuations]
    # A slash ends a record; in free text it may also be data ("2/AV MAIN"), so only a final one goes.
    lines = [ln[:-1].rstrip(",").strip() if ln.endswith("/") else ln for ln in lines]
    remittance = "\n".join(ln for ln in lines if ln) or None

    minor = _int(amount_text, "16 amount", rec.line)
    if minor is None:
        raise ParseError(f"16 record with type code {code} has no amount", rec.line)
    if minor < 0:
        raise ParseError("16 detail amounts are unsigned; the type code gives the direction", rec.line)
    direction = _direction(code, rec.line)
    if direction is None:
        return None, minor
    amount = from_minor_units(minor, account["currency"])
    group = account["group"]
    kv = {k.strip(): v.strip() for k, v in _KEY_VALUE.findall(remittance or "")}
    # Wire texts name the other side: the originator (ORG) pays us, the beneficiary (BNF) is paid by us.
    counterparty = kv.get("ORG") if direction == "CRDT" else (kv.get("BNF NAME") or kv.get("BNF"))
    tx = BankTransaction(
        source_format="bai2",
        account=account["account"],
        bank=group["originator"],
        statement_id=account["statement_id"],
        booking_date=group["as_of"],
        value_date=value_date,
        amount=amount if direction == "CRDT" else -amount,
        currency=account["currency"],
        credit_debit=direction,
        counterparty_name=counterparty,
        bank_reference=bank_ref or None,
        customer_reference=cust_ref or None,
        remittance_text=remittance,
        transaction_code=code,
        position=rec.line,
        raw="\n".join([f"16,{rec.text}"] + [f"88,{c}" for c in rec.continuations]),
    )
    return tx, minor


def _direction(code: str, line: int) -> str | None:
    if not code.isdigit():
        raise ParseError(f"16 type code {code!r} is not a number", line)
    number = int(code)
    if 100 <= number <= 399:
        return "CRDT"
    if 400 <= number <= 699:
        return "DBIT"
    known = _TYPE_CODES.get(code)
    if known is not None and known.transaction is not None and known.transaction.value in ("credit", "debit"):
        return "CRDT" if known.transaction.value == "credit" else "DBIT"
    if known is not None and known.transaction is not None and known.transaction.value == "misc":
        return None  # 890 "contains non-monetary information"
    raise ParseError(
        f"16 type code {code} says neither credit nor debit (BAI2 credits are 100-399, debits 400-699)", line
    )


def _close_account(account: dict, result: ParseResult) -> None:
    result.transactions.extend(account["transactions"])
    summaries = account["summaries"]
    if "010" not in summaries and "015" not in summaries:
        return
    currency = account["currency"]
    as_of: dt.date = account["group"]["as_of"]
    movements = sum((t.amount for t in account["transactions"]), Decimal(0))
    result.balances.append(
        StatementBalance(
            source_format="bai2",
            account=account["account"],
            statement_id=account["statement_id"],
            currency=currency,
            opening_balance=from_minor_units(summaries["010"], currency) if "010" in summaries else None,
            opening_date=as_of if "010" in summaries else None,
            closing_balance=from_minor_units(summaries["015"], currency) if "015" in summaries else None,
            closing_date=as_of if "015" in summaries else None,
            movements_total=movements,
        )
    )
