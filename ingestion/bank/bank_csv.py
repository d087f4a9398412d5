"""Bank CSV exports (online-banking downloads), read through a column mapping.

Every bank names its columns differently, so a ``CsvMapping`` says which column is what. It can be
written as a dict or a YAML file, for example::

    # mappings/sparkasse.yml
    date: Buchungstag
    value_date: Valutadatum
    amount: Betrag                # signed; or credit: / debit: for two unsigned columns
    currency: Waehrung            # or default_currency: EUR
    counterparty: Beguenstigter/Zahlungspflichtiger
    counterparty_account: Kontonummer/IBAN
    reference: Mandatsreferenz
    end_to_end_id: Kundenreferenz (End-to-End)
    remittance: Verwendungszweck
    account: Auftragskonto        # or account_value: DE12... for exports that do not repeat it
    date_format: "%d.%m.%y"       # optional; guessed from the column when absent
    decimal: ","                  # optional; guessed from the amounts when absent
    delimiter: ";"                # optional; sniffed when absent
    skip_rows: 0                  # lines before the header (bank preambles)

Without a mapping, ``guess_mapping`` recognises common English and German header names.

Sniffing: the delimiter is the one of ``;``, ``,``, tab and ``|`` that splits the most of the first
rows into as many columns as the header (csv.Sniffer guesses wrong on decimal-comma files, where ``,``
appears in every amount; and one damaged row must not hide the delimiter). The decimal separator is
``,`` when amounts look like ``1.234,56`` or ``12,5`` and ``.`` otherwise. Day-first or month-first dates are decided from the values (a part
above 12); when the column never tells, day-first is assumed and a warning says so.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation
from pathlib import Path

import yaml

from ingestion.bank.common import decode_text, name_source, split_lines
from ingestion.normalized import BankTransaction, ParseError, ParseResult


@dataclass
class CsvMapping:
    date: str
    amount: str | None = None
    credit: str | None = None
    debit: str | None = None
    value_date: str | None = None
    currency: str | None = None
    default_currency: str | None = None
    counterparty: str | None = None
    counterparty_account: str | None = None
    reference: str | None = None
    end_to_end_id: str | None = None
    remittance: str | None = None
    account: str | None = None
    account_value: str | None = None
    date_format: str | None = None
    decimal: str | None = None
    delimiter: str | None = None
    skip_rows: int = 0

    def __post_init__(self) -> None:
        if not self.amount and not (self.credit or self.debit):
            raise ParseError("CSV mapping needs an amount column or credit/debit columns")
        if self.decimal not in (None, ",", "."):
            raise ParseError(f"CSV mapping decimal must be ',' or '.', not {self.decimal!r}")

    @classmethod
    def from_dict(cls, data: dict) -> CsvMapping:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ParseError(f"CSV mapping has unknown keys {sorted(unknown)}; known: {sorted(known)}")
        if "date" not in data:
            raise ParseError("CSV mapping needs a date column")
        return cls(**data)

    @classmethod
    def from_yaml(cls, path: Path) -> CsvMapping:
        return cls.from_dict(yaml.safe_load(path.read_text(encoding="utf-8")) or {})


_HEADER_GUESSES = {
    "date": (
        "booking date",
        "date",
        "buchungstag",
        "buchungsdatum",
        "transaction date",
        "posting date",
        "datum",
    ),
    "value_date": ("value date", "valutadatum", "valuta", "wertstellung"),
    "amount": ("amount", "betrag", "betrag (eur)", "umsatz"),
    "credit": ("credit", "haben", "credit amount", "gutschrift", "paid in"),
    "debit": ("debit", "soll", "debit amount", "lastschrift", "paid out"),
    "currency": ("currency", "währung", "waehrung", "ccy"),
    "counterparty": (
        "counterparty",
        "payer",
        "name",
        "beguenstigter/zahlungspflichtiger",
        "begünstigter/zahlungspflichtiger",
        "auftraggeber/empfänger",
        "payee",
        "description",
    ),
    "counterparty_account": ("counterparty account", "iban", "kontonummer/iban", "account number"),
    "reference": ("reference", "customer reference", "kundenreferenz", "mandatsreferenz"),
    "end_to_end_id": ("end to end id", "end-to-end id", "kundenreferenz (end-to-end)"),
    "remittance": ("remittance", "verwendungszweck", "purpose", "details", "memo", "narrative"),
    "account": ("account", "auftragskonto", "own account"),
}
_DELIMITERS = (";", ",", "\t", "|")
_COMMA_DECIMAL = re.compile(r"^[-+]?\d{1,3}(\.\d{3})*,\d+$|^[-+]?\d+,\d{1,2}$")


def guess_mapping(header: list[str]) -> CsvMapping:
    """A mapping from common header names; ParseError when no date or amount column is recognisable."""
    normalised = {h.strip().lower(): h for h in header}
    found: dict[str, str] = {}
    for key, names in _HEADER_GUESSES.items():
        for name in names:
            if name in normalised and normalised[name] not in found.values():
                found[key] = normalised[name]
                break
    if "date" not in found or not ({"amount", "credit", "debit"} & set(found)):
        raise ParseError(f"no date and amount columns recognisable in header {header}; pass a CsvMapping")
    if "amount" in found:
        found.pop("credit", None)
        found.pop("debit", None)
    return CsvMapping.from_dict(found)


def _sniff_delimiter(lines: list[str]) -> str:
    sample = [ln for ln in lines[:20] if ln.strip()]
    best, best_score = None, (0, 0)
    for delim in _DELIMITERS:
        widths = [len(row) for row in csv.reader(sample, delimiter=delim)]
        if widths[0] < 2:
            continue
        # rows as wide as the header; a damaged last row must not hide the delimiter from us
        score = (sum(w == widths[0] for w in widths), widths[0])
        if score > best_score:
            best, best_score = delim, score
    if best is None:
        raise ParseError("cannot find the delimiter: none of ; , tab | splits the header into columns")
    return best


def _amount(text: str, decimal: str, line: int, column: str) -> Decimal | None:
    value = text.strip().replace("\u00a0", "").replace(" ", "").replace("'", "")
    if not value:
        return None
    negative = False
    if value.startswith("(") and value.endswith(")"):
        negative, value = True, value[1:-1]
    if value.endswith("-"):  # "100,00-" as German banks print debits
        negative, value = True, value[:-1]
    value = re.sub(r"^[^\d+-]+|[^\d]+$", "", value)  # currency symbols / codes around the number
    # the other separator groups thousands: "1.234,56" with a decimal comma, "1,234.56" with a point
    value = value.replace(".", "").replace(",", ".") if decimal == "," else value.replace(",", "")
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ParseError(f"column {column!r}: {text!r} is not an amount", line) from None
    return -amount if negative else amount


def _date_parser(values: list[str], fmt: str | None, warnings: list[str], column: str):
    if fmt:
        return lambda v: dt.datetime.strptime(v.strip(), fmt).date()
    sample = [v.strip() for v in values if v and v.strip()]
    if sample and all(re.match(r"^\d{4}-\d{2}-\d{2}", v) for v in sample):
        return lambda v: dt.date.fromisoformat(v.strip()[:10])
    parts = [re.split(r"[./-]", v) for v in sample]
    if not parts or any(len(p) != 3 or not all(x.isdigit() for x in p) for p in parts):
        raise ParseError(
            f"column {column!r}: dates like {sample[:1]} are not in a known format; set date_format"
        )
    day_first = any(int(p[0]) > 12 for p in parts)
    month_first = any(int(p[1]) > 12 for p in parts)
    if day_first and month_first:
        raise ParseError(f"column {column!r}: dates mix day-first and month-first; set date_format")
    if not day_first and not month_first:
        warnings.append(
            f"column {column!r}: dates never show whether the day or month comes first; read day-first"
        )
    sep = re.search(r"[./-]", sample[0]).group(0)
    year = "%Y" if len(parts[0][2]) == 4 else "%y"
    fmt = f"%m{sep}%d{sep}{year}" if month_first else f"%d{sep}%m{sep}{year}"
    return lambda v: dt.datetime.strptime(v.strip(), fmt).date()


def parse_bank_csv(
    data: bytes, source_name: str = "csv", mapping: CsvMapping | dict | None = None
) -> ParseResult:
    """Parse a bank CSV export; raises ParseError naming the line for anything it cannot read."""
    try:
        return name_source(_parse(data, mapping), source_name)
    except ParseError as exc:
        raise name_source(exc, source_name) from None


def _parse(data: bytes, mapping: CsvMapping | dict | None) -> ParseResult:
    warnings: list[str] = []
    if isinstance(mapping, dict):
        mapping = CsvMapping.from_dict(mapping)
    lines = split_lines(decode_text(data, warnings))
    skip = mapping.skip_rows if mapping else 0
    body = lines[skip:]
    if not [ln for ln in body if ln.strip()]:
        raise ParseError("empty CSV file")
    delimiter = (mapping.delimiter if mapping and mapping.delimiter else None) or _sniff_delimiter(body)
    rows = list(csv.reader(io.StringIO("\n".join(body)), delimiter=delimiter))
    header = [h.strip() for h in rows[0]]
    mapping = mapping or guess_mapping(header)
    index = {h: i for i, h in enumerate(header)}
    for key in (
        "date",
        "amount",
        "credit",
        "debit",
        "value_date",
        "currency",
        "counterparty",
        "counterparty_account",
        "reference",
        "end_to_end_id",
        "remittance",
        "account",
    ):
        column = getattr(mapping, key)
        if column and column not in index:
            raise ParseError(f"mapped column {column!r} ({key}) is not in the header {header}", skip + 1)

    data_rows = [(skip + n, r) for n, r in enumerate(rows[1:], start=2) if any(c.strip() for c in r)]
    for line, row in data_rows:
        if len(row) != len(header):
            raise ParseError(
                f"row has {len(row)} columns, the header {len(header)} (truncated or mis-quoted?)", line
            )

    def col(row: list[str], key: str) -> str:
        name = getattr(mapping, key)
        return row[index[name]].strip() if name else ""

    amount_columns = [c for c in (mapping.amount, mapping.credit, mapping.debit) if c]
    decimal = mapping.decimal
    if decimal is None:
        sample = [row[index[c]].strip().lstrip("-+") for _, row in data_rows for c in amount_columns]
        decimal = "," if any(_COMMA_DECIMAL.match(v) for v in sample if v) else "."
    parse_date = _date_parser(
        [col(r, "date") for _, r in data_rows], mapping.date_format, warnings, mapping.date
    )
    parse_value_date = (
        _date_parser(
            [col(r, "value_date") for _, r in data_rows], mapping.date_format, warnings, mapping.value_date
        )
        if mapping.value_date
        else None
    )

    result = ParseResult(source_format="csv", warnings=warnings)
    for line, row in data_rows:
        try:
            booking = parse_date(col(row, "date"))
            value_date = (
                parse_value_date(col(row, "value_date"))
                if parse_value_date and col(row, "value_date")
                else None
            )
        except ValueError as exc:
            raise ParseError(f"date: {exc}", line) from None
        if mapping.amount:
            amount = _amount(col(row, "amount"), decimal, line, mapping.amount)
        else:
            credit = _amount(col(row, "credit"), decimal, line, mapping.credit) if mapping.credit else None
            debit = _amount(col(row, "debit"), decimal, line, mapping.debit) if mapping.debit else None
            if credit and debit:
                raise ParseError("both credit and debit are filled", line)
            amount = credit if credit else (-abs(debit) if debit else None)
        if amount is None:
            raise ParseError("no amount", line)
        currency = col(row, "currency") or mapping.default_currency
        if not currency:
            raise ParseError("no currency: map a currency column or set default_currency", line)
        account = col(row, "account") or mapping.account_value
        if not account:
            raise ParseError("no account: map an account column or set account_value", line)
        result.transactions.append(
            BankTransaction(
                source_format="csv",
                account=account,
                bank=None,
                statement_id=None,
                booking_date=booking,
                value_date=value_date,
                amount=amount,
                currency=currency.upper(),
                credit_debit="DBIT" if amount < 0 else "CRDT",
                counterparty_name=col(row, "counterparty") or None,
                counterparty_account=col(row, "counterparty_account") or None,
                end_to_end_id=col(row, "end_to_end_id") or None,
                customer_reference=col(row, "reference") or None,
                remittance_text=col(row, "remittance") or None,
                position=line,
                raw=delimiter.join(row),
            )
        )
    return result
