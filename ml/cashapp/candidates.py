"""Who paid, and which open items a payment could be paying: the candidate allocations the scorer ranks.

Identification (:func:`identify`) scores payer *families* (a top parent and its subsidiaries) from
every clue a payment carries: its bank account (customer master, accounts seen on confirmed
payments, rules), invoice and customer references in its free text and remittance advice, and its
name (normalized, fuzzy). Up to three families go on to candidate generation.

Candidate generation (:func:`generate`) proposes allocations against the family's open items in the
payment currency, each with a method and the evidence a person reads:

- ``remittance``: the lines of a linked remittance advice (paid, discount, deduction per invoice);
- ``reference``: the invoices named in the free text, paid in full, net of discount, or partially;
- ``exact_amount``: one open item equal to the amount;
- ``discount``: one open item less its early-pay discount (earned within terms + grace, or not);
- ``bank_fee`` / ``fx_difference`` / ``small_difference``: one open item short by a tolerated amount;
- ``subset_sum``: several open items summing to the amount (bounded search, below);
- ``overpayment``: items paid in full plus money left on account (a rounded-up amount, a gross
  invoice paid ignoring its credit memo, a named invoice overpaid);
- ``partial``: one invoice partly paid; ``oldest_first``: the amount spread over the oldest items;
- ``on_account``: nothing applied, all of it unapplied cash on the customer's account;
- ``deduction``: several invoices closed, the payment short of them by a deduction nobody explained
  (within ``matching.deductions``: at least ``min_amount``, at most ``max_share`` of the invoice that
  carries it). Proposed when nothing explains the amount: the payer's oldest open items (with, or
  without, their earned early-pay discounts), and the invoices it named plus others summing to the
  rest. Nothing says which invoice was short-paid, so by rule the deduction goes on the oldest
  invoice of the set (earliest due date) that can carry it (:func:`place_deduction`). Never applied
  automatically (``never_auto_methods``): a person opens the dispute.

The bounded subset search. Only the ``max_items`` open items whose due date is nearest the date this
customer usually pays (payment date minus its habitual days from due) are searched, items larger than
the payment are pruned first, sets have at most ``max_set_size`` items, and a depth-first search over
amounts sorted high to low stops after ``max_nodes`` steps or ``max_solutions`` exact sets. Pruning:
a branch stops when even adding every remaining item cannot reach the target, or the next item
overshoots it. The cost per payment is therefore at most ``max_nodes`` steps whatever the size of the
account; ``bench.py`` measures the time against the number of open items. When nothing explains the
amount after it, every set of the ``WIDE_ITEMS`` items due nearest that date summing to the amount is
found by meet in the middle (:func:`subset_sum_all`, fixed cost whatever the amounts), and the sets
due nearest it are proposed.
"""

from __future__ import annotations

import bisect
import datetime as dt
import heapq
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import combinations
from operator import attrgetter

import numpy as np

from ingestion.normalized import RemittanceLine
from ml.cashapp.book import OpenItem, OpenItemBook
from ml.cashapp.intake import Payment
from ml.cashapp.knowledge import PayerKnowledge
from ml.cashapp.money import pct_of, to_cents
from ml.cashapp.names import normalize_name
from ml.cashapp.references import EXACT, PO, longest_digits, ocr_digits, reachable, resolve_in_family, tokens
from ml.cashapp.rules import Rules

METHODS = (
    "remittance",
    "reference",
    "exact_amount",
    "discount",
    "bank_fee",
    "fx_difference",
    "small_difference",
    "subset_sum",
    "overpayment",
    "partial",
    "oldest_first",
    "on_account",
    "deduction",  # appended: the codes of the methods above are what trained models know them by
)
METHOD_CODE = {m: i for i, m in enumerate(METHODS)}
MAX_FAMILIES = 3
# A payer that pays for many customers (a card processor's settlements, a group's payment factory)
# points at all of them equally: every family tied with the third is kept, up to this many.
MAX_SHARED_FAMILIES = 12
MAX_CANDIDATES = 24
MAX_EXTRA = 8  # candidates of the second look (Generator.expand) per payment
# An instalment payer's mix (Generator._instalment_mixes): the rests of invoices it paid in part
# before, and up to MIX_FRESH_SET invoices of the MIX_FRESH nearest (due when it usually pays) paid
# in part at about its usual share; at most MIX_RESTS rests, MIX_CANDIDATES mixes proposed.
MIX_RESTS = 6
MIX_FRESH = 8
MIX_FRESH_SET = 3
MIX_SHARE_TOLERANCE = 0.12
MIX_CANDIDATES = 4
# Runs with one item held back and closed short, per pool: 1 caught 92.31 / 92.22 % recall@3 (invoices
# and amount) on the bench's seed-42 world / the default world, 3 gave 93.59 / 93.33 %, 6 crowded the
# second look (92.31 / 92.22 %).
HELD_BACK_SHORT = 3
# The oldest items but several held back (Generator._held_back_several): at most HELD_BACK_MAX items
# held among the first HELD_BACK_POOL that may be, HELD_BACK_RUNS runs proposed, none when more than
# HELD_BACK_SOLUTIONS sets fit. Suggested payments missed in the top 3 (`openar bench cashapp`), bench's
# seed-42 world / default world / seeds 1 and 2: 4 / 4 / 31 / 26 without it, 4 / 4 / 27 / 22 with it;
# 0.9 ms a call (2.5 % of the engine's time on the default world).
HELD_BACK_MAX = 6
HELD_BACK_POOL = 24
HELD_BACK_RUNS = 3
HELD_BACK_SOLUTIONS = 24
MAX_WINDOW = 60  # longest run of consecutive items a due-date window may cover
SHORT_WINDOWS = 5  # due-date runs closed short by a deduction, per pool, in the second look
WINDOW_SPAN = 100  # due-ordered items searched for windows on either side of the habitual due date
PARTIAL_ITEMS = 8  # open items proposed for an unexplained partial payment
PAIR_ITEMS = 5  # open items paired as "one in full, part of another"
# The exhaustive search (meet in the middle, :func:`subset_sum_all`) over the open items due nearest
# when the payer usually pays, for a payment nothing else explained: 2 x 2^11 partial sums, 0.2 ms.
# The bounded depth-first search walks amounts high to low and runs out of steps before it reaches
# sets of four to eight mid-sized invoices among fifty open ones. Measured on dev worlds (not the
# bench's default world): seed 44, recall@3 of suggestions 51.6 -> 64.5 % and auto-match 98.39 ->
# 98.66 %; seed 43, 73.2 -> 75.0 % and 98.34 -> 98.30 %. 20, 22 or 24 items, 2 to 4 sets kept:
# within one payment of each other.
WIDE_ITEMS = 22
WIDE_KEEP = 3  # the sets kept, those whose items are due nearest the habitual date first
WIDE_MAX_SOLUTIONS = 400  # more exact sets than this: the amount says nothing; stop collecting

# IBAN country → the currency an account there is held in; for spotting cross-currency senders.
_IBAN_CURRENCY = {
    "DE": "EUR",
    "FR": "EUR",
    "NL": "EUR",
    "ES": "EUR",
    "IT": "EUR",
    "IE": "EUR",
    "BE": "EUR",
    "AT": "EUR",
    "PT": "EUR",
    "FI": "EUR",
    "LU": "EUR",
    "GB": "GBP",
    "CH": "CHF",
}


def account_currency(account: str) -> str | None:
    if len(account) >= 15 and account[:2].isalpha() and account[2:4].isdigit():
        return _IBAN_CURRENCY.get(account[:2])
    if account.isdigit():
        return "USD"  # US/CA domestic account numbers
    return None


@dataclass(slots=True)
class Alloc:
    item: OpenItem
    cash: int
    discount: int = 0
    deduction: int = 0
    reason: str | None = None


_CASH = attrgetter("cash")


@dataclass(slots=True)
class Candidate:
    method: str
    customer_id: str
    family: str
    allocs: list[Alloc]
    unapplied: int
    evidence: list[str] = field(default_factory=list)
    writeoff: int = 0  # a small overpayment written off to income (not unapplied cash)
    prior: float = 0.0
    features: list[float] | None = None
    score: float = 0.0  # calibrated confidence
    # the scorer's raw score: orders candidates the calibration puts on one step of its isotonic map
    raw_score: float = 0.0
    applied: int = field(init=False, default=0)  # cash applied to items (allocations are final once built)
    _key: frozenset | None = field(init=False, default=None, repr=False)

    def __post_init__(self) -> None:
        # map/attrgetter and a list comprehension below: C-level loops, a half million candidates a
        # 100,000-payment replay (measured: the generator expressions were 6 % of the engine's time)
        self.applied = sum(map(_CASH, self.allocs))

    def key(self) -> frozenset:
        if self._key is None:
            self._key = frozenset([(a.item.item_id, a.cash) for a in self.allocs])
        return self._key

    @property
    def group(self) -> str:
        """How the candidate treats the money: ``explained`` (every item closed, nothing left over),
        ``tolerance`` (closed by writing off a tolerated difference) or ``residual`` (part of an item
        stays open, or money is left on account). Each gets its own auto-apply threshold."""
        if self.unapplied or not self.allocs or self.method == "deduction":
            return "residual"  # an unexplained deduction is a residual: nobody agreed to it
        tol = False
        for a in self.allocs:
            if a.cash + a.discount + a.deduction < a.item.open_cents:
                return "residual"
            tol |= a.reason in TOLERANCE_REASONS
        return "tolerance" if tol or self.writeoff else "explained"


@dataclass(slots=True)
class FamilyClue:
    family: str
    customer_id: str  # the family member the clues point at most
    score: float
    acct_master: bool = False
    acct_seen: int = 0
    ref_items: int = 0
    cust_ref: bool = False
    alias: bool = False
    name_score: float = 0.0
    amount_only: bool = False


@dataclass(slots=True)
class Context:
    """Everything the candidates and features of one payment are computed from."""

    payment: Payment
    families: list[FamilyClue]
    hits: dict[str, str]  # item_id -> strongest reference kind in free text / advice
    lines: list[tuple[RemittanceLine, OpenItem | None, str]]  # advice line, item, how resolved
    items: dict[str, list[OpenItem]]  # family -> open items in the payment currency, by due date
    members: dict[str, frozenset[str]] = field(default_factory=dict)  # family -> its customer ids
    candidates: list[Candidate] = field(default_factory=list)
    nodes: int = 0  # subset-search steps spent


