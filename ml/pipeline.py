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
from ml.history import (
    InvoiceHistory,
    customers_from_warehouse,
    invoice_counts,
    invoice_history_from_warehouse,
)
from ml.payment_model import ModelConfig
from ml.registry import CHAMPION, MODEL_NAME, TrainingOutcome, load_model, train_and_register
from ml.risk import credit_reviews, customer_drivers, customer_risk
from ml.scoring import explanation_order, score_open_invoices, score_without_drivers

DEFAULT_MAX_EXPLAINED = 50_000  # SHAP drivers for the rows with the most money at risk (see scoring)
# Scoring reads the history a block of whole customer families at a time once the ledger holds more
# invoices than this (OPENAR_SCORING_BLOCK_INVOICES moves it). Why: the feature streams of the whole
# history were held at once, 4.3 GB at three million invoices on top of the history's 2.5 GB, and
# grow with the ledger; a customer's features read only its own family's past, so blocks give the
# same predictions (tests/ml/test_pipeline_ml.py) with memory bounded by the block. Scoring the
# 2.9M-invoice bench world: peak 7.5 GB in one pass, 4.2 GB in two blocks (80 -> 93 s).
SCORING_BLOCK_INVOICES = 1_500_000
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
    parents = None
    if h.customers is not None and "parent_id" in h.customers:
        parents = h.customers.set_index(h.customers["customer_id"].astype(str))["parent_id"]
    counts = h.invoices["customer_id"].astype(str).value_counts()
    customers = sampled_customers(counts, parents, max_invoices, seed)

    def only(frame: pd.DataFrame | None) -> pd.DataFrame | None:
        if frame is None or "customer_id" not in frame:
            return frame
        return frame[frame["customer_id"].astype(str).isin(customers)].reset_index(drop=True)

    return replace(
        h,
        invoices=only(h.invoices),
        customers=only(h.customers),
        promises=only(h.promises),
        activities=only(h.activities),
        source=f"{h.source} (training sample: {len(customers):,} customers)",
    )


def sampled_customers(
    counts: pd.Series, parents: pd.Series | None, max_invoices: int, seed: int = 7
) -> set[str]:
    """The customers of :func:`training_sample`, from their invoice counts (customer -> invoices)
    and parents (customer -> parent id or None): whole families (a parent's children with it) drawn
    in a random order while their invoices stay within ``max_invoices``."""
    family = pd.Series(counts.index.astype(str), index=counts.index)
    if parents is not None:
        family = family.map(parents).fillna(family).astype(str)
    sizes = counts.groupby(family.to_numpy()).sum().sort_index()
    order = np.random.default_rng(seed).permutation(len(sizes))
    cumulative = sizes.iloc[order].cumsum()
    chosen = set(cumulative.index[cumulative <= max_invoices]) or {cumulative.index[0]}
    return set(counts.index[family.isin(chosen).to_numpy()].astype(str))


def training_history_from_warehouse(
    con, as_of: dt.date, max_invoices: int | None, seed: int = 7
) -> tuple[InvoiceHistory, int]:
    """``training_sample(invoice_history_from_warehouse(con, as_of), max_invoices)``, and the number of
    invoices of the whole history, without reading the whole history: the families are drawn from
    the invoice counts per customer, and only theirs are read (at three million invoices the whole
    history took 2.5 GB and 18 s to read, for a sample of 120,000)."""
    counts = invoice_counts(con, as_of)
    total = int(counts.sum())
    if max_invoices is None or total <= max_invoices:
        return invoice_history_from_warehouse(con, as_of), total
    master = customers_from_warehouse(con, as_of)
    parents = master.set_index(master["customer_id"].astype(str))["parent_id"]
    parents = parents[~parents.index.duplicated(keep="last")]
    customers = sampled_customers(counts, parents, max_invoices, seed)
    h = invoice_history_from_warehouse(con, as_of, sorted(customers))
    return replace(h, source=f"{h.source} (training sample: {len(customers):,} customers)"), total


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
    h, total = training_history_from_warehouse(con, as_of, max_invoices)
    if progress is not None and len(h.invoices) < total:
        progress(
            f"training on {len(h.invoices):,} of {total:,} invoices "
            f"(whole customer families drawn at random; the bound is {max_invoices:,})"
        )
    if backtest_kwargs is None:
        backtest_kwargs = backtest_plan(h)
    return train_and_register(
        h, as_of, config=config, uri=uri, backtest_kwargs=backtest_kwargs, progress=progress
    )


