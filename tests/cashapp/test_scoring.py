"""The scorer: threshold selection on a backtest, calibration, and the MLflow round trip."""

from __future__ import annotations

import numpy as np
import pytest

from ml.cashapp.features import FEATURES
from ml.cashapp.rules import load_rules
from ml.cashapp.scoring import (
    MODEL_NAME,
    choose_threshold,
    fit_scorer,
    load_scorer,
    log_scorer,
    normalize_by_payment,
)


def test_threshold_is_the_lowest_confidence_reaching_the_target_precision():
    conf = np.array([0.99, 0.98, 0.97, 0.96, 0.95, 0.90, 0.80])
    right = np.array([1, 1, 1, 1, 0, 1, 0], dtype=bool)
    elig = np.ones(7, dtype=bool)
    t, rate, prec = choose_threshold(conf, right, elig, target=0.99, floor=0.5)
    assert (t, rate, prec) == (0.96, 4 / 7, 1.0)
    t, rate, prec = choose_threshold(conf, right, elig, target=0.8, floor=0.5)
    assert t == 0.90 and prec == pytest.approx(5 / 6)
    # the floor is never crossed, and ineligible payments never count as automatic
    assert choose_threshold(conf, right, elig, target=0.8, floor=0.97)[0] == 0.97
    elig[0] = False
    assert choose_threshold(conf, right, elig, target=0.99, floor=0.5)[1] == 3 / 7


def test_scores_of_one_payment_are_normalized_only_when_they_sum_over_one():
    raw = np.array([0.9, 0.6, 0.3, 0.2])
    groups = np.array([0, 0, 1, 1])
    assert normalize_by_payment(raw, groups).tolist() == pytest.approx([0.6, 0.4, 0.3, 0.2])


