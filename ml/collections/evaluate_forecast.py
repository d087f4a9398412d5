"""``openar evaluate forecast``: backtest the 13-week cash forecast on a loaded world.

For each origin T (every ``step_days``, the last ``n_origins`` that leave a full 13-week horizon of
actuals): train a payment model on what was known at the end of T, score the invoices open then,
forecast, and compare with the cash that really came for those invoices (``cash_forecast.cash_received``).
Two baselines on the same open invoices:

- ``due_date``: every open invoice is paid on its due date (overdue ones the next business day);
- ``customer_history``: due date plus the customer's median days late over the invoices it had paid
  by T (the median over all customers for one without history).

Errors are WAPE = Σ|forecast − actual| / Σ actual, pooled over origins: weekly (13 weeks) and
"monthly" (the 30-day periods 1–30, 31–60, 61–90). The forecast covers the open AR at T, so actuals
are the receipts applied to those invoices: cash from invoices issued after T is out of scope for both.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ml.collections.cash_forecast import (
    HORIZON_DAYS,
    WEEKS,
    InvoiceDistributions,
    RunProfiles,
    cash_forecast,
    cash_received,
    forecast_from_distributions,
    open_balances,
    open_promises,
)

TARGET_WEEKLY_WAPE = 0.15
METHODS = ("model", "baseline_due_date", "baseline_customer_history")


def _point_distributions(d: InvoiceDistributions, offsets: np.ndarray) -> InvoiceDistributions:
    """Every invoice paid on one day (a baseline): all knots at that offset, no promises."""
    off = np.maximum(offsets.astype("float64"), 1.0)
    n = len(off)
    return InvoiceDistributions(
        d.invoice_id,
        d.customer_id,
        d.currency,
        d.amount_minor,
        knots=np.column_stack([off, off]),
        levels=np.ones((n, 2)),
        promise_minor=np.zeros(n, dtype=np.int64),
        promise_offset=np.full(n, np.nan),
        keep_rate=np.zeros(n),
    )


def customer_median_days_late(h, as_of: dt.date) -> tuple[pd.Series, float]:
    """Median days late of each customer's invoices paid (and known paid) by ``as_of``."""
    inv = h.invoices
    t = pd.Timestamp(as_of)
    paid = inv[(inv["paid_known_date"] <= t) & inv["paid_date"].notna()]
    late = (paid["paid_date"] - paid["due_date"]).dt.days
    by = late.groupby(paid["customer_id"]).median()
    return by, float(late.median()) if len(late) else 0.0


def weekly_actuals(actual: pd.DataFrame, as_of: dt.date) -> np.ndarray:
    a = np.zeros(HORIZON_DAYS, dtype=np.int64)
    for day, cash in zip(actual["day"], actual["cash_minor"], strict=True):
        k = (pd.Timestamp(day).date() - as_of).days
        if 1 <= k <= HORIZON_DAYS:
            a[k - 1] += int(cash)
    return a


def _weeks(daily: np.ndarray) -> np.ndarray:
    return daily.reshape(WEEKS, 7).sum(axis=1)


def _months(daily: np.ndarray) -> np.ndarray:
    return np.array([daily[0:30].sum(), daily[30:60].sum(), daily[60:90].sum()])


def default_origins(con, n_origins: int, step_days: int) -> list[dt.date]:
    last = con.execute("select max(payment_date) from raw.erp_payments").fetchone()[0]
    end = pd.Timestamp(last).date() - dt.timedelta(days=HORIZON_DAYS)
    return sorted(end - dt.timedelta(days=step_days * k) for k in range(n_origins))


def backtest_forecast(con, origins: list[dt.date], *, config=None, progress=None) -> dict:
    from ml.history import invoice_history_from_warehouse
    from ml.payment_model import fit_payment_model
    from ml.scoring import score_open_invoices

    world_end = pd.Timestamp(
        con.execute("select max(_extract_date) from raw.erp_invoices").fetchone()[0]
    ).date()
    h = invoice_history_from_warehouse(con, world_end)
    series, per_origin = (
        [],
        [],
    )  # series: (origin, {method: daily cents}, actual daily, weekly low, weekly high)
    for T in origins:
        t0 = time.perf_counter()
        model = fit_payment_model(h, T, config)
        preds = score_open_invoices(h, T, model, model_name="backtest", model_version=str(T))
        bal, prom = open_balances(con, T), open_promises(con, T)
        fc = cash_forecast(bal, preds, prom, T, draws=200, profiles=RunProfiles.from_warehouse(con, T))
        due_off = (pd.to_datetime(bal["due_date"]) - pd.Timestamp(T)).dt.days.to_numpy()
        med, overall = customer_median_days_late(h, T)
        cust_late = bal["customer_id"].map(med).fillna(overall).to_numpy(dtype="float64")
        base_due = forecast_from_distributions(_point_distributions(fc.dists, due_off), T, draws=1)
        base_hist = forecast_from_distributions(
            _point_distributions(fc.dists, due_off + np.round(cust_late)), T, draws=1
        )
        actual = weekly_actuals(cash_received(con, T), T)
        daily = {
            "model": fc.daily["expected_minor"].to_numpy(),
            "baseline_due_date": base_due.daily["expected_minor"].to_numpy(),
            "baseline_customer_history": base_hist.daily["expected_minor"].to_numpy(),
        }
        series.append(
            (T, daily, actual, fc.weekly["low_minor"].to_numpy(), fc.weekly["high_minor"].to_numpy())
        )
        per_origin.append(
            {
                "origin": T.isoformat(),
                "open_functional": fc.open_functional_minor / 100,
                "actual_13w": int(actual.sum()) / 100,
                **{f"{m}_13w": int(daily[m].sum()) / 100 for m in METHODS},
                **{f"weekly_wape_{m}": _wape(_weeks(daily[m]), _weeks(actual)) for m in METHODS},
                "seconds": round(time.perf_counter() - t0, 1),
            }
        )
        if progress:
            o = per_origin[-1]
            progress(
                f"origin {T}: weekly WAPE model {o['weekly_wape_model']:.3f}, due date "
                f"{o['weekly_wape_baseline_due_date']:.3f}, customer history "
                f"{o['weekly_wape_baseline_customer_history']:.3f} ({o['seconds']} s)"
            )
    return summarize_backtest(series, per_origin)


