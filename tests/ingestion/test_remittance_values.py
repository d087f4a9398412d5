"""Amounts, dates, references and table headers as remittance documents write them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from ingestion.remittance.extract import classify_header, header_from_line
from ingestion.remittance.readers import text_line
from ingestion.remittance.values import (
    decimal_comma_hint,
    dominant_currency,
    find_amounts,
    looks_like_reference,
    parse_amount,
    parse_date,
)


@pytest.mark.parametrize(
    "text, decimal_comma, expected",
    [
        ("1,234.56", None, "1234.56"),
        ("1.234,56", None, "1234.56"),
        ("$1,234.56", None, "1234.56"),
        ("€1.234,56", None, "1234.56"),
        ("(12.00)", None, "-12.00"),
        ("($100.00)", None, "-100.00"),
        ("12.00-", None, "-12.00"),
        ("−45.00", None, "-45.00"),  # Unicode minus
        ("1,209.87 CR", None, "-1209.87"),
        ("USD 500.00", None, "500.00"),
        ("500,00 EUR", None, "500.00"),
        ("1 234,56", None, "1234.56"),
        ("1\u00a0234,56", None, "1234.56"),
        ("1'234.56", None, "1234.56"),
        ("1,234,567.89", None, "1234567.89"),
        ("1.234.567,89", None, "1234567.89"),
        ("1234.5", None, "1234.5"),
        ("0.50", None, "0.50"),
        ("1,234", None, "1234"),  # US convention unless the document writes decimal commas
        ("1,234", True, "1.234"),
        ("1.234", True, "1234"),
        (980.0, None, "980.0"),
        (1209.87, None, "1209.87"),  # a spreadsheet double, read through its shortest repr
        (500, None, "500"),
    ],
)
def test_parse_amount(text, decimal_comma, expected) -> None:
    assert parse_amount(text, decimal_comma) == Decimal(expected)
    assert isinstance(parse_amount(text, decimal_comma), Decimal)


@pytest.mark.parametrize(
    "text", ["INV-1", "2025-01-15", "15.01.2025", "1.234.56", "100 200", "(12.00", "$€5", "", "abc"]
)
def test_not_an_amount(text) -> None:
    assert parse_amount(text) is None


def test_find_amounts_in_running_text_skips_references_and_dates() -> None:
    text = "Paid $1,709.87 for INV-2025-000123 and 500.00 USD on 2025-03-14, ref 2025000123"
    assert [a for a, _, _ in find_amounts(text)] == [Decimal("1709.87"), Decimal("500.00")]


def test_document_conventions() -> None:
    assert decimal_comma_hint(["Summe 1.234,56", "Skonto 24,69"]) is True
    assert decimal_comma_hint(["Total 1,234.56"]) is False
    assert decimal_comma_hint(["no amounts"]) is None
    assert dominant_currency(["Total $1,234.56", "$5.00"]) == ("USD", 0.75)
    assert dominant_currency(["EUR 5,00", "EUR 7,00"]) == ("EUR", 0.95)
    assert dominant_currency(["£12.00"]) == ("GBP", 0.85)


@pytest.mark.parametrize(
    "text, dayfirst, expected",
    [
        ("2025-03-14", None, dt.date(2025, 3, 14)),
        ("14/03/2025", None, dt.date(2025, 3, 14)),
        ("03/14/2025", None, dt.date(2025, 3, 14)),
        ("04/03/2025", None, dt.date(2025, 4, 3)),  # ambiguous: US month-first by default
        ("04/03/2025", True, dt.date(2025, 3, 4)),
        ("14.03.2025", None, dt.date(2025, 3, 14)),
        ("04.03.2025", None, dt.date(2025, 3, 4)),  # dotted dates are day-first
        ("March 14, 2025", None, dt.date(2025, 3, 14)),
        ("14 Mar 2025", None, dt.date(2025, 3, 14)),
        ("14-Mar-2025", None, dt.date(2025, 3, 14)),
        ("20250314", None, dt.date(2025, 3, 14)),
        ("paid on Fri, 14 Mar 2025 10:00", None, dt.date(2025, 3, 14)),
        (dt.datetime(2025, 3, 14, 9, 30), None, dt.date(2025, 3, 14)),
    ],
)
def test_parse_date(text, dayfirst, expected) -> None:
    assert parse_date(text, dayfirst) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("INV-2025-000123", True),
        ("INV2025000123", True),
        ("2025000123", True),
        ("#INV-7781", True),
        ("1,209.87", False),
        ("2025-03-14", False),
        ("12", False),
        ("16.25Promo", False),
        ("Total", False),
    ],
)
def test_looks_like_reference(text, expected) -> None:
    assert looks_like_reference(text) is expected


@pytest.mark.parametrize(
    "header, kind",
    [
        ("Invoice", "ref"),
        ("Inv No.", "ref"),
        ("Invoice #", "ref"),
        ("Document", "ref"),
        ("Reference", "ref"),
        ("invoice_number", "ref"),
        ("Amount Paid", "paid"),
        ("Payment", "paid"),
        ("Net", "paid"),
        ("Paid Amount (USD)", "paid"),
        ("Invoice Amount", "invoice_amount"),
        ("Gross", "invoice_amount"),
        ("Discount", "discount"),
        ("Disc.", "discount"),
        ("Deduction", "deduction"),
        ("Short pay", "deduction"),
        ("Adjustment", "deduction"),
        ("Reason", "reason"),
        ("Deduction Reason", "reason"),
        ("Invoice Date", "date"),
        ("Amount", "amount"),
        ("PO Number", "other"),
        ("Payment reference", "other"),
        ("Dear supplier", None),
    ],
)
def test_classify_header(header, kind) -> None:
    assert classify_header(header) == kind


def test_run_together_headers_are_split_into_their_columns() -> None:
    # PDF cells closer than a column gap, or a printed data frame, leave single spaces between headers.
    header = header_from_line(text_line("Invoice No. Invoice Amount Deduction Reason Code Amount Paid", 1))
    assert [(c.kind, c.text) for c in header.columns] == [
        ("ref", "invoice no"),
        ("invoice_amount", "invoice amount"),
        ("deduction", "deduction"),
        ("reason", "reason code"),
        ("paid", "amount paid"),
    ]
    frame = header_from_line(text_line("    invoice_number invoice_amount amount_paid", 1))
    assert [c.kind for c in frame.columns] == ["ref", "invoice_amount", "paid"]
    assert header_from_line(text_line("Please pay the invoice amount by Friday", 1)) is None
