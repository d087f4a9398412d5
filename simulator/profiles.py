"""Customers, their behaviour archetypes, families and the collectors who own them.

A customer's parameters are drawn from its own random stream (see :mod:`simulator.rand`); only the
family tree (which customer is a subsidiary of which) and the collector portfolios come from global
streams, because they relate customers to one another.

Payment timing is built from signals a model can learn (see ``World._delay_days`` in
:mod:`simulator.world`): the customer's habit, the invoice amount against its usual amount, its
payment run, seasonality, a trend for deteriorating customers, cash crunches, quarter-end holds,
disputes, reminders and promises, plus noise with a heavy tail.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from dataclasses import dataclass
from decimal import Decimal

from simulator import identity
from simulator.calendars import COUNTRIES
from simulator.rand import STREAM_COLLECTORS, STREAM_FAMILIES, Draws, customer_generator, global_generator

ARCHETYPES = (
    "prompt",
    "steady_late",
    "month_end",
    "seasonal",
    "partial_payer",
    "disputer",
    "slow_deteriorating",
    "sudden_default",
)
_ARCHETYPE_WEIGHTS = (
    ("prompt", 0.22),
    ("steady_late", 0.2),
    ("month_end", 0.12),
    ("seasonal", 0.08),
    ("partial_payer", 0.08),
    ("disputer", 0.1),
    ("slow_deteriorating", 0.11),
    ("sudden_default", 0.09),
)
# A default is sudden to the seller, not in the customer's books: in the months before it the
# customer stretches payables (days late grow), pays in part, stops taking discounts and breaks
# promises. How long that run-up lasts:
DEFAULT_RUNUP_DAYS = 150
_SEGMENT_WEIGHTS = (("enterprise", 0.12), ("mid_market", 0.33), ("small_business", 0.55))
_TERMS = {
    "enterprise": (("NET60", 0.35), ("NET45", 0.3), ("NET30", 0.25), ("2/10NET30", 0.1)),
    "mid_market": (("NET30", 0.45), ("NET45", 0.2), ("NET60", 0.1), ("2/10NET30", 0.25)),
    "small_business": (("NET30", 0.7), ("2/10NET30", 0.2), ("NET45", 0.1)),
}
TERM_DAYS = {"NET30": 30, "NET45": 45, "NET60": 60, "2/10NET30": 30}
DISCOUNT = {"2/10NET30": (Decimal("2.0000"), 10)}
# Invoices per month (median) and invoice amount (median, functional-ish units) by segment.
_VOLUME = {"enterprise": (10.0, 12000.0), "mid_market": (3.5, 3000.0), "small_business": (1.0, 600.0)}
_CURRENCY_SCALE = {"USD": 1.0, "EUR": 0.92, "GBP": 0.79}
_CHANNELS = {
    "US": (("ach", 0.45), ("check", 0.3), ("wire", 0.17), ("card", 0.08)),
    "CA": (("wire", 0.3), ("ach", 0.3), ("check", 0.4)),
    "GB": (("ach", 0.4), ("wire", 0.6)),  # "ach" here is BACS / Faster Payments
}
_EU_CHANNELS = (("wire", 0.95), ("card", 0.05))
_REMITTANCE = {
    "enterprise": (
        ("edi820", 0.35),
        ("email_pdf", 0.25),
        ("email_xlsx", 0.2),
        ("email_body", 0.1),
        ("none", 0.1),
    ),
    "mid_market": (("email_pdf", 0.3), ("email_body", 0.3), ("none", 0.3), ("email_xlsx", 0.1)),
    "small_business": (("none", 0.6), ("email_body", 0.3), ("email_pdf", 0.1)),
}
# How often AP releases payments. Larger AP departments batch: weekly or twice-monthly runs, and
# some only at month end (the month_end archetype always does).
_RUNS = {
    "enterprise": (("weekly", 0.4), ("semi_monthly", 0.3), ("month_end", 0.15), ("any", 0.15)),
    "mid_market": (("weekly", 0.35), ("any", 0.3), ("semi_monthly", 0.25), ("month_end", 0.1)),
    "small_business": (("any", 0.65), ("weekly", 0.2), ("semi_monthly", 0.1), ("month_end", 0.05)),
}
_PROMISE_KEEP = {
    "prompt": 0.92,
    "steady_late": 0.75,
    "month_end": 0.85,
    "seasonal": 0.7,
    "partial_payer": 0.6,
    "disputer": 0.65,
    "slow_deteriorating": 0.8,
    "sudden_default": 0.7,
}
# Seller-wide invoicing seasonality: quarter-end peaks, quiet August and December.
MONTH_VOLUME = (0.95, 0.98, 1.12, 0.97, 1.0, 1.12, 0.95, 0.72, 1.12, 1.02, 1.05, 0.8)

COLLECTOR_NAMES = (
    "Maria Gonzalez",
    "James Carter",
    "Priya Patel",
    "Tom Becker",
    "Sophie Martin",
    "Daniel Kim",
    "Olivia Brooks",
    "Lukas Weber",
    "Emma Collins",
    "Ahmed Hassan",
)
SELLER_NAME = "Northstar Industrial Supply"
SELLER_DOMAIN = "northstar-supply.example"


@dataclass
class Collector:
    index: int
    collector_id: str
    name: str
    email: str
    daily_capacity: int
    overdue_customers: set  # indexes of its customers with something overdue (engine state)

    @property
    def first_name(self) -> str:
        return self.name.split()[0]


class Customer:
    """Static profile (drawn once) plus the engine's running state for one customer account."""

    __slots__ = (
        # identity
        "index",
        "customer_id",
        "name",
        "core",
        "industry",
        "country",
        "currency",
        "language",
        "timezone",
        "segment",
        "terms",
        "term_days",
        "discount",
        "parent",
        "children",
        "collector",
        "created_o",
        "churn_o",
        "credit_limit",
        "domain",
        "contact_email",
        "contact_name",
        "new_contact_email",
        "contact_change_o",
        "stale_from_o",
        "new_contact_name",
        "account",
        "bank_id",
        "alt_account",
        "alt_bank_id",
        "alt_account_o",
        "bank_name",
        "alt_bank_name",
        "channel",
        "remittance",
        "reference_style",
        "run_type",
        "run_weekday",
        "bundle_pref",
        "po_style",
        "check_no",
        "paid_by_parent",
        "bank_calendar",
        "country_calendar",
        # behaviour
        "archetype",
        "invoices_per_month",
        "amount_median",
        "amount_sigma",
        "mean_delay",
        "delay_sd",
        "amount_beta",
        "approval_ratio",
        "approval_days",
        "year_end_days",
        "august_days",
        "quarter_end_hold",
        "promise_keep",
        "responsiveness",
        "dispute_rate",
        "deduction_share",
        "credit_rate",
        "split_rate",
        "split_z",
        "split_fraction",
        "split_gap",
        "discount_taker",
        "discount_z",
        "unearned_rate",
        "copy_rate",
        "overpay_rate",
        "dup_rate",
        "answer_base",
        "pref_weekday",
        "pref_hour",
        "lean_month",
        "season_amp",
        "det_start_o",
        "det_rate",
        "det_end_o",
        "default_o",
        "stress_days",
        "rebate_pct",
        "other_msg_rate",
        "crunch_rate",
        "crunch_until_o",
        "crunch_extra",
        # engine state
        "draws",
        "doc_draws",
        "advice_style",
        "open_invoices",
        "overdue",
        "last_contact_o",
        "contact_gap",
        "promise_until_o",
        "quarter_billed",
        "contacts",
    )

    def __init__(self):
        for s in self.__slots__:
            setattr(self, s, None)

    def defaulted(self, o: int) -> bool:
        return self.default_o is not None and o >= self.default_o

    def _decline(self, o: int) -> float:
        """1 until deterioration starts, then down by 7% a month (floor 15%); in the run-up to a
        default, down to 15% by the default date. Promises are kept less and reminders work less."""
        if self.det_start_o is not None and o > self.det_start_o:
            return max(0.15, 1.0 - 0.07 * (o - self.det_start_o) / 30.4)
        if self.default_o is not None and o > self.default_o - DEFAULT_RUNUP_DAYS:
            return max(0.15, 1.0 - 0.85 * (o - (self.default_o - DEFAULT_RUNUP_DAYS)) / DEFAULT_RUNUP_DAYS)
        return 1.0

    def runup(self, o: int) -> float:
        """How far into the run-up to its default the customer is on day ``o``: 0 outside, 1 at default."""
        if self.default_o is None or o <= self.default_o - DEFAULT_RUNUP_DAYS:
            return 0.0
        return min(1.0, (o - (self.default_o - DEFAULT_RUNUP_DAYS)) / DEFAULT_RUNUP_DAYS)

    def keep_rate(self, o: int) -> float:
        return 0.0 if self.defaulted(o) else self.promise_keep * self._decline(o)

    def responsive(self, o: int) -> float:
        """Chance a reminder moves this customer's money forward, as of day ``o``."""
        return 0.0 if self.defaulted(o) else self.responsiveness * self._decline(o)

    def account_for(self, o: int) -> tuple[str, str, str]:
        """(account, bank id, styled name) this payer pays from on day ``o``."""
        if self.alt_account_o is not None and o >= self.alt_account_o:
            return self.alt_account, self.alt_bank_id, self.alt_bank_name
        return self.account, self.bank_id, self.bank_name


