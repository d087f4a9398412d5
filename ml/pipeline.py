"""The two calls the orchestration makes: train (and maybe promote) a model, and predict with the champion.

Each takes a DuckDB connection holding the raw ERP tables and an as-of date, and returns plain
frames; writing them to the warehouse, materializing marts and recording metadata is the caller's
job (the Dagster assets stay thin).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

import pandas as pd

from ml.features import FeatureContext
from ml.history import invoice_history_from_warehouse
from ml.payment_model import ModelConfig
from ml.registry import CHAMPION, MODEL_NAME, TrainingOutcome, load_model, train_and_register
from ml.risk import credit_reviews, customer_risk
from ml.scoring import score_open_invoices

DEFAULT_MAX_EXPLAINED = 50_000  # SHAP drivers for the rows with the most money at risk (see scoring)


class NoChampionError(LookupError):
    """No model carries the @champion alias yet: train one first."""


@dataclass
class Predictions:
    invoices: pd.DataFrame  # fct_payment_predictions: one row per open invoice (scoring.PREDICTION_COLUMNS)
    customers: pd.DataFrame  # dim_customer_risk: one row per customer
    credit_reviews: pd.DataFrame  # rpt_credit_review_queue: one row per customer, ordered by priority
    model_name: str
    model_version: str
    timings: dict = field(default_factory=dict)


def train_payment_model(
    con,
    as_of: dt.date,
    *,
    uri: str | None = None,
    config: ModelConfig | None = None,
    backtest_kwargs: dict | None = None,
    progress=None,
) -> TrainingOutcome:
    """Backtest, fit, log and register a model on the warehouse's history; promote it if it wins."""
    h = invoice_history_from_warehouse(con, as_of)
    return train_and_register(
        h, as_of, config=config, uri=uri, backtest_kwargs=backtest_kwargs, progress=progress
    )


def predict_payments(
    con,
    as_of: dt.date,
    *,
    uri: str | None = None,
    model_name: str = MODEL_NAME,
    max_explained: int | None = DEFAULT_MAX_EXPLAINED,
) -> Predictions:
    """Score every open invoice with ``@champion``, then tier the customers and queue credit reviews."""
    from mlflow.exceptions import MlflowException

    t0 = time.perf_counter()
    try:
        model, name, version = load_model(model_name, CHAMPION, uri=uri)
    except MlflowException as e:
        raise NoChampionError(
            f"no '{model_name}@{CHAMPION}' in the model registry ({e.message.strip()}); "
            "train a payment model first"
        ) from None
    timings = {"load_model_s": round(time.perf_counter() - t0, 2)}
    t = time.perf_counter()
    h = invoice_history_from_warehouse(con, as_of)
    ctx = FeatureContext(h)
    timings["history_s"] = round(time.perf_counter() - t, 2)
    invoices = score_open_invoices(
        h,
        as_of,
        model,
        model_name=name,
        model_version=version,
        max_explained=max_explained,
        ctx=ctx,
        timings=timings,
    )
    t = time.perf_counter()
    risk = customer_risk(h, as_of, invoices, ctx=ctx)
    reviews = credit_reviews(risk)
    risk.attrs.clear()
    risk["model_name"], risk["model_version"] = name, version
    reviews["model_name"], reviews["model_version"] = name, version
    timings["risk_s"] = round(time.perf_counter() - t, 2)
    return Predictions(invoices, risk, reviews, name, version, timings)
