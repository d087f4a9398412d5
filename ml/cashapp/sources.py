"""The engine's inputs from a simulated world: the files the product reads, and the truth to score against.

:func:`parsed_feed` is what the bench uses. It feeds the engine the way the product does: every bank
statement and lockbox file under ``landing/bank`` and every remittance advice under
``landing/remittance`` is read by ingestion's ``parse_file`` (the same parsers the bank loader runs),
and the engine gets those normalized :class:`~ingestion.normalized.BankTransaction` and
:class:`~ingestion.normalized.RemittanceDocument` records: every movement of every statement (debits,
sweeps, interest and lockbox deposit totals included: telling them from customer payments is the
engine's job), advices as extracted from e-mails, PDFs, spreadsheets, EDI 820 and lockbox overflow
records. The open items come from the ERP extracts (invoices, credit memos, customer master).
``ground_truth/`` is read only to score: ``payments.csv`` (``bank_file``, ``bank_position``) names
which parsed movement each true payment is, ``payment_allocations.csv`` what it paid.

Parsing ~16,000 statement movements and ~7,000 documents of the default world takes about two
minutes (documents: 10-30 ms each); the parsed records are cached under ``<cache_dir>`` keyed by the
world folder and the names, sizes and times of its files, so a second bench run starts at once.

:func:`simulated_feed` is the earlier stand-in, from before the simulator wrote bank files: it
synthesizes transactions and advices from the truth-side columns of ``payments.csv``
(``payer_name_as_written``, ``free_text_reference``...) and the true allocations. It is kept for
worlds simulated with ``bank_files=False`` and for tests; the bench no longer uses it.

The synthesized advices of :func:`simulated_feed` have these imperfections, drawn from a generator
seeded by the payment id (so a world always yields the same inputs):

- lockbox coupons: invoice number and amount only; 3% of numbers misread by OCR (``O`` for ``0``);
- EDI 820: exact (RMR lines with paid, gross, discount and adjustment amount + reason);
- e-mails (body table, PDF, spreadsheet): invoice numbers written several ways (``INV-100023``,
  ``100023``, ``Inv. 100023``), 2% with two digits swapped, 1% of PDFs with OCR confusions, 3% of
  paid amounts and 5% of discount mentions not extracted, 4% of advices without a total, 1% missing
  a line, dated up to two days before the money arrives, extraction confidence 0.85-0.99.

Also the open-item events the backtest replays (invoices on their issue date, credit memos applied
on their date), and the truth: which invoices each payment paid (``payment_allocations.csv``), with
the discount the ERP allowed (``payment_applications``): a deduction, or a discount the ERP refused,
stays open on the invoice until a credit memo or a later payment settles it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import pickle
import random
import re
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pandas as pd

from ingestion.normalized import BankTransaction, RemittanceDocument, RemittanceLine
from ml.cashapp.book import OpenItem
from ml.cashapp.money import from_cents, to_cents

# The seller's collection accounts, one per currency (where the simulated customers pay to).
OUR_ACCOUNTS = {
    "USD": ("021000021-4471829390", "CHASUS33"),
    "EUR": ("DE89370400440532013000", "COBADEFFXXX"),
    "GBP": ("GB29NWBK60161331926819", "NWBKGB2L"),
}


@dataclass(frozen=True, slots=True)
class TruthAllocation:
    item_id: str
    cash: int
    discount: int
    deduction: int
    reason: str | None
    allowed_discount: int  # the discount the ERP accepted (a late one may be refused and stay open)


@dataclass(slots=True)
class TruthPayment:
    payment_id: str
    customer_id: str
    payer_customer_id: str
    amount: int
    allocations: list[TruthAllocation]
    remittance: str
    day: int

    def key(self) -> frozenset:
        return frozenset((a.item_id, a.cash) for a in self.allocations)


@dataclass
class SimulatedFeed:
    customers: pd.DataFrame
    invoices_by_day: dict[int, list[OpenItem]]
    credits_by_day: dict[int, list[tuple[str, int]]]
    transactions_by_day: dict[int, list[BankTransaction]]
    remittances_by_day: dict[int, list[RemittanceDocument]]
    truth: dict[str, TruthPayment]  # transaction identity -> truth
    days: list[int] = field(default_factory=list)
    origin: str = "synthesized"  # "parsed": read from the landing files by ingestion's parsers
    parse_seconds: float = 0.0  # time spent parsing the files (0 when read from the cache)
    files: int = 0
    parse_errors: list[str] = field(default_factory=list)

    @property
    def payment_count(self) -> int:
        return len(self.truth)


def _read_extract(erp_dir: Path, name: str, dtype=str) -> pd.DataFrame:
    files = sorted((erp_dir / name).glob(f"{name}_*.csv"))
    if not files:
        raise FileNotFoundError(f"{erp_dir / name}: no {name} extract files")
    return pd.concat((pd.read_csv(f, dtype=dtype, keep_default_na=False) for f in files), ignore_index=True)


def _rng(payment_id: str) -> random.Random:
    # A generator per payment: adding a payment to a world never changes another one's advice.
    return random.Random(int.from_bytes(hashlib.sha256(payment_id.encode()).digest()[:8], "big"))


def _ordinal(s: str) -> int:
    return dt.date.fromisoformat(s).toordinal()


def _transaction(row: dict, rng: random.Random) -> BankTransaction:
    cur = row["currency"]
    channel = row["channel"]
    if channel == "check":
        fmt = "lockbox"
    elif channel == "card":
        fmt = "csv"
    elif cur == "USD":
        fmt = "bai2"
    else:
        fmt = rng.choice(("camt.053", "camt.053", "mt940"))
    account, bic = OUR_ACCOUNTS[cur]
    pid = row["payment_id"]
    bank_ref = hashlib.sha1(pid.encode()).hexdigest()[:16].upper()
    customer_ref = row["check_number"] or None
    if row["remittance"] == "edi820":
        customer_ref = "TRN" + hashlib.sha1((pid + "trn").encode()).hexdigest()[:12].upper()
    return BankTransaction(
        source_format=fmt,
        account=account,
        bank=bic,
        statement_id=f"{fmt.upper()}-{row['received_date']}",
        booking_date=dt.date.fromisoformat(row["received_date"]),
        value_date=dt.date.fromisoformat(row["value_date"]),
        amount=Decimal(row["amount"]),
        currency=cur,
        credit_debit="CRDT",
        counterparty_name=row["payer_name_as_written"] or None,
        counterparty_account=row["payer_account"] or None,
        end_to_end_id=row["end_to_end_id"] or None,
        bank_reference=bank_ref,
        customer_reference=customer_ref,
        remittance_text=row["free_text_reference"] or None,
        transaction_code={"check": "CHK", "ach": "ACH", "wire": "WIRE", "card": "CARD"}[channel],
    )


def _swap(rng: random.Random, s: str) -> str:
    digits = [i for i, ch in enumerate(s) if ch.isdigit()]
    if len(digits) < 3:
        return s
    i = rng.choice(digits[1:-1])
    j = i + 1 if i + 1 < len(s) and s[i + 1].isdigit() else i - 1
    chars = list(s)
    chars[i], chars[j] = chars[j], chars[i]
    return "".join(chars)


def _ocr(rng: random.Random, s: str) -> str:
    zeros = [i for i, ch in enumerate(s) if ch in "01"]
    if not zeros:
        return s
    i = rng.choice(zeros)
    return s[:i] + ("O" if s[i] == "0" else "l") + s[i + 1 :]


def _advice(
    row: dict, allocs: list[TruthAllocation], payer_name: str, txn: BankTransaction, rng: random.Random
) -> RemittanceDocument | None:
    kind = row["remittance"]
    if kind == "none" or not allocs:
        return None
    amount = to_cents(row["amount"])
    day = dt.date.fromisoformat(row["received_date"])
    lines = []
    if kind == "lockbox_detail":
        for n, a in enumerate(allocs, start=1):
            ref, conf = a.item_id, 1.0
            if rng.random() < 0.03:
                ref, conf = _ocr(rng, ref), 0.9
            lines.append(RemittanceLine(ref, from_cents(a.cash), confidence=conf, position=n))
        return RemittanceDocument(
            "lockbox",
            None,
            txn.customer_reference,
            day,
            from_cents(amount),
            row["currency"],
            lines,
            position=0,
        )
    if kind == "edi820":
        for n, a in enumerate(allocs, start=1):
            lines.append(
                RemittanceLine(
                    a.item_id,
                    from_cents(a.cash),
                    invoice_amount=from_cents(a.cash + a.discount + a.deduction),
                    discount_amount=from_cents(a.discount) if a.discount else None,
                    deduction_amount=from_cents(a.deduction) if a.deduction else None,
                    deduction_reason=a.reason if a.deduction else None,
                    confidence=1.0,
                    position=n,
                )
            )
        return RemittanceDocument(
            "x12-820",
            payer_name,
            txn.customer_reference,
            day,
            from_cents(amount),
            row["currency"],
            lines,
            position=0,
        )
    fmt = {"email_body": "eml", "email_pdf": "pdf", "email_xlsx": "xlsx"}.get(kind, "eml")
    style = rng.random()
    for n, a in enumerate(allocs, start=1):
        digits = a.item_id.split("-")[-1]
        ref = a.item_id if style < 0.6 else digits if style < 0.85 else f"Inv. {digits}"
        conf = round(rng.uniform(0.85, 0.99), 2)
        r = rng.random()
        if r < 0.02:
            ref, conf = _swap(rng, ref), min(conf, 0.8)
        elif fmt == "pdf" and r < 0.03:
            ref, conf = _ocr(rng, ref), min(conf, 0.75)
        if len(allocs) > 1 and rng.random() < 0.01:
            continue  # the payer left a line out of its advice
        paid = None if rng.random() < 0.03 else from_cents(a.cash)
        disc = from_cents(a.discount) if a.discount and rng.random() >= 0.05 else None
        ded = from_cents(a.deduction) if a.deduction else None
        reason = a.reason.lower().replace("_", " ") if a.deduction and a.reason else None
        lines.append(
            RemittanceLine(
                ref,
                paid,
                discount_amount=disc,
                deduction_amount=ded,
                deduction_reason=reason,
                confidence=conf,
                position=n,
            )
        )
    if not lines:
        return None
    total = None if rng.random() < 0.04 else from_cents(amount)
    sent = day - dt.timedelta(days=rng.choice((0, 0, 0, 1, 2)))
    ref = row["free_text_reference"] or None
    return RemittanceDocument(
        fmt,
        payer_name,
        ref,
        sent,
        total,
        row["currency"],
        lines,
        payer_confidence=round(rng.uniform(0.8, 0.99), 2),
    )


def _erp(world: Path):
    """Customer master, invoices by issue day, credit memos by the day they were applied (ERP extracts)."""
    erp = world / "landing" / "erp"
    cust_files = sorted((erp / "customers").glob("customers_*.csv"))
    if not cust_files:
        raise FileNotFoundError(f"{erp / 'customers'}: no customer master extract")
    customers = pd.read_csv(cust_files[-1], dtype=str, keep_default_na=False)
    inv = _read_extract(erp, "invoices")
    invoices_by_day: dict[int, list[OpenItem]] = {}
    for r in inv.itertuples(index=False):
        d = _ordinal(r.invoice_date)
        cents = to_cents(r.amount)
        pct = Decimal(r.discount_pct) if r.discount_pct and Decimal(r.discount_pct) > 0 else None
        invoices_by_day.setdefault(d, []).append(
            OpenItem(
                r.invoice_id,
                r.customer_id,
                r.currency,
                d,
                _ordinal(r.due_date),
                cents,
                cents,
                pct,
                _ordinal(r.discount_due_date) if r.discount_due_date else None,
                r.po_number or None,
            )
        )
    cm = _read_extract(erp, "credit_memos")
    credits_by_day: dict[int, list[tuple[str, int]]] = {}
    for r in cm.itertuples(index=False):
        if r.applied_invoice_id:
            credits_by_day.setdefault(_ordinal(r.credit_date), []).append(
                (r.applied_invoice_id, to_cents(r.amount))
            )
    return customers, invoices_by_day, credits_by_day


def _true_allocations(world: Path) -> dict[str, list[TruthAllocation]]:
    """What each payment truly paid (ground truth), with the discount the ERP allowed."""
    gt = world / "ground_truth"
    al = pd.read_csv(gt / "payment_allocations.csv", dtype=str, keep_default_na=False)
    apps = _read_extract(world / "landing" / "erp", "payment_applications")
    allowed = {
        (r.payment_id, r.invoice_id): to_cents(r.discount_amount) for r in apps.itertuples(index=False)
    }
    allocs: dict[str, list[TruthAllocation]] = {}
    for r in al.itertuples(index=False):
        disc = to_cents(r.discount_amount)
        allocs.setdefault(r.payment_id, []).append(
            TruthAllocation(
                r.invoice_id,
                to_cents(r.applied_amount),
                disc,
                to_cents(r.deduction_amount),
                r.deduction_reason or None,
                allowed.get((r.payment_id, r.invoice_id), disc),
            )
        )
    return allocs


def simulated_feed(world_dir: str | Path) -> SimulatedFeed:
    """Engine inputs synthesized from the truth of a world (see the module docstring): the stand-in
    from before the simulator wrote bank files. The bench uses :func:`parsed_feed`."""
    world = Path(world_dir)
    customers, invoices_by_day, credits_by_day = _erp(world)
    names = dict(zip(customers.customer_id, customers.customer_name, strict=True))
    pays = pd.read_csv(world / "ground_truth" / "payments.csv", dtype=str, keep_default_na=False)
    allocs = _true_allocations(world)
    txns: dict[int, list[BankTransaction]] = {}
    docs: dict[int, list[RemittanceDocument]] = {}
    truth: dict[str, TruthPayment] = {}
    for row in pays.to_dict("records"):
        pid = row["payment_id"]
        rng = _rng(pid)
        t = _transaction(row, rng)
        day = _ordinal(row["received_date"])
        txns.setdefault(day, []).append(t)
        a = [x for x in allocs.get(pid, []) if x.cash > 0]
        doc = _advice(row, a, names.get(row["payer_customer_id"], ""), t, rng)
        if doc is not None:
            docs.setdefault(day, []).append(doc)
        truth[t.identity()] = TruthPayment(
            pid,
            row["customer_id"],
            row["payer_customer_id"],
            to_cents(row["amount"]),
            a,
            row["remittance"],
            day,
        )
    return SimulatedFeed(
        customers,
        invoices_by_day,
        credits_by_day,
        txns,
        docs,
        truth,
        days=sorted(set(invoices_by_day) | set(credits_by_day) | set(txns)),
    )


# -- the landing files, parsed as the product parses them -------------------------------------------------

_FILE_DATE = re.compile(r"(20\d{2})(\d{2})(\d{2})")
PARSE_CACHE_VERSION = 2  # bumped when parsing changes what it reads (2: ambiguous dates near the Date header)


# Advice documents read by text extraction (e-mails and their PDF/spreadsheet attachments): 10-30 ms
# of CPU each, against well under 1 ms per bank movement or EDI 820 advice.
_DOCUMENT_SUFFIXES = frozenset((".eml", ".msg", ".pdf", ".html", ".htm", ".xlsx", ".xls", ".docx", ".txt"))
EMAIL_KINDS = frozenset(("email_body", "email_pdf", "email_xlsx"))


def _landing_files(world: Path, documents: str = "parsed") -> list[Path]:
    out = []
    for sub in ("bank", "remittance"):
        root = world / "landing" / sub
        if root.is_dir():
            files = [f for f in sorted(root.rglob("*")) if f.is_file() and not f.name.startswith(".")]
            if sub == "remittance" and documents != "parsed":
                files = [f for f in files if f.suffix.lower() not in _DOCUMENT_SUFFIXES]
            out.extend(files)
    return out


def _parse_one(path: str) -> tuple[str, object]:
    # A process-pool worker: returns the ParseResult, or the ParseError's message for the report.
    from ingestion.parsing import ParseError, parse_file

    try:
        return path, parse_file(Path(path))
    except ParseError as e:
        return path, str(e)


def parse_landing(world: Path, files: list[Path], workers: int = 1) -> tuple[dict[str, object], float]:
    """``parse_file`` on every landing file: relative path -> ParseResult (or the error text)."""
    t0 = time.perf_counter()
    names = [str(f) for f in files]
    if workers > 1 and len(names) > 200:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(_parse_one, names, chunksize=64))
    else:
        results = [_parse_one(n) for n in names]
    out = {str(Path(p).relative_to(world)): r for p, r in results}
    return out, time.perf_counter() - t0


def _arrival_day(rel: str, doc: RemittanceDocument, fallback: int | None) -> int | None:
    """The day an advice reached us: the date its landing file is named with (the simulator, like a
    mail or EDI gateway, names files by the day received), else the date the advice states."""
    m = _FILE_DATE.search(Path(rel).name)
    if m:
        try:
            return dt.date(int(m[1]), int(m[2]), int(m[3])).toordinal()
        except ValueError:
            pass
    if fallback is not None:
        return fallback
    return doc.payment_date.toordinal() if doc.payment_date else None


def parsed_feed(
    world_dir: str | Path,
    *,
    cache_dir: str | Path | None = None,
    workers: int = 2,
    documents: str = "parsed",
) -> SimulatedFeed:
    """Engine inputs read from the world's landing files by ingestion's parsers; truth for scoring only
    (see the module docstring). ``cache_dir``: where the parsed records are kept between runs.

    ``documents="synthesized"``: bank statements, lockbox files and EDI 820 advices are parsed, but
    e-mailed advices (e-mail bodies, PDF and spreadsheet attachments) are not read: an advice is
    synthesized from the truth instead for each payment the simulator sent one for, with the
    imperfections listed in the module docstring. Only for measuring throughput on worlds whose
    tens of thousands of documents the machine cannot extract in the time at hand (about 20 ms of
    CPU each); the bench says so in its report."""
    if documents not in ("parsed", "synthesized"):
        raise ValueError(f"documents must be 'parsed' or 'synthesized', got {documents!r}")
    world = Path(world_dir).resolve()
    if not (world / "landing" / "bank").is_dir():
        raise FileNotFoundError(
            f"{world}/landing/bank: no bank files (simulate the world with bank_files=True)"
        )
    customers, invoices_by_day, credits_by_day = _erp(world)
    files = _landing_files(world, documents)
    parsed = None
    cache = None
    parse_seconds = 0.0
    if cache_dir is not None:
        sig = hashlib.sha256(str(PARSE_CACHE_VERSION).encode() + str(world).encode())
        for f in files:
            st = f.stat()
            sig.update(f"{f.relative_to(world)}|{st.st_size}|{st.st_mtime_ns}\n".encode())
        cache = Path(cache_dir) / f"parsed-{sig.hexdigest()[:20]}.pkl"
        if cache.exists():
            with cache.open("rb") as fh:
                parsed = pickle.load(fh)
    if parsed is None:
        parsed, parse_seconds = parse_landing(world, files, workers)
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(".tmp")
            with tmp.open("wb") as fh:
                pickle.dump(parsed, fh, protocol=pickle.HIGHEST_PROTOCOL)
            tmp.replace(cache)
    txns: dict[int, list[BankTransaction]] = {}
    docs: dict[int, list[RemittanceDocument]] = {}
    by_position: dict[tuple[str, int], BankTransaction] = {}
    errors = []
    for rel, res in parsed.items():
        if isinstance(res, str):
            errors.append(res)
            continue
        file_day = None
        for t in res.transactions:
            by_position[(rel, t.position)] = t
            day = t.booking_date or t.value_date
            if day is None:
                errors.append(f"{rel}: movement at position {t.position} has no date")
                continue
            txns.setdefault(day.toordinal(), []).append(t)
            file_day = day.toordinal()
        for d in res.remittances:
            # a lockbox file's advices arrive with its checks
            day = _arrival_day(rel, d, file_day if res.transactions else None)
            if day is not None:
                docs.setdefault(day, []).append(d)
    pays = pd.read_csv(world / "ground_truth" / "payments.csv", dtype=str, keep_default_na=False)
    allocs = _true_allocations(world)
    truth: dict[str, TruthPayment] = {}
    names = dict(zip(customers.customer_id, customers.customer_name, strict=True))
    for row in pays.itertuples(index=False):
        t = by_position.get((row.bank_file, int(row.bank_position)))
        if t is None:
            errors.append(f"{row.payment_id}: {row.bank_file} position {row.bank_position} not parsed")
            continue
        if documents == "synthesized" and row.remittance in EMAIL_KINDS:
            a = [x for x in allocs.get(row.payment_id, []) if x.cash > 0]
            doc = _advice(row._asdict(), a, names.get(row.payer_customer_id, ""), t, _rng(row.payment_id))
            if doc is not None:
                docs.setdefault((t.booking_date or t.value_date).toordinal(), []).append(doc)
        truth[t.identity()] = TruthPayment(
            row.payment_id,
            row.customer_id,
            row.payer_customer_id,
            to_cents(row.amount),
            [x for x in allocs.get(row.payment_id, []) if x.cash > 0],
            row.remittance,
            (t.booking_date or t.value_date).toordinal(),
        )
    return SimulatedFeed(
        customers,
        invoices_by_day,
        credits_by_day,
        txns,
        docs,
        truth,
        days=sorted(set(invoices_by_day) | set(credits_by_day) | set(txns)),
        origin="parsed"
        if documents == "parsed"
        else "parsed bank files and EDI; e-mailed advices synthesized",
        parse_seconds=parse_seconds,
        files=len(files),
        parse_errors=errors,
    )
