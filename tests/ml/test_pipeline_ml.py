"""The two orchestration calls end to end on a simulated ERP world in DuckDB."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from ml.pipeline import NoChampionError, customer_blocks, predict_payments, train_payment_model
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

    # a large ledger is scored a block of customer families at a time: the same rows, digit for digit,
    # and the drivers on the same rows (those with the most money at risk overall)
    whole = predict_payments(con, AS_OF, uri=uri, max_explained=25)
    blocks = customer_blocks(con, AS_OF, 300)
    assert len(blocks) >= 3 and sum(map(len, blocks)) == len(set().union(*blocks))
    by_blocks = predict_payments(con, AS_OF, uri=uri, max_explained=25, block_invoices=300)
    assert by_blocks.timings["blocks"] == len(blocks) and "blocks" not in whole.timings
    assert whole.invoices["drivers"].notna().sum() == 25
    pd.testing.assert_frame_equal(by_blocks.invoices, whole.invoices)
    pd.testing.assert_frame_equal(by_blocks.customers, whole.customers)
    pd.testing.assert_frame_equal(by_blocks.credit_reviews, whole.credit_reviews)
