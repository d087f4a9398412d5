"""Scoring candidate allocations: a LightGBM ranker with calibrated confidence and a backtested threshold.

Training rows are the candidates the engine generated for past payments, labelled by what was
confirmed (the application that was auto-applied and not reversed, accepted, or entered by a person
in a correction). A candidate is right when it applies the same cash to the same items.

Time order is kept throughout. The training payments are cut by date into ``FOLDS`` chunks; for each
chunk after the first, a model fitted on the chunks before it scores it (an expanding-window
backtest). Those out-of-fold scores, which no model saw in training, are what the confidence is
calibrated on and what the auto-apply threshold is chosen on:

- the raw scores of one payment's candidates are normalized to sum to at most one (candidates are
  mutually exclusive: at most one is the truth), then mapped to a probability by isotonic
  regression (scikit-learn) fitted on every out-of-fold candidate;
- the threshold is the lowest calibrated confidence at which the payments whose best candidate
  reaches it were right at least ``target_precision`` of the time in the backtest, and never below
  ``min_auto_confidence``; chosen once over all payments and again per method group (amount
  explained exactly / closed within a tolerance / leaving a residual), each group using the stricter.

The final model is refitted on all training payments; the calibration and threshold measured on the
backtest carry over (a model fitted on more data is, if anything, better ranked).

Training rows are the first candidates of every payment and, down-weighted (``SECOND_LOOK_WEIGHT``),
the second look's candidates of the payments that were suggested (``Generator.expand``): the model
learns to rank a specialist's proposals from them; calibration and threshold use first candidates only.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ml.cashapp.candidates import METHOD_CODE
from ml.cashapp.features import CATEGORICAL, FEATURES
from ml.cashapp.rules import Rules

FOLDS = 4
MODEL_NAME = "openar-cashapp-scorer"
EXPERIMENT = "openar-cashapp"
PARAMS = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_data_in_leaf": 20,
    "feature_fraction": 0.9,
    "bagging_fraction": 0.9,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "num_threads": 1,  # measured: 2 threads on a shared 2-core machine train 9x slower (OpenMP spinning)
    "seed": 7,
    "deterministic": True,
    "force_col_wise": True,
    "verbose": -1,
}
ROUNDS = 300
# Candidates that explain the amount exactly, close it within a tolerance, or leave a residual (part
# of an item open, money on account) fail in different ways and different numbers (Candidate.group),
# so each group gets its own threshold from the backtest; a group too rare to measure gets the
# global threshold but never below RARE_GROUP_FLOOR.
GROUPS = ("explained", "tolerance", "residual")
MIN_GROUP_PAYMENTS = 30
RARE_GROUP_FLOOR = 0.995
# Weight of a second look's candidate (``Generator.expand``, proposed for suggested payments only) as a
# training row, against 1 for a first candidate. The model learns from them how a specialist's
# proposals (instalment mixes, runs closed short) rank against each other: trained on first candidates
# only, it ranked the right one of them below the top 3 on payments a specialist found. Down-weighted
# because they come from a few hard payments (up to 8 rows each, candidates.MAX_EXTRA) and would
# otherwise reshape how the first candidates score, which is what is applied automatically. Measured with
# ``openar bench cashapp --no-mlflow --world W`` on four simulated worlds (the default, the bench's
# seed 42, seeds 1 and 2), suggested payments whose top 3 missed the truth, all worlds together:
# weight 0 (first candidates only) 70, 0.1: 66, 0.3: 65, 0.5: 69, 1: 68. Auto-match on the seed-42
# and default worlds 98.57 / 98.64 % at weight 0, 98.72 / 98.69 % at 0.3; precision 99.96 / 99.88 %
# and 99.93 / 99.88 %.
SECOND_LOOK_WEIGHT = 0.3


def normalize_by_payment(raw: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Scores divided by their payment's total when that exceeds one (``groups``: payment index per row,
    non-decreasing)."""
    if len(raw) == 0:
        return raw
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    sums = np.add.reduceat(raw, starts)
    counts = np.diff(np.r_[starts, len(raw)])
    denom = np.repeat(np.maximum(sums, 1.0), counts)
    return raw / denom


