"""The acceptance report on a simulated world: ``openar evaluate payments --world DIR`` (or
``python -m ml.world_report --world DIR``).

Loads the world's ERP extracts with the real loader into DuckDB (unless ``--warehouse`` already
holds them), builds the history, runs the rolling backtest against the world's ground truth
(which knows the future payment dates of invoices open at as-of), and compares the early warnings
with the customers the simulator made deteriorate or default. Prints the tables; ``--json`` too.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd


def world_report(
    world: Path,
    *,
    warehouse: Path | None = None,
    as_of: dt.date | None = None,
    folds: int = 4,
    step_days: int = 61,
    say: Callable[[str], None] = print,
) -> dict:
    """Backtest and early warnings on a simulated world; ``say`` receives the printed report."""
    import duckdb

    from ml.backtest import outcomes_from_ground_truth, rolling_backtest
    from ml.features import FeatureContext
    from ml.history import invoice_history_from_warehouse
    from ml.payment_model import ModelConfig
    from ml.risk import alert_timeline, warning_lead_times

    world = Path(world)
    summary = world / "ground_truth" / "summary.json"
    if not summary.exists():
        raise FileNotFoundError(
            f"{world}: not a simulated world (no ground_truth/summary.json); see openar simulate"
        )
    as_of = as_of or dt.date.fromisoformat(json.loads(summary.read_text())["parameters"]["as_of"])
    wh = Path(warehouse) if warehouse else world / "warehouse.duckdb"
    timings = {}
    if not wh.exists():
        from ingestion.erp_loader import load_erp_extracts

        t = time.perf_counter()
        with duckdb.connect(str(wh)) as con:
            load_erp_extracts(con, world / "landing" / "erp", "ml-world-report")
        timings["load_s"] = round(time.perf_counter() - t, 1)
    with duckdb.connect(str(wh), read_only=True) as con:
        t = time.perf_counter()
        h = invoice_history_from_warehouse(con, as_of)
        timings["history_s"] = round(time.perf_counter() - t, 2)

    outcomes = outcomes_from_ground_truth(world / "ground_truth" / "invoice_outcomes.csv")
    t = time.perf_counter()
    result = rolling_backtest(
        h,
        ModelConfig(),
        outcomes=outcomes,
        n_folds=folds,
        step_days=step_days,
        progress=lambda m: say(f"  {m}"),
    )
    timings["backtest_s"] = round(time.perf_counter() - t, 1)
    say(
        f"\nRolling-origin backtest, origins {', '.join(o.isoformat() for o in result.origins)}, "
        f"{step_days}-day test windows, outcomes from the ground truth:\n"
    )
    say(result.table())

    truth = pd.read_csv(world / "ground_truth" / "customers.csv", dtype=str)
    t = time.perf_counter()
    start = h.first_date + dt.timedelta(days=120)
    timeline = alert_timeline(h, start, as_of, every_days=7, ctx=FeatureContext(h))
    timings["alerts_s"] = round(time.perf_counter() - t, 2)
    lead = warning_lead_times(timeline, truth)
    lead = lead[lead["start"] >= pd.Timestamp(start)]
    tl = timeline.merge(truth[["customer_id", "archetype"]], on="customer_id")
    others = tl[~tl["archetype"].isin(["slow_deteriorating", "sudden_default"])]
    warnings: dict = {}
    say("\nEarly warnings (weekly, point in time) against the simulator's troubled customers:")
    for arch, g in lead.groupby("archetype"):
        det = g["first_alert_after_start"].notna()
        warnings[arch] = {
            "customers": len(g),
            "alerted_after_start": int(det.sum()),
            "alerted_before_event": int((g["lead_days"] > 0).sum()),
            "lead_days_mean": None if g["lead_days"].isna().all() else float(g["lead_days"].mean()),
            "lead_days_median": None if g["lead_days"].isna().all() else float(g["lead_days"].median()),
            "detection_days_median": None
            if g["detection_days"].isna().all()
            else float(g["detection_days"].median()),
        }
        say(
            f"  {arch}: {int(det.sum())}/{len(g)} alerted after the trouble started; lead before the event "
            f"{g['lead_days'].mean():+.0f} days on average (median {g['lead_days'].median():+.0f}), "
            f"{(g['lead_days'] > 0).sum()} of them before it; detection {g['detection_days'].median():.0f} days "
            "after the start (median)"
        )
    warnings["other_customers"] = {
        "ever_alerted_share": float(others.groupby("customer_id")["alert"].any().mean())
        if len(others)
        else None,
        "customer_weeks_alerted_share": float(others["alert"].mean()) if len(others) else None,
    }
    if len(others):
        say(
            f"  other customers: {others.groupby('customer_id')['alert'].any().mean():.0%} ever alerted, "
            f"{others['alert'].mean():.1%} of customer-weeks alerted"
        )
    say(f"\ntimings: {timings}")
    return {
        "world": str(world),
        "as_of": as_of.isoformat(),
        "origins": [o.isoformat() for o in result.origins],
        "info": result.info,
        **result.metrics_json(),
        "early_warnings": warnings,
        "lead_times": json.loads(lead.to_json(orient="records", date_format="iso")),
        "timings": timings,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ml.world_report")
    p.add_argument("--world", required=True, help="simulate_world output folder (landing/ and ground_truth/)")
    p.add_argument("--warehouse", help="DuckDB file with the raw tables (default: <world>/warehouse.duckdb)")
    p.add_argument("--as-of", type=dt.date.fromisoformat, help="default: the world's as-of (summary.json)")
    p.add_argument("--folds", type=int, default=4)
    p.add_argument("--step-days", type=int, default=61)
    p.add_argument("--json", help="also write the results to this JSON file")
    args = p.parse_args(argv)
    try:
        out = world_report(
            Path(args.world),
            warehouse=Path(args.warehouse) if args.warehouse else None,
            as_of=args.as_of,
            folds=args.folds,
            step_days=args.step_days,
            say=lambda m: print(m, flush=True),
        )
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2, default=str))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
