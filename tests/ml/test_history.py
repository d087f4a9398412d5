"""The canonical history built from the raw ERP tables, and what "known at t" means."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from ml.history import invoice_history_from_warehouse, truncate_history

AS_OF = dt.date(2026, 11, 20)


@pytest.mark.slow
def test_paid_dates_match_the_ground_truth(tiny_warehouse):
    """Settlement from applications, discounts, credits and deductions gives the payer's real
    receipt date: the simulator's truth for nearly every paid invoice."""
    con, world = tiny_warehouse
    h = invoice_history_from_warehouse(con, AS_OF)
    truth = pd.read_csv(world / "ground_truth" / "invoice_outcomes.csv", dtype={"invoice_id": str})
    m = h.invoices.merge(
        truth[["invoice_id", "paid_date", "resolution"]], on="invoice_id", suffixes=("", "_truth")
    )
    both = m[m["paid_date"].notna() & m["paid_date_truth"].notna()]
    assert len(both) > 300
    exact = (both["paid_date"] == pd.to_datetime(both["paid_date_truth"])).mean()
    assert exact >= 0.97
    # never a paid date for what the truth says was credited away or never paid
    assert m.loc[m["resolution_truth"].isin(["credited", "never"]), "paid_date"].isna().all()
    assert set(h.invoices["resolution"]) <= {"paid", "credited", "written_off", "open"}
    # money stays exact: integer minor units
    assert h.invoices["amount_minor"].dtype == "int64"


@pytest.mark.slow
def test_history_as_of_an_earlier_day_knows_less(tiny_warehouse):
    con, _ = tiny_warehouse
    t = dt.date(2026, 6, 30)
    early = invoice_history_from_warehouse(con, t)
    assert early.invoices["invoice_date"].max() <= pd.Timestamp(t)
    assert (early.invoices["closed_known_date"].dropna() <= pd.Timestamp(t)).all()
    assert (early.promises["promise_date"] <= pd.Timestamp(t)).all()
    # and the truncation of the full history agrees with it on what was settled by then
    full = truncate_history(invoice_history_from_warehouse(con, AS_OF), t)
    a = early.invoices.set_index("invoice_id")["paid_date"]
    b = full.invoices.set_index("invoice_id")["paid_date"].reindex(a.index)
    assert (a.isna() == b.isna()).mean() >= 0.99


def test_truncate_hides_later_facts(synthetic):
    h, _, _ = synthetic
    t = dt.date(2024, 1, 15)
    k = truncate_history(h, t)
    inv = k.invoices
    assert inv["invoice_date"].max() <= pd.Timestamp(t)
    assert (inv["paid_known_date"].dropna() <= pd.Timestamp(t)).all()
    reopened = h.invoices.set_index("invoice_id").loc[inv.loc[inv["resolution"] == "open", "invoice_id"]]
    assert (reopened["paid_known_date"].isna() | (reopened["paid_known_date"] > pd.Timestamp(t))).all()
    assert (inv["resolution"] == "open").sum() > 50
