"""The rolling backtest: the model beats both baselines on a small world, with a margin."""

from __future__ import annotations

import numpy as np
import pytest

from ml.backtest import METHODS, backtest_plots, format_metrics, payment_metrics, rolling_backtest
from tests.ml.helpers import FAST


@pytest.fixture(scope="module")
def result(synthetic):
    h, _, outcomes = synthetic
    return rolling_backtest(h, FAST, outcomes=outcomes, n_folds=2, step_days=61)


def test_model_beats_the_baselines(result):
    m = result.metrics
    assert list(m.index) == list(METHODS)
    assert m.loc["model", "n"] > 300
    assert m.loc["model", "mae"] < 0.85 * m.loc["baseline_customer_median", "mae"]
    assert m.loc["model", "mae"] < 0.5 * m.loc["baseline_due_date", "mae"]
    # ... and the median placed on the customer's payment rhythm as the model's date is: the model's
    # gain is not the placement alone
    assert m.loc["model", "mae"] < 0.9 * m.loc["baseline_median_on_rhythm", "mae"]
    placed = result.predictions["baseline_median_on_rhythm"].to_numpy()
    assert np.array_equal(placed, np.round(placed))
    assert np.array_equal(
        result.predictions["p50"].to_numpy(), np.round(result.predictions["p50"].to_numpy())
    )
    assert m.loc["model", "auc_30_late"] > m.loc["baseline_customer_median", "auc_30_late"] + 0.05
    assert 0.65 <= m.loc["model", "p10_p90_coverage"] <= 0.95
    # re-scoring open invoices: the model knows how overdue they are already
    assert (
        result.open_metrics.loc["model", "mae"] < result.open_metrics.loc["baseline_customer_median", "mae"]
    )


def test_folds_are_in_time_order_and_never_train_on_their_test(result):
    p = result.predictions
    assert sorted(p["fold"].unique()) == [0, 1]
    for k, origin in enumerate(result.origins):
        assert (p.loc[p["fold"] == k, "invoice_date"] >= np.datetime64(origin)).all()
    assert set(result.folds["method"]) == set(METHODS)


def test_plots_and_table(result, tmp_path):
    paths = backtest_plots(result, tmp_path)
    assert [p.name for p in paths] == ["calibration.png", "residuals_by_bucket.png", "feature_importance.png"]
    assert all(p.stat().st_size > 10_000 for p in paths)
    table = format_metrics(result.metrics)
    assert "baseline_customer_median" in table and "MAE vs customer-median baseline" in table


@pytest.mark.parametrize(
    "y, pred, mae, within3, bucket",
    [
        ([0, 10, 40], [0, 10, 40], 0.0, 1.0, 1.0),
        ([0, 10, 40], [3, 14, 20], 9.0, 1 / 3, 1 / 3),  # 3 is late (1-30) unlike 0; 20 is 1-30, 40 is 31-60
    ],
)
def test_metrics_by_hand(y, pred, mae, within3, bucket):
    m = payment_metrics(y, pred)
    assert m["mae"] == pytest.approx(mae)
    assert m["within_3d"] == pytest.approx(within3)
    assert m["bucket_accuracy"] == pytest.approx(bucket)
    assert m["auc_30_late"] == pytest.approx(1.0)
