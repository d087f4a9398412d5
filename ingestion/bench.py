"""``openar bench ingest``: remittance extraction quality and bank-file parse throughput.

Two measurements, both printed as tables (``--json`` for machines):

1. **Remittance extraction** on a simulated world's documents (``landing/remittance/`` e-mails with a
   table in the body, text or HTML, or a PDF / XLSX attachment; EDI X12 820; lockbox invoice detail),
   scored against ``ground_truth/remittance_lines.csv``: field-level precision, recall and F1 for the
   invoice reference and for the paid amount, per document kind. A reference counts when it equals
   what the document prints or our invoice number (an extractor may canonicalize); a paid amount
   counts only on the line of the right invoice, so an amount read off the wrong row is an error.
2. **Parse throughput** in transactions per second over ``--transactions`` movements (default one
   million) split across camt.053, MT940, BAI2, BAI lockbox and a bank CSV export. The files are
   written by the simulator's own writers (``simulator.bankfiles``) into a temporary folder, then
   each file is parsed with ``ingestion.parsing.parse_file`` (format auto-detected); a count check
   makes sure no movement was lost. CPU seconds are reported beside wall seconds because the machine
   may be shared.

Run: ``openar bench ingest [--world DIR] [--transactions N] [--skip-extraction|--skip-throughput] [--json]``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

FORMATS = ("camt.053", "mt940", "bai2", "lockbox", "csv")
KIND_LABELS = {
    "email_body_text": "eml body (text table)",
    "email_body_html": "eml body (HTML table)",
    "email_pdf": "eml + PDF attachment",
    "email_xlsx": "eml + XLSX attachment",
    "edi820": "EDI X12 820",
    "lockbox_detail": "lockbox invoice detail",
}
# The acceptance bar of issue 3 for invoice reference and paid amount.
F1_TARGET = 0.98


# --- 1. remittance extraction ---------------------------------------------------------------------


def _canon(ref: str | None) -> str:
    return "".join((ref or "").split()).upper()


def _score(truth_lines: list[dict], predicted: list[tuple[str, Decimal | None]]) -> tuple[int, int]:
    """(references right, amounts right) for one document: each truth line is claimed at most once."""
    open_lines = list(truth_lines)
    ref_hits = amount_hits = 0
    for ref, amount in predicted:
        c = _canon(ref)
        match = next(
            (
                t
                for t in open_lines
                if c in (_canon(t["reference_as_written"]), _canon(t["invoice_id"]))
                and amount == Decimal(t["paid_amount"])
            ),
            None,
        )
        if match is None:  # the right invoice with a wrong amount still scores the reference
            match = next(
                (t for t in open_lines if c in (_canon(t["reference_as_written"]), _canon(t["invoice_id"]))),
                None,
            )
        if match is None:
            continue
        open_lines.remove(match)
        ref_hits += 1
        amount_hits += amount is not None and amount == Decimal(match["paid_amount"])
    return ref_hits, amount_hits


def _kind(doc: dict, root: Path, html_cache: dict[str, bool]) -> str:
    if doc["kind"] != "email_body":
        return doc["kind"]
    f = doc["file"]
    if f not in html_cache:
        html_cache[f] = b"text/html" in (root / f).read_bytes()
    return "email_body_html" if html_cache[f] else "email_body_text"


def _prf(hits: int, predicted: int, truth: int) -> dict:
    p = hits / predicted if predicted else 0.0
    r = hits / truth if truth else 0.0
    return {
        "precision": round(p, 4),
        "recall": round(r, 4),
        "f1": round(2 * p * r / (p + r), 4) if p + r else 0.0,
    }


def extraction_benchmark(world: Path, *, max_documents: int | None = None) -> dict:
    """Field-level precision/recall/F1 of remittance extraction per document kind on ``world``."""
    from ingestion.normalized import ParseError
    from ingestion.parsing import parse_file

    gt = world / "ground_truth"
    if not (gt / "remittance_documents.csv").exists():
        raise FileNotFoundError(
            f"{gt}/remittance_documents.csv not found: simulate a world with bank files first "
            "(openar simulate --out DIR)"
        )
    with (gt / "remittance_documents.csv").open(encoding="utf-8", newline="") as fh:
        docs = list(csv.DictReader(fh))
    with (gt / "remittance_lines.csv").open(encoding="utf-8", newline="") as fh:
        lines_by_doc: dict[tuple[str, str], list[dict]] = defaultdict(list)
        for ln in csv.DictReader(fh):
            lines_by_doc[(ln["file"], ln["position"])].append(ln)
    by_file: dict[str, list[dict]] = defaultdict(list)
    for d in docs:
        by_file[d["file"]].append(d)
    files = sorted(by_file)
    if max_documents is not None and len(files) > max_documents:
        step = len(files) / max_documents  # an even spread over the history, not its first weeks
        files = [files[int(i * step)] for i in range(max_documents)]
    stats: dict[str, Counter] = defaultdict(Counter)
    html_cache: dict[str, bool] = {}
    failures: list[str] = []
    t0, c0 = time.perf_counter(), time.process_time()
    for f in files:
        truth_docs = sorted(by_file[f], key=lambda d: int(d["position"]))
        try:
            result = parse_file(world / f)
            parsed = sorted((r for r in result.remittances if r.lines), key=lambda r: r.position)
        except ParseError as e:
            failures.append(str(e))
            parsed = []
        # Documents of one file are matched in reading order (an EDI interchange holds several).
        for i, d in enumerate(truth_docs):
            kind = _kind(d, world, html_cache)
            truth_lines = lines_by_doc[(f, d["position"])]
            predicted = (
                [(ln.invoice_reference, ln.paid_amount) for ln in parsed[i].lines] if i < len(parsed) else []
            )
            ref_hits, amount_hits = _score(truth_lines, predicted)
            s = stats[kind]
            s["documents"] += 1
            s["documents_exact"] += ref_hits == amount_hits == len(truth_lines) == len(predicted)
            s["truth"] += len(truth_lines)
            s["predicted"] += len(predicted)
            s["ref_hits"] += ref_hits
            s["amount_hits"] += amount_hits
        for extra in parsed[len(truth_docs) :]:  # documents the extractor invented
            stats[_kind(truth_docs[0], world, html_cache)]["predicted"] += len(extra.lines)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    total: Counter = Counter()
    for s in stats.values():
        total.update(s)
    kinds = {}
    for kind in [*KIND_LABELS, *sorted(set(stats) - set(KIND_LABELS))]:
        if kind not in stats:
            continue
        s = stats[kind]
        kinds[kind] = {
            "label": KIND_LABELS.get(kind, kind),
            "documents": s["documents"],
            "lines": s["truth"],
            "documents_exact": s["documents_exact"],
            "invoice_reference": _prf(s["ref_hits"], s["predicted"], s["truth"]),
            "paid_amount": _prf(s["amount_hits"], s["predicted"], s["truth"]),
        }
    overall = {
        "documents": total["documents"],
        "lines": total["truth"],
        "documents_exact": total["documents_exact"],
        "invoice_reference": _prf(total["ref_hits"], total["predicted"], total["truth"]),
        "paid_amount": _prf(total["amount_hits"], total["predicted"], total["truth"]),
    }
    passed = all(
        k[field]["f1"] >= F1_TARGET
        for k in [*kinds.values(), overall]
        for field in ("invoice_reference", "paid_amount")
    )
    return {
        "world": str(world),
        "files": len(files),
        "kinds": kinds,
        "overall": overall,
        "target_f1": F1_TARGET,
        "passed": passed,
        "unreadable_files": failures[:20],
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
    }


# --- 2. parse throughput --------------------------------------------------------------------------

_PER_FILE = {"camt.053": 1000, "mt940": 1000, "bai2": 2000, "lockbox": 2000, "csv": 5000}


class _Payers:
    """A pool of paying companies with their bank accounts, drawn once (names as banks print them)."""

    def __init__(self, d, n: int = 300):
        from simulator import identity

        countries = ("US", "DE", "FR", "GB", "NL", "IT", "ES")
        self.pool = []
        for i in range(n):
            country = countries[i % len(countries)]
            name = identity.company_name(d, country)[0]
            account, bank_id = identity.make_account(d, country)
            self.pool.append((identity.bank_style_name(d, name), account, bank_id))


def _movements(d, payers: _Payers, n: int, o: int, start: int, channel_mix=("wire", "ach")):
    """``n`` customer receipts for day ``o``: realistic references, end-to-end ids and amounts."""
    from simulator.bankfiles import Movement

    out = []
    for k in range(n):
        name, account, bank_id = payers.pool[d.randint(0, len(payers.pool) - 1)]
        number = start + k
        invoices = " ".join(f"INV-{d.randint(100000, 999999)}" for _ in range(1 + (d.u() < 0.3)))
        mv = Movement(
            "customer_payment",
            int(d.lognormal(4_000_00, 1.1)) + 1,
            o,
            name=name,
            account=account,
            bank_id=bank_id,
            text=invoices if d.u() < 0.8 else "",
            e2e=f"E2E{number:012d}" if d.u() < 0.7 else None,
            trace=f"{number:015d}",
            channel=d.choice(channel_mix),
            payment_id=f"PAY-{number:08d}",
        )
        mv.bank_ref = f"BR{number:012d}"
        out.append(mv)
    return out


def write_throughput_files(folder: Path, transactions: int, seed: int = 11) -> dict[str, tuple[int, int]]:
    """Write ``transactions`` movements split evenly over the five formats with the simulator's writers.
    Returns per format (files, transactions written)."""
    import numpy as np

    from simulator.bankfiles import (
        Check,
        bai2_statement,
        camt_statement,
        lockbox_file,
        mt940_statement,
        seller_accounts,
    )
    from simulator.rand import Draws
    from simulator.remittance import AdviceLine

    d = Draws(np.random.default_rng([seed, 9]))
    payers = _Payers(d)
    accounts, lockbox = seller_accounts(seed, {})
    by_fmt = {a.fmt: a for a in accounts}
    share = transactions // len(FORMATS)
    written: dict[str, tuple[int, int]] = {}
    day0 = dt.date(2026, 1, 5).toordinal()
    number = 0

    def iso(o: int) -> str:
        return dt.date.fromordinal(o).isoformat()

    for fmt in FORMATS:
        target = share + (transactions - share * len(FORMATS) if fmt == FORMATS[-1] else 0)
        sub = folder / fmt.replace(".", "_")
        sub.mkdir(parents=True, exist_ok=True)
        files = done = 0
        balance = 1_000_000_00
        while done < target:
            n = min(_PER_FILE[fmt], target - done)
            o = day0 + files
            day = dt.date.fromordinal(o)
            files += 1
            if fmt == "lockbox":
                checks = []
                for mv in _movements(d, payers, n, o, number):
                    ch = Check(mv.payment_id, abs(mv.amount), mv.bank_id if mv.bank_id.isdigit() else "021000021",
                               mv.account[-10:], str(d.randint(1000, 99999)), o - 3, mv.name)  # fmt: skip
                    if d.u() < 0.5:
                        ch.lines = [
                            AdviceLine(
                                f"INV-{d.randint(100000, 999999)}", day, ch.amount, 0, 0, None, ch.amount
                            )
                        ]
                        ch.lines[0].reference = ch.lines[0].invoice_id
                    checks.append(ch)
                name, text = lockbox_file(lockbox, day, checks)
                (sub / f"{files:05d}_{name}").write_text(text, encoding="ascii")
            elif fmt == "csv":
                mv = _movements(d, payers, n, o, number)
                buf = io.StringIO()
                w = csv.writer(buf, delimiter=";", lineterminator="\r\n")
                w.writerow(["Booking Date", "Value Date", "Amount", "Currency", "Name", "IBAN", "Reference",
                            "End-to-end ID", "Description", "Account"])  # fmt: skip
                for m in mv:
                    amount = f"{m.amount // 100}.{m.amount % 100:02d}".replace(".", ",")
                    w.writerow([day.strftime("%d.%m.%Y"), dt.date.fromordinal(m.value_o).strftime("%d.%m.%Y"), amount,
                                "EUR", m.name, m.account, m.bank_ref, m.e2e or "", m.text, by_fmt["mt940-de"].account])  # fmt: skip
                (sub / f"export_{files:05d}.csv").write_bytes(buf.getvalue().encode("utf-8"))
            else:
                if fmt == "bai2":
                    a = by_fmt["bai2"]
                elif fmt == "mt940":
                    a = by_fmt["mt940-de" if files % 2 else "mt940-swift"]
                else:
                    a = by_fmt["camt.053.001.08" if files % 2 else "camt.053.001.02"]
                mv = _movements(
                    d,
                    payers,
                    n,
                    o,
                    number,
                    ("wire", "ach") if a.currency != "USD" else ("wire", "ach", "card"),
                )
                closing = balance + sum(m.amount for m in mv)
                if fmt == "bai2":
                    name, text, _ = bai2_statement(
                        a, day, mv, balance, closing, files, day, "NORTHSTAR INDUSTRIAL SUPPLY"
                    )
                elif fmt == "mt940":
                    name, text, _ = mt940_statement(a, day, mv, balance, closing, files)
                else:
                    name, text, _ = camt_statement(a, day, mv, balance, closing, files, files % 4 == 1, iso)
                encoding = "latin-1" if a.fmt == "mt940-de" else "utf-8"
                (sub / f"{files:05d}_{name}").write_bytes(text.encode(encoding, errors="replace"))
                balance = closing
            number += n
            done += n
        written[fmt] = (files, done)
    return written


def throughput_benchmark(transactions: int, *, folder: Path | None = None, seed: int = 11) -> dict:
    """Generate ``transactions`` movements across the formats, parse every file, report transactions/s."""
    from ingestion.parsing import parse_file

    own = folder is None
    folder = Path(tempfile.mkdtemp(prefix="openar-bench-")) if own else Path(folder)
    try:
        t = time.perf_counter()
        written = write_throughput_files(folder, transactions, seed)
        generate_seconds = time.perf_counter() - t
        rows = {}
        for fmt in FORMATS:
            sub = folder / fmt.replace(".", "_")
            paths = sorted(p for p in sub.iterdir() if p.is_file())
            size = sum(p.stat().st_size for p in paths)
            parsed = 0
            formats: Counter = Counter()
            w0, c0 = time.perf_counter(), time.process_time()
            for p in paths:
                result = parse_file(p)
                parsed += len(result.transactions)
                formats[result.source_format] += 1
            wall, cpu = time.perf_counter() - w0, time.process_time() - c0
            if parsed != written[fmt][1]:
                raise AssertionError(f"{fmt}: wrote {written[fmt][1]} transactions, parsed {parsed}")
            rows[fmt] = {
                "files": len(paths),
                "transactions": parsed,
                "megabytes": round(size / 1e6, 1),
                "detected_as": dict(formats),
                "wall_seconds": round(wall, 2),
                "cpu_seconds": round(cpu, 2),
                "tx_per_second": round(parsed / wall) if wall else None,
                "tx_per_cpu_second": round(parsed / cpu) if cpu else None,
            }
        total = sum(r["transactions"] for r in rows.values())
        wall = sum(r["wall_seconds"] for r in rows.values())
        cpu = sum(r["cpu_seconds"] for r in rows.values())
        return {
            "transactions": total,
            "generate_seconds": round(generate_seconds, 1),
            "formats": rows,
            "total": {
                "wall_seconds": round(wall, 2),
                "cpu_seconds": round(cpu, 2),
                "tx_per_second": round(total / wall) if wall else None,
                "tx_per_cpu_second": round(total / cpu) if cpu else None,
            },
        }
    finally:
        if own:
            shutil.rmtree(folder, ignore_errors=True)


# --- the command ----------------------------------------------------------------------------------


def _print_extraction(r: dict) -> None:
    print(f"Remittance extraction on {r['world']} ({r['files']} files, {r['seconds']} s)")
    head = f"{'document kind':<26}{'docs':>7}{'lines':>7}{'exact':>7}   {'ref P':>6}{'ref R':>7}{'ref F1':>7}   {'amt P':>6}{'amt R':>7}{'amt F1':>7}"
    print(head)
    print("-" * len(head))
    for k in [*r["kinds"].values(), {**r["overall"], "label": "all documents"}]:
        ref, amt = k["invoice_reference"], k["paid_amount"]
        print(
            f"{k['label']:<26}{k['documents']:>7}{k['lines']:>7}{k['documents_exact']:>7}   "
            f"{ref['precision']:>6.3f}{ref['recall']:>7.3f}{ref['f1']:>7.3f}   "
            f"{amt['precision']:>6.3f}{amt['recall']:>7.3f}{amt['f1']:>7.3f}"
        )
    verdict = "PASS" if r["passed"] else "FAIL"
    print(f"{verdict}: F1 >= {r['target_f1']} for invoice reference and paid amount in every kind")
    for f in r["unreadable_files"]:
        print(f"  unreadable: {f}")


def _print_throughput(r: dict) -> None:
    print(
        f"\nParse throughput: {r['transactions']:,} transactions (files written in {r['generate_seconds']} s)"
    )
    head = f"{'format':<10}{'files':>7}{'transactions':>14}{'MB':>8}{'wall s':>9}{'cpu s':>9}{'tx/s':>10}{'tx/cpu-s':>10}"
    print(head)
    print("-" * len(head))
    for fmt, x in [*r["formats"].items(), ("all", {**r["total"], "files": sum(v["files"] for v in r["formats"].values()),
                                                 "transactions": r["transactions"],
                                                 "megabytes": round(sum(v["megabytes"] for v in r["formats"].values()), 1)})]:  # fmt: skip
        print(
            f"{fmt:<10}{x['files']:>7}{x['transactions']:>14,}{x['megabytes']:>8}{x['wall_seconds']:>9}"
            f"{x['cpu_seconds']:>9}{x['tx_per_second']:>10,}{x['tx_per_cpu_second']:>10,}"
        )


def _default_world() -> Path:
    """The world `make run` simulated into the data folder; else the default world, simulated once."""
    from orchestration.settings import load_settings

    settings = load_settings()
    if (settings.ground_truth_dir / "remittance_documents.csv").exists():
        return settings.data_dir
    path = settings.data_dir / "bench" / "ingest-world"
    # summary.json is written last: a world without it was interrupted and is simulated again
    if not (path / "ground_truth" / "summary.json").exists():
        from simulator.world import simulate_world

        print(f"simulating the default world into {path} ...", file=sys.stderr, flush=True)
        simulate_world(
            path, customers=settings.sim_customers, years=settings.sim_years, seed=settings.sim_seed
        )
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="openar bench ingest", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--world",
        type=Path,
        help="simulated world (default: the data folder's world, else the default world simulated "
        "under <data dir>/bench/ingest-world)",
    )
    p.add_argument(
        "--transactions", type=int, default=1_000_000, help="movements to parse (default %(default)s)"
    )
    p.add_argument(
        "--max-documents", type=int, help="score at most this many remittance files (spread evenly)"
    )
    p.add_argument("--skip-extraction", action="store_true")
    p.add_argument("--skip-throughput", action="store_true")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    args = p.parse_args(argv)
    if args.transactions < len(FORMATS):
        p.error(f"--transactions must be at least {len(FORMATS)}")
    report: dict = {}
    if not args.skip_extraction:
        try:
            world = args.world or _default_world()
            report["extraction"] = extraction_benchmark(world, max_documents=args.max_documents)
        except FileNotFoundError as e:
            print(f"openar bench ingest: {e}", file=sys.stderr)
            return 2
        if not args.json:
            _print_extraction(report["extraction"])
    if not args.skip_throughput:
        report["throughput"] = throughput_benchmark(args.transactions)
        if not args.json:
            _print_throughput(report["throughput"])
    if args.json:
        print(json.dumps(report, indent=2))
    ok = report.get("extraction", {}).get("passed", True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