def customer_blocks(con, as_of: dt.date, max_invoices: int) -> list[list[str]]:
    """Every customer (of the master or with an invoice by ``as_of``) in blocks of whole families
    (a parent with all its descendants) of about ``max_invoices`` invoices, in customer order; one
    block when the ledger is no larger (a family larger than the bound is a block of its own)."""
    counts = invoice_counts(con, as_of)
    master = customers_from_warehouse(con, as_of)
    ids = sorted(set(master["customer_id"].astype(str)) | set(counts.index))
    if int(counts.sum()) <= max_invoices:
        return [ids]
    parent = {
        str(c): str(p)
        for c, p in zip(master["customer_id"], master["parent_id"], strict=True)
        if isinstance(p, str) and p and p != c
    }

    def root(c: str) -> str:
        seen = {c}
        while c in parent and parent[c] not in seen:
            c = parent[c]
            seen.add(c)
        return c

    n = counts.reindex(ids).fillna(0).to_numpy()
    families: dict[str, list[int]] = {}
    for i, c in enumerate(ids):
        families.setdefault(root(c), []).append(i)
    blocks: list[list[str]] = [[]]
    size = 0
    for members in families.values():
        k = int(n[members].sum())
        if blocks[-1] and size + k > max_invoices:
            blocks.append([])
            size = 0
        blocks[-1].extend(ids[i] for i in members)
        size += k
    return [sorted(b) for b in blocks]


def _master_ids(con, as_of: dt.date) -> list[str]:
    return customers_from_warehouse(con, as_of)["customer_id"].astype(str).tolist()


def predict_payments(
    con,
    as_of: dt.date,
    *,
    uri: str | None = None,
    model_name: str = MODEL_NAME,
    max_explained: int | None = DEFAULT_MAX_EXPLAINED,
    block_invoices: int | None = None,
    progress=None,
) -> Predictions:
    """Score every open invoice with ``@champion``, then tier the customers and queue credit reviews.

    On a ledger larger than ``block_invoices`` (default :data:`SCORING_BLOCK_INVOICES`) the history
    is read and scored a block of customer families at a time (:func:`customer_blocks`); the result
    is the same, row for row, and the drivers go to the rows with the most money at risk overall."""
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
    blocks = customer_blocks(con, as_of, block_invoices or SCORING_BLOCK_INVOICES)
    if len(blocks) > 1:
        return _predict_by_blocks(
            con,
            as_of,
            blocks,
            model,
            name,
            version,
            max_explained=max_explained,
            timings=timings,
            progress=progress,
        )
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
    risk, reviews = _reviewed(customer_risk(h, as_of, invoices, ctx=ctx), name, version)
    timings["risk_s"] = round(time.perf_counter() - t, 2)
    return Predictions(invoices, risk, reviews, name, version, timings)