def _better(a: str | None, b: str) -> str:
    order = {EXACT: 0, "remittance": 0, PO: 1, "transposed": 2, "typo": 3, "amount": 3, "partial": 4}
    return b if a is None or order.get(b, 9) < order.get(a, 9) else a


# -- identification ------------------------------------------------------------------------------------


def identify(
    p: Payment,
    book: OpenItemBook,
    know: PayerKnowledge,
    *,
    text_hits: dict[str, list] | None = None,
    line_hits: dict[str, list] | None = None,
) -> tuple[list[FamilyClue], dict[str, str]]:
    """Payer families with their clues, best first, and the invoices referenced exactly anywhere.

    ``text_hits`` / ``line_hits``: filled with the exact lookups of the free text's tokens and of the
    advice lines' references, which the fuzzy reading of the same payment asks again."""
    if text_hits is None:
        text_hits = {}
    if line_hits is None:
        line_hits = {}
    clues: dict[str, dict] = {}

    def clue(cid: str) -> dict:
        return clues.setdefault(
            cid, {"master": False, "seen": 0, "refs": 0, "cref": False, "alias": False, "name": 0.0}
        )

    acct = p.account
    if acct:
        cid = know.master_account.get(acct)
        if cid and (acct, cid) not in know.rejected:
            clue(cid)["master"] = True
        for cid, n in (know.seen_account.get(acct) or {}).items():
            if (acct, cid) not in know.rejected:
                clue(cid)["seen"] += n
    hits: dict[str, str] = {}
    refs = book.refs
    for tok in tokens(p.text):
        found = text_hits[tok] = refs.lookup(tok)
        for h in found:
            hits[h.item_id] = _better(hits.get(h.item_id), h.strength)
    for d in p.docs:
        for ln in d.lines:
            ref = ln.invoice_reference
            found = line_hits.get(ref)
            if found is None:
                found = line_hits[ref] = refs.lookup(ref) or refs.lookup(ocr_digits(ref) or "-")
            for h in found:
                hits[h.item_id] = _better(hits.get(h.item_id), "remittance")
    for item_id in hits:
        owner = refs.customer_of.get(item_id)
        if owner:
            clue(owner)["refs"] += 1
    for cid in refs.customers_named(p.text):
        clue(cid)["cref"] = True
    names = [p.name_norm, *p.other_names] + [d.payer_name for d in p.docs if d.payer_name]
    for i, nm in enumerate(names):
        norm = nm if i == 0 else normalize_name(nm)
        if not norm or know.is_intermediary_name(norm):
            continue
        for cid in know.seen_name.get(norm) or ():
            if (acct, cid) not in know.rejected and (norm, cid) not in know.rejected:
                clue(cid)["alias"] = True
        # A known account makes a fuzzy name search pointless; skipping it keeps the common case fast.
        if not any(c["master"] or c["seen"] for c in clues.values()):
            for cid, s in know.names.search(norm, limit=4, cutoff=80):
                c = clue(cid)
                c["name"] = max(c["name"], s)
    fams: dict[str, FamilyClue] = {}
    best_member: dict[str, float] = {}
    for cid, c in clues.items():
        s = _clue_score(c)
        fk = know.family_key(cid)
        f = fams.get(fk)
        if f is None:
            f = fams[fk] = FamilyClue(fk, cid, 0.0)
        f.score += s
        f.acct_master |= c["master"]
        f.acct_seen += c["seen"]
        f.ref_items += c["refs"]
        f.cust_ref = f.cust_ref or c["cref"]
        f.alias |= c["alias"]
        f.name_score = max(f.name_score, c["name"])
        if s > best_member.get(fk, -1.0):
            best_member[fk] = s
            f.customer_id = cid
    ranked = sorted(fams.values(), key=lambda f: (-f.score, f.family))
    n = MAX_FAMILIES
    while n < len(ranked) and n < MAX_SHARED_FAMILIES and ranked[n].score >= ranked[MAX_FAMILIES - 1].score:
        n += 1
    return ranked[:n], hits


def _clue_score(c: dict) -> float:
    """How strongly the clues point at one customer. An account from the master or seen on confirmed
    payments is the strongest single clue, invoice references and a named customer account next, a
    name used before and a similar name last (weighted by how similar: 78/100 counts for nothing)."""
    return (
        4.0 * c["master"]
        + min(4.0, 2.0 + c["seen"]) * (c["seen"] > 0)
        + min(3.0, 1.5 * c["refs"])
        + 2.5 * c["cref"]
        + 2.0 * c["alias"]
        + max(0.0, (c["name"] - 78) / 22 * 2.5)
    )


# -- subset search --------------------------------------------------------------------------------------


def subset_sum(values: list[int], lo: int, hi: int, max_size: int, max_nodes: int, max_solutions: int):
    """Index sets (size 2..max_size) of ``values`` whose sum lies in [lo, hi]; and the steps spent.

    Values are positive. Depth-first over values sorted high to low, with suffix sums for pruning.
    """
    order = sorted(range(len(values)), key=lambda i: -values[i])
    vals = [values[i] for i in order]
    n = len(vals)
    suffix = [0] * (n + 1)
    for i in range(n - 1, -1, -1):
        suffix[i] = suffix[i + 1] + vals[i]
    out: list[tuple[int, ...]] = []
    nodes = 0
    stack: list[tuple[int, int, tuple[int, ...]]] = [(0, 0, ())]
    while stack:
        start, s, chosen = stack.pop()
        if s + suffix[start] < lo:
            continue
        size = len(chosen) + 1  # of the sets tried below
        for i in range(n - 1, start - 1, -1):  # pushed in reverse so larger values are tried first
            nodes += 1
            if nodes > max_nodes:
                return out, nodes
            t = s + vals[i]
            if t > hi:
                # Values only grow from here on (sorted high to low, walked backwards): every item
                # left overshoots too. Their steps are counted as if tried one by one, so the bound
                # cuts the search exactly where it always did; measured: a third of the search's time.
                rest = i - start
                if nodes + rest > max_nodes:
                    return out, max_nodes + 1
                nodes += rest
                break
            c = chosen + (i,)
            if t >= lo and size >= 2:
                out.append(tuple(sorted(order[j] for j in c)))
                if len(out) >= max_solutions:
                    return out, nodes
            if size < max_size and i + 1 < n and t + suffix[i + 1] >= lo:
                stack.append((i + 1, t, c))
    return out, nodes


def subset_sum_all(values: list[int], target: int, max_solutions: int) -> list[tuple[int, ...]]:
    """Every index set (size 2 or more) of ``values`` summing to ``target`` exactly, by meet in the
    middle: all 2^(n/2) sums of each half (numpy; the position of a sum in its array is the bit mask
    of the items in it), the second half sorted, one search for ``target`` less each sum of the first.
    At most ``max_solutions``, in the order of the first half's masks."""
    n = len(values)
    h = n // 2
    a = np.zeros(1, dtype=np.int64)
    for v in values[:h]:
        a = np.concatenate((a, a + v))
    b = np.zeros(1, dtype=np.int64)
    for v in values[h:]:
        b = np.concatenate((b, b + v))
    order = np.argsort(b, kind="stable")
    bs = b[order]
    want = target - a
    lo = np.searchsorted(bs, want, side="left")
    hi = np.searchsorted(bs, want, side="right")
    out: list[tuple[int, ...]] = []
    for ma in np.flatnonzero(hi > lo).tolist():
        for k in range(int(lo[ma]), int(hi[ma])):
            m = ma | int(order[k]) << h
            if m & (m - 1) == 0:
                continue  # a single item (or none): not a set
            out.append(tuple(i for i in range(n) if m >> i & 1))
            if len(out) >= max_solutions:
                return out
    return out


# -- generation -----------------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _triples(n: int) -> np.ndarray:
    return np.array(list(combinations(range(n), 3)), dtype=np.int64)


