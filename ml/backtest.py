"""Rolling-origin backtest of the payment model against two baselines, with plots.

For each origin T (every ``step_days``, the last ``n_folds`` of them): train on what was known at the
end of T - 1, predict every invoice issued in [T, T + step) at its issue date, and compare with what
really happened. Baselines beside the model, on the same rows:

- ``due_date``: every invoice is paid on its due date (0 days late);
- ``customer_median``: the customer's median days late over the invoices it had paid by then (the
  training rows' median for a customer with no paid invoice yet).

Outcomes come from the history itself (an invoice counts once its outcome is settled: paid, or 120
days past due) or, for a simulated world, from its ground truth, which also knows the future payment
dates of invoices still open at the end. Days late are clipped to [-60, 120] for model, baselines
and truth alike.

Features are built once for all rows on the full history: a row's features only read facts known at
its own as-of date (``tests/ml/test_features.py`` proves it), so this is the same as rebuilding them
on a truncated history per fold, only faster.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from ml.features import (
    DAYS_LATE_CAP,
    DAYS_LATE_MIN,
    NEVER,
    FeatureContext,
    build_features,
    issue_rows,
    snapshot_rows,
    to_days,
)
from ml.history import InvoiceHistory
from ml.payment_model import (
    BUCKETS,
    ModelConfig,
    PaymentModel,
    bucket_of,
    fit_payment_model,
    on_payment_rhythm,
    training_rows,
)

# The customer-median baseline is also reported on the customer's payment rhythm (placed as the
# model's P50 is, ``payment_model.on_payment_rhythm``): what the model adds beyond landing on a run day.
METHODS = ("model", "baseline_due_date", "baseline_customer_median", "baseline_median_on_rhythm")
METRIC_COLUMNS = (
    "n",
    "mae",
    "rmse",
    "within_3d",
    "within_7d",
    "p10_p90_coverage",
    "auc_30_late",
    "pr_auc_30_late",
    "bucket_accuracy",
)
LATE_THRESHOLD = 30  # "paying 30+ days late": the event collectors act on


@dataclass
class BacktestResult:
    predictions: pd.DataFrame  # one row per test invoice: fold, truth, model and baseline predictions
    metrics: pd.DataFrame  # METHODS x METRIC_COLUMNS, pooled over the folds
    folds: pd.DataFrame  # the same per fold
    importance: pd.DataFrame
    config: ModelConfig
    origins: list[dt.date]
    info: dict = field(default_factory=dict)
    open_predictions: pd.DataFrame | None = None  # re-scoring: open invoices every 14 days of each fold
    open_metrics: pd.DataFrame | None = None

    def table(self) -> str:
        out = "At issue (each invoice predicted the day it is issued):\n" + format_metrics(self.metrics)
        if self.open_metrics is not None:
            out += (
                "\n\nRe-scoring open invoices (every 14 days; baselines told the invoice is still open):\n"
                + format_metrics(self.open_metrics)
            )
        return out

    def primary(self) -> dict:
        return self.metrics.loc["model"].to_dict()

    def metrics_json(self) -> dict:
        """Both metric tables as plain JSON (method -> metric -> value, None where undefined)."""

        def records(frame: pd.DataFrame | None) -> dict | None:
            if frame is None:
                return None
            return {
                m: {k: (None if pd.isna(v) else float(v)) for k, v in row.items()}
                for m, row in frame.iterrows()
            }

        return {"metrics": records(self.metrics), "rescoring_metrics": records(self.open_metrics)}


def outcomes_from_history(h: InvoiceHistory) -> pd.DataFrame:
    """Clipped days late of each invoice whose outcome is settled at the history's last date."""
    inv = h.invoices
    end = to_days(pd.Series([pd.Timestamp(h.last_date)]))[0]
    due, paid = to_days(inv["due_date"]), to_days(inv["paid_date"])
    res = inv["resolution"].to_numpy()
    y = np.full(len(inv), np.nan)
    ok = (res == "paid") & (paid < NEVER)
    y[ok] = paid[ok] - due[ok]
    lost = (res == "written_off") | ((res == "open") & (end - due >= DAYS_LATE_CAP))
    y[lost] = DAYS_LATE_CAP
    out = pd.DataFrame(
        {"invoice_id": inv["invoice_id"], "days_late": np.clip(y, DAYS_LATE_MIN, DAYS_LATE_CAP)}
    )
    return out.dropna().reset_index(drop=True)


