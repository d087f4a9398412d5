"""Amounts, dates, currencies and invoice references as people write them in remittance documents.

Exact money: amounts become ``Decimal`` straight from their digits, never through float.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from decimal import Decimal, InvalidOperation

from dateutil import parser as dateutil_parser

# Symbols that name one currency. "$" alone is USD: US, Canadian and Australian AP systems all print
# "$", and a document that means CAD or AUD says so (CAD, C$, A$), which the code list below catches.
CURRENCY_SYMBOLS = {
    "€": "EUR",
    "£": "GBP",
    "¥": "JPY",
    "₹": "INR",
    "CHF": "CHF",
    "C$": "CAD",
    "A$": "AUD",
    "US$": "USD",
    "$": "USD",
}
ISO_CURRENCIES = frozenset(
    [
        "USD",
        "EUR",
        "GBP",
        "CAD",
        "AUD",
        "CHF",
        "JPY",
        "CNY",
        "SEK",
        "NOK",
        "DKK",
        "PLN",
        "CZK",
        "HUF",
        "MXN",
        "BRL",
        "INR",
        "SGD",
        "HKD",
        "NZD",
        "ZAR",
        "AED",
        "SAR",
    ]
)
_CURRENCY_TOKEN = "|".join(
    sorted((re.escape(k) for k in [*CURRENCY_SYMBOLS, *ISO_CURRENCIES]), key=len, reverse=True)
)
_SPACES = "\u00a0\u202f\u2009\u2007 "
_MINUS = "-\u2212\u2013"  # ASCII hyphen, Unicode minus, en dash (word processors turn "-" into these)

# One amount, whole: optional sign/parenthesis and currency on either side, then a number whose
# thousands groups (if any) have three digits. Spaces group thousands only when decimals follow, so
# two numbers side by side ("100 200") are never read as one.
_NUMBER = (
    r"\d{1,3}(?:[,.'’]\d{3})+(?:[.,]\d{1,4})?"
    rf"|\d{{1,3}}(?:[{_SPACES}]\d{{3}})+[.,]\d{{1,4}}"
    r"|\d+(?:[.,]\d{1,4})?"
    r"|[.,]\d{1,4}"
)
_AMOUNT = re.compile(
    rf"^(?P<open>\()?\s*(?P<sign1>[{_MINUS}+])?\s*(?P<cur1>{_CURRENCY_TOKEN})?\s*(?P<sign2>[{_MINUS}+])?\s*"
    rf"(?P<num>{_NUMBER})\s*(?P<cur2>{_CURRENCY_TOKEN})?\s*(?P<sign3>[{_MINUS}]|CR\b|Cr\b)?\s*(?P<close>\))?$"
)
# An amount inside running text: the same grammar, bounded by non-word characters.
AMOUNT_IN_TEXT = re.compile(
    rf"(?<![\w.,])(?:\(\s*)?(?:[{_MINUS}]\s*)?(?:(?:{_CURRENCY_TOKEN})\s*)?(?:[{_MINUS}]\s*)?"
    rf"(?:\d{{1,3}}(?:[,.'’]\d{{3}})+(?:[.,]\d{{2}})?|\d{{1,3}}(?:[{_SPACES}]\d{{3}})+[.,]\d{{2}}|\d+[.,]\d{{2}})"
    rf"(?:\s*(?:{_CURRENCY_TOKEN}))?(?:\s*\))?(?![\w]|[.,]\d)"
)


def parse_amount(text: object, decimal_comma: bool | None = None) -> Decimal | None:
    """An amount as written (``1,234.56``, ``1.234,56``, ``$1,234.56``, ``(12.00)``, ``12.00-``), or None.

    ``decimal_comma`` is the document's convention when known (see ``decimal_comma_hint``); it only
    decides the ambiguous case of one separator followed by exactly three digits ("1,234"/"1.234").
    """
    if text is None:
        return None
    if isinstance(text, bool):
        return None
    if isinstance(text, Decimal):
        return text
    if isinstance(text, int):
        return Decimal(text)
    if isinstance(text, float):
        # Spreadsheet cells hold binary doubles; the shortest repr round-trips to the digits the
        # author typed (1209.87, not 1209.8699999999998...).
        return Decimal(repr(text))
    s = str(text).strip()
    if not s or len(s) > 40:
        return None
    m = _AMOUNT.match(s)
    if not m:
        return None
    if bool(m.group("open")) != bool(m.group("close")):
        return None
    if m.group("cur1") and m.group("cur2"):
        return None
    negative = (
        bool(m.group("open"))
        or any((m.group(g) or "")[:1] in _MINUS and m.group(g) for g in ("sign1", "sign2", "sign3"))
        or (m.group("sign3") or "").upper() == "CR"
    )
    num = m.group("num")
    for ch in _SPACES:
        num = num.replace(ch, "")
    num = num.replace("’", "'")
    value = _number(num, decimal_comma)
    if value is None:
        return None
    return -value if negative else value


def _number(num: str, decimal_comma: bool | None) -> Decimal | None:
    seps = [c for c in num if c in ".,'"]
    if not seps:
        return Decimal(num)
    last_sep = seps[-1]
    last = num.rfind(last_sep)
    tail = num[last + 1 :]
    if last_sep == "'":
        decimal = False  # Swiss thousands apostrophe (1'234.56 ends with a dot, so never here)
    elif len(set(seps)) > 1:
        decimal = True  # "1.234,56" / "1,234.56": the last separator is the decimal one
    elif len(seps) > 1:
        decimal = False  # "1,234,567": repeated, so thousands
    elif len(tail) == 3 and num[0] not in "0.,":
        # "1,234" / "1.234": a thousands separator unless the document writes decimal commas (then
        # "1,234" has three decimals) — and "1.234" is a decimal point unless it does.
        decimal = (last_sep == ",") == bool(decimal_comma)
    else:
        decimal = True
    whole, decimals = (num[:last], tail) if decimal else (num, "")
    if decimal and last_sep in whole:
        return None  # "1.234.56": the decimal separator cannot also group thousands
    groups = re.split(r"[.,']", whole)
    if len(groups) > 1:
        if len({c for c in whole if c in ".,'"}) > 1:
            return None
        if not 1 <= len(groups[0]) <= 3 or any(len(g) != 3 for g in groups[1:]):
            return None
    try:
        return Decimal(f"{''.join(groups) or '0'}.{decimals}" if decimals else "".join(groups))
    except InvalidOperation:
        return None


def decimal_comma_hint(texts: list[str]) -> bool | None:
    """Whether a document writes decimal commas (``1.234,56``), from the amounts it states unambiguously."""
    comma = dot = 0
    for t in texts:
        comma += len(re.findall(r"\d\.\d{3},\d{2}(?!\d)|(?<![\d.,])\d{1,3},\d{2}(?![\d,.])", t))
        dot += len(re.findall(r"\d,\d{3}\.\d{2}(?!\d)|(?<![\d.,])\d{1,3}\.\d{2}(?![\d,.])", t))
    if comma == dot:
        return None
    return comma > dot


def find_amounts(text: str, decimal_comma: bool | None = None) -> list[tuple[Decimal, int, int]]:
    """Money amounts in running text (two decimals or thousands groups), with their spans."""
    out = []
    for m in AMOUNT_IN_TEXT.finditer(text):
        value = parse_amount(m.group(0), decimal_comma)
        if value is not None:
            out.append((value, m.start(), m.end()))
    return out


def currency_in(text: str) -> str | None:
    """The currency an amount or a line names: an ISO code first, then a symbol."""
    for code in re.findall(r"(?<![A-Za-z])([A-Z]{3})(?![A-Za-z])", text):
        if code in ISO_CURRENCIES:
            return code
    for sym in sorted(CURRENCY_SYMBOLS, key=len, reverse=True):
        if not sym.isalpha() and sym in text:
            return CURRENCY_SYMBOLS[sym]
    return None


def dominant_currency(texts: list[str]) -> tuple[str | None, float]:
    """The currency a document's amounts are in, with how sure that is (codes beat symbols)."""
    codes: Counter[str] = Counter()
    symbols: Counter[str] = Counter()
    for t in texts:
        for code in re.findall(r"(?<![A-Za-z])([A-Z]{3})(?![A-Za-z])", t):
            if code in ISO_CURRENCIES:
                codes[code] += 1
        for sym in ("€", "£", "¥", "₹", "C$", "A$", "US$"):
            symbols[CURRENCY_SYMBOLS[sym]] += t.count(sym)
        symbols["USD"] += len(re.findall(r"(?<![A-Z]{1}[A-Z])(?<![CA])\$", t)) - t.count("US$")
    if codes:
        code, _ = codes.most_common(1)[0]
        return code, 0.95 if len(codes) == 1 else 0.8
    symbols = +symbols
    if symbols:
        code, _ = symbols.most_common(1)[0]
        return code, 0.85 if code != "USD" else 0.75
    return None, 0.0


