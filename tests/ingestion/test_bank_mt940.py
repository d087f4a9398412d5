"""MT940/MT942: concrete values from the public samples and from statements written the way German,
Dutch and Polish banks write them (SWIFT envelopes, ?-subfields, cp1252, CR-only lines)."""

from __future__ import annotations

import codecs
import datetime as dt
from decimal import Decimal

import pytest

from ingestion.bank.mt94x import parse_mt94x
from ingestion.normalized import ParseError
from ingestion.parsing import detect_format, parse_file, reconcile

MT = "mt940_wolph/mt940_tests"

# A Sparkasse-style statement inside a SWIFT envelope: SEPA keys inside ?20-?29, a name with an umlaut,
# a reversal, an entry date in the next year, and a second statement with :60M:/:62M:.
GERMAN = """{1:F01SPKADE2HAXXX0000000000}{2:O9401200240102SPKADE2HAXXX00000000002401021200N}{3:{108:ABC}}{4:
:20:STARTUMSE
:25:10050000/0123456789
:28C:00001/001
:60F:C231229EUR1000,00
:61:2312290102CR1500,00NTRFNONREF//BANKREF-1
/OCMT/EUR1500,00/
:86:166?00SEPA-GUTSCHRIFT?109310?20EREF+E2E-4711?21KREF+KUNDE-42
?22SVWZ+RE 2023-1001 RE 2023-?231002?24ABWA+Müller Handels GmbH
?30DEUTDEFFXXX?31DE02100500000054540402?32MUELLER GMBH
:61:231229DR200,00NMSCNONREF
:86:805?00ENTGELT?20Kontofuehrung Dezember
:61:231229RC50,00NRTINONREF
:86:159?00RUECKUEBERWEISUNG?20EREF+NOTPROVIDED?21SVWZ+Storno
:62F:C240102EUR2250,00
-}{5:{CHK:123456789ABC}}
{1:F01SPKADE2HAXXX0000000000}{2:O9401200240103SPKADE2HAXXX00000000002401031200N}{4:
:20:STARTUMSE
:25:10050000/0123456789
:28C:00002/001
:60M:C240102EUR2250,00
:61:240103C10.50NTRFREF-7
:86:/EREF/ING-E2E-9//CNTP/NL91ABNA0417164300/ABNANL2A/Jansen BV/Amsterdam//REMI/USTD//FACTUUR 2024-17/
:62M:C240103EUR2260,50
-}
"""


def test_german_sepa_statement_in_swift_envelope():
    result = parse_mt94x(GERMAN.encode("utf-8"), "spk.sta")
    assert result.source_format == "mt940"
    credit, fee, reversal, dutch = result.transactions
    assert credit.amount == Decimal("1500.00") and credit.currency == "EUR" and credit.credit_debit == "CRDT"
    assert credit.value_date == dt.date(2023, 12, 29) and credit.booking_date == dt.date(2024, 1, 2)
    assert credit.end_to_end_id == "E2E-4711" and credit.customer_reference == "KUNDE-42"
    assert credit.remittance_text == "RE 2023-1001 RE 2023-1002"
    assert credit.counterparty_name == "Müller Handels GmbH"  # ABWA: the ultimate payer
    assert credit.counterparty_account == "DE02100500000054540402"
    assert credit.bank_reference == "BANKREF-1" and credit.transaction_code == "166"
    assert credit.account == "10050000/0123456789" and credit.bank == "10050000"
    assert credit.position == 6  # the :61: line
    assert fee.amount == Decimal("-200.00") and fee.remittance_text == "Kontofuehrung Dezember"
    assert reversal.is_reversal and reversal.amount == Decimal("-50.00") and reversal.end_to_end_id is None
    assert dutch.amount == Decimal("10.50") and dutch.customer_reference == "REF-7"
    assert dutch.counterparty_name == "Jansen BV" and dutch.counterparty_account == "NL91ABNA0417164300"
    assert dutch.end_to_end_id == "ING-E2E-9" and dutch.remittance_text == "FACTUUR 2024-17"
    assert [(b.opening_balance, b.movements_total, b.closing_balance) for b in result.balances] == [
        (Decimal("1000.00"), Decimal("1250.00"), Decimal("2250.00")),
        (Decimal("2250.00"), Decimal("10.50"), Decimal("2260.50")),
    ]
    assert all(reconcile(b) is None for b in result.balances)
    assert result.balances[0].statement_id == "STARTUMSE/00001/001"