@dataclass
class Scorer:
    """Something that turns candidate features into calibrated confidences."""

    version: str = "heuristic"
    threshold: float = 0.97
    group_thresholds: dict[str, float] = field(default_factory=dict)  # method group -> threshold
    booster: object | None = None  # lightgbm.Booster (imported only where models are fitted or loaded)
    iso_x: list[float] = field(default_factory=list)
    iso_y: list[float] = field(default_factory=list)
    metrics: dict = field(default_factory=dict)

    def raw(self, X: np.ndarray) -> np.ndarray:
        if self.booster is None:
            return _heuristic(X)
        return self.booster.predict(X, num_threads=1)

    def calibrate(self, q: np.ndarray) -> np.ndarray:
        if not self.iso_x:
            return q
        return np.interp(q, self.iso_x, self.iso_y)

    def confidence(self, X: np.ndarray, groups: np.ndarray) -> np.ndarray:
        return self.confidence_from_raw(self.raw(X), groups)

    def confidence_from_raw(self, raw: np.ndarray, groups: np.ndarray) -> np.ndarray:
        if self.booster is None:
            return raw  # the heuristic's rules are already stated as confidences
        return self.calibrate(normalize_by_payment(raw, groups))

    def confidence_extra(
        self, raw: np.ndarray, groups: np.ndarray, raw_extra: np.ndarray, groups_extra: np.ndarray
    ) -> np.ndarray:
        """Confidences of a second look's candidates (``Generator.expand``; ``raw_extra``: their raw
        scores, ``groups_extra``: the payment index of each, into ``groups``' numbering), on the scale
        of their payment's first candidates (``raw``: those's raw scores): divided by the same
        per-payment total as those (:func:`normalize_by_payment`), so the first candidates'
        confidences, and what was decided on them, stay as they were."""
        if len(raw_extra) == 0:
            return np.zeros(0)
        if self.booster is None:
            return raw_extra
        sums = np.zeros(int(max(groups.max(initial=-1), groups_extra.max(initial=-1))) + 1)
        np.add.at(sums, groups, raw)
        return self.calibrate(raw_extra / np.maximum(sums[groups_extra], 1.0))

    def threshold_for(self, group: str) -> float:
        return self.group_thresholds.get(group, self.threshold)

    def calibration_dict(self) -> dict:
        return {
            "threshold": self.threshold,
            "group_thresholds": self.group_thresholds,
            "iso_x": self.iso_x,
            "iso_y": self.iso_y,
            "features": list(FEATURES),
            "metrics": self.metrics,
        }


_F = {name: i for i, name in enumerate(FEATURES)}


def _heuristic(X: np.ndarray) -> np.ndarray:
    """Cold-start confidence, before any model is trained (rules a cash-application clerk would sign):

    - the amount is explained exactly (every item closed, nothing left over) by the advice's lines
      or by invoices the payer named: 0.99;
    - explained exactly by one open item or set from a payer recognised by its bank account (master
      or confirmed history) or a name it paid under before, with no other exact explanation and no
      other open item of the same amount: 0.98;
    - anything else ranks lower the more it leaves open or unexplained, never above 0.9; a set of
      items closed by an unexplained deduction (method ``deduction``) never above 0.3.
    """
    if len(X) == 0:
        return np.zeros(0)
    f = lambda n: X[:, _F[n]]  # noqa: E731
    known = (f("acct_master") + (f("acct_seen") > 0) + f("alias")) > 0
    exact = (f("unapplied_share") == 0) & (f("full_share") == 1) & (f("writeoff") == 0)
    unique = (f("n_exact") <= 1) & (f("same_amount") == 0)
    named = (f("strong_ref_share") == 1) & ((f("named_cover") == 1) | (f("remit_cover") == 1))
    remit_ok = (f("remit_agree_share") == 1) & (f("remit_cover") == 1)
    s = 0.1 + 0.35 * exact + 0.15 * known + 0.15 * f("strong_ref_share") + 0.1 * unique
    s -= 0.2 * f("unapplied_share") + 0.1 * (f("partial_items") > 0) + 0.1 * (f("discount_earned") == 0)
    s = np.clip(s, 0.0, 0.9)
    s = np.where(exact & known & unique & (f("discount_earned") != 0), 0.98, s)
    s = np.where(exact & (named | remit_ok) & (f("discount_earned") != 0), 0.99, s)
    s = np.where(f("method") == METHOD_CODE["on_account"], 0.02, s)
    # an unexplained deduction closes its items only by assuming the customer's claim: never "exact"
    s = np.where(f("method") == METHOD_CODE["deduction"], np.minimum(s, 0.3), s)
    return s


def _train(X: np.ndarray, y: np.ndarray, rounds: int = ROUNDS, weight: np.ndarray | None = None):
    import lightgbm as lgb

    cat = [FEATURES.index(c) for c in CATEGORICAL]
    ds = lgb.Dataset(
        X, label=y, weight=weight, feature_name=list(FEATURES), categorical_feature=cat, free_raw_data=True
    )
    return lgb.train(PARAMS, ds, num_boost_round=rounds)


