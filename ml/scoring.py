"""Score the open invoices at an as-of date: the rows of ``fct_payment_predictions``.

Every row records the model name and version that produced it. Dates are the due date plus the
predicted days late. An invoice still open at the end of as-of cannot be paid before the next
day: predictions (and the probabilities of being paid by a date already passed) respect that.
A quantile at the cap (120 days late) means "not expected to be paid in the horizon": its date is
left empty rather than invented.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ml.features import DAYS_LATE_CAP, FeatureContext, as_day, build_features, open_rows, to_days
from ml.history import InvoiceHistory
from ml.payment_model import BUCKET_EDGES, BUCKETS, PROBABILITY_COLUMNS, PaymentModel

PREDICTION_COLUMNS = (
    "invoice_id",
    "customer_id",
    "as_of_date",
    "invoice_date",
    "due_date",
    "currency",
    "amount_minor",
    "amount_functional_minor",
    "days_past_due",
    "p10_days_late",
    "p50_days_late",
    "p90_days_late",
    "p50_days_late_continuous",
    "p10_pay_date",
    "p50_pay_date",
    "p90_pay_date",
    *PROBABILITY_COLUMNS,
    "p_late_over_30",
    "bucket",
    "drivers",
    "model_name",
    "model_version",
)


def still_open(p: pd.DataFrame, floor: np.ndarray) -> pd.DataFrame:
    """Predictions of invoices known to be unpaid ``floor`` days late (tomorrow at the earliest):
    quantiles raised to the floor, the probability of being paid by a date already passed set to 0,
    and the most likely bucket recomputed from what is left."""
    p = p.copy()
    for c in ("p10_days_late", "p50_days_late", "p90_days_late", "p50_days_late_continuous"):
        if c in p:
            p[c] = np.maximum(p[c].to_numpy(), floor)
    for col, edge in zip(PROBABILITY_COLUMNS, BUCKET_EDGES, strict=True):
        p[col] = np.where(floor > edge, 0.0, p[col].to_numpy())
    p["p_late_over_30"] = 1 - p["p_paid_within_30"]
    cum = np.column_stack([np.zeros(len(p)), p[list(PROBABILITY_COLUMNS)].to_numpy(), np.ones(len(p))])
    p["bucket"] = np.asarray(BUCKETS)[np.diff(cum, axis=1).argmax(axis=1)]
    return p


def score_open_invoices(
    h: InvoiceHistory,
    as_of: dt.date,
    model: PaymentModel,
    *,
    model_name: str,
    model_version: str,
    max_explained: int | None = None,
    ctx: FeatureContext | None = None,
    timings: dict | None = None,
) -> pd.DataFrame:
    """One row per invoice open at the end of ``as_of`` (see ``PREDICTION_COLUMNS``).

    ``max_explained`` bounds the SHAP work: the rows with the most money expected 30+ days late are
    explained first, the rest get no drivers (None) — at a million open invoices explaining every
    row costs minutes, the amounts that matter take seconds.
    """
    timings = timings if timings is not None else {}
    scored = score_without_drivers(
        h, as_of, model, model_name=model_name, model_version=model_version, ctx=ctx, timings=timings
    )
    t = time.perf_counter()
    explained = explanation_order(scored.priority, max_explained)
    out_drivers = np.empty(len(scored.out), dtype=object)
    # only the explained rows are gathered: a reordered copy of a million feature rows costs seconds
    out_drivers[explained] = model.drivers(scored.X.iloc[explained])
    scored.out["drivers"] = out_drivers
    timings["drivers_s"] = round(time.perf_counter() - t, 2)
    timings["total_s"] = round(timings["total_s"] + timings["drivers_s"], 2)
    return scored.out


@dataclass
class ScoredInvoices:
    """The open invoices scored, before their drivers: ``out`` (``PREDICTION_COLUMNS``, drivers
    None), their features ``X`` (same rows) and ``priority``, the money expected 30+ days late by
    which rows are explained first."""

    out: pd.DataFrame
    X: pd.DataFrame
    priority: np.ndarray


def explanation_order(priority: np.ndarray, max_explained: int | None) -> np.ndarray:
    """Positions of the rows to explain, first to last: most money at risk first, ties by position."""
    order = np.argsort(-priority, kind="stable")
    return order if max_explained is None else order[:max_explained]


def score_without_drivers(
    h: InvoiceHistory,
    as_of: dt.date,
    model: PaymentModel,
    *,
    model_name: str,
    model_version: str,
    ctx: FeatureContext | None = None,
    timings: dict | None = None,
) -> ScoredInvoices:
    """:func:`score_open_invoices` up to the drivers (a caller scoring by blocks explains the rows
    with the most money at risk across all blocks)."""
    timings = timings if timings is not None else {}
    t0 = time.perf_counter()
    rows = open_rows(h, as_of)
    X = build_features(h, rows, ctx)
    timings["features_s"] = round(time.perf_counter() - t0, 2)
    t1 = time.perf_counter()
    p = model.predict(X, due_days=to_days(rows["due_date"]), drivers=False)
    timings["predict_s"] = round(time.perf_counter() - t1, 2)

    p = still_open(p, (as_day(as_of) + 1 - to_days(rows["due_date"])).astype("float64"))
    amount = rows["amount_functional_minor"].to_numpy(dtype="float64")
    priority = amount * p["p_late_over_30"].to_numpy()

    due = rows["due_date"].to_numpy(dtype="datetime64[D]")
    out = pd.DataFrame(
        {
            "invoice_id": rows["invoice_id"].to_numpy(),
            "customer_id": rows["customer_id"].to_numpy(),
            "as_of_date": pd.Timestamp(as_of),
            "invoice_date": rows["invoice_date"].to_numpy(),
            "due_date": rows["due_date"].to_numpy(),
            "currency": rows["currency"].to_numpy(),
            "amount_minor": rows["amount_minor"].to_numpy(dtype="int64"),
            "amount_functional_minor": rows["amount_functional_minor"].to_numpy(dtype="int64"),
            "days_past_due": np.maximum(0, as_day(as_of) - to_days(rows["due_date"])).astype("int64"),
        }
    )
    for q in ("p10", "p50", "p90"):
        days = np.round(p[f"{q}_days_late"].to_numpy(), 1)
        out[f"{q}_days_late"] = days
        pay = (due + np.round(days).astype("int64").astype("timedelta64[D]")).astype("datetime64[s]")
        out[f"{q}_pay_date"] = np.where(days >= DAYS_LATE_CAP, np.datetime64("NaT"), pay)
    out["p50_days_late_continuous"] = np.round(p["p50_days_late_continuous"].to_numpy(), 1)
    for c in (*PROBABILITY_COLUMNS, "p_late_over_30"):
        out[c] = np.round(p[c].to_numpy(), 4)
    out["bucket"] = p["bucket"].to_numpy()
    out["drivers"] = np.full(len(out), None, dtype=object)
    out["model_name"] = model_name
    out["model_version"] = str(model_version)
    timings["total_s"] = round(time.perf_counter() - t0, 2)
    return ScoredInvoices(out[list(PREDICTION_COLUMNS)], X, priority)
