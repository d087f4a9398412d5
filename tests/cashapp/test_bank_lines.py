"""What the bank files really carry: BAI2 payers named only in the 88 text, and credits that are no
customer payment (lockbox deposit totals, sweeps, interest, transfers between our own accounts)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ingestion.normalized import BankTransaction
from ingestion.parsing import parse_file
from ml.cashapp.engine import AUTO, check_conservation
from ml.cashapp.intake import bank_text_fields, payer_of, payment_of
from tests.cashapp.builders import engine, inv

# A BAI2 day as First Continental sends it (from a simulated world): an ACH credit whose payer is in
# the ORIG CO NAME / ORIG ID fields, the day's lockbox deposit total, and a ZBA sweep.
BAI2 = """01,062787727,NORTHSTAR1,241223,0530,34,,,2/
02,NORTHSTAR1,062787727,1,241220,2400,USD,2/
03,93742731767,USD,010,318445016,,,015,323968077,,,100,5523061,3,,400,0,0,/
16,165,22825,0,FC24122000121,114148520000170,ACH CREDIT/
88,ORIG CO NAME:=HIGHLAND BROTHER
88,ORIG ID:=1241842601
88,CO ENTRY DESCR:=PAYMENT
88,SEC:=CCD
88,IND NAME:=NORTHSTAR INDUSTRIAL S
88,ADDENDA:=INV-100020
16,115,5438222,0,FC24122000122,0622881,LOCKBOX DEPOSIT/
88,LOCKBOX:=0622881 ITEMS:=1
16,275,62014,0,FC24122000123,,ZBA CREDIT/
88,ZBA TRANSFER FROM 9441
49,653459215,13/
98,653459215,1,15/
99,653459215,1,17/
"""
HIGHLAND = {
    "customer_id": "C000193",
    "customer_name": "Highland Brothers Corp.",
    "parent_customer_id": None,
    "currency": "USD",
    "bank_account": None,
}
DAY = dt.date(2024, 12, 20)


def test_a_bai2_ach_payer_is_read_from_the_88_text_and_bank_totals_are_set_aside(tmp_path):
    path = tmp_path / "BAI2_1767_20241220.bai"
    path.write_text(BAI2)
    txns = parse_file(path).transactions
    assert [t.transaction_code for t in txns] == ["165", "115", "275"]
    ach = txns[0]
    assert ach.counterparty_name is None  # the parser leaves it in the text
    assert payer_of(ach) == ("HIGHLAND BROTHER", "1241842601")
    p = payment_of(ach)
    # our own name (IND NAME) and the originator id are route, not references
    assert "NORTHSTAR" not in p.text and "1241842601" not in p.text and "INV-100020" in p.text

    items = [
        inv("INV-100020", "C000193", "228.25", issued=DAY - dt.timedelta(days=40)),
        inv("INV-100021", "C000193", "540.00", issued=DAY - dt.timedelta(days=35)),
    ]
    res = engine(items, master=[HIGHLAND]).run(txns)
    check_conservation(res)
    assert res.payments.transaction_id.tolist() == [ach.identity()]
    assert res.skipped.reason.tolist() == ["transaction_code_115", "transaction_code_275"]
    assert res.payments.status.tolist() == [AUTO]
    a = res.applications.iloc[0]
    assert (a.customer_id, a.item_id, a.applied_amount) == ("C000193", "INV-100020", Decimal("228.25"))
    assert "C000193" in a.evidence


def _camt(amount: str, *, account: str, name: str | None, counterparty: str | None, ref: str):
    return BankTransaction(
        "camt.053",
        account,
        None,
        "S1",
        DAY,
        DAY,
        Decimal(amount),
        "EUR",
        "CRDT",
        counterparty_name=name,
        counterparty_account=counterparty,
        bank_reference=ref,
        transaction_code="PMNT-RCDT-ESCT",
    )


def test_transfers_from_our_own_accounts_or_name_are_not_customer_payments():
    ours_a, ours_b = "FR7674852939679371250831107", "GB18NWBK88795311501760"
    sweep = _camt("4070.22", account=ours_a, name=None, counterparty=ours_b, ref="A1")  # known by account
    funding = _camt(
        "1500000.00", account=ours_a, name="Northstar Industrial Supply", counterparty=None, ref="A2"
    )
    other_statement = _camt(
        "10.00", account=ours_b, name="SOMEONE", counterparty="DE02120300000000202051", ref="B1"
    )
    res = engine([inv("INV-1", "C000001", "4070.22")]).run([sweep, funding, other_statement])
    check_conservation(res)
    assert res.skipped.reason.tolist() == ["own_account_transfer", "own_account_transfer"]
    assert res.payments.amount.tolist() == [Decimal("10.00")]


def test_bank_text_fields_keep_what_the_payer_wrote():
    fields, rest = bank_text_fields("WIRE IN\nORG:=FALCON SYS CORP\nORG ID:=1367095560\nOBI:=PO PO-63334")
    assert fields["ORG"] == "FALCON SYS CORP" and fields["ORG ID"] == "1367095560"
    assert rest == "WIRE IN PO PO-63334"
    assert bank_text_fields("INV-100015 INV-100016") == ({}, "INV-100015 INV-100016")


WESTFIELD = {
    "customer_id": "C000129",
    "customer_name": "Westfield Services LLC",
    "parent_customer_id": None,
    "currency": "USD",
    "bank_account": None,
}
BIRCH = {
    "customer_id": "C000156",
    "customer_name": "Birch Hollow Supply Co.",
    "parent_customer_id": None,
    "currency": "USD",
    "bank_account": None,
}
PINE = {**BIRCH, "customer_id": "C000204", "customer_name": "Pine Ridge Tools Inc."}


def _card_settlement(amount: str, card_holder: str) -> BankTransaction:
    # A BAI2 card settlement as a simulated bank writes it: the processor is the originator and the
    # card holder the individual name.
    text = f"CARD SETTLEMENT\nORIG CO NAME:=PAYPORT MERCHANT SVC\nIND NAME:={card_holder}\nADDENDA:=INVOICE PAYMENT"
    return BankTransaction(
        "bai2",
        "894073459441",
        "100335251",
        "S1",
        DAY,
        None,
        Decimal(amount),
        "USD",
        "CRDT",
        remittance_text=text,
    )


def test_a_card_processors_name_is_no_payer_and_the_card_holder_is_tried():
    items = [
        inv("INV-108378", "C000129", "2013.28", issued=DAY - dt.timedelta(days=40)),
        inv("INV-108056", "C000156", "2013.28", issued=DAY - dt.timedelta(days=41)),
    ]
    eng = engine(items, master=[WESTFIELD, BIRCH, PINE])
    processor = payment_of(_card_settlement("1.00", "X")).name_norm
    assert payment_of(_card_settlement("1.00", "WESTFIELD SERVICES")).other_names == ("WESTFIELD SERVICES",)
    learned = dict(n_items=1, discount=False, partial=False, short=False, over=False, days_from_due=[0])
    # confirmed card payments of two unrelated customers under the processor's name
    eng.know.learn_payment(account=None, name="PAYPORT MERCHANT SVC", customer_ids=["C000156"], **learned)
    assert not eng.know.is_intermediary_name(processor)  # one payer so far: it may be its own name
    eng.know.learn_payment(account=None, name="PAYPORT MERCHANT SVC", customer_ids=["C000204"], **learned)
    assert eng.know.is_intermediary_name(processor)
    assert not eng.know.is_intermediary_name("westfield services llc")

    res = eng.run([_card_settlement("2013.28", "WESTFIELD SERVICES")])
    check_conservation(res)
    # the first customer the processor's name was learned for (Birch, same amount open) does not take it
    assert res.payments.customer_id.tolist() == ["C000129"]
    best = res.suggestions[res.suggestions["rank"] == 1]
    assert best.item_id.tolist() == ["INV-108378"]
