"""Pull the facts out of a customer e-mail: invoice numbers, amounts, dates, e-mail addresses, dispute reasons.

Rule-based on purpose: dates and amounts have a handful of written forms per locale and an exact
answer, which regular expressions get right and a statistical model would only approximate. The
locale decides what a model cannot: ``06/10/2025`` is 10 June from a US customer and 6 October from
a French one (``day_first``). Dates written without a year ("by 16 Apr") or as a weekday ("on
Thursday") are resolved against the day the e-mail was received.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal

MONTHS = {
    # English, German, French names and their common abbreviations; lookups are lower-case, dots removed.
    **{
        m: i + 1
        for i, names in enumerate(
            (
                ("january", "jan", "januar", "janvier", "janv"),
                ("february", "feb", "februar", "février", "fevrier", "févr", "fevr"),
                ("march", "mar", "märz", "maerz", "mars"),
                ("april", "apr", "avril", "avr"),
                ("may", "mai"),
                ("june", "jun", "juni", "juin"),
                ("july", "jul", "juli", "juillet", "juil"),
                ("august", "aug", "août", "aout"),
                ("september", "sep", "sept", "septembre"),
                ("october", "oct", "oktober", "okt", "octobre"),
                ("november", "nov", "novembre"),
                ("december", "dec", "dezember", "dez", "décembre", "decembre", "déc"),
            )
        )
        for m in names
    }
}
WEEKDAYS = {
    name: i
    for i, names in enumerate(
        (
            ("monday", "montag", "lundi", "mon"),
            ("tuesday", "dienstag", "mardi", "tue", "tues"),
            ("wednesday", "mittwoch", "mercredi", "wed"),
            ("thursday", "donnerstag", "jeudi", "thu", "thur", "thurs"),
            ("friday", "freitag", "vendredi", "fri"),
            ("saturday", "samstag", "samedi", "sat"),
            ("sunday", "sonntag", "dimanche", "sun"),
        )
    )
    for name in names
}
# Countries that write the month first in numeric dates (ISO 8601 ``YYYY-MM-DD`` is unambiguous everywhere).
MONTH_FIRST_COUNTRIES = frozenset({"US", "CA", "PH"})
CURRENCY_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "us$": "USD"}
# Currencies written as words ("1,234.50 dollars", "1.234,50 Euro"); "dollars" is read as USD, the
# currency of the only dollar accounts the ledger keeps.
CURRENCY_WORDS = {
    "dollar": "USD",
    "dollars": "USD",
    "euro": "EUR",
    "euros": "EUR",
    "pound": "GBP",
    "pounds": "GBP",
}
CURRENCY_CODES = ("USD", "EUR", "GBP", "CAD", "CHF")

_MONTH_RE = "|".join(sorted((re.escape(m) for m in MONTHS), key=len, reverse=True))
_WEEKDAY_RE = "|".join(sorted(WEEKDAYS, key=len, reverse=True))
_INVOICE_RE = re.compile(r"\b(?:INV|RE|RG|FA|FAC)[-‐ ]?(\d{4,9})\b", re.IGNORECASE)
_EMAIL_RE = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
# A number as people write money: 1,234.56 / 1.234,56 / 1 234,56 / 1234.56 / 1234 (thin and no-break spaces too).
_NUM = r"\d{1,3}(?:[,.\u00a0\u202f ]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?"
_CUR = r"(?<![A-Za-z])(?:USD|EUR|GBP|CAD|CHF)(?![A-Za-z])|US\$|\$|€|£"
_CUR_AFTER = rf"{_CUR}|(?:dollars?|euros?|pounds?)\b"
_AMOUNT_RE = re.compile(
    rf"(?P<c1>{_CUR})[ \u00a0]?(?P<n1>{_NUM})(?!\d)|(?<![\w.,])(?P<n2>{_NUM})[ \u00a0]?(?P<c2>{_CUR_AFTER})(?![A-Za-z])",
    re.I,
)
_ISO_RE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_NUMERIC_RE = re.compile(r"\b(\d{1,2})([./-])(\d{1,2})\2(\d{4}|\d{2})\b")
# Without a year: "15.3." (German, the trailing dot is required), "15/03" or "3/15" (locale decides).
_SHORT_DOTTED_RE = re.compile(r"(?<![\d.,])(\d{1,2})\.(\d{1,2})\.(?!\d)")
_SHORT_SLASH_RE = re.compile(r"(?<![\d/.,])(\d{1,2})/(\d{1,2})(?![\d/])")
_DAY_MONTH_RE = re.compile(
    rf"\b(\d{{1,2}})(?:st|nd|rd|th|er)?\.?(?:\s+|-)(?:of\s+)?({_MONTH_RE})\.?(?:(?:,?\s+|-)(\d{{4}}))?\b",
    re.I,
)
_WEEKDAY_DAY_RE = re.compile(rf"\b({_WEEKDAY_RE})\.?,?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?!\s*[/.:-]?\d)", re.I)
_WEEKDAY_NEXT_WEEK_RE = re.compile(rf"\b({_WEEKDAY_RE})\s+(?:of\s+)?next\s+week\b", re.I)
_MONTH_END_RE = re.compile(
    rf"\b(?:(?:the\s+)?end\s+of\s+(?:(next)\s+month|(?:the\s+|this\s+)?month|({_MONTH_RE}))|month[- ]end)\b(?![- ](?:close|closing|reporting|process))",
    re.I,
)
_MONTH_DAY_RE = re.compile(rf"\b({_MONTH_RE})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}}))?", re.I)
_WEEKDAY_ONLY_RE = re.compile(
    rf"\b(?:(next|this|coming)\s+)?({_WEEKDAY_RE})\b(?!,?\s+(?:\d|{_MONTH_RE}))", re.I
)
_RELATIVE_RE = re.compile(
    r"\b(today|tomorrow|end of next week|next week|within (\d+) days|in (\d+) days)\b",
    re.I,
)


@dataclass(frozen=True)
class Found:
    """A value found in the text and where: position lets callers prefer the value nearest a cue word."""

    value: object
    start: int
    end: int
    weak: bool = False  # "today": usually when something was done, rarely the date promised


def invoice_ids(text: str) -> list[str]:
    """Invoice numbers in order of first mention, normalized to ``INV-<digits>``."""
    seen: dict[str, None] = {}
    for m in _INVOICE_RE.finditer(text or ""):
        seen.setdefault(f"INV-{m.group(1)}", None)
    return list(seen)


def emails(text: str) -> list[str]:
    return list(dict.fromkeys(m.group(0).rstrip(".").lower() for m in _EMAIL_RE.finditer(text or "")))


def parse_number(s: str) -> Decimal:
    """``1,234.56``, ``1.234,56``, ``1 234,56``, ``1234`` → Decimal. The last separator followed by one or
    two digits is the decimal mark; any other separator groups thousands."""
    s = re.sub(r"[\u00a0\u202f ]", "", s)
    m = re.search(r"[.,](\d{1,2})$", s)
    if m:
        whole, frac = s[: m.start()], m.group(1)
    else:
        whole, frac = s, ""
    whole = re.sub(r"[.,]", "", whole)
    return Decimal(f"{whole}.{frac}" if frac else whole)


def amounts(text: str) -> list[Found]:
    """Money amounts that carry a currency (a bare number is a quantity or a reference, not money)."""
    out = []
    for m in _AMOUNT_RE.finditer(text or ""):
        cur = m.group("c1") or m.group("c2")
        num = m.group("n1") or m.group("n2")
        low = cur.lower()
        code = CURRENCY_SYMBOLS.get(low) or CURRENCY_WORDS.get(low) or cur.upper()
        out.append(Found((parse_number(num), code), m.start(), m.end()))
    return out


def _year_for(day: int, month: int, received: dt.date) -> dt.date | None:
    """A date written without a year is the next such day from the e-mail's point of view (a little
    slack backwards: "paid on 3 Nov" written on 5 Nov is this year's)."""
    for year in (received.year - 1, received.year, received.year + 1):
        try:
            d = dt.date(year, month, day)
        except ValueError:
            continue
        if (d - received).days >= -45:
            return d
    return None


