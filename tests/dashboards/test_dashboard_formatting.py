from decimal import Decimal

import pytest

from dashboards import formatting as fmt


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        (Decimal("1234567.89"), "USD", "$1,234,567.89"),
        (Decimal("-12.3"), "USD", "-$12.30"),
        (Decimal("0.005"), "USD", "$0.01"),  # half-up, as accountants round, not banker's rounding
        (Decimal("55000"), "EUR", "€55,000.00"),
        (Decimal("20000.00"), "GBP", "£20,000.00"),
        (Decimal("99.5"), "CHF", "CHF 99.50"),
        (None, "USD", fmt.EMPTY),
        # f"{1.005:.2f}" is "1.00" (the double is 1.00499...); the decimal amount rounds as written.
        (Decimal("1.005"), "USD", "$1.01"),
    ],
)
def test_money(value, currency, expected):
    assert fmt.money(value, currency) == expected


def test_money_from_float_uses_its_shortest_repr():
    # A DSO or rate column might be a double; 0.1 + 0.2 must not print as 0.30000000000000004 -> 0.30.
    assert fmt.to_decimal(0.1) == Decimal("0.1")
    assert fmt.money(1234567.885) == "$1,234,567.89"


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [
        (Decimal("893323.45"), Decimal("1234567.89"), "72.4%"),
        (Decimal("40000.00"), Decimal("1234567.89"), "3.2%"),
        (Decimal("1"), Decimal("0"), fmt.EMPTY),  # no open AR: no share, not a ZeroDivisionError
        (Decimal("0.00"), Decimal("5"), "0.0%"),
    ],
)
def test_percent_of_ratio(numerator, denominator, expected):
    assert fmt.percent(fmt.ratio(numerator, denominator)) == expected


def test_percent_points_and_days():
    assert fmt.percent_points(Decimal("87.65")) == "87.7%"
    assert fmt.percent_points(None) == fmt.EMPTY
    assert fmt.days(Decimal("42.70")) == "42.7 days"
    assert fmt.number(Decimal("1234.56"), 0) == "1,235"
    assert fmt.days(float("nan")) == fmt.EMPTY