def outcomes_from_ground_truth(path: Path) -> pd.DataFrame:
    """The simulator's ``invoice_outcomes.csv``: paid (with the future date for invoices open at
    as-of), never paid (the cap) or credited away (no payment to predict: left out)."""
    gt = pd.read_csv(
        path,
        dtype={"invoice_id": str, "resolution": str},
        usecols=["invoice_id", "due_date", "paid_date", "resolution"],
    )
    due = pd.to_datetime(gt["due_date"])
    paid = pd.to_datetime(gt["paid_date"])
    y = (paid - due).dt.days.astype("float64")
    y[gt["resolution"].isin(["never", "open_at_horizon"]) | (gt["resolution"].eq("paid") & paid.isna())] = (
        DAYS_LATE_CAP
    )
    y[gt["resolution"].eq("credited")] = np.nan
    out = pd.DataFrame(
        {"invoice_id": gt["invoice_id"], "days_late": np.clip(y, DAYS_LATE_MIN, DAYS_LATE_CAP)}
    )
    return out.dropna().reset_index(drop=True)


def default_origins(
    h: InvoiceHistory, *, n_folds: int, step_days: int, min_train_days: int, truth_known_to_end: bool
) -> list[dt.date]:
    """The last ``n_folds`` origins, ``step_days`` apart, ending where outcomes are still known."""
    last = h.last_date
    # Without outside truth, invoices issued in the last ~6 months have no settled outcome yet.
    test_end = last if truth_known_to_end else last - dt.timedelta(days=DAYS_LATE_CAP + 60)
    first_allowed = h.first_date + dt.timedelta(days=min_train_days)
    origins = [test_end - dt.timedelta(days=step_days * k) for k in range(n_folds, 0, -1)]
    origins = [o for o in origins if o >= first_allowed]
    if not origins:
        span = (last - h.first_date).days
        raise ValueError(
            f"the history spans {span} days ({h.first_date} to {last}); a backtest needs at least "
            f"{min_train_days} days of training history plus {step_days} days of test invoices"
            + (
                ""
                if truth_known_to_end
                else f" plus {DAYS_LATE_CAP + 60} days for their outcomes to be known"
            )
        )
    return origins


