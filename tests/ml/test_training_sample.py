"""The payment model's training sample: whole customer families, bounded, the same every time."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from ml.history import InvoiceHistory, invoice_history_from_warehouse
from ml.pipeline import (
    SCORING_BLOCK_INVOICES,
    TRAINING_MAX_INVOICES,
    training_history_from_warehouse,
    training_sample,
)
from orchestration.settings import load_settings


def _history() -> InvoiceHistory:
    # 30 customers with 10..39 invoices each; C1..C5 are children of P0 (one family of six).
    rows = [
        {"invoice_id": f"C{c}-{k}", "customer_id": f"C{c}", "invoice_date": pd.Timestamp("2025-01-01")}
        for c in range(30)
        for k in range(10 + c)
    ]
    customers = pd.DataFrame(
        {
            "customer_id": [f"C{c}" for c in range(30)],
            "parent_id": ["C0" if 1 <= c <= 5 else None for c in range(30)],
        }
    )
    promises = pd.DataFrame({"customer_id": ["C3", "C20"], "promise_id": ["PR1", "PR2"]})
    return InvoiceHistory(invoices=pd.DataFrame(rows), customers=customers, promises=promises, source="test")


def test_a_history_within_the_bound_is_used_whole():
    h = _history()
    assert training_sample(h, len(h.invoices)) is h
    assert training_sample(h, None) is h


def test_the_sample_keeps_whole_families_under_the_bound_and_is_reproducible():
    h = _history()
    sample = training_sample(h, 300)
    assert 0 < len(sample.invoices) <= 300
    kept = set(sample.invoices["customer_id"])
    # every kept customer keeps all of its invoices
    per_customer = h.invoices["customer_id"].value_counts()
    assert sample.invoices["customer_id"].value_counts().to_dict() == {c: per_customer[c] for c in kept}
    # a family is kept or dropped whole
    family = {f"C{c}" for c in range(6)}
    assert family <= kept or not (family & kept)
    assert set(sample.customers["customer_id"]) == kept
    assert set(sample.promises["customer_id"]) <= kept
    again = training_sample(h, 300)
    assert again.invoices.equals(sample.invoices)


def test_the_bounds_are_settings(monkeypatch):
    assert load_settings().training_max_invoices == TRAINING_MAX_INVOICES
    assert load_settings().scoring_block_invoices == SCORING_BLOCK_INVOICES
    monkeypatch.setenv("OPENAR_SCORING_BLOCK_INVOICES", "250000")
    assert load_settings().scoring_block_invoices == 250_000


def test_the_sample_read_from_the_warehouse_is_the_sample_of_the_whole_history(tiny_warehouse):
    # training reads only the sampled families: the families are drawn from invoice counts per
    # customer, so the whole history is never loaded at scale; the result is the same sample
    con, _ = tiny_warehouse
    as_of = dt.date(2026, 11, 20)
    whole = invoice_history_from_warehouse(con, as_of)
    n = len(whole.invoices)
    for bound in (n // 3, n // 2, n):
        expected = training_sample(whole, bound)
        got, total = training_history_from_warehouse(con, as_of, bound)
        assert total == n
        for frame in ("invoices", "customers", "promises", "activities"):
            pd.testing.assert_frame_equal(getattr(got, frame), getattr(expected, frame))
        assert got.source == expected.source
    assert len(training_sample(whole, n // 3).invoices) < n
