"""The grouped TreeSHAP equals LightGBM's pred_contrib, row for row, and explains each tree once per
path pattern rather than once per row."""

import json

import lightgbm as lgb
import numpy as np
import pytest

from ml import treeshap
from ml.treeshap import GROUPED_MIN_ROWS, tree_shap


def _data(n: int, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    amount = rng.lognormal(8, 1.2, n)
    days = rng.integers(-30, 120, n).astype("float64")
    share = rng.uniform(0, 1, n)
    share[rng.random(n) < 0.2] = np.nan  # missing values take the default direction
    zeros = np.where(rng.random(n) < 0.3, 0.0, rng.normal(5, 3, n))  # many exact zeros
    segment = rng.integers(0, 6, n).astype("float64")
    X = np.column_stack([amount, days, share, zeros, segment])
    y = 0.3 * days + 4 * np.log(amount) + 10 * np.nan_to_num(share) - 2 * zeros + 3 * (segment == 2)
    return X, y + rng.normal(0, 2, n)


def _train(params: dict, X: np.ndarray, y: np.ndarray, **kw) -> lgb.Booster:
    base = {"objective": "quantile", "alpha": 0.5, "num_leaves": 31, "verbose": -1, "num_threads": 1}
    return lgb.train({**base, **params}, lgb.Dataset(X, y, **kw), num_boost_round=40)


@pytest.mark.parametrize(
    "params, dataset",
    [
        ({}, {}),  # NaN as missing
        ({"zero_as_missing": True}, {}),  # zero (and NaN) as missing
        ({"use_missing": False}, {}),  # no missing handling: NaN taken as zero
        ({"cat_smooth": 1, "min_data_per_group": 5}, {"categorical_feature": [4]}),  # a categorical split
    ],
)
def test_equals_lightgbms_pred_contrib_row_for_row(params, dataset):
    X, y = _data(GROUPED_MIN_ROWS + 1_500)
    booster = _train(params, X, y, **dataset)
    expected = booster.predict(X, pred_contrib=True)
    got = tree_shap(booster, X)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
    if dataset:
        assert '"decision_type": "=="' in json.dumps(booster.dump_model()), "no categorical split was made"


def test_each_tree_is_explained_once_per_pattern(monkeypatch):
    """Far fewer rows than the batch go to pred_contrib, and every tree is asked once."""
    X, y = _data(GROUPED_MIN_ROWS * 2)
    X[:, 0] = np.round(np.log(X[:, 0]))  # amounts in a few bands: rows share patterns
    booster = _train({"num_leaves": 7}, X, y)
    asked: list[int] = []
    predict = booster.predict

    def counting(data, *a, **k):
        if k.get("pred_contrib"):
            asked.append(len(data))
        return predict(data, *a, **k)

    monkeypatch.setattr(booster, "predict", counting)
    got = tree_shap(booster, X)
    assert len(asked) == booster.num_trees()
    assert max(asked) < len(X) / 4
    np.testing.assert_allclose(got, predict(X, pred_contrib=True), rtol=0, atol=1e-9)


def test_rows_between_the_same_thresholds_share_a_pattern_and_no_others():
    splits = {0: ({1.0, 5.0}, False, False), 1: (set(), True, False), 2: ({0.5}, False, True)}
    columns = np.asfortranarray(
        np.array(
            [
                [0.5, 3.0, 2.0],  # a
                [1.0, 3.0, 2.0],  # same as a: 0.5 and 1.0 are both <= 1.0
                [1.5, 3.0, 2.0],  # other side of 1.0
                [np.nan, 3.0, 2.0],  # missing
                [0.5, 4.0, 2.0],  # another category
                [0.5, 3.0, 0.0],  # zero counts as missing on feature 2
                [0.5, 3.0, 0.4],  # same interval as zero, but not zero
            ]
        )
    )
    key = treeshap._patterns(columns, np.isnan(columns), splits)
    assert key[0] == key[1]
    assert len(set(key[[0, 2, 3, 4, 5, 6]].tolist())) == 6


def test_small_batches_go_straight_to_pred_contrib(monkeypatch):
    X, y = _data(GROUPED_MIN_ROWS - 1)
    booster = _train({}, X, y)
    monkeypatch.setattr(treeshap, "_patterns", lambda *a: pytest.fail("grouped a small batch"))
    np.testing.assert_allclose(tree_shap(booster, X), booster.predict(X, pred_contrib=True), rtol=0, atol=0)