def _month_end(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)


def _weekday_day(weekday: int, day: int, received: dt.date) -> dt.date | None:
    """ "Tue 28": the next day-of-month ``day`` (from the day before receipt) that falls on that weekday,
    else simply the next such day of the month."""
    candidates = []
    for k in range(0, 3):
        first = (received.replace(day=1) + dt.timedelta(days=31 * k)).replace(day=1)
        d = _safe_date(first.year, first.month, day)
        if d is not None and (d - received).days >= -1:
            candidates.append(d)
    exact = [d for d in candidates if d.weekday() == weekday]
    return (exact or candidates or [None])[0]


def _safe_date(y: int, m: int, d: int) -> dt.date | None:
    try:
        return dt.date(y, m, d)
    except ValueError:
        return None


def dates(text: str, received: dt.date, country: str | None = None) -> list[Found]:
    """Calendar dates mentioned in ``text``, resolved against ``received``; ``country`` decides the
    order of day and month in numeric dates (unknown: day first unless that is impossible)."""
    text = text or ""
    month_first = isinstance(country, str) and country.upper() in MONTH_FIRST_COUNTRIES
    found: list[Found] = []
    taken: list[tuple[int, int]] = []

    def add(value, m, weak=False):
        if value is None or any(a < m.end() and m.start() < b for a, b in taken):
            return
        taken.append((m.start(), m.end()))
        found.append(Found(value, m.start(), m.end(), weak))

    for m in _ISO_RE.finditer(text):
        add(_safe_date(int(m.group(1)), int(m.group(2)), int(m.group(3))), m)
    for m in _NUMERIC_RE.finditer(text):
        a, b, y = int(m.group(1)), int(m.group(3)), int(m.group(4))
        y = y + 2000 if y < 100 else y
        if m.group(2) == ".":
            value = _safe_date(y, b, a)  # 06.10.2025 is German: always day first
        elif month_first:
            value = _safe_date(y, a, b) or _safe_date(y, b, a)
        else:
            value = _safe_date(y, b, a) or _safe_date(y, a, b)
        add(value, m)
    for m in _WEEKDAY_NEXT_WEEK_RE.finditer(text):
        monday = received + dt.timedelta(days=7 - received.weekday())
        add(monday + dt.timedelta(days=WEEKDAYS[m.group(1).lower()]), m)
    for m in _MONTH_END_RE.finditer(text):
        if m.group(2):
            month = MONTHS[m.group(2).lower().rstrip(".")]
            first = _year_for(1, month, received.replace(day=1))
            value = _month_end(first) if first else None
        elif m.group(1):
            value = _month_end(_month_end(received) + dt.timedelta(days=1))
        else:
            value = _month_end(received)
        add(value, m)
    for m in _WEEKDAY_DAY_RE.finditer(text):
        add(_weekday_day(WEEKDAYS[m.group(1).lower()], int(m.group(2)), received), m)
    for m in _SHORT_DOTTED_RE.finditer(text):
        add(_year_for(int(m.group(1)), int(m.group(2)), received) if 1 <= int(m.group(2)) <= 12 else None, m)
    for m in _DAY_MONTH_RE.finditer(text):
        day, month = int(m.group(1)), MONTHS[m.group(2).lower().rstrip(".")]
        value = _safe_date(int(m.group(3)), month, day) if m.group(3) else _year_for(day, month, received)
        add(value, m)
    for m in _MONTH_DAY_RE.finditer(text):
        month, day = MONTHS[m.group(1).lower().rstrip(".")], int(m.group(2))
        value = _safe_date(int(m.group(3)), month, day) if m.group(3) else _year_for(day, month, received)
        add(value, m)
    for m in _SHORT_SLASH_RE.finditer(text):
        a, b = int(m.group(1)), int(m.group(2))
        day, month = (b, a) if month_first else (a, b)
        if not 1 <= month <= 12:
            day, month = month, day
        add(_year_for(day, month, received) if 1 <= month <= 12 else None, m)
    for m in _WEEKDAY_ONLY_RE.finditer(text):
        target = WEEKDAYS[m.group(2).lower()]
        ahead = (target - received.weekday()) % 7 or 7  # "on Thursday" sent on a Thursday means next week's
        if (m.group(1) or "").lower() == "next" and ahead < 7 and received.weekday() < target:
            ahead += 7 if ahead <= 2 else 0
        add(received + dt.timedelta(days=ahead), m)
    for m in _RELATIVE_RE.finditer(text):
        word = m.group(1).lower()
        if word == "today":
            add(received, m, weak=True)
            continue
        elif word == "tomorrow":
            value = received + dt.timedelta(days=1)
        elif word == "end of next week":
            value = received + dt.timedelta(days=(4 - received.weekday()) % 7 + 7)
        elif word == "next week":
            value = received + dt.timedelta(days=7 - received.weekday())
        else:
            value = received + dt.timedelta(days=int(m.group(2) or m.group(3)))
        add(value, m)
    return sorted(found, key=lambda f: f.start)


