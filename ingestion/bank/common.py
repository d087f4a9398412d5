"""Helpers every bank-statement parser shares: decoding, line splitting, amounts, reconciliation."""

from __future__ import annotations

import codecs
import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from ingestion.normalized import ParseError, StatementBalance

# ISO 4217 minor units where they differ from 2. BAI2 and lockbox amounts carry no decimal point:
# the currency says where it goes (BAI2 spec 2005, "amounts are in the currency's smallest unit").
_MINOR_UNITS = {
    **dict.fromkeys(
        (
            "BIF",
            "CLP",
            "DJF",
            "GNF",
            "ISK",
            "JPY",
            "KMF",
            "KRW",
            "PYG",
            "RWF",
            "UGX",
            "UYI",
            "VND",
            "VUV",
            "XAF",
            "XOF",
            "XPF",
        ),
        0,
    ),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}

# Line endings seen in the wild: CRLF (Windows, SWIFT), LF, and CR alone (old Mac exports, some
# German banking software). str.splitlines() would also split on \x0b, \x1c-\x1e and \x85, which are
# data bytes in Latin-1 statements, so split on the three real endings only.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def minor_units(currency: str) -> int:
    return _MINOR_UNITS.get(currency.upper(), 2)


def from_minor_units(value: int, currency: str) -> Decimal:
    return Decimal(value).scaleb(-minor_units(currency))


def decode_text(data: bytes, warnings: list[str], source_name: str = "") -> str:
    """Bytes to text: UTF-8 (with or without BOM) first, strictly; else cp1252, else Latin-1.

    Statements from German, Polish, Hungarian and Dutch banks are often cp1250/cp1252/Latin-1 and
    never say so. Strict UTF-8 almost never succeeds by accident on such bytes, so a success is
    trusted; the fallback is recorded as a warning because umlauts may still be wrong (cp1250 and
    cp1252 differ in a few letters and nothing in the file tells them apart).
    """
    if data.startswith(codecs.BOM_UTF16_LE) or data.startswith(codecs.BOM_UTF16_BE):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise ParseError(f"{source_name}: UTF-16 byte-order mark but invalid UTF-16: {exc}") from exc
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        where = f"byte {exc.start}"
    try:
        text = data.decode("cp1252")
        warnings.append(f"{source_name}: not valid UTF-8 ({where}); decoded as cp1252")
    except UnicodeDecodeError:
        # cp1252 leaves five bytes (0x81, 0x8D, 0x8F, 0x90, 0x9D) undefined; Latin-1 maps every byte.
        text = data.decode("latin-1")
        warnings.append(f"{source_name}: not valid UTF-8 or cp1252 ({where}); decoded as Latin-1")
    return text


def split_lines(text: str) -> list[str]:
    lines = _LINE_BREAK.split(text)
    if lines and lines[-1] == "":
        lines.pop()  # a final newline is not an extra empty line
    return lines


def parse_decimal(text: str, what: str, line: int | None = None) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ParseError(f"{what}: {text!r} is not a number", line) from None
    if not value.is_finite():
        raise ParseError(f"{what}: {text!r} is not a finite number", line)
    return value


def parse_yymmdd(text: str, what: str, line: int | None = None) -> dt.date:
    try:
        return dt.datetime.strptime(text, "%y%m%d").date()
    except ValueError:
        raise ParseError(f"{what}: {text!r} is not a YYMMDD date", line) from None


def reconcile(balance: StatementBalance) -> str | None:
    """Return why a statement does not add up (opening + movements != closing), or None when it does.

    Statements that state only one of the two balances cannot be checked and return None; the
    caller sees the missing balance on the record itself.
    """
    if balance.opening_balance is None or balance.closing_balance is None:
        return None
    expected = balance.opening_balance + balance.movements_total
    if expected == balance.closing_balance:
        return None
    return (
        f"{balance.source_format} statement {balance.statement_id or '?'} on account {balance.account}: "
        f"opening {balance.opening_balance} + movements {balance.movements_total} = {expected} "
        f"{balance.currency}, but the closing balance is {balance.closing_balance} "
        f"(difference {balance.closing_balance - expected})"
    )


def name_source(result_or_error, source_name: str):
    """Prefix warnings (or re-raise a ParseError) with the file name, so a person knows which file."""
    prefix = f"{source_name}: "
    if isinstance(result_or_error, ParseError):
        reason = result_or_error.reason
        if source_name and not reason.startswith(prefix):
            reason = prefix + reason
        return ParseError(reason, result_or_error.line)
    if source_name:
        result_or_error.warnings[:] = [
            w if w.startswith(prefix) else prefix + w for w in result_or_error.warnings
        ]
    return result_or_error
