"""Exact money: integer cents inside, text with two decimals outside.

Every amount the simulator writes is an integer number of minor units (all three currencies have
two). Percentages and FX conversions go through ``Decimal`` with ROUND_HALF_UP, the rounding ERPs
and the contracts' tests use, so a recomputation from the CSVs with ``Decimal`` gives the same cents.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

_ONE = Decimal(1)
_HUNDRED = Decimal(100)


def fmt_cents(cents: int) -> str:
    """``-123456`` → ``'-1234.56'``: dot decimal, no thousands separator (the CSV convention)."""
    sign = "-" if cents < 0 else ""
    c = -cents if cents < 0 else cents
    return f"{sign}{c // 100}.{c % 100:02d}"


def parse_cents(text: str) -> int:
    """Inverse of :func:`fmt_cents`, exact (used by tests and readers of the ground truth)."""
    return int((Decimal(text) * _HUNDRED).to_integral_value(rounding=ROUND_HALF_UP))


def pct_of(cents: int, pct: Decimal) -> int:
    """``pct`` percent of ``cents``, rounded half-up to a cent (an early-pay discount, a rebate)."""
    return int((Decimal(cents) * pct / _HUNDRED).quantize(_ONE, rounding=ROUND_HALF_UP))


def fraction_of(cents: int, fraction: float) -> int:
    """A share of an amount, for simulated behaviour (an instalment): the share is a float draw, the
    result is exact cents, so nothing inexact is ever stored."""
    return int((Decimal(cents) * Decimal(repr(fraction))).quantize(_ONE, rounding=ROUND_HALF_UP))


def convert(cents: int, rate: Decimal) -> int:
    """Transaction-currency cents × rate → functional cents, half-up (per item, as the contracts say)."""
    return int((Decimal(cents) * rate).quantize(_ONE, rounding=ROUND_HALF_UP))


def fmt_grouped(cents: int, style: str = "en") -> str:
    """An amount the way a person writes it in an e-mail: ``12,345.67`` (en), ``12.345,67`` (de),
    ``12 345,67`` (fr)."""
    whole, frac = divmod(abs(cents), 100)
    s = f"{whole:,}"
    if style == "de":
        s = s.replace(",", ".") + f",{frac:02d}"
    elif style == "fr":
        s = s.replace(",", " ") + f",{frac:02d}"
    else:
        s = s + f".{frac:02d}"
    return ("-" if cents < 0 else "") + s
