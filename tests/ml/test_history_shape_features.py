"""The features read off the customer's own past for this due date and this size of invoice (issue 5):
point in time like every other feature, and the pay-run projection checked by hand."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from ml.features import (
    COHORT_LAGS,
    HISTORY_SHAPE_FEATURES,
    FeatureContext,
    _month_end_run,
    build_features,
    issue_rows,
    to_days,
)
from ml.history import InvoiceHistory, normalize_history
from tests.ml.test_features import assert_known_equals_full

# every feature of the block but two: the invoice's currency is not read off the history, and the
# synthetic history has no invoice paid in instalments, so the gap between instalments is never known
# there (the check needs values to compare)
SHAPE_FEATURES = tuple(f for f in HISTORY_SHAPE_FEATURES if f not in ("split_gap_mean", "currency_code"))


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


def _sliding_payer(lates: list[int], open_from: int | None = None) -> pd.DataFrame:
    """One customer with an invoice due every 4 days from 2025-01-01, paid ``lates[i]`` days late;
    from invoice ``open_from`` on nothing is paid (still open)."""
    n = len(lates)
    due = pd.Timestamp("2025-01-01") + pd.to_timedelta(4 * np.arange(n), unit="D")
    paid = [d + pd.Timedelta(days=dl) for d, dl in zip(due, lates, strict=True)]
    if open_from is not None:
        paid = [p if i < open_from else pd.NaT for i, p in enumerate(paid)]
    inv = pd.DataFrame(
        {
            "invoice_id": [f"S{i}" for i in range(n)],
            "customer_id": ["S"] * n,
            "invoice_date": due - pd.Timedelta(days=30),
            "due_date": due,
            "amount_minor": [50000] * n,
            "paid_date": paid,
        }
    )
    return inv


def _features_at(inv: pd.DataFrame, day: str) -> pd.Series:
    extra = pd.DataFrame(
        {
            "invoice_id": ["NEW"],
            "customer_id": ["S"],
            "invoice_date": [pd.Timestamp(day)],
            "due_date": [pd.Timestamp(day) + pd.Timedelta(days=30)],
            "amount_minor": [50000],
            "paid_date": [pd.NaT],
        }
    )
    h = normalize_history(InvoiceHistory(invoices=pd.concat([inv, extra], ignore_index=True)))
    rows = issue_rows(h)
    return build_features(h, rows).set_index(rows["invoice_id"]).loc["NEW"]


def test_cohort_lateness_by_hand():
    """A customer that always pays 10 days late: of each cohort, none is open at 0 and 7 days past due
    and all are at 14, so half of it is paid by 7 + 7 * (1 - 0.5) / (1 - 0) = 10.5 at the latest
    read of the curve (the median sits between the lags 7 and 14): about its median, 10."""
    x = _features_at(_sliding_payer([10] * 80), "2025-10-01")
    assert x["cohort_open0_share"] == 1.0 and x["cohort_open30_share"] == 0.0
    assert x["cohort_vs_median"] + x["dl_median"] == pytest.approx(7 + 7 * 0.5)
    assert x["dl_median"] == pytest.approx(10)


def test_cohort_lateness_sees_the_unpaid_invoices_a_median_of_payments_misses():
    """The same customer stops paying: the invoices due in the last five months are all open, so every
    cohort read (due since May) is unpaid past its lag, while the median of its payments still says
    10 days."""
    x = _features_at(_sliding_payer([10] * 80, open_from=30), "2025-10-01")
    assert x["dl_median"] == pytest.approx(10)
    assert x["cohort_open30_share"] == 1.0 and x["cohort_open60_share"] == 1.0
    # never down to half at any lag read: at least the last one (90 days)
    assert x["cohort_vs_median"] + x["dl_median"] == pytest.approx(90)


def test_cohort_counts_direct_and_streamed_agree(synthetic):
    """Scoring (few distinct days) counts the cohorts directly, training reads event streams: the
    same numbers either way."""
    h, _, _ = synthetic
    ctx = FeatureContext(h)
    qc = np.arange(len(ctx.codes.customer), dtype="int64")
    for day in ("2024-02-10", "2024-11-30"):
        qt = np.full(len(qc), to_days(pd.Series([pd.Timestamp(day)]))[0])
        for d in COHORT_LAGS:
            direct = ctx.cohort_counts(qc, qt, d)
            ctx.DIRECT_DAYS = 0
            streamed = ctx.cohort_counts(qc, qt, d)
            ctx.DIRECT_DAYS = FeatureContext.DIRECT_DAYS
            assert (direct[0] == streamed[0]).all() and (direct[1] == streamed[1]).all(), (day, d)
            if d == 0:  # not a trivial comparison: some invoices, some of them paid late
                assert direct[0].sum() > 0 and 0 < direct[1].sum() < direct[0].sum()
