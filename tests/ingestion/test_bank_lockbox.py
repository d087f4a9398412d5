"""BAI lockbox: a realistic two-batch transmission in the layout documented in ingestion/bank/lockbox.py."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from ingestion.bank.lockbox import parse_lockbox
from ingestion.normalized import ParseError
from ingestion.parsing import detect_format, parse_file

# Columns: see the table in ingestion/bank/lockbox.py. Trailing blanks are cut as banks' FTP
# gateways often do; the 6 records keep theirs.
SAMPLE = (
    "\n".join(
        [
            "101ACMECORP0102100002102403150630",
            "2ACMECORP010210000210LBX  DEPOSIT ",
            "50010000012345240315ACMECORP010210000210",
            "6001001000012500002100008944556677880000010234240312GLOBEX CORPORATION          ",
            "40010014010INV-2024-0101  00001000000000100000",
            "40010014029INV-2024-0117  000002500000000255000000000500",
            "6001002000000499901100013800998877660000000877      INITECH LLC                 ",
            "700199900123452403150020000129999",
            "50020000012345240315ACMECORP010210000210",
            "6002001000305007502600959312345678900000500001240310UMBRELLA CORP               ",
            "40020014019INV-2024-0200  00030500750003050075",
            "700299900123452403150010003050075",
            "8999999001234524031500030003180074",
            "9000014",
        ]
    )
    + "\n"
)


def test_checks_and_invoices(tmp_path):
    path = tmp_path / "LBX0012345_20240315.txt"
    path.write_bytes(SAMPLE.replace("\n", "\r\n").encode())
    assert detect_format(path.read_bytes(), path.name) == "lockbox"
    result = parse_file(path)
    assert result.source_format == "lockbox" and not result.balances
    globex, initech, umbrella = result.transactions
    assert (globex.amount, globex.currency, globex.credit_debit) == (Decimal("1250.00"), "USD", "CRDT")
    assert globex.account == "0012345" and globex.bank == "0210000210"
    assert globex.booking_date == dt.date(2024, 3, 15)
    assert globex.counterparty_name == "GLOBEX CORPORATION"
    assert globex.counterparty_account == "021000089/4455667788"
    assert globex.customer_reference == "0000010234" and globex.bank_reference == "001-001"
    assert globex.structured_references == ["INV-2024-0101", "INV-2024-0117"]
    assert globex.position == 4 and globex.source_format == "lockbox"
    assert initech.amount == Decimal("49.99") and initech.structured_references == []
    assert umbrella.amount == Decimal("30500.75") and umbrella.bank_reference == "002-001"

    doc_globex, doc_umbrella = result.remittances  # a check without invoice detail has no document
    assert (doc_globex.payer_name, doc_globex.payment_reference, doc_globex.total_amount) == (
        "GLOBEX CORPORATION",
        "0000010234",
        Decimal("1250.00"),
    )
    assert doc_globex.payment_date == dt.date(2024, 3, 12)  # the check date when the bank captured it
    first, second = doc_globex.lines
    assert (first.invoice_reference, first.paid_amount, first.invoice_amount, first.discount_amount) == (
        "INV-2024-0101",
        Decimal("1000.00"),
        Decimal("1000.00"),
        None,
    )
    assert (second.invoice_reference, second.paid_amount, second.invoice_amount, second.discount_amount) == (
        "INV-2024-0117",
        Decimal("250.00"),
        Decimal("255.00"),
        Decimal("5.00"),
    )
    assert doc_umbrella.lines[0].paid_amount == Decimal("30500.75") and doc_umbrella.lines[0].position == 11
    assert not result.warnings


@pytest.mark.parametrize(
    ("change", "message", "line"),
    [
        (("700199900123452403150020000129999", "700199900123452403150020000129998"), "batch total", 8),
        (
            ("8999999001234524031500030003180074", "8999999001234524031500020003180074"),
            "lockbox number of checks",
            13,
        ),
        (("9000014", "9000015"), "record count", 14),
        (("40010014029INV", "40010014039INV"), "overflow sequence 3 after 1", 6),
        (("6001002000000499901", "6001002000000499X01"), "check amount", 7),
    ],
)
def test_totals_and_fields_are_checked(change, message, line):
    with pytest.raises(ParseError, match=message) as caught:
        parse_lockbox(SAMPLE.replace(*change).encode(), "lbx.txt")
    assert caught.value.line == line


def test_truncated_file_is_refused():
    cut = SAMPLE[: SAMPLE.index("50020000012345")]
    with pytest.raises(ParseError, match="without its type 9 trailer"):
        parse_lockbox(cut.encode(), "cut.txt")


def test_short_payment_is_warned():
    short = SAMPLE.replace(
        "40020014019INV-2024-0200  00030500750003050075", "40020014019INV-2024-0200  00030000000003050075"
    )
    result = parse_lockbox(short.encode(), "lbx.txt")
    assert any("0000500001 is 30500.75 but its invoices add up to 30000.00" in w for w in result.warnings)
