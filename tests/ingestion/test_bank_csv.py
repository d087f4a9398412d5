"""Bank CSV exports: a German decimal-comma export with a YAML mapping, an English one guessed from
its header, and the ways such files go wrong."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from ingestion.bank.bank_csv import CsvMapping, parse_bank_csv
from ingestion.normalized import ParseError
from ingestion.parsing import detect_format, parse_file

GERMAN = (
    '"Auftragskonto";"Buchungstag";"Valutadatum";"Verwendungszweck";"Beguenstigter/Zahlungspflichtiger";'
    '"Kontonummer/IBAN";"Betrag";"Waehrung"\n'
    '"DE89370400440532013000";"02.01.24";"02.01.24";"RE 2023-1001 Müller";"Müller GmbH";'
    '"DE02100500000054540402";"1.234,56";"EUR"\n'
    '"DE89370400440532013000";"15.01.24";"16.01.24";"Kontoführung";"";"";"-12,50";"EUR"\n'
)

MAPPING_YAML = """
date: Buchungstag
value_date: Valutadatum
amount: Betrag
currency: Waehrung
counterparty: Beguenstigter/Zahlungspflichtiger
counterparty_account: Kontonummer/IBAN
remittance: Verwendungszweck
account: Auftragskonto
"""

ENGLISH = """Date,Description,Reference,Credit,Debit,Currency,Account
03/15/2024,ACME CORP PAYMENT INV-77,REF-1,"1,500.00",,USD,123456789
03/16/2024,BANK FEE,,,25.00,USD,123456789
"""


def test_german_export_with_yaml_mapping(tmp_path):
    mapping_file = tmp_path / "sparkasse.yml"
    mapping_file.write_text(MAPPING_YAML)
    data = GERMAN.encode("cp1252")
    result = parse_bank_csv(data, "umsaetze.csv", CsvMapping.from_yaml(mapping_file))
    credit, fee = result.transactions
    assert (credit.amount, credit.currency, credit.credit_debit) == (Decimal("1234.56"), "EUR", "CRDT")
    assert credit.booking_date == dt.date(2024, 1, 2) and credit.value_date == dt.date(2024, 1, 2)
    assert credit.counterparty_name == "Müller GmbH" and credit.remittance_text == "RE 2023-1001 Müller"
    assert (
        credit.counterparty_account == "DE02100500000054540402" and credit.account == "DE89370400440532013000"
    )
    assert credit.position == 2
    assert (fee.amount, fee.credit_debit, fee.value_date) == (Decimal("-12.50"), "DBIT", dt.date(2024, 1, 16))
    assert any("cp1252" in w for w in result.warnings)


def test_english_export_guessed_from_header(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(ENGLISH)
    assert detect_format(path.read_bytes(), path.name) == "csv"
    result = parse_file(path)
    payment, fee = result.transactions
    assert payment.amount == Decimal("1500.00") and payment.booking_date == dt.date(2024, 3, 15)
    assert payment.customer_reference == "REF-1" and payment.account == "123456789"
    assert fee.amount == Decimal("-25.00") and fee.credit_debit == "DBIT"


def test_decimal_comma_sniffed_and_trailing_minus():
    data = b"date;amount;text\n2024-02-01;100,5;a\n2024-02-02;1.000,00-;b\n"
    result = parse_bank_csv(
        data,
        "x.csv",
        {
            "date": "date",
            "amount": "amount",
            "remittance": "text",
            "default_currency": "EUR",
            "account_value": "DE00",
        },
    )
    assert [t.amount for t in result.transactions] == [Decimal("100.5"), Decimal("-1000.00")]


def test_ambiguous_dates_are_read_day_first_with_a_warning():
    data = b"date,amount\n01/02/2024,5.00\n"
    result = parse_bank_csv(
        data, "x.csv", {"date": "date", "amount": "amount", "default_currency": "EUR", "account_value": "A"}
    )
    assert result.transactions[0].booking_date == dt.date(2024, 2, 1)
    assert any("day-first" in w for w in result.warnings)


def test_bad_rows_name_the_line():
    mapping = {"date": "date", "amount": "amount", "default_currency": "EUR", "account_value": "A"}
    with pytest.raises(ParseError, match="row has 1 columns") as caught:
        parse_bank_csv(b"date,amount\n2024-01-01,1.00\n2024-01-0", "cut.csv", mapping)
    assert caught.value.line == 3
    with pytest.raises(ParseError, match="'abc' is not an amount"):
        parse_bank_csv(b"date,amount\n2024-01-01,abc\n", "x.csv", mapping)
    with pytest.raises(ParseError, match="'Betrag' \\(amount\\) is not in the header"):
        parse_bank_csv(b"date,amount\n2024-01-01,1\n", "x.csv", {**mapping, "amount": "Betrag"})
    with pytest.raises(ParseError, match="unknown keys \\['colour'\\]"):
        CsvMapping.from_dict({"date": "d", "amount": "a", "colour": "x"})
