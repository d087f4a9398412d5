"""The ERP reconciliation file: layout, every movement adding up, formula injection neutralized."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest

from ml.cashapp.reconciliation import RECONCILIATION_COLUMNS, neutralize, write_reconciliation_csv
from tests.cashapp.builders import advice, engine, inv, txn


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1-555", "'+1-555"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tTAB", "'\tTAB"),
        ("\rCR", "'\rCR"),
        ("ACME INC", "ACME INC"),
        ("12.50", "12.50"),
        (None, ""),
    ],
)
def test_cells_a_spreadsheet_would_evaluate_are_neutralized(value, written):
    assert neutralize(value) == written


def test_file_layout_and_totals(tmp_path: Path):
    e = engine(
        [
            inv("INV-100001", "C000001", "1000.00"),
            inv("INV-100002", "C000001", "250.00"),
            inv("INV-100003", "C000001", "250.00", issued=None),
        ]
    )
    # the payer's deduction reason reaches the file: written by the payer, it must stay data
    hostile = advice([("INV-100001", "960.00", None, "40.00", "=1+2")], total="960.00")
    res = e.run(
        [
            txn("960.00", text="INV-100001"),  # applied, with a deduction
            txn(
                "1080.00", text="INV-100001 AGAIN"
            ),  # nothing left to apply: goes to review, unapplied in the ERP
            txn(
                "99.99", name="=cmd|' /C calc'!A0", account="XX00", text="@SUM(1+1)"
            ),  # unidentified, hostile text
        ],
        [hostile],
    )
    path = tmp_path / "recon" / "cashapp_2026-03-16.csv"
    totals = write_reconciliation_csv(res, path)
    assert totals == {"USD": Decimal("2139.99")}
    raw = path.read_bytes()
    assert raw.startswith(b"record_type,posting_date,") and b"\r\n" in raw
    rows = list(csv.DictReader(path.open(encoding="utf-8", newline="")))
    assert tuple(rows[0].keys()) == RECONCILIATION_COLUMNS
    kinds = [r["record_type"] for r in rows]
    assert kinds.count("APPLICATION") == 1 and kinds.count("UNAPPLIED") == 2 and kinds[-1] == "CONTROL"
    app = next(r for r in rows if r["record_type"] == "APPLICATION")
    assert (app["invoice_id"], app["amount"], app["customer_id"], app["posting_date"]) == (
        "INV-100001",
        "960.00",
        "C000001",
        "2026-03-16",
    )
    assert (app["deduction_amount"], app["deduction_reason"], app["method"]) == (
        "40.00",
        "'=1+2",
        "remittance",
    )
    unidentified = next(r for r in rows if r["reason"] == "unidentified")
    assert unidentified["amount"] == "99.99" and unidentified["customer_id"] == ""
    control = rows[-1]
    assert (control["currency"], control["amount"], control["reason"]) == ("USD", "2139.99", "3 records")
    # per movement, the rows add up to what was received
    per_tid: dict[str, Decimal] = {}
    for r in rows[:-1]:
        per_tid[r["bank_transaction_id"]] = per_tid.get(r["bank_transaction_id"], Decimal(0)) + Decimal(
            r["amount"]
        )
    assert sorted(per_tid.values()) == [Decimal("99.99"), Decimal("960.00"), Decimal("1080.00")]
    # no cell of the file starts like a formula
    for r in rows:
        for v in r.values():
            assert not v.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert not path.with_suffix(".csv.tmp").exists()