def test_cp1252_file_decodes_with_a_warning(tmp_path):
    path = tmp_path / "latin.sta"
    path.write_bytes(GERMAN.encode("cp1252"))
    result = parse_file(path)
    assert result.transactions[0].counterparty_name == "Müller Handels GmbH"
    assert any("cp1252" in w and "latin.sta" in w for w in result.warnings)


@pytest.mark.parametrize("ending", ["\r", "\r\n", "\n"], ids=["CR", "CRLF", "LF"])
def test_line_endings_and_no_final_newline(ending):
    data = GERMAN.strip().replace("\n", ending).encode()
    result = parse_mt94x(data, "x.sta")
    assert [t.amount for t in result.transactions] == [
        Decimal("1500.00"),
        Decimal("-200.00"),
        Decimal("-50.00"),
        Decimal("10.50"),
    ]


def test_utf8_bom():
    result = parse_mt94x(codecs.BOM_UTF8 + GERMAN.encode(), "bom.sta")
    assert len(result.transactions) == 4 and not result.warnings


def test_truncated_statement_is_refused():
    cut = GERMAN[: GERMAN.index(":62F:")]
    with pytest.raises(ParseError, match="no closing :62F:/:62M: \\(truncated"):
        parse_mt94x(cut.encode(), "cut.sta")
    damaged = GERMAN.replace(":61:231229DR200,00NMSCNONREF", ":61:2312")
    with pytest.raises(ParseError, match=":61: '2312' is not") as caught:
        parse_mt94x(damaged.encode(), "damaged.sta")
    assert caught.value.line == 11


def test_fragment_without_20_is_refused():
    with pytest.raises(ParseError, match="before any :20:"):
        parse_mt94x(b":61:1409010902DR1,62NTRFNONREF\n:86:text\n", "frag.sta")


def test_cmxl_statement_details_subfields():
    # cmxl/statement_details.sta is one :61:/:86: pair; wrapped into a statement it must read fully.
    body = (
        ":61:1409010902DR000000000001,62NTRF0000549855700010//025498557/000001\n"
        ":86:171?00SEPA LASTSCHRIFT KUNDE?10281?20EREF+TRX-0A4A47C3-F846-4729?21-8A1B-5DF620F?22MREF+CAC97"
        "D2144174318AC18D9?23BF815BD4FB?24CRED+DE98ZZZ09999999999?25SVWZ+FOO TRX-0A4A47C3-F84?266-4729-8A1B-"
        "5DF620F?30HYVEDEMMXXX?31HUkkbbbsssskcccccccccccccccx?32Peter Pan?34171\n"
    )
    data = f":20:X\n:25:ACC\n:60F:C140901EUR10,00\n{body}:62F:C140902EUR8,38\n".encode()
    (tx,) = parse_mt94x(data, "d.sta").transactions
    assert tx.end_to_end_id == "TRX-0A4A47C3-F846-4729-8A1B-5DF620F"
    assert tx.structured_references == ["CAC97D2144174318AC18D9BF815BD4FB"]
    assert tx.remittance_text == "FOO TRX-0A4A47C3-F846-4729-8A1B-5DF620F"
    assert tx.counterparty_name == "Peter Pan" and tx.amount == Decimal("-1.62")
    assert tx.customer_reference == "0000549855700010" and tx.bank_reference == "025498557/000001"


def test_sepa_mt9401_sample(bank_fixtures):
    result = parse_file(bank_fixtures / MT / "betterplace/sepa_mt9401.sta")
    assert len(result.transactions) == 97 and len(result.balances) == 26
    assert all(reconcile(b) is None for b in result.balances)
    first = result.transactions[0]
    assert first.account == "50880050/0194774600888" and first.statement_id == "T089413946000001/00004/00001"
    assert first.amount == Decimal("300") and first.value_date == dt.date(2007, 9, 4)
    assert first.end_to_end_id == "TFNR 40005 00005" and first.customer_reference == "TFNr 40005 MSGID"
    assert first.bank_reference == "0724710345313905" and first.transaction_code == "159"