def choose_threshold(
    conf: np.ndarray, correct: np.ndarray, eligible: np.ndarray, target: float, floor: float
):
    """Lowest confidence whose payments (best candidate at or above it, eligible for auto-apply) were
    right at least ``target`` of the time. Returns (threshold, auto rate, precision) on this backtest."""
    n = len(conf)
    if n == 0:
        return 1.0, 0.0, 1.0
    c = np.where(eligible, conf, -1.0)
    order = np.argsort(-c, kind="stable")
    cs, ok = c[order], correct[order].astype(float)
    hits = np.cumsum(ok)
    k = np.arange(1, n + 1)
    prec = hits / k
    best_t, best_k = 1.0, 0
    # evaluate only at the last index of each run of equal confidence (ties go together)
    last = np.r_[cs[1:] != cs[:-1], True]
    for i in np.flatnonzero(last):
        if cs[i] < 0 or cs[i] < floor:
            break
        if prec[i] >= target:
            best_t, best_k = float(cs[i]), int(i + 1)
    if best_k == 0:
        return max(1.0, floor), 0.0, 1.0
    return best_t, best_k / n, float(prec[best_k - 1])


def fit_scorer(
    X: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    days: np.ndarray,
    eligible: np.ndarray,
    kinds: np.ndarray,
    rules: Rules,
    *,
    rounds: int = ROUNDS,
    first: np.ndarray | None = None,
) -> Scorer:
    """Fit the scorer on candidate rows (``groups``: payment index per row, rows grouped by payment in
    time order; ``days``: the payment's date ordinal per row; ``eligible``: the row's method may be
    auto-applied; ``kinds``: the row's ``Candidate.group``; ``first``: the row is one of its payment's
    first candidates, not a second look's, default all).

    The model learns from every row. The calibration and the threshold are fitted on first candidates
    only: they are what the engine decides on, normalized among themselves (a second look's candidates
    are scored on their scale, see ``Scorer.confidence_extra``)."""
    from sklearn.isotonic import IsotonicRegression

    started = time.perf_counter()
    y = y.astype(np.float64)
    pay_days = np.unique(days)
    cuts = np.quantile(pay_days, np.linspace(0, 1, FOLDS + 1)[1:-1]) if len(pay_days) > FOLDS else []
    fold = np.searchsorted(np.asarray(cuts), days, side="right")
    oof = np.full(len(y), np.nan)
    weight = None if first is None else np.where(first.astype(bool), 1.0, SECOND_LOOK_WEIGHT)
    for k in range(1, FOLDS):
        tr, te = fold < k, fold == k
        if tr.sum() < 50 or te.sum() == 0 or y[tr].sum() < 5:
            continue
        b = _train(X[tr], y[tr], rounds, None if weight is None else weight[tr])
        oof[te] = b.predict(X[te], num_threads=PARAMS["num_threads"])
    have = ~np.isnan(oof)
    if first is not None:
        have &= first.astype(bool)
    q = np.zeros(len(y))
    if have.any():
        q[have] = normalize_by_payment(oof[have], groups[have])
    scorer = Scorer(version="unregistered")
    if have.sum() >= 100:
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip", increasing=True)
        iso.fit(q[have], y[have])
        scorer.iso_x = [float(v) for v in iso.X_thresholds_]
        scorer.iso_y = [float(v) for v in iso.y_thresholds_]
        conf = scorer.calibrate(q)
        # payment-level: best candidate of each out-of-fold payment
        idx = np.flatnonzero(have)
        g = groups[idx]
        order = np.lexsort((-conf[idx], g))
        best = np.r_[True, g[order][1:] != g[order][:-1]]
        top = idx[order[best]]
        target, floor = float(rules.target_precision), float(rules.min_auto_confidence)
        ct, ok, el = conf[top], y[top] > 0, eligible[top]
        t, _, _ = choose_threshold(ct, ok, el, target, floor)
        scorer.threshold = t
        top_group = kinds[top]
        auto = np.zeros(len(top), dtype=bool)
        for grp in GROUPS:
            sel = top_group == grp
            if sel.sum() >= MIN_GROUP_PAYMENTS:
                gt, _, _ = choose_threshold(ct[sel], ok[sel], el[sel], target, floor)
                gt = max(gt, t)
            else:
                gt = max(t, RARE_GROUP_FLOOR)
            scorer.group_thresholds[grp] = gt
            auto |= sel & el & (ct >= gt)
        scorer.metrics = {
            "backtest_payments": int(len(top)),
            "backtest_auto_rate": float(auto.mean()),
            "backtest_auto_precision": float(ok[auto].mean()) if auto.any() else 1.0,
            "backtest_top1_accuracy": float(np.mean(ok)),
            "threshold": t,
            **{f"threshold_{g}": v for g, v in scorer.group_thresholds.items()},
        }
        brier = float(np.mean((conf[have] - y[have]) ** 2))
        scorer.metrics["backtest_brier"] = brier
    else:
        scorer.threshold = 1.0  # too little history to trust anything automatically
        scorer.metrics = {"backtest_payments": 0, "backtest_auto_rate": 0.0, "threshold": 1.0}
    scorer.booster = _train(X, y, rounds, weight)
    scorer.metrics["training_rows"] = int(len(y))
    scorer.metrics["training_second_look_rows"] = 0 if first is None else int((~first.astype(bool)).sum())
    scorer.metrics["training_payments"] = int(len(np.unique(groups)))
    scorer.metrics["fit_seconds"] = round(time.perf_counter() - started, 2)
    return scorer


