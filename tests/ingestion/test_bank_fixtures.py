"""Every public sample under shared/fixtures/bank is parsed or refused with a reason -- never a crash.

The tables below are the contract: a file that starts or stops parsing, or whose balances start or
stop adding up, fails the test until the table (and the reason written in it) is updated.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestion.normalized import ParseError
from ingestion.parsing import parse_file, reconcile

BANK_FIXTURES = (Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures" / "bank").resolve()

# Files that are not statements at all: expectations, licences, the folder's README.
_NOT_STATEMENTS = ("LICENSE", ".json", "README.md")

# Statement files refused on purpose, with the words the reason must contain.
REFUSED = {
    "bai2_venturehacks/test/data/invalid_checksum_eod.bai2": "49 control total 8325983",
    "camt_genkgo/test/data/camt053.v2.wrong.xml": "has no <Stmt>",
    # cmxl/ and several betterplace/ files are single-tag fragments (their README says so)
    "mt940_wolph/mt940_tests/betterplace/amount_formats.sta": "fragment",
    "mt940_wolph/mt940_tests/betterplace/currency_in_25.sta": "fragment",
    "mt940_wolph/mt940_tests/betterplace/empty_86.sta": "fragment",
    "mt940_wolph/mt940_tests/betterplace/empty_entry_date.sta": "fragment",
    "mt940_wolph/mt940_tests/betterplace/empty_line.sta": "no :25: account",
    "mt940_wolph/mt940_tests/betterplace/missing_crlf_at_end.sta": "fragment",
    "mt940_wolph/mt940_tests/betterplace/sepa_snippet_broken.sta": "a second :25: account",
    "mt940_wolph/mt940_tests/cmxl/account_balance_credit.sta": "fragment",
    "mt940_wolph/mt940_tests/cmxl/account_balance_debit.sta": "fragment",
    "mt940_wolph/mt940_tests/cmxl/account_identification_iban.sta": "fragment",
    "mt940_wolph/mt940_tests/cmxl/account_identification_legacy.sta": "fragment",
    "mt940_wolph/mt940_tests/cmxl/available_balance.sta": "fragment",
    "mt940_wolph/mt940_tests/cmxl/closing_balance.sta": "fragment",
    "mt940_wolph/mt940_tests/cmxl/reference.sta": "no :25: account",
    "mt940_wolph/mt940_tests/cmxl/statement_details.sta": "fragment",
    "mt940_wolph/mt940_tests/cmxl/statement_line.sta": "fragment",
    "mt940_wolph/mt940_tests/cmxl/statement_number.sta": "fragment",
    "mt940_wolph/mt940_tests/self-provided/empty_non_swift.sta": "fragment",
    "mt940_wolph/mt940_tests/self-provided/gv_codes.sta": "no closing :62F:/:62M: (truncated",
    "mt940_wolph/mt940_tests/self-provided/invalid_statement.sta": "unknown format",
    "mt940_wolph/mt940_tests/self-provided/multiline.sta": ":61: after the closing balance",
    "mt940_wolph/mt940_tests/self-provided/sparkassen.sta": "fragment",
}

# Parsed files whose own balances do not add up, and why (checked by hand against the file).
UNRECONCILED = {
    "bai2_venturehacks/test/data/daily_with_summary.bai2": "summary says opening 0 and closing 0 around a 250.01 credit",
    "camt_genkgo/test/data/camt053.v2.all-balance-types.xml": "OPBD 1.01 + entry 8.85 but CLBD 4.04",
    "camt_genkgo/test/data/camt053.v2.five.decimals.xml": "OPBD 18.150 + 8.850 but CLBD 27.050",
    "camt_genkgo/test/data/camt053.v2.minimal.xml": "CLBD 27.00 is marked DBIT in the sample",
    "camt_genkgo/test/data/camt053.v2.minimal.ultimate.xml": "CLBD 27.00 is marked DBIT in the sample",
    "camt_genkgo/test/data/camt053.v2.with-party-ids.xml": "CLBD 27.00 is marked DBIT in the sample",
    "camt_genkgo/test/data/camt053.v3.xml": "CLBD 27.00 is marked DBIT in the sample",
    "camt_genkgo/test/data/camt053.v4.xml": "CLBD is 27.00 SEK DBIT on a EUR account in the sample",
    "camt_genkgo/test/data/camt053.v8.xml": "CLBD is 27.00 SEK DBIT on a EUR account in the sample",
    "mt940_wolph/mt940_tests/betterplace/sepa_snippet.sta": "second statement is 300.08 off in the sample",
    "mt940_wolph/mt940_tests/jejik/abnamro.sta": "anonymised: 2nd opening 2876.84 != 1st closing 876.84",
    "mt940_wolph/mt940_tests/jejik/ing.sta": "anonymised: closing 3.47 after -45.59 from 0.00",
    "mt940_wolph/mt940_tests/jejik/knab.sta": "second statement 4500.00 off in the sample",
    "mt940_wolph/mt940_tests/jejik/postfinance.sta": "second statement 0.20 off in the sample",
    "mt940_wolph/mt940_tests/jejik/rabobank.sta": "anonymised amounts in 2 of 4 statements",
    "mt940_wolph/mt940_tests/jejik/triodos.sta": "111.40 off in the sample",
    "mt940_wolph/mt940_tests/mBank/with_newline_in_tnr.sta": "anonymised: 0.46 + 89.00 but closing 860.17",
    "mt940_wolph/mt940_tests/self-provided/details_60-63.sta": "placeholder balances 12345.12 -> 12345.98 around -233.15",
    "mt940_wolph/mt940_tests/self-provided/malformed_details.sta": "placeholder balances 12345.12 -> 12345.98",
    "mt940_wolph/mt940_tests/self-provided/overly_long_details.sta": "placeholder balances 12345.12 -> 12345.98",
    "mt940_wolph/mt940_tests/self-provided/whitespace.sta": "placeholder balances 12345.12 -> 12345.98",
    "mt940_wolph/mt940_tests/self-provided/raiffeisen-cmi.sta": "sample closing 25281687.60 is 1123264.00 off",
}


def test_every_sample_is_parsed_or_refused_with_a_reason(bank_fixture_file):
    if bank_fixture_file is None:
        pytest.skip(f"public bank-statement samples not found at {BANK_FIXTURES}")
    rel = str(bank_fixture_file.relative_to(BANK_FIXTURES))
    try:
        result = parse_file(bank_fixture_file)
    except ParseError as exc:
        assert exc.reason, "a refusal must say why"
        assert bank_fixture_file.name in exc.reason, "a refusal names the file"
        if rel.endswith(_NOT_STATEMENTS) or bank_fixture_file.name.startswith("LICENSE"):
            assert "unknown format" in exc.reason
        else:
            assert rel in REFUSED, f"{rel} unexpectedly refused: {exc}"
            assert REFUSED[rel] in exc.reason, exc.reason
        return
    assert rel not in REFUSED, f"{rel} should be refused ({REFUSED.get(rel)}) but parsed"
    assert not rel.endswith(_NOT_STATEMENTS)
    for tx in result.transactions:
        assert tx.credit_debit == ("DBIT" if tx.amount < 0 else "CRDT") or tx.amount == 0
        assert tx.currency and len(tx.currency) == 3, tx
        assert tx.account
        assert tx.position > 0
    problems = [msg for b in result.balances if (msg := reconcile(b))]
    if rel in UNRECONCILED:
        assert problems, f"{rel} now reconciles: drop it from UNRECONCILED"
    else:
        assert not problems, problems


def test_fixture_tally(bank_fixtures):
    """The figures quoted in the report: how many samples parse and how many are refused."""
    parsed = refused = 0
    for path in sorted(p for p in bank_fixtures.rglob("*") if p.is_file()):
        try:
            parse_file(path)
            parsed += 1
        except ParseError:
            refused += 1
    assert (parsed, refused) == (62, 55)
