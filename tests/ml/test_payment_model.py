"""The payment model: calibrated intervals, coherent probabilities, drivers, persistence."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from ml.features import as_day, build_features, issue_rows
from ml.history import truncate_history
from ml.payment_model import (
    PROBABILITY_COLUMNS,
    ModelConfig,
    PaymentModel,
    fit_payment_model,
    impute_censored_labels,
    labels_known_at,
    on_payment_rhythm,
)
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


def test_censored_labels_become_the_median_outcome_of_invoices_as_late():
    """Resolved invoices (due 120+ days before the cut) paid 0, 10, ..., 120 days late, five of each;
    a censored label of 45 (still open 45 days past due) becomes the median of the forty at 50 to
    120: 90 (the upper median of an even count). Recent invoices (due less than 120 days before)
    are not a reference: the ones resolved among them are the early payers."""
    t = 1000
    y = np.array([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120] * 5 + [5.0, 45.0, 119.0])
    due = np.array([t - 200] * 65 + [t - 60, t - 60, t - 130])
    ok = np.ones(len(y), dtype=bool)
    censored = np.zeros(len(y), dtype=bool)
    censored[-2:] = True  # the 45 and the 119 are lower bounds
    out = impute_censored_labels(y, ok, censored, due, t)
    assert out[-2] == 90
    assert out[-1] == 120
    assert out[-3] == 5 and np.array_equal(out[:65], y[:65])  # exact labels untouched
    # too few resolved invoices to impute from: the lower bounds stay
    few = impute_censored_labels(y[-10:], ok[-10:], censored[-10:], due[-10:], t)
    assert np.array_equal(few, y[-10:])


def test_a_model_saved_before_the_trend_start_loads_without_it(fitted, tmp_path):
    """A model saved before ``trend_share_in_start`` / ``impute_censored`` existed was trained from the
    median alone: loaded now it must keep predicting from the median alone."""
    model, X, _ = fitted
    path = model.save(tmp_path / "old")
    spec = json.loads((path / "model.json").read_text())
    for k in ("trend_share_in_start", "impute_censored"):
        spec["config"].pop(k)
    (path / "model.json").write_text(json.dumps(spec))
    old = PaymentModel.load(path)
    assert old.config.trend_share_in_start == 0.0 and not old.config.impute_censored
    assert np.allclose(old._base(X), X["dl_median"].fillna(model.meta["base_fallback"]))
    assert model.config.trend_share_in_start > 0  # the new default does move the start


def _rhythm(days_late, due, **shares):
    """``on_payment_rhythm`` for one invoice due on ``due``: the predicted payment date."""
    F = pd.DataFrame(
        {
            "pay_wd_mode": [shares.get("mode", np.nan)],
            "pay_wd_share": [shares.get("weekday", np.nan)],
            "month_end_pay_share": [shares.get("month_end", 0.0)],
            "mid_month_pay_share": [shares.get("mid_month", 0.0)],
        }
    )
    due_day = as_day(due)
    late = on_payment_rhythm(np.array([days_late]), np.array([due_day]), F, ModelConfig())
    assert float(late[0]).is_integer()
    return due + dt.timedelta(days=int(late[0]))


def test_the_predicted_date_lands_on_the_customers_payment_rhythm():
    due = dt.date(2026, 3, 2)  # a Monday
    # no habit: money is booked on a weekday, the nearest one
    assert _rhythm(2.4, due) == dt.date(2026, 3, 4)
    assert _rhythm(5.2, due) == dt.date(2026, 3, 6)  # Saturday -> back to Friday
    assert _rhythm(6.0, due) == dt.date(2026, 3, 9)  # Sunday -> on to Monday
    # a customer whose receipts come on Tuesdays: the nearest Tuesday (Thursday -> back two days)
    assert _rhythm(3.0, due, mode=1, weekday=0.8) == dt.date(2026, 3, 3)
    assert _rhythm(5.0, due, mode=1, weekday=0.8) == dt.date(2026, 3, 10)  # Saturday -> 3 days on
    assert _rhythm(3.0, due, mode=1, weekday=0.5) == dt.date(2026, 3, 5)  # too weak a habit
    # month-end runs: the last weekday of the month, within the window either way
    assert _rhythm(23.0, due, month_end=0.7) == dt.date(2026, 3, 31)
    assert _rhythm(-3.0, due, month_end=0.7) == dt.date(2026, 2, 27)  # Friday, February's last weekday
    # 2026-03-13 is 18 days before March's run and 14 after February's: outside the window, a weekday
    assert _rhythm(11.0, due, month_end=0.7) == dt.date(2026, 3, 13)
    # mid-month runs: 2026-03-15 is a Sunday, the run is on Monday the 16th
    assert _rhythm(10.0, due, mid_month=0.5) == dt.date(2026, 3, 16)
    # both runs (semi-monthly): the nearest of the two
    assert _rhythm(25.0, due, mid_month=0.45, month_end=0.45) == dt.date(2026, 3, 31)
    assert _rhythm(17.0, due, mid_month=0.45, month_end=0.45) == dt.date(2026, 3, 16)
    # a run habit wins over a weekday habit
    assert _rhythm(23.0, due, mode=1, weekday=0.8, month_end=0.7) == dt.date(2026, 3, 31)


def test_predictions_with_due_dates_are_whole_days_on_the_rhythm(fitted, tmp_path):
    model, X, _ = fitted
    due = np.asarray([as_day(dt.date(2024, 7, 1)) + (i % 40) for i in range(len(X))], dtype="int64")
    plain = model.predict(X, drivers=False)
    placed = model.predict(X, due_days=due, drivers=False)
    p50 = placed["p50_days_late"].to_numpy()
    assert np.array_equal(p50, np.round(p50))
    weekday = (due + p50.astype("int64") + 3) % 7
    assert (weekday < 5).all()  # nobody's money is booked on a weekend
    assert (placed["p10_days_late"] <= placed["p50_days_late"]).all()
    assert (placed["p50_days_late"] <= placed["p90_days_late"]).all()
    assert not np.array_equal(plain["p50_days_late"].to_numpy(), p50)
    # the bucket probabilities do not depend on where the date is placed
    assert np.allclose(plain["p_late_over_30"], placed["p_late_over_30"])
    # a model saved before the rhythm existed keeps its continuous P50
    path = model.save(tmp_path / "old")
    spec = json.loads((path / "model.json").read_text())
    spec["config"].pop("payment_rhythm")
    (path / "model.json").write_text(json.dumps(spec))
    old = PaymentModel.load(path)
    assert np.allclose(old.predict(X, due_days=due, drivers=False)["p50_days_late"], plain["p50_days_late"])
