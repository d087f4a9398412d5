"""Business-day calendars, countries and time zones of the simulated world.

Dates inside the engine are proleptic ordinals (``date.toordinal()``): integer arithmetic and list
lookups are an order of magnitude cheaper than ``date`` objects in the hot loop, and the hot loop
runs for every invoice of a 10M-invoice world. Holidays come from the ``holidays`` package, so a
German invoice is never dated on Whit Monday and a EUR receipt never lands on a TARGET2 closing day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import holidays


@dataclass(frozen=True)
class Country:
    code: str
    currency: str
    weight: float  # share of customers
    timezones: tuple[tuple[str, float], ...]
    holiday_subdiv: str | None
    tld: str
    language: str  # language some of its customers write e-mails in


# Canadian customers of a US seller are commonly billed in USD; the contracts know USD/EUR/GBP only.
COUNTRIES: dict[str, Country] = {
    c.code: c
    for c in (
        Country(
            "US",
            "USD",
            0.40,
            (
                ("America/New_York", 0.45),
                ("America/Chicago", 0.3),
                ("America/Denver", 0.07),
                ("America/Los_Angeles", 0.18),
            ),
            None,
            "com",
            "en",
        ),
        Country("CA", "USD", 0.06, (("America/Toronto", 0.7), ("America/Vancouver", 0.3)), "ON", "ca", "en"),
        Country("GB", "GBP", 0.14, (("Europe/London", 1.0),), "ENG", "co.uk", "en"),
        Country("DE", "EUR", 0.12, (("Europe/Berlin", 1.0),), None, "de", "de"),
        Country("FR", "EUR", 0.09, (("Europe/Paris", 1.0),), None, "fr", "fr"),
        Country("NL", "EUR", 0.07, (("Europe/Amsterdam", 1.0),), None, "nl", "en"),
        Country("IE", "EUR", 0.04, (("Europe/Dublin", 1.0),), None, "ie", "en"),
        Country("ES", "EUR", 0.04, (("Europe/Madrid", 1.0),), None, "es", "en"),
        Country("IT", "EUR", 0.04, (("Europe/Rome", 1.0),), None, "it", "en"),
    )
}

# Where each currency's receipts are booked: the seller's bank in that currency closes on these days.
BANK_CALENDAR_OF_CURRENCY = {"USD": "bank:USD", "EUR": "bank:EUR", "GBP": "bank:GBP"}

# The seller (and so its collectors) sits in the US.
SELLER_CALENDAR = "country:US"


def _holiday_dates(key: str, years: list[int]) -> set[dt.date]:
    kind, code = key.split(":")
    if kind == "bank":
        if code == "USD":
            h = holidays.financial_holidays("XFED", years=years)  # Federal Reserve (Fedwire/ACH) closings
        elif code == "EUR":
            h = holidays.financial_holidays("XECB", years=years)  # TARGET2 closing days
        else:
            h = holidays.country_holidays(
                "GB", subdiv="ENG", years=years
            )  # Bank of England/BACS follow these
    else:
        country = COUNTRIES[code]
        h = holidays.country_holidays(code, subdiv=country.holiday_subdiv, years=years)
    return set(h.keys())


class Calendars:
    """Business-day lookups for every calendar over a fixed ordinal range.

    ``is_bd[key][o - base]`` and ``next_bd[key][o - base]`` (first business day on or after ``o``)
    are precomputed lists, so a lookup is one subtraction and one index.
    """

    def __init__(self, first: dt.date, last: dt.date):
        self.base = first.toordinal()
        self.end = last.toordinal()
        n = self.end - self.base + 1
        years = list(range(first.year, last.year + 1))
        keys = [f"country:{c}" for c in COUNTRIES] + list(BANK_CALENDAR_OF_CURRENCY.values())
        self.is_bd: dict[str, list[bool]] = {}
        self.next_bd: dict[str, list[int]] = {}
        self.iso = [dt.date.fromordinal(self.base + i).isoformat() for i in range(n)]
        weekdays = [(self.base + i - 1) % 7 for i in range(n)]  # ordinal 1 (0001-01-01) is a Monday
        for key in keys:
            hol = {d.toordinal() for d in _holiday_dates(key, years)}
            flags = [weekdays[i] < 5 and (self.base + i) not in hol for i in range(n)]
            nxt = [0] * n
            following = self.end + 30  # past the range: callers never look that far
            for i in range(n - 1, -1, -1):
                if flags[i]:
                    following = self.base + i
                nxt[i] = following
            self.is_bd[key] = flags
            self.next_bd[key] = nxt
        self._month_bds: dict[tuple[str, int, int], list[int]] = {}

    def date(self, o: int) -> dt.date:
        return dt.date.fromordinal(o)

    def isoformat(self, o: int) -> str:
        return self.iso[o - self.base]

    def business(self, key: str, o: int) -> bool:
        return self.is_bd[key][o - self.base]

    def on_or_after(self, key: str, o: int) -> int:
        if o > self.end:
            return o
        if o < self.base:
            o = self.base
        return self.next_bd[key][o - self.base]

    def add_business_days(self, key: str, o: int, n: int) -> int:
        o = self.on_or_after(key, o)
        for _ in range(n):
            o = self.on_or_after(key, o + 1)
        return o

    def month_business_days(self, key: str, year: int, month: int) -> list[int]:
        k = (key, year, month)
        got = self._month_bds.get(k)
        if got is None:
            first = dt.date(year, month, 1).toordinal()
            nxt = dt.date(year + (month == 12), month % 12 + 1, 1).toordinal()
            got = [
                o
                for o in range(max(first, self.base), min(nxt, self.end + 1))
                if self.is_bd[key][o - self.base]
            ]
            self._month_bds[k] = got
        return got

    def last_business_day_of_month(self, key: str, o: int) -> int:
        d = dt.date.fromordinal(o)
        days = self.month_business_days(key, d.year, d.month)
        return days[-1] if days else o


_ZONES: dict[str, ZoneInfo] = {}


def local_timestamp(tz: str, o: int, minute_of_day: int) -> str:
    """ISO 8601 timestamp with the zone's UTC offset on that day (DST included), seconds precision."""
    zone = _ZONES.get(tz)
    if zone is None:
        zone = _ZONES[tz] = ZoneInfo(tz)
    d = dt.date.fromordinal(o)
    t = dt.datetime(d.year, d.month, d.day, minute_of_day // 60, minute_of_day % 60, tzinfo=zone)
    return t.isoformat(timespec="seconds")
