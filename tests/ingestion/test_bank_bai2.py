"""BAI2: the venturehacks samples (the variants the bai2 package refuses) and a multi-group file."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from ingestion.bank.bai import parse_bai2
from ingestion.normalized import ParseError
from ingestion.parsing import detect_format, parse_file, reconcile

BAI = "bai2_venturehacks/test/data"

# Two groups, a USD account with opening/closing ledger, a JPY account (no implied decimals), a debit,
# an 88-continued summary, a value-dated credit and a text with a slash and no terminator.
MULTI = """01,021000021,ACME,240315,0600,FILE42,,,2/
02,ACME,021000021,1,240314,2400,USD,2/
03,000111222,USD,010,150000,,,015,+270000,,/
88,040,100000,,/
16,165,125000,1,BR-1,CHK-88,PREAUTH ACH CREDIT INV-9/2024
88,INVOICE 77 AND 78
16,475,5000,0,BR-2,,CHECK PAID/
49,650000,6/
03,000333444,JPY,010,-5000,,,015,15000,,/
16,195,20000,V,240315,1200,FED-1,,WIRE/
88,ORG:=TOKYO TRADING KK
49,30000,4/
98,680000,2,12/
02,ACME,021000021,1,240315,,USD,2/
03,000111222,USD,,,,/
16,699,100,Z,BR-3,,FEE/
49,100,3/
98,100,1,5/
99,680100,2,19/
"""


def test_multi_group_file():
    result = parse_bai2(MULTI.encode(), "multi.bai")
    ach, check, wire, fee = result.transactions
    assert (ach.amount, ach.currency, ach.credit_debit) == (Decimal("1250.00"), "USD", "CRDT")
    assert ach.remittance_text == "PREAUTH ACH CREDIT INV-9/2024\nINVOICE 77 AND 78"
    assert (
        ach.bank_reference == "BR-1" and ach.customer_reference == "CHK-88" and ach.transaction_code == "165"
    )
    assert ach.booking_date == dt.date(2024, 3, 14) and ach.bank == "021000021" and ach.position == 5
    assert ach.statement_id == "FILE42/2024-03-14"
    assert (check.amount, check.credit_debit, check.remittance_text) == (
        Decimal("-50.00"),
        "DBIT",
        "CHECK PAID",
    )
    assert (wire.amount, wire.currency) == (Decimal("20000"), "JPY")  # JPY: no implied decimals
    assert wire.value_date == dt.date(2024, 3, 15) and wire.counterparty_name == "TOKYO TRADING KK"
    assert fee.amount == Decimal("-1.00") and fee.booking_date == dt.date(2024, 3, 15)
    usd, jpy = result.balances
    assert (usd.opening_balance, usd.movements_total, usd.closing_balance) == (
        Decimal("1500.00"),
        Decimal("1200.00"),
        Decimal("2700.00"),
    )
    assert reconcile(usd) is None
    assert (jpy.opening_balance, jpy.closing_balance) == (Decimal("-5000"), Decimal("15000"))
    assert reconcile(jpy) is None
    assert not result.warnings  # record counts in 49/98/99 agree


def test_wrong_record_count_is_only_warned():
    result = parse_bai2(MULTI.replace("49,650000,6/", "49,650000,9/").encode(), "count.bai")
    assert result.warnings == ["count.bai: line 8: 49 says 9 records, the account has 6"]


def test_eod_wire_with_88_remittance(bank_fixtures):
    (tx,) = parse_file(bank_fixtures / BAI / "eod.bai2").transactions
    assert (tx.amount, tx.currency, tx.credit_debit, tx.transaction_code) == (
        Decimal("83259.82"),
        "USD",
        "CRDT",
        "195",
    )
    assert tx.account == "3333333333" and tx.booking_date == dt.date(2010, 8, 31)
    assert tx.counterparty_name == "OPTIONS LINK WIRE CLEARING"
    assert tx.remittance_text.splitlines()[-1] == "OBI:=INVOICE 123456"


def test_slash_in_text_and_missing_as_of_time(bank_fixtures):
    (slash,) = parse_file(bank_fixtures / BAI / "eod_with_slash_in_text.bai2").transactions
    assert "ORG ADDRESS:=2/AV MAIN 2/AVENUE DE ANGELLIST 3/MX\n/MEXICO ;" in slash.remittance_text
    (no_time,) = parse_file(bank_fixtures / BAI / "eod_without_as_of_time.bai2").transactions
    assert no_time.amount == Decimal("83259.82") and no_time.booking_date == dt.date(2010, 8, 31)


def test_summary_continuation_and_fixture_balance(bank_fixtures):
    result = parse_file(bank_fixtures / BAI / "daily_with_summary.bai2")
    (tx,) = result.transactions
    assert tx.amount == Decimal("250.01") and tx.customer_reference == "50848"
    assert tx.remittance_text == "SAMPLE CONTINUATION TEXT"
    (balance,) = result.balances
    # The sample states opening 0 and closing 0 around its own 250.01 credit: reconcile says so.
    assert (balance.opening_balance, balance.closing_balance) == (Decimal("0.00"), Decimal("0.00"))
    assert "difference -250.01" in reconcile(balance)


def test_control_total_mismatch_is_refused(bank_fixtures):
    with pytest.raises(ParseError, match="49 control total 8325983 but .* 8325982") as caught:
        parse_file(bank_fixtures / BAI / "invalid_checksum_eod.bai2")
    assert caught.value.line == 15


def test_truncated_and_unknown_records():
    with pytest.raises(ParseError, match="without its 99 file trailer"):
        parse_bai2(MULTI[: MULTI.index("98,680000")].encode(), "cut.bai")
    with pytest.raises(ParseError, match="type code 950 says neither credit nor debit"):
        parse_bai2(MULTI.replace("16,699,100", "16,950,100").encode(), "odd.bai")
    with pytest.raises(ParseError, match="'17' is not a BAI2 record"):
        parse_bai2(MULTI.replace("16,699", "17,699").encode(), "odd.bai")


def test_crlf_bom_and_detection():
    data = b"\xef\xbb\xbf" + MULTI.replace("\n", "\r\n").encode()
    assert detect_format(data, "x.txt") == "bai2"
    assert len(parse_bai2(data, "x").transactions) == 4