def _synthetic(n_payments: int, seed: int = 3):
    """Payments of 4 candidates; the right one is the exact, named one -- except when the named one is
    ambiguous (``same_amount`` > 0), where it is right half the time."""
    rng = np.random.default_rng(seed)
    rows, y, groups, days = [], [], [], []
    f = {name: i for i, name in enumerate(FEATURES)}
    for g in range(n_payments):
        ambiguous = rng.random() < 0.2
        truth = 0 if not ambiguous or rng.random() < 0.5 else 1
        for k in range(4):
            x = np.zeros(len(FEATURES))
            x[f["method"]] = k
            x[f["full_share"]] = 1.0 if k < 2 else 0.5
            x[f["strong_ref_share"]] = 1.0 if k == 0 else rng.random() * 0.3
            x[f["same_amount"]] = 1.0 if ambiguous and k < 2 else 0.0
            rows.append(x)
            y.append(1.0 if k == truth else 0.0)
            groups.append(g)
            days.append(740000 + g // 10)
    X = np.vstack(rows)
    n = len(y)
    return (
        X,
        np.array(y),
        np.array(groups),
        np.array(days),
        np.ones(n, dtype=bool),
        np.array(["explained"] * n, dtype=object),
    )


def test_fit_calibrates_and_logs_to_mlflow(tmp_path):
    X, y, groups, days, elig, kinds = _synthetic(1200)
    rules = load_rules()
    scorer = fit_scorer(X, y, groups, days, elig, kinds, rules, rounds=40)
    m = scorer.metrics
    assert m["training_payments"] == 1200 and m["backtest_payments"] > 800
    # unambiguous payments (80%) are safe, ambiguous ones (a coin toss) never are
    assert 0.7 <= m["backtest_auto_rate"] <= 0.85
    assert m["backtest_auto_precision"] >= 0.999
    assert scorer.threshold >= float(rules.min_auto_confidence)
    conf = scorer.confidence(X, groups)
    f = FEATURES.index("same_amount")
    assert conf[(X[:, f] == 1) & (X[:, 0] == 0)].max() < scorer.threshold

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    version = log_scorer(scorer, uri)
    assert version == f"{MODEL_NAME}/1"
    assert (tmp_path / "artifacts").is_dir()  # next to the database, not in ./mlruns of the cwd
    loaded = load_scorer(uri)
    assert loaded.version == version and loaded.threshold == scorer.threshold
    assert np.allclose(loaded.confidence(X[:40], groups[:40]), conf[:40])
    assert load_scorer(f"sqlite:///{tmp_path / 'empty.db'}") is None


def test_the_model_learns_to_rank_a_second_look_which_calibration_leaves_out():
    """Hard payments whose first candidates are all wrong, with the truth among a second look's
    candidates, told apart by how near its share of an invoice is to the payer's usual one."""
    X, y, groups, days, elig, kinds = _synthetic(1200)
    f = {name: i for i, name in enumerate(FEATURES)}
    rng = np.random.default_rng(5)
    rows, ys, gs, ds, look_rows = [], [], [], [], []
    for h in range(400):
        g = 1200 + h
        for k in range(4):  # first candidates, all wrong
            x = np.zeros(len(FEATURES))
            x[f["method"]], x[f["full_share"]] = k, 0.5
            rows.append(x), ys.append(0.0), gs.append(g), look_rows.append(False)
        right = rng.integers(5)
        for k in range(5):
            x = np.zeros(len(FEATURES))
            x[f["method"]], x[f["full_share"]] = 3, 0.5
            x[f["split_gap"]] = rng.random() * 0.03 if k == right else 0.08 + rng.random() * 0.3
            rows.append(x), ys.append(1.0 if k == right else 0.0), gs.append(g), look_rows.append(True)
        ds.extend([740000 + h // 4] * 9)
    # the hard payments interleaved in time with the others
    Xa = np.vstack([X, np.vstack(rows)])
    ya, ga, da = np.r_[y, ys], np.r_[groups, gs], np.r_[days, ds]
    order = np.lexsort((ga, da))
    Xa, ya, ga, da = Xa[order], ya[order], ga[order], da[order]
    look = np.r_[np.zeros(len(y), dtype=bool), look_rows][order]
    ea, ka = np.ones(len(ya), dtype=bool), np.array(["residual"] * len(ya), dtype=object)
    rules = load_rules()
    learned = fit_scorer(Xa, ya, ga, da, ea, ka, rules, rounds=40, first=~look)
    blind = fit_scorer(Xa[~look], ya[~look], ga[~look], da[~look], ea[~look], ka[~look], rules, rounds=40)

    def ranked_right(scorer) -> float:
        raw = scorer.raw(Xa[look])
        g, right = ga[look], ya[look] > 0
        hits = [right[g == p][np.argmax(raw[g == p])] for p in np.unique(g)]
        return float(np.mean(hits))

    assert ranked_right(learned) > 0.9
    assert ranked_right(blind) < 0.5  # without those rows the model cannot tell them apart
    assert learned.metrics["training_second_look_rows"] == 2000
    # the backtest and calibration see the same payments' first candidates either way
    assert learned.metrics["backtest_payments"] == blind.metrics["backtest_payments"]


def test_an_instalment_payers_usual_share_is_learned_and_compared():
    import datetime as dt

    import pandas as pd

    from ml.cashapp.engine import learn_history
    from tests.cashapp.builders import DAY, engine, inv, txn

    eng = engine([inv("INV-1", "C000001", "1000.00"), inv("INV-2", "C000001", "800.00")])
    assert (
        eng.know.habit("C000001").vector()[FEATURES.index("h_split_share") - FEATURES.index("h_log_n")]
        == -1.0
    )
    # confirmed: 40 % of INV-1 (its first instalment), and a whole invoice, which teaches no share
    eng.confirm(
        account=None, name=None, day=DAY.toordinal(), amount=40000, allocations=[("INV-1", 40000, 0, 0)]
    )
    eng.confirm(
        account=None, name=None, day=DAY.toordinal(), amount=80000, allocations=[("INV-2", 80000, 0, 0)]
    )
    split = FEATURES.index("h_split_share") - FEATURES.index("h_log_n")
    assert eng.know.habit("C000001").vector()[split] == pytest.approx(0.4)
    # the same from a confirmed history (open balance before the payment given): 40 % and 60 %
    history = pd.DataFrame(
        {
            "transaction_id": ["T1", "T2"],
            "booking_date": [DAY - dt.timedelta(days=30), DAY - dt.timedelta(days=20)],
            "amount": ["200.00", "600.00"],
            "customer_id": ["C000002", "C000002"],
            "item_id": ["INV-8", "INV-9"],
            "applied_amount": ["200.00", "600.00"],
            "item_open_amount": ["500.00", "1000.00"],
        }
    )
    learn_history(eng, history)
    assert eng.know.habit("C000002").vector()[split] == pytest.approx(0.5)

    # a candidate paying part of an invoice is compared with the payer's usual share
    eng2 = engine([inv("INV-3", "C000001", "1000.00"), inv("INV-4", "C000001", "2000.00")])
    eng2.confirm(
        account=None, name=None, day=DAY.toordinal(), amount=40000, allocations=[("INV-3", 40000, 0, 0)]
    )
    res = eng2.run([txn("800.00"), txn("300.00")], keep_candidates=True)
    gap, rest = FEATURES.index("split_gap"), FEATURES.index("partial_of_rest")
    feats = {
        tuple((a.item.item_id, a.cash) for a in c.allocs): c.features
        for d in res.decisions
        for c, _ in d.ranked
    }
    assert feats[(("INV-4", 80000),)][gap] == pytest.approx(0.0)  # 40 % of INV-4: its usual share
    assert feats[(("INV-4", 80000),)][rest] == 0
    # INV-3's rest whole and 10 % of INV-4
    assert feats[(("INV-3", 60000), ("INV-4", 20000))][gap] == pytest.approx(0.3)
    assert feats[(("INV-3", 30000),)][rest] == 1  # half of the rest of an invoice paid in part before