_PAY_CUES = re.compile(
    r"\b(pay|paid|payment|payable|release|released|run|transfer|wire|settle|send|remit|zahlung|überw|"
    r"règlement|reglement|paiement|virement|erfolgt|effectué|by|on|am|le)\b",
    re.I,
)


def _nearest(items: list[Found], anchor: int) -> Found | None:
    return min(items, key=lambda f: abs(f.start - anchor)) if items else None


def promise_terms(
    text: str, received: dt.date, country: str | None = None
) -> tuple[dt.date | None, Decimal | None, str | None]:
    """(promised date, promised amount, currency) of a promise to pay. The date is the first future
    date (on or after the day before receipt: a customer may confirm yesterday's run); the amount is the
    money mentioned closest to it, which for "we can pay X on D towards ..., the rest later" is X."""
    if not isinstance(country, str) and re.search(r"\$|\bUSD\b|\bdollars?\b", text or "", re.I):
        country = "US"  # an unlinked sender paying in dollars writes dates month first
    ds = [f for f in dates(text, received, country) if (f.value - received).days >= -1]
    ds = [f for f in ds if not f.weak] or ds
    ams = amounts(text)
    date = ds[0] if ds else None
    amount = _nearest(ams, date.start) if date else (ams[0] if ams else None)
    if amount is None:
        return (date.value if date else None), None, None
    value, cur = amount.value
    return (date.value if date else None), value, cur


