"""Early warnings against the customer's own past, risk tiers and the credit review queue."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from ml.features import customer_features
from ml.payment_model import fit_payment_model
from ml.risk import CATEGORIES, TIERS, alert_timeline, credit_reviews, customer_risk, early_warnings
from ml.scoring import score_open_invoices
from tests.ml.helpers import FAST


@pytest.fixture(scope="module")
def timeline(synthetic):
    h, truth, _ = synthetic
    tl = alert_timeline(h, dt.date(2023, 9, 1), h.last_date, every_days=7)
    return tl.merge(truth, on="customer_id")


def test_deteriorating_customers_are_alerted_soon_after_they_start(timeline, synthetic):
    _, truth, _ = synthetic
    det = truth[truth["det_start"].notna()].set_index("customer_id")
    assert len(det) >= 8
    after = timeline[timeline["alert"] & timeline["det_start"].notna()]
    after = after[after["as_of"] >= pd.to_datetime(after["det_start"])]
    first = after.groupby("customer_id")["as_of"].min()
    delay = (first - pd.to_datetime(det["det_start"].reindex(first.index))).dt.days
    assert len(first) >= 0.8 * len(det)
    assert delay.median() <= 120


def test_stable_customers_rarely_alert(timeline):
    stable = timeline[timeline["det_start"].isna()]
    assert stable.groupby("customer_id")["alert"].any().mean() <= 0.35
    assert stable["alert"].mean() <= 0.03


def test_alerts_carry_evidence(timeline):
    alerted = timeline[timeline["alert"]]
    assert alerted["evidence"].map(lambda e: len(json.loads(e)) >= 1).all()
    paying_later = alerted[alerted["paying_later"]]
    assert paying_later["evidence"].str.contains("days late on average against its usual").all()
    assert timeline.loc[~timeline["alert"], "evidence"].isna().all()


def test_a_customer_that_stops_paying_is_flagged():
    """Same history, different trajectory: two customers pay alike for a year, then one stops."""
    from ml.history import InvoiceHistory, normalize_history

    rows = []
    for c in ("A", "B"):
        for k in range(60):
            inv = pd.Timestamp("2024-01-01") + pd.Timedelta(days=7 * k)
            due = inv + pd.Timedelta(days=30)
            stopped = c == "B" and inv >= pd.Timestamp("2024-09-01")
            paid = pd.NaT if stopped else due + pd.Timedelta(days=3 + k % 3)
            rows.append((f"{c}{k}", c, inv, due, 100_000, paid))
    h = normalize_history(
        InvoiceHistory(
            invoices=pd.DataFrame(
                rows,
                columns=[
                    "invoice_id",
                    "customer_id",
                    "invoice_date",
                    "due_date",
                    "amount_minor",
                    "paid_date",
                ],
            )
        )
    )
    as_of = dt.date(2025, 1, 15)
    cf = customer_features(h, ["A", "B"], as_of)
    prev = customer_features(h, ["A", "B"], as_of - dt.timedelta(days=14))
    w = early_warnings(cf, previous=prev).set_index("customer_id")
    assert not w.loc["A", "alert"]
    assert w.loc["B", "alert"] and w.loc["B", "aging"] and w.loc["B", "stopped_paying"]
    assert w.loc["B", "shift_days"] > 30
    assert "no payment received for" in w.loc["B", "evidence"]


@pytest.fixture(scope="module")
def risk(synthetic):
    h, _, _ = synthetic
    as_of = h.last_date
    model = fit_payment_model(h, as_of, FAST)
    preds = score_open_invoices(h, as_of, model, model_name="m", model_version="1")
    return customer_risk(h, as_of, preds), preds


def test_customer_risk_frame(risk, synthetic):
    r, preds = risk
    _, truth, _ = synthetic
    assert set(r["tier"]) <= set(TIERS) and r["score"].between(0, 100).all()
    assert r["open_amount_minor"].dtype == "int64" and r["expected_late_30_amount_minor"].dtype == "int64"
    # deteriorating customers rank higher than the others
    r = r.merge(truth, on="customer_id")
    det = r["det_start"].notna()
    assert r.loc[det, "score"].mean() > r.loc[~det, "score"].mean() + 10
    assert (r.loc[r["tier"] != "normal", "reasons"].map(lambda x: len(json.loads(x))) >= 1).all()
    with_open = r["customer_id"].isin(preds["customer_id"])
    assert r.loc[with_open, "drivers"].notna().all()


def test_customer_risk_when_only_some_invoices_are_explained(synthetic):
    # at a million open invoices only the rows with the most money at risk get SHAP drivers; the
    # others' drivers are missing (NaN after pandas aligns them), which once crashed the 1M bench
    h, _, _ = synthetic
    as_of = h.last_date
    model = fit_payment_model(h, as_of, FAST)
    preds = score_open_invoices(h, as_of, model, model_name="m", model_version="1", max_explained=5)
    assert preds["drivers"].notna().sum() == 5
    preds["drivers"] = preds["drivers"].where(preds["drivers"].notna(), np.nan)
    r = customer_risk(h, as_of, preds)
    explained = preds.loc[preds["drivers"].notna(), "customer_id"].unique()
    assert r.set_index("customer_id").loc[explained, "drivers"].notna().all()
    assert r["drivers"].notna().sum() == len(explained)


def test_credit_review_queue(risk):
    r, _ = risk
    q = credit_reviews(r)
    assert q["priority"].tolist() == list(range(1, len(q) + 1))
    assert set(q["category"]) <= set(CATEGORIES)
    tier_rank = q["tier"].map({t: i for i, t in enumerate(TIERS)}).to_numpy()
    assert (np.diff(tier_rank) >= 0).all()  # critical first, then high, then normal
    assert (q.loc[q["tier"] == "critical", "category"] == "hold").all()
    # no current limits in this history: every recommendation is whole thousands, in minor units
    assert q["current_limit_minor"].isna().all()
    assert (
        q["recommended_limit_minor"].dtype == "int64" and (q["recommended_limit_minor"] % 100_000 == 0).all()
    )
    assert q["reasons"].map(lambda x: isinstance(json.loads(x), list)).all()
