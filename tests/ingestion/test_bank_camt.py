"""camt.052/053/054: concrete values from the genkgo samples, their JSON expectations, batch bookings,
and the XML attacks a file from outside may carry."""

from __future__ import annotations

import codecs
import datetime as dt
import json
import time
from decimal import Decimal
from pathlib import Path

import pytest

from ingestion.bank.camt import parse_camt
from ingestion.bank.common import minor_units
from ingestion.normalized import ParseError
from ingestion.parsing import parse_file, reconcile

CAMT_DIR = "camt_genkgo/test/data"

BATCH_053 = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">
 <BkToCstmrStmt>
  <GrpHdr><MsgId>M1</MsgId><CreDtTm>2024-03-01T18:00:00+01:00</CreDtTm></GrpHdr>
  <Stmt>
   <Id>STMT-2024-03-01</Id>
   <Acct><Id><IBAN>DE89370400440532013000</IBAN></Id><Ccy>EUR</Ccy>
     <Svcr><FinInstnId><BICFI>COBADEFFXXX</BICFI></FinInstnId></Svcr></Acct>
   <Bal><Tp><CdOrPrtry><Cd>PRCD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">1000.00</Amt>
     <CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2024-02-29</Dt></Dt></Bal>
   <Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">1725.50</Amt>
     <CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2024-03-01</Dt></Dt></Bal>
   <Ntry>
    <Amt Ccy="EUR">750.50</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>
    <BookgDt><DtTm>2024-03-01T23:30:00+01:00</DtTm></BookgDt><ValDt><Dt>2024-03-01</Dt></ValDt>
    <AcctSvcrRef>BATCH-77</AcctSvcrRef>
    <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>
    <NtryDtls>
     <TxDtls>
      <Refs><EndToEndId>E2E-INV-1001</EndToEndId></Refs>
      <Amt Ccy="EUR">500.00</Amt><CdtDbtInd>CRDT</CdtDbtInd>
      <RltdPties><Dbtr><Pty><Nm>Acme GmbH</Nm></Pty></Dbtr>
        <DbtrAcct><Id><IBAN>FR7630006000011234567890189</IBAN></Id></DbtrAcct>
        <UltmtDbtr><Pty><Nm>Acme Retail SAS</Nm></Pty></UltmtDbtr></RltdPties>
      <RmtInf><Strd><RfrdDocInf><Nb>INV-1001</Nb></RfrdDocInf>
        <CdtrRefInf><Ref>RF18539007547034</Ref></CdtrRefInf></Strd></RmtInf>
     </TxDtls>
     <TxDtls>
      <Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs>
      <AmtDtls><TxAmt><Amt Ccy="EUR">250.50</Amt></TxAmt></AmtDtls>
      <RltdPties><Dbtr><Pty><Nm>Beta BV</Nm></Pty></Dbtr></RltdPties>
      <RmtInf><Ustrd>INV-1002 INV-1003</Ustrd><Ustrd>thanks</Ustrd></RmtInf>
     </TxDtls>
    </NtryDtls>
   </Ntry>
   <Ntry>
    <Amt Ccy="EUR">25.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><RvslInd>true</RvslInd><Sts><Cd>BOOK</Cd></Sts>
    <BookgDt><Dt>2024-03-01</Dt></BookgDt><ValDt><Dt>2024-03-01</Dt></ValDt>
    <AcctSvcrRef>RVSL-9</AcctSvcrRef>
    <NtryDtls><TxDtls><RltdPties><Cdtr><Nm>Gamma Ltd</Nm></Cdtr></RltdPties>
      <RmtInf><Ustrd>return of INV-0999</Ustrd></RmtInf></TxDtls></NtryDtls>
   </Ntry>
   <Ntry>
    <Amt Ccy="EUR">99.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>PDNG</Cd></Sts>
   </Ntry>
  </Stmt>
 </BkToCstmrStmt>
