"""Bank statements, lockbox files and remittance advices: how the simulated cash reaches the seller.

The seller has two receiving accounts per currency at different banks, and a lockbox for checks
(:func:`seller_accounts`). Each customer pays into the account printed on its invoices (drawn once
per customer). Every bank reports in its own standard:

===========  =====================================  ============================================
account      bank report                            detail
===========  =====================================  ============================================
USD-1        BAI2, prior-day, every business day    wires (195 + Fedwire ``88`` lines), ACH
                                                    (165, CCD/CTX addenda), the lockbox deposit
                                                    (115), payroll, vendor payments, fees
USD-2        BAI2 of another bank (no as-of time,   collections account, swept to USD-1 (ZBA)
             no ``/`` after detail text)
lockbox      BAI lockbox file (``ingestion/bank/    one check per ``6`` record, its invoices in
             lockbox.py`` layout)                   ``4`` overflow records when the coupon names
                                                    them
EUR-1        MT940, German ``:86:`` ``?20``         BLZ/Kontonummer in ``:25:``, SEPA keys
             subfields (``.sta``)                   ``EREF+``/``SVWZ+``, name in ``?32``/``?33``
EUR-2        camt.053.001.08                        SEPA credits, some booked as batches
GBP-1        MT940 in a SWIFT envelope, ``:86:``    Faster Payments/BACS and wires
             ``/TRTP/IBAN/BIC/NAME/REMI/EREF/``
GBP-2        camt.053.001.02                        collections account, swept to GBP-1
===========  =====================================  ============================================

A statement file is written per account and business day: every day for BAI2 (a prior-day balance
report comes whether or not anything moved), on days with movements for camt.053 and MT940 (the
usual "no statement without turnover" setting). Opening balance + movements = closing balance, and
each opening is the previous closing. Besides customer receipts the accounts carry what real ones
carry: vendor payments, payroll, bank fees, interest, zero-balance sweeps from the collections
accounts, and transfers to and from an investment account that keep the operating balance in a band.

Remittance advices go to ``landing/remittance/``: e-mails (``.eml``: table in the body as text or
HTML, or a PDF / XLSX attachment) written the day the payment is made, and EDI X12 820 files (one
interchange per payer and day). Lockbox invoice detail is inside the lockbox file.

Ground truth (``ground_truth/``): ``bank_movements.csv`` (every movement written: file, position as
the parsers count it, amount, kind, payment id for customer receipts, bank reference, end-to-end
id), ``bank_statements.csv`` (file, account, opening, closing), ``remittance_documents.csv`` and
``remittance_lines.csv`` (each advice, its file and position, and its lines as written), and the
links ``bank_file``, ``bank_position``, ``bank_reference``, ``remittance_file`` in ``payments.csv``.

Determinism and independence: everything here is drawn from streams of its own (per account
``[seed, 1, 100 + k]``) or derived from ids, never from a customer's stream, so switching the files
off leaves the ERP extracts byte-identical.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

from simulator import identity
from simulator.calendars import Calendars
from simulator.docbytes import eml_bytes
from simulator.money import fmt_cents
from simulator.output import Table
from simulator.rand import STREAM_SELLER, Draws, global_generator
from simulator.remittance import Advice, advice_pdf, advice_xlsx, email_parts, x12_820

STREAM_BANK_BASE = 100  # per-account streams [seed, 1, 100 + k]

BANK_TRUTH_COLUMNS = {
    "bank_movements": (
        "file",
        "position",
        "format",
        "account",
        "currency",
        "booking_date",
        "value_date",
        "amount",
        "kind",
        "payment_id",
        "bank_reference",
        "end_to_end_id",
        "counterparty_name",
    ),
    "bank_statements": (
        "file",
        "format",
        "account",
        "currency",
        "statement_date",
        "statement_id",
        "opening_balance",
        "closing_balance",
        "movements",
    ),
    "remittance_documents": (
        "file",
        "position",
        "kind",
        "payment_id",
        "payer_customer_id",
        "currency",
        "amount",
        "payment_reference",
        "line_count",
    ),
    "remittance_lines": (
        "file",
        "position",
        "payment_id",
        "line_number",
        "invoice_id",
        "reference_as_written",
        "paid_amount",
        "invoice_amount",
        "discount_amount",
        "deduction_amount",
        "deduction_reason",
    ),
}

# Movement kinds that are not customer receipts (the "non-customer" lines of a statement).
OTHER_KINDS = (
    "lockbox_deposit",
    "vendor_payment",
    "payroll",
    "bank_fee",
    "interest",
    "sweep_in",
    "sweep_out",
    "investment_out",
    "funding_in",
)

_VENDORS = (
    "ACME STEEL SUPPLY CO",
    "MIDWEST FREIGHT LINES",
    "PACIFIC PACKAGING INC",
    "UNITED UTILITIES",
    "CONTINENTAL INSURANCE",
    "OFFICE DEPOT BUSINESS",
    "GLOBAL LOGISTICS GMBH",
    "STAHLHANDEL NORD GMBH",
    "ENERGIE VERSORGUNG AG",
    "THAMES FACILITIES LTD",
    "HARBOUR WAREHOUSING LTD",
    "TAX AUTHORITY",
    "RENT - NORTHPARK ESTATES",
)


@dataclass
class SellerAccount:
    key: str
    currency: str
    bank: str
    slug: str  # folder under landing/bank
    bank_id: str  # ABA routing (USD) or BIC
    account: str  # IBAN or account number
    statement_account: str  # how the statement names the account
    fmt: str  # bai2 | camt.053.001.02 | camt.053.001.08 | mt940-de | mt940-swift
    role: str  # operating | collections
    opening: int  # cents at the start of the history

    def as_dict(self) -> dict:
        return {
            "key": self.key,
            "currency": self.currency,
            "bank": self.bank,
            "bank_id": self.bank_id,
            "account": self.account,
            "statement_account": self.statement_account,
            "format": self.fmt,
            "role": self.role,
            "folder": f"landing/bank/{self.slug}",
        }


@dataclass
class Lockbox:
    number: str
    bank: str
    slug: str
    routing: str  # the bank's ABA, the file's origin
    destination: str  # the seller's company id at the bank


def seller_accounts(seed: int, monthly: dict[str, int]) -> tuple[list[SellerAccount], Lockbox]:
    """The seller's receiving accounts. The first three draws are the ones ``summary.json`` always
    named (one per currency), so a world's primary accounts do not change with this module."""
    d = Draws(global_generator(seed, STREAM_SELLER))
    usd1, usd1_aba = identity.make_account(d, "US")
    eur1, eur1_bic = identity.make_account(d, "DE")
    gbp1, gbp1_bic = identity.make_account(d, "GB")
    usd2, usd2_aba = identity.make_account(d, "US")
    eur2, eur2_bic = identity.make_account(d, "FR")
    gbp2, gbp2_bic = identity.make_account(d, "GB")
    lockbox_no = f"{d.randint(100000, 999999):07d}"

    def opening(cur: str, share: float) -> int:
        return max(10_000_00, int(monthly.get(cur, 0) * share) // 100 * 100)

    accounts = [
        SellerAccount("USD-1", "USD", "First Continental Bank", "first-continental", usd1_aba, usd1, usd1,
                      "bai2", "operating", opening("USD", 1.1)),
        SellerAccount("USD-2", "USD", "Harborview National Bank", "harborview-national", usd2_aba, usd2,
                      usd2, "bai2", "collections", 25_000_00),
        SellerAccount("EUR-1", "EUR", "Rheinische Handelsbank", "rheinische-handelsbank", eur1_bic, eur1,
                      f"{eur1[4:12]}/{eur1[12:]}", "mt940-de", "operating", opening("EUR", 1.1)),
        SellerAccount("EUR-2", "EUR", "Banque Atlantique", "banque-atlantique", eur2_bic, eur2, eur2,
                      "camt.053.001.08", "collections", 20_000_00),
        SellerAccount("GBP-1", "GBP", "Thames & Mercia Bank", "thames-mercia", gbp1_bic, gbp1, gbp1,
                      "mt940-swift", "operating", opening("GBP", 1.1)),
        SellerAccount("GBP-2", "GBP", "Albion Clearing Bank", "albion-clearing", gbp2_bic, gbp2, gbp2,
                      "camt.053.001.02", "collections", 15_000_00),
    ]  # fmt: skip
    lockbox = Lockbox(lockbox_no, "First Continental Bank", "first-continental", usd1_aba, "NORTHSTAR1")
    return accounts, lockbox


# Receipts split between the two accounts of a currency (the share paying into the first).
_FIRST_SHARE = {"USD": 0.65, "EUR": 0.6, "GBP": 0.55}


@dataclass
class Movement:
    kind: str
    amount: int  # signed cents: credits positive
    value_o: int
    name: str | None = None
    account: str | None = None
    bank_id: str | None = None
    text: str = ""  # remittance text / free-text reference as the bank carries it
    e2e: str | None = None
    trace: str | None = None  # ACH trace, EDI TRN, check number
    channel: str | None = None
    payment_id: str | None = None
    sec: str = "CCD"  # ACH standard entry class (CTX carries an 820)
    bank_ref: str = ""
    position: int = 0


@dataclass
class Check:
    payment_id: str
    amount: int
    routing: str
    account: str
    number: str
    check_o: int  # the date written on the check
    name: str
    lines: list = field(default_factory=list)  # AdviceLine for lockbox detail
    position: int = 0
    batch_item: str = ""


@dataclass
class PendingPayment:
    row: tuple  # the payments.csv row without the link columns
    account_key: str = ""
    file: str = ""
    position: int = 0
    bank_ref: str = ""
    remittance_file: str = ""


def _swift(text: str, extra: str = "") -> str:
    """Text in the SWIFT X character set (what MT940 fields may hold): letters, digits, ``/-?:().,'+ ``."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(rf"[^A-Za-z0-9/\-?:().,'+ {extra}]", " ", text)


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def _mt_amount(cents: int) -> str:
    return f"{abs(cents) // 100},{abs(cents) % 100:02d}"


def _dec(cents: int) -> str:
    return f"{abs(cents) // 100}.{abs(cents) % 100:02d}"


def _chunks(text: str, n: int) -> list[str]:
    return [text[i : i + n] for i in range(0, len(text), n)] or [""]


class BankFiles:
    """Collects a day's money movements and writes that day's bank and remittance files."""

    def __init__(
        self,
        out_dir: Path,
        gt_dir: Path,
        seed: int,
        cals: Calendars,
        customers,
        seller_name: str,
        files_from_o: int | None = None,
    ):
        self.out_dir = out_dir
        # Days before this ordinal move the same money and balances but write no file (and no file
        # truth): every counter and random draw still advances, so the days written are the same
        # bytes as in a world with every day's files.
        self.files_from_o = files_from_o
        self.cals = cals
        self.seller_name = seller_name
        monthly: dict[str, int] = {}
        for c in customers:
            expected = c.invoices_per_month * c.amount_median * math.exp(c.amount_sigma**2 / 2)
            monthly[c.currency] = monthly.get(c.currency, 0) + int(expected * 100)
        self.monthly = monthly
        self.accounts, self.lockbox = seller_accounts(seed, monthly)
        self.by_key = {a.key: a for a in self.accounts}
        self.balance = {a.key: a.opening for a in self.accounts}
        self.draws = {
            a.key: Draws(global_generator(seed, STREAM_BANK_BASE + k)) for k, a in enumerate(self.accounts)
        }
        self.day: dict[str, list[Movement]] = {a.key: [] for a in self.accounts}
        self.checks: list[Check] = []
        self.edi: dict[str, list[tuple[Advice, str, tuple[str, str], PendingPayment]]] = {}
        self.pending: list[PendingPayment] = []
        self.seq: dict[str, int] = {}
        self.statement_no = {a.key: 0 for a in self.accounts}
        self.lockbox_files = 0
        self.edi_control = 0
        self.email_no = 0
        self.counts = {"statement_files": 0, "lockbox_files": 0, "emails": 0, "edi_files": 0}
        self.bank_root = out_dir / "landing" / "bank"
        self.remit_root = out_dir / "landing" / "remittance"
        self._clean()
        self.gt = {name: Table(gt_dir / f"{name}.csv", cols) for name, cols in BANK_TRUTH_COLUMNS.items()}

    def _clean(self) -> None:
        # A previous world's files would mix with this one's: remove what this writer owns.
        owned = {a.slug for a in self.accounts} | {self.lockbox.slug}
        for slug in owned:
            folder = self.bank_root / slug
            folder.mkdir(parents=True, exist_ok=True)
            for pattern in ("BAI2_*.bai", "MT940_*.sta", "*_MT940.txt", "camt053_*.xml", "LBX*.txt"):
                for old in folder.glob(pattern):
                    old.unlink()
        self.remit_root.mkdir(parents=True, exist_ok=True)
        for pattern in ("RA-*.eml", "EDI820-*.edi"):
            for old in self.remit_root.glob(pattern):
                old.unlink()

    # --- intake --------------------------------------------------------------------------------------

    def remit_to(self, currency: str, u: float) -> str:
        """The account printed on a customer's invoices, from one uniform draw of its own stream."""
        return f"{currency}-{1 if u < _FIRST_SHARE[currency] else 2}"

    def _ref(self, key: str, o: int) -> str:
        n = self.seq.get(key, 0) + 1
        self.seq[key] = n
        prefix = {"USD-1": "FC", "USD-2": "HV", "EUR-1": "RH", "EUR-2": "BA", "GBP-1": "TM", "GBP-2": "AC"}[
            key
        ]
        return f"{prefix}{dt.date.fromordinal(o):%y%m%d}{n % 100000:05d}"

    def add_payment(
        self, *, o: int, row: tuple, account_key: str, mv: Movement | None, check: Check | None
    ) -> PendingPayment:
        """A customer's money arriving on day ``o`` (a bank business day of its currency)."""
        p = PendingPayment(row=row, account_key=account_key)
        self.pending.append(p)
        if check is not None:
            check.payment_p = p  # type: ignore[attr-defined]
            self.checks.append(check)
        else:
            mv.payment_p = p  # type: ignore[attr-defined]
            self.day[account_key].append(mv)
        return p

    def _writes(self, o: int) -> bool:
        return self.files_from_o is None or o >= self.files_from_o

    def write_email(
        self, a: Advice, p: PendingPayment, *, sender: tuple[str, str], when: dt.datetime, payer_id: str
    ) -> None:
        self.email_no += 1
        if not self._writes(when.date().toordinal()):
            return
        name = f"RA-{when:%Y%m%d}-{self.email_no:06d}.eml"
        subject, text, html = email_parts(a)
        attachment = None
        if a.kind == "email_pdf":
            attachment = (a.attachment_name, "application/pdf", advice_pdf(a))
        elif a.kind == "email_xlsx":
            attachment = (
                a.attachment_name,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                advice_xlsx(a),
            )
        data = eml_bytes(
            sender=sender,
            to=("Accounts Receivable", "ar@northstar-supply.example"),
            subject=subject,
            date=when,
            message_id=f"{a.payment_id.lower()}.{self.email_no}@{sender[1].split('@')[-1]}",
            text=text,
            html=html,
            attachment=attachment,
            boundary_seed=f"{self.email_no:06d}",
        )
        (self.remit_root / name).write_bytes(data)
        self.counts["emails"] += 1
        rel = f"landing/remittance/{name}"
        p.remittance_file = rel
        self._document_truth(rel, 1, a, payer_id)

    def add_edi(
        self, a: Advice, p: PendingPayment, *, trace: str, payer_id: str, payer_bank: tuple[str, str]
    ) -> None:
        self.edi.setdefault(payer_id, []).append((a, trace, payer_bank, p))

    def _document_truth(self, rel: str, position: int, a: Advice, payer_id: str) -> None:
        self.gt["remittance_documents"].add(
            (rel, str(position), a.kind, a.payment_id, payer_id, a.currency, fmt_cents(a.amount),
             a.reference or None, str(len(a.lines)))
        )  # fmt: skip
        for n, ln in enumerate(a.lines, start=1):
            self.gt["remittance_lines"].add(
                (rel, str(position), a.payment_id, str(n), ln.invoice_id, ln.reference, fmt_cents(ln.paid),
                 fmt_cents(ln.invoice_amount), fmt_cents(ln.discount), fmt_cents(ln.deduction), ln.reason)
            )  # fmt: skip

    # --- the end of a day ----------------------------------------------------------------------------

    def end_of_day(self, o: int, write_payment_row) -> None:
        """Write the day's lockbox file, EDI files and statements, then the payments' truth rows."""
        day = dt.date.fromordinal(o)
        if self.checks:
            self._write_lockbox(o, day)
        if self.edi:
            self._write_edi(o, day)
        for cur in ("USD", "EUR", "GBP"):
            cal = f"bank:{cur}"
            accts = [a for a in self.accounts if a.currency == cur]
            if not self.cals.business(cal, o):
                if any(
                    self.day[a.key] for a in accts
                ):  # pragma: no cover - the engine books on business days
                    raise AssertionError(f"{cur} receipts booked on {day}, not a bank business day")
                continue
            # Collections accounts first: their sweeps land on the operating account the same day.
            for a in sorted(accts, key=lambda a: a.role != "collections"):
                self._other_movements(a, o, day)
                self._write_statement(a, o, day)
        for p in self.pending:
            write_payment_row(p.row + (p.file or None, str(p.position) if p.position else None,
                                       p.bank_ref or None, p.remittance_file or None))  # fmt: skip
        self.pending.clear()

    def _other_movements(self, a: SellerAccount, o: int, day: dt.date) -> None:
        d = self.draws[a.key]
        mv = self.day[a.key]
        monthly = max(self.monthly.get(a.currency, 0), 100_000_00)
        first_bd = o == self.cals.month_business_days(f"bank:{a.currency}", day.year, day.month)[0]
        last_bd = o == self.cals.last_business_day_of_month(f"bank:{a.currency}", o)
        if first_bd:
            fee = {"USD": (150, 600), "EUR": (40, 120), "GBP": (30, 90)}[a.currency]
            label = {"USD": "ACCOUNT ANALYSIS FEE", "EUR": "KONTOFUEHRUNGSGEBUEHR", "GBP": "ACCOUNT FEES"}
            mv.append(Movement("bank_fee", -d.randint(fee[0] * 100, fee[1] * 100), o,
                               text=label[a.currency]))  # fmt: skip
        if a.role == "collections":
            net = sum(m.amount for m in mv)
            if net:
                # Zero-balance account: the day's net moves to the operating account at close.
                target = self._operating(a.currency)
                mv.append(Movement("sweep_out" if net > 0 else "sweep_in", -net, o, name=self.seller_name,
                                   account=target.account, text=f"ZBA TRANSFER TO {target.account[-4:]}"))  # fmt: skip
                self.day[target.key].append(
                    Movement("sweep_in" if net > 0 else "sweep_out", net, o, name=self.seller_name,
                             account=a.account, text=f"ZBA TRANSFER FROM {a.account[-4:]}")
                )  # fmt: skip
            return
        if first_bd and self.balance[a.key] > 0:
            mv.append(Movement("interest", max(1, self.balance[a.key] // 1200 // 4), o, text="INTEREST"))
        for _ in range(d.poisson({"USD": 1.2, "EUR": 0.8, "GBP": 0.5}[a.currency])):
            amount = min(int(d.lognormal(monthly * 0.012, 1.0)), monthly // 3)
            vendor = d.choice(_VENDORS)
            mv.append(Movement("vendor_payment", -max(amount // 100 * 100 + d.randint(0, 99), 100), o,
                               name=vendor, text=f"INV {d.randint(10000, 99999)}"))  # fmt: skip
        payday = last_bd or (
            a.currency == "USD" and o == self.cals.on_or_after("bank:USD", day.replace(day=15).toordinal())
        )
        if payday:
            share = 0.12 if a.currency == "USD" else 0.22
            mv.append(Movement("payroll", -int(monthly * share * d.uniform(0.97, 1.03)), o,
                               name="PAYROLL", text="SALARIES"))  # fmt: skip
        # Treasury keeps the operating balance in a band: excess to the investment account, a
        # shortfall funded from it.
        closing = self.balance[a.key] + sum(m.amount for m in mv)
        if closing > 2 * monthly:
            out = (closing - monthly) // 100_000_00 * 100_000_00
            if out:
                mv.append(Movement("investment_out", -out, o, name=self.seller_name, text="TRANSFER TO MMF"))
        elif closing < monthly // 3:
            need = (monthly - closing) // 100_000_00 * 100_000_00 + 100_000_00
            mv.append(Movement("funding_in", need, o, name=self.seller_name, text="TRANSFER FROM MMF"))

    def _operating(self, currency: str) -> SellerAccount:
        return next(a for a in self.accounts if a.currency == currency and a.role == "operating")

    def _write_statement(self, a: SellerAccount, o: int, day: dt.date) -> None:
        mv = self.day[a.key]
        if not mv and a.fmt != "bai2":
            return
        for m in mv:
            m.bank_ref = self._ref(a.key, o)
        opening = self.balance[a.key]
        closing = opening + sum(m.amount for m in mv)
        self.statement_no[a.key] += 1
        n = self.statement_no[a.key]
        if a.fmt == "bai2":
            created = dt.date.fromordinal(self.cals.add_business_days("bank:USD", o, 1))
            name, text, stmt_id = bai2_statement(a, day, mv, opening, closing, n, created, self.seller_name)
        elif a.fmt.startswith("camt"):
            batch = self.draws[a.key].chance(0.5)
            name, text, stmt_id = camt_statement(a, day, mv, opening, closing, n, batch, self.cals.isoformat)
        else:
            name, text, stmt_id = mt940_statement(a, day, mv, opening, closing, n)
        if not self._writes(o):
            self.balance[a.key] = closing
            mv.clear()
            return
        path = self.bank_root / a.slug / name
        encoding = "latin-1" if a.fmt == "mt940-de" else "utf-8"
        path.write_bytes(text.encode(encoding, errors="replace"))
        self.counts["statement_files"] += 1
        rel = f"landing/bank/{a.slug}/{name}"
        fmt = {"bai2": "bai2", "mt940-de": "mt940", "mt940-swift": "mt940"}.get(a.fmt, "camt.053")
        iso = day.isoformat()
        for m in mv:
            self.gt["bank_movements"].add(
                (rel, str(m.position), fmt, a.statement_account, a.currency, iso, self.cals.isoformat(m.value_o),
                 fmt_cents(m.amount), m.kind if m.payment_id is None else "customer_payment", m.payment_id,
                 m.bank_ref, m.e2e, m.name)
            )  # fmt: skip
            p = getattr(m, "payment_p", None)
            if p is not None:
                p.file, p.position, p.bank_ref = rel, m.position, m.bank_ref
        self.gt["bank_statements"].add(
            (rel, fmt, a.statement_account, a.currency, iso, stmt_id, fmt_cents(opening), fmt_cents(closing),
             str(len(mv)))
        )  # fmt: skip
        self.balance[a.key] = closing
        mv.clear()

    # --- lockbox ---------------------------------------------------------------------------------------

    def _write_lockbox(self, o: int, day: dt.date) -> None:
        lb = self.lockbox
        checks, self.checks = self.checks, []
        name, text = lockbox_file(lb, day, checks)
        total_count, total_cents = len(checks), sum(ch.amount for ch in checks)
        writes = self._writes(o)
        if writes:
            (self.bank_root / lb.slug / name).write_text(text, encoding="ascii")
            self.counts["lockbox_files"] += 1
        rel = f"landing/bank/{lb.slug}/{name}"
        for ch in checks if writes else ():
            self.gt["bank_movements"].add(
                (rel, str(ch.position), "lockbox", lb.number, "USD", day.isoformat(), day.isoformat(),
                 fmt_cents(ch.amount), "customer_payment", ch.payment_id, ch.batch_item, None, ch.name)
            )  # fmt: skip
            p = ch.payment_p  # type: ignore[attr-defined]
            p.file, p.position, p.bank_ref = rel, ch.position, ch.batch_item
            if ch.lines:
                p.remittance_file = rel
                advice = ch.advice  # type: ignore[attr-defined]
                self._document_truth(rel, ch.position, advice, ch.payer_id)  # type: ignore[attr-defined]
        # The day's deposit reaches the operating account as one credit; the checks are in the file.
        self.day["USD-1"].append(
            Movement("lockbox_deposit", total_cents, o, text=f"LOCKBOX:={lb.number} ITEMS:={total_count}",
                     trace=lb.number)
        )  # fmt: skip

    # --- EDI 820 ---------------------------------------------------------------------------------------

    def _write_edi(self, o: int, day: dt.date) -> None:
        for payer_id in sorted(self.edi):
            items = self.edi[payer_id]
            self.edi_control += 1
            advices = [x[0] for x in items]
            key = items[0][3].account_key
            our = self.by_key.get(key) if key in self.by_key else None
            our_bank = (our.account, our.bank_id) if our else (self.lockbox.number, self.lockbox.routing)
            data, starts = x12_820(
                advices,
                sender_id=f"{payer_id}EDI",
                receiver_name=self.seller_name,
                receiver_id="NORTHSTAR1",
                control=self.edi_control,
                created=dt.datetime(day.year, day.month, day.day, 6, 15),
                traces=[x[1] for x in items],
                payer_bank=items[0][2],
                our_bank=our_bank,
            )
            name = f"EDI820-{payer_id}-{day:%Y%m%d}-{self.edi_control:06d}.edi"
            if not self._writes(o):
                continue
            (self.remit_root / name).write_bytes(data)
            self.counts["edi_files"] += 1
            rel = f"landing/remittance/{name}"
            for position, (a, _trace, _bank, p) in enumerate(items, start=1):
                p.remittance_file = rel
                self._document_truth(rel, position, a, payer_id)
            del starts
        self.edi.clear()

    def close(self) -> dict:
        for t in self.gt.values():
            t.close()
        return {
            **self.counts,
            "truth_rows": {name: t.rows for name, t in self.gt.items()},
        }


def bai2_statement(
    a: SellerAccount,
    day: dt.date,
    mv: list[Movement],
    opening: int,
    closing: int,
    n: int,
    created: dt.date,
    seller_name: str,
) -> tuple[str, str, str]:
    """A BAI2 prior-day file for one account: (file name, text, statement id). Sets each movement's
    ``position`` (the line of its ``16`` record)."""
    second = a.key == "USD-2"  # the other bank's habits: no as-of time, no "/" after detail text
    end = "" if second else "/"
    lines = [
        f"01,{a.bank_id},NORTHSTAR1,{created:%y%m%d},0{'6' if second else '5'}30,{n},,,2/",
        f"02,NORTHSTAR1,{a.bank_id},1,{day:%y%m%d},{'' if second else '2400'},USD,2/",
    ]
    credits = [m for m in mv if m.amount > 0]
    debits = [m for m in mv if m.amount < 0]
    summary = [
        ("010", opening, ""),
        ("015", closing, ""),
        ("100", sum(m.amount for m in credits), str(len(credits))),
        ("400", -sum(m.amount for m in debits), str(len(debits))),
    ]
    lines.append(f"03,{a.account},USD," + ",".join(f"{c},{v},{k}," for c, v, k in summary) + "/")
    control = sum(v for _, v, _ in summary)
    account_start = len(lines)
    for m in mv:
        code, text, extra = _bai2_detail(m, seller_name)
        m.position = len(lines) + 1
        cust_ref = m.trace or ""
        lines.append(f"16,{code},{abs(m.amount)},0,{m.bank_ref},{cust_ref},{text}{end}")
        lines += [f"88,{x}" for x in extra]
        control += abs(m.amount)
    records = len(lines) - account_start + 2  # the 03 and the 49 included
    lines.append(f"49,{control},{records}/")
    lines.append(f"98,{control},1,{records + 2}/")
    lines.append(f"99,{control},1,{len(lines) + 1}/")
    name = f"BAI2_{a.account[-4:]}_{day:%Y%m%d}.bai"
    return name, "\r\n".join(lines) + "\r\n", f"{n}/{day.isoformat()}"


def _bai2_detail(m: Movement, seller_name: str) -> tuple[str, str, list[str]]:
    ref = _ascii(m.text).replace(",", " ")
    name = _ascii(m.name or "").replace(",", " ")
    if m.kind == "customer_payment" or m.payment_id:
        if m.channel == "wire":
            extra = [f"ORG:={name}", f"ORG ID:={m.account}", f"SENDER BNK:={m.bank_id}"]
            if ref:
                extra.append(f"OBI:={ref}")
            if m.e2e:
                extra.append(f"END TO END ID:={m.e2e}")
            extra.append(f"BNF NAME:={seller_name.upper()}")
            return "195", "WIRE IN", extra
        if m.channel == "card":
            return (
                "165",
                "CARD SETTLEMENT",
                [
                    "ORIG CO NAME:=PAYPORT MERCHANT SVC",
                    f"IND NAME:={name}",
                    f"ADDENDA:={ref or 'CARD PAYMENT'}",
                ],
            )
        extra = [
            f"ORIG CO NAME:={name[:16]}",
            f"ORIG ID:=1{(m.account or '')[-9:]}",
            "CO ENTRY DESCR:=PAYMENT",
            f"SEC:={m.sec}",
            f"IND NAME:={seller_name.upper()[:22]}",
        ]
        if ref:
            extra.append(f"ADDENDA:={ref[:80]}")
        return "165", "ACH CREDIT", extra
    table = {
        "lockbox_deposit": ("115", "LOCKBOX DEPOSIT"),
        "vendor_payment": ("495", "WIRE OUT"),
        "payroll": ("455", "PAYROLL"),
        "bank_fee": ("698", ref),
        "interest": ("354", "INTEREST CREDIT"),
        "sweep_in": ("275", "ZBA CREDIT"),
        "sweep_out": ("575", "ZBA DEBIT"),
        "investment_out": ("495", "TRANSFER TO MMF"),
        "funding_in": ("206", "BOOK TRANSFER CREDIT"),
    }
    code, text = table[m.kind]
    extra = []
    if m.kind == "vendor_payment":
        extra = [f"BNF NAME:={name}", f"OBI:={ref}"]
    elif m.kind == "lockbox_deposit" or m.kind in ("sweep_in", "sweep_out"):
        extra = [ref]
    return code, text, extra


# --- camt.053 --------------------------------------------------------------------------------------


def camt_statement(
    a: SellerAccount,
    day: dt.date,
    mv: list[Movement],
    opening: int,
    closing: int,
    n: int,
    batch: bool,
    value_iso,
) -> tuple[str, str, str]:
    """A camt.053 statement (version from ``a.fmt``); with ``batch`` the SEPA credits of the day are
    booked as one entry. Sets each movement's ``position`` (the line of its ``TxDtls``)."""
    v8 = a.fmt.endswith(".08")
    bic = "BICFI" if v8 else "BIC"
    stmt_id = f"{a.key}-{day:%Y%m%d}-{n:05d}"
    created = f"{day.isoformat()}T22:{15 + n % 40:02d}:00"
    ns = a.fmt
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:{ns}" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">',
        "  <BkToCstmrStmt>",
        f"    <GrpHdr><MsgId>MSG{stmt_id}</MsgId><CreDtTm>{created}</CreDtTm></GrpHdr>",
        "    <Stmt>",
        f"      <Id>{stmt_id}</Id>",
        f"      <ElctrncSeqNb>{n}</ElctrncSeqNb>",
        f"      <CreDtTm>{created}</CreDtTm>",
        f"      <Acct><Id><IBAN>{a.account}</IBAN></Id><Ccy>{a.currency}</Ccy>"
        f"<Svcr><FinInstnId><{bic}>{a.bank_id}</{bic}></FinInstnId></Svcr></Acct>",
    ]
    for code, amount in (("OPBD", opening), ("CLBD", closing)):
        lines.append(
            f"      <Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>"
            f'<Amt Ccy="{a.currency}">{_dec(amount)}</Amt>'
            f"<CdtDbtInd>{'CRDT' if amount >= 0 else 'DBIT'}</CdtDbtInd><Dt><Dt>{day.isoformat()}</Dt></Dt></Bal>"
        )
    credits = [m for m in mv if m.amount > 0]
    lines.append(
        f"      <TxsSummry><TtlNtries><NbOfNtries>{len(mv)}</NbOfNtries></TtlNtries>"
        f"<TtlCdtNtries><NbOfNtries>{len(credits)}</NbOfNtries><Sum>{_dec(sum(m.amount for m in credits))}</Sum>"
        "</TtlCdtNtries></TxsSummry>"
    )
    # SEPA credits of one clearing cycle are booked as one batch entry by some banks: one Ntry,
    # several TxDtls with their own amounts.
    groups: list[list[Movement]] = []
    batchable = [m for m in mv if m.payment_id and m.channel in ("wire", "ach") and not m.e2e]
    if v8 and len(batchable) >= 2 and batch:
        groups.append(batchable)
        groups += [[m] for m in mv if m not in batchable]
    else:
        groups = [[m] for m in mv]
    for g in groups:
        total = sum(m.amount for m in g)
        ind = "CRDT" if total > 0 else "DBIT"
        domain, family, sub = _camt_code(g[0], a.currency, len(g) > 1)
        status = "<Sts><Cd>BOOK</Cd></Sts>" if v8 else "<Sts>BOOK</Sts>"
        lines += [
            "      <Ntry>",
            f'        <Amt Ccy="{a.currency}">{_dec(total)}</Amt><CdtDbtInd>{ind}</CdtDbtInd>{status}',
            f"        <BookgDt><Dt>{day.isoformat()}</Dt></BookgDt>"
            f"<ValDt><Dt>{value_iso(g[0].value_o)}</Dt></ValDt>",
            f"        <AcctSvcrRef>{g[0].bank_ref if len(g) == 1 else g[0].bank_ref + 'B'}</AcctSvcrRef>",
            f"        <BkTxCd><Domn><Cd>{domain}</Cd><Fmly><Cd>{family}</Cd><SubFmlyCd>{sub}</SubFmlyCd>"
            "</Fmly></Domn></BkTxCd>",
            "        <NtryDtls>",
        ]
        if len(g) > 1:
            lines.append(
                f'          <Btch><NbOfTxs>{len(g)}</NbOfTxs><TtlAmt Ccy="{a.currency}">{_dec(total)}</TtlAmt>'
                "<CdtDbtInd>CRDT</CdtDbtInd></Btch>"
            )
        for m in g:
            m.position = len(lines) + 1
            lines.append("          <TxDtls>")
            refs = f"<AcctSvcrRef>{m.bank_ref}</AcctSvcrRef>"
            if m.payment_id and m.trace:
                refs += f"<InstrId>{escape(m.trace)}</InstrId>"
            if m.payment_id:
                refs += f"<EndToEndId>{escape(m.e2e or 'NOTPROVIDED')}</EndToEndId>"
            lines.append(f"            <Refs>{refs}</Refs>")
            amt = f'<Amt Ccy="{a.currency}">{_dec(m.amount)}</Amt>'
            if v8:
                lines.append(f"            {amt}<CdtDbtInd>{'CRDT' if m.amount > 0 else 'DBIT'}</CdtDbtInd>")
            else:
                lines.append(f"            <AmtDtls><TxAmt>{amt}</TxAmt></AmtDtls>")
            if m.name:
                role = "Dbtr" if m.amount > 0 else "Cdtr"
                nm = f"<Nm>{escape(m.name)}</Nm>"
                party = f"<{role}><Pty>{nm}</Pty></{role}>" if v8 else f"<{role}>{nm}</{role}>"
                acct = ""
                if m.account:
                    ident = (
                        f"<IBAN>{m.account}</IBAN>"
                        if identity.iban_is_valid(m.account) and m.account[:2].isalpha()
                        else f"<Othr><Id>{m.account}</Id></Othr>"
                    )
                    acct = f"<{role}Acct><Id>{ident}</Id></{role}Acct>"
                lines.append(f"            <RltdPties>{party}{acct}</RltdPties>")
                if m.bank_id and m.payment_id:
                    agent = (
                        f"<FinInstnId><{bic}>{m.bank_id}</{bic}></FinInstnId>"
                        if len(m.bank_id) in (8, 11) and m.bank_id[:4].isalpha()
                        else f"<FinInstnId><ClrSysMmbId><MmbId>{m.bank_id}</MmbId></ClrSysMmbId></FinInstnId>"
                    )
                    lines.append(f"            <RltdAgts><DbtrAgt>{agent}</DbtrAgt></RltdAgts>")
            if m.text:
                lines.append(f"            <RmtInf><Ustrd>{escape(m.text[:140])}</Ustrd></RmtInf>")
            lines.append("          </TxDtls>")
        lines += ["        </NtryDtls>", "      </Ntry>"]
    lines += ["    </Stmt>", "  </BkToCstmrStmt>", "</Document>"]
    name = f"camt053_{a.account}_{day:%Y%m%d}.xml"
    return name, "\n".join(lines) + "\n", stmt_id


def _camt_code(m: Movement, currency: str, batch: bool) -> tuple[str, str, str]:
    if m.payment_id:
        if m.channel == "card":
            return "PMNT", "MCRD", "POSP"
        if currency == "EUR":
            return "PMNT", "RCDT", "BOOK" if batch else "ESCT"
        return "PMNT", "RCDT", "XBCT" if m.channel == "wire" else "DMCT"
    return {
        "vendor_payment": ("PMNT", "ICDT", "ESCT" if currency == "EUR" else "DMCT"),
        "payroll": ("PMNT", "ICDT", "SALA"),
        "bank_fee": ("ACMT", "MDOP", "CHRG"),
        "interest": ("ACMT", "MCOP", "INTR"),
        "sweep_in": ("CAMT", "ACCB", "ZABA"),
        "sweep_out": ("CAMT", "ACCB", "ZABA"),
        "investment_out": ("CAMT", "ACCB", "OTHR"),
        "funding_in": ("CAMT", "ACCB", "OTHR"),
    }[m.kind]


# --- MT940 -----------------------------------------------------------------------------------------


def mt940_statement(
    a: SellerAccount, day: dt.date, mv: list[Movement], opening: int, closing: int, n: int
) -> tuple[str, str, str]:
    """An MT940 statement: German ``?NN`` subfields (``mt940-de``) or a SWIFT envelope with
    ``/TAG/`` structured ``:86:`` (``mt940-swift``). Sets each movement's ``position`` (its ``:61:``)."""
    german = a.fmt == "mt940-de"
    cur = a.currency
    ref = f"STMT{day:%y%m%d}{n:04d}" if not german else "STARTUMS"
    lines = []
    if not german:
        lines.append(
            f"{{1:F01{a.bank_id[:8]}AXXX{n:010d}}}{{2:O940{day:%y%m%d}2200{a.bank_id[:8]}XXXXN}}{{4:"
        )
    lines += [f":20:{ref}", f":25:{a.statement_account}", f":28C:{n:05d}/1"]

    def bal(tag: str, cents: int) -> str:
        return f":{tag}:{'C' if cents >= 0 else 'D'}{day:%y%m%d}{cur}{_mt_amount(cents)}"

    lines.append(bal("60F", opening))
    for m in mv:
        mark = "C" if m.amount > 0 else "D"
        funds = "R" if german and m.amount > 0 else ""  # EUR's third letter, as German banks write it
        tx_type = "NTRF" if m.payment_id or m.kind in ("vendor_payment", "payroll") else (
            "NCHG" if m.kind == "bank_fee" else "NINT" if m.kind == "interest" else "NMSC"
        )  # fmt: skip
        cust = (m.trace or "NONREF")[:16]
        m.position = len(lines) + 1
        lines.append(
            f":61:{dt.date.fromordinal(m.value_o):%y%m%d}{day:%m%d}{mark}{funds}{_mt_amount(m.amount)}"
            f"{tx_type}{_swift(cust).replace(' ', '')}//{m.bank_ref}"
        )
        info = _german_86(m) if german else _swift_86(m)
        wrapped = _chunks(info, 65)[:6]
        lines.append(f":86:{wrapped[0]}")
        lines += wrapped[1:]
    lines.append(bal("62F", closing))
    lines.append(bal("64", closing))
    if german:
        lines.append("-")
        name = f"MT940_{a.statement_account.split('/')[-1]}_{day:%Y%m%d}.sta"
        return name, "\r\n".join(lines) + "\r\n", f"{ref}/{n:05d}/1"
    lines.append("-}")
    return f"{day:%Y%m%d}_MT940.txt", "\r\n".join(lines) + "\r\n", f"{ref}/{n:05d}/1"


def _german_86(m: Movement) -> str:
    def clean(text: str) -> str:
        return _swift(text).replace("?", " ")

    if m.payment_id:
        gvc, posting = "166", "SEPA-GUTSCHRIFT"
    else:
        gvc, posting = {
            "vendor_payment": ("116", "SEPA-UEBERWEISUNG"),
            "payroll": ("116", "LOHN GEHALT"),
            "bank_fee": ("805", "ENTGELTABSCHLUSS"),
            "interest": ("804", "ZINSEN"),
            "sweep_in": ("082", "UMBUCHUNG"),
            "sweep_out": ("083", "UMBUCHUNG"),
            "investment_out": ("083", "UMBUCHUNG"),
            "funding_in": ("082", "UMBUCHUNG"),
        }[m.kind]
    purpose = []
    if m.payment_id:
        purpose.append(f"EREF+{clean(m.e2e or 'NOTPROVIDED')}")
    text = clean(m.text) or ("NOTPROVIDED" if m.payment_id else posting)
    purpose.append(f"SVWZ+{text}")
    # Each item starts a subfield; an item longer than a subfield (27 characters) continues in
    # the next one (DFU-Abkommen Anlage 3).
    pieces: list[str] = []
    for item in purpose:
        pieces += _chunks(item, 27)
    sub = [f"?{20 + i}{p}" for i, p in enumerate(pieces[:10])]
    out = f"{gvc}?00{posting}?10{931 if m.payment_id else 999}" + "".join(sub)
    if m.bank_id:
        out += f"?30{clean(m.bank_id)}"
    if m.account:
        out += f"?31{clean(m.account)}"
    if m.name:
        name = clean(m.name)[:54]
        out += f"?32{name[:27]}" + (f"?33{name[27:]}" if len(name) > 27 else "")
    return out + "?34000"


def _swift_86(m: Movement) -> str:
    def clean(text: str) -> str:
        return _swift(text).replace("/", " ").strip()

    trtp = {
        "wire": "SWIFT TRANSFER",
        "ach": "FASTER PAYMENT",
        "card": "CARD SETTLEMENT",
    }.get(m.channel or "", m.kind.replace("_", " ").upper())
    out = f"/TRTP/{trtp}"
    if m.account:
        out += f"/IBAN/{clean(m.account)}"
    if m.bank_id:
        out += f"/BIC/{clean(m.bank_id)}"
    if m.name:
        out += f"/NAME/{clean(m.name)}"
    if m.text:
        out += f"/REMI/{clean(m.text)}"
    if m.payment_id:
        out += f"/EREF/{clean(m.e2e or 'NOTPROVIDED')}"
    return out


# --- BAI lockbox -----------------------------------------------------------------------------------


def lockbox_file(lb: Lockbox, day: dt.date, checks: list[Check]) -> tuple[str, str]:
    """A lockbox transmission in the layout ``ingestion/bank/lockbox.py`` documents: batches of up to
    25 checks, each check's invoices as ``4`` overflow records. Sets each check's ``position`` (its
    ``6`` record) and ``batch_item``."""
    lines = [
        f"101{lb.destination:<10}{lb.routing:>10}{day:%y%m%d}0700".ljust(80),
        f"2{lb.destination:<10}{lb.routing:>10}LOCKBOX DEPOSIT SERVICE".ljust(80),
    ]
    total_count = total_cents = 0
    for b, start in enumerate(range(0, len(checks), 25), start=1):
        batch = checks[start : start + 25]
        lines.append(f"5{b:03d}000{lb.number:>7}{day:%y%m%d}{lb.destination:<10}{lb.routing:>10}".ljust(80))
        for item, ch in enumerate(batch, start=1):
            ch.position = len(lines) + 1
            ch.batch_item = f"{b:03d}-{item:03d}"
            check_date = dt.date.fromordinal(ch.check_o).strftime("%y%m%d")
            lines.append(
                f"6{b:03d}{item:03d}{ch.amount:010d}{ch.routing[-9:]:>9}{ch.account[-10:]:>10}"
                f"{ch.number[-10:]:>10}{check_date}{_ascii(ch.name)[:28]}".ljust(80)
            )
            for seq, ln in enumerate(ch.lines, start=1):
                last = "9" if seq == len(ch.lines) else "0"
                full = ln.paid + ln.discount + ln.deduction == ln.invoice_amount
                gross = f"{ln.invoice_amount:010d}" if full else " " * 10
                disc = f"{ln.discount:010d}" if ln.discount else " " * 10
                lines.append(
                    f"4{b:03d}{item:03d}4{seq:02d}{last}{ln.reference[:15]:<15}{ln.paid:010d}{gross}{disc}".ljust(
                        80
                    )
                )
        cents = sum(ch.amount for ch in batch)
        lines.append(f"7{b:03d}999{lb.number:>7}{day:%y%m%d}{len(batch):03d}{cents:010d}".ljust(80))
        total_count += len(batch)
        total_cents += cents
    lines.append(f"8999999{lb.number:>7}{day:%y%m%d}{total_count:04d}{total_cents:010d}".ljust(80))
    lines.append(f"9{len(lines) + 1:06d}".ljust(80))
    return f"LBX{lb.number}_{day:%y%m%d}.txt", "\r\n".join(lines) + "\r\n"