def _wape(forecast: np.ndarray, actual: np.ndarray) -> float:
    total = float(np.abs(actual).sum())
    return round(float(np.abs(forecast - actual).sum()) / total, 4) if total else float("nan")


def summarize_backtest(series, per_origin) -> dict:
    actual_w = np.concatenate([_weeks(a) for _, _, a, _, _ in series])
    actual_m = np.concatenate([_months(a) for _, _, a, _, _ in series])
    low = np.concatenate([lo for *_, lo, _ in series])
    high = np.concatenate([hi for *_, hi in series])
    weekly = {m: _wape(np.concatenate([_weeks(d[m]) for _, d, _, _, _ in series]), actual_w) for m in METHODS}
    monthly = {
        m: _wape(np.concatenate([_months(d[m]) for _, d, _, _, _ in series]), actual_m) for m in METHODS
    }
    best_baseline = min(weekly["baseline_due_date"], weekly["baseline_customer_history"])
    return {
        "origins": [T.isoformat() for T, *_ in series],
        "weekly_wape": weekly,
        "monthly_wape": monthly,
        "weekly_band_coverage_p10_p90": round(float(((actual_w >= low) & (actual_w <= high)).mean()), 4),
        "per_origin": per_origin,
        "target_weekly_wape": TARGET_WEEKLY_WAPE,
        "meets_target": bool(weekly["model"] <= TARGET_WEEKLY_WAPE and weekly["model"] < best_baseline),
    }


def format_report(r: dict) -> str:
    lines = [
        f"cash forecast backtest: {len(r['origins'])} origins {r['origins'][0]} … {r['origins'][-1]}, "
        "13 weeks each, open AR at each origin"
    ]
    lines.append(f"{'method':<28}{'weekly WAPE':>12}{'monthly WAPE':>14}")
    for m in METHODS:
        lines.append(f"{m:<28}{r['weekly_wape'][m]:>12.1%}{r['monthly_wape'][m]:>14.1%}")
    lines.append(f"weekly P10–P90 band coverage: {r['weekly_band_coverage_p10_p90']:.0%} (nominal 80%)")
    lines.append(
        f"target: weekly WAPE ≤ {r['target_weekly_wape']:.0%} and below both baselines → "
        f"{'met' if r['meets_target'] else 'NOT met'}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import duckdb

    from orchestration.settings import load_settings

    ap = argparse.ArgumentParser(prog="openar evaluate forecast", description=__doc__.splitlines()[0])
    ap.add_argument(
        "--warehouse",
        type=Path,
        default=None,
        help="DuckDB file with the raw ERP tables (default: the installation's warehouse)",
    )
    ap.add_argument(
        "--world",
        type=Path,
        default=None,
        help="a simulated world folder: its landing files are loaded into a temporary DuckDB first",
    )
    ap.add_argument("--origins", type=int, default=8, help="number of forecast origins (default 8)")
    ap.add_argument("--step-days", type=int, default=28, help="days between origins (default 28)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    progress = None if args.json else (lambda s: print(s, file=sys.stderr, flush=True))
    try:
        con = _connect(args.world, args.warehouse or load_settings().warehouse_path, duckdb)
        origins = default_origins(con, args.origins, args.step_days)
        r = backtest_forecast(con, origins, progress=progress)
    except (FileNotFoundError, ValueError, duckdb.Error) as e:
        print(f"openar evaluate forecast: {e}", file=sys.stderr)
        return 2
    print(json.dumps(r, indent=2, default=str) if args.json else format_report(r))
    return 0


def _connect(world: Path | None, warehouse: Path, duckdb):
    """A read-only connection to the warehouse, or a throwaway one loaded from a world's landing files."""
    if world is None:
        if not Path(warehouse).exists():
            raise FileNotFoundError(f"{warehouse}: no warehouse; run the pipeline or pass --world")
        return duckdb.connect(str(warehouse), read_only=True)
    import tempfile

    from ingestion.erp_loader import load_erp_extracts

    erp = Path(world) / "landing" / "erp"
    if not erp.is_dir():
        raise FileNotFoundError(f"{erp}: not a simulated world (no landing/erp folder)")
    tmp = Path(tempfile.mkdtemp(prefix="openar_eval_")) / "world.duckdb"
    con = duckdb.connect(str(tmp))
    load_erp_extracts(con, erp, "evaluate-forecast")
    return con


if __name__ == "__main__":
    raise SystemExit(main())
