"""Display formats for money, percentages and day counts, computed with Decimal.

Amounts arrive from DuckDB as ``decimal.Decimal`` (decimal(18,2)); formatting them here, not with
a float format in the browser, keeps a displayed total equal to the cent to the mart's sum.
Ratios are divided here too, because DuckDB turns decimal / decimal into a double.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}
EMPTY = "–"


def to_decimal(value: object) -> Decimal | None:
    """Decimal from a DuckDB value; a double (e.g. a DSO column) goes through its shortest repr."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return value
    try:
        # str() first: Decimal(0.1) would carry the binary float's 55 digits.
        result = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"not a number: {value!r}") from exc
    return None if result.is_nan() else result


def money(value: object, currency: str = "USD", places: int = 2) -> str:
    """``$1,234,567.89``, ``-$12.30``; a currency without a symbol is written as its code."""
    amount = to_decimal(value)
    if amount is None:
        return EMPTY
    quantized = amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    sign = "-" if quantized < 0 else ""
    symbol = CURRENCY_SYMBOLS.get(currency)
    body = f"{abs(quantized):,.{places}f}"
    return f"{sign}{symbol}{body}" if symbol else f"{sign}{currency} {body}"


def ratio(numerator: object, denominator: object) -> Decimal | None:
    num, den = to_decimal(numerator), to_decimal(denominator)
    if num is None or den is None or den == 0:
        return None
    return num / den


def percent(fraction: object, places: int = 1) -> str:
    """A fraction (0.7236) as ``72.4%``."""
    value = to_decimal(fraction)
    if value is None:
        return EMPTY
    return f"{(value * 100).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):,.{places}f}%"


def percent_points(value: object, places: int = 1) -> str:
    """A value already in percent (CEI 87.65) as ``87.7%``."""
    number = to_decimal(value)
    return EMPTY if number is None else percent(number / 100, places)


def number(value: object, places: int = 1) -> str:
    value = to_decimal(value)
    if value is None:
        return EMPTY
    return f"{value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):,.{places}f}"


def days(value: object, places: int = 1) -> str:
    text = number(value, places)
    return text if text == EMPTY else f"{text} days"
