"""Collection workload forecast: how many reminders, statements, calls and letters per collector and
work day over the next 7 days, and a backtest against what the team did.

The strategy replay runs ``build_worklist`` day by day on a projected state: an invoice leaves the books
on the day the payment model puts its median payment (P50); the contacts planned for a day are assumed
done that day (so the minimum gap between contacts and the unanswered-reminder count move on); days
overdue grow with the calendar. ``demand`` counts every action the strategy asks for; ``planned`` what
fits in the collector's daily capacity (the rest rolls over to the next day's demand).

The replay alone loses to a naive forecast: the team does not work the strategy (on the default world
it made 758 calls where the strategy plans 1,122, and 580 e-mails and 101 letters where it plans 375
and 30), so its volume is off. The forecast therefore (1) scales each collector's replayed days to the
contacts per work day that collector really made over the last four weeks (``calibrate_to_level``), and
(2) blends that with the same-weekday history (``BLEND_HISTORY_WEIGHT``, chosen on earlier origins).

``openar evaluate workload``: for each origin, forecast the next 7 days and compare with the collection
activities the ERP recorded per collector and day (e-mails, calls, letters), side by side with the raw
replay and a seasonal-naive baseline (the same weekday's count over the previous four weeks, averaged).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from ml.collections.strategy import Strategy, load_strategy
from ml.collections.worklist import (
    WorklistInputs,
    build_worklist,
    next_business_day,
    worklist_inputs_from_warehouse,
)

HORIZON_WORKDAYS = 5  # the next 7 calendar days hold five work days
CHANNEL_OF_ACTION = {
    "reminder_email": "email",
    "statement": "email",
    "call": "call",
    "escalation": "call",
    "dispute_follow_up": "call",
    "pre_legal": "letter",
}
KINDS = ("email", "call", "letter")
_DONE_AS = {"email": ("email", "sent"), "call": ("call", "no_answer"), "letter": ("letter", "sent")}


def _projected_paid(inputs: WorklistInputs, as_of: dt.date) -> set[str]:
    """Invoices the model expects paid by the end of ``as_of`` (P50 pay date on or before it)."""
    p = inputs.predictions
    if p is None or p.empty:
        return set()
    b = inputs.balances.merge(p[["invoice_id", "p50_days_late"]], on="invoice_id", how="left")
    pay = pd.to_datetime(b["due_date"]) + pd.to_timedelta(
        b["p50_days_late"].astype("float64").round(), unit="D"
    )
    return set(b.loc[pay <= pd.Timestamp(as_of), "invoice_id"])


def forecast_workload(
    inputs: WorklistInputs, strategy: Strategy, as_of: dt.date, workdays: int = HORIZON_WORKDAYS
) -> pd.DataFrame:
    """Per work day and collector: demand and planned counts by kind (email / call / letter)."""
    rows = []
    state = inputs
    day_as_of = as_of
    for _ in range(workdays):
        paid = _projected_paid(inputs, day_as_of)
        cur = replace(state, balances=inputs.balances[~inputs.balances["invoice_id"].isin(paid)])
        wl = build_worklist(cur, strategy, day_as_of)
        day = next_business_day(day_as_of)
        act = wl[~wl["action"].isin(["postpone", "wait"])].copy()
        act["kind"] = act["action"].map(CHANNEL_OF_ACTION)
        for col_id, g in act.groupby("collector_id"):
            planned = g[g["status"] == "today"]
            rows.append(
                {
                    "day": day,
                    "collector_id": col_id,
                    **{f"demand_{k}": int((g["kind"] == k).sum()) for k in KINDS},
                    **{f"planned_{k}": int((planned["kind"] == k).sum()) for k in KINDS},
                }
            )
        done = act[act["status"] == "today"]
        new = pd.DataFrame(
            {
                "customer_id": done["customer_id"],
                "activity_at": f"{day.isoformat()}T10:00:00",
                "activity_type": [_DONE_AS[k][0] for k in done["kind"]],
                "outcome": [_DONE_AS[k][1] for k in done["kind"]],
            }
        )
        state = replace(state, activities=pd.concat([state.activities, new], ignore_index=True))
        day_as_of = day
    out = pd.DataFrame(
        rows, columns=["day", "collector_id"] + [f"{p}_{k}" for p in ("demand", "planned") for k in KINDS]
    )
    for p in ("demand", "planned"):
        out[f"{p}_total"] = out[[f"{p}_{k}" for k in KINDS]].sum(axis=1)
    return out


def actual_workload(con, start: dt.date, end: dt.date) -> pd.DataFrame:
    """What the collectors did per work day in (start, end]: contacts by kind from the ERP activities."""
    a = con.execute(
        f"""
        select cast(_extract_date as date) as day, collector_id, activity_type as kind, count(*) as n
        from raw.erp_collection_activities
        where _extract_date > date '{start.isoformat()}' and _extract_date <= date '{end.isoformat()}'
        group by all
        """
    ).df()
    if a.empty:
        return pd.DataFrame(
            columns=["day", "collector_id"] + [f"actual_{k}" for k in KINDS] + ["actual_total"]
        )
    w = a.pivot_table(index=["day", "collector_id"], columns="kind", values="n", aggfunc="sum", fill_value=0)
    w = w.reindex(columns=list(KINDS), fill_value=0).add_prefix("actual_").reset_index()
    w["day"] = pd.to_datetime(w["day"]).dt.date
    w["actual_total"] = w[[f"actual_{k}" for k in KINDS]].sum(axis=1)
    return w


def _history_predictions(con, as_of: dt.date) -> pd.DataFrame:
    """A cheap stand-in for the payment model in the backtest: each customer's own P10/P50/P90 days late
    over the invoices it paid in the year before ``as_of`` (the portfolio's when it has none)."""
    from ml.history import invoice_history_from_warehouse

    h = invoice_history_from_warehouse(con, as_of)
    inv = h.invoices
    t = pd.Timestamp(as_of)
    paid = inv[(inv["paid_known_date"] <= t) & (inv["paid_date"] > t - pd.Timedelta(days=365))]
    late = (paid["paid_date"] - paid["due_date"]).dt.days
    q = late.groupby(paid["customer_id"]).quantile([0.1, 0.5, 0.9]).unstack()
    overall = late.quantile([0.1, 0.5, 0.9]).to_numpy() if len(late) else np.array([0.0, 5.0, 20.0])
    open_inv = inv[(inv["invoice_date"] <= t) & ~(inv["closed_known_date"] <= t)]
    out = pd.DataFrame({"invoice_id": open_inv["invoice_id"].to_numpy()})
    qq = q.reindex(open_inv["customer_id"]).to_numpy()
    qq = np.where(np.isnan(qq), overall, qq)
    floor = (t - open_inv["due_date"]).dt.days.to_numpy()[:, None] + 1.0
    qq = np.maximum(qq, floor)  # still open: not paid before tomorrow
    out["p10_days_late"], out["p50_days_late"], out["p90_days_late"] = qq[:, 0], qq[:, 1], qq[:, 2]
    return out


RECENT_DAYS = 28  # the realized level: the last four weeks of recorded contacts
# Weight of the same-weekday history in the blend (the rest: the strategy's days at the team's realized
# level). Chosen on the eight origins before the reported ones (``--before-days``): see the report.
BLEND_HISTORY_WEIGHT = 0.7


def recent_level(hist: pd.DataFrame, start: dt.date, end: dt.date) -> pd.Series:
    """Each collector's contacts per work day (Monday to Friday) over (start, end]."""
    workdays = int(np.busday_count(start + dt.timedelta(days=1), end + dt.timedelta(days=1)))
    return hist.groupby("collector_id")["actual_total"].sum() / max(workdays, 1)


def calibrate_to_level(f: pd.DataFrame, level: pd.Series) -> pd.DataFrame:
    """The strategy's day-by-day pattern at the volume the team has really worked at lately.

    The strategy says what *should* be done; the backtest shows the team does something else (its own
    cadence: fewer calls, more e-mails and letters, contacts set by capacity and habit), so the raw
    replay misses the level. Each collector's replayed counts are scaled so that their mean over the
    forecast days equals the collector's realized contacts per work day over the last four weeks
    (a collector the strategy gives nothing gets its realized level every day)."""
    days = sorted(set(f["day"])) if len(f) else []
    collectors = sorted(set(level.index) | set(f["collector_id"]))
    grid = pd.MultiIndex.from_product([days, collectors], names=["day", "collector_id"]).to_frame(index=False)
    g = grid.merge(f[["day", "collector_id", "planned_total"]], on=["day", "collector_id"], how="left")
    g["planned_total"] = g["planned_total"].fillna(0).astype("float64")
    mean_planned = g.groupby("collector_id")["planned_total"].transform("mean")
    lv = g["collector_id"].map(level).fillna(0.0)
    g["calibrated_total"] = np.where(
        mean_planned > 0, g["planned_total"] * lv / mean_planned.where(mean_planned > 0, 1), lv
    )
    return g[["day", "collector_id", "calibrated_total"]]


def backtest_workload(con, origins: list[dt.date], strategy: Strategy, progress=None) -> dict:
    frames = []
    for T in origins:
        t0 = time.perf_counter()
        inp = worklist_inputs_from_warehouse(con, T, _history_predictions(con, T))
        f = forecast_workload(inp, strategy, T)
        end = f["day"].max() if len(f) else T
        a = actual_workload(con, T, end)
        hist = actual_workload(con, T - dt.timedelta(days=RECENT_DAYS), T)
        cal = calibrate_to_level(f, recent_level(hist, T - dt.timedelta(days=RECENT_DAYS), T))
        m = f.merge(a, on=["day", "collector_id"], how="outer").merge(
            cal, on=["day", "collector_id"], how="outer"
        )
        m = m.fillna(0)
        m = m[m["day"].map(lambda d: d.weekday() < 5)]
        # seasonal naive: the collector's mean count on the same weekday over the last four weeks
        hist["wd"] = hist["day"].map(lambda d: d.weekday())
        base = hist.groupby(["collector_id", "wd"])["actual_total"].sum() / (RECENT_DAYS / 7)
        m["baseline_total"] = [
            base.get((c, d.weekday()), 0.0) for c, d in zip(m["collector_id"], m["day"], strict=True)
        ]
        m["blend_total"] = (
            BLEND_HISTORY_WEIGHT * m["baseline_total"] + (1 - BLEND_HISTORY_WEIGHT) * m["calibrated_total"]
        )
        m["origin"] = T
        frames.append(m)
        if progress:
            progress(f"origin {T}: {len(m)} collector-days ({time.perf_counter() - t0:.1f} s)")
    m = pd.concat(frames, ignore_index=True)

    def err(col):
        e = (m[col] - m["actual_total"]).abs()
        return {
            "mae": round(float(e.mean()), 3),
            "wape": round(float(e.sum() / max(m["actual_total"].sum(), 1)), 4),
        }

    by_kind = {
        k: {"forecast": int(m[f"planned_{k}"].sum()), "actual": int(m[f"actual_{k}"].sum())} for k in KINDS
    }
    return {
        "origins": [T.isoformat() for T in origins],
        "collector_days": int(len(m)),
        "actual_contacts": int(m["actual_total"].sum()),
        "forecast": err("blend_total"),
        "forecast_method": f"blend: {BLEND_HISTORY_WEIGHT:.0%} same-weekday history + "
        f"{1 - BLEND_HISTORY_WEIGHT:.0%} strategy replay calibrated to the last {RECENT_DAYS} days' level",
        "strategy_calibrated": err("calibrated_total"),
        "planned": err("planned_total"),
        "demand": err("demand_total"),
        "baseline_same_weekday": err("baseline_total"),
        "beats_baseline": bool(err("blend_total")["mae"] < err("baseline_total")["mae"]),
        "by_kind": by_kind,
    }


def format_report(r: dict) -> str:
    lines = [
        f"workload backtest: {len(r['origins'])} origins {r['origins'][0]} … {r['origins'][-1]}, "
        f"{r['collector_days']} collector-days, {r['actual_contacts']} contacts recorded"
    ]
    for key, title in (
        ("forecast", "forecast (blend, see below)"),
        ("strategy_calibrated", "strategy replay at the realized level"),
        ("planned", "strategy replay, within capacity (raw)"),
        ("demand", "strategy replay, all demand (raw)"),
        ("baseline_same_weekday", "baseline: same weekday, last 4 weeks"),
    ):
        lines.append(
            f"  {title:<40} MAE {r[key]['mae']:.2f} contacts/collector-day   WAPE {r[key]['wape']:.1%}"
        )
    lines.append(
        f"  forecast = {r['forecast_method']}; beats the baseline: {'yes' if r['beats_baseline'] else 'NO'}"
    )
    lines.append(
        "  by kind (raw strategy planned vs actual): "
        + ", ".join(f"{k} {v['forecast']} vs {v['actual']}" for k, v in r["by_kind"].items())
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import duckdb

    from ml.collections.evaluate_forecast import _connect
    from orchestration.settings import load_settings

    ap = argparse.ArgumentParser(prog="openar evaluate workload", description=__doc__.splitlines()[0])
    ap.add_argument("--warehouse", type=Path, default=None)
    ap.add_argument(
        "--world", type=Path, default=None, help="a simulated world folder (loaded into a temp DuckDB)"
    )
    ap.add_argument("--origins", type=int, default=8)
    ap.add_argument("--step-days", type=int, default=14)
    ap.add_argument(
        "--before-days",
        type=int,
        default=0,
        help="move every origin this many days earlier (origins to choose parameters on, not reported)",
    )
    ap.add_argument("--strategy", type=Path, default=None)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    progress = None if args.json else (lambda s: print(s, file=sys.stderr, flush=True))
    try:
        con = _connect(args.world, args.warehouse or load_settings().warehouse_path, duckdb)
        last = pd.Timestamp(
            con.execute("select max(_extract_date) from raw.erp_collection_activities").fetchone()[0]
        ).date()
        origins = sorted(
            last - dt.timedelta(days=7 + args.before_days + args.step_days * k) for k in range(args.origins)
        )
        r = backtest_workload(con, origins, load_strategy(args.strategy), progress)
    except (FileNotFoundError, ValueError, duckdb.Error) as e:
        print(f"openar evaluate workload: {e}", file=sys.stderr)
        return 2
    print(json.dumps(r, indent=2, default=str) if args.json else format_report(r))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