_MONTHS = "jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec|january|february|march|april|june|july|august|september|october|november|december"
DATE_IN_TEXT = re.compile(
    r"(?<!\d)(?:"
    r"\d{4}-\d{1,2}-\d{1,2}"
    r"|\d{4}/\d{1,2}/\d{1,2}"
    r"|\d{1,2}[./-]\d{1,2}[./-](?:\d{4}|\d{2})"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?[ -](?:{_MONTHS})\.?,?[ -]\d{{4}}"
    rf"|(?:{_MONTHS})\.?[ -]\d{{1,2}}(?:st|nd|rd|th)?,?[ -]\d{{4}}"
    r"|(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
    r")(?!\d)",
    re.IGNORECASE,
)


def parse_date(text: object, dayfirst: bool | None = None) -> dt.date | None:
    """A date as written: ISO, ``14/03/2025``, ``03/14/2025``, ``14.03.2025``, ``March 14, 2025``, ``20250314``.

    For all-numeric day/month dates, a part over 12 decides the order; when both could be a month,
    ``dayfirst`` (the document's convention: decimal commas and European currencies write day first)
    decides, and without it the US month-first order is assumed.
    """
    if text is None:
        return None
    if isinstance(text, dt.datetime):
        return text.date()
    if isinstance(text, dt.date):
        return text
    s = str(text).strip()
    m = DATE_IN_TEXT.search(s)
    if not m:
        return None
    s = m.group(0)
    try:
        if re.fullmatch(r"\d{8}", s):
            return dt.date(int(s[:4]), int(s[4:6]), int(s[6:]))
        if re.fullmatch(r"\d{4}[-/]\d{1,2}[-/]\d{1,2}", s):
            y, mo, d = (int(p) for p in re.split(r"[-/]", s))
            return dt.date(y, mo, d)
        parts = re.fullmatch(r"(\d{1,2})[./-](\d{1,2})[./-](\d{4}|\d{2})", s)
        if parts:
            a, b, y = int(parts[1]), int(parts[2]), int(parts[3])
            if y < 100:
                y += 2000
            if "." in s and dayfirst is None:
                dayfirst = True  # dotted dates (14.03.2025) are the European convention
            if a > 12:
                day, month = a, b
            elif b > 12:
                month, day = a, b
            elif dayfirst:
                day, month = a, b
            else:
                month, day = a, b
            return dt.date(y, month, day)
        return dateutil_parser.parse(s.replace(".", " "), dayfirst=bool(dayfirst)).date()
    except (ValueError, OverflowError):
        return None


