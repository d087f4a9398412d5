"""How much of a simulated world's payment timing a model can learn: LightGBM against the customer median.

``python -m simulator.learnability DATA_DIR`` reads a world written by ``simulate_world`` and prints the
MAE (days late) on a time split of three predictors of each invoice's payment date, all of them using
only what was known on the invoice's issue date:

- ``due_date``: paid on the due date;
- ``customer_median``: the customer's median days late over the invoices it had paid by then (the
  baseline of issue 5);
- ``lightgbm``: gradient boosting on the customer's history (level, recent level, trend, discount
  habit, month-end habit), the invoice (amount against the customer's usual, terms, due day and
  month) and the customer's open overdue items on the issue date.

It is a check of the simulator (is the signal there, and how much of it?), not the product's model,
which lives in ``ml/`` and sees more (disputes, promises and reminders while an invoice is open).
Days late are clipped to [-60, 120] and invoices never paid count as 120, as in ``ml.features``.
"""

from __future__ import annotations

import argparse
import bisect
import csv
import datetime as dt
import json
import math
import statistics
import sys
from collections import defaultdict
from pathlib import Path

DL_MIN, DL_CAP = -60, 120
TEST_DAYS = 240  # the last eight months of invoices are the test set


def _days(text: str) -> int:
    return dt.date.fromisoformat(text).toordinal()


def _label(o: dict) -> float | None:
    if o["resolution"] == "credited":
        return None
    if o["resolution"] in ("never", "open_at_horizon", "written_off") or not o["paid_date"]:
        return DL_CAP
    return float(max(DL_MIN, min(DL_CAP, _days(o["paid_date"]) - _days(o["due_date"]))))


def _sd(xs: list[float]) -> float:
    # statistics.pstdev is exact (Fractions) and 30x slower; a float spread is all a feature needs.
    m = sum(xs) / len(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / len(xs))


def _trend(dues: list[int], dls: list[float], due_o: int) -> tuple[float, float]:
    """Least-squares days late per 30 days of due date, and its value extrapolated to ``due_o``."""
    n = len(dues)
    if n < 4:
        return math.nan, math.nan
    mx, my = sum(dues) / n, sum(dls) / n
    sxx = sum((x - mx) ** 2 for x in dues)
    if sxx == 0:
        return math.nan, math.nan
    b = sum((x - mx) * (y - my) for x, y in zip(dues, dls, strict=True)) / sxx
    return 30 * b, min(DL_CAP, my + b * (due_o - mx))


