"""The simulated AR world: ``simulate_world`` writes ERP extracts and the ground truth behind them.

How it runs. One pass over calendar days from the start of the history to ``as_of``, then on past
``as_of`` (writing nothing) until the invoices open at ``as_of`` have met their fate, so the ground
truth knows their future payment dates. Each day: new invoices (drawn per customer at month start),
scheduled events in a fixed order (invoices, credit memos, disputes, messages, payments, delayed
cash applications, promise checks), collectors working their queues within daily capacity, and the
month-end write-off run. Only open state is kept: an invoice leaves memory when it is settled and
its outcome row is written. Files are written at the end of each day.

Determinism. Every customer draws from its own generator (``[seed, 0, index]``); events of a day
are processed in (phase, customer, sequence) order; ids are assigned in that order. Same arguments,
same bytes.

Two ledgers. The payer's intentions (what it pays, when, with which deduction) and the ERP's
postings (what AR applied, allowed and credited, and on which day) are kept apart where they
really differ: an unearned discount the ERP refuses, a deduction pending as a dispute, cash applied
days after receipt. ``open_items.csv`` is the ERP's view at ``as_of`` built from the very rows that
were written, and ``invoice_outcomes.csv`` is the truth.
"""

from __future__ import annotations

import datetime as dt
import gc
import heapq
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np

from ingestion.erp_contracts import FUNCTIONAL_CURRENCY
from simulator import identity, texts
from simulator.bankfiles import BankFiles, Check, Movement, seller_accounts
from simulator.calendars import SELLER_CALENDAR, Calendars, local_timestamp
from simulator.identity import name_as_written
from simulator.money import convert, fmt_cents, fmt_grouped, fraction_of, pct_of
from simulator.output import ExtractFiles, Table, write_table
from simulator.profiles import (
    ARCHETYPES,
    DEFAULT_RUNUP_DAYS,
    MONTH_VOLUME,
    SELLER_DOMAIN,
    SELLER_NAME,
    Collector,
    Customer,
    build_collectors,
    build_customers,
)
from simulator.rand import STREAM_FX, Draws, global_generator
from simulator.remittance import Advice, AdviceLine, draw_style, email_parts

# Event phases: the order in which a day's events are processed.
P_ISSUE, P_CREDIT, P_DISPUTE, P_MESSAGE, P_PAY, P_POST, P_PROMISE = range(7)

# Days simulated past as_of so invoices open at as_of get a true (future) payment date.
HORIZON_DAYS = 400

# Rough rates for ranking a collector's queue only (never for money that is written anywhere).
_RANK_FX = {"USD": 1.0, "EUR": 1.1, "GBP": 1.3}
_DISPUTE_REASONS = (
    ("PRICING", 0.3),
    ("QUANTITY", 0.2),
    ("DAMAGED", 0.15),
    ("NOT_RECEIVED", 0.1),
    ("DUPLICATE_BILLING", 0.05),
    ("PROMOTION", 0.1),
    ("SERVICE_ISSUE", 0.1),
)
_CREDIT_REASON_OF_DISPUTE = {
    "PRICING": "PRICING",
    "QUANTITY": "QUANTITY",
    "DAMAGED": "DAMAGED",
    "NOT_RECEIVED": "RETURN",
    "DUPLICATE_BILLING": "DUPLICATE_BILLING",
    "PROMOTION": "PROMOTION",
    "SERVICE_ISSUE": "PRICING",
}
_CORRECTION_REASONS = (("PRICING", 0.4), ("QUANTITY", 0.25), ("DAMAGED", 0.15), ("RETURN", 0.2))

GROUND_TRUTH_COLUMNS = {
    "customers": (
        "customer_id",
        "archetype",
        "segment",
        "country",
        "currency",
        "timezone",
        "parent_customer_id",
        "paid_by_parent",
        "payment_terms",
        "payment_run",
        "payment_run_weekday",
        "channel",
        "remittance",
        "reference_style",
        "invoices_per_month",
        "amount_median",
        "amount_sigma",
        "mean_delay_days",
        "delay_sd_days",
        "amount_sensitivity_days",
        "quarter_end_hold_days",
        "promise_keep_rate",
        "reminder_responsiveness",
        "dispute_rate",
        "deduction_share",
        "installment_rate",
        "installment_first_share",
        "installment_gap_days",
        "discount_taker_rate",
        "unearned_discount_rate",
        "answer_rate_base",
        "preferred_contact_weekday",
        "preferred_contact_hour",
        "seasonal_lean_month",
        "seasonal_amplitude_days",
        "cash_crunch_rate_per_month",
        "deterioration_start",
        "deterioration_days_per_month",
        "deterioration_end",
        "default_date",
        "created_date",
        "churn_date",
        "contact_change_date",
        "new_account_date",
    ),
    "invoice_outcomes": (
        "invoice_id",
        "customer_id",
        "currency",
        "amount",
        "invoice_date",
        "due_date",
        "paid_date",
        "days_late",
        "first_payment_date",
        "payment_count",
        "amount_paid",
        "discount_taken",
        "discount_allowed",
        "deduction_amount",
        "credited_amount",
        "written_off_amount",
        "resolution",
        "closed_date",
        "paid_after_as_of",
        "is_short_paid",
        "is_disputed",
        "dispute_reason",
        "is_installment",
        "is_duplicate_billing",
    ),
    "open_items": (
        "item_id",
        "item_type",
        "customer_id",
        "currency",
        "document_date",
        "due_date",
        "open_amount",
        "fx_rate",
        "open_amount_functional",
        "days_past_due",
        "aging_bucket",
    ),
    "payments": (
        "payment_id",
        "customer_id",
        "payer_customer_id",
        "channel",
        "received_date",
        "value_date",
        "amount",
        "currency",
        "payer_name_as_written",
        "payer_account",
        "payer_bank_id",
        "free_text_reference",
        "remittance",
        "bundled_invoice_count",
        "has_short_pay",
        "has_discount",
        "is_overpayment",
        "unapplied_amount",
        "check_number",
        "end_to_end_id",
        "erp_applied_date",
        "bank_file",
        "bank_position",
        "bank_reference",
        "remittance_file",
    ),
    "payment_allocations": (
        "payment_id",
        "invoice_id",
        "applied_amount",
        "discount_amount",
        "deduction_amount",
        "deduction_reason",
    ),
    "message_intents": (
        "message_id",
        "intent",
        "promised_date",
        "promised_amount",
        "dispute_reason",
        "customer_id",
        "currency",
        "invoice_ids",
        "wording",
    ),
}


def aging_bucket(days_past_due: int) -> str:
    if days_past_due <= 0:
        return "current"
    for limit, name in ((30, "1-30"), (60, "31-60"), (90, "61-90"), (120, "91-120")):
        if days_past_due <= limit:
            return name
    return "120+"


def _pick_weighted(r: float, values: list[int], weights: list[float]) -> int:
    for value, w in zip(values, weights, strict=True):
        r -= w
        if r < 0:
            return value
    return values[-1]


def _b(flag) -> str:
    return "true" if flag else "false"


class Invoice:
    __slots__ = (
        "invoice_id",
        "cust",
        "amount",
        "open",
        "inv_o",
        "due_o",
        "disc_o",
        "disc_pct",
        "po",
        "plan_o",
        "plan_kind",
        "usual_dl",
        "plan_ver",
        "deduct",
        "deduct_reason",
        "dispute",
        "dispute_plan",
        "dispute_raised",
        "promise",
        "is_duplicate",
        "split",
        "copy_o",
        "paid_cash",
        "first_pay_o",
        "last_pay_o",
        "disc_taken",
        "deducted",
        "disc_allowed",
        "credited",
        "written_off",
        "n_payments",
        "short_paid",
        "is_disputed",
        "dispute_reason",
        "residual_o",
        "closed",
    )

    def __init__(self, invoice_id: str, cust: Customer, amount: int, inv_o: int, due_o: int):
        self.invoice_id = invoice_id
        self.cust = cust
        self.amount = self.open = amount
        self.inv_o, self.due_o = inv_o, due_o
        self.disc_o = 0
        self.disc_pct = None
        self.po = None
        self.plan_o, self.plan_kind, self.plan_ver = 0, None, 0
        self.usual_dl = 0.0  # the lateness the customer's habits give this invoice (no crunch, no tail)
        self.deduct, self.deduct_reason = 0, None
        self.dispute = self.dispute_plan = self.promise = None
        self.dispute_raised = self.is_duplicate = self.split = False
        self.copy_o = 0
        self.paid_cash = self.disc_taken = self.disc_allowed = self.deducted = self.credited = (
            self.written_off
        ) = self.n_payments = 0
        self.first_pay_o = self.last_pay_o = 0
        self.short_paid = self.is_disputed = False
        self.dispute_reason = None
        self.residual_o = 0
        self.closed = False


class Promise:
    __slots__ = (
        "promise_id",
        "cust",
        "invoice_id",
        "collector",
        "promise_o",
        "promised_o",
        "amount",
        "paid",
        "invoices",
    )

    def __init__(self, **kw):
        for k, v in kw.items():
            setattr(self, k, v)


class Dispute:
    __slots__ = ("dispute_id", "inv", "opened_o", "reason", "amount", "is_deduction")

    def __init__(self, dispute_id, inv, opened_o, reason, amount, is_deduction):
        self.dispute_id, self.inv, self.opened_o = dispute_id, inv, opened_o
        self.reason, self.amount, self.is_deduction = reason, amount, is_deduction


@dataclass
class _Ids:
    invoice: int = 0
    credit_memo: int = 0
    payment: int = 0
    application: int = 0
    promise: int = 0
    activity: int = 0
    dispute: int = 0
    message: int = 0