def ambiguous_date(text: str) -> bool:
    """True when a numeric date reads as a valid date both day-first and month-first (04/03/2025)."""
    parts = re.search(r"(?<!\d)(\d{1,2})[./-](\d{1,2})[./-](?:\d{4}|\d{2})(?!\d)", text)
    return bool(parts) and int(parts[1]) <= 12 and int(parts[2]) <= 12 and parts[1] != parts[2]


_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-_/.#]{2,39}$")


def clean_reference(text: object) -> str:
    """An invoice or payment reference as the document states it, without padding or trailing punctuation."""
    if text is None:
        return ""
    if isinstance(text, float) and text.is_integer():
        text = int(text)  # a spreadsheet that stored invoice 2025000123 as a number
    s = re.sub(r"\s+", " ", str(text)).strip().strip(",;:").rstrip(".")
    return s.lstrip("#").strip()


def looks_like_reference(text: str) -> bool:
    """Whether a cell or token can be an invoice reference (``INV-2025-000123``, ``INV2025000123``, ``2025000123``)."""
    s = clean_reference(text)
    if not _REFERENCE.match(s) or not any(c.isdigit() for c in s):
        return False
    if DATE_IN_TEXT.fullmatch(s) and not re.fullmatch(r"\d{8}", s):
        return False
    if re.match(r"\d{1,3}(?:[.,]\d{3})*[.,]\d{2}(?!\d)", s):
        return False  # starts like money ("16.25Promo": an amount run into the next cell)
    if re.fullmatch(r"[\d,.'’]+", s):
        # Bare digits are a reference (2025000123) unless they are written like money (1,209.87).
        return bool(re.fullmatch(r"\d{3,}", s))
    return True