def rolling_backtest(
    h: InvoiceHistory,
    config: ModelConfig | None = None,
    *,
    outcomes: pd.DataFrame | None = None,
    origins: list[dt.date] | None = None,
    n_folds: int = 4,
    step_days: int = 61,
    min_train_days: int = 240,
    rescoring: bool = True,
    progress=None,
) -> BacktestResult:
    """Rolling-origin backtest. With ``rescoring``, the invoices open every 14 days inside each test
    window are also predicted (the daily use of the model), against baselines that know the invoice
    is still unpaid (a prediction earlier than tomorrow is moved to tomorrow)."""
    config = config or ModelConfig()
    say = progress or (lambda _m: None)
    started = time.perf_counter()
    truth_to_end = outcomes is not None
    if outcomes is None:
        outcomes = outcomes_from_history(h)
    if origins is None:
        origins = default_origins(
            h,
            n_folds=n_folds,
            step_days=step_days,
            min_train_days=min_train_days,
            truth_known_to_end=truth_to_end,
        )
    test_end = origins[-1] + dt.timedelta(days=step_days - 1)

    cand = training_rows(h, origins[-1] - dt.timedelta(days=1), config)
    test = issue_rows(h, start=origins[0], end=test_end)
    snap_dates = [
        d.date() for d in pd.date_range(pd.Timestamp(origins[0]), pd.Timestamp(test_end), freq="14D")
    ]
    snaps = snapshot_rows(h, snap_dates) if rescoring else test.iloc[:0]
    say(f"features for {len(cand):,} training, {len(test):,} test and {len(snaps):,} re-scoring rows")
    ctx = FeatureContext(h)
    X_cand = build_features(h, cand, ctx)
    X_test = build_features(h, test, ctx)
    X_snap = build_features(h, snaps, ctx)
    truth = outcomes.set_index("invoice_id")["days_late"]
    y_test = truth.reindex(test["invoice_id"]).to_numpy(dtype="float64")
    y_snap = truth.reindex(snaps["invoice_id"]).to_numpy(dtype="float64")

    preds, open_preds, fold_rows, last_model = [], [], [], None
    for k, origin in enumerate(origins):
        cut = origin - dt.timedelta(days=1)
        sel = (cand["as_of"] <= pd.Timestamp(cut)).to_numpy()
        model = fit_payment_model(
            h, cut, config, features=X_cand[sel].reset_index(drop=True), rows=cand[sel].reset_index(drop=True)
        )
        last_model = model
        nxt = origins[k + 1] if k + 1 < len(origins) else test_end + dt.timedelta(days=1)
        in_fold = (
            ((test["invoice_date"] >= pd.Timestamp(origin)) & (test["invoice_date"] < pd.Timestamp(nxt)))
            .to_numpy()
            .copy()
        )
        in_fold &= ~np.isnan(y_test)
        Xf = X_test[in_fold]
        due_days = to_days(test.loc[in_fold, "due_date"])
        p = model.predict(Xf, due_days=due_days, drivers=False)
        fallback = float(np.median(_train_labels(h, cand[sel], cut, config)))
        med = Xf["dl_median"].to_numpy()
        base = np.where(np.isnan(med), fallback, med)
        frame = pd.DataFrame(
            {
                "fold": k,
                "origin": origin,
                "invoice_id": test.loc[in_fold, "invoice_id"].to_numpy(),
                "customer_id": test.loc[in_fold, "customer_id"].to_numpy(),
                "invoice_date": test.loc[in_fold, "invoice_date"].to_numpy(),
                "days_late": y_test[in_fold],
                "p10": p["p10_days_late"].to_numpy(),
                "p50": p["p50_days_late"].to_numpy(),
                "p90": p["p90_days_late"].to_numpy(),
                "p_late_over_30": p["p_late_over_30"].to_numpy(),
                "bucket_pred": p["bucket"].to_numpy(),
                "baseline_due_date": np.zeros(in_fold.sum()),
                "baseline_customer_median": base,
                "baseline_median_on_rhythm": on_payment_rhythm(base, due_days, Xf, config),
            }
        )
        preds.append(frame)
        if rescoring:
            in_snap = (
                ((snaps["as_of"] >= pd.Timestamp(origin)) & (snaps["as_of"] < pd.Timestamp(nxt)))
                .to_numpy()
                .copy()
            )
            in_snap &= ~np.isnan(y_snap)
            # past the cap an invoice is lost whatever happens: nothing left to predict
            in_snap &= to_days(snaps["as_of"]) - to_days(snaps["due_date"]) < DAYS_LATE_CAP
            if in_snap.any():
                open_preds.append(
                    _open_frame(model, X_snap[in_snap], snaps[in_snap], y_snap[in_snap], k, fallback)
                )
        fm = _metrics_table(frame)
        fm.insert(0, "fold", k)
        fm.insert(1, "origin", origin)
        fold_rows.append(fm.reset_index(names="method"))
        say(
            f"fold {k + 1}/{len(origins)} origin {origin}: trained on {model.meta['train_rows']:,} rows in "
            f"{model.meta['fit_seconds']}s, MAE {fm.loc['model', 'mae']:.2f} vs median baseline "
            f"{fm.loc['baseline_customer_median', 'mae']:.2f}"
        )
    predictions = pd.concat(preds, ignore_index=True)
    open_predictions = pd.concat(open_preds, ignore_index=True) if open_preds else None
    return BacktestResult(
        open_predictions=open_predictions,
        open_metrics=_metrics_table(open_predictions) if open_predictions is not None else None,
        predictions=predictions,
        metrics=_metrics_table(predictions),
        folds=pd.concat(fold_rows, ignore_index=True),
        importance=last_model.feature_importance(),
        config=config,
        origins=list(origins),
        info={
            "seconds": round(time.perf_counter() - started, 1),
            "test_rows": int(len(predictions)),
            "test_rows_without_outcome": int(np.isnan(y_test).sum()),
            "outcomes": "ground truth" if truth_to_end else "history",
        },
    )


