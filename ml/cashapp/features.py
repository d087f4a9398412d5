"""Features of a candidate allocation: what a cash-application clerk weighs, as numbers for LightGBM.

Groups: how well the amount is explained (cover, residual, discount/deduction shares, whether the
items close), how strongly the payer points at these items (references, remittance lines agreeing),
who the payer is (account known from the master or from past payments, name similarity, how clearly
one family wins), timing (days from due, age, whether the items are the oldest open ones), ambiguity
(how many exact alternatives, how many open items share the amount), and the customer's habits
compared with this candidate (usual number of invoices per payment, usual days from due).
"""

from __future__ import annotations

import math
import re

from ml.cashapp.candidates import METHOD_CODE, Candidate, Context
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
)
CATEGORICAL = ("method",)
_STRONG = (EXACT, PO, "remittance")
_WEAK = ("transposed", "typo", "partial", "amount")
_MORE = re.compile(r"\bETC\b|\+\s*\d|\bAND OTHERS\b|\bET AL\b")


def featurize(ctx: Context, know: PayerKnowledge) -> None:
    """Fill ``features`` of every candidate of ``ctx`` (in the order of :data:`FEATURES`)."""
    p = ctx.payment
    cands = ctx.candidates
    if not cands:
        return
    fams = {f.family: f for f in ctx.families}
    best_by_other = {}
    for f in ctx.families:
        best_by_other[f.family] = max((g.score for g in ctx.families if g.family != f.family), default=0.0)
    rank: dict[str, dict[str, int]] = {}
    for fk, its in ctx.items.items():
        rank[fk] = {it.item_id: i for i, it in enumerate(its)}
    n_exact = sum(1 for c in cands if c.unapplied == 0 and c.allocs and all(a.cash + a.discount + a.deduction == a.item.open_cents for a in c.allocs))
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
    # Whole amounts (multiples of 100.00) are where rounding-up payers and coincidences live.
    round_amount = 2.0 if p.amount % 10000 == 0 else 1.0 if p.amount % 1000 == 0 else 0.0
    # "INV 1234 ETC", "INV 1234 +2": the payer says it paid more than it named.
    text_more = 1.0 if _MORE.search(p.text.upper()) else 0.0
    missing_paid = sum(1 for ln, it, _ in ctx.lines if it is not None and ln.paid_amount is None)
    same_amount_cache: dict[tuple[str, int], int] = {}
    for c in cands:
        f = fams[c.family]
        items = ctx.items.get(c.family, [])
        n_open = len(items)
        strong_named = [it.item_id for it in items if ctx.hits.get(it.item_id) in _STRONG]
        weak_named = sum(1 for it in items if ctx.hits.get(it.item_id) in _WEAK)
        allocs = c.allocs
        n = len(allocs)
        applied = c.applied
        disc = sum(a.discount for a in allocs)
        ded = sum(a.deduction for a in allocs)
        if n:
            ids = {a.item.item_id for a in allocs}
            full = sum(1 for a in allocs if a.cash + a.discount + a.deduction == a.item.open_cents) / n
            partial = sum(1 for a in allocs if a.cash + a.discount + a.deduction < a.item.open_cents)
            strong = sum(1 for a in allocs if ctx.hits.get(a.item.item_id) in _STRONG) / n
            weak = sum(1 for a in allocs if ctx.hits.get(a.item.item_id) in _WEAK) / n
            dfd = [p.date - a.item.due_date for a in allocs]
            age = sum(p.date - a.item.document_date for a in allocs) / n
            r = rank.get(c.family, {})
            ranks = [r.get(i, n_open) for i in ids]
            rmax = max(ranks)
            prefix = 1.0 if rmax == n - 1 else 0.0
            agree = sum(1 for a in allocs if line_paid.get(a.item.item_id) == a.cash) / n
            ratio = min((a.cash + a.discount + a.deduction) / a.item.open_cents for a in allocs)
            earned = -1.0
            if disc:
                earned = 1.0 if all(
                    a.item.discount_due is not None and p.date <= a.item.discount_due + know.rules.discount_grace_days
                    for a in allocs if a.discount
                ) else 0.0
            if n == 1:
                it = allocs[0].item
                k = (c.family, it.open_cents)
                if k not in same_amount_cache:
                    same_amount_cache[k] = sum(1 for x in items if x.open_cents == it.open_cents)
                same = same_amount_cache[k] - 1
            else:
                same = 0
        else:
            ids = set()
            full = partial = strong = weak = age = agree = 0.0
            dfd = [0]
            rmax, prefix, earned, same = -1, 0.0, -1.0, 0
            ratio = 0.0
        named_cover = (sum(1 for i in strong_named if i in ids) / len(strong_named)) if strong_named else -1.0
        remit_cover = (len(ids & resolved_lines) / len(resolved_lines)) if resolved_lines else -1.0
        h = know.habit(c.customer_id).vector()
        dmean = sum(dfd) / len(dfd)
        c.features = [
            METHOD_CODE[c.method],
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
            1.0 if p.docs else 0.0,
            agree if p.docs else -1.0,
            unresolved,
            remit_cover,
            dmean,
            min(dfd),
            max(dfd),
            age,
            rmax,
            prefix,
            math.log1p(n_open),
            n_exact,
            len(cands),
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
        ]
