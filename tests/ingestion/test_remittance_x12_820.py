"""X12 820 remittance advices: separators from the ISA, ENT/RMR/ADX mapping, envelope checks, truncation."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from ingestion.normalized import ParseError
from ingestion.remittance.x12_820 import parse_x12_820, tokenize

ISA = "ISA*00*          *00*          *ZZ*ACMEPAYER      *ZZ*OPENARSELLER   *250314*1200*U*00401*000000123*0*P*>"


def interchange(*transaction_sets: list[str], isa: str = ISA) -> list[str]:
    """An ISA/GS/.../GE/IEA envelope around transaction sets (each given without ST/SE)."""
    segments = [isa, "GS*RA*ACMEPAYER*OPENARSELLER*20250314*1200*123*X*004010"]
    for n, body in enumerate(transaction_sets, start=1):
        control = f"{n:04d}"
        segments += [f"ST*820*{control}", *body, f"SE*{len(body) + 2}*{control}"]
    segments += [f"GE*{len(transaction_sets)}*123", "IEA*1*000000123"]
    return segments


PAYMENT = [
    "BPR*C*1709.87*C*ACH*CTX*01*021000021*DA*123456789*1234567890**01*031000053*DA*987654321*20250314",
    "TRN*1*PAY-778899*1234567890",
    "CUR*PR*USD",
    "DTM*097*20250313",
    "N1*PR*Acme Corp",
    "N1*PE*Openar Seller Inc",
    "ENT*1",
    "RMR*IV*INV-2025-000123**1209.87*1234.56*24.69",
    "DTM*003*20250201",
    "RMR*IV*INV-2025-000124**500*525",
    "ADX*-25*CS",
    "NTE*ADD*Damaged goods",
]


def check_payment(result) -> None:
    assert result.source_format == "x12-820"
    assert len(result.remittances) == 1
    doc = result.remittances[0]
    assert (doc.payer_name, doc.payment_reference, doc.payment_date, doc.total_amount, doc.currency) == (
        "Acme Corp",
        "PAY-778899",
        dt.date(2025, 3, 14),
        Decimal("1709.87"),
        "USD",
    )
    first, second = doc.lines
    assert (first.invoice_reference, first.paid_amount, first.invoice_amount, first.discount_amount) == (
        "INV-2025-000123",
        Decimal("1209.87"),
        Decimal("1234.56"),
        Decimal("24.69"),
    )
    assert first.deduction_amount is None and first.confidence == 1.0
    assert (
        second.invoice_reference,
        second.paid_amount,
        second.deduction_amount,
        second.deduction_reason,
    ) == (
        "INV-2025-000124",
        Decimal("500"),
        Decimal("25"),
        "CS - Damaged goods",
    )
    assert [ln.position for ln in doc.lines] == [1, 2]
    assert result.warnings == []


def test_tilde_terminators() -> None:
    data = "~".join(interchange(PAYMENT)) + "~"
    check_payment(parse_x12_820(data.encode(), "acme.edi"))


def test_tilde_terminators_followed_by_crlf() -> None:
    data = "~\r\n".join(interchange(PAYMENT)) + "~\r\n"
    check_payment(parse_x12_820(data.encode(), "acme.edi"))


def test_newline_terminators() -> None:
    data = "\n".join(interchange(PAYMENT)) + "\n"
    check_payment(parse_x12_820(data.encode(), "acme.edi"))


def test_crlf_terminators() -> None:
    # The character after ISA16 is CR: segments then start with the LF of the pair.
    data = "\r\n".join(interchange(PAYMENT)) + "\r\n"
    delims, segments = tokenize(data, "acme.edi")
    assert (delims.element, delims.component, delims.segment) == ("*", ">", "\r")
    assert [s.line for s in segments[:3]] == [1, 2, 3]
    check_payment(parse_x12_820(data.encode(), "acme.edi"))


def test_apostrophe_terminator_and_other_separators() -> None:
    isa = ISA.replace("*", "|")
    segments = [s.replace("*", "|") for s in interchange(PAYMENT, isa=ISA)]
    segments[0] = isa
    data = "'".join(segments) + "'"
    delims, _ = tokenize(data, "acme.edi")
    assert (delims.element, delims.segment) == ("|", "'")
    check_payment(parse_x12_820(data.encode(), "acme.edi"))


def test_multiple_ent_loops_go_into_one_payment_in_order() -> None:
    body = [
        "BPR*C*1000*C*ACH*CTX*01*021000021*DA*1*1**01*031000053*DA*2*20250320",
        "TRN*1*EFT-0001",
        "N1*PR*Globex Holdings",
        "ENT*1*2L*ZZ*DIVISION-EAST",
        "RMR*IV*INV-2025-000201**300*300",
        "RMR*IV*INV-2025-000202**200*200",
        "ENT*2*2L*ZZ*DIVISION-WEST",
        "RMR*IV*INV2025000301**450*450",
        "RMR*CM*CM-2025-000010**-50",
        "ENT*3",
        "RMR*IV*2025000999**100*100",
    ]
    result = parse_x12_820(("~".join(interchange(body)) + "~").encode(), "globex.820")
    doc = result.remittances[0]
    assert [(ln.invoice_reference, ln.paid_amount) for ln in doc.lines] == [
        ("INV-2025-000201", Decimal("300")),
        ("INV-2025-000202", Decimal("200")),
        ("INV2025000301", Decimal("450")),
        ("CM-2025-000010", Decimal("-50")),
        ("2025000999", Decimal("100")),
    ]
    assert doc.payment_date == dt.date(2025, 3, 20)
    assert doc.payment_reference == "EFT-0001"
    assert result.warnings == []


def test_adx_adjustments_in_and_outside_rmr_loops() -> None:
    body = [
        "BPR*C*865*C*CHK************20250321",
        "TRN*1*CHK-000981",
        "CUR*PR*CAD",
        "N1*PR*Initech Ltd",
        "ENT*1",
        # ENT-level adjustments: one names the payer's debit memo, one names nothing.
        "ADX*-40*DM*DM*DEBIT-MEMO-77",
        "ADX*-5*01",
        "RMR*IV*INV-2025-000400**700*760*10",
        "ADX*-30*RB",
        "NTE*ADD*Rebate agreement 2025",
        "ADX*-20*CS",
        "RMR*IV*INV-2025-000401**210*200",
        "ADX*10*IN",
    ]
    result = parse_x12_820(("~".join(interchange(body)) + "~").encode(), "initech.820")
    doc = result.remittances[0]
    assert doc.currency == "CAD"
    assert doc.payment_date == dt.date(2025, 3, 21)
    lines = {ln.invoice_reference: ln for ln in doc.lines}
    assert list(lines) == ["INV-2025-000400", "INV-2025-000401", "DEBIT-MEMO-77"]
    assert (lines["INV-2025-000400"].deduction_amount, lines["INV-2025-000400"].deduction_reason) == (
        Decimal("50"),
        "RB - Rebate agreement 2025; CS",
    )
    # A positive adjustment increases the payment: a negative deduction.
    assert lines["INV-2025-000401"].deduction_amount == Decimal("-10")
    assert (lines["DEBIT-MEMO-77"].paid_amount, lines["DEBIT-MEMO-77"].deduction_amount) == (
        Decimal("-40"),
        Decimal("40"),
    )
    # 700 + 210 - 40 - 5 = 865: the BPR reconciles, so only the unreferenced ADX is reported.
    assert len(result.warnings) == 1
    assert "adjustment -5 (reason 01) is tied to no invoice" in result.warnings[0]


def test_bpr_total_differing_from_lines_is_a_warning_not_an_error() -> None:
    body = [
        "BPR*C*999.99*C*ACH************20250314",
        "TRN*1*PAY-1",
        "ENT*1",
        "RMR*IV*INV-1**500*500",
        "RMR*IV*INV-2**400*410",
    ]
    result = parse_x12_820(("~".join(interchange(body)) + "~").encode(), "short.820")
    assert len(result.remittances[0].lines) == 2
    assert any(
        "BPR02 pays 999.99 but the RMR lines and adjustments add up to 900" in w for w in result.warnings
    )
    assert any(
        "invoice INV-2: 410 - discount 0 - deduction 0 = 410, but RMR04 says 400 was paid" in w
        for w in result.warnings
    )


def test_two_transaction_sets_and_a_foreign_one() -> None:
    second = [
        "BPR*C*50*C*ACH************20250315",
        "TRN*1*PAY-2",
        "N1*PR*Umbrella Corp",
        "ENT*1",
        "RMR*IV*INV-9**50",
    ]
    segments = interchange(PAYMENT, second)
    # An 824 inside the same group is not a remittance: skipped with a warning.
    segments[-2:-2] = ["ST*824*0003", "BGN*00*X*20250314", "SE*3*0003"]
    segments[-2] = "GE*3*123"
    result = parse_x12_820(("~".join(segments) + "~").encode(), "two.820")
    assert [(d.position, d.payment_reference, d.payer_name) for d in result.remittances] == [
        (1, "PAY-778899", "Acme Corp"),
        (2, "PAY-2", "Umbrella Corp"),
    ]
    assert result.warnings == ["two.820: line 1: transaction set 824 is not an 820, skipped"]


@pytest.mark.parametrize(
    "cut, message",
    [
        (
            lambda d: d[: d.index("RMR*IV*INV-2025-000124") + 15],
            "ends inside segment #13 (RMR) with no terminator: truncated",
        ),
        (lambda d: d[: d.index("SE*")], "transaction set ST*820*0001 has no SE: the file is truncated"),
        (lambda d: d[: d.index("IEA")], "interchange 000000123 has no IEA: the file is truncated"),
        (lambda d: d[:60], "truncated ISA segment: 16 elements expected, found 8"),
        (lambda d: d.replace("ISA*", "XSA*", 1), "an X12 interchange starts with an ISA segment"),
    ],
)
def test_truncated_or_foreign_files_are_rejected(cut, message) -> None:
    data = "~\n".join(interchange(PAYMENT)) + "~\n"
    with pytest.raises(ParseError) as err:
        parse_x12_820(cut(data).encode(), "cut.edi")
    assert message in str(err.value)
    assert "cut.edi" in str(err.value)


def test_segment_count_mismatch_names_the_line() -> None:
    segments = interchange(PAYMENT)
    segments.remove("DTM*003*20250201")  # SE01 still says 14
    segments = [s if not s.startswith("SE*") else "SE*15*0001" for s in segments]
    with pytest.raises(ParseError) as err:
        parse_x12_820(("\n".join(segments) + "\n").encode(), "count.edi")
    assert err.value.line == 15
    assert "SE01 says 15 segments, but transaction set 0001 (from line 3) has 13" in str(err.value)


def test_bad_amount_is_an_error_with_its_place() -> None:
    body = ["BPR*C*1,000.00*C*ACH************20250314", "TRN*1*PAY-1"]
    with pytest.raises(ParseError) as err:
        parse_x12_820(("\n".join(interchange(body)) + "\n").encode(), "amount.edi")
    assert "segment #4 (BPR): BPR02 '1,000.00' is not an X12 decimal number" in str(err.value)
    assert err.value.line == 4