def _small_sets(values: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every set of one to three of ``values``: (sums, bit masks over ``values``' indices, the largest
    of ``positions`` in the set). At most 63 values (the masks are int64)."""
    n = len(values)
    idx = np.arange(n)
    one = (values, np.left_shift(np.int64(1), idx), positions)
    a, b = np.triu_indices(n, 1)
    two = (
        values[a] + values[b],
        (np.int64(1) << a) | (np.int64(1) << b),
        np.maximum(positions[a], positions[b]),
    )
    if n >= 3:
        t = _triples(n)
        three = (
            values[t].sum(axis=1),
            np.bitwise_or.reduce(np.int64(1) << t, axis=1),
            positions[t].max(axis=1),
        )
    else:
        three = (np.zeros(0, np.int64),) * 3
    return tuple(np.concatenate(parts) for parts in zip(one, two, three, strict=True))


def _discount(item: OpenItem, day: int, rules: Rules) -> tuple[int, bool] | None:
    """(discount cents, earned?) if the item has early-pay terms."""
    if not item.discount_pct:
        return None
    d = pct_of(item.open_cents, item.discount_pct)
    if d <= 0:
        return None
    earned = item.discount_due is not None and day <= item.discount_due + rules.discount_grace_days
    return d, earned


def _tolerance(
    p: Payment, item_total: int, short: int, customer_id: str, rules: Rules, learned_fee: int = 0
) -> str | None:
    """Which tolerance, if any, explains a payment ``short`` cents below ``item_total``.

    ``learned_fee``: the largest bank fee people confirmed this customer deducting (see
    ``PayerKnowledge.learned_bank_fee``): such a customer is treated as paying net of bank fees up to
    that amount, as if ``net_of_bank_fees`` were set for it in the rules."""
    if short <= 0:
        return None
    if (
        short <= rules.underpay_writeoff_limit(p.currency)
        and short <= item_total * rules.underpay_writeoff_share
    ):
        return "small_difference"
    rule = rules.customer(customer_id)
    if short <= rules.bank_fee_limit(p.currency, customer_id) and (
        short <= item_total * rules.bank_fee_max_share or rule.net_of_bank_fees
    ):
        return "bank_fee"
    if learned_fee and short <= learned_fee and short < item_total:
        return "bank_fee"
    acur = account_currency(p.account)
    if acur and acur != p.currency and short <= item_total * rules.fx_tolerance_share:
        return "fx_difference"
    return None


_REASON = {"small_difference": "SMALL_DIFFERENCE", "bank_fee": "BANK_FEE", "fx_difference": "FX_DIFFERENCE"}
TOLERANCE_REASONS = frozenset(_REASON.values())
UNEXPLAINED = "UNEXPLAINED_SHORT_PAY"


def place_deduction(allocs: list[Alloc], short: int, currency: str, rules: Rules) -> Alloc | None:
    """Put an unexplained shortfall of ``short`` cents on one of ``allocs`` (each closing its item in
    full: cash + discount = open), by the documented rule: the oldest item (earliest due date, then
    document date, then id) on which the deduction is within ``matching.deductions`` (at least
    ``min_amount``, at most ``max_share`` of the item's open amount, some cash left on it). Returns
    the allocation that carries it (changed in place), or None when no item can carry it (the
    allocations are then left as they were)."""
    if short < rules.deduction_min(currency):
        return None
    share = rules.deduction_max_share
    for a in sorted(allocs, key=lambda a: (a.item.due_date, a.item.document_date, a.item.item_id)):
        if short <= a.item.open_cents * share and a.cash - short > 0:
            a.cash -= short
            a.deduction += short
            a.reason = UNEXPLAINED
            return a
    return None


class Generator:
    def __init__(self, book: OpenItemBook, know: PayerKnowledge, rules: Rules):
        self.book, self.know, self.rules = book, know, rules
        self._family_cache: dict[tuple[str, str], tuple[tuple, list[OpenItem]]] = {}

    def context(self, p: Payment) -> Context:
        text_hits: dict[str, list] = {}
        line_hits: dict[str, list] = {}
        fams, hits = identify(p, self.book, self.know, text_hits=text_hits, line_hits=line_hits)
        items: dict[str, list[OpenItem]] = {}
        for f in fams:
            items[f.family] = self._family_items(f.customer_id, p.currency)
        if not fams:
            # Nobody identified: an amount that equals very few open items anywhere still suggests who.
            pool = self.book.global_amount(p.currency, p.amount)
            if 0 < len(pool) <= 3:
                for it in pool:
                    fk = self.know.family_key(it.customer_id)
                    if fk not in items:
                        fams.append(FamilyClue(fk, it.customer_id, 0.5, amount_only=True))
                        items[fk] = self._family_items(it.customer_id, p.currency)
        members = {f.family: frozenset(self.know.family_of(f.customer_id)) for f in fams}
        ctx = Context(p, fams, hits, [], items, members)
        self._resolve_fuzzy(ctx, text_hits, line_hits)
        return ctx

    def family_hits(self, ctx: Context, family: str) -> list[OpenItem]:
        """The referenced items that are open in this family and currency, by due date (from the
        references, never a scan of the family's items: an account may have thousands)."""
        members = ctx.members.get(family, frozenset())
        cur = ctx.payment.currency
        out = []
        for item_id in ctx.hits:
            it = self.book.items.get(item_id)
            if it is not None and it.open_cents > 0 and it.currency == cur and it.customer_id in members:
                out.append(it)
        out.sort(key=lambda it: (it.due_date, it.document_date, it.item_id))
        return out

    def _family_items(self, customer_id: str, currency: str) -> list[OpenItem]:
        members = self.know.family_of(customer_id)
        if len(members) == 1:
            return self.book.sorted_open(members[0], currency)
        parts = tuple(self.book.sorted_open(cid, currency) for cid in members)
        # The book hands out the same list object until one of its items changes, so a family's merged
        # list stays valid while every member's list is the very object it was built from (kept
        # referenced here, so an identity can never be reused).
        key = (customer_id, currency)
        hit = self._family_cache.get(key)
        if (
            hit is not None
            and len(hit[0]) == len(parts)
            and all(a is b for a, b in zip(hit[0], parts, strict=True))
        ):
            return hit[1]
        out = [it for part in parts for it in part]
        out.sort(key=lambda it: (it.due_date, it.document_date, it.item_id))
        self._family_cache[key] = (parts, out)
        return out

    def _resolve_fuzzy(
        self, ctx: Context, text_hits: dict[str, list] | None = None, line_hits: dict[str, list] | None = None
    ) -> None:
        """Partial/typo references in free text, and advice lines, against each family's open items.

        A token that exactly names an invoice which is *not* open in the payer's family (a closed
        one, or another customer's) is most likely a typo of one that is, so it is tried fuzzily
        too; an open item found that way wins over the exact but closed one."""
        p = ctx.payment
        refs = self.book.refs
        all_members = frozenset().union(*ctx.members.values()) if ctx.members else frozenset()
        book_items = self.book.items

        def is_open(item_id: str) -> bool:
            it = book_items.get(item_id)
            return (
                it is not None
                and it.open_cents > 0
                and it.currency == p.currency
                and it.customer_id in all_members
            )

        # the lookups identify made already (the book has not changed since): asked once per payment
        text_hits = {} if text_hits is None else text_hits
        loose = []
        for t in tokens(p.text):
            found = text_hits.get(t)
            if found is None:
                found = refs.lookup(t)
            if not any(is_open(h.item_id) for h in found):
                d = "".join(ch for ch in t if ch.isdigit())
                if d:
                    loose.append(d)
        if loose:
            # only tokens that can match one of the families' items (see references.reachable)
            longest = 0
            for its in ctx.items.values():
                n = longest_digits(its) if its else 0
                if n is None:
                    longest = None
                    break
                longest = max(longest, n)
            loose = reachable(loose, longest)
        if not loose and not p.docs:
            return  # nothing to read fuzzily: skip gathering the family's items (most payments)
        fam_items = [it for its in ctx.items.values() for it in its]
        if loose and fam_items:
            named_open = {i for i in ctx.hits if is_open(i)}
            for h in resolve_in_family(loose, fam_items, exclude=named_open):
                ctx.hits[h.item_id] = _better(ctx.hits.get(h.item_id), h.strength)
        if not p.docs:
            return
        self._resolve_lines(ctx, fam_items, is_open, line_hits)

    def _resolve_lines(
        self, ctx: Context, fam_items: list[OpenItem], is_open, line_hits: dict[str, list] | None = None
    ) -> None:
        """Advice lines → open items, in two passes.

        First every line's reference is read exactly. Then the doubtful lines are read again: those
        naming nothing open, those whose item's amount does not fit the line, and those naming an item
        another line names too. In a sequential invoice series a swapped pair of digits names another
        real invoice, so a swap naming an item whose open amount is exactly what the line pays, and
        that no other line took, is the better reading. A line without a paid amount is judged by what
        the bank amount leaves for it when it is the only one."""
        p = ctx.payment
        refs = self.book.refs
        items = self.book.items
        lines = [ln for d in p.docs for ln in d.lines]
        missing = [ln for ln in lines if ln.paid_amount is None]
        left_for_missing = None
        if len(missing) == 1:
            left_for_missing = p.amount - sum(
                to_cents(ln.paid_amount) for ln in lines if ln.paid_amount is not None
            )
        reading = []  # [line, exact hits, item, how, amounts that fit]
        claims: dict[str, int] = {}
        for ln in lines:
            ref = ln.invoice_reference
            exact = line_hits.get(ref) if line_hits else None
            if exact is None:
                exact = refs.lookup(ref) or refs.lookup(ocr_digits(ref) or "-")
            fits: tuple[int, ...] = ()
            if ln.paid_amount is not None:
                paid = to_cents(ln.paid_amount)
                fits = (paid + to_cents(ln.discount_amount or 0) + to_cents(ln.deduction_amount or 0), paid)
            elif left_for_missing is not None and left_for_missing > 0:
                fits = (left_for_missing,)
            item = next((items[h.item_id] for h in exact if is_open(h.item_id)), None)
            if item is not None:
                claims[item.item_id] = claims.get(item.item_id, 0) + 1
            reading.append([ln, exact, item, "remittance" if item is not None else "unresolved", fits])
        by_amount: dict[int, list[OpenItem]] | None = None
        taken = {r[2].item_id for r in reading if r[2] is not None and (not r[4] or r[2].open_cents in r[4])}
        for r in reading:
            ln, exact, item, how, fits = r
            shared = item is not None and claims.get(item.item_id, 0) > 1
            doubtful = item is None or (fits and item.open_cents not in fits) or (shared and not fits)
            if not doubtful:
                continue
            near = resolve_in_family(
                [ocr_digits(ln.invoice_reference)],
                fam_items,
                exclude={item.item_id} if item is not None else set(),
            )
            if fits:
                better = [h for h in near if items[h.item_id].open_cents in fits and h.item_id not in taken]
            else:  # nothing to weigh but which items other lines took: only a swap is trusted then
                better = (
                    [h for h in near if h.strength == "transposed" and h.item_id not in taken]
                    if shared
                    else []
                )
            swaps = [h for h in better if h.strength == "transposed"] or better
            if len({h.item_id for h in swaps}) == 1:
                item, how = items[swaps[0].item_id], swaps[0].strength
            elif item is None:
                if len({h.item_id for h in near}) == 1:
                    item, how = items[near[0].item_id], near[0].strength
                elif fits:
                    # An unreadable reference with an amount: the one open item of that amount, if only one.
                    if by_amount is None:
                        by_amount = {}
                        for it in fam_items:
                            by_amount.setdefault(it.open_cents, []).append(it)
                    same = [it for f in fits for it in by_amount.get(f, ()) if it.item_id not in taken]
                    if len({it.item_id for it in same}) == 1:
                        item, how = same[0], "amount"
                if item is None and exact:
                    item, how = items.get(exact[0].item_id), "remittance"  # closed: evidence only
            if item is not None:
                taken.add(item.item_id)
            r[2], r[3] = item, how
        for ln, _exact, item, how, _fits in reading:
            if item is not None:
                ctx.hits[item.item_id] = _better(ctx.hits.get(item.item_id), how)
            ctx.lines.append((ln, item, how))

    # -- the generators --------------------------------------------------------------------------------

    def generate(self, ctx: Context) -> list[Candidate]:
        p, rules = ctx.payment, self.rules
        seen: dict[frozenset, Candidate] = {}
        out: list[Candidate] = []

        def add(c: Candidate) -> None:
            _check_adds_up(c, p.amount)
            k = c.key()
            old = seen.get(k)
            if old is not None:
                old.evidence.extend(e for e in c.evidence if e not in old.evidence)
                return
            seen[k] = c
            out.append(c)

        for f in ctx.families:
            items = ctx.items.get(f.family, [])
            fam = f.family
            cust = f.customer_id
            named = self.family_hits(ctx, fam) if ctx.hits else []
            strong = [it for it in named if ctx.hits[it.item_id] in (EXACT, PO, "remittance")]
            remit = [
                (ln, it, how)
                for ln, it, how in ctx.lines
                if it is not None and it.open_cents > 0 and it.currency == p.currency
            ]
            if remit:
                self._from_remittance(ctx, f, remit, add)
            # an advice that explains the amount exactly makes the looser readings of the names pointless
            loose = not any(c.unapplied == 0 and c.method == "remittance" for c in out)
            for group, label in ((strong, "named"), (named, "named (partial/typo)")):
                if group and (label == "named" or len(named) != len(strong)):
                    self._from_named(ctx, f, group, label, add, loose)
            exact_found = any(c.unapplied == 0 and c.method in ("remittance", "reference") for c in out)
            # one open item
            for cid in self.know.family_of(cust):
                for it in self.book.with_open_amount(cid, p.currency, p.amount):
                    add(
                        Candidate(
                            "exact_amount",
                            it.customer_id,
                            fam,
                            [Alloc(it, p.amount)],
                            0,
                            [f"{it.item_id} open {_m(it.open_cents)} equals the amount"],
                        )
                    )
            # Single-item explanations other than an equal amount: discount, tolerated shortfall, the gross
            # amount of a credited invoice. Not needed when the advice or the reference already explain
            # the amount exactly (the scan over every open item is most of the cost of such payments).
            for it in () if exact_found else items:
                disc = _discount(it, p.date, rules)
                if disc and abs(it.open_cents - disc[0] - p.amount) <= 1:
                    d = it.open_cents - p.amount
                    ev = f"{it.item_id} {_m(it.open_cents)} less {it.discount_pct.normalize()}% discount {_m(d)}"
                    ev += " (earned)" if disc[1] else " (taken after the discount date: unearned)"
                    add(
                        Candidate("discount", it.customer_id, fam, [Alloc(it, p.amount, discount=d)], 0, [ev])
                    )
                short = it.open_cents - p.amount
                if short > 0:
                    tol = _tolerance(
                        p,
                        it.open_cents,
                        short,
                        it.customer_id,
                        rules,
                        self.know.learned_bank_fee(it.customer_id),
                    )
                    if tol:
                        add(
                            Candidate(
                                tol,
                                it.customer_id,
                                fam,
                                [Alloc(it, p.amount, deduction=short, reason=_REASON[tol])],
                                0,
                                [
                                    f"{it.item_id} {_m(it.open_cents)} short by {_m(short)}: {tol.replace('_', ' ')}"
                                ],
                            )
                        )
                if it.original_cents == p.amount and it.open_cents < p.amount:
                    add(
                        Candidate(
                            "overpayment",
                            it.customer_id,
                            fam,
                            [Alloc(it, it.open_cents)],
                            p.amount - it.open_cents,
                            [
                                f"{it.item_id} paid at its original {_m(it.original_cents)}; "
                                f"{_m(p.amount - it.open_cents)} more than open (credit not taken)"
                            ],
                        )
                    )
            if not exact_found:
                self._subsets(ctx, f, items, add)
            # When something already explains the amount exactly, the searches for looser
            # explanations only add candidates the scorer will rank far below it: skip them.
            explained = any(c.group == "explained" for c in out)
            if not explained:
                self._windows(ctx, f, items, add)
                self._oldest_runs(ctx, f, items, add, short=False)
                if not exact_found and not any(c.group == "explained" for c in out):
                    self._subsets_wide(ctx, f, items, add)
            self._partials(ctx, f, items, add, cheap=explained)
            add(
                Candidate(
                    "on_account",
                    cust,
                    fam,
                    [],
                    p.amount,
                    [f"nothing applied: {_m(p.amount)} on account of {cust}"],
                )
            )
        for c in out:
            c.prior = _prior(c, ctx)
        ctx.candidates = by_prior_across_families(out)[:MAX_CANDIDATES]
        return ctx.candidates

    def expand(self, ctx: Context) -> list[Candidate]:
        """A second look at a payment the first candidates did not settle (the engine calls it for
        suggested payments only, after the decisions, so it never changes what is applied
        automatically): the allocations a specialist proposes when nothing explains the amount, each
        closing its invoices short by an unexplained deduction (method ``deduction``, within
        ``matching.deductions``, on the invoice :func:`place_deduction` picks):

        - the payer's oldest open items, "everything due up to ...", short by the deduction (gross,
          and net of the early-pay discounts still earned);
        - a later run of consecutive items in due-date order (the oldest skipped, perhaps disputed),
          the shortest from each item that passes the amount, short by the deduction;
        - the invoices it named plus others it did not name, short by the deduction;
        - the invoices it named, the discounts still earned taken, one of them short;
        - the oldest items but one held back, short by the deduction (``_held_back_short``);
        - the oldest items but several held back, in full (``_held_back_several``);
        - an instalment payer's mix of rests and first instalments (``_instalment_mixes``), and its
          named or oldest invoices in full but one first instalment (``_run_with_one_instalment``).

        Returns the new candidates (not among ``ctx.candidates`` already), best prior first."""
        p = ctx.payment
        seen = {c.key() for c in ctx.candidates}
        out: list[Candidate] = []

        def add(c: Candidate) -> None:
            _check_adds_up(c, p.amount)
            k = c.key()
            if k not in seen:
                seen.add(k)
                out.append(c)

        for f in ctx.families:
            if f.amount_only:
                continue
            if any(c.family == f.family and c.group == "explained" for c in ctx.candidates):
                continue
            named = self.family_hits(ctx, f.family) if ctx.hits else []
            strong = [it for it in named if ctx.hits[it.item_id] in (EXACT, PO, "remittance")]
            for group, label in ((strong, "named"), (named, "named (partial/typo)")):
                if not group or (label != "named" and len(named) == len(strong)):
                    continue
                ids = ", ".join(it.item_id for it in group[:6]) + (" …" if len(group) > 6 else "")
                ev = [f"reference names {ids} ({label})"]
                total = sum(it.open_cents for it in group)
                if total < p.amount:
                    self._named_plus(ctx, f, group, p.amount - total, ev, add, short=True)
                elif total > p.amount and 1 < len(group) <= 8:
                    self._named_short_earned(ctx, f, group, ev, add)
            # after the run's decisions: items other payments of the run took are no longer open
            items = [it for it in ctx.items.get(f.family, []) if it.open_cents > 0]
            self._oldest_runs(ctx, f, items, add, short=True)
            self._windows(ctx, f, items, add, short=True)
            self._instalment_mixes(ctx, f, items, add)
            self._run_with_one_instalment(ctx, f, items, add)
        for c in out:
            c.prior = _prior(c, ctx)
        out.sort(key=lambda c: -c.prior)
        return out[:MAX_EXTRA]

    def _instalment_mixes(self, ctx: Context, f: FamilyClue, items: list[OpenItem], add) -> None:
        """An instalment payer's payment run: the rests of invoices it paid in part before, whole, and
        a first instalment of a few others at about the share it usually pays (``Habits``' split
        share), the cash over them in proportion to their balances (the set is what a person checks;
        the split among them comes from the customer's claim). Every invoice the payment names is in
        the mix; the fewest invoices are proposed first, then the share nearest the usual one (the
        shares of one run scatter around it, and with more invoices some set comes near it by chance)."""
        h = self.know.habit(f.customer_id)
        if h.splits < 2:
            return
        usual = h.split_share_sum / h.splits
        p = ctx.payment
        rests = [it for it in items if it.open_cents < it.original_cents][:MIX_RESTS]
        fresh = self._nearest(
            [it for it in items if it.open_cents == it.original_cents], p, f.customer_id, MIX_FRESH
        )
        named = {it.item_id for it in self.family_hits(ctx, f.family)} if ctx.hits else set()
        found = []
        for r in range(len(rests), -1, -1):
            for closed in combinations(rests, r):
                left = p.amount - sum(it.open_cents for it in closed)
                if left <= 0:
                    continue
                for k in range(1, MIX_FRESH_SET + 1):
                    for part in combinations(fresh, k):
                        total = sum(it.open_cents for it in part)
                        gap = abs(left / total - usual)
                        if gap <= MIX_SHARE_TOLERANCE and left < total:
                            ids = {it.item_id for it in closed + part}
                            if named <= ids:
                                found.append((round(gap, 2), k + r, closed, part, left, total))
        for _gap, _n, closed, part, left, total in heapq.nsmallest(
            MIX_CANDIDATES, found, key=lambda x: (x[1], x[0]) + (tuple(it.item_id for it in x[2] + x[3]),)
        ):
            allocs = [Alloc(it, it.open_cents) for it in closed]
            given = 0
            for i, it in enumerate(part):
                cash = left - given if i == len(part) - 1 else left * it.open_cents // total
                given += cash
                allocs.append(Alloc(it, cash))
            rest_ids = ", ".join(it.item_id for it in closed)
            add(
                _in_part(
                    f,
                    allocs,
                    (f"the rests of {rest_ids} whole, " if closed else "")
                    + f"{left / total:.0%} of {', '.join(it.item_id for it in part)} "
                    + f"(usually pays {usual:.0%} of an invoice paid in part)",
                )
            )

    def _run_with_one_instalment(self, ctx: Context, f: FamilyClue, items: list[OpenItem], add) -> None:
        """An instalment payer's statement run: the invoices the payment names (alone, or with rests of
        invoices it paid in part before, whole: at most ``MIX_RESTS`` of them, 63 sets), or its oldest
        open items ("everything due up to ..."), in full but one never paid before, of which it pays
        about its usual share (``Habits``' split share) as a first instalment. Runs of at most
        ``MAX_WINDOW`` items, each item of a run tried as the one in part (at most 60 × 60 checks);
        the ``MIX_CANDIDATES`` nearest the usual share are proposed."""
        h = self.know.habit(f.customer_id)
        if h.splits < 1:
            return
        usual = h.split_share_sum / h.splits
        p = ctx.payment
        named = self.family_hits(ctx, f.family) if ctx.hits else []
        named_ids = {it.item_id for it in named}
        found = []

        def look(run: list[OpenItem], label: str) -> None:
            excess = sum(it.open_cents for it in run) - p.amount
            if len(run) < 2 or excess <= 0:
                return
            for i, it in enumerate(run):
                if it.open_cents == it.original_cents and it.open_cents > excess:
                    gap = abs((it.open_cents - excess) / it.open_cents - usual)
                    if gap <= MIX_SHARE_TOLERANCE:
                        found.append((round(gap, 2), len(found), run, i, excess, label))

        if len(named) > 1:
            look(named, f"the {len(named)} invoices it names")
            # ... and with the rests of invoices it paid in part before, whole, beside them
            named_total = sum(it.open_cents for it in named)
            rests = [it for it in items if it.open_cents < it.original_cents and it.item_id not in named_ids]
            for r in range(1, min(len(rests), MIX_RESTS) + 1):
                for closed in combinations(rests[:MIX_RESTS], r):
                    if named_total + sum(it.open_cents for it in closed) > p.amount:
                        ids = ", ".join(it.item_id for it in closed)
                        look(list(closed) + named, f"the invoices it names and the rests of {ids}")
        pool = items[:MAX_WINDOW]
        for j in range(1, len(pool)):
            ctx.nodes += 1
            run = pool[: j + 1]
            if named_ids <= {it.item_id for it in run}:
                look(
                    run,
                    f"all {len(run)} oldest open items due {_d(run[0].due_date)} to {_d(run[-1].due_date)}",
                )
        for _gap, _k, run, i, excess, label in heapq.nsmallest(MIX_CANDIDATES, found, key=lambda x: x[:2]):
            cash = run[i].open_cents - excess
            allocs = [Alloc(it, cash if k == i else it.open_cents) for k, it in enumerate(run)]
            add(
                _in_part(
                    f,
                    allocs,
                    f"{label}, {cash / run[i].open_cents:.0%} of {run[i].item_id} "
                    f"(usually pays {usual:.0%} of an invoice paid in part)",
                )
            )

    def _named_short_earned(
        self, ctx: Context, f: FamilyClue, group: list[OpenItem], ev: list[str], add
    ) -> None:
        """The named invoices, the early-pay discounts still earned taken (a payer that takes its
        discount on this week's invoices pays older ones in full), one of them short by an
        unexplained deduction within the rules."""
        p, rules = ctx.payment, self.rules
        base = []
        for it in group:
            d = _discount(it, p.date, rules)
            base.append((it, d[0] if d and d[1] else 0))
        short = sum(x.open_cents - dc for x, dc in base) - p.amount
        if short < rules.deduction_min(p.currency):
            return
        for k, (it, dk) in enumerate(base):
            if short <= it.open_cents * rules.deduction_max_share and it.open_cents - dk - short > 0:
                allocs = [Alloc(x, x.open_cents - dc, discount=dc) for x, dc in base]
                allocs[k].cash -= short
                allocs[k].deduction = short
                allocs[k].reason = UNEXPLAINED
                earned = " net of the early-pay discounts still earned" if any(dc for _, dc in base) else ""
                add(
                    Candidate(
                        "deduction",
                        it.customer_id,
                        f.family,
                        allocs,
                        0,
                        ev
                        + [
                            f"{it.item_id} short by {_m(short)} (unexplained deduction), the others in full{earned}"
                        ],
                    )
                )

    def _finish(
        self, p: Payment, allocs: list[Alloc], method: str, f: FamilyClue, ev: list[str], add
    ) -> None:
        """Close a set of allocations: tolerance, small overpayment write-off or unapplied remainder."""
        applied = sum(a.cash for a in allocs)
        rest = p.amount - applied
        if rest < 0:
            return
        wo = 0
        if 0 < rest <= self.rules.overpay_writeoff_limit(p.currency):
            wo, rest = rest, 0
            ev = ev + [f"{_m(wo)} over: written off (small difference)"]
        elif rest > 0:
            ev = ev + [f"{_m(rest)} left unapplied on account"]
        owner = allocs[0].item.customer_id if allocs else f.customer_id
        add(Candidate(method, owner, f.family, allocs, rest, ev, wo))

    def _from_remittance(self, ctx: Context, f: FamilyClue, remit, add) -> None:
        p = ctx.payment
        allocs: dict[str, Alloc] = {}
        ev = []
        missing = [ln for ln, _, _ in remit if ln.paid_amount is None]
        inferred = None
        if len(missing) == 1:
            # One line without a paid amount: the bank amount less the other lines says what it was.
            inferred = p.amount - sum(
                to_cents(ln.paid_amount) for ln, _, _ in remit if ln.paid_amount is not None
            )
        for ln, it, how in remit:
            disc = to_cents(ln.discount_amount) if ln.discount_amount is not None else 0
            ded = to_cents(ln.deduction_amount) if ln.deduction_amount is not None else 0
            if ln.paid_amount is not None:
                cash = to_cents(ln.paid_amount)
            elif inferred is not None and 0 < inferred <= it.open_cents:
                cash = inferred
                rest = it.open_cents - cash - ded
                dd = _discount(it, p.date, self.rules)
                if not disc and dd and abs(rest - dd[0]) <= 1:
                    disc = rest
                ev.append(f"paid amount of {it.item_id} not on the advice: {_m(cash)} from the bank amount")
            else:
                cash = it.open_cents - disc - ded
            a = allocs.get(it.item_id)
            if a is None:
                a = allocs[it.item_id] = Alloc(it, 0)
            a.cash += cash
            a.discount += disc
            a.deduction += ded
            if ded and ln.deduction_reason:
                a.reason = ln.deduction_reason.upper()
            ev.append(f"advice line {ln.invoice_reference!r} → {it.item_id} ({how})")
        good = []
        for a in allocs.values():
            room = a.item.open_cents
            if a.cash > room:
                a.cash, a.discount, a.deduction = room, 0, 0  # advice says more than is open: open is the cap
            a.discount = max(0, min(a.discount, room - a.cash))
            a.deduction = max(0, min(a.deduction, room - a.cash - a.discount))
            if a.deduction and not a.reason:
                a.reason = "SHORT_PAY"
            if a.cash > 0:
                good.append(a)
        if not good:
            return
        unresolved = sum(1 for _, _, how in ctx.lines if how == "unresolved")
        if unresolved:
            ev.append(f"{unresolved} advice line(s) not matched to an open item")
        total = sum(a.cash for a in good)
        if total > p.amount:
            over = total - p.amount
            tol = _tolerance(
                p, total, over, f.customer_id, self.rules, self.know.learned_bank_fee(f.customer_id)
            )
            if tol:
                big = max(good, key=lambda a: a.cash)
                big.cash -= over
                big.deduction += over
                big.reason = _REASON[tol]
                ev.append(f"bank amount {_m(over)} below the advice: {tol.replace('_', ' ')}")
            else:
                # Less money than advised: apply in the advice's order until the money runs out.
                left, cut = p.amount, []
                for a in good:
                    c = min(a.cash, left)
                    if c <= 0:
                        break
                    cut.append(
                        Alloc(
                            a.item,
                            c,
                            a.discount if c == a.cash else 0,
                            a.deduction if c == a.cash else 0,
                            a.reason,
                        )
                    )
                    left -= c
                good = cut
                ev.append(f"bank amount {_m(over)} below the advice: applied in the advice's order")
        elif total < p.amount:
            # More money than the advice accounts for: a line the payer left out is often an open
            # item worth exactly the rest.
            rest = p.amount - total
            used = {a.item.item_id for a in good}
            pool = [
                it for it in ctx.items.get(f.family, []) if it.item_id not in used and it.open_cents <= rest
            ]
            sols = [(i,) for i, it in enumerate(pool) if it.open_cents == rest][:3]
            if len(pool) >= 2:
                more, n = subset_sum(
                    [it.open_cents for it in self._nearest(pool, p, f.customer_id)], rest, rest, 3, 2000, 3
                )
                ctx.nodes += n
                near = self._nearest(pool, p, f.customer_id)
                sols += [tuple(pool.index(near[i]) for i in s) for s in more]
            for s in sols:
                extra = [Alloc(pool[i], pool[i].open_cents) for i in s]
                add(
                    Candidate(
                        "remittance",
                        good[0].item.customer_id,
                        f.family,
                        [*good, *extra],
                        0,
                        ev
                        + [
                            "plus open item(s) the advice left out, worth exactly the rest: "
                            + ", ".join(pool[i].item_id for i in s)
                        ],
                    )
                )
        self._finish(p, good, "remittance", f, ev, add)

    def _from_named(
        self, ctx: Context, f: FamilyClue, group: list[OpenItem], label: str, add, loose: bool = True
    ) -> None:
        p, rules = ctx.payment, self.rules
        total = sum(it.open_cents for it in group)
        ids = ", ".join(it.item_id for it in group[:6]) + (" …" if len(group) > 6 else "")
        ev = [f"reference names {ids} ({label})"]
        if total == p.amount:
            add(
                Candidate(
                    "reference",
                    group[0].customer_id,
                    f.family,
                    [Alloc(it, it.open_cents) for it in group],
                    0,
                    ev,
                )
            )
            return
        discs = [_discount(it, p.date, rules) for it in group]
        if any(discs):
            allocs = [
                Alloc(it, it.open_cents - (d[0] if d else 0), discount=d[0] if d else 0)
                for it, d in zip(group, discs, strict=True)
            ]
            if abs(sum(a.cash for a in allocs) - p.amount) <= len(allocs):
                allocs[-1].cash += p.amount - sum(a.cash for a in allocs)
                allocs[-1].discount = allocs[-1].item.open_cents - allocs[-1].cash
                earned = all(d[1] for d in discs if d)
                add(
                    Candidate(
                        "discount",
                        group[0].customer_id,
                        f.family,
                        allocs,
                        0,
                        ev + ["net of early-pay discount" + ("" if earned else " (unearned)")],
                    )
                )
                return
        # Only the discounts still earned taken: a payer that takes its discount on this week's
        # invoices pays the older ones (whose discount date has passed) in full.
        earned_d = [d if d and d[1] else None for d in discs]
        earned_only = any(earned_d) and earned_d != discs
        if earned_only:
            allocs = [
                Alloc(it, it.open_cents - (d[0] if d else 0), discount=d[0] if d else 0)
                for it, d in zip(group, earned_d, strict=True)
            ]
            if abs(sum(a.cash for a in allocs) - p.amount) <= len(allocs):
                last = next(a for a in reversed(allocs) if a.discount)
                last.cash += p.amount - sum(a.cash for a in allocs)
                last.discount = last.item.open_cents - last.cash
                add(
                    Candidate(
                        "discount",
                        group[0].customer_id,
                        f.family,
                        allocs,
                        0,
                        ev + ["net of the early-pay discounts still earned; the others in full"],
                    )
                )
                return
        if total > p.amount:
            short = total - p.amount
            tol = _tolerance(
                p, total, short, group[0].customer_id, rules, self.know.learned_bank_fee(group[0].customer_id)
            )
            if tol:
                allocs = [Alloc(it, it.open_cents) for it in group]
                big = max(allocs, key=lambda a: a.cash)
                big.cash -= short
                big.deduction = short
                big.reason = _REASON[tol]
                add(
                    Candidate(
                        tol,
                        group[0].customer_id,
                        f.family,
                        allocs,
                        0,
                        ev + [f"short by {_m(short)}: {tol.replace('_', ' ')}"],
                    )
                )
            if len(group) > 1 and len(group) <= 16:
                sols, n = subset_sum([it.open_cents for it in group], p.amount, p.amount, len(group), 5000, 3)
                ctx.nodes += n
                for s in sols:
                    add(
                        Candidate(
                            "reference",
                            group[s[0]].customer_id,
                            f.family,
                            [Alloc(group[i], group[i].open_cents) for i in s],
                            0,
                            ev + ["only some of the named invoices, in full"],
                        )
                    )
            # partial: the named invoices oldest first, the last one partly
            left, allocs = p.amount, []
            for it in group:
                c = min(it.open_cents, left)
                if c <= 0:
                    break
                allocs.append(Alloc(it, c))
                left -= c
            add(
                Candidate(
                    "partial",
                    allocs[0].item.customer_id,
                    f.family,
                    allocs,
                    0,
                    ev + [f"{_m(short)} of the named invoices stays open (partial payment)"],
                )
            )
            if 1 < len(group) <= 8:
                # One named invoice short-paid (a deduction the payer did not explain), the others in full.
                for k, it in enumerate(group):
                    cash_k = it.open_cents - short
                    if cash_k > 0:
                        allocs = [Alloc(x, x.open_cents) for j, x in enumerate(group) if j != k] + [
                            Alloc(it, cash_k)
                        ]
                        add(
                            Candidate(
                                "partial",
                                it.customer_id,
                                f.family,
                                allocs,
                                0,
                                ev + [f"{it.item_id} short by {_m(short)}, the others in full"],
                            )
                        )
                if any(discs):
                    # The same with the early-pay discounts taken: payers that deduct on one invoice
                    # usually still take their discount on the others.
                    base = [(x, d[0] if d else 0) for x, d in zip(group, discs, strict=True)]
                    short_d = sum(x.open_cents - dc for x, dc in base) - p.amount
                    for k, (it, dk) in enumerate(base):
                        cash_k = it.open_cents - dk - short_d
                        if short_d > 0 and cash_k > 0:
                            allocs = [
                                Alloc(x, x.open_cents - dc, discount=dc)
                                for j, (x, dc) in enumerate(base)
                                if j != k
                            ] + [Alloc(it, cash_k, discount=dk)]
                            add(
                                Candidate(
                                    "partial",
                                    it.customer_id,
                                    f.family,
                                    allocs,
                                    0,
                                    ev
                                    + [
                                        f"{it.item_id} short by {_m(short_d)}, the others in full "
                                        "net of early-pay discount"
                                    ],
                                )
                            )
        else:
            # More than the named invoices: maybe more invoices ("INV 1234 +2"), else overpayment.
            rest = p.amount - total
            named_ids = {g.item_id for g in group}
            pool = [
                it
                for it in ctx.items.get(f.family, [])
                if it.item_id not in named_ids and it.open_cents <= rest
            ]
            sols = []
            if pool:
                pool = self._nearest(pool, p, f.customer_id)
                single = [it for it in pool if it.open_cents == rest]
                sols = [(pool.index(it),) for it in single[:3]]
                if len(pool) >= 2:
                    more, n = subset_sum([it.open_cents for it in pool], rest, rest, 4, 3000, 3)
                    ctx.nodes += n
                    sols += more
                for s in sols:
                    add(
                        Candidate(
                            "reference",
                            group[0].customer_id,
                            f.family,
                            [Alloc(it, it.open_cents) for it in group]
                            + [Alloc(pool[i], pool[i].open_cents) for i in s],
                            0,
                            ev + ["plus invoices the reference did not name, summing to the rest"],
                        )
                    )
                # The rest spread over the other open items, oldest first (an unnamed partial payment).
                others = [it for it in ctx.items.get(f.family, []) if it.item_id not in named_ids]
                left, extra = rest, []
                for it in others:
                    c = min(it.open_cents, left)
                    extra.append(Alloc(it, c))
                    left -= c
                    if left == 0:
                        break
                if left == 0 and extra:
                    add(
                        Candidate(
                            "partial",
                            group[0].customer_id,
                            f.family,
                            [Alloc(it, it.open_cents) for it in group] + extra,
                            0,
                            ev + ["the rest applied to the oldest other open items"],
                        )
                    )
            if not sols and loose:
                self._named_plus(ctx, f, group, rest, ev, add, short=False)
            self._finish(
                p,
                [Alloc(it, it.open_cents) for it in group],
                "overpayment",
                f,
                ev + [f"paid {_m(rest)} more than the named invoices"],
                add,
            )

    def _named_plus(
        self, ctx: Context, f: FamilyClue, group: list[OpenItem], rest: int, ev: list[str], add, short: bool
    ) -> None:
        """The named invoices in full plus others the payer did not name, when no set of others sums
        to the rest exactly: others net of their early-pay discounts summing to it (``short`` false),
        or others whose total exceeds it by an unexplained deduction (``short``: within the rules, on
        the oldest invoice of the whole set that can carry it, see :func:`place_deduction`)."""
        p, rules = ctx.payment, self.rules
        named_ids = {g.item_id for g in group}
        biggest = max(it.open_cents for it in group)
        others = [
            it for it in ctx.items.get(f.family, []) if it.item_id not in named_ids and it.open_cents > 0
        ]
        # The deduction is at most max_share of the item carrying it, and no item of the set is above
        # rest + deduction, so d <= share * (rest + d): d <= rest * share / (1 - share) (or a named one's).
        share = rules.deduction_max_share
        cap = int(max(biggest * share, rest * share / (1 - share))) if share < 1 else rest
        if not short:
            net_of = {}
            for it in others:
                d = _discount(it, p.date, rules)
                if d and it.open_cents - d[0] <= rest:
                    net_of[it.item_id] = it.open_cents - d[0]
            pool = self._nearest([it for it in others if it.item_id in net_of], p, f.customer_id)
            net = [net_of[it.item_id] for it in pool]
            sols = [(i,) for i, v in enumerate(net) if v == rest][:3]
            if len(pool) >= 2:
                more, n = subset_sum(net, rest, rest, 4, 3000, 3)
                ctx.nodes += n
                sols += more
            for s in sols:
                add(
                    Candidate(
                        "discount",
                        group[0].customer_id,
                        f.family,
                        [Alloc(it, it.open_cents) for it in group]
                        + [Alloc(pool[i], net[i], discount=pool[i].open_cents - net[i]) for i in s],
                        0,
                        ev
                        + [
                            "plus invoices the reference did not name, net of early-pay discount, summing to the rest"
                        ],
                    )
                )
            return
        pool = self._nearest([it for it in others if it.open_cents <= rest + cap], p, f.customer_id)
        if not pool:
            return
        named = [Alloc(it, it.open_cents) for it in group]
        lo = rest + rules.deduction_min(p.currency)
        vals = [it.open_cents for it in pool]
        # the smallest deductions first: widening ranges, so the few sets found are the nearest ones
        sols: list[tuple[int, ...]] = []
        for part in (16, 4, 1):
            hi = rest + cap // part
            sols = [(i,) for i, v in enumerate(vals) if lo <= v <= hi][:3]
            more, n = subset_sum(vals, lo, hi, 3, 3000, 3)
            ctx.nodes += n
            sols += more
            if sols:
                break
        for s in sols:
            allocs = [Alloc(a.item, a.cash) for a in named] + [Alloc(pool[i], pool[i].open_cents) for i in s]
            short = sum(a.cash for a in allocs) - p.amount
            a = place_deduction(allocs, short, p.currency, rules)
            if a is None:
                continue
            add(
                Candidate(
                    "deduction",
                    group[0].customer_id,
                    f.family,
                    allocs,
                    0,
                    ev
                    + [
                        "plus " + ", ".join(pool[i].item_id for i in s) + " the reference did not name",
                        f"short by {_m(short)}: an unexplained deduction, put on the oldest invoice that can "
                        f"carry it ({a.item.item_id})",
                    ],
                )
            )

    def _nearest(
        self, items: list[OpenItem], p: Payment, customer_id: str, n: int | None = None
    ) -> list[OpenItem]:
        """The ``n`` (default ``max_items``) items whose due date is nearest when this customer usually pays."""
        n = n or self.rules.subset_max_items
        if len(items) <= n:
            return list(items)  # a copy: callers extend it, and the book's sorted lists are shared
        mean_days = self.know.habit(customer_id).vector()[6]
        target = p.date - mean_days
        return heapq.nsmallest(n, items, key=lambda it: (abs(it.due_date - target), it.item_id))

    def _subsets(self, ctx: Context, f: FamilyClue, items: list[OpenItem], add) -> None:
        p, rules = ctx.payment, self.rules
        pool = self._nearest([it for it in items if it.open_cents <= p.amount], p, f.customer_id)
        budget = rules.subset_max_nodes
        if len(pool) < 2:
            # no sum of items to search, but the one item below the amount may have been rounded up
            self._rounded_up(ctx, f, pool, add, budget)
            return
        sols, n = subset_sum(
            [it.open_cents for it in pool],
            p.amount,
            p.amount,
            rules.subset_max_set_size,
            budget,
            rules.subset_max_solutions,
        )
        ctx.nodes += n
        for s in sols:
            add(
                _paid_in_full(
                    [pool[i] for i in s],
                    f.family,
                    f"{len(s)} open items sum to the amount: " + ", ".join(pool[i].item_id for i in s[:8]),
                )
            )
        discs = [_discount(it, p.date, rules) for it in pool]
        if any(discs):
            net = [it.open_cents - (d[0] if d else 0) for it, d in zip(pool, discs, strict=True)]
            sols, n = subset_sum(
                net, p.amount, p.amount, rules.subset_max_set_size, budget // 2, rules.subset_max_solutions
            )
            ctx.nodes += n
            for s in sols:
                allocs = [Alloc(pool[i], net[i], discount=pool[i].open_cents - net[i]) for i in s]
                add(
                    Candidate(
                        "discount",
                        pool[s[0]].customer_id,
                        f.family,
                        allocs,
                        0,
                        [f"{len(s)} open items net of early-pay discount sum to the amount"],
                    )
                )
        self._rounded_up(ctx, f, pool, add, budget)

    def _rounded_up(self, ctx: Context, f: FamilyClue, pool: list[OpenItem], add, budget: int) -> None:
        """A round amount (a multiple of one of ``round_amount_units``) just above one open item or a
        few: paid in full, the rest left on account. The bounded search stops at three sets, and with
        many items several sets fall in range; the oldest items the amount covers are always among
        them (an AP clerk rounding up a run that pays the oldest first: PAY-00008272 of the default
        world, 12,786.57 of four oldest invoices paid as 12,800.00)."""
        p = ctx.payment
        for unit in sorted(self.rules.round_amount_units_cents, reverse=True):
            if p.amount % unit == 0 and p.amount > unit:
                lo, hi = p.amount - unit + 1, p.amount - 1
                cands = [(i,) for i, it in enumerate(pool) if lo <= it.open_cents <= hi][:3]
                more: list = []
                if len(pool) >= 2:
                    more, n = subset_sum([it.open_cents for it in pool], lo, hi, 4, budget // 4, 3)
                    ctx.nodes += n
                by_due = sorted(range(len(pool)), key=lambda i: (pool[i].due_date, pool[i].item_id))
                total, oldest = 0, None
                for k, i in enumerate(by_due):
                    total += pool[i].open_cents
                    if total > hi:
                        break
                    if total >= lo and k >= 1:
                        oldest = tuple(sorted(by_due[: k + 1]))
                if oldest is not None and oldest not in more:
                    more = [oldest, *more]
                for s in cands + more:
                    self._finish(
                        p,
                        [Alloc(pool[i], pool[i].open_cents) for i in s],
                        "overpayment",
                        f,
                        [f"round amount: {len(s)} open item(s) plus less than {_m(unit)} extra"],
                        add,
                    )
                break

    def _subsets_wide(self, ctx: Context, f: FamilyClue, items: list[OpenItem], add) -> None:
        """Every set of the ``WIDE_ITEMS`` open items due nearest when the payer usually pays that sums
        to the amount (:func:`subset_sum_all`), for a payment nothing else explained; the sets whose
        items are due nearest that date are kept (a payment run settles what falls due around it)."""
        p = ctx.payment
        fits = [it for it in items if it.open_cents <= p.amount]
        if len(fits) < 3:
            return
        pool = self._nearest(fits, p, f.customer_id, WIDE_ITEMS)
        sols = subset_sum_all([it.open_cents for it in pool], p.amount, WIDE_MAX_SOLUTIONS)
        ctx.nodes += 1 << (len(pool) // 2 + 1)
        if not sols:
            return
        target = p.date - self.know.habit(f.customer_id).vector()[6]

        def spread(s: tuple[int, ...]) -> tuple:
            far = [abs(pool[i].due_date - target) for i in s]
            return (max(far), sum(far), len(s))

        sols.sort(key=spread)
        for s in sols[:WIDE_KEEP]:
            run = sorted((pool[i] for i in s), key=lambda it: (it.due_date, it.item_id))
            add(
                _paid_in_full(
                    run,
                    f.family,
                    f"{len(run)} open items due {_d(run[0].due_date)} to {_d(run[-1].due_date)} sum to the "
                    f"amount ({len(sols)}{'+' if len(sols) >= WIDE_MAX_SOLUTIONS else ''} such set(s) among "
                    f"the {len(pool)} due nearest when the payer usually pays; the nearest kept)",
                )
            )

    def _windows(self, ctx: Context, f: FamilyClue, items: list[OpenItem], add, short: bool = False) -> None:
        """Runs of consecutive open items in due-date order summing to the amount: "everything due
        from ... to ...", the way statement payers settle. Also over items never partly paid or
        credited ("clean"), since a disputed or short-paid older item is usually left out.

        ``short`` (the second look, ``expand``): instead, the shortest run from each item whose sum
        passes the amount, closed short by an unexplained deduction (:func:`place_deduction`)."""
        p = ctx.payment
        if len(items) < 2:
            return
        if len(items) > 2 * WINDOW_SPAN:
            # Only runs near the due date this customer usually pays at: a huge account would
            # otherwise cost (items x run length) steps per payment.
            target = p.date - self.know.habit(f.customer_id).vector()[6]
            mid = bisect.bisect_left([it.due_date for it in items], target)
            items = items[max(0, mid - WINDOW_SPAN) : mid + WINDOW_SPAN]
        clean = [it for it in items if it.open_cents == it.original_cents]
        pools = [(items, "open items")] + (
            [(clean, "clean open items")] if 1 < len(clean) < len(items) else []
        )
        for pool, label in pools:
            n = len(pool)
            found = 0
            for i in range(n):
                s = 0
                for j in range(i, min(n, i + MAX_WINDOW)):
                    s += pool[j].open_cents
                    if s >= p.amount:
                        break
                if short:
                    ctx.nodes += j - i + 1
                    if s > p.amount and j > i:
                        run = pool[i : j + 1]
                        found += self._run_short(ctx, f, run, [0] * len(run), s - p.amount, label, add, "")
                        if found >= SHORT_WINDOWS:
                            break
                    continue
                if s == p.amount and j > i:
                    run = pool[i : j + 1]
                    add(
                        _paid_in_full(
                            run,
                            f.family,
                            f"all {len(run)} {label} due {_d(run[0].due_date)} to {_d(run[-1].due_date)}",
                        )
                    )
                    found += 1
                    if found >= 3:
                        break
                ctx.nodes += j - i + 1

    def _oldest_runs(self, ctx: Context, f: FamilyClue, items: list[OpenItem], add, short: bool) -> None:
        """The payer's oldest open items, "everything due up to ...", the way statement payers settle:
        all of them but one held back (usually a disputed one) summing to the amount exactly, or
        (``short``) all of them closed short by an unexplained deduction (gross, and net of the
        discounts still earned). Also over the items never partly paid or credited. One pass of at
        most ``MAX_WINDOW`` items per pool."""
        p, rules = ctx.payment, self.rules
        if len(items) < 2:
            return
        clean = [it for it in items if it.open_cents == it.original_cents]
        pools = [(items, "open items")] + (
            [(clean, "clean open items")] if 1 < len(clean) < len(items) else []
        )
        for pool, label in pools:
            s = s_net = 0
            disc: list[int] = []
            inside: dict[int, int] = {}  # open amount -> position of an item strictly inside the run
            biggest = 0
            short_done = net_done = not short
            held = 2 if short else 0
            for j, it in enumerate(pool[:MAX_WINDOW]):
                d = _discount(it, p.date, rules)
                disc.append(d[0] if d and d[1] else 0)
                s += it.open_cents
                s_net += it.open_cents - disc[-1]
                biggest = max(biggest, it.open_cents)
                ctx.nodes += 1
                if j >= 1 and not short_done and s > p.amount:
                    short_done = True
                    self._run_short(ctx, f, pool[: j + 1], [0] * (j + 1), s - p.amount, label, add)
                if j >= 1 and not net_done and s_net > p.amount and any(disc):
                    net_done = True
                    self._run_short(ctx, f, pool[: j + 1], disc, s_net - p.amount, label, add)
                excess = s - p.amount
                k = inside.get(excess) if excess > 0 else None
                if k is not None and held < 2:
                    held += 1
                    run = [x for i, x in enumerate(pool[: j + 1]) if i != k]
                    add(
                        _paid_in_full(
                            run,
                            f.family,
                            f"all {len(run)} oldest {label} due {_d(run[0].due_date)} to "
                            f"{_d(run[-1].due_date)} but {pool[k].item_id} ({_m(pool[k].open_cents)})",
                        )
                    )
                if short_done and (net_done or not any(disc)) and (short or excess > biggest):
                    break
                if j >= 1:
                    inside.setdefault(it.open_cents, j)
            if short:
                self._held_back_short(ctx, f, pool, label, add)
        if short:
            self._held_back_several(ctx, f, items, add)

    def _held_back_several(self, ctx: Context, f: FamilyClue, pool: list[OpenItem], add) -> None:
        """The oldest items up to one of them, all paid in full but one to ``HELD_BACK_MAX`` held back
        (disputed, or not yet approved for payment): the items held back sum exactly to what the run
        exceeds the amount by. An invoice the payment names is never held back, nor the last of the
        run (that would be a shorter run). Fewest items held first, then the shortest run.

        Meet in the middle over the first ``HELD_BACK_POOL`` items that may be held: every set of one
        to three of them (:func:`_small_sets`), and pairs of disjoint such sets; a bounded depth-first
        search ran out of steps on runs of thirty items with two held back (measured on the seed-1
        world). More than ``HELD_BACK_SOLUTIONS`` sets: the amount says nothing, none is proposed.
        Only for a payer with more than ``WIDE_ITEMS`` open items below the amount."""
        p = ctx.payment
        if sum(1 for it in pool if it.open_cents <= p.amount) <= WIDE_ITEMS:
            # the first look's exhaustive search (_subsets_wide) read every set of these already
            return
        named = {it.item_id for it in self.family_hits(ctx, f.family)} if ctx.hits else set()
        pool = pool[:MAX_WINDOW]
        amounts = np.fromiter((it.open_cents for it in pool), dtype=np.int64, count=len(pool))
        excess = np.cumsum(amounts) - p.amount  # excess[j]: the run pool[: j + 1] less the amount
        held_pos = [i for i, it in enumerate(pool) if it.item_id not in named][:HELD_BACK_POOL]
        if not held_pos or not (excess > 0).any():
            return
        sums, masks, last = _small_sets(amounts[held_pos], np.asarray(held_pos))
        by_sum = np.argsort(sums, kind="stable")
        sums, masks, last = sums[by_sum], masks[by_sum], last[by_sum]
        # the excess only grows with the run's end: past what the largest items could hold back, stop
        most = int(np.sort(amounts[held_pos])[::-1][:HELD_BACK_MAX].sum())
        found: dict[int, int] = {}  # mask of the items held back -> end of the run
        for j in np.flatnonzero(excess > 0).tolist():
            e = int(excess[j])
            if e > most:
                break
            ok = last < j
            s, m = sums[ok], masks[ok]  # still sorted by sum
            ctx.nodes += len(s)
            lo = np.searchsorted(s, e - s, side="left")
            hi = np.searchsorted(s, e - s, side="right")
            for k in range(*np.searchsorted(s, [e, e + 1]).tolist()):
                found.setdefault(int(m[k]), j)
            for a in np.flatnonzero(hi > lo).tolist():
                for b in range(max(int(lo[a]), a + 1), int(hi[a])):
                    if not m[a] & m[b]:
                        found.setdefault(int(m[a] | m[b]), j)
            if len(found) > HELD_BACK_SOLUTIONS:
                return
        ranked = sorted(found.items(), key=lambda kv: (kv[0].bit_count(), kv[1]))
        for mask, j in ranked[:HELD_BACK_RUNS]:
            held = [held_pos[k] for k in range(len(held_pos)) if mask >> k & 1]
            skip = set(held)
            run = [x for i, x in enumerate(pool[: j + 1]) if i not in skip]
            ids = ", ".join(pool[i].item_id for i in held)
            add(
                _paid_in_full(
                    run,
                    f.family,
                    f"all {len(run)} oldest open items due {_d(run[0].due_date)} to {_d(run[-1].due_date)} "
                    f"but {len(held)} held back: {ids} ({_m(int(amounts[held].sum()))})",
                )
            )

    def _held_back_short(self, ctx: Context, f: FamilyClue, pool: list[OpenItem], label: str, add) -> None:
        """The oldest items but one held back (a disputed one), closed short by an unexplained
        deduction: for each item held back, the shortest run past it whose other items pass the
        amount. At most ``HELD_BACK_SHORT`` such runs, the smallest deductions first. An invoice the
        payment names is never the one held back."""
        p = ctx.payment
        named = {it.item_id for it in self.family_hits(ctx, f.family)} if ctx.hits else set()
        pool = pool[:MAX_WINDOW]
        prefix = [0]
        for it in pool:
            prefix.append(prefix[-1] + it.open_cents)
        found = []
        for k in range(len(pool) - 1):
            if pool[k].item_id in named:
                continue
            for j in range(k + 1, len(pool)):
                ctx.nodes += 1
                short = prefix[j + 1] - pool[k].open_cents - p.amount
                if short > 0:
                    if j - 1 >= 1:  # at least two items paid
                        found.append((short, k, j))
                    break
        for short, k, j in sorted(found)[:HELD_BACK_SHORT]:
            run = [x for i, x in enumerate(pool[: j + 1]) if i != k]
            self._run_short(ctx, f, run, [0] * len(run), short, f"{label} but {pool[k].item_id}", add)

    def _run_short(
        self,
        ctx: Context,
        f: FamilyClue,
        run: list[OpenItem],
        disc: list[int],
        short: int,
        label: str,
        add,
        which: str = "oldest ",
    ) -> bool:
        """The run closed short by an unexplained deduction, when one of its items can carry it."""
        p = ctx.payment
        allocs = [Alloc(it, it.open_cents - dc, discount=dc) for it, dc in zip(run, disc, strict=True)]
        a = place_deduction(allocs, short, p.currency, self.rules)
        if a is None:
            return False
        ev = [
            f"all {len(run)} {which}{label} due {_d(run[0].due_date)} to {_d(run[-1].due_date)}"
            + (" net of earned early-pay discounts" if any(disc) else ""),
            f"short by {_m(short)}: an unexplained deduction, put on the oldest invoice that can carry it "
            f"({a.item.item_id})",
        ]
        add(Candidate("deduction", run[0].customer_id, f.family, allocs, 0, ev))
        return True

    def _partials(self, ctx: Context, f: FamilyClue, items: list[OpenItem], add, cheap: bool = False) -> None:
        p = ctx.payment
        bigger = [it for it in items if it.open_cents > p.amount]
        if cheap:
            bigger = bigger[:2]
        elif len(bigger) > PARTIAL_ITEMS:
            # the oldest two, and those due nearest when this customer usually pays
            near = self._nearest(bigger, p, f.customer_id, PARTIAL_ITEMS - 2)
            bigger = list({it.item_id: it for it in bigger[:2] + near}.values())
        for it in bigger:
            add(
                Candidate(
                    "partial",
                    it.customer_id,
                    f.family,
                    [Alloc(it, p.amount)],
                    0,
                    [
                        f"part of {it.item_id} (open {_m(it.open_cents)}); {_m(it.open_cents - p.amount)} stays open"
                    ],
                )
            )
        # One invoice in full and the rest as part of another (an instalment paid with an invoice).
        near = [] if cheap else self._nearest(items, p, f.customer_id, PAIR_ITEMS)
        if near:
            near += [it for it in items if it.item_id in ctx.hits and it not in near][:3]
        for a in near:
            rest = p.amount - a.open_cents
            if rest <= 0:
                continue
            for b in near:
                if b is not a and b.open_cents > rest:
                    add(
                        Candidate(
                            "partial",
                            a.customer_id,
                            f.family,
                            [Alloc(a, a.open_cents), Alloc(b, rest)],
                            0,
                            [f"{a.item_id} in full, {_m(rest)} toward {b.item_id}"],
                        )
                    )
        total = sum(it.open_cents for it in items)
        if items and total > p.amount:
            left, allocs = p.amount, []
            for it in items:
                c = min(it.open_cents, left)
                allocs.append(Alloc(it, c))
                left -= c
                if left == 0:
                    break
            if len(allocs) > 1:
                add(
                    Candidate(
                        "oldest_first",
                        allocs[0].item.customer_id,
                        f.family,
                        allocs,
                        0,
                        [f"applied oldest first over {len(allocs)} open items"],
                    )
                )
        elif items and 0 < total < p.amount:
            self._finish(
                p,
                [Alloc(it, it.open_cents) for it in items],
                "overpayment",
                f,
                ["every open item paid; the rest is more than is owed"],
                add,
            )


def by_prior_across_families(candidates: list[Candidate]) -> list[Candidate]:
    """Highest prior first; among equal priors, each family's first candidates (in the order they were
    made) before any family's later ones, so that ``MAX_CANDIDATES`` does not cut the last of several
    possible payers' candidates wholesale."""
    made_in_family: dict[str, int] = {}
    order = []
    for c in candidates:
        k = made_in_family.get(c.family, 0)
        made_in_family[c.family] = k + 1
        order.append((-c.prior, k))
    return [candidates[i] for i in sorted(range(len(candidates)), key=order.__getitem__)]


def _in_part(f: FamilyClue, allocs: list[Alloc], why: str) -> Candidate:
    """An instalment payer's proposal: some invoices in full, some in part, nothing on account."""
    return Candidate("partial", f.customer_id, f.family, allocs, 0, [why])


def _paid_in_full(items: list[OpenItem], family: str, why: str) -> Candidate:
    """A set of open items settled in full by the payment ("subset_sum"), with the evidence ``why``."""
    return Candidate(
        "subset_sum", items[0].customer_id, family, [Alloc(it, it.open_cents) for it in items], 0, [why]
    )


def _d(ordinal: int) -> str:
    return dt.date.fromordinal(ordinal).isoformat()


def _m(cents: int) -> str:
    return f"{cents // 100:,}.{cents % 100:02d}"


_PRIOR = {
    "remittance": 0.9,
    "reference": 0.85,
    "exact_amount": 0.7,
    "discount": 0.65,
    "bank_fee": 0.4,
    "fx_difference": 0.35,
    "small_difference": 0.45,
    "subset_sum": 0.45,
    "overpayment": 0.3,
    "partial": 0.2,
    "oldest_first": 0.15,
    "on_account": 0.05,
    "deduction": 0.25,
}


def _prior(c: Candidate, ctx: Context) -> float:
    """A hand-set plausibility used to order and cap candidates before the model sees them."""
    base = _PRIOR[c.method]
    if c.allocs:
        hits = ctx.hits
        named = 0
        if hits:
            for a in c.allocs:
                if a.item.item_id in hits:
                    named += 1
        base += 0.3 * named / len(c.allocs)
    if c.unapplied:
        base -= 0.1
    return base


def _check_adds_up(c: Candidate, amount) -> None:
    """Every candidate splits the whole payment: applied + unapplied + written off = received."""
    if c.applied + c.unapplied + c.writeoff != amount or c.unapplied < 0 or c.applied < 0:
        raise AssertionError(f"candidate {c.method} does not add up to the payment")  # pragma: no cover