# -- MLflow ---------------------------------------------------------------------------------------------


def log_scorer(scorer: Scorer, tracking_uri: str, *, promote: bool = True, tags: dict | None = None) -> str:
    """Log the model, its calibration and backtest to MLflow, register it as ``openar-cashapp-scorer`` and
    move the ``champion`` alias to it when it auto-applies more than the champion at the target precision.
    Sets and returns ``scorer.version`` (``openar-cashapp-scorer/<n>``)."""
    import lightgbm as lgb
    import mlflow
    import mlflow.lightgbm
    from mlflow import MlflowClient

    if scorer.booster is None:
        raise ValueError("only a trained scorer can be logged")
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    if mlflow.get_experiment_by_name(EXPERIMENT) is None:
        location = None
        if tracking_uri.startswith("sqlite:///"):
            # Without an explicit location, artifacts land in ./mlruns of whatever folder the process
            # runs in; keep them next to the database instead.
            db = Path(tracking_uri.removeprefix("sqlite:///"))
            location = (db.parent / "artifacts").resolve().as_uri()
        mlflow.create_experiment(EXPERIMENT, artifact_location=location)
    mlflow.set_experiment(EXPERIMENT)
    with mlflow.start_run(run_name="cashapp-scorer") as run:
        mlflow.log_params(
            {
                **{k: v for k, v in PARAMS.items() if k != "verbose"},
                "rounds": scorer.booster.num_trees(),
                "folds": FOLDS,
                "second_look_weight": SECOND_LOOK_WEIGHT,
                "n_features": len(FEATURES),
            }
        )
        mlflow.log_metrics(
            {
                k: float(v)
                for k, v in scorer.metrics.items()
                if isinstance(v, int | float) and math.isfinite(v)
            }
        )
        if tags:
            mlflow.set_tags(tags)
        mlflow.log_dict(scorer.calibration_dict(), "calibration.json")
        info = mlflow.lightgbm.log_model(
            scorer.booster,
            name="model",
            registered_model_name=MODEL_NAME,
            pip_requirements=[f"lightgbm=={lgb.__version__}", f"mlflow=={mlflow.__version__}"],
        )
        version = str(info.registered_model_version)
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    client.set_model_version_tag(MODEL_NAME, version, "run_id", run.info.run_id)
    if promote:
        current = None
        try:
            current = client.get_model_version_by_alias(MODEL_NAME, "champion")
        except Exception:  # noqa: BLE001 - no champion yet
            current = None
        better = True
        if current is not None:
            cur_rate = client.get_run(current.run_id).data.metrics.get("backtest_auto_rate", 0.0)
            better = scorer.metrics.get("backtest_auto_rate", 0.0) >= cur_rate
        if better:
            client.set_registered_model_alias(MODEL_NAME, "champion", version)
    scorer.version = f"{MODEL_NAME}/{version}"
    return scorer.version


def load_scorer(tracking_uri: str, alias: str = "champion") -> Scorer | None:
    """The scorer behind ``models:/openar-cashapp-scorer@<alias>``, or ``None`` if none is registered."""
    import mlflow
    import mlflow.lightgbm
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    try:
        mv = client.get_model_version_by_alias(MODEL_NAME, alias)
    except Exception:  # noqa: BLE001 - nothing registered yet: the engine runs on its heuristic
        return None
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    booster = mlflow.lightgbm.load_model(f"models:/{MODEL_NAME}@{alias}")
    with tempfile.TemporaryDirectory() as tmp:
        path = mlflow.artifacts.download_artifacts(
            run_id=mv.run_id, artifact_path="calibration.json", dst_path=tmp
        )
        cal = json.loads(Path(path).read_text())
    if cal.get("features") != list(FEATURES):
        raise ValueError(f"{MODEL_NAME}/{mv.version} was trained on other features; retrain it")
    return Scorer(
        version=f"{MODEL_NAME}/{mv.version}",
        threshold=float(cal["threshold"]),
        group_thresholds={k: float(v) for k, v in cal.get("group_thresholds", {}).items()},
        booster=booster,
        iso_x=cal["iso_x"],
        iso_y=cal["iso_y"],
        metrics=cal.get("metrics", {}),
    )
