"""``openar whatif``: the cash forecast if the largest customers pay later, or some customers default.

Reads the warehouse (read-only): the open balances, promises, payment runs and invoicing history from
the raw ERP tables and the latest scored predictions (``ml.payment_predictions``, written by the
prediction asset). Prints the 13 weeks and the 30/60/90-day totals of the base forecast (all receipts:
open AR + new business), the scenario, and the difference. A delayed customer pays its future invoices
later too; a defaulting one is not invoiced any more (credit hold).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from decimal import Decimal
from pathlib import Path

import pandas as pd

from ml.collections.cash_forecast import (
    CashForecast,
    WhatIf,
    cash_forecast,
    cash_forecast_from_warehouse,
    default_customers,
    delay_customers,
    delay_new_business,
    money,
    stop_new_business,
    top_customers,
    what_if,
)


def latest_predictions(con) -> tuple[pd.DataFrame, dt.date]:
    """The rows of ``ml.payment_predictions`` and their as-of date (one run's rows: the table is replaced whole)."""
    try:
        p = con.execute("select * from ml.payment_predictions").df()
    except Exception as e:  # duckdb.CatalogException: the prediction asset has not run yet
        raise LookupError(
            "no ml.payment_predictions table in the warehouse: run the pipeline (openar run) first"
        ) from e
    if p.empty:
        raise LookupError("ml.payment_predictions is empty: nothing is open, or scoring has not run")
    for c in [c for c in p.columns if c.startswith(("p10_", "p50_", "p90_", "p_"))]:
        if c.endswith("_date"):
            continue
        p[c] = pd.to_numeric(p[c], errors="coerce").astype("float64")
    return p, pd.Timestamp(p["as_of_date"].max()).date()


def scenario(
    base: CashForecast, *, delay_top: int = 0, days: int = 0, defaults: tuple[str, ...] = ()
) -> WhatIf:
    d, nb = base.dists, base.new_business
    parts, customers = [], []
    if delay_top and days:
        top = top_customers(d, delay_top)
        d = delay_customers(d, top, days)
        nb = delay_new_business(nb, top, days)
        customers += top
        parts.append(f"the {delay_top} largest customers pay {days} days later")
    if defaults:
        unknown = sorted(set(defaults) - set(base.dists.customer_id))
        if unknown:
            raise ValueError(f"no open invoices for customer(s) {unknown}")
        d = default_customers(d, defaults)
        nb = stop_new_business(nb, defaults)
        customers += list(defaults)
        parts.append(f"{', '.join(defaults)} default{'s' if len(defaults) == 1 else ''}")
    if not parts:
        raise ValueError("nothing to simulate: give --delay-top N --days D and/or --default CUSTOMER")
    return what_if(base, d, "; ".join(parts), customers, nb)


PUBLISHED_PREDICTION_COLUMNS = (
    "invoice_id", "customer_id", "currency", "invoice_date", "due_date", "open_amount", "open_amount_functional",
    "p10_days_late", "p50_days_late", "p90_days_late", "p_paid_by_due", "p_paid_within_30", "p_paid_within_60",
    "p_paid_within_90",
)  # fmt: skip


def whatif_from_published(
    predictions: pd.DataFrame,
    as_of: dt.date,
    *,
    delay_top: int = 0,
    days: int = 0,
    defaults: tuple[str, ...] = (),
    draws: int = 50,
) -> WhatIf:
    """The what-if on the published marts (``marts.fct_payment_predictions`` rows of one as-of date, open
    in the ledger), for the app, which never opens the warehouse. The published rows carry the open
    balances and the model's quantiles and probabilities, but not the ERP's promises nor the
    customers' payment-run habits, so the base differs somewhat from the pipeline's forecast; the
    *difference* a scenario makes is what this answers. Amounts: ``Decimal`` in, integer minor units out."""
    missing = [c for c in PUBLISHED_PREDICTION_COLUMNS if c not in predictions.columns]
    if missing:
        raise ValueError(f"fct_payment_predictions lacks column(s) {missing}")
    p = predictions[predictions["open_amount"].notna() & (predictions["open_amount"] > 0)].copy()
    if p.empty:
        raise ValueError("no open invoice with a prediction in the published marts")
    balances = pd.DataFrame(
        {
            "invoice_id": p["invoice_id"],
            "customer_id": p["customer_id"],
            "currency": p["currency"],
            "invoice_date": pd.to_datetime(p["invoice_date"]),
            "due_date": pd.to_datetime(p["due_date"]),
            # exact: the marts hold decimal(18,2); scaleb(2) of a 2-place Decimal is an integer
            "open_minor": p["open_amount"].map(lambda v: int(Decimal(v).scaleb(2))),
            "open_functional_minor": p["open_amount_functional"].map(lambda v: int(Decimal(v).scaleb(2))),
        }
    )
    preds = p[["invoice_id", *PUBLISHED_PREDICTION_COLUMNS[7:]]].copy()
    for c in PUBLISHED_PREDICTION_COLUMNS[7:]:
        preds[c] = pd.to_numeric(preds[c], errors="coerce").astype("float64")
    base = cash_forecast(balances, preds, None, as_of, draws=draws)
    return scenario(base, delay_top=delay_top, days=days, defaults=defaults)


def format_whatif(w: WhatIf, currency: str) -> str:
    lines = [f"what-if: {w.description}", f"customers: {', '.join(w.customers)}", ""]
    lines.append(f"{'week from':<12}{'base':>16}{'scenario':>16}{'change':>16}   ({currency})")
    for r in w.weekly.itertuples(index=False):
        lines.append(
            f"{r.week_start!s:<12}{money(r.base_expected_minor):>16}{money(r.scenario_expected_minor):>16}"
            f"{money(r.delta_minor):>16}"
        )
    lines.append("")
    for r in w.totals.itertuples(index=False):
        lines.append(
            f"next {r.period_days} days{'':<3}{money(r.base_expected_minor):>16}"
            f"{money(r.scenario_expected_minor):>16}{money(r.delta_minor):>16}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import duckdb

    from orchestration.settings import load_settings

    ap = argparse.ArgumentParser(prog="openar whatif", description=__doc__.splitlines()[0])
    ap.add_argument("--delay-top", type=int, default=0, metavar="N", help="the N customers with most open AR")
    ap.add_argument("--days", type=int, default=0, metavar="D", help="pay D days later")
    ap.add_argument(
        "--default",
        dest="defaults",
        action="append",
        default=[],
        metavar="CUSTOMER",
        help="a customer that pays nothing (repeatable)",
    )
    ap.add_argument("--warehouse", type=Path, default=None, help="DuckDB file (default: the installation's)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    settings = load_settings()
    path = args.warehouse or settings.warehouse_path
    if not Path(path).exists():
        print(f"openar whatif: {path}: no warehouse; run the pipeline first", file=sys.stderr)
        return 2
    try:
        con = duckdb.connect(str(path), read_only=True)
        preds, as_of = latest_predictions(con)
        # the pipeline's forecast: open AR + new business (the scenario moves both for its customers)
        base = cash_forecast_from_warehouse(con, as_of, preds, draws=100)
        w = scenario(base, delay_top=args.delay_top, days=args.days, defaults=tuple(args.defaults))
    except (LookupError, ValueError, duckdb.Error) as e:
        print(f"openar whatif: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(
            json.dumps(
                {
                    "as_of": as_of.isoformat(),
                    "description": w.description,
                    "customers": w.customers,
                    "weekly": w.weekly.to_dict("records"),
                    "totals": w.totals.to_dict("records"),
                },
                default=str,
                indent=2,
            )
        )
    else:
        print(f"as of {as_of}\n" + format_whatif(w, base.currency))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
