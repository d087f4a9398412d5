"""Features of a candidate allocation: what a cash-application clerk weighs, as numbers for LightGBM.

Groups: how well the amount is explained (cover, residual, discount/deduction shares, whether the
items close), how strongly the payer points at these items (references, remittance lines agreeing),
who the payer is (account known from the master or from past payments, name similarity, how clearly
one family wins), timing (days from due, age, whether the items are the oldest open ones), ambiguity
(how many exact alternatives, how many open items share the amount), and the customer's habits
compared with this candidate (usual number of invoices per payment, usual days from due).
"""

from __future__ import annotations

import bisect
import math
import re

from ml.cashapp.candidates import METHOD_CODE, Context, Generator
from ml.cashapp.knowledge import PayerKnowledge
from ml.cashapp.money import to_cents
from ml.cashapp.references import EXACT, PO

FEATURES = (
    "method",
    "n_items",
    "cover",
    "unapplied_share",
    "writeoff",
    "full_share",
    "partial_items",
    "discount_share",
    "discount_earned",
    "deduction_share",
    "strong_ref_share",
    "weak_ref_share",
    "named_cover",
    "n_named_strong",
    "has_docs",
    "remit_agree_share",
    "remit_unresolved",
    "remit_cover",
    "dfd_mean",
    "dfd_min",
    "dfd_max",
    "age_mean",
    "oldest_rank_max",
    "is_oldest_prefix",
    "n_open_family",
    "n_exact",
    "n_candidates",
    "same_amount",
    "id_score",
    "id_margin",
    "acct_master",
    "acct_seen",
    "ref_items",
    "cust_ref",
    "alias",
    "name_score",
    "amount_only",
    "owner_is_clue",
    "owner_not_payer",
    "h_log_n",
    "h_mean_items",
    "h_disc_rate",
    "h_partial_rate",
    "h_short_rate",
    "h_over_rate",
    "h_mean_dfd",
    "h_sd_dfd",
    "h_split_share",
    "d_items",
    "z_dfd",
    "amount_log",
    "prior",
    "text_refs",
    "round_amount",
    "residual_log",
    "partial_ratio",
    "n_named_weak",
    "text_more",
    "remit_missing_paid",
    "split_gap",
    "partial_of_rest",
)
CATEGORICAL = ("method",)
_STRONG = (EXACT, PO, "remittance")
_WEAK = ("transposed", "typo", "partial", "amount")
_NO_IDS: frozenset = frozenset()
_MORE = re.compile(r"\bETC\b|\+\s*\d|\bAND OTHERS\b|\bET AL\b")


