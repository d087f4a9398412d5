"""Champion/challenger on a real MLflow sqlite store: only a better model takes @champion."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pandas as pd
import pytest

from ml.features import feature_names
from ml.history import truncate_history
from ml.registry import CHALLENGER, CHAMPION, challenger_wins, load_model, train_and_register
from ml.scoring import PREDICTION_COLUMNS, score_open_invoices
from tests.ml.helpers import FAST, synthetic_history

AS_OF = dt.date(2024, 9, 30)
GOOD = replace(FAST, num_boost_round=30)
BACKTEST = {"n_folds": 1, "step_days": 61, "rescoring": False}
# A weak recipe: no customer history at all, two rounds.
WEAK = replace(
    FAST,
    num_boost_round=2,
    classifier_rounds=2,
    start_from_customer_median=False,
    exclude_features=tuple(f for f in feature_names() if f not in ("amount_log", "terms_days")),
)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture(scope="module")
def world():
    return synthetic_history(n_customers=20, days=640, seed=8, deteriorating_share=0.1)


def test_champion_challenger(store, world):
    from mlflow import MlflowClient

    h, _, outcomes = world
    client = MlflowClient(store, store)

    first = train_and_register(h, AS_OF, config=WEAK, uri=store, outcomes=outcomes, backtest_kwargs=BACKTEST)
    assert first.promoted and first.reason == "no champion yet"

    good = train_and_register(h, AS_OF, config=GOOD, uri=store, outcomes=outcomes, backtest_kwargs=BACKTEST)
    assert good.promoted, good.reason
    assert good.metrics["mae"] < first.metrics["mae"]
    assert str(client.get_model_version_by_alias(good.model_name, CHAMPION).version) == good.model_version

    # A worse recipe on a history that changed since the champion was measured: the champion's
    # recipe is re-run on the very same folds before the comparison.
    shifted = truncate_history(h, AS_OF - dt.timedelta(days=7))
    worse = train_and_register(
        shifted,
        AS_OF - dt.timedelta(days=7),
        config=WEAK,
        uri=store,
        outcomes=outcomes,
        backtest_kwargs=BACKTEST,
    )
    assert not worse.promoted
    assert "not below the champion" in worse.reason
    assert worse.champion_metrics["mae"] < worse.metrics["mae"]
    assert str(client.get_model_version_by_alias(good.model_name, CHAMPION).version) == good.model_version
    assert str(client.get_model_version_by_alias(good.model_name, CHALLENGER).version) == worse.model_version
    tags = client.get_model_version(good.model_name, worse.model_version).tags
    assert tags["promotion"].startswith("kept out")

    # the run carries the backtest and its plots
    artifacts = {a.path for a in client.list_artifacts(good.run_id, "plots")}
    assert artifacts == {
        "plots/calibration.png",
        "plots/residuals_by_bucket.png",
        "plots/feature_importance.png",
    }
    assert {a.path for a in client.list_artifacts(good.run_id, "backtest")} >= {
        "backtest/backtest_metrics.csv",
        "backtest/backtest_table.txt",
    }
    assert client.get_run(good.run_id).data.metrics["baseline_customer_median.mae"] > 0

    # scoring loads @champion and stamps every row with its name and version
    model, name, version = load_model(good.model_name, CHAMPION, uri=store)
    assert (name, version) == (good.model_name, good.model_version)
    scored = score_open_invoices(h, AS_OF, model, model_name=name, model_version=version)
    assert len(scored) > 20 and list(scored.columns) == list(PREDICTION_COLUMNS)
    assert (scored["model_version"] == good.model_version).all() and (scored["model_name"] == name).all()
    assert (
        scored["p50_pay_date"].dropna() > pd.Timestamp(AS_OF)
    ).all()  # open at as-of: paid tomorrow at the earliest


@pytest.mark.parametrize(
    "challenger, champion, wins",
    [
        (
            {"mae": 9.0, "p10_p90_coverage": 0.80, "auc_30_late": 0.80},
            {"mae": 10.0, "p10_p90_coverage": 0.8, "auc_30_late": 0.8},
            True,
        ),
        (
            {"mae": 10.0, "p10_p90_coverage": 0.80, "auc_30_late": 0.80},
            {"mae": 10.0, "p10_p90_coverage": 0.8, "auc_30_late": 0.8},
            False,
        ),  # a tie keeps
        (
            {"mae": 9.0, "p10_p90_coverage": 0.65, "auc_30_late": 0.80},
            {"mae": 10.0, "p10_p90_coverage": 0.8, "auc_30_late": 0.8},
            False,
        ),  # bad interval
        (
            {"mae": 9.0, "p10_p90_coverage": 0.80, "auc_30_late": 0.70},
            {"mae": 10.0, "p10_p90_coverage": 0.8, "auc_30_late": 0.8},
            False,
        ),  # worse ranking
    ],
)
def test_promotion_rule(challenger, champion, wins):
    assert challenger_wins(challenger, champion)[0] is wins