DISPUTE_REASON_CUES: dict[str, tuple[str, ...]] = {
    # Fallback when the learned reason classifier is unsure; ordered by how specific the cue is.
    "DUPLICATE_BILLING": ("duplicate", "twice", "doppelt", "doublon", "already paid", "billed us two"),
    "NOT_RECEIVED": (
        "never received",
        "not received",
        "no record of receiving",
        "proof of delivery",
        "nie erhalten",
        "jamais reçu",
        "not delivered",
        "never arrived",
        "didn't arrive",
    ),
    "DAMAGED": ("damaged", "crushed", "broken", "beschädigt", "endommag", "defective", "unusable"),
    "QUANTITY": ("quantity", "units", "pcs", "menge", "quantité", "short shipped", "only received"),
    "PROMOTION": ("promo", "promotion", "aktionsrabatt", "promotionnelle", "allowance", "rebate"),
    "SERVICE_ISSUE": ("service", "sla", "leistung", "prestation", "not performed", "installation"),
    "PRICING": ("price", "pricing", "preis", "prix", "rate", "overcharged", "quote"),
}


def dispute_reason_by_cues(text: str) -> str | None:
    low = (text or "").lower()
    for reason, cues in DISPUTE_REASON_CUES.items():
        if any(c in low for c in cues):
            return reason
    return None