def _open_frame(
    model: PaymentModel, X: pd.DataFrame, rows: pd.DataFrame, y: np.ndarray, fold: int, fallback: float
) -> pd.DataFrame:
    from ml.scoring import still_open

    due_days = to_days(rows["due_date"])
    p = model.predict(X, due_days=due_days, drivers=False)
    # An invoice still open at the end of as_of is paid tomorrow at the earliest: the model's
    # quantiles get the same floor in scoring (scoring.py) as the baselines get here.
    floor = np.minimum(to_days(rows["as_of"]) + 1 - to_days(rows["due_date"]), DAYS_LATE_CAP).astype(
        "float64"
    )
    p = still_open(p, floor)
    med = X["dl_median"].to_numpy()
    base = np.where(np.isnan(med), fallback, med)
    return pd.DataFrame(
        {
            "fold": fold,
            "as_of": rows["as_of"].to_numpy(),
            "invoice_id": rows["invoice_id"].to_numpy(),
            "customer_id": rows["customer_id"].to_numpy(),
            "days_late": y,
            "p10": p["p10_days_late"].to_numpy(),
            "p50": p["p50_days_late"].to_numpy(),
            "p90": p["p90_days_late"].to_numpy(),
            "p_late_over_30": p["p_late_over_30"].to_numpy(),
            "bucket_pred": p["bucket"].to_numpy(),
            "baseline_due_date": np.maximum(0.0, floor),
            "baseline_customer_median": np.maximum(base, floor),
            "baseline_median_on_rhythm": np.maximum(
                on_payment_rhythm(base, due_days, X, model.config), floor
            ),
        }
    )


def _train_labels(h, rows, cut, config) -> np.ndarray:
    from ml.history import truncate_history
    from ml.payment_model import labels_known_at

    y, ok, _ = labels_known_at(truncate_history(h, cut), rows, cut, config.maturity_days)
    return y[ok] if ok.any() else np.zeros(1)


def payment_metrics(y, pred, *, lo=None, hi=None, score_30=None, bucket=None) -> dict:
    y = np.asarray(y, dtype="float64")
    pred = np.asarray(pred, dtype="float64")
    err = pred - y
    late = y > LATE_THRESHOLD
    score = pred if score_30 is None else np.asarray(score_30, dtype="float64")
    both = 0 < late.sum() < len(late)
    bucket_pred = bucket_of(pred) if bucket is None else np.asarray(bucket)
    return {
        "n": int(len(y)),
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "within_3d": float(np.mean(np.abs(err) <= 3)),
        "within_7d": float(np.mean(np.abs(err) <= 7)),
        "p10_p90_coverage": float(np.mean((y >= lo) & (y <= hi))) if lo is not None else np.nan,
        "auc_30_late": float(roc_auc_score(late, score)) if both else np.nan,
        "pr_auc_30_late": float(average_precision_score(late, score)) if both else np.nan,
        "bucket_accuracy": float(np.mean(bucket_of(y) == bucket_pred)),
    }


def _metrics_table(p: pd.DataFrame) -> pd.DataFrame:
    y = p["days_late"].to_numpy()
    bucket_index = {b: i for i, b in enumerate(BUCKETS)}
    rows = {
        "model": payment_metrics(
            y,
            p["p50"],
            lo=p["p10"],
            hi=p["p90"],
            score_30=p["p_late_over_30"],
            bucket=p["bucket_pred"].map(bucket_index).to_numpy(),
        ),
        "baseline_due_date": payment_metrics(y, p["baseline_due_date"]),
        "baseline_customer_median": payment_metrics(y, p["baseline_customer_median"]),
        "baseline_median_on_rhythm": payment_metrics(y, p["baseline_median_on_rhythm"]),
    }
    return pd.DataFrame(rows).T.loc[list(METHODS), list(METRIC_COLUMNS)]


