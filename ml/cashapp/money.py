"""Exact money for cash application: integer minor units inside the engine, ``Decimal`` at its edges.

Every currency the contracts allow (USD, EUR, GBP) has two minor-unit digits, so one cent is the
unit everywhere. Integers keep the hot loops (amount indexes, subset sums) exact and fast; the
frames the engine hands over carry ``Decimal`` so nothing downstream ever sees a binary float.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

_HUNDRED = Decimal(100)
_ONE = Decimal(1)
_CENT = Decimal("0.01")


def to_cents(value) -> int:
    """``Decimal('12.34')``, ``'12.34'`` or an int number of cents already → ``1234``.

    Floats are refused: a float amount means something upstream already lost exactness.
    Amounts with more than two decimals are refused too rather than silently rounded.
    """
    if isinstance(value, bool):
        raise TypeError("an amount cannot be a bool")
    if isinstance(value, float):
        raise TypeError(f"amount {value!r} is a float; pass Decimal or str to keep it exact")
    try:
        d = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation as e:
        raise ValueError(f"not an amount: {value!r}") from e
    if not d.is_finite():
        raise ValueError(f"not a finite amount: {value!r}")
    cents = d * _HUNDRED
    if cents != cents.to_integral_value():
        raise ValueError(f"amount {value!r} has more than two decimals")
    return int(cents)


def from_cents(cents: int) -> Decimal:
    """``1234`` → ``Decimal('12.34')`` (always two decimals)."""
    return (Decimal(int(cents)) / _HUNDRED).quantize(_CENT)


def pct_of(cents: int, pct: Decimal) -> int:
    """``pct`` percent of ``cents``, half-up to the cent: how ERPs compute an early-pay discount."""
    return int((Decimal(cents) * pct / _HUNDRED).quantize(_ONE, rounding=ROUND_HALF_UP))


def fmt(cents: int) -> str:
    """``-1234`` → ``'-12.34'``: dot decimal, no grouping (what the reconciliation file writes)."""
    sign = "-" if cents < 0 else ""
    c = -cents if cents < 0 else cents
    return f"{sign}{c // 100}.{c % 100:02d}"
