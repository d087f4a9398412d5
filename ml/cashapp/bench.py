"""``openar bench cashapp``: how well and how fast cash application works on a simulated world.

    openar bench cashapp --payments 10000 [--json] [--world DIR] [--seed 42] [--train-share 0.5]

1. Simulates a world sized for about ``--payments`` payments over two years (the simulator makes
   about 41 payments per customer in two years), or reuses one already simulated with the same
   size and seed under ``<data dir>/bench/`` (or ``--world``).
2. Reads its bank statements, lockbox files and remittance advices with ingestion's parsers
   (:func:`ml.cashapp.sources.parsed_feed`, cached under ``<data dir>/bench/cache``): the engine
   gets what the product gets, every movement of every statement included, never a truth-side
   column. The ground truth is read only to score.
3. Replays it day by day through the engine (:mod:`ml.cashapp.replay`): the first ``--train-share``
   of payment days trains the scorer (MLflow-logged unless ``--no-mlflow``), the rest is evaluated
   against the simulator's truth. Nothing evaluated was trained on.
4. Measures, on the evaluated payments: payment-level auto-match rate; precision of auto-applied
   payments (right = the same cash on the same invoices as the truth); recall@3 of the suggestions
   of payments not auto-applied, two ways (``replay.RECALL_DEFINITIONS``): the exact allocation, and
   the right invoices with the right amount (the ≥ 95 % target is judged on the latter: see
   ``RECALL_TARGET_BASIS``); share unidentified; throughput of the engine end to end (bank
   movements and advices in, result frames out, per daily run); time per payment against the number
   of open items of the payer's family.
5. Measures the bound of the search on synthetic accounts of 10 to 5,000 open items, and an
   800-line remittance advice applied in one run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

import pandas as pd

from ingestion.normalized import BankTransaction, RemittanceDocument, RemittanceLine
from ml.cashapp.book import OpenItem, OpenItemBook
from ml.cashapp.engine import CashApplicationEngine
from ml.cashapp.knowledge import PayerKnowledge
from ml.cashapp.money import from_cents
from ml.cashapp.replay import RECALL_DEFINITIONS, replay
from ml.cashapp.rules import Rules, load_rules
from ml.cashapp.scoring import Scorer
from ml.cashapp.sources import parsed_feed

PAYMENTS_PER_CUSTOMER_2Y = 41  # measured: 300 customers make 12,326 payments in two years (seed 42)
TARGETS = {
    "auto_match_rate": 0.90,
    "auto_precision": 0.995,
    "recall_at_3_suggested_invoices_amount": 0.95,
    "payments_per_second": 1000.0,
    "remittance_800_seconds": 1.0,
}


RECALL_TARGET_BASIS = (
    "invoices_and_amount: what is left to suggest after auto-application is mostly payments whose "
    "split among their invoices nothing in the payment tells (which invoice an unexplained short-pay "
    "is on, how an instalment payer divided its cash over several invoices, no advice); a person "
    "picks the suggestion with the right invoices and amount and records the split from the "
    "customer's claim. The exact-allocation figure (never higher) is reported beside it."
)


def _world(args) -> Path:
    if args.world and Path(args.world, "ground_truth", "summary.json").exists():
        return Path(args.world)
    customers = max(10, math.ceil(args.payments / PAYMENTS_PER_CUSTOMER_2Y))
    if args.world:
        path = Path(args.world)
    else:
        from orchestration.settings import load_settings

        path = load_settings().data_dir / "bench" / f"cashapp-{customers}c-2y-s{args.seed}"
    # summary.json is written last: a world without it was interrupted and is simulated again
    if not (path / "ground_truth" / "summary.json").exists():
        from simulator.world import simulate_world

        print(f"simulating {customers} customers over 2 years into {path} ...", file=sys.stderr, flush=True)
        simulate_world(path, customers=customers, years=2, seed=args.seed)
    return path


# -- synthetic accounts: the search bound and the 800-line advice ------------------------------------------


def _synthetic(n_open: int, rules: Rules, scorer: Scorer, seed: int = 7):
    rng = random.Random(seed)
    cust = pd.DataFrame(
        [
            {
                "customer_id": "C900001",
                "customer_name": "Scale Test Industries Inc.",
                "parent_customer_id": None,
                "currency": "EUR",
                "bank_account": "DE02120300000000202051",
            }
        ]
    )
    know = PayerKnowledge.from_customers(cust, rules)
    book = OpenItemBook()
    day0 = dt.date(2026, 6, 1).toordinal()
    for i in range(n_open):
        cents = rng.randint(5_000, 900_000)
        doc = day0 - rng.randint(0, 360)
        book.add(OpenItem(f"INV-{900000 + i}", "C900001", "EUR", doc, doc + 30, cents, cents))
    return CashApplicationEngine(book, know, rules, scorer), day0


def _txn(amount_cents: int, day: int, text: str | None, n: int) -> BankTransaction:
    return BankTransaction(
        "camt.053",
        "DE89370400440532013000",
        "COBADEFFXXX",
        "BENCH",
        dt.date.fromordinal(day),
        dt.date.fromordinal(day),
        from_cents(amount_cents),
        "EUR",
        "CRDT",
        counterparty_name="SCALE TEST INDUSTRIES",
        counterparty_account="DE02120300000000202051",
        bank_reference=f"BENCH{n:08d}",
        remittance_text=text,
    )


def scaling(rules: Rules, scorer: Scorer, sizes=(10, 100, 1000, 5000), per_size: int = 60) -> list[dict]:
    """Time per payment on one account of ``n`` open items: a third exact single amounts, a third sums
    of three items (subset search), a third matching nothing (the search runs to its bound)."""
    out = []
    for n in sizes:
        engine, day = _synthetic(n, rules, scorer)
        rng = random.Random(n)
        items = list(engine.book.items.values())
        txns = []
        for k in range(per_size):
            if k % 3 == 0:
                amt = rng.choice(items).open_cents
            elif k % 3 == 1:
                amt = sum(it.open_cents for it in rng.sample(items, min(3, len(items))))
            else:
                amt = rng.randint(1_000_000, 3_000_000) + 7
            txns.append(_txn(amt, day, None, n * 1000 + k))
        engine.book.begin()
        t0 = time.perf_counter()
        engine.run(txns, [])
        secs = time.perf_counter() - t0
        engine.book.rollback()
        out.append(
            {
                "open_items": n,
                "payments": per_size,
                "milliseconds_per_payment": round(secs / per_size * 1000, 3),
            }
        )
    return out


def remittance_800(rules: Rules, scorer: Scorer, lines: int = 800, open_items: int = 1000) -> dict:
    """One payment with an ``lines``-line advice against an account of ``open_items`` open items; 1% of
    lines lack their paid amount, 2% of the others have two digits of the invoice number swapped."""
    engine, day = _synthetic(open_items, rules, scorer)
    rng = random.Random(800)
    items = rng.sample(list(engine.book.items.values()), lines)
    doc_lines = []
    for n, it in enumerate(items, start=1):
        ref = it.item_id
        paid = None if rng.random() < 0.01 and n > 1 else from_cents(it.open_cents)
        # a swapped pair of digits, on lines that state their amount (on a line with neither a readable
        # number nor an amount nobody can tell which invoice was meant)
        if paid is not None and rng.random() < 0.02:
            d = list(ref)
            i = len(d) - 2
            d[i], d[i + 1] = d[i + 1], d[i]
            ref = "".join(d)
        doc_lines.append(RemittanceLine(ref, paid, confidence=0.95, position=n))
    total = sum(it.open_cents for it in items)
    txn = _txn(total, day, "REMITTANCE 800 INVOICES", 1)
    doc = RemittanceDocument(
        "eml",
        "Scale Test Industries Inc.",
        None,
        dt.date.fromordinal(day),
        from_cents(total),
        "EUR",
        doc_lines,
    )
    engine.book.begin()
    t0 = time.perf_counter()
    res = engine.run([txn], [doc])
    secs = time.perf_counter() - t0
    engine.book.rollback()
    d = res.decisions[0]
    chosen = d.chosen.key() if d.chosen else frozenset()
    truth = frozenset((it.item_id, it.open_cents) for it in items)
    return {
        "lines": lines,
        "open_items": open_items,
        "seconds": round(secs, 4),
        "status": d.status,
        "method": d.chosen.method if d.chosen else None,
        "all_lines_applied": chosen == truth,
    }


# -- the bench ------------------------------------------------------------------------------------------


def run(args) -> dict:
    rules = load_rules(args.rules)
    started = time.perf_counter()
    world = _world(args)
    t_feed = time.perf_counter()
    from orchestration.settings import load_settings

    cache = Path(args.cache_dir) if args.cache_dir else load_settings().data_dir / "bench" / "cache"
    feed = parsed_feed(world, cache_dir=cache, documents=args.documents)
    feed_seconds = time.perf_counter() - t_feed
    progress = (lambda m: print(m, file=sys.stderr, flush=True)) if args.verbose else None
    t_rep = time.perf_counter()
    res = replay(feed, rules, train_share=args.train_share, progress=progress)
    replay_seconds = time.perf_counter() - t_rep
    ev = res.evaluation.as_dict()
    version = res.scorer.version
    if not args.no_mlflow:
        from orchestration.settings import load_settings

        uri = args.mlflow_uri or load_settings().mlflow_tracking_uri
        if uri.startswith("sqlite:///"):
            Path(uri[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
        try:
            from ml.cashapp.scoring import log_scorer

            version = log_scorer(
                res.scorer, uri, tags={"world": str(world), "payments": str(feed.payment_count)}
            )
        except Exception as e:  # noqa: BLE001 - the measurement stands without the registry; say why
            print(f"MLflow logging failed: {e}", file=sys.stderr)
    report = {
        "world": str(world),
        "customers": int(len(feed.customers)),
        "payments_total": feed.payment_count,
        "inputs": {
            "origin": feed.origin,
            "files": feed.files,
            "parse_seconds": round(feed.parse_seconds, 1),
            "parse_errors": len(feed.parse_errors),
            "bank_movements": sum(len(v) for v in feed.transactions_by_day.values()),
            "remittance_documents": sum(len(v) for v in feed.remittances_by_day.values()),
        },
        "other_credits_evaluated": ev["other_credits"],
        "other_credits_set_aside": ev["other_credits_set_aside"],
        "other_credits_auto_applied": ev["other_credits_auto_applied"],
        "payments_set_aside": ev["payments_set_aside"],
        "recall_at_3_not_auto": ev["recall_at_3_not_auto"],
        "payments_trained_on": res.train_payments,
        "payments_evaluated": ev["payments"],
        "auto_match_rate": ev["auto_match_rate"],
        "auto_precision": ev["auto_precision"],
        "auto_wrong": ev["auto_wrong"],
        "recall_at_3_suggested": ev["recall_at_3_suggested"],
        "recall_at_3_suggested_invoices_amount": ev["recall_at_3_suggested_invoices_amount"],
        "recall_definitions": RECALL_DEFINITIONS,
        "recall_target_basis": RECALL_TARGET_BASIS,
        "recall_at_3_invoices_not_auto": ev["recall_at_3_invoices_not_auto"],
        "suggested_share": ev["suggested_share"],
        "unidentified_share": ev["unidentified_share"],
        "payments_per_second": ev["payments_per_second"],
        "payments_per_cpu_second": ev["payments_per_cpu_second"],
        "engine_seconds": ev["engine_seconds"],
        "engine_cpu_seconds": ev["engine_cpu_seconds"],
        "time_per_payment_by_open_items": ev["time_per_payment_by_open_items"],
        "exceptions_by_reason": ev["exceptions_by_reason"],
        "auto_by_method": ev["auto_by_method"],
        "model_version": version,
        "auto_threshold": res.scorer.threshold,
        "group_thresholds": res.scorer.group_thresholds,
        "backtest": {k: v for k, v in res.scorer.metrics.items() if k.startswith("backtest")},
        "training_replay_seconds": round(res.train_seconds, 2),
        "fit_seconds": round(res.fit_seconds, 2),
        "feed_seconds": round(feed_seconds, 2),
        "replay_seconds": round(replay_seconds, 2),
    }
    sizes = tuple(int(x) for x in args.scaling_sizes.split(",") if x.strip())
    report["scaling"] = scaling(rules, res.scorer, sizes=sizes)
    report["remittance_800"] = remittance_800(
        rules, res.scorer, lines=args.remittance_lines, open_items=max(args.remittance_lines + 200, 1000)
    )
    report["remittance_800_seconds"] = report["remittance_800"]["seconds"]
    report["targets"] = {k: {"target": v, "met": _met(k, report.get(k), v)} for k, v in TARGETS.items()}
    report["wall_seconds"] = round(time.perf_counter() - started, 1)
    return report


def _met(key: str, value, target) -> bool | None:
    if value is None:
        return None
    return value <= target if key.endswith("_seconds") else value >= target


def _pct(x: float) -> str:
    return f"{x * 100:.2f} %"


def render(r: dict) -> str:
    lines = [
        f"cash application bench: {r['world']}",
        f"  {r['customers']:,} customers, {r['payments_total']:,} payments; trained on the first "
        f"{r['payments_trained_on']:,}, evaluated on the next {r['payments_evaluated']:,} (time-ordered)",
        f"  inputs ({r['inputs']['origin']}): {r['inputs']['files']:,} landing files read by ingestion's parsers "
        f"({r['inputs']['bank_movements']:,} bank movements, {r['inputs']['remittance_documents']:,} remittance "
        f"advices; {r['inputs']['parse_errors']} unreadable; parsed in {r['inputs']['parse_seconds']:.0f} s"
        f"{', from the cache' if not r['inputs']['parse_seconds'] else ''}); truth read only to score"
        + ("" if r["inputs"]["origin"] == "parsed" else " (and to synthesize the e-mailed advices)"),
        f"  other credits (sweeps, interest, lockbox totals) in the evaluated days: {r['other_credits_evaluated']:,}, "
        f"set aside {r['other_credits_set_aside']:,}, auto-applied {r['other_credits_auto_applied']:,}; "
        f"customer payments set aside: {r['payments_set_aside']:,}",
        f"  auto-match rate (payment level)     {_pct(r['auto_match_rate'])}",
        f"  precision of auto-applied payments  {_pct(r['auto_precision'])}  ({r['auto_wrong']} wrong)",
        f"  recall@3 of suggested payments ({_pct(r['suggested_share'])} of payments):",
        f"    exact allocation                  {_pct(r['recall_at_3_suggested'])}  "
        f"({RECALL_DEFINITIONS['exact_allocation']})",
        f"    right invoices and amount         {_pct(r['recall_at_3_suggested_invoices_amount'])}  "
        f"({RECALL_DEFINITIONS['invoices_and_amount']}; the target is judged on this one)",
        f"    right invoices (not auto-applied) {_pct(r['recall_at_3_invoices_not_auto'])}  "
        f"({RECALL_DEFINITIONS['invoices_only']})",
        f"  unidentified                        {_pct(r['unidentified_share'])}",
        f"  throughput (engine end to end)      {r['payments_per_second']:,.0f} payments/s wall, "
        f"{r['payments_per_cpu_second']:,.0f} per CPU second ({r['payments_evaluated']:,} payments in "
        f"{r['engine_seconds']:.1f} s wall / {r['engine_cpu_seconds']:.1f} s CPU of daily runs)",
        f"  model {r['model_version']}: auto threshold {r['auto_threshold']:.4f} "
        + ", ".join(f"{g} {t:.4f}" for g, t in r["group_thresholds"].items()),
        "  time per payment by open items of the payer's family (candidates + features):",
    ]
    for bucket, v in r["time_per_payment_by_open_items"].items():
        lines.append(
            f"    {bucket:>10} open items: {v['payments']:>7,} payments, {v['microseconds_per_payment']:>9,.0f} µs"
        )
    lines.append("  search bound on one synthetic account (exact / 3-item sum / no match, a third each):")
    for s in r["scaling"]:
        lines.append(
            f"    {s['open_items']:>6,} open items: {s['milliseconds_per_payment']:8.2f} ms per payment"
        )
    rm = r["remittance_800"]
    lines.append(
        f"  {rm['lines']}-line remittance advice: {rm['seconds']:.3f} s ({rm['status']}, "
        f"{'all lines applied' if rm['all_lines_applied'] else 'NOT all lines applied'})"
    )
    lines.append(
        "  targets: " + ", ".join(f"{k} {'met' if v['met'] else 'MISSED'}" for k, v in r["targets"].items())
    )
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="openar bench cashapp", description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--payments", type=int, default=10_000, help="about how many payments the world should have"
    )
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--world", help="simulated world folder to use (simulated there when missing)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--train-share", type=float, default=0.5, help="share of payment days used for training")
    ap.add_argument("--rules", help="rules file (default: cashapp_rules.yaml at the repository root)")
    ap.add_argument("--mlflow-uri", help="MLflow tracking URI (default: the settings' sqlite store)")
    ap.add_argument("--no-mlflow", action="store_true", help="do not log the trained scorer")
    ap.add_argument(
        "--scaling-sizes",
        default="10,100,1000,5000",
        help="open items of the synthetic accounts timed for the search bound",
    )
    ap.add_argument(
        "--remittance-lines", type=int, default=800, help="lines of the synthetic remittance advice"
    )
    ap.add_argument("--out", help="where to write the JSON report (default: <data dir>/bench/cashapp.json)")
    ap.add_argument(
        "--cache-dir",
        help="where parsed landing files are kept between runs (default: <data dir>/bench/cache)",
    )
    ap.add_argument(
        "--documents",
        choices=("parsed", "synthesized"),
        default="parsed",
        help="e-mailed advices: read by the parsers (default), or synthesized from the truth (throughput "
        "runs on worlds too large to extract every document in time; the report says which)",
    )
    ap.add_argument("--verbose", action="store_true")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.payments < 100:
        print("--payments must be at least 100", file=sys.stderr)
        return 2
    if not 0.1 <= args.train_share <= 0.9:
        print("--train-share must be between 0.1 and 0.9", file=sys.stderr)
        return 2
    report = run(args)
    out = Path(args.out) if args.out else None
    if out is None:
        from orchestration.settings import load_settings

        out = load_settings().data_dir / "bench" / "cashapp.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    if args.json:
        print(json.dumps(report, indent=2, default=lambda o: str(o) if isinstance(o, Decimal) else o))
    else:
        print(render(report))
        print(f"written: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
