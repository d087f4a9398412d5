"""The features read off the customer's own past for this due date and this size of invoice (issue 5):
point in time like every other feature, and the pay-run projection checked by hand."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from ml.features import _month_end_run, build_features, issue_rows, to_days
from ml.history import InvoiceHistory, normalize_history
from tests.ml.test_features import assert_known_equals_full

SHAPE_FEATURES = (
    "season_fit",
    "season_amp",
    "harmonic_at_due",
    "trend_at_due",
    "size_dl_mean",
    "size_n",
    "size_split_share",
    "size_disc_share",
    "discount_take_share_90",
    "partial_share_120",
    "usual_calendar_window",
    "due_dom_dl_mean",
    "due_wd_dl_mean",
    "recent_vs_median",
    "last10_vs_median",
    "run_proj_month_end",
    "run_miss_month_end",
    "run_proj_semi",
    "run_miss_semi",
    "run_proj_weekly",
    "run_miss_weekly",
)


@pytest.mark.parametrize("t", [dt.date(2023, 11, 20), dt.date(2024, 6, 3)])
def test_no_leakage_of_history_shape_features(synthetic, t):
    h, _, _ = synthetic
    # the probe: the same rows looked at 30 days later see more settlements on the full history
    assert_known_equals_full(h, t, SHAPE_FEATURES, probe="run_proj_weekly", later_days=30)


def _month_end_payer() -> pd.DataFrame:
    """One customer that means to pay 5 days after the due date and pays on its month-end run. (Its
    settlements pin the intended delay down to a few days, so the cases below stay clear of a run.)"""
    n = 30
    inv_day = pd.Timestamp("2025-01-06") + pd.to_timedelta(7 * np.arange(n), unit="D")
    due = inv_day + pd.Timedelta(days=30)
    run = _month_end_run(to_days(due + pd.Timedelta(days=5)))
    paid = pd.to_datetime(run.astype("datetime64[D]"))
    inv = pd.DataFrame(
        {
            "invoice_id": [f"M{i}" for i in range(n)],
            "customer_id": ["M"] * n,
            "invoice_date": inv_day,
            "due_date": due,
            "amount_minor": [50000] * n,
            "paid_date": paid,
        }
    )
    return inv


@pytest.mark.parametrize(
    "due, paid",
    [
        ("2025-10-01", "2025-10-31"),  # intent Oct 6: the October run
        ("2025-11-03", "2025-11-28"),  # intent Nov 8: November's run (the 28th, a Friday)
    ],
)
def test_month_end_run_projection_by_hand(due, paid):
    extra = pd.DataFrame(
        {
            "invoice_id": ["NEW"],
            "customer_id": ["M"],
            "invoice_date": [pd.Timestamp(due) - pd.Timedelta(days=30)],
            "due_date": [pd.Timestamp(due)],
            "amount_minor": [50000],
            "paid_date": [pd.NaT],
        }
    )
    h2 = normalize_history(InvoiceHistory(invoices=pd.concat([_month_end_payer(), extra], ignore_index=True)))
    rows = issue_rows(h2)
    X = build_features(h2, rows).set_index(rows["invoice_id"])
    x = X.loc["NEW"]
    expected = (pd.Timestamp(paid) - pd.Timestamp(due)).days
    assert x["run_proj_month_end"] + x["dl_median"] == pytest.approx(expected)
    assert x["run_miss_month_end"] == pytest.approx(0.0)  # the calendar replays its own past exactly
    assert x["run_miss_weekly"] > 3  # a weekly calendar does not