</Document>
"""


def _sample(bank_fixtures: Path, name: str) -> Path:
    return bank_fixtures / CAMT_DIR / name


def test_batch_booking_gives_one_transaction_per_detail():
    result = parse_camt(BATCH_053.encode(), "batch.xml")
    assert result.source_format == "camt.053"
    first, second, reversal = result.transactions
    assert (first.amount, second.amount, reversal.amount) == (
        Decimal("500.00"),
        Decimal("250.50"),
        Decimal("-25.00"),
    )
    assert first.account == "DE89370400440532013000" and first.bank == "COBADEFFXXX"
    assert first.booking_date == dt.date(2024, 3, 1)  # the bank's local date, not shifted to UTC
    assert first.end_to_end_id == "E2E-INV-1001"
    assert first.counterparty_name == "Acme Retail SAS"  # ultimate debtor preferred
    assert first.counterparty_account == "FR7630006000011234567890189"
    assert first.structured_references == ["RF18539007547034", "INV-1001"]
    assert first.bank_reference == "BATCH-77" and first.transaction_code == "PMNT-RCDT-ESCT"
    assert second.remittance_text == "INV-1002 INV-1003 thanks"
    assert second.counterparty_name == "Beta BV"
    assert (
        reversal.is_reversal and reversal.credit_debit == "DBIT" and reversal.counterparty_name == "Gamma Ltd"
    )
    assert any("PDNG" in w for w in result.warnings)  # pending entry reported, not booked
    (balance,) = result.balances
    assert (balance.opening_balance, balance.movements_total, balance.closing_balance) == (
        Decimal("1000.00"),
        Decimal("725.50"),
        Decimal("1725.50"),
    )
    assert reconcile(balance) is None


def test_reconcile_reports_the_difference():
    broken = BATCH_053.replace("1725.50", "1725.00").encode()
    (balance,) = parse_camt(broken, "b.xml").balances
    message = reconcile(balance)
    assert "1725.00" in message and "difference -0.50" in message


def test_camt054_v2_three_details_without_amounts_stay_one_movement(bank_fixtures):
    result = parse_file(_sample(bank_fixtures, "camt054.v2.xml"))
    (tx,) = result.transactions
    assert tx.source_format == "camt.054"
    assert (tx.amount, tx.currency, tx.credit_debit) == (Decimal("-200000"), "SEK", "DBIT")
    assert tx.account == "CH2801234000123456789"
    assert tx.booking_date == dt.date(2007, 10, 18) and tx.value_date == dt.date(2007, 10, 18)
    assert tx.end_to_end_id == "MUELL/FINP/RA12345"
    assert tx.bank_reference == "AAAASESS-FP-ACCR001"
    assert tx.structured_references == [
        "ISR ref number V1",
        "ISR ref number V2",
        "Ref number V3 block 1",
        "Ref number V3 block 2",
    ]
    assert tx.transaction_code == "PMNT-ICDT-DMCT"


def test_camt053_multi_statement(bank_fixtures):
    result = parse_file(_sample(bank_fixtures, "camt053.v2.multi.statement.xml"))
    assert [t.amount for t in result.transactions] == [Decimal("8.85"), Decimal("-7.00")]
    assert [t.end_to_end_id for t in result.transactions] == ["000000001", "000000002"]
    assert [(b.opening_balance, b.closing_balance) for b in result.balances] == [
        (Decimal("18.15"), Decimal("27.00")),
        (Decimal("27.00"), Decimal("20.00")),
    ]
    assert all(reconcile(b) is None for b in result.balances)


def test_camt052_v1_and_only_dttm(bank_fixtures):
    v1 = parse_file(_sample(bank_fixtures, "camt052.v1.xml"))
    assert v1.source_format == "camt.052"
    assert v1.transactions[0].account == "CH2801234000123456789"
    only = parse_file(_sample(bank_fixtures, "camt53.only-Dt-with-DtTm.xml"))
    (balance,) = only.balances
    assert balance.opening_balance == Decimal("5442.09000") and balance.currency == "RON"
    assert balance.opening_date == dt.date(2025, 7, 23) and balance.closing_balance is None


def _json_pairs(bank_fixtures: Path):
    folder = bank_fixtures / CAMT_DIR
    return sorted(
        (x, x.with_suffix(".json")) for x in folder.glob("*.xml") if x.with_suffix(".json").exists()
    )


def test_booked_entries_match_genkgo_expectations(bank_fixtures):
    """The .json beside each sample is genkgo/camt's own reading; ours must agree entry by entry."""
    pairs = _json_pairs(bank_fixtures)
    assert len(pairs) >= 20
    for xml, expected_json in pairs:
        expected = json.loads(expected_json.read_text())
        entries = [e for e in expected["getEntries"] if e.get("getStatus") in (None, "BOOK")]
        result = parse_file(xml)
        mine = result.transactions
        if len(result.balances) > 1:  # genkgo's dump lists the entries of the last statement only
            mine = mine[-len(entries) :]
        assert len(mine) == len(entries), xml.name
        for tx, entry in zip(mine, entries, strict=True):
            money = entry["getAmount"]
            currency = money["getCurrency"]["getCode"]
            assert tx.currency == currency, xml.name
            assert tx.amount == Decimal(money["getAmount"]).scaleb(-minor_units(currency)), xml.name
            assert tx.credit_debit == entry["getCreditDebitIndicator"], xml.name
            assert tx.is_reversal == bool(entry.get("getReversalIndicator")), xml.name
            if entry.get("getBookingDate"):
                assert tx.booking_date.isoformat() == entry["getBookingDate"]["0"][:10], xml.name
            if entry.get("getAccountServicerReference"):
                assert tx.bank_reference == entry["getAccountServicerReference"], xml.name
            record = entry["getRecord"]
            assert tx.statement_id == record["getId"], xml.name
            assert tx.account == record["getAccount"]["getIdentification"], xml.name


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE Document [
 <!ENTITY a "lolololololololololololololololololololololol">
 <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
 <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
 <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
 <!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">
 <!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">
 <!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">
]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt><Stmt><Id>&g;</Id>
</Stmt></BkToCstmrStmt></Document>
"""


def test_billion_laughs_is_refused_fast(tmp_path):
    path = tmp_path / "laughs.xml"
    path.write_bytes(BILLION_LAUGHS)
    start = time.perf_counter()
    with pytest.raises(ParseError, match="DOCTYPE"):
        parse_file(path)
    assert time.perf_counter() - start < 1.0


def test_external_entity_is_refused_and_never_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    xxe = (
        f'<?xml version="1.0"?>\n<!DOCTYPE Document [<!ENTITY x SYSTEM "file://{secret}">]>\n'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt><Stmt>'
        "<Id>&x;</Id></Stmt></BkToCstmrStmt></Document>"
    ).encode()
    with pytest.raises(ParseError, match="DOCTYPE") as caught:
        parse_camt(xxe, "xxe.xml")
    assert "TOP-SECRET" not in str(caught.value)


def test_doctype_in_utf16_is_refused_too():
    data = codecs.BOM_UTF16_LE + BILLION_LAUGHS.replace(
        b'<?xml version="1.0"?>', b'<?xml version="1.0" encoding="UTF-16"?>'
    ).decode().encode("utf-16-le")
    start = time.perf_counter()
    with pytest.raises(ParseError):
        parse_camt(data, "laughs16.xml")
    assert time.perf_counter() - start < 1.0


def test_truncated_camt_names_the_line(tmp_path):
    path = tmp_path / "cut.xml"
    path.write_bytes(BATCH_053.encode()[:1500])
    with pytest.raises(ParseError, match="not well-formed") as caught:
        parse_file(path)
    assert caught.value.line is not None and "cut.xml" in caught.value.reason


def test_bom_and_crlf_camt(tmp_path):
    path = tmp_path / "bom.xml"
    path.write_bytes(codecs.BOM_UTF8 + BATCH_053.replace("\n", "\r\n").encode())
    result = parse_file(path)
    assert len(result.transactions) == 3 and reconcile(result.balances[0]) is None
