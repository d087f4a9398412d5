"""Scoring benchmark at scale: ``python -m ml.bench --open 1000000 --model DIR``.

Builds a canonical history with the requested number of open invoices (plus three times as many
paid ones) directly with numpy — the simulator writes CSVs at a few thousand invoices a second,
this takes seconds — and times ``score_open_invoices``: features, predictions, and SHAP drivers
for the ``--explain`` rows with the most money at risk.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ml.history import InvoiceHistory, normalize_history


def scale_history(
    n_open: int,
    *,
    paid_per_open: int = 3,
    invoices_per_customer: int = 80,
    seed: int = 1,
    as_of: dt.date = dt.date(2026, 11, 20),
) -> InvoiceHistory:
    rng = np.random.default_rng(seed)
    n = n_open * (1 + paid_per_open)
    n_customers = max(1, n // invoices_per_customer)
    cust = rng.integers(0, n_customers, n)
    habit = rng.uniform(-5, 30, n_customers)[cust]
    end = np.datetime64(as_of, "D")
    inv_date = end - rng.integers(0, 730, n).astype("timedelta64[D]")
    terms = rng.choice([30, 45, 60], n).astype("timedelta64[D]")
    due = inv_date + terms
    late = np.round(habit + rng.normal(0, 6, n)).astype("int64").astype("timedelta64[D]")
    paid = np.maximum(due + late, inv_date + np.timedelta64(1, "D"))
    # the most recent invoices stay open: those whose payment lies after as_of, topped up at random
    open_ = paid > end
    extra = n_open - int(open_.sum())
    if extra > 0:
        candidates = np.flatnonzero(~open_)
        open_[rng.choice(candidates, extra, replace=False)] = True
    paid = np.where(open_, np.datetime64("NaT"), paid)
    invoices = pd.DataFrame(
        {
            "invoice_id": np.char.add("I", np.arange(n).astype(str)),
            "customer_id": np.char.add("C", cust.astype(str)),
            "invoice_date": inv_date.astype("datetime64[s]"),
            "due_date": due.astype("datetime64[s]"),
            "amount_minor": np.round(rng.lognormal(11, 1, n)).astype("int64"),
            "paid_date": paid.astype("datetime64[s]"),
        }
    )
    return normalize_history(InvoiceHistory(invoices=invoices, source="bench"))


def main(argv: list[str] | None = None) -> int:
    from ml.features import FeatureContext
    from ml.payment_model import PaymentModel
    from ml.scoring import score_open_invoices

    p = argparse.ArgumentParser(prog="python -m ml.bench")
    p.add_argument("--open", type=int, default=1_000_000)
    p.add_argument("--model", required=True, help="a saved PaymentModel folder (PaymentModel.save)")
    p.add_argument("--explain", type=int, default=10_000, help="rows explained with SHAP drivers")
    args = p.parse_args(argv)
    as_of = dt.date(2026, 11, 20)
    t = time.perf_counter()
    h = scale_history(args.open, as_of=as_of)
    print(
        f"history: {len(h.invoices):,} invoices, {h.invoices['customer_id'].nunique():,} customers, "
        f"{int(h.invoices['paid_date'].isna().sum()):,} open ({time.perf_counter() - t:.1f}s to build)"
    )
    model = PaymentModel.load(Path(args.model))
    # CPU seconds besides wall seconds: the machines are shared, and wall time then says more about
    # the neighbours than about this code.
    t, c = time.perf_counter(), time.process_time()
    ctx = FeatureContext(h)
    context_s, context_cpu = time.perf_counter() - t, time.process_time() - c
    timings: dict = {}
    c = time.process_time()
    out = score_open_invoices(
        h, as_of, model, model_name="bench", model_version="0", max_explained=0, ctx=ctx, timings=timings
    )
    score_cpu = time.process_time() - c
    print(
        f"scored {len(out):,} open invoices without drivers: event streams {context_s:.1f}s "
        f"(cpu {context_cpu:.1f}s), features {timings['features_s']}s, predictions {timings['predict_s']}s; "
        f"total {context_s + timings['total_s']:.1f}s wall, {context_cpu + score_cpu:.1f}s cpu"
    )
    if args.explain:
        from ml.features import build_features, open_rows

        X = build_features(h, open_rows(h, as_of), ctx).iloc[: args.explain]
        t, c = time.perf_counter(), time.process_time()
        model.drivers(X)
        print(
            f"SHAP drivers for {len(X):,} rows: {time.perf_counter() - t:.1f}s wall, "
            f"{time.process_time() - c:.1f}s cpu"
        )
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
