"""The payment model: calibrated intervals, coherent probabilities, drivers, persistence."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

from ml.features import build_features, issue_rows
from ml.history import truncate_history
from ml.payment_model import PROBABILITY_COLUMNS, PaymentModel, fit_payment_model, labels_known_at
from tests.ml.helpers import FAST, synthetic_history

T = dt.date(2024, 6, 30)


@pytest.fixture(scope="module")
def stationary():
    """No drift: what the conformal guarantee is about (exchangeable calibration and test periods)."""
    return synthetic_history(n_customers=45, days=700, seed=4, deteriorating_share=0.0)


@pytest.fixture(scope="module")
def fitted(stationary):
    h, _, outcomes = stationary
    model = fit_payment_model(h, T, FAST)
    rows = issue_rows(h, start=T + dt.timedelta(days=1), end=T + dt.timedelta(days=120))
    X = build_features(h, rows)
    y = outcomes.set_index("invoice_id")["days_late"].reindex(rows["invoice_id"]).to_numpy()
    return model, X, y


def test_conformal_interval_covers_nominal_on_a_later_period(fitted):
    model, X, y = fitted
    assert len(y) > 400
    p = model.predict(X, drivers=False)
    coverage = np.mean((y >= p["p10_days_late"]) & (y <= p["p90_days_late"]))
    # Above nominal errs on the safe side by design (the final model, refitted on all rows, is a
    # little tighter than the held-out one whose errors set the correction); on ~500 rows one
    # standard error is 1.8 points. (0.862 here once the history-shape features of issue 5 came in.)
    assert 0.74 <= coverage <= 0.87, coverage
    # the correction was measured on the held-out period and applies to both kinds of row
    assert set(model.conformal) == {"issue", "open"}
    assert model.meta["calibration_rows"] > 100


def test_probabilities_are_monotone_and_buckets_consistent(fitted):
    model, X, _ = fitted
    p = model.predict(X, drivers=False)
    cum = p[list(PROBABILITY_COLUMNS)].to_numpy()
    assert (np.diff(cum, axis=1) >= -1e-12).all()
    assert ((cum >= 0) & (cum <= 1)).all()
    assert np.allclose(p["p_late_over_30"], 1 - p["p_paid_within_30"])
    assert (p["p10_days_late"] <= p["p50_days_late"]).all() and (
        p["p50_days_late"] <= p["p90_days_late"]
    ).all()


def test_drivers_are_shap_values_that_add_up(fitted):
    model, X, _ = fitted
    contrib = model.contributions(X.iloc[:50])
    raw_p50 = model._raw_quantiles(X.iloc[:50])["q50"]
    assert np.allclose(contrib.sum(axis=1), raw_p50, atol=1e-6)
    drivers = model.drivers(X.iloc[:5])
    items = json.loads(drivers[0])
    assert len(items) == 3 and {"feature", "value", "effect_days"} <= set(items[0])
    assert model.drivers(X.iloc[:5], max_rows=2)[2:] == [None, None, None]


def test_save_and_load_give_the_same_predictions(fitted, tmp_path):
    model, X, _ = fitted
    again = PaymentModel.load(model.save(tmp_path / "m"))
    a, b = model.predict(X, drivers=False), again.predict(X, drivers=False)
    assert np.allclose(a.select_dtypes("number"), b.select_dtypes("number"))


def test_recent_invoices_are_not_chosen_by_their_outcome(stationary):
    """Rows of invoices due less than the maturity ago are all left out, paid or not: keeping the
    paid ones would teach the model that the world pays early."""
    h, _, _ = stationary
    known = truncate_history(h, T)
    rows = issue_rows(known)
    y, ok, censored = labels_known_at(known, rows, T, 45)
    young = (rows["due_date"] > np.datetime64(T - dt.timedelta(days=45))).to_numpy()
    assert young.any() and not ok[young].any()
    assert censored[ok].sum() >= 0 and np.isfinite(y[ok]).all()


def test_calibration_moves_back_to_exact_labels_when_the_latest_are_censored():
    """The latest calibration period holds invoices still open (censored labels): it moves back to
    the last period whose labels are all exact (due 120 days before as-of, i.e. 75 days before the
    last usable due date at 45 days maturity); with no censoring the latest period stays."""
    from dataclasses import replace

    from ml.payment_model import _calibration_split

    when = np.arange(np.datetime64("2024-01-01"), np.datetime64("2025-01-01"))  # one row a day
    cfg = replace(FAST, calibration_days=60, maturity_days=45)
    censored = np.zeros(len(when), dtype=bool)
    fit_part, cal_part = _calibration_split(when, cfg, censored)
    assert when[cal_part].min() == np.datetime64("2024-12-31") - np.timedelta64(59, "D")
    assert (fit_part | cal_part).all()
    censored[-10:] = True  # 10 of the latest 60 rows still open
    fit_part, cal_part = _calibration_split(when, cfg, censored)
    assert when[cal_part].max() == np.datetime64("2024-12-31") - np.timedelta64(75, "D")
    assert cal_part.sum() == 60 and when[fit_part].max() < when[cal_part].min()
    assert not (fit_part | cal_part)[-75:].any() and not censored[cal_part].any()
    # not asked, or a history too short to move back: the latest period
    fit_part, cal_part = _calibration_split(when, replace(cfg, uncensored_calibration=False), censored)
    assert when[cal_part].max() == np.datetime64("2024-12-31")
    fit_part, cal_part = _calibration_split(when[-120:], cfg, censored[-120:])
    assert (fit_part | cal_part).all()


def test_interval_bounds_and_classifier_are_the_cheap_boosters(fitted):
    """Scoring cost: the bounds get a third of the rounds (conformal fixes their level), the P50
    more than the base recipe."""
    model, _, _ = fitted
    trees = {name: b.num_trees() for name, b in model.boosters.items()}
    assert trees["q10"] == trees["q90"] == round(FAST.num_boost_round / 3)
    assert trees["q50"] == round(FAST.num_boost_round * 4 / 3)
    assert trees["buckets"] == FAST.classifier_rounds * 5