class World:
    def __init__(
        self,
        out_dir: Path,
        customers: int,
        years: int,
        seed: int,
        as_of: dt.date,
        progress: Callable[[str], None] | None,
        bank_files: bool = True,
        bank_days: int | None = None,
    ):
        self.out_dir = out_dir
        self.seed, self.n_customers, self.years = seed, customers, years
        self.as_of = as_of
        self.start = dt.date(as_of.year - years, as_of.month, 1)
        self.start_o, self.as_of_o = self.start.toordinal(), as_of.toordinal()
        self.end_o = self.as_of_o + HORIZON_DAYS
        self.progress = progress or (lambda _msg: None)
        self.cals = Calendars(self.start - dt.timedelta(days=40), dt.date.fromordinal(self.end_o + 60))
        self.customers = build_customers(seed, customers, self.start, as_of)
        self.collectors = build_collectors(seed, self.customers)
        for c in self.customers:
            c.open_invoices = {}
            c.overdue = {}
            c.last_contact_o = None
            c.contact_gap = 7
            c.promise_until_o = None
            c.quarter_billed = 0
            c.contacts = 0
        self.ids = _Ids()
        self.events: dict[int, list[tuple]] = {}
        self.seq = 0
        self.today = self.start_o
        self.processing = False
        self.residuals: list[Invoice] = []
        self.fx_draws = Draws(global_generator(seed, STREAM_FX))
        self.fx_state = {"EUR": 1.085, "GBP": 1.27}
        self.fx_rate = {"USD": Decimal(1)}
        # The ERP's posted ledger (rows dated <= as_of only): what open_items.csv must equal.
        self.ledger_inv: dict[str, list] = {}
        self.ledger_cm: dict[str, list] = {}
        self.ledger_pay: dict[str, list] = {}
        self.totals = {"invoiced": {}, "received": {}, "credited": {}}
        erp_dir = out_dir / "landing" / "erp"
        self.gt_dir = out_dir / "ground_truth"
        self.gt_dir.mkdir(parents=True, exist_ok=True)
        self.x = ExtractFiles(erp_dir)
        self.gt = {
            name: Table(self.gt_dir / f"{name}.csv", GROUND_TRUTH_COLUMNS[name])
            for name in ("invoice_outcomes", "payments", "payment_allocations", "message_intents")
        }
        self.open_items_rows = 0
        self.bank = (
            BankFiles(
                out_dir,
                self.gt_dir,
                seed,
                self.cals,
                self.customers,
                SELLER_NAME,
                files_from_o=None if bank_days is None else self.as_of_o - bank_days + 1,
            )
            if bank_files
            else None
        )

    # --- helpers ---------------------------------------------------------------------------------------

    def iso(self, o: int) -> str:
        return self.cals.isoformat(o)

    def writing(self, o: int) -> bool:
        return o <= self.as_of_o

    def at(self, o: int, phase: int, c: Customer, kind: str, a=None, b=None) -> None:
        if self.processing and o <= self.today:
            o = self.today + 1  # today's events are already being processed: the earliest is tomorrow
        if o > self.end_o:
            return
        self.seq += 1
        self.events.setdefault(o, []).append((phase, c.index, self.seq, kind, a, b))

    def _add_total(self, kind: str, currency: str, cents: int) -> None:
        t = self.totals[kind]
        t[currency] = t.get(currency, 0) + cents

    def _next(self, field: str) -> int:
        v = getattr(self.ids, field) + 1
        setattr(self.ids, field, v)
        return v

    # --- main loop -------------------------------------------------------------------------------------

    def run(self) -> dict:
        # Python's cyclic collector rescans every live object ever more often as the open state grows
        # (measured: 40% of the run time at 5,000 customers). The engine breaks its own reference
        # cycles (closed invoices leave every structure), so collect once a month instead.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            return self._run()
        finally:
            if gc_was_enabled:
                gc.enable()

    def _run(self) -> dict:
        t0 = time.perf_counter()
        self._schedule_profile_events()
        for o in range(self.start_o, self.end_o + 1):
            self.today = o
            day = dt.date.fromordinal(o)
            writing = o <= self.as_of_o
            if day.day == 1:
                # The month's young objects monthly (cheap); everything once a year.
                gc.collect(2 if day.month == 1 else 0)
            if writing and (day.day == 1 or o == self.start_o):
                self._month_start(o, day)
                self.progress(
                    f"simulating {day:%Y-%m} ({self.ids.invoice} invoices so far, "
                    f"{time.perf_counter() - t0:.1f}s)"
                )
            if writing:
                self._fx_day(o)
            self.processing = True
            evs = self.events.pop(o, None)
            if evs:
                evs.sort()
                self._dispatch(evs, o)
            if self.cals.business(SELLER_CALENDAR, o):
                self._collections(o)
                if o == self.cals.last_business_day_of_month(SELLER_CALENDAR, o):
                    self._month_end(o, day)
            self.processing = False
            if writing:
                self.x.flush(self.iso(o))
                if self.bank is not None:
                    self.bank.end_of_day(o, self.gt["payments"].add)
            if o == self.as_of_o:
                self._write_as_of()
            if o > self.as_of_o and not self.events:
                break
        self._finish()
        return self._summary()

    def _schedule_profile_events(self) -> None:
        for c in self.customers:
            if c.contact_change_o is not None and self.start_o < c.contact_change_o <= self.as_of_o:
                self.at(c.contact_change_o, P_MESSAGE, c, "contact_change")

    def _dispatch(self, evs: list[tuple], o: int) -> None:
        i, n = 0, len(evs)
        while i < n:
            phase, ci, _, kind, a, b = evs[i]
            c = self.customers[ci]
            if phase == P_PAY and kind == "pay":
                batch = []
                while i < n and evs[i][0] == P_PAY and evs[i][1] == ci and evs[i][3] == "pay":
                    inv, ver = evs[i][4], evs[i][5]
                    if not inv.closed and inv.plan_ver == ver and inv.open > 0:
                        batch.append(inv)
                    i += 1
                if batch:
                    self._pay_customer(c, batch, o)
                continue
            i += 1
            if kind == "issue":
                self._issue_invoice(c, o)
            elif kind == "overdue":
                if not a.closed and a.open > 0:
                    c.overdue[a.invoice_id] = a
                    c.collector.overdue_customers.add(c.index)
            elif kind == "credit":
                self._planned_credit(c, a, b, o)
            elif kind == "rebate":
                self._rebate(c, a, o)
            elif kind == "raise_dispute":
                if not a.closed and not a.dispute_raised and a.open > 0:
                    self._raise_planned_dispute(a, o, via="email")
            elif kind == "open_deduction":
                self._open_dispute(a, o, b[0], b[1], is_deduction=True)
            elif kind == "resolve_dispute":
                self._resolve_dispute(a, o)
            elif kind == "copy_request":
                self._copy_request(c, a, o)
            elif kind == "copy_sent":
                self._activity(
                    c,
                    c.collector,
                    o,
                    9 * 60 + c.draws.randint(0, 420),
                    "email",
                    "sent",
                    a[0],
                    texts.activity_note(c.draws, "copy_sent", invoice_ids=tuple(a)),
                )
            elif kind == "contact_change":
                self._contact_change(c, o)
            elif kind == "other_message":
                self._other_message(c, o)
            elif kind == "dup_pay":
                self._duplicate_payment(c, a, o)
            elif kind == "post":
                self._post_application(a)
            elif kind == "promise_check":
                self._check_promise(a, o)
            else:  # pragma: no cover - a programming error, not data
                raise AssertionError(f"unknown event {kind}")

    # --- FX ----------------------------------------------------------------------------------------------

    def _fx_day(self, o: int) -> None:
        """Random walk with mild mean reversion on each currency's own business days; weekends carry."""
        g = self.fx_draws
        for cur, mean, vol, cal in (("EUR", 1.09, 0.0045, "bank:EUR"), ("GBP", 1.27, 0.005, "bank:GBP")):
            x = self.fx_state[cur]
            if self.cals.business(cal, o) or cur not in self.fx_rate:
                x *= math.exp(vol * g.normal() + 0.01 * math.log(mean / x))
                self.fx_state[cur] = x
                self.fx_rate[cur] = Decimal(f"{x:.6f}")
            self.x.add("fx_rates", (self.iso(o), cur, str(self.fx_rate[cur])))

    # --- invoicing ---------------------------------------------------------------------------------------

    def _credit_hold(self, c: Customer, o: int) -> bool:
        # Orders are blocked once something is 75+ days past due (a common credit-policy threshold).
        return any(o - inv.due_o > 75 and inv.dispute is None for inv in c.overdue.values())

    def _month_start(self, o: int, day: dt.date) -> None:
        month_last = (dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1)).toordinal() - 1
        last_allowed = min(month_last, self.as_of_o)
        season = MONTH_VOLUME[day.month - 1]
        for c in self.customers:
            if c.created_o > last_allowed or (c.churn_o is not None and c.churn_o <= o):
                continue
            if c.default_o is not None and o > c.default_o + 120:
                continue  # sales stopped shipping to it long ago
            d = c.draws
            lam = c.invoices_per_month * season
            if c.season_amp:
                lam *= 1 + 0.5 * math.cos(2 * math.pi * (day.month - (c.lean_month + 6)) / 12)
            k = d.poisson(lam)
            if self._credit_hold(c, o):
                k = 0
            if c.other_msg_rate and d.chance(c.other_msg_rate):
                day_o = o + d.randint(0, month_last - o)
                if d.chance(0.9):  # people write on working days, mostly
                    day_o = self.cals.on_or_after(c.country_calendar, day_o)
                self.at(day_o, P_MESSAGE, c, "other_message")
            if d.chance(c.crunch_rate) and (c.crunch_until_o is None or c.crunch_until_o < o):
                self._cash_crunch(c, o)
            if not k:
                continue
            first = max(o, c.created_o)
            month_days = self.cals.month_business_days(c.country_calendar, day.year, day.month)
            days = [x for x in month_days if first <= x <= last_allowed]
            if not days:
                continue
            if len(days) < len(month_days):
                # A part month (onboarded mid-month, or the as_of month): only its share of the invoices.
                k = sum(1 for _ in range(k) if d.u() < len(days) / len(month_days))
            # Month-end billing peak: the last three business days carry extra weight.
            weights = [1.0] * len(days)
            for j in range(max(0, len(days) - 3), len(days)):
                weights[j] = 1.8
            total = sum(weights)
            for _ in range(k):
                self.at(_pick_weighted(d.u() * total, days, weights), P_ISSUE, c, "issue")

    def _cash_crunch(self, c: Customer, o: int) -> None:
        d = c.draws
        c.crunch_until_o = o + d.randint(30, 90)
        c.crunch_extra = d.uniform(15, 35)
        for inv in list(c.open_invoices.values()):
            if inv.plan_o and o <= inv.plan_o <= c.crunch_until_o and inv.plan_kind != "discount":
                self._set_plan(
                    inv, self._arrival(c, inv.plan_o + int(c.crunch_extra), use_run=True), inv.plan_kind
                )

    def _issue_invoice(self, c: Customer, o: int) -> None:
        d = c.draws
        n = self._next("invoice")
        raw = d.lognormal(c.amount_median, c.amount_sigma)
        raw = min(raw, c.amount_median * 40)
        if d.chance(0.1):
            amount = max(25, int(round(raw, -1 if raw < 1000 else -2))) * 100
        else:
            amount = max(2500, int(round(raw * 100)))
        inv = Invoice(f"INV-{100000 + n}", c, amount, o, o + c.term_days)
        if c.discount is not None:
            inv.disc_pct, days = c.discount
            inv.disc_o = o + days
        if c.po_style == "sap" or (c.po_style == "prefixed" and d.chance(0.85)):
            inv.po = (
                f"45{d.randint(0, 99999999):08d}" if c.po_style == "sap" else f"PO-{d.randint(10000, 99999)}"
            )
        if self.writing(o):
            self.x.add(
                "invoices",
                (
                    inv.invoice_id,
                    c.customer_id,
                    self.iso(o),
                    self.iso(inv.due_o),
                    c.currency,
                    fmt_cents(amount),
                    c.terms,
                    f"{inv.disc_pct:.4f}" if inv.disc_pct is not None else "0.0000",
                    self.iso(inv.disc_o) if inv.disc_o else None,
                    inv.po,
                ),
            )
            self.ledger_inv[inv.invoice_id] = [c.customer_id, c.currency, o, inv.due_o, amount]
            self._add_total("invoiced", c.currency, amount)
        c.quarter_billed += amount
        c.open_invoices[inv.invoice_id] = inv
        self.at(inv.due_o + 1, P_ISSUE, c, "overdue", inv)
        # What will happen to it: decided now from the customer's stream, revealed over time.
        if d.chance(0.004):
            inv.is_duplicate = True
            self.at(
                self._seller_bd(o + d.randint(2, 15)),
                P_CREDIT,
                c,
                "credit",
                inv,
                (amount, "DUPLICATE_BILLING"),
            )
        else:
            if d.chance(0.03):
                reason = d.weighted(_CORRECTION_REASONS)
                share = d.uniform(0.3, 1.0) if reason == "RETURN" else d.uniform(0.05, 0.4)
                self.at(
                    self._seller_bd(o + d.randint(3, 40)),
                    P_CREDIT,
                    c,
                    "credit",
                    inv,
                    (max(100, fraction_of(amount, share)), reason),
                )
            if c.segment != "small_business" and d.chance(0.008):
                self.at(
                    self._seller_bd(o + d.randint(2, 20)),
                    P_CREDIT,
                    c,
                    "credit",
                    inv,
                    (max(100, fraction_of(amount, d.uniform(0.03, 0.1))), "PROMOTION"),
                )
            if d.chance(c.dispute_rate):
                reason = d.weighted(_DISPUTE_REASONS)
                if d.chance(c.deduction_share) and amount >= 5000:
                    inv.deduct = max(100, fraction_of(amount, d.uniform(0.05, 0.3)))
                    inv.deduct_reason = reason
                else:
                    share = 1.0 if reason in ("NOT_RECEIVED", "DUPLICATE_BILLING") else d.uniform(0.1, 1.0)
                    inv.dispute_plan = (reason, max(100, fraction_of(amount, share)))
                    # Most disputes are raised by e-mail on receipt; the rest surface when a collector
                    # reaches the customer, or by e-mail weeks after the due date at the latest.
                    raise_o = o + d.randint(4, 25) if d.chance(0.7) else inv.due_o + d.randint(20, 50)
                    self.at(self._seller_bd(raise_o), P_DISPUTE, c, "raise_dispute", inv)
            if d.chance(c.copy_rate):
                inv.copy_o = self._seller_bd(max(o + 5, inv.due_o + d.randint(-8, 5)))
                self.at(inv.copy_o, P_MESSAGE, c, "copy_request", inv)
            # The larger invoices are the ones paid in two instalments (see Customer.split_z).
            z = math.log(max(inv.amount, 100) / (c.amount_median * 100)) / c.amount_sigma
            # Short of cash before a default, the customer pays more and more of its invoices in part.
            inv.split = z + d.normal(0, 0.3) > c.split_z - 3.5 * min(1.0, 2 * c.runup(o))
        self._plan_initial(c, inv, o)

    def _seller_bd(self, o: int) -> int:
        return self.cals.on_or_after(SELLER_CALENDAR, o)

    # --- payment timing ---------------------------------------------------------------------------------

    def _delay_days(self, c: Customer, inv: Invoice) -> float:
        """Days after the due date this customer means to pay this invoice, decided on its issue day.

        Almost all of it has a cause that is visible on that day to someone who keeps the customer's
        history (see simulator/README.md, "Payment timing"): the habit (archetype level), the amount
        against the customer's usual (approval chains, a second signature above a threshold), the
        seasonal cash cycle, the deterioration trend, stress before a default, a cash crunch under way,
        quarter-end holds and the closing weeks of the year (and of August in Europe). What is left is
        a small per-invoice noise and a thin heavy tail. The payment run (weekly, semi-monthly, month
        end) is applied on top by ``_arrival``; disputes, promises and reminders move the date later,
        while the invoice is open.
        """
        d = c.draws
        x = c.mean_delay + c.delay_sd * d.normal()
        ratio = inv.amount / (c.amount_median * 100)
        x += c.amount_beta * max(-2.0, min(4.0, math.log2(ratio)))
        if ratio >= c.approval_ratio:
            x += c.approval_days
        due = dt.date.fromordinal(inv.due_o)
        if c.season_amp:
            x += c.season_amp * (1 + math.cos(2 * math.pi * (due.month - c.lean_month) / 12)) / 2
        if c.det_start_o is not None and inv.due_o > c.det_start_o:
            # A steady slide: the same few days more every month, not a random walk.
            x += c.det_rate * (min(inv.due_o, c.det_end_o) - c.det_start_o) / 30.4 + d.normal(0, 1.5)
        # Before a default the customer stretches payables: by half-way through the run-up it pays
        # everything ``stress_days`` late.
        x += c.stress_days * min(1.0, 2 * c.runup(inv.due_o))
        if c.quarter_end_hold:
            target = dt.date.fromordinal(inv.due_o + int(x))
            if target.month in (3, 6, 9, 12) and target.day >= 19:
                x += c.quarter_end_hold
        # Calendar effects every AP department has: the year-end close and, in Europe, August.
        target = dt.date.fromordinal(inv.due_o + int(x))
        if (target.month == 12 and target.day >= 15) or (target.month == 1 and target.day <= 5):
            x += c.year_end_days
        elif target.month == 8:
            x += c.august_days
        inv.usual_dl = x
        # Stuck: a cash crunch under way, or an invoice forgotten in a pile. Reminders unstick these.
        if c.crunch_until_o is not None and inv.inv_o <= c.crunch_until_o:
            x += c.crunch_extra * d.uniform(0.9, 1.1)
        if d.chance(0.02):
            x += d.exponential(12)
        return x

    def _arrival(self, c: Customer, initiate: int, use_run: bool) -> int:
        """When money the customer releases on ``initiate`` is booked on the seller's bank account."""
        d = c.draws
        o = self._run_day(c, initiate) if use_run else initiate
        payer = c.parent if c.paid_by_parent else c
        ch = payer.channel
        if ch == "check":
            o += d.randint(2, 5)  # mail float to the lockbox
        elif ch == "ach":
            o += 1  # next-day settlement
        elif ch == "card":
            o += d.randint(0, 1)
        return self.cals.on_or_after(c.bank_calendar, o)

    def _run_day(self, c: Customer, o: int) -> int:
        """The customer's first payment run on or after day ``o`` (no randomness: its AP calendar)."""
        rt = c.run_type
        if rt == "weekly":
            return o + (c.run_weekday - (o - 1) % 7) % 7  # ordinal 1 is a Monday
        if rt == "semi_monthly":
            day = dt.date.fromordinal(o)
            if day.day <= 15:
                mid = self.cals.on_or_after(c.country_calendar, dt.date(day.year, day.month, 15).toordinal())
                if mid >= o:
                    return mid
            return self._month_end_run(c, o)
        if rt == "month_end":
            return self._month_end_run(c, o)
        return o

    def _month_end_run(self, c: Customer, o: int) -> int:
        last = self.cals.last_business_day_of_month(c.country_calendar, o)
        if o > last:  # after the month's last business day: next month's run
            last = self.cals.last_business_day_of_month(c.country_calendar, last + 10)
        return last

    def _plan_initial(self, c: Customer, inv: Invoice, o: int) -> None:
        if inv.is_duplicate or inv.dispute_plan is not None or c.defaulted(o):
            return
        d = c.draws
        # Short of cash (a crunch, a slide under way, the months before a default) nobody pays early:
        # a taker that stops taking discounts is a classic early warning.
        strained = (
            (c.crunch_until_o is not None and o <= c.crunch_until_o)
            or (c.det_start_o is not None and o > c.det_start_o)
            or c.runup(o) > 0
        )
        z = math.log(max(inv.amount, 100) / (c.amount_median * 100)) / c.amount_sigma
        if c.discount_taker and inv.deduct == 0 and not strained and z > c.discount_z:
            # Discount takers schedule the payment for the last days of the discount period (day 10 of
            # 2/10 net 30), on the invoices whose discount is worth it; some release it late and deduct
            # the discount anyway.
            if d.chance(c.unearned_rate):
                initiate = inv.disc_o + d.randint(1, 14)
            else:
                initiate = inv.disc_o - d.randint(0, 2)
            self._set_plan(inv, self._arrival(c, max(initiate, o + 1), use_run=False), "discount")
            return
        initiate = inv.due_o + int(round(self._delay_days(c, inv)))
        initiate = max(initiate, o + 3)
        if inv.copy_o:
            initiate = max(initiate, inv.copy_o + d.randint(5, 15))
        self._set_plan(inv, self._arrival(c, initiate, use_run=True), "installment" if inv.split else "full")

    def _set_plan(self, inv: Invoice, pay_o: int, kind: str) -> None:
        inv.plan_ver += 1
        inv.plan_o, inv.plan_kind = pay_o, kind
        self.at(pay_o, P_PAY, inv.cust, "pay", inv, inv.plan_ver)

    def _clear_plan(self, inv: Invoice) -> None:
        inv.plan_ver += 1
        inv.plan_o, inv.plan_kind = 0, None

    def _stuck(self, inv: Invoice, o: int) -> bool:
        """Planned well past what the customer's habits give it (a crunch, a forgotten invoice, a broken
        promise): the payments a reminder or a call can move. One paid on the customer's usual schedule
        is not moved by reminders: that run is already booked (for a month-end payer, the month end
        after its usual delay, weeks after the due date)."""
        if not inv.plan_o:
            return False
        usual = self._run_day(inv.cust, inv.due_o + int(inv.usual_dl))
        return inv.plan_o > max(o + 10, usual + 10)

    def _pull_forward(self, c: Customer, o: int) -> None:
        """A reminder worked: overdue invoices that were stuck go out in the next run, a few days on."""
        d = c.draws
        if c.defaulted(o):
            return
        for inv in list(c.overdue.values()):
            if inv.dispute is None and self._stuck(inv, o):
                start = max(o + 2 + d.randint(0, 3), inv.due_o + int(inv.usual_dl))
                self._set_plan(inv, self._arrival(c, start, use_run=True), inv.plan_kind)

    # --- payments ----------------------------------------------------------------------------------------

    def _pay_customer(self, c: Customer, batch: list[Invoice], o: int) -> None:
        if c.defaulted(o):
            for inv in batch:
                self._clear_plan(inv)
            return
        d = c.draws
        payer = c.parent if c.paid_by_parent else c
        if len(batch) > 1 and not d.chance(c.bundle_pref):
            for inv in batch:
                self._make_payment(c, payer, [inv], o)
        else:
            self._make_payment(c, payer, batch, o)

    def _make_payment(self, c: Customer, payer: Customer, invs: list[Invoice], o: int) -> None:
        d = c.draws
        allocs = []  # [inv, cash, discount, deduction, reason, kind]
        for inv in invs:
            base = inv.open
            kind = inv.plan_kind
            disc = ded = 0
            if kind == "installment" and base >= 2000:
                share = max(0.2, min(0.8, c.split_fraction + d.uniform(-0.1, 0.1)))
                cash = min(base - 100, max(100, fraction_of(base, share)))
            else:
                if kind == "installment":
                    kind = "full"
                if kind == "discount" and inv.disc_pct is not None:
                    disc = pct_of(base, inv.disc_pct)
                if inv.deduct and not inv.deducted and base - disc - inv.deduct >= 100:
                    ded = inv.deduct
                cash = base - disc - ded
            allocs.append([inv, cash, disc, ded, inv.deduct_reason if ded else None, kind])
        extra = 0
        if d.chance(c.overpay_rate):
            credited = [a for a in allocs if a[0].credited and a[5] != "installment"]
            if credited and d.chance(0.5):
                extra = credited[0][0].credited  # paid the gross invoice, ignoring the credit memo
            else:
                total = sum(a[1] for a in allocs)
                unit = 10000 if total > 100000 else 1000
                extra = (unit - total % unit) % unit  # rounded up to a whole amount
        cash_total = sum(a[1] for a in allocs)
        amount = cash_total + extra
        if amount <= 0:
            return
        pid = f"PAY-{self._next('payment'):08d}"
        channel = payer.channel if not d.chance(0.04) else "wire"
        account, bank_id, styled = payer.account_for(o)
        reference = texts.payment_reference(
            d,
            payer.reference_style,
            invoice_ids=[a[0].invoice_id for a in allocs],
            po_numbers=[a[0].po for a in allocs if a[0].po],
            account=c.customer_id,
            channel=channel,
            for_subsidiary=c.customer_id if payer is not c else None,
        )
        remittance = payer.remittance
        if remittance == "edi820" and channel in ("check", "card"):
            remittance = "email_pdf"
        if remittance == "lockbox_detail" and channel != "check":
            remittance = "none"
        value_o = o
        if channel == "check":
            value_o = self.cals.add_business_days(c.bank_calendar, o, d.randint(1, 2))
        elif channel == "card":
            value_o = self.cals.add_business_days(c.bank_calendar, o, 2)
        check_number = None
        if channel == "check":
            payer.check_no += 1
            check_number = str(payer.check_no)
        e2e = None
        if channel == "wire" and c.currency in ("EUR", "GBP"):
            e2e = (
                "NOTPROVIDED"
                if d.chance(0.4)
                else d.choice(
                    (
                        allocs[0][0].invoice_id if allocs else "PAYMENT",
                        f"E2E{o % 100000:05d}{d.randint(100000, 999999)}",
                    )
                )
            )
        poor = not reference and remittance == "none"
        r = d.u()
        same_day = 0.6 if poor else 0.9
        if r < same_day:
            app_o = o
        elif r < same_day + 0.08:
            app_o = self.cals.add_business_days(c.bank_calendar, o, d.randint(1, 5))
        else:
            app_o = self.cals.add_business_days(c.bank_calendar, o, d.randint(6, 20))
        writing = self.writing(o)
        if writing:
            self.x.add(
                "payments",
                (pid, c.customer_id, self.iso(o), c.currency, fmt_cents(amount), channel, reference or None),
            )
            self.ledger_pay[pid] = [c.customer_id, c.currency, o, amount]
            self._add_total("received", c.currency, amount)
        for inv, cash, disc, ded, reason, kind in allocs:
            allowed = 0
            if disc:
                allowed = disc if (o <= inv.disc_o + 2 or d.chance(0.35)) else 0
            inv.open -= cash + allowed
            inv.paid_cash += cash
            inv.disc_taken += disc
            inv.disc_allowed += allowed
            inv.deducted += ded
            inv.n_payments += 1
            inv.first_pay_o = inv.first_pay_o or o
            inv.last_pay_o = o
            if inv.promise is not None:
                inv.promise.paid += cash
            if cash or allowed:
                app = (f"APP-{self._next('application'):08d}", pid, inv.invoice_id, app_o, cash, allowed)
                if app_o == o:
                    self._post_application(app)
                else:
                    self.at(app_o, P_POST, c, "post", app)
            if writing:
                self.gt["payment_allocations"].add(
                    (pid, inv.invoice_id, fmt_cents(cash), fmt_cents(disc), fmt_cents(ded), reason)
                )
            if ded:
                inv.short_paid = True
                # AR opens the deduction when it applies the cash.
                if app_o == o:
                    self._open_dispute(inv, o, reason, ded, is_deduction=True)
                else:
                    self.at(app_o, P_DISPUTE, c, "open_deduction", inv, (reason, ded))
            if inv.open == 0:
                self._close(inv, o)
            elif kind == "installment":
                gap = int(c.split_gap + d.uniform(-5, 5))
                self._set_plan(inv, self._arrival(c, o + gap, use_run=True), "full")
            else:
                self._clear_plan(inv)
                if disc and not allowed:
                    inv.residual_o = o  # the refused discount: left for the month-end small-balance run
                    self.residuals.append(inv)
        if writing:
            row = (
                pid,
                c.customer_id,
                payer.customer_id,
                channel,
                self.iso(o),
                self.iso(value_o),
                fmt_cents(amount),
                c.currency,
                name_as_written(d, styled, channel),
                account,
                bank_id,
                reference,
                remittance,
                str(len(allocs)),
                _b(any(a[3] for a in allocs)),
                _b(any(a[2] for a in allocs)),
                _b(extra > 0),
                fmt_cents(extra),
                check_number,
                e2e,
                self.iso(app_o) if app_o <= self.as_of_o else None,
            )
            advice = None
            if remittance != "none":
                advice = self._advice(
                    c, payer, o, pid, remittance, amount, allocs, reference, channel, check_number
                )
            self._receipt(c, payer, o, row, advice, value_o=value_o, amount=amount)
        if d.chance(c.dup_rate):
            self.at(
                self.cals.on_or_after(c.bank_calendar, o + d.randint(5, 25)),
                P_PAY,
                c,
                "dup_pay",
                (amount, reference, channel, payer.index),
            )

    def _duplicate_payment(self, c: Customer, spec: tuple, o: int) -> None:
        """The payer's AP pays the same run twice: nothing left to apply, all of it is unapplied cash."""
        if c.defaulted(o) or not self.writing(o):
            return
        amount, reference, channel, payer_index = spec
        payer = self.customers[payer_index]
        d = c.draws
        pid = f"PAY-{self._next('payment'):08d}"
        account, bank_id, styled = payer.account_for(o)
        self.x.add(
            "payments",
            (pid, c.customer_id, self.iso(o), c.currency, fmt_cents(amount), channel, reference or None),
        )
        self.ledger_pay[pid] = [c.customer_id, c.currency, o, amount]
        self._add_total("received", c.currency, amount)
        check_number = None
        if channel == "check":
            payer.check_no += 1
            check_number = str(payer.check_no)
        row = (
            pid,
            c.customer_id,
            payer.customer_id,
            channel,
            self.iso(o),
            self.iso(o),
            fmt_cents(amount),
            c.currency,
            name_as_written(d, styled, channel),
            account,
            bank_id,
            reference,
            "none",
            "0",
            "false",
            "false",
            "true",
            fmt_cents(amount),
            check_number,
            None,
            None,
        )
        self._receipt(c, payer, o, row, None, value_o=o, amount=amount)

    def _post_application(self, app: tuple) -> None:
        app_id, pid, invoice_id, app_o, cash, disc = app
        if app_o > self.as_of_o:
            return  # posted after as_of: not in any extract
        self.x.add(
            "payment_applications",
            (app_id, pid, invoice_id, self.iso(app_o), fmt_cents(cash), fmt_cents(disc)),
        )
        self._ledger_reduce_invoice(invoice_id, cash + disc)
        lp = self.ledger_pay[pid]
        lp[3] -= cash
        if lp[3] == 0:
            del self.ledger_pay[pid]

    def _ledger_reduce_invoice(self, invoice_id: str, cents: int) -> None:
        li = self.ledger_inv[invoice_id]
        li[4] -= cents
        if li[4] < 0:  # pragma: no cover - would mean the engine over-applied; the tests guard it
            raise AssertionError(f"{invoice_id} over-applied in the ERP ledger")
        if li[4] == 0:
            del self.ledger_inv[invoice_id]

    # --- credit memos --------------------------------------------------------------------------------------

    def _credit_memo(self, c: Customer, o: int, amount: int, reason: str, inv: Invoice | None) -> None:
        cm_id = f"CM-{self._next('credit_memo'):07d}"
        if inv is not None:
            inv.open -= amount
            if reason == "WRITE_OFF":
                inv.written_off += amount
            else:
                inv.credited += amount
        if self.writing(o):
            self.x.add(
                "credit_memos",
                (
                    cm_id,
                    c.customer_id,
                    self.iso(o),
                    c.currency,
                    fmt_cents(amount),
                    inv.invoice_id if inv else None,
                    reason,
                ),
            )
            self._add_total("credited", c.currency, amount)
            if inv is not None:
                self._ledger_reduce_invoice(inv.invoice_id, amount)
            else:
                self.ledger_cm[cm_id] = [c.customer_id, c.currency, o, -amount]
        if inv is not None and inv.open == 0:
            self._close(inv, o)

    def _planned_credit(self, c: Customer, inv: Invoice, spec: tuple, o: int) -> None:
        amount, reason = spec
        if inv.open > 0:
            self._credit_memo(c, o, min(amount, inv.open), reason, inv)
        elif reason in ("RETURN", "PRICING") and c.draws.chance(0.7):
            self._credit_memo(c, o, amount, reason, None)  # invoice already settled: credit sits on account

    def _rebate(self, c: Customer, amount: int, o: int) -> None:
        if amount <= 0:
            return
        for inv in reversed(list(c.open_invoices.values())):
            if inv.open >= amount and inv.dispute is None and not inv.is_duplicate:
                self._credit_memo(c, o, amount, "REBATE", inv)
                return
        self._credit_memo(c, o, amount, "REBATE", None)

    def _month_end(self, o: int, day: dt.date) -> None:
        keep = []
        for inv in self.residuals:
            if inv.closed or inv.open <= 0:
                continue
            c = inv.cust
            small = inv.open <= min(50000, max(10000, inv.amount // 50))  # <= 100.00 or 2%, never > 500.00
            if (
                o - inv.residual_o >= 25
                and small
                and inv.dispute is None
                and not inv.plan_o
                and c.draws.chance(0.8)
            ):
                self._credit_memo(c, o, inv.open, "WRITE_OFF", inv)
            elif inv.plan_o == 0:
                keep.append(inv)
        self.residuals = keep
        if day.month in (3, 6, 9, 12):
            for c in self.customers:
                if c.rebate_pct is not None and c.quarter_billed and o < self.as_of_o:
                    self.at(
                        self._seller_bd(o + c.draws.randint(8, 20)),
                        P_CREDIT,
                        c,
                        "rebate",
                        pct_of(c.quarter_billed, c.rebate_pct),
                    )
                c.quarter_billed = 0

    # --- disputes -----------------------------------------------------------------------------------------

    def _raise_planned_dispute(self, inv: Invoice, o: int, via: str) -> str:
        c = inv.cust
        reason, amount = inv.dispute_plan
        inv.dispute_raised = True
        amount = min(amount, inv.open)
        self._open_dispute(inv, o, reason, amount, is_deduction=False)
        if via == "email" and c.draws.chance(0.65):
            d = c.draws
            subj, body = texts.dispute_message(
                d,
                language=c.language,
                sender=c.contact_name,
                company=c.name,
                invoice_id=inv.invoice_id,
                po=inv.po or "",
                reason=reason,
                amount=texts.amount_text(d, amount, c.currency, c.country),
            )
            self._message(
                c,
                o,
                d.randint(8 * 60, 18 * 60),
                c.contact_email,
                subj,
                body,
                "dispute",
                dispute_reason=reason,
                invoice_ids=(inv.invoice_id,),
            )
        return reason

    def _open_dispute(self, inv: Invoice, o: int, reason: str, amount: int, is_deduction: bool) -> None:
        c = inv.cust
        amount = min(amount, inv.open)
        if amount <= 0 or inv.dispute is not None:
            return
        disp = Dispute(f"DSP-{self._next('dispute'):07d}", inv, o, reason, amount, is_deduction)
        inv.dispute = disp
        inv.is_disputed = True
        inv.dispute_reason = reason
        self._clear_plan(inv)
        if self.writing(o):
            self.x.add("disputes", self._dispute_row(disp, "open", None))
        quick = reason in ("NOT_RECEIVED", "DUPLICATE_BILLING")
        days = c.draws.randint(5, 15) if quick else c.draws.randint(8, 45)
        self.at(self.cals.add_business_days(SELLER_CALENDAR, o, days), P_DISPUTE, c, "resolve_dispute", disp)

    def _dispute_row(self, disp: Dispute, status: str, resolved_o: int | None) -> tuple:
        inv = disp.inv
        return (
            disp.dispute_id,
            inv.cust.customer_id,
            inv.invoice_id,
            self.iso(disp.opened_o),
            disp.reason,
            inv.cust.currency,
            fmt_cents(disp.amount),
            _b(disp.is_deduction),
            status,
            self.iso(resolved_o) if resolved_o else None,
        )

    def _resolve_dispute(self, disp: Dispute, o: int) -> None:
        inv = disp.inv
        c = inv.cust
        d = c.draws
        credit = d.chance(min(0.9, c.credit_rate + (0.1 if disp.is_deduction else 0)))
        if credit and inv.open > 0:
            self._credit_memo(c, o, min(disp.amount, inv.open), _CREDIT_REASON_OF_DISPUTE[disp.reason], inv)
        status = "resolved_credit" if credit else "resolved_no_credit"
        if self.writing(o):
            self.x.add("disputes", self._dispute_row(disp, status, o))
        inv.dispute = None
        if inv.closed or inv.open <= 0:
            return
        if disp.is_deduction and not credit:
            if d.chance(0.6):
                self._set_plan(inv, self._arrival(c, o + d.randint(5, 30), use_run=True), "full")
            else:
                inv.residual_o = o  # the customer never pays the deduction back
                self.residuals.append(inv)
        else:
            wait = d.randint(3, 20) if credit else d.randint(5, 25)
            self._set_plan(inv, self._arrival(c, o + wait, use_run=True), "full")

    # --- closing ------------------------------------------------------------------------------------------

    def _close(self, inv: Invoice, o: int) -> None:
        inv.closed = True
        c = inv.cust
        self._clear_plan(inv)
        c.open_invoices.pop(inv.invoice_id, None)
        if c.overdue.pop(inv.invoice_id, None) is not None and not c.overdue:
            c.collector.overdue_customers.discard(c.index)
        if inv.paid_cash:
            resolution = "paid"
        elif inv.written_off and not inv.credited:
            resolution = "written_off"
        else:
            resolution = "credited"
        self._outcome(inv, resolution, o)

    def _outcome(self, inv: Invoice, resolution: str, closed_o: int | None) -> None:
        paid_o = inv.last_pay_o if resolution == "paid" else 0
        self.gt["invoice_outcomes"].add(
            (
                inv.invoice_id,
                inv.cust.customer_id,
                inv.cust.currency,
                fmt_cents(inv.amount),
                self.iso(inv.inv_o),
                self.iso(inv.due_o),
                self.iso(paid_o) if paid_o else None,
                str(paid_o - inv.due_o) if paid_o else None,
                self.iso(inv.first_pay_o) if inv.first_pay_o else None,
                str(inv.n_payments),
                fmt_cents(inv.paid_cash),
                fmt_cents(inv.disc_taken),
                fmt_cents(inv.disc_allowed),
                fmt_cents(inv.deducted),
                fmt_cents(inv.credited),
                fmt_cents(inv.written_off),
                resolution,
                self.iso(closed_o) if closed_o else None,
                _b(paid_o > self.as_of_o),
                _b(inv.short_paid),
                _b(inv.is_disputed),
                inv.dispute_reason,
                _b(inv.split),
                _b(inv.is_duplicate),
            )
        )

    # --- collections --------------------------------------------------------------------------------------

    def _collections(self, o: int) -> None:
        for col in self.collectors:
            cands = []
            for idx in col.overdue_customers:
                c = self.customers[idx]
                if c.last_contact_o is not None and o - c.last_contact_o < c.contact_gap:
                    continue
                if c.promise_until_o is not None and c.promise_until_o >= o:
                    continue
                if not self.cals.business(c.country_calendar, o):
                    continue
                amt, oldest = 0, o
                for inv in c.overdue.values():
                    if inv.dispute is None:
                        amt += inv.open
                        if inv.due_o < oldest:
                            oldest = inv.due_o
                if amt <= 0:
                    continue
                cands.append((amt * _RANK_FX[c.currency] * (1 + (o - oldest) / 30), -idx))
            for _prio, neg in heapq.nlargest(col.daily_capacity, cands):
                self._contact(col, self.customers[-neg], o)

    def _activity(
        self,
        c: Customer,
        col: Collector,
        o: int,
        minute: int,
        kind: str,
        outcome: str,
        invoice_id: str | None,
        note: str | None,
    ) -> None:
        if self.writing(o):
            aid = f"ACT-{self._next('activity'):08d}"
            self.x.add(
                "collection_activities",
                (
                    aid,
                    c.customer_id,
                    invoice_id,
                    col.collector_id,
                    local_timestamp(c.timezone, o, minute),
                    kind,
                    outcome,
                    note,
                ),
            )

    def _contact(self, col: Collector, c: Customer, o: int) -> None:
        d = c.draws
        overdue = sorted(
            (inv for inv in c.overdue.values() if inv.dispute is None), key=lambda i: (i.due_o, i.invoice_id)
        )
        dpd = o - overdue[0].due_o
        total = sum(inv.open for inv in overdue)
        ids = tuple(inv.invoice_id for inv in overdue)
        amount_txt = f"{c.currency} {fmt_grouped(total)}"
        c.contacts += 1
        c.last_contact_o = o
        c.contact_gap = 7
        if dpd <= 7 or (dpd <= 60 and c.contacts % 3 == 0):
            kind = "email"
        elif dpd > 60 and c.contacts % 3 == 0:
            kind = "letter"
        else:
            kind = "call"
        first_id = overdue[0].invoice_id if len(overdue) == 1 or d.chance(0.6) else None
        if kind == "email":
            minute = d.randint(8 * 60, 18 * 60)
            if (c.stale_from_o is not None and c.stale_from_o <= o < c.contact_change_o) or d.chance(0.02):
                self._activity(
                    c, col, o, minute, "email", "bounced", first_id, texts.activity_note(d, "email_bounced")
                )
                return
            if d.chance(0.12 + 0.2 * c.responsiveness):
                self._activity(
                    c,
                    col,
                    o,
                    minute,
                    "email",
                    "replied",
                    first_id,
                    texts.activity_note(d, "email_replied", invoice_ids=ids),
                )
                self._reply(c, col, o, min(23 * 60 + 59, minute + d.randint(20, 300)), overdue)
                return
            self._activity(
                c,
                col,
                o,
                minute,
                "email",
                "sent",
                first_id,
                texts.activity_note(d, "email_reminder", invoice_ids=ids, amount=amount_txt),
            )
            if d.chance(0.04):
                self._out_of_office(c, col, o, min(23 * 60 + 59, minute + d.randint(1, 5)))
            if d.chance(c.responsive(o) * 0.3):
                self._pull_forward(c, o)
            return
        if kind == "letter":
            self._activity(
                c,
                col,
                o,
                d.randint(9 * 60, 16 * 60),
                "letter",
                "sent",
                first_id,
                texts.activity_note(d, "letter", invoice_ids=ids, amount=amount_txt),
            )
            if d.chance(c.responsive(o) * 0.5):
                self._pull_forward(c, o)
            return
        hour = d.randint(8, 16)
        minute = hour * 60 + d.randint(0, 59)
        # Calls reach people on the day and hour they are at their desk: the learnable best time to call.
        p = (
            c.answer_base
            * (1.7 if (o - 1) % 7 == c.pref_weekday else 1.0)
            * (1.6 if abs(hour - c.pref_hour) <= 1 else 1.0)
        )
        if c.defaulted(o):
            p *= 0.4
        contact = c.contact_name.split()[0]
        if not d.chance(min(0.92, p)):
            c.contact_gap = 3
            if d.chance(0.55):
                self._activity(
                    c,
                    col,
                    o,
                    minute,
                    "call",
                    "left_voicemail",
                    first_id,
                    texts.activity_note(d, "call_voicemail", contact=contact),
                )
            else:
                self._activity(
                    c, col, o, minute, "call", "no_answer", first_id, texts.activity_note(d, "call_no_answer")
                )
            if d.chance(c.responsive(o) * 0.1):
                self._pull_forward(c, o)
            return
        pending = [inv for inv in overdue if inv.dispute_plan is not None and not inv.dispute_raised]
        if pending:
            reason = self._raise_planned_dispute(pending[0], o, via="call")
            self._activity(
                c,
                col,
                o,
                minute,
                "call",
                "dispute_raised",
                pending[0].invoice_id,
                texts.activity_note(
                    d, "call_dispute", contact=contact, invoice_ids=(pending[0].invoice_id,), reason=reason
                ),
            )
            return
        if d.chance(0.35 if c.defaulted(o) else 0.45):
            p = self._promise(c, col, o, overdue, erp_logged=True)
            if p is not None:
                self._activity(
                    c,
                    col,
                    o,
                    minute,
                    "call",
                    "promise_to_pay",
                    p.invoice_id or first_id,
                    texts.activity_note(
                        d,
                        "call_promise",
                        contact=contact,
                        invoice_ids=ids,
                        amount=f"{c.currency} {fmt_grouped(p.amount)}",
                        date=self.iso(p.promised_o),
                    ),
                )
                return
        self._activity(
            c,
            col,
            o,
            minute,
            "call",
            "reached",
            first_id,
            texts.activity_note(d, "call_reached", contact=contact),
        )
        if d.chance(c.responsive(o) * 0.7):
            self._pull_forward(c, o)

    def _promise(
        self,
        c: Customer,
        col: Collector,
        o: int,
        overdue: list[Invoice],
        erp_logged: bool,
        minute: int | None = None,
        message: bool = False,
    ) -> Promise | None:
        d = c.draws
        covered = [inv for inv in overdue if inv.dispute_plan is None or inv.dispute_raised]
        covered = [inv for inv in covered if inv.dispute is None and inv.open > 0]
        if not covered:
            return None
        partial = c.archetype == "partial_payer" and len(covered) > 1 and d.chance(0.5)
        if partial:
            covered = covered[: len(covered) // 2]
        amount = sum(inv.open for inv in covered)
        # People promise the date their payment run already has; pressed about stuck invoices only,
        # they promise a date within two weeks.
        scheduled = [inv.plan_o for inv in covered if inv.plan_o and not self._stuck(inv, o)]
        promised_o = self.cals.add_business_days(c.bank_calendar, o, d.randint(1, 10))
        if scheduled:
            promised_o = self.cals.on_or_after(c.bank_calendar, max(o + 1, max(scheduled)))
        keep = d.chance(c.keep_rate(o))
        pid = f"PTP-{self._next('promise'):07d}"
        p = Promise(
            promise_id=pid,
            cust=c,
            invoice_id=covered[0].invoice_id if len(covered) == 1 else None,
            collector=col,
            promise_o=o,
            promised_o=promised_o,
            amount=amount,
            paid=0,
            invoices=covered,
        )
        for inv in covered:
            inv.promise = p
            if keep:
                if not inv.plan_o or inv.plan_o > promised_o:
                    self._set_plan(inv, promised_o, "full")
            elif inv.plan_o and promised_o - 3 <= inv.plan_o <= promised_o + 3:
                # Broken: the run the customer had planned for the promised date slips past it. Invoices
                # already scheduled for earlier runs go out in those runs.
                self._set_plan(inv, self._arrival(c, promised_o + d.randint(3, 12), use_run=True), "full")
        c.promise_until_o = promised_o + 3
        if erp_logged and self.writing(o):
            self.x.add("promises_to_pay", self._promise_row(p, "open"))
        p.invoices = covered if erp_logged else []
        if erp_logged:
            # The promise job runs on business days and allows three days' grace for the money to arrive.
            self.at(self._seller_bd(promised_o + 3), P_PROMISE, c, "promise_check", p)
        if message:
            amount_txt = texts.amount_text(d, amount, c.currency, c.country)
            date_txt = texts.date_text(d, dt.date.fromordinal(promised_o), c.country, dt.date.fromordinal(o))
            subj, body = texts.promise_message(
                d,
                language=c.language,
                country=c.country,
                collector_first=col.first_name,
                sender=c.contact_name,
                company=c.name,
                account=c.customer_id,
                invoice_ids=[i.invoice_id for i in covered],
                amount=amount_txt,
                date=date_txt,
                partial=partial,
            )
            self._message(
                c,
                o,
                minute,
                c.contact_email,
                subj,
                body,
                "promise_to_pay",
                promised_o=promised_o,
                promised_amount=amount,
                invoice_ids=tuple(i.invoice_id for i in covered),
            )
        return p

    def _promise_row(self, p: Promise, status: str) -> tuple:
        return (
            p.promise_id,
            p.cust.customer_id,
            p.invoice_id,
            p.collector.collector_id,
            self.iso(p.promise_o),
            self.iso(p.promised_o),
            p.cust.currency,
            fmt_cents(p.amount),
            status,
        )

    def _check_promise(self, p: Promise, o: int) -> None:
        kept = p.paid >= p.amount - max(100, p.amount // 100)
        if self.writing(o):
            self.x.add("promises_to_pay", self._promise_row(p, "kept" if kept else "broken"))
        for inv in p.invoices:
            if inv.promise is p:
                inv.promise = None

    # --- messages -----------------------------------------------------------------------------------------

    def _message(
        self,
        c: Customer,
        o: int,
        minute: int,
        from_address: str,
        subject: str,
        body: str,
        intent: str,
        *,
        linked: float = 0.92,
        promised_o: int | None = None,
        promised_amount: int | None = None,
        dispute_reason: str | None = None,
        invoice_ids: tuple[str, ...] = (),
        sender: Customer | None = None,
    ) -> None:
        """An inbound e-mail about customer ``c``'s account, sent by ``sender`` (``c`` unless a parent writes).

        The ERP links it to the sender's account when it knows the address (``linked`` of the time)."""
        if not self.writing(o):
            return
        sender = sender or c
        mid = f"MSG-{self._next('message'):08d}"
        known = sender.customer_id if c.draws.chance(linked) else None
        self.x.add(
            "customer_messages",
            (mid, known, local_timestamp(sender.timezone, o, minute), from_address, subject, body),
        )
        self.gt["message_intents"].add(
            (
                mid,
                intent,
                self.iso(promised_o) if promised_o else None,
                fmt_cents(promised_amount) if promised_amount is not None else None,
                dispute_reason,
                sender.customer_id,
                c.currency,
                " ".join(invoice_ids),
                getattr(subject, "family", ""),  # texts.Subject: the wording family, for held-out evaluation
            )
        )

    def _reply(self, c: Customer, col: Collector, o: int, minute: int, overdue: list[Invoice]) -> None:
        d = c.draws
        pending = [inv for inv in overdue if inv.dispute_plan is not None and not inv.dispute_raised]
        if pending:
            self._raise_planned_dispute(pending[0], o, via="email")
            return
        r = d.u()
        if (
            r < 0.55
            and not c.defaulted(o)
            and self._promise(c, col, o, overdue, erp_logged=d.chance(0.6), minute=minute, message=True)
        ):
            return
        if r < 0.8 and overdue:
            self._copy_request(c, overdue[0], o, minute)
            return
        subj, body = texts.other_message(
            d,
            language=c.language,
            sender=c.contact_name,
            company=c.name,
            country=c.country,
            today=dt.date.fromordinal(o),
            account=c.customer_id,
        )
        self._message(c, o, minute, c.contact_email, subj, body, "other")

    def _copy_request(self, c: Customer, inv: Invoice, o: int, minute: int | None = None) -> None:
        if inv.closed:
            return
        d = c.draws
        ids = [inv.invoice_id]
        others = [i for i in c.open_invoices.values() if i is not inv]
        if others and d.chance(0.3):
            ids.append(others[-1].invoice_id)
        subj, body = texts.copy_request_message(
            d,
            language=c.language,
            sender=c.contact_name,
            company=c.name,
            invoice_ids=ids,
            reply_to=c.contact_email,
        )
        self._message(
            c,
            o,
            minute if minute is not None else d.randint(8 * 60, 18 * 60),
            c.contact_email,
            subj,
            body,
            "invoice_copy_request",
            invoice_ids=tuple(ids),
        )
        self.at(self._seller_bd(o + 1), P_MESSAGE, c, "copy_sent", tuple(ids))
        # Not received means not yet in the AP system: payment waits for the copy to be approved.
        if inv.plan_o and inv.plan_o < o + 5 and inv.dispute is None:
            self._set_plan(inv, self._arrival(c, o + d.randint(5, 12), use_run=True), inv.plan_kind)

    def _out_of_office(self, c: Customer, col: Collector, o: int, minute: int) -> None:
        d = c.draws
        back = dt.date.fromordinal(o + d.randint(2, 16))
        first, last = identity.person_name(d, identity.name_locale(c.country))
        colleague = d.choice(
            (
                f"{first} {last}",
                f"{first} {last} ({identity.slug(first)}.{identity.slug(last)}@{c.domain})",
                f"ap@{c.domain}",
            )
        )
        subj, body = texts.out_of_office_message(
            d,
            language=c.language,
            sender=c.contact_name,
            original_subject=f"Payment reminder - {c.customer_id}",
            back=texts.date_text(d, back, c.country),
            colleague=colleague,
        )
        self._message(c, o, minute, c.contact_email, subj, body, "out_of_office")

    def _contact_change(self, c: Customer, o: int) -> None:
        d = c.draws
        old_name = c.contact_name
        sender = c.new_contact_name
        subj, body = texts.contact_change_message(
            d,
            language=c.language,
            sender=sender,
            company=c.name,
            old_name=old_name,
            new_email=c.new_contact_email,
        )
        # Sent from the new address, which the ERP does not know yet.
        self._message(
            c, o, d.randint(8 * 60, 17 * 60), c.new_contact_email, subj, body, "contact_change", linked=0.4
        )
        c.contact_email = c.new_contact_email
        c.contact_name = sender

    def _other_message(self, c: Customer, o: int) -> None:
        d = c.draws
        subj, body = texts.other_message(
            d,
            language=c.language,
            sender=c.contact_name,
            company=c.name,
            country=c.country,
            today=dt.date.fromordinal(o),
            account=c.customer_id,
        )
        minute = d.randint(7 * 60, 20 * 60)
        self._message(c, o, minute, c.contact_email, subj, body, "other")

    # --- receipts and remittance advices -----------------------------------------------------------------

    def _doc_draws(self, c: Customer) -> Draws:
        """How an account's AP documents look: a stream of its own (``[seed, 2, index]``), so that
        writing the documents or not never changes the rest of the world."""
        if c.doc_draws is None:
            c.doc_draws = Draws(np.random.default_rng([self.seed, 2, c.index]))
        return c.doc_draws

    def _advice(
        self,
        c: Customer,
        payer: Customer,
        o: int,
        pid: str,
        kind: str,
        amount: int,
        allocs: list,
        reference: str,
        channel: str,
        check_number: str | None,
    ) -> Advice:
        """What the payer's advice says. E-mailed ones also land in the ERP's inbox extract (the text
        body), whether or not the files are written."""
        d = self._doc_draws(payer)
        if payer.advice_style is None:
            payer.advice_style = draw_style(d, payer.country, payer.language)
        lines = [
            AdviceLine(inv.invoice_id, dt.date.fromordinal(inv.inv_o), inv.amount, disc, ded, reason, cash)
            for inv, cash, disc, ded, reason, _kind in allocs
            if cash > 0
        ]
        own_ref = f"{d.randint(10**7, 10**8 - 1)}"  # the payer's payment document number
        if not reference:
            reference = f"CHECK {check_number}" if check_number else f"PAYMENT {own_ref}"
        a = Advice(
            payment_id=pid,
            kind=kind,
            style=payer.advice_style,
            payer_name=payer.name,
            sender_name=payer.contact_name,
            sender_email=payer.contact_email,
            language=payer.language,
            currency=c.currency,
            amount=amount,
            paid_on=dt.date.fromordinal(o),
            reference=reference,
            channel=channel,
            lines=lines,
        )
        a.written()
        if kind in ("email_pdf", "email_xlsx"):
            prefix = d.choice(
                ("Remittance_", "RA_", "Payment_Advice_", "ZAHLAVIS_" if payer.language == "de" else "RA_")
            )
            a.attachment_name = f"{prefix}{own_ref}.{'pdf' if kind == 'email_pdf' else 'xlsx'}"
        if kind.startswith("email"):
            a.sent_minute = d.randint(7 * 60, 19 * 60)
            subject, text, _html = email_parts(a)
            self._message(
                c,
                o,
                a.sent_minute,
                payer.contact_email,
                subject,
                text,
                "remittance_advice",
                invoice_ids=tuple(ln.invoice_id for ln in lines),
                sender=payer,
            )
        return a

    def _remit_to(self, c: Customer) -> str:
        # The account on the customer's invoices: a fixed hash of the account, no random stream.
        u = ((c.index + 1) * 0x9E3779B97F4A7C15 ^ (self.seed * 0xBF58476D1CE4E5B9)) % 2**64 / 2**64
        return self.bank.remit_to(c.currency, u)

    def _receipt(
        self,
        c: Customer,
        payer: Customer,
        o: int,
        row: tuple,
        advice: Advice | None,
        *,
        value_o: int,
        amount: int,
    ) -> None:
        """Hand a received payment to the bank files (or, with none, write its truth row now)."""
        if self.bank is None:
            self.gt["payments"].add(row + (None, None, None, None))
            return
        pid, channel, name, account, bank_id, reference, e2e = (
            row[0], row[3], row[8], row[9], row[10], row[11], row[19]
        )  # fmt: skip
        number = int(pid[4:])
        trace = None
        if channel == "ach" and c.currency == "USD":
            trace = f"{(bank_id or '0' * 9)[:8]}{number % 10**7:07d}"  # NACHA: ODFI routing + sequence
        elif advice is not None and advice.kind == "edi820":
            trace = e2e if e2e and e2e != "NOTPROVIDED" else f"{payer.customer_id[1:]}{number:09d}"
        if channel == "check":
            key = "LOCKBOX"
            check = Check(pid, amount, bank_id or "", account or "", row[18] or "", o - 3, name)
            if advice is not None and advice.kind == "lockbox_detail":
                check.lines = advice.lines
                check.advice = advice
                check.payer_id = payer.customer_id
            p = self.bank.add_payment(o=o, row=row, account_key=key, mv=None, check=check)
        else:
            key = self._remit_to(c)
            mv = Movement(
                "customer_payment",
                amount,
                value_o,
                name=name,
                account=account,
                bank_id=bank_id,
                text=reference or "",
                e2e=e2e,
                trace=trace,
                channel=channel,
                payment_id=pid,
                sec="CTX" if advice is not None and advice.kind == "edi820" else "CCD",
            )
            p = self.bank.add_payment(o=o, row=row, account_key=key, mv=mv, check=None)
        if advice is None:
            return
        if advice.kind.startswith("email"):
            when = dt.datetime.fromisoformat(local_timestamp(payer.timezone, o, advice.sent_minute))
            self.bank.write_email(
                advice,
                p,
                sender=(payer.contact_name, payer.contact_email),
                when=when,
                payer_id=payer.customer_id,
            )
        elif advice.kind == "edi820":
            self.bank.add_edi(
                advice,
                p,
                trace=trace or "",
                payer_id=payer.customer_id,
                payer_bank=(account or "", bank_id or ""),
            )

    # --- as_of snapshots and the end ----------------------------------------------------------------------

    def _write_as_of(self) -> None:
        iso = self.iso(self.as_of_o)
        self.x.write_file(
            "collectors",
            iso,
            [(col.collector_id, col.name, col.email, str(col.daily_capacity)) for col in self.collectors],
        )
        rows = []
        for c in self.customers:
            rows.append(
                (
                    c.customer_id,
                    c.name,
                    c.parent.customer_id if c.parent else None,
                    c.country,
                    c.currency,
                    fmt_cents(c.credit_limit),
                    c.terms,
                    c.segment,
                    c.collector.collector_id,
                    c.contact_email,
                    c.account,
                    dt.date.fromordinal(c.created_o).isoformat(),
                )
            )
        self.x.write_file("customers", iso, rows)
        self.open_items_rows = write_table(
            self.gt_dir / "open_items.csv", GROUND_TRUTH_COLUMNS["open_items"], self._open_item_rows()
        )

    def _open_item_rows(self):
        items = []
        for iid, (cust, cur, doc_o, due_o, open_c) in self.ledger_inv.items():
            items.append((cust, doc_o, iid, "invoice", cur, due_o, open_c))
        for cid, (cust, cur, doc_o, open_c) in self.ledger_cm.items():
            items.append((cust, doc_o, cid, "credit_memo", cur, doc_o, open_c))
        for pid, (cust, cur, doc_o, unapplied) in self.ledger_pay.items():
            items.append((cust, doc_o, pid, "unapplied_payment", cur, doc_o, -unapplied))
        items.sort()
        self.open_ar = {}
        for cust, doc_o, item_id, kind, cur, due_o, open_c in items:
            rate = self.fx_rate[cur]
            functional = convert(open_c, rate)
            dpd = self.as_of_o - due_o
            self.open_ar[cur] = self.open_ar.get(cur, 0) + open_c
            self.open_ar[FUNCTIONAL_CURRENCY + "_functional"] = (
                self.open_ar.get(FUNCTIONAL_CURRENCY + "_functional", 0) + functional
            )
            yield (
                item_id,
                kind,
                cust,
                cur,
                self.iso(doc_o),
                self.iso(due_o),
                fmt_cents(open_c),
                f"{rate:.6f}",
                fmt_cents(functional),
                str(dpd),
                aging_bucket(dpd),
            )

    def _finish(self) -> None:
        for c in self.customers:
            for inv in list(c.open_invoices.values()):
                if inv.paid_cash and not inv.plan_o and inv.dispute is None and not c.defaulted(self.end_o):
                    resolution = (
                        "paid"  # the payer considers it settled; a refused discount or deduction stays open
                    )
                elif c.default_o is not None:
                    resolution = "never"
                else:
                    resolution = "open_at_horizon"
                self._outcome(inv, resolution, None)
            c.open_invoices.clear()
        for t in self.gt.values():
            t.close()
        self.bank_summary = self.bank.close() if self.bank is not None else None
        self.customer_rows = write_table(
            self.gt_dir / "customers.csv",
            GROUND_TRUTH_COLUMNS["customers"],
            (self._customer_truth(c) for c in self.customers),
        )

    def _customer_truth(self, c: Customer) -> tuple:
        def iso(o):
            return dt.date.fromordinal(o).isoformat() if o is not None else None

        def f(x, nd=3):
            return f"{x:.{nd}f}"

        return (
            c.customer_id,
            c.archetype,
            c.segment,
            c.country,
            c.currency,
            c.timezone,
            c.parent.customer_id if c.parent else None,
            _b(c.paid_by_parent),
            c.terms,
            c.run_type,
            str(c.run_weekday) if c.run_type == "weekly" else None,
            c.channel,
            c.remittance,
            c.reference_style,
            f(c.invoices_per_month),
            fmt_cents(int(round(c.amount_median * 100))),
            f(c.amount_sigma),
            f(c.mean_delay, 2),
            f(c.delay_sd, 2),
            f(c.amount_beta, 2),
            f(c.quarter_end_hold, 2),
            f(c.promise_keep),
            f(c.responsiveness),
            f(c.dispute_rate),
            f(c.deduction_share),
            f(c.split_rate),
            f(c.split_fraction),
            f(c.split_gap, 1),
            f(c.discount_taker),
            f(c.unearned_rate),
            f(c.answer_base),
            str(c.pref_weekday),
            str(c.pref_hour),
            str(c.lean_month) if c.season_amp else None,
            f(c.season_amp, 2) if c.season_amp else None,
            f(c.crunch_rate),
            # For a sudden default the trouble starts with its run-up: that is when an early warning
            # can first be right.
            iso(
                c.det_start_o
                if c.det_start_o is not None
                else (c.default_o - DEFAULT_RUNUP_DAYS if c.default_o else None)
            ),
            f(c.det_rate, 2) if c.det_rate else None,
            iso(c.det_end_o),
            iso(c.default_o),
            iso(c.created_o),
            iso(c.churn_o),
            iso(c.contact_change_o),
            iso(c.alt_account_o),
        )

    def _seller(self) -> dict:
        """The seller and the bank accounts its customers pay into: what bank-statement readers need."""
        if self.bank is not None:
            accounts, lockbox = self.bank.accounts, self.bank.lockbox
        else:
            accounts, lockbox = seller_accounts(self.seed, {})
        primary = {}
        for a in accounts:
            if a.currency not in primary:
                primary[a.currency] = {
                    "account": a.account,
                    "bank_id": a.bank_id,
                    "bank_calendar": f"bank:{a.currency}",
                }
        return {
            "name": SELLER_NAME,
            "domain": SELLER_DOMAIN,
            "accounts": primary,
            "bank_accounts": [a.as_dict() for a in accounts],
            "lockbox": {"number": lockbox.number, "bank": lockbox.bank, "routing": lockbox.routing,
                        "folder": f"landing/bank/{lockbox.slug}"},
        }  # fmt: skip

    def _summary(self) -> dict:
        archetypes = {a: 0 for a in ARCHETYPES}
        for c in self.customers:
            archetypes[c.archetype] += 1
        summary = {
            "parameters": {
                "customers": self.n_customers,
                "years": self.years,
                "seed": self.seed,
                "as_of": self.as_of.isoformat(),
                "start": self.start.isoformat(),
                "functional_currency": FUNCTIONAL_CURRENCY,
            },
            "extracts": {
                name: {"rows": self.x.row_counts[name], "files": self.x.file_counts[name]}
                for name in self.x.pending
            },
            "ground_truth_rows": {
                **{name: t.rows for name, t in self.gt.items()},
                "open_items": self.open_items_rows,
                "customers": self.customer_rows,
            },
            "totals": {
                "invoiced": {k: fmt_cents(v) for k, v in sorted(self.totals["invoiced"].items())},
                "received": {k: fmt_cents(v) for k, v in sorted(self.totals["received"].items())},
                "credited": {k: fmt_cents(v) for k, v in sorted(self.totals["credited"].items())},
                "open_at_as_of": {k: fmt_cents(v) for k, v in sorted(self.open_ar.items())},
            },
            "archetypes": archetypes,
            "collectors": len(self.collectors),
            "seller": self._seller(),
            "bank_files": self.bank_summary,
        }
        (self.gt_dir / "summary.json").write_text(
            json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
        return summary


def simulate_world(
    out_dir: Path,
    *,
    customers: int = 300,
    years: int = 2,
    seed: int = 42,
    as_of: dt.date = dt.date(2026, 11, 20),
    progress: Callable[[str], None] | None = None,
    bank_files: bool = True,
    bank_days: int | None = None,
) -> dict:
    """Simulate ``years`` of AR history up to ``as_of`` for ``customers`` accounts and write it under ``out_dir``.

    Writes ``landing/erp/<extract>/<extract>_<date>.csv`` for every ERP extract contract and
    ``ground_truth/`` (customers, invoice_outcomes, open_items, payments, payment_allocations,
    message_intents, summary.json). With ``bank_files`` (the default) also the bank statements and
    lockbox files under ``landing/bank/<bank>/``, the remittance advices under ``landing/remittance/``
    and their truth (bank_movements, bank_statements, remittance_documents, remittance_lines); the ERP
    extracts are the same bytes either way. ``bank_days`` writes the bank and remittance files of the
    last that many days only (the money, balances and every file of those days are the same as in the
    full world): how a team starts, with the ERP's history and the last weeks of bank files, and what
    lets the scale benchmark simulate millions of invoices. Deterministic: same arguments,
    byte-identical files.
    Returns the summary (row counts per extract, totals), also written as ``summary.json``.
    """
    if customers < 1:
        raise ValueError(f"customers must be at least 1, got {customers}")
    if not 1 <= years <= 10:
        raise ValueError(f"years must be between 1 and 10, got {years}")
    if not isinstance(as_of, dt.date):
        raise TypeError(f"as_of must be a datetime.date, got {type(as_of).__name__}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if bank_days is not None and bank_days < 1:
        raise ValueError(f"bank_days must be at least 1, got {bank_days}")
    return World(
        out_dir, customers, years, seed, as_of, progress, bank_files=bank_files, bank_days=bank_days
    ).run()