def format_metrics(m: pd.DataFrame) -> str:
    """The model-vs-baselines table as people read it (days, shares as %)."""
    lines = [
        f"{'method':<26}{'n':>7}{'MAE':>7}{'RMSE':>7}{'±3d':>7}{'±7d':>7}{'P10-P90':>9}{'AUC30':>7}"
        f"{'PR-AUC30':>9}{'bucket':>8}"
    ]

    def pct(x):
        return "    -" if pd.isna(x) else f"{100 * x:5.1f}%"

    def num(x, w=7, nd=2):
        return f"{'-':>{w}}" if pd.isna(x) else f"{x:{w}.{nd}f}"

    for method, r in m.iterrows():
        lines.append(
            f"{method:<26}{int(r['n']):>7}{num(r['mae'])}{num(r['rmse'])}{pct(r['within_3d']):>7}"
            f"{pct(r['within_7d']):>7}{pct(r['p10_p90_coverage']):>9}{num(r['auc_30_late'], 7, 3)}"
            f"{num(r['pr_auc_30_late'], 9, 3)}{pct(r['bucket_accuracy']):>8}"
        )
    base = m.loc["baseline_customer_median", "mae"]
    if base and not pd.isna(base):
        lines.append(
            f"MAE vs customer-median baseline: {100 * (1 - m.loc['model', 'mae'] / base):+.1f}% better"
        )
    return "\n".join(lines)


# --- plots --------------------------------------------------------------------------------------------------


def backtest_plots(result: BacktestResult, out_dir: Path) -> list[Path]:
    """Calibration, residuals by bucket and feature importance, as PNG files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    p = result.predictions
    y = p["days_late"].to_numpy()
    paths = []

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.5))
    late = (y > LATE_THRESHOLD).astype(float)
    bins = np.linspace(0, 1, 11)
    idx = np.clip(np.digitize(p["p_late_over_30"], bins) - 1, 0, 9)
    mean_pred = [p["p_late_over_30"][idx == i].mean() if (idx == i).any() else np.nan for i in range(10)]
    observed = [late[idx == i].mean() if (idx == i).any() else np.nan for i in range(10)]
    a1.plot([0, 1], [0, 1], ls="--", c="grey")
    a1.plot(mean_pred, observed, marker="o")
    a1.set(title="P(paid 30+ days late): predicted vs observed", xlabel="predicted", ylabel="observed share")
    levels = [0.1, 0.5, 0.9]
    shares = [np.mean(y <= p["p10"]), np.mean(y <= p["p50"]), np.mean(y <= p["p90"])]
    a2.bar([str(x) for x in levels], shares, color="tab:blue", alpha=0.7, label="observed share below")
    a2.plot([str(x) for x in levels], levels, "k_", markersize=30, label="nominal")
    a2.set(title="Quantile calibration (P90 conformalized)", ylim=(0, 1))
    a2.legend()
    fig.tight_layout()
    paths.append(out_dir / "calibration.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(8, 4.5))
    b = bucket_of(y)
    data = [(p["p50"] - y)[b == i] for i in range(len(BUCKETS))]
    ax.boxplot([d if len(d) else [np.nan] for d in data], tick_labels=list(BUCKETS), showfliers=False)
    ax.axhline(0, c="grey", ls="--")
    ax.set(title="P50 residual (predicted - actual days late) by actual bucket", ylabel="days")
    fig.tight_layout()
    paths.append(out_dir / "residuals_by_bucket.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    imp = result.importance.head(20).iloc[::-1]
    fig, ax = plt.subplots(figsize=(8, 6))
    ax.barh(imp["feature"], imp["gain"])
    ax.set(title="Feature importance (gain, P50 model, last fold)")
    fig.tight_layout()
    paths.append(out_dir / "feature_importance.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    return paths


__all__ = [
    "BacktestResult",
    "rolling_backtest",
    "payment_metrics",
    "format_metrics",
    "backtest_plots",
    "outcomes_from_history",
    "outcomes_from_ground_truth",
    "PaymentModel",
]