def _predict_by_blocks(
    con, as_of, blocks, model, name, version, *, max_explained, timings, progress
) -> Predictions:
    """:func:`predict_payments` a block of customers at a time. Each block's history, feature
    streams and features live only while it is scored; what is kept of it: its predictions, its
    customers' risk rows and the features of the rows it could have to explain (its own
    ``max_explained`` first by money at risk: the overall first ones are among them)."""
    outs, risks, states, candidates = [], [], [], []
    for k in ("history_s", "features_s", "predict_s", "risk_s"):
        timings[k] = 0.0
    for b, customers in enumerate(blocks, start=1):
        t = time.perf_counter()
        h = invoice_history_from_warehouse(con, as_of, customers)
        ctx = FeatureContext(h)
        timings["history_s"] += time.perf_counter() - t
        part: dict = {}
        scored = score_without_drivers(
            h, as_of, model, model_name=name, model_version=version, ctx=ctx, timings=part
        )
        timings["features_s"] += part["features_s"]
        timings["predict_s"] += part["predict_s"]
        t = time.perf_counter()
        risk = customer_risk(h, as_of, scored.out, ctx=ctx)
        timings["risk_s"] += time.perf_counter() - t
        states.append(risk.attrs.pop("customer_features"))
        risks.append(risk)
        keep = explanation_order(scored.priority, max_explained)
        candidates.append(
            (scored.out["invoice_id"].to_numpy()[keep], scored.priority[keep], scored.X.iloc[keep])
        )
        outs.append(scored.out)
        del h, ctx, scored
        if progress is not None:
            progress(
                f"scoring block {b}/{len(blocks)}: {len(customers):,} customers, {len(outs[-1]):,} open invoices"
            )

    # the rows in the order one pass over the whole history gives: by invoice date, then id
    invoices = _concat_blocks(outs)
    invoices = invoices.sort_values(["invoice_date", "invoice_id"], kind="stable", ignore_index=True)
    t = time.perf_counter()
    ids = np.concatenate([c[0] for c in candidates])
    priority = np.concatenate([c[1] for c in candidates])
    X = pd.concat([c[2] for c in candidates], ignore_index=True)
    position = pd.Index(invoices["invoice_id"]).get_indexer(ids)
    by_position = np.argsort(position, kind="stable")
    chosen = by_position[explanation_order(priority[by_position], max_explained)]
    drivers = np.full(len(invoices), None, dtype=object)
    drivers[position[chosen]] = model.drivers(X.iloc[chosen])
    invoices["drivers"] = drivers
    timings["drivers_s"] = round(time.perf_counter() - t, 2)

    t = time.perf_counter()
    risk = _concat_blocks(risks)
    state = _concat_blocks(states)
    order = _customer_order(con, as_of, risk["customer_id"])
    risk = risk.iloc[order].reset_index(drop=True)
    risk["drivers"] = customer_drivers(invoices, risk["customer_id"].to_numpy(dtype=object))
    risk.attrs["customer_features"] = state.iloc[order].reset_index(drop=True)
    risk, reviews = _reviewed(risk, name, version)
    timings["risk_s"] += time.perf_counter() - t
    timings["blocks"] = len(blocks)
    for k in ("history_s", "features_s", "predict_s", "risk_s"):
        timings[k] = round(timings[k], 2)
    return Predictions(invoices, risk, reviews, name, version, timings)


def _reviewed(risk: pd.DataFrame, name: str, version: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The customers' risk (as ``customer_risk`` returns it) and their credit reviews, both stamped
    with the model; the customer state the reviews read is dropped from the risk frame."""
    reviews = credit_reviews(risk)
    risk.attrs.clear()
    risk["model_name"], risk["model_version"] = name, version
    reviews["model_name"], reviews["model_version"] = name, version
    return risk, reviews


def _concat_blocks(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The blocks' frames one under the other, each column with the type one frame would have: a
    text column all empty in one block is ``object`` there and ``str`` in the others."""
    out = pd.concat(frames, ignore_index=True)
    for c in out.columns:
        typed = {str(f[c].dtype): f[c].dtype for f in frames if f[c].dtype != object}
        if out[c].dtype == object and len(typed) == 1:
            out[c] = out[c].astype(next(iter(typed.values())))
    return out


def _customer_order(con, as_of: dt.date, customer_ids: pd.Series) -> np.ndarray:
    """Positions that put ``customer_ids`` in the order of one whole history's customers: the
    master's, then customers known only from their invoices, by id (``ml.history.normalize_history``)."""
    master = pd.Index(_master_ids(con, as_of))
    pos = master.get_indexer(customer_ids.astype(str))
    extra = customer_ids.astype(str).to_numpy()[pos < 0]
    rank = {c: i for i, c in enumerate(sorted(extra))}
    key = np.where(pos >= 0, pos, len(master) + np.array([rank.get(c, 0) for c in customer_ids.astype(str)]))
    return np.argsort(key, kind="stable")
