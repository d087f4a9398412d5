"""Helpers of the ML tests: a fast model recipe and a small synthetic history with learnable structure.

Each customer has a habit (mean days late), a sensitivity to invoice size (bigger invoices wait for
approvals), noise, and some deteriorate from a start date at a few days per month. Enough signal for
a model to beat "the customer's median" with a margin, small enough to train in seconds.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from ml.history import InvoiceHistory, normalize_history
from ml.payment_model import ModelConfig

START = dt.date(2023, 1, 2)
TINY_WORLD = {"customers": 14, "years": 1, "seed": 11, "as_of": dt.date(2026, 11, 20)}
# Small trees, few rounds: the tests check behaviour and direction, not the last decimal.
FAST = ModelConfig(
    num_boost_round=50,
    classifier_rounds=30,
    learning_rate=0.1,
    num_leaves=15,
    min_data_in_leaf=20,
    calibration_days=60,
)


def synthetic_history(
    n_customers: int = 60,
    days: int = 730,
    seed: int = 3,
    as_of: dt.date | None = None,
    deteriorating_share: float = 0.25,
) -> tuple[InvoiceHistory, pd.DataFrame, pd.DataFrame]:
    """(history as known at ``as_of``, truth per customer, true days late of every invoice).
    Invoices paid after as_of show as open in the history."""
    rng = np.random.default_rng(seed)
    end = START + dt.timedelta(days=days)
    as_of = as_of or end
    rows, truth = [], []
    for c in range(n_customers):
        cid = f"{c + 1:05d}"  # leading zeros: ids are text
        habit = rng.uniform(-5, 25)
        beta = rng.uniform(0, 6)
        sd = rng.uniform(1.5, 4)
        median_amount = rng.lognormal(7, 1)
        rate = rng.uniform(1.5, 5)  # invoices per month
        terms = int(rng.choice([30, 45, 60]))
        det_start = (
            START + dt.timedelta(days=int(rng.uniform(300, days - 120)))
            if rng.random() < deteriorating_share
            else None
        )
        det_rate = rng.uniform(4, 8) if det_start else 0.0
        truth.append(
            {"customer_id": cid, "habit": habit, "beta": beta, "det_start": det_start, "det_rate": det_rate}
        )
        n = rng.poisson(rate * days / 30.4)
        inv_days = np.sort(rng.integers(0, days, n))
        for k, d in enumerate(inv_days):
            inv_date = START + dt.timedelta(days=int(d))
            amount = max(1.0, rng.lognormal(np.log(median_amount), 0.8))
            due = inv_date + dt.timedelta(days=terms)
            late = habit + beta * np.clip(np.log2(amount / median_amount), -2, 3) + rng.normal(0, sd)
            if det_start and due > det_start:
                late += det_rate * (due - det_start).days / 30.4
            paid = due + dt.timedelta(days=int(round(late)))
            paid = max(paid, inv_date + dt.timedelta(days=1))
            rows.append((f"INV{c:03d}{k:04d}", cid, inv_date, due, int(round(amount * 100)), paid, terms))
    inv = pd.DataFrame(
        rows,
        columns=[
            "invoice_id",
            "customer_id",
            "invoice_date",
            "due_date",
            "amount_minor",
            "paid_date",
            "terms_days",
        ],
    )
    for col in ("invoice_date", "due_date", "paid_date"):
        inv[col] = pd.to_datetime(inv[col])
    outcomes = pd.DataFrame(
        {
            "invoice_id": inv["invoice_id"],
            "days_late": np.clip((inv["paid_date"] - inv["due_date"]).dt.days, -60, 120),
        }
    )
    inv = inv[inv["invoice_date"] <= pd.Timestamp(as_of)].copy()
    inv.loc[inv["paid_date"] > pd.Timestamp(as_of), "paid_date"] = pd.NaT
    h = normalize_history(InvoiceHistory(invoices=inv.drop(columns=["terms_days"]), source="synthetic"))
    return h, pd.DataFrame(truth), outcomes