def _median_sorted(xs: list[float]) -> float:
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def _rows(world: Path):
    gt = world / "ground_truth"
    with (gt / "invoice_outcomes.csv").open(encoding="utf-8", newline="") as fh:
        outcomes = list(csv.DictReader(fh))
    customers = {}
    for path in sorted((world / "landing" / "erp" / "customers").glob("customers_*.csv"))[-1:]:
        with path.open(encoding="utf-8", newline="") as fh:
            customers = {r["customer_id"]: r for r in csv.DictReader(fh)}
    by_cust = defaultdict(list)
    for o in outcomes:
        y = _label(o)
        if y is None:
            continue
        inv_o, due_o = _days(o["invoice_date"]), _days(o["due_date"])
        paid_o = _days(o["paid_date"]) if o["paid_date"] else 10**7
        first_o = _days(o["first_payment_date"]) if o["first_payment_date"] else 10**7
        by_cust[o["customer_id"]].append(
            (inv_o, o["invoice_id"], due_o, paid_o, first_o, float(o["amount"]), y)
        )
    rows = []
    segments = {"enterprise": 0, "mid_market": 1, "small_business": 2}
    terms = {"NET30": 0, "NET45": 1, "NET60": 2, "2/10NET30": 3}
    for cid in sorted(by_cust):
        invs = sorted(by_cust[cid])
        cust = customers.get(cid, {})
        # Knowledge on day d: invoices fully paid before d, in order of their payment.
        paid = sorted((p, inv, due, amt, first) for inv, _, due, p, first, amt, _ in invs if p < 10**7)
        paid_days = [p[0] for p in paid]
        paid_dl = [max(DL_MIN, min(DL_CAP, p - due)) for p, _, due, _, _ in paid]
        prev_amounts: list[float] = []  # sorted amounts of the invoices issued before this one
        sorted_dl: list[float] = []  # sorted days late of the invoices paid before this one
        early = month_end = mid_month = splits = 0
        split_gaps: list[int] = []  # sorted days between first and last payment of split invoices
        min_split_amt = max_full_amt = math.nan  # amount thresholds of the instalment habit
        min_early_amt = max_late_amt = math.nan  # and of the discount habit
        weekdays = [0] * 7
        j = k = old_k = 0
        season_n, season_sum = [0] * 12, [0.0] * 12
        for inv_o, iid, due_o, _paid_o, _first_o, amount, y in invs:
            while j < len(invs) and invs[j][0] < inv_o:
                bisect.insort(prev_amounts, invs[j][5])
                j += 1
            while k < len(paid) and paid_days[k] < inv_o:
                p, i, _, _, first = paid[k]
                bisect.insort(sorted_dl, paid_dl[k])
                early += first - i <= 14
                amt = paid[k][3]
                if first < p:  # paid in instalments
                    splits += 1
                    bisect.insort(split_gaps, p - first)
                    min_split_amt = amt if math.isnan(min_split_amt) else min(min_split_amt, amt)
                else:
                    max_full_amt = amt if math.isnan(max_full_amt) else max(max_full_amt, amt)
                if first - i <= 14:
                    min_early_amt = amt if math.isnan(min_early_amt) else min(min_early_amt, amt)
                else:
                    max_late_amt = amt if math.isnan(max_late_amt) else max(max_late_amt, amt)
                month_end += (dt.date.fromordinal(p) + dt.timedelta(days=4)).day <= 4
                mid_month += 13 <= dt.date.fromordinal(p).day <= 17
                weekdays[(p - 1) % 7] += 1
                k += 1
            dls = paid_dl[:k]
            med_amt = _median_sorted(prev_amounts) if prev_amounts else amount
            r90 = bisect.bisect_left(paid_days, inv_o - 90, 0, k)
            r365 = bisect.bisect_left(paid_days, inv_o - 365, 0, k)
            recent, older = paid_dl[r90:k], paid_dl[r365:r90]
            # Same season last year: invoices due within a month of this due month, known 9+ months ago.
            while old_k < k and paid_days[old_k] < inv_o - 270:
                m = dt.date.fromordinal(paid[old_k][2]).month - 1
                season_n[m] += 1
                season_sum[m] += paid_dl[old_k]
                old_k += 1
            m = dt.date.fromordinal(due_o).month - 1
            same_n = sum(season_n[(m + s) % 12] for s in (-1, 0, 1))
            same_sum = sum(season_sum[(m + s) % 12] for s in (-1, 0, 1))
            r180 = bisect.bisect_left(paid_days, inv_o - 180, 0, k)
            slope, extrapolated = _trend([paid[i][2] for i in range(r180, k)], paid_dl[r180:k], due_o)
            hist = paid[:k] if k else []
            open_overdue = [
                inv_o - d for i, _, d, p, _, _, _ in invs[max(0, j - 400) : j] if d < inv_o and p >= inv_o
            ]
            due = dt.date.fromordinal(due_o)
            nxt = (due.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
            # Where the customer's usual lateness lands this invoice: the day its payment run picks up.
            usual = due_o + int(_median_sorted(sorted_dl)) if k else due_o
            usual_d = dt.date.fromordinal(usual)
            wd_mode = max(range(7), key=lambda w: weekdays[w]) if k else -1
            feats = {
                "n_paid": len(dls),
                "dl_median": _median_sorted(sorted_dl) if dls else math.nan,
                "dl_mean": statistics.fmean(dls) if dls else math.nan,
                "dl_sd": _sd(dls[-30:]) if len(dls) > 1 else math.nan,
                "dl_last5": statistics.fmean(dls[-5:]) if dls else math.nan,
                "dl_last": dls[-1] if dls else math.nan,
                "dl_recent90": statistics.fmean(recent) if recent else math.nan,
                "dl_trend": (statistics.fmean(recent) - statistics.fmean(older))
                if recent and older
                else math.nan,
                "season_last_year": same_sum / same_n if same_n >= 2 else math.nan,
                "dl_slope180": slope,
                "dl_extrapolated": extrapolated,
                "days_since_paid": inv_o - hist[-1][0] if hist else math.nan,
                "early_share": early / k if k else math.nan,
                "month_end_share": month_end / k if k else math.nan,
                "amount_log": math.log(max(amount, 1.0)),
                "amount_ratio_log2": math.log2(max(amount, 1.0) / max(med_amt, 1.0)),
                "terms": terms.get(cust.get("payment_terms", ""), -1),
                "segment": segments.get(cust.get("segment", ""), -1),
                "due_day": due.day,
                "due_month": due.month,
                "due_to_month_end": (nxt - due).days,
                "inv_weekday": dt.date.fromordinal(inv_o).weekday(),
                "mid_month_share": mid_month / k if k else math.nan,
                "pay_wd_share": weekdays[wd_mode] / k if k else math.nan,
                "usual_day": usual_d.day,
                "usual_to_month_end": (
                    (usual_d.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - usual_d
                ).days,
                "usual_to_15th": (15 - usual_d.day) % 31,
                "usual_to_pay_weekday": (wd_mode - (usual - 1) % 7) % 7 if k else math.nan,
                # Instalments and discounts follow the amount (the cash is not there for the big ones;
                # the discount is worth the effort on the big ones): where this invoice sits against
                # the amounts the customer split / paid early before.
                "split_share": splits / k if k else math.nan,
                "split_gap": _median_sorted(split_gaps) if split_gaps else math.nan,
                "vs_min_split_log2": math.log2(amount / min_split_amt) if min_split_amt > 0 else math.nan,
                "vs_max_full_log2": math.log2(amount / max_full_amt) if max_full_amt > 0 else math.nan,
                "vs_min_early_log2": math.log2(amount / min_early_amt) if min_early_amt > 0 else math.nan,
                "vs_max_late_log2": math.log2(amount / max_late_amt) if max_late_amt > 0 else math.nan,
                "od_count": len(open_overdue),
                "od_max_dpd": max(open_overdue) if open_overdue else 0,
            }
            rows.append((inv_o, cid, feats, y, iid))
    return rows


def evaluate(world: Path) -> dict:
    import lightgbm as lgb
    import numpy as np

    rows = _rows(world)
    last = max(r[0] for r in rows)
    summary = json.loads((world / "ground_truth" / "summary.json").read_text())
    as_of = _days(summary["parameters"]["as_of"])
    cut = as_of - TEST_DAYS
    train = [r for r in rows if r[0] < cut]
    test = [r for r in rows if cut <= r[0] <= min(last, as_of)]
    names = list(train[0][2])
    x_train = np.array([[r[2][n] for n in names] for r in train], dtype=float)
    y_train = np.array([r[3] for r in train])
    x_test = np.array([[r[2][n] for n in names] for r in test], dtype=float)
    y_test = np.array([r[3] for r in test])
    model = lgb.LGBMRegressor(
        objective="l1",
        n_estimators=600,
        learning_rate=0.03,
        num_leaves=31,
        min_child_samples=40,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        random_state=0,
        verbose=-1,
    )
    fallback = float(np.median(y_train))

    def base(rs):
        m = np.array([r[2]["dl_median"] for r in rs])
        return np.where(np.isnan(m), fallback, m)

    # Boosting with an L1 loss moves by small signed steps: starting from the customer median (the
    # init score) it learns the corrections to it instead of walking every customer from the global
    # median.
    model.fit(
        x_train,
        y_train,
        init_score=base(train),
        categorical_feature=[names.index("segment"), names.index("terms")],
    )
    med = base(test)
    pred = med + model.predict(x_test, raw_score=True)
    mae = {
        "due_date": float(np.mean(np.abs(y_test))),
        "customer_median": float(np.mean(np.abs(y_test - med))),
        "lightgbm": float(np.mean(np.abs(y_test - pred))),
    }
    importance = sorted(
        zip(names, model.booster_.feature_importance("gain"), strict=True), key=lambda t: -t[1]
    )
    return {
        "train_invoices": len(train),
        "test_invoices": len(test),
        "mae_days": {k: round(v, 2) for k, v in mae.items()},
        "improvement_vs_customer_median": round(1 - mae["lightgbm"] / mae["customer_median"], 3),
        "top_features": [n for n, _ in importance[:8]],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m simulator.learnability", description=__doc__.splitlines()[0])
    p.add_argument("world", type=Path, help="a folder written by simulate_world")
    a = p.parse_args(argv)
    if not (a.world / "ground_truth" / "invoice_outcomes.csv").exists():
        print(f"{a.world}: no ground_truth/invoice_outcomes.csv (not a simulated world)", file=sys.stderr)
        return 2
    print(json.dumps(evaluate(a.world), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