def featurize(ctx: Context, know: PayerKnowledge, gen: Generator, extra: list | None = None) -> None:
    """Fill ``features`` of every candidate of ``ctx`` (in the order of :data:`FEATURES`); with
    ``extra`` (the candidates of ``Generator.expand``), of those instead. The payment-level features
    (how many candidates, how many exact ones) are always those of ``ctx.candidates``, so a second
    look never changes how the first candidates score.

    A second look's ``deduction`` candidate is described as its twin among the first candidates,
    the ``partial`` that applies the same cash to the same invoices and leaves the shortfall open:
    that is what the model learned from most (second looks are down-weighted training rows, see
    ``ml.cashapp.scoring.SECOND_LOOK_WEIGHT``), and for the ledger the two are the same (an
    unexplained deduction stays open on its invoice until a credit memo or a payment settles it).

    Kept a per-candidate loop on purpose: a version gathering every allocation of a run into numpy
    arrays gave identical features but took 30 % more CPU (measured on the default world: the
    lookups that gather the allocations cost more than the arithmetic they replace)."""
    p = ctx.payment
    base = ctx.candidates
    cands = base if extra is None else extra
    if not cands:
        return
    twin = extra is not None
    fams = {f.family: f for f in ctx.families}
    best_by_other = {}
    for f in ctx.families:
        best_by_other[f.family] = max((g.score for g in ctx.families if g.family != f.family), default=0.0)
    hits = ctx.hits
    per_family: dict[str, tuple] = {}
    for fk, its in ctx.items.items():
        named = gen.family_hits(ctx, fk) if hits else []
        strong_named = [it.item_id for it in named if hits[it.item_id] in _STRONG]
        weak_named = sum(1 for it in named if hits[it.item_id] in _WEAK)
        per_family[fk] = (its, strong_named, weak_named, None)
    n_exact = 0
    for c in base:
        if c.unapplied == 0 and c.allocs:
            for a in c.allocs:  # a plain loop: all() over a generator cost twice as much (measured)
                if a.cash + a.discount + a.deduction != a.item.open_cents:
                    break
            else:
                n_exact += 1
    line_paid: dict[str, int] = {}
    resolved_lines: set[str] = set()
    unresolved = 0
    for ln, it, _how in ctx.lines:
        if it is None:
            unresolved += 1
            continue
        resolved_lines.add(it.item_id)
        if ln.paid_amount is not None:
            line_paid[it.item_id] = line_paid.get(it.item_id, 0) + to_cents(ln.paid_amount)
    payer_master = know.master_account.get(p.account)
    amount_log = math.log1p(p.amount / 100)
    text_refs = sum(1 for ch in p.text if ch.isdigit()) >= 4
    # Whole amounts (multiples of 10.00 and 100.00) are where rounding-up payers and coincidences live.
    round_amount = 2.0 if p.amount % 10000 == 0 else 1.0 if p.amount % 1000 == 0 else 0.0
    # "INV 1234 ETC", "INV 1234 +2": the payer says it paid more than it named.
    text_more = 1.0 if _MORE.search(p.text.upper()) else 0.0
    missing_paid = sum(1 for ln, it, _ in ctx.lines if it is not None and ln.paid_amount is None)
    has_docs = 1.0 if p.docs else 0.0
    grace = know.rules.discount_grace_days
    day = p.date
    same_amount_cache: dict[tuple[str, int], int] = {}
    habit_cache: dict[str, tuple] = {}
    for c in cands:
        f = fams[c.family]
        items, strong_named, weak_named, rank = per_family.get(c.family, ([], [], 0, None))
        n_open = len(items)
        allocs = c.allocs
        n = len(allocs)
        applied = c.applied
        h = habit_cache.get(c.customer_id)
        if h is None:
            h = habit_cache[c.customer_id] = know.habit(c.customer_id).vector()
        if n:
            disc = ded = full = partial = strong = weak = agree = 0
            age = 0
            earned_all = True
            ratio = 2.0
            dmin, dmax, dsum = 10**9, -(10**9), 0
            split_gap, rest = -1.0, 0
            for a in allocs:
                it = a.item
                closed = a.cash + a.discount + (0 if twin else a.deduction)
                r = closed / it.open_cents
                if closed == it.open_cents:
                    full += 1
                elif closed < it.open_cents:
                    partial += 1
                    # an instalment payer splits at its usual share; the rest of an invoice paid in
                    # part before is usually paid whole
                    if h[8] >= 0:  # the payer's usual share (Habits.vector)
                        split_gap = max(split_gap, abs(r - h[8]))
                    rest += it.open_cents < it.original_cents
                if r < ratio:
                    ratio = r
                hit = hits.get(it.item_id)
                if hit in _STRONG:
                    strong += 1
                elif hit in _WEAK:
                    weak += 1
                d = day - it.due_date
                dsum += d
                if d < dmin:
                    dmin = d
                if d > dmax:
                    dmax = d
                age += day - it.document_date
                if line_paid and line_paid.get(it.item_id) == a.cash:
                    agree += 1
                if a.discount:
                    disc += a.discount
                    if it.discount_due is None or day > it.discount_due + grace:
                        earned_all = False
                ded += 0 if twin else a.deduction
            # the items' ids only serve the two shares below: skipped when neither has anything to cover
            ids = {a.item.item_id for a in allocs} if strong_named or resolved_lines else _NO_IDS
            if rank is None:
                rank = [it.due_date for it in items]  # due dates in order: rank = items falling due before
                per_family[c.family] = (items, strong_named, weak_named, rank)
            rmax = max(bisect.bisect_left(rank, a.item.due_date) for a in allocs)
            prefix = 1.0 if rmax == n - 1 else 0.0
            earned = (1.0 if earned_all else 0.0) if disc else -1.0
            full, strong, weak, agree, age = full / n, strong / n, weak / n, agree / n, age / n
            dmean = dsum / n
            if n == 1:
                it = allocs[0].item
                k = (c.family, it.open_cents)
                if k not in same_amount_cache:
                    same_amount_cache[k] = sum(
                        len(gen.book.by_amount.get((cid, p.currency, it.open_cents), ()))
                        for cid in ctx.members.get(c.family, ())
                    )
                same = same_amount_cache[k] - 1
            else:
                same = 0
        else:
            ids = _NO_IDS
            disc = ded = 0
            full = partial = strong = weak = age = agree = 0.0
            dmean = dmin = dmax = 0
            rmax, prefix, earned, same = -1, 0.0, -1.0, 0
            ratio = 0.0
            split_gap, rest = -1.0, 0
        named_cover = (sum(1 for i in strong_named if i in ids) / len(strong_named)) if strong_named else -1.0
        remit_cover = (len(ids & resolved_lines) / len(resolved_lines)) if resolved_lines else -1.0
        c.features = [
            METHOD_CODE["partial" if twin and c.method == "deduction" else c.method],
            n,
            applied / p.amount,
            c.unapplied / p.amount,
            1.0 if c.writeoff else 0.0,
            full,
            partial,
            disc / max(applied + disc, 1),
            earned,
            ded / max(applied, 1),
            strong,
            weak,
            named_cover,
            len(strong_named),
            has_docs,
            agree if has_docs else -1.0,
            unresolved,
            remit_cover,
            dmean,
            dmin,
            dmax,
            age,
            rmax,
            prefix,
            math.log1p(n_open),
            n_exact,
            len(base),
            same,
            f.score,
            f.score - best_by_other[c.family],
            1.0 if f.acct_master else 0.0,
            math.log1p(f.acct_seen),
            f.ref_items,
            1.0 if f.cust_ref else 0.0,
            1.0 if f.alias else 0.0,
            f.name_score,
            1.0 if f.amount_only else 0.0,
            1.0 if c.customer_id == f.customer_id else 0.0,
            1.0 if payer_master and c.customer_id != payer_master else 0.0,
            *h,
            n - h[1],
            (dmean - h[6]) / max(h[7], 5.0),
            amount_log,
            c.prior,
            1.0 if text_refs else 0.0,
            round_amount,
            math.log1p((c.unapplied + c.writeoff) / 100),
            ratio,
            weak_named,
            text_more,
            missing_paid,
            split_gap,
            rest,
        ]
