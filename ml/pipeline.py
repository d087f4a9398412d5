"""The two calls the orchestration makes: train (and maybe promote) a model, and predict with the champion.

Each takes a DuckDB connection holding the raw ERP tables and an as-of date, and returns plain
frames; writing them to the warehouse, materializing marts and recording metadata is the caller's
job (the Dagster assets stay thin).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from ml.features import DAYS_LATE_CAP, FeatureContext
from ml.history import InvoiceHistory, invoice_history_from_warehouse
from ml.payment_model import ModelConfig
from ml.registry import CHAMPION, MODEL_NAME, TrainingOutcome, load_model, train_and_register
from ml.risk import credit_reviews, customer_risk
from ml.scoring import score_open_invoices

DEFAULT_MAX_EXPLAINED = 50_000  # SHAP drivers for the rows with the most money at risk (see scoring)
# A champion trained on data older than this is replaced by a fresh fit (if the fit wins the
# backtest): four weeks of new settlements move a customer's habit, a day's do not.
RETRAIN_EVERY_DAYS = 28
# The rolling backtests tried in turn, the first the history is long enough for: the full one
# (4 folds two months apart after 8 months of training), then a single month-long fold after 4
# months, so a fresh install with a year of history still gets a measured, registered model.
BACKTEST_PLANS: tuple[dict, ...] = (
    {"n_folds": 4, "step_days": 61, "min_train_days": 240},
    {"n_folds": 1, "step_days": 30, "min_train_days": 120},
)


# Training (the rolling backtest and the final fit) reads at most this many invoices: whole customer
# families drawn at random, so every sampled customer keeps its full history and its parent's. A
# customer's habits are learned from its own past, which the sample keeps; more customers of the same
# kinds add little. Without a bound, training cost grows with the ledger (about 60 CPU-s at 20,000
# invoices) and would dominate the daily run at a million (OPENAR_TRAINING_MAX_INVOICES moves it).
# Scoring always covers every open invoice.
TRAINING_MAX_INVOICES = 120_000


def training_sample(h: InvoiceHistory, max_invoices: int | None, seed: int = 7) -> InvoiceHistory:
    """``h`` restricted to randomly drawn whole customer families of about ``max_invoices`` invoices."""
    if max_invoices is None or len(h.invoices) <= max_invoices:
        return h
    family = h.invoices["customer_id"].astype(str)
    if h.customers is not None and "parent_id" in h.customers:
        parents = h.customers.set_index(h.customers["customer_id"].astype(str))["parent_id"]
        family = family.map(parents).fillna(family).astype(str)
    sizes = family.value_counts().sort_index()
    order = np.random.default_rng(seed).permutation(len(sizes))
    cumulative = sizes.iloc[order].cumsum()
    chosen = set(cumulative.index[cumulative <= max_invoices]) or {cumulative.index[0]}
    keep_invoice = family.isin(chosen)
    customers = set(h.invoices.loc[keep_invoice, "customer_id"].astype(str))

    def only(frame: pd.DataFrame | None) -> pd.DataFrame | None:
        if frame is None or "customer_id" not in frame:
            return frame
        return frame[frame["customer_id"].astype(str).isin(customers)].reset_index(drop=True)

    return replace(
        h,
        invoices=h.invoices[keep_invoice].reset_index(drop=True),
        customers=only(h.customers),
        promises=only(h.promises),
        activities=only(h.activities),
        source=f"{h.source} (training sample: {len(customers):,} customers)",
    )


class NoChampionError(LookupError):
    """No model carries the @champion alias yet: train one first."""


class HistoryTooShortError(ValueError):
    """The invoice history is too short to train and measure a model."""


@dataclass
class Predictions:
    invoices: pd.DataFrame  # fct_payment_predictions: one row per open invoice (scoring.PREDICTION_COLUMNS)
    customers: pd.DataFrame  # dim_customer_risk: one row per customer
    credit_reviews: pd.DataFrame  # rpt_credit_review_queue: one row per customer, ordered by priority
    model_name: str
    model_version: str
    timings: dict = field(default_factory=dict)


def backtest_plan(h: InvoiceHistory) -> dict:
    """The largest of ``BACKTEST_PLANS`` the history spans (outcomes need ``DAYS_LATE_CAP`` + 60
    days to be known without outside truth); a clear error when none fits."""
    span = (h.last_date - h.first_date).days
    for plan in BACKTEST_PLANS:
        if span >= plan["min_train_days"] + plan["step_days"] + DAYS_LATE_CAP + 60:
            return dict(plan)
    smallest = BACKTEST_PLANS[-1]
    need = smallest["min_train_days"] + smallest["step_days"] + DAYS_LATE_CAP + 60
    raise HistoryTooShortError(
        f"the invoice history spans {span} days ({h.first_date} to {h.last_date}); training a payment "
        f"model needs at least {need} days (training, a test month and time for its outcomes)"
    )


def training_decision(
    champion: dict | None, as_of: dt.date, *, retrain: bool = False, every_days: int = RETRAIN_EVERY_DAYS
) -> tuple[bool, str]:
    """Whether a run at ``as_of`` fits a new model, and why: none registered yet, asked to, or the
    champion's data is ``every_days`` or more older than ``as_of``."""
    if champion is None:
        return True, "no champion yet"
    if retrain:
        return True, "retrain requested"
    trained = champion.get("trained_as_of")
    if trained is None:
        return True, f"champion version {champion['model_version']} records no training date"
    age = (as_of - trained).days
    if age >= every_days:
        return True, f"champion version {champion['model_version']} was trained on data {age} days old"
    return False, (
        f"champion version {champion['model_version']} trained as of {trained.isoformat()} "
        f"({max(age, 0)} days, retrain after {every_days})"
    )


def train_payment_model(
    con,
    as_of: dt.date,
    *,
    uri: str | None = None,
    config: ModelConfig | None = None,
    backtest_kwargs: dict | None = None,
    progress=None,
    max_invoices: int | None = TRAINING_MAX_INVOICES,
) -> TrainingOutcome:
    """Backtest, fit, log and register a model on the warehouse's history (at most ``max_invoices``
    of it, see :func:`training_sample`); promote it if it wins."""
    full = invoice_history_from_warehouse(con, as_of)
    h = training_sample(full, max_invoices)
    if progress is not None and h is not full:
        progress(
            f"training on {len(h.invoices):,} of {len(full.invoices):,} invoices "
            f"(whole customer families drawn at random; the bound is {max_invoices:,})"
        )
    if backtest_kwargs is None:
        backtest_kwargs = backtest_plan(h)
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