def _ord(d: dt.date) -> int:
    return d.toordinal()


def build_customers(seed: int, n: int, start: dt.date, as_of: dt.date) -> list[Customer]:
    start_o, as_of_o = _ord(start), _ord(as_of)
    span = as_of_o - start_o
    customers: list[Customer] = []
    countries = [(c.code, c.weight) for c in COUNTRIES.values()]
    for i in range(n):
        c = Customer()
        c.index = i
        c.customer_id = f"C{i + 1:06d}"
        d = c.draws = Draws(customer_generator(seed, i))
        c.segment = d.weighted(_SEGMENT_WEIGHTS)
        c.country = d.weighted(countries)
        info = COUNTRIES[c.country]
        c.currency = info.currency
        c.language = info.language
        c.timezone = d.weighted(info.timezones)
        c.country_calendar = f"country:{c.country}"
        c.bank_calendar = f"bank:{c.currency}"
        c.archetype = d.weighted(_ARCHETYPE_WEIGHTS)
        c.terms = d.weighted(_TERMS[c.segment])
        c.term_days = TERM_DAYS[c.terms]
        c.discount = DISCOUNT.get(c.terms)
        rate, amount = _VOLUME[c.segment]
        c.invoices_per_month = max(0.2, d.lognormal(rate, 0.5 if c.segment != "small_business" else 0.6))
        c.amount_median = d.lognormal(amount * _CURRENCY_SCALE[c.currency], 0.8)
        c.amount_sigma = d.uniform(0.4, 1.0)
        # Created before the window for most; some are onboarded during it.
        if d.chance(0.12) and span > 120:
            c.created_o = start_o + d.randint(0, span - 90)
        else:
            c.created_o = start_o - d.randint(30, 3650)
        c.churn_o = (
            start_o + d.randint(span // 3, span) if c.segment == "small_business" and d.chance(0.05) else None
        )
        _behaviour(c, d, start_o, as_of_o, span)
        customers.append(c)
    _families(seed, customers)
    for c in customers:
        _identity(c, customers, start_o, span)
    return customers


def _behaviour(c: Customer, d: Draws, start_o: int, as_of_o: int, span: int) -> None:
    a = c.archetype
    c.mean_delay = {
        "prompt": d.uniform(-4, 1),
        "steady_late": d.uniform(10, 45),
        "month_end": d.uniform(-2, 8),
        "seasonal": d.uniform(0, 12),
        "partial_payer": d.uniform(0, 15),
        "disputer": d.uniform(3, 18),
        "slow_deteriorating": d.uniform(-2, 8),
        "sudden_default": d.uniform(2, 20),
    }[a]
    # What is left of an invoice's timing once everything observable is accounted for (the AP clerk's
    # day, a lost e-mail): small, so that most of the variation has a cause a model can see.
    c.delay_sd = d.uniform(0.5, 1.5) if a == "prompt" else d.uniform(1.0, 3.0)
    # Days added per doubling of the amount against the usual: bigger invoices wait for more approvers.
    c.amount_beta = d.uniform(0, 1.5) if a == "prompt" else d.uniform(3, 6)
    # Above a multiple of its usual amount an invoice needs a second signature (a controller, the CFO):
    # it waits for the next approval meeting.
    c.approval_ratio = d.uniform(2.5, 4.0)
    c.approval_days = d.uniform(3, 6) if a == "prompt" else d.uniform(7, 15)
    # Closing weeks: AP slows down over the year-end close, and in Europe over August (a habit per
    # customer, the same every year).
    c.year_end_days = d.uniform(4, 10)
    c.august_days = d.uniform(5, 12) if c.currency != "USD" else 0.0
    c.quarter_end_hold = d.uniform(4, 14) if c.segment == "enterprise" and d.chance(0.35) else 0.0
    c.promise_keep = min(0.98, max(0.2, _PROMISE_KEEP[a] + d.uniform(-0.1, 0.1)))
    c.responsiveness = (
        d.uniform(0.5, 0.9)
        if a == "prompt"
        else d.uniform(0.1, 0.4)
        if a == "sudden_default"
        else d.uniform(0.2, 0.7)
    )
    c.dispute_rate = d.uniform(0.18, 0.35) if a == "disputer" else d.uniform(0.005, 0.03)
    c.deduction_share = d.uniform(0.55, 0.85) if a == "disputer" else 0.3
    c.credit_rate = d.uniform(0.4, 0.7)
    c.split_rate = d.uniform(0.5, 0.85) if a == "partial_payer" else 0.01
    # Which invoices are paid in two instalments: the larger ones (the cash is not there for them in
    # one go). An invoice splits when its amount's z-score against the customer's amounts is above
    # this threshold, so about ``split_rate`` of them do.
    c.split_z = statistics.NormalDist().inv_cdf(1.0 - c.split_rate)
    c.split_fraction = d.uniform(0.3, 0.7)
    c.split_gap = d.uniform(20, 50)  # days between the two instalments
    # Taking early-pay discounts is a treasury policy, so a customer mostly does it always or never.
    if c.discount is None:
        c.discount_taker = 0.0
    elif a == "prompt" or d.chance(0.3):
        c.discount_taker = d.uniform(0.85, 0.97)
    else:
        c.discount_taker = d.uniform(0.0, 0.05)
    # Which invoices a taker pays early: those whose discount is worth the effort, the larger ones
    # (an amount z-score above this threshold), so about ``discount_taker`` of them.
    c.discount_z = (
        statistics.NormalDist().inv_cdf(1.0 - c.discount_taker) if c.discount_taker > 0 else math.inf
    )
    c.unearned_rate = d.uniform(0.05, 0.2)
    c.copy_rate = d.uniform(0.005, 0.04)
    c.overpay_rate = d.uniform(0.002, 0.01)
    c.dup_rate = 0.0015
    c.answer_base = d.uniform(0.2, 0.45)
    c.pref_weekday = d.weighted(((0, 0.15), (1, 0.25), (2, 0.25), (3, 0.25), (4, 0.1)))
    c.pref_hour = d.weighted(
        ((8, 0.08), (9, 0.18), (10, 0.2), (11, 0.14), (13, 0.1), (14, 0.15), (15, 0.1), (16, 0.05))
    )
    c.lean_month = d.randint(1, 12)
    c.season_amp = d.uniform(15, 35) if a == "seasonal" else 0.0
    c.det_start_o = c.det_rate = c.det_end_o = c.default_o = None
    if a == "slow_deteriorating":
        lo, hi = start_o + int(span * 0.2), as_of_o - 120
        c.det_start_o = d.randint(lo, max(lo, hi))
        c.det_rate = d.uniform(3, 9)
        # A slide is a change against the customer's own past: it needs a past (a new account that
        # pays 90 days late from its first invoice is a bad onboarding, not a deterioration).
        c.created_o = min(c.created_o, c.det_start_o - 180)
        # A slide does not go on for ever: after some months the customer settles at its new, worse
        # level (a treasury that now stretches payables by 40-100 days), or fails. Long enough for
        # the slide to add at least 40 days.
        c.det_end_o = c.det_start_o + int(30.4 * max(d.uniform(5, 12), 40 / c.det_rate))
    c.stress_days = 0.0
    if a == "sudden_default":
        lo, hi = start_o + int(span * 0.15), as_of_o - 20
        c.default_o = d.randint(lo, max(lo, hi))
        # "Sudden" to the seller, not in the books: in the months before it fails a company stretches
        # its payables, up to this many days late on what falls due just before the end.
        c.stress_days = d.uniform(25, 50)
        # A customer cannot default before it has been invoiced for a while.
        c.created_o = min(c.created_o, c.default_o - 150)
        c.churn_o = None
    c.rebate_pct = (
        Decimal(d.choice(("1.00", "1.50", "2.00"))) if c.segment == "enterprise" and d.chance(0.3) else None
    )
    c.other_msg_rate = d.uniform(0.01, 0.05)
    # Cash crunches: a month or three in which everything the customer owes slips by weeks. They
    # make recent lateness predictive of the next invoice and fill the 31-120 day aging buckets.
    c.crunch_rate = 0.003 if a == "prompt" else d.uniform(0.005, 0.02)
    c.crunch_until_o = None
    c.crunch_extra = 0.0
    c.run_type = "month_end" if a == "month_end" else d.weighted(_RUNS[c.segment])
    c.run_weekday = d.weighted(((0, 0.15), (1, 0.25), (2, 0.2), (3, 0.3), (4, 0.1)))
    c.bundle_pref = {"enterprise": 0.92, "mid_market": 0.75, "small_business": 0.45}[c.segment]
    chans = _CHANNELS.get(c.country, _EU_CHANNELS)
    if c.segment != "small_business":
        chans = tuple((k, w) for k, w in chans if k != "card")
    c.channel = d.weighted(chans)
    c.remittance = (
        "lockbox_detail" if c.channel == "check" and d.chance(0.8) else d.weighted(_REMITTANCE[c.segment])
    )
    if c.remittance == "edi820" and c.channel in ("check", "card"):
        c.remittance = "email_pdf"
    c.reference_style = d.weighted(
        (
            ("invoices", 0.34),
            ("numbers", 0.14),
            ("partial", 0.12),
            ("typo", 0.05),
            ("po", 0.1 if c.segment != "small_business" else 0.02),
            ("account", 0.07),
            ("none", 0.18),
        )
    )
    c.po_style = (
        d.weighted((("sap", 0.45), ("prefixed", 0.3), ("none", 0.25)))
        if c.segment != "small_business"
        else d.weighted((("prefixed", 0.3), ("none", 0.7)))
    )
    c.check_no = d.randint(1000, 9000)


def _families(seed: int, customers: list[Customer]) -> None:
    """Subsidiaries: about 15% of accounts belong to an enterprise or mid-market parent (one level deep)."""
    g = Draws(global_generator(seed, STREAM_FAMILIES))
    roots: list[Customer] = []
    for c in customers:
        c.children = []
        c.parent = None
        is_child = roots and g.chance(0.15) and c.segment != "enterprise"
        if is_child:
            parent = g.choice(roots)
            c.parent = parent
            parent.children.append(c)
        elif c.segment in ("enterprise", "mid_market"):
            roots.append(c)


def _identity(c: Customer, customers: list[Customer], start_o: int, span: int) -> None:
    d = c.draws
    info = COUNTRIES[c.country]
    if c.parent is not None:
        c.core, c.industry = c.parent.core, c.parent.industry
        c.name = identity.subsidiary_name(d, c.core, c.industry, c.country)
        c.domain = (
            c.parent.domain if d.chance(0.6) else identity.company_domain(d, c.core, c.industry, info.tld)
        )
        # The parent's treasury pays for some subsidiaries, from the parent's account, in the same currency.
        c.paid_by_parent = c.parent.currency == c.currency and d.chance(0.5)
    else:
        c.name, c.core, c.industry = identity.company_name(d, c.country)
        c.domain = identity.company_domain(d, c.core, c.industry, info.tld)
        c.paid_by_parent = False
    c.contact_email, c.contact_name = identity.mailbox_address(d, c.domain, identity.name_locale(c.country))
    c.account, c.bank_id = identity.make_account(d, c.country)
    c.bank_name = identity.bank_style_name(d, c.name)
    c.alt_account = c.alt_bank_id = c.alt_bank_name = c.alt_account_o = None
    if d.chance(0.1):
        c.alt_account, c.alt_bank_id = identity.make_account(d, c.country)
        c.alt_bank_name = identity.bank_style_name(d, c.name)
        c.alt_account_o = start_o + d.randint(span // 4, span)
    c.contact_change_o = c.stale_from_o = c.new_contact_email = c.new_contact_name = None
    if d.chance(0.15):
        c.contact_change_o = start_o + d.randint(30, max(31, span - 5))
        c.stale_from_o = c.contact_change_o - d.randint(5, 30)
        c.new_contact_email, c.new_contact_name = identity.mailbox_address(
            d, c.domain, identity.name_locale(c.country)
        )
        if c.new_contact_email == c.contact_email:
            c.new_contact_email = (
                f"ap.team@{c.domain}"
                if not c.contact_email.startswith("ap.team@")
                else f"payables@{c.domain}"
            )
    monthly = c.invoices_per_month * c.amount_median * math.exp(c.amount_sigma**2 / 2)
    limit = monthly * (c.term_days + 30) / 30 * d.uniform(1.0, 1.8)
    c.credit_limit = max(5000, int(math.ceil(limit / 1000.0)) * 1000) * 100  # cents, whole thousands


def build_collectors(seed: int, customers: list[Customer]) -> list[Collector]:
    """5-10 collectors: strategic accounts, Europe, and the rest of North America, families kept together."""
    g = Draws(global_generator(seed, STREAM_COLLECTORS))
    k = max(5, min(10, 5 + len(customers) // 100))
    collectors = []
    for j in range(k):
        first, last = COLLECTOR_NAMES[j].split()
        collectors.append(
            Collector(
                j,
                f"COL{j + 1:02d}",
                COLLECTOR_NAMES[j],
                f"{first.lower()}.{last.lower()}@{SELLER_DOMAIN}",
                0,
                set(),
            )
        )
    n_strategic = max(1, k // 4)
    n_europe = max(1, k // 4)
    strategic = collectors[:n_strategic]
    europe = collectors[n_strategic : n_strategic + n_europe]
    rest = collectors[n_strategic + n_europe :]
    for c in customers:
        if c.parent is not None:
            c.collector = c.parent.collector
        elif c.segment == "enterprise":
            c.collector = g.choice(strategic)
        elif c.currency != "USD":
            c.collector = g.choice(europe)
        else:
            c.collector = g.choice(rest)
    sizes = {col.index: 0 for col in collectors}
    for c in customers:
        sizes[c.collector.index] += 1
    for col in collectors:
        col.daily_capacity = max(8, min(80, round(sizes[col.index] * g.uniform(0.18, 0.3))))
    return collectors
