"""The two orchestration calls end to end on a simulated ERP world in DuckDB."""

from __future__ import annotations

import datetime as dt

import pytest

from ml.pipeline import NoChampionError, predict_payments, train_payment_model
from ml.risk import TIERS
from ml.scoring import PREDICTION_COLUMNS
from tests.ml.helpers import FAST

AS_OF = dt.date(2026, 11, 20)


@pytest.mark.slow
def test_train_then_predict(tiny_warehouse, tmp_path):
    con, _ = tiny_warehouse
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with pytest.raises(NoChampionError, match="train a payment model first"):
        predict_payments(con, AS_OF, uri=uri)
    trained = train_payment_model(
        con,
        AS_OF,
        uri=uri,
        config=FAST,
        backtest_kwargs={"n_folds": 1, "step_days": 30, "min_train_days": 120},
    )
    assert trained.promoted
    out = predict_payments(con, AS_OF, uri=uri)
    assert out.model_version == trained.model_version
    assert list(out.invoices.columns) == list(PREDICTION_COLUMNS) and len(out.invoices) > 10
    assert (out.invoices["model_version"] == trained.model_version).all()
    assert out.invoices["drivers"].notna().all()
    assert set(out.customers["tier"]) <= set(TIERS) and out.customers["customer_id"].is_unique
    assert out.credit_reviews["priority"].min() == 1
    assert (out.customers["model_name"] == trained.model_name).all()
