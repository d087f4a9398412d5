"""``bank_days``: the last N days of bank and remittance files, the same bytes as the full world's."""

from __future__ import annotations

import csv
import datetime as dt

import pytest

from simulator.world import simulate_world

AS_OF = dt.date(2026, 11, 20)


def _files(root, folder: str) -> dict:
    """Every file under landing/<folder>, by relative path."""
    return {
        p.relative_to(root): p.read_bytes() for p in (root / "landing" / folder).rglob("*") if p.is_file()
    }


def test_the_last_days_are_written_byte_for_byte_and_nothing_older(tmp_path):
    full, recent = tmp_path / "full", tmp_path / "recent"
    simulate_world(full, customers=25, years=1, seed=11, as_of=AS_OF)
    summary = simulate_world(recent, customers=25, years=1, seed=11, as_of=AS_OF, bank_days=15)

    full_bank = _files(full, "bank") | _files(full, "remittance")
    recent_bank = _files(recent, "bank") | _files(recent, "remittance")
    assert 0 < len(recent_bank) < len(full_bank) / 5
    assert all(full_bank.get(name) == data for name, data in recent_bank.items())
    # The ERP extracts do not depend on which bank files are written.
    assert _files(full, "erp") == _files(recent, "erp")
    # Every payment of the last 15 days points at a file that exists; older ones at none.
    first_day = AS_OF - dt.timedelta(days=14)
    with (recent / "ground_truth" / "payments.csv").open(encoding="utf-8", newline="") as fh:
        payments = list(csv.DictReader(fh))
    recent_payments = [p for p in payments if dt.date.fromisoformat(p["received_date"]) >= first_day]
    assert recent_payments and all((recent / p["bank_file"]).exists() for p in recent_payments)
    assert all(not p["bank_file"] for p in payments if dt.date.fromisoformat(p["received_date"]) < first_day)
    assert summary["bank_files"]["statement_files"] > 0


def test_bank_days_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="bank_days must be at least 1"):
        simulate_world(tmp_path, customers=5, years=1, bank_days=0)