def test_asnb_swift_envelope_and_blank_entry_date(bank_fixtures):
    plain = parse_file(bank_fixtures / MT / "ASNB/mt940.txt")
    spaced = parse_file(bank_fixtures / MT / "ASNB/mt940_with_spaces_for_entry_date.txt")
    assert len(plain.balances) == 31 and all(reconcile(b) is None for b in plain.balances)
    assert [t.amount for t in spaced.transactions] == [t.amount for t in plain.transactions]
    first = spaced.transactions[0]
    assert (first.amount, first.value_date, first.transaction_code) == (
        Decimal("-65.00"),
        dt.date(2020, 1, 1),
        "NOVB",
    )
    assert first.customer_reference == "NL47INGB9999999999"
    assert first.remittance_text == "NL47INGB9999999999 hr gjlm paulissen Betaling sieraden"


def test_mt942_totals_and_format(bank_fixtures):
    path = bank_fixtures / MT / "mBank/mt942.sta"
    assert detect_format(path.read_bytes(), path.name) == "mt942"
    result = parse_file(path)
    assert result.source_format == "mt942" and not result.balances
    assert [t.amount for t in result.transactions] == [Decimal("0.01")] * 3
    assert result.transactions[0].bank_reference == "MB170119012058"
    assert "TNR: 179171073864111.010001" in result.transactions[0].remittance_text
    assert not [w for w in result.warnings if "90C" in w]  # :90C: 3 items of 0,03 agrees
    mismatch = parse_file(bank_fixtures / MT / "self-provided/mt942.sta")
    assert any(":90D: says 1 items of 2.30" in w for w in mismatch.warnings)


def test_february_30_and_missing_balance_currency(bank_fixtures):
    feb = parse_file(bank_fixtures / MT / "self-provided/february_30.sta")
    (tx,) = feb.transactions
    assert tx.value_date == dt.date(2016, 2, 29) and tx.booking_date == dt.date(2016, 3, 1)
    assert any("does not exist" in w for w in feb.warnings)
    assert reconcile(feb.balances[0]) is None
    raphaelm = parse_file(bank_fixtures / MT / "self-provided/raphaelm.sta")
    assert [b.closing_balance for b in raphaelm.balances] == [
        Decimal("105000.00"),
        Decimal("145000.00"),
        raphaelm.balances[2].closing_balance,
    ]
    assert all(reconcile(b) is None for b in raphaelm.balances)


def test_rabobank_slash_tags_via_mt940_package(bank_fixtures):
    result = parse_file(bank_fixtures / MT / "jejik/rabobank-iban.sta")
    first, second = result.transactions[:2]
    assert first.end_to_end_id == "01-01-2013 12:00 0030000987654321"
    assert first.counterparty_name == "CONTRA ACCOUNT HOLDER"
    assert second.counterparty_name == "JOHN DOE" and second.remittance_text == "Reference 201301234"


def test_triodos_angle_bracket_subfields(bank_fixtures):
    result = parse_file(bank_fixtures / MT / "jejik/triodos.sta")
    assert result.transactions[0].remittance_text == (
        "ALGEMENE TUSSENREKENING KOSTEN VAN 01-10-2010 TOT EN MET 31-12-2010"
    )
    assert result.transactions[0].counterparty_account == "0390123456"


def test_identity_is_stable_across_redelivery_and_distinct_within_a_file():
    first = parse_mt94x(GERMAN.encode(), "a.sta").transactions
    again = parse_mt94x(GERMAN.replace("\n", "\r\n").encode("cp1252"), "b.sta").transactions
    assert [t.identity() for t in first] == [t.identity() for t in again]
    assert len({t.identity() for t in first}) == len(first)


def test_abn_amro_slash_tags_and_free_text():
    body = (
        ":61:240105C99,95NTRFNONREF\n"
        ":86:/TRTP/SEPA OVERBOEKING/IBAN/NL44RABO0123456789/BIC/RABONL2U/NAME/J JANSEN\n"
        "/REMI/FACTUUR 2024-123/EREF/E2E-5\n"
        ":61:240105D5,NMSCNONREF\n"
        ":86:BEA   NR:XXX1234   05.01.24/12.54 KIOSK\n"
    )
    data = f":20:ABN\n:25:517852257\n:60F:C240104EUR0,00\n{body}:62F:C240105EUR94,95\n".encode()
    sepa, card = parse_mt94x(data, "abn.sta").transactions
    assert (sepa.counterparty_name, sepa.counterparty_account) == ("J JANSEN", "NL44RABO0123456789")
    assert (sepa.remittance_text, sepa.end_to_end_id) == ("FACTUUR 2024-123", "E2E-5")
    assert card.amount == Decimal("-5") and card.remittance_text == "BEA NR:XXX1234 05.01.24/12.54 KIOSK"
