"""The cash-application engine: bank movements and remittance advices in, applications and exceptions out.

One run (:meth:`CashApplicationEngine.run`) takes a batch of bank transactions (credits; debits and
reversals are set aside) and the remittance advices received with them, and:

1. links advices to movements (:mod:`ml.cashapp.intake`);
2. identifies each payer and generates candidate allocations (:mod:`ml.cashapp.candidates`) against
   the open items as they stand at the start of the run;
3. scores every candidate of the batch in one call (:mod:`ml.cashapp.scoring`);
4. decides payment by payment, in booking order: **auto-applied** when the best candidate's
   calibrated confidence reaches the threshold and no rule forbids it (its items are then reserved,
   so a later payment of the same run cannot take them again); **suggested** (the top candidates
   with confidence and evidence) when a customer was identified or an amount points to one;
   **unidentified** otherwise.

Every received amount is split to the cent: ``applied + suggested + unapplied = amount`` per
transaction (``applied`` includes a small overpayment written off), guarded in integer cents while the
result is built, so a run that would lose a cent fails instead; :func:`check_conservation` checks a
result's frames the same way (per payment, per currency, applications against payments).
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ingestion.normalized import BankTransaction, RemittanceDocument
from ml.cashapp.book import OpenItemBook
from ml.cashapp.candidates import Candidate, Context, FamilyClue, Generator
from ml.cashapp.features import FEATURES, featurize
from ml.cashapp.intake import (
    Payment,
    doc_total,
    link_by_payer,
    link_remittances,
    payer_of,
    payer_of_text,
    payment_of,
)
from ml.cashapp.knowledge import PayerKnowledge, normalize_account
from ml.cashapp.money import from_cents
from ml.cashapp.names import normalize_name
from ml.cashapp.rules import Rules, load_rules
from ml.cashapp.scoring import Scorer

AUTO, SUGGESTED, UNIDENTIFIED = "auto_applied", "suggested", "unidentified"

APPLICATION_COLUMNS = (
    "transaction_id",
    "booking_date",
    "customer_id",
    "item_id",
    "item_type",
    "currency",
    "applied_amount",
    "discount_amount",
    "deduction_amount",
    "deduction_reason",
    "method",
    "confidence",
    "evidence",
    "model_version",
)
SUGGESTION_COLUMNS = (
    "transaction_id",
    "rank",
    "customer_id",
    "item_id",
    "item_type",
    "currency",
    "applied_amount",
    "discount_amount",
    "deduction_amount",
    "deduction_reason",
    "unapplied_amount",
    "method",
    "confidence",
    "evidence",
    "model_version",
)
EXCEPTION_COLUMNS = (
    "transaction_id",
    "booking_date",
    "currency",
    "amount",
    "counterparty_name",
    "counterparty_account",
    "remittance_text",
    "customer_id",
    "reason",
    "detail",
    "best_confidence",
    "candidate_count",
    "remittance_documents",
)
UNAPPLIED_COLUMNS = (
    "transaction_id",
    "booking_date",
    "customer_id",
    "currency",
    "unapplied_amount",
    "reason",
)
UNLINKED_COLUMNS = (
    "payer_name",
    "payment_reference",
    "payment_date",
    "currency",
    "total_amount",
    "line_count",
    "source_format",
)
SKIPPED_COLUMNS = ("transaction_id", "booking_date", "currency", "amount", "reason")
PAYMENT_COLUMNS = (
    "transaction_id",
    "booking_date",
    "currency",
    "amount",
    "status",
    "customer_id",
    "applied_amount",
    "suggested_amount",
    "unapplied_amount",
    "method",
    "confidence",
    "reason",
    "model_version",
    "remittance_documents",
)


@dataclass
class Decision:
    payment: Payment
    status: str
    reason: str | None
    chosen: Candidate | None  # auto-applied candidate, or the first suggestion
    ranked: list[tuple[Candidate, float]]  # valid candidates with calibrated confidence, best first
    families: list[FamilyClue]

    def suggestions(self, k: int, on_account_slot: bool = False) -> list[tuple[Candidate, float]]:
        """The best ``k`` candidates, at most two of them paying the same set of invoices: variants of
        the same invoices (a shortfall on one or the other) differ in amounts a person adjusts
        anyway, while another set of invoices is a different answer worth a slot of its own.

        ``on_account_slot``: when no candidate explains the amount (every one leaves part of an
        invoice open, money on account, or an unexplained deduction), "all of it on account" takes
        the last slot if it is not among the best already. Off by default: measured on two simulated
        worlds it cost correct third suggestions (lead world: 4 exact allocations, 5 right invoices
        and amounts of 103; default world: one gained, one lost of 76); "all on account" stays a
        ranked candidate like the others."""
        out, seen = [], {}
        for c, s in self.ranked:
            ids = frozenset(a.item.item_id for a in c.allocs)
            if seen.get(ids, 0) >= 2:
                continue
            seen[ids] = seen.get(ids, 0) + 1
            out.append((c, s))
            if len(out) == k:
                break
        nothing_fits = not any(c.group != "residual" for c, _ in self.ranked)
        if on_account_slot and k >= 2 and len(out) == k and all(c.allocs for c, _ in out) and nothing_fits:
            on_acct = next(((c, s) for c, s in self.ranked if not c.allocs), None)
            if on_acct is not None:
                out[-1] = on_acct
        return out


@dataclass
class CandidateBatch:
    """Every scored candidate of a run, for training the next model (features + what they propose)."""

    X: np.ndarray
    groups: np.ndarray  # payment index per row (index into ``transaction_ids``)
    transaction_ids: list[str]
    days: np.ndarray  # payment date ordinal per row
    keys: list[frozenset]  # (item_id, cash cents) pairs the candidate applies
    methods: list[str]
    eligible: np.ndarray  # method may be auto-applied
    kinds: np.ndarray  # Candidate.group: explained | tolerance | residual
    # the row is a second look's candidate (``Generator.expand``, suggested payments only): the model
    # learns from it, its calibration and threshold stay those of the first candidates
    second_look: np.ndarray | None = None

    def to_frame(self) -> pd.DataFrame:
        """One row per candidate: transaction_id, candidate_key ('item:cents;...'), method, features."""
        df = pd.DataFrame(self.X, columns=list(FEATURES))
        df.insert(0, "transaction_id", [self.transaction_ids[g] for g in self.groups])
        df.insert(1, "candidate_key", [key_text(k) for k in self.keys])
        df.insert(2, "candidate_method", self.methods)
        df.insert(3, "candidate_group", self.kinds)
        df.insert(4, "payment_day", self.days)
        df.insert(5, "second_look", self.second_look if self.second_look is not None else False)
        return df


def key_text(key: frozenset) -> str:
    return ";".join(f"{i}:{c}" for i, c in sorted(key))


@dataclass
class CashAppResult:
    payments: pd.DataFrame
    applications: pd.DataFrame
    suggestions: pd.DataFrame
    exceptions: pd.DataFrame
    unapplied: pd.DataFrame
    unlinked_remittances: pd.DataFrame
    skipped: pd.DataFrame  # debits, reversals: not cash to apply
    candidates: CandidateBatch | None
    decisions: list[Decision] = field(repr=False, default_factory=list)
    model_version: str = "heuristic"


class CashApplicationEngine:
    """Holds the open items, what is known about payers, the rules and the scorer between runs."""

    def __init__(
        self,
        book: OpenItemBook,
        knowledge: PayerKnowledge,
        rules: Rules | None = None,
        scorer: Scorer | None = None,
    ):
        self.book = book
        self.know = knowledge
        self.rules = rules or knowledge.rules
        self.scorer = scorer or Scorer(
            version="heuristic", threshold=float(self.rules.heuristic_auto_confidence)
        )
        self.gen = Generator(book, knowledge, self.rules)
        self.timing: dict | None = None  # when a dict: transaction_id -> (open items searched, seconds)
        # Our own accounts: the rules' list plus every account a statement was read for (a credit
        # from one of them is a transfer between our accounts, not a customer paying).
        self.own_accounts: set[str] = {normalize_account(a) for a in self.rules.own_accounts}
        self._own_names = {normalize_name(n) for n in self.rules.own_names} - {""}

    def not_a_payment(self, t: BankTransaction) -> str | None:
        """Why a bank movement is not a customer payment to apply (``None`` when it is one): debits
        and reversals; credits whose bank transaction code marks interest, sweeps or a lockbox
        deposit total; transfers from our own accounts or our own name (``not_customer_payments``)."""
        if t.is_reversal:
            return "reversal"
        if t.credit_debit != "CRDT" or t.amount <= 0:
            return "debit"
        if self.rules.not_payment_code(t.source_format, t.transaction_code):
            return f"transaction_code_{t.transaction_code}"
        name, account = payer_of(t)
        if account and normalize_account(account) in self.own_accounts:
            return "own_account_transfer"
        if name and self._own_names and normalize_name(name) in self._own_names:
            return "own_account_transfer"
        return None

    # -- a run --------------------------------------------------------------------------------------------

    def run(
        self,
        transactions: list[BankTransaction],
        remittances: list[RemittanceDocument] = (),
        *,
        keep_candidates: bool = True,
    ) -> CashAppResult:
        payments, skipped = [], []
        for t in transactions:
            if t.account:
                self.own_accounts.add(normalize_account(t.account))
        for i, t in enumerate(transactions):
            why = self.not_a_payment(t)
            if why:
                skipped.append((t.identity(), t.booking_date, t.currency, t.amount, why))
                continue
            payments.append(payment_of(t, i))
        payments.sort(key=lambda p: (p.date, p.order))
        unlinked = link_remittances(payments, list(remittances), self.rules.remittance_link_days)
        unlinked = link_by_payer(
            unlinked, payments, self._payer_families, self._doc_families, self.rules.remittance_link_days
        )
        ctxs: list[Context] = []
        rows, groups, keys, methods, kinds = [], [], [], [], []
        timing = self.timing
        for gi, p in enumerate(payments):
            t0 = time.perf_counter() if timing is not None else 0.0
            ctx = self.gen.context(p)
            cands = self.gen.generate(ctx)
            featurize(ctx, self.know, self.gen)
            ctxs.append(ctx)
            if timing is not None:
                timing[p.transaction_id] = (sum(len(v) for v in ctx.items.values()), time.perf_counter() - t0)
            for c in cands:
                rows.append(c.features)
                groups.append(gi)
                keys.append(c.key())
                methods.append(c.method)
                kinds.append(c.group)
        # fromiter over the flattened rows: a third cheaper than np.asarray on a list of lists (measured)
        nf = len(FEATURES)
        X = np.fromiter(itertools.chain.from_iterable(rows), dtype=np.float64, count=len(rows) * nf).reshape(
            len(rows), nf
        )
        g = np.asarray(groups, dtype=np.int64)
        raw = self.scorer.raw(X) if len(X) else np.zeros(0)
        conf = self.scorer.confidence_from_raw(raw, g) if len(X) else np.zeros(0)
        raw_pos = 0
        decisions = []
        for ctx in ctxs:
            n = len(ctx.candidates)
            for c, s, r in zip(
                ctx.candidates, conf[raw_pos : raw_pos + n], raw[raw_pos : raw_pos + n], strict=True
            ):
                c.score = float(s)
                c.raw_score = float(r)
            raw_pos += n
            decisions.append(self._decide(ctx))
        extra = self._second_look(ctxs, decisions, raw, g)
        batch = None
        if keep_candidates:
            batch = self._batch(payments, X, groups, keys, methods, kinds, extra)
        return self._frames(decisions, unlinked, skipped, batch)

    def _batch(self, payments, X, groups, keys, methods, kinds, extra: dict[int, list]) -> CandidateBatch:
        """The run's candidates as training rows, each payment's second look after its first candidates."""
        n_first = len(groups)
        look = [False] * n_first
        if extra:
            rows = [X]
            groups, keys, methods, kinds = list(groups), list(keys), list(methods), list(kinds)
            for gi, more in extra.items():
                rows.append(np.asarray([c.features for c in more], dtype=np.float64))
                groups += [gi] * len(more)
                keys += [c.key() for c in more]
                methods += [c.method for c in more]
                kinds += [c.group for c in more]
                look += [True] * len(more)
            X = np.vstack(rows)
        # rows grouped by payment, as fit_scorer expects; stable: first candidates keep their order
        order = np.argsort(np.asarray(groups, dtype=np.int64), kind="stable")
        never = set(self.rules.never_auto_methods)
        pick = lambda v: [v[i] for i in order]  # noqa: E731
        methods = pick(methods)
        return CandidateBatch(
            X=X[order],
            groups=np.asarray(groups, dtype=np.int64)[order],
            transaction_ids=[p.transaction_id for p in payments],
            days=np.asarray([payments[i].date for i in pick(groups)], dtype=np.int64),
            keys=pick(keys),
            methods=methods,
            eligible=np.asarray([m not in never for m in methods], dtype=bool),
            kinds=np.asarray(pick(kinds), dtype=object),
            second_look=np.asarray(look, dtype=bool)[order],
        )

    def _second_look(self, ctxs: list[Context], decisions: list[Decision], raw, g) -> dict[int, list]:
        """Suggested payments get the candidates of ``Generator.expand`` too, scored by the same model
        on the scale of their first candidates and ranked among them: what a person is shown changes,
        what was applied automatically does not (the decisions are taken before, and the calibration
        is fitted on first candidates only). Returns them by payment index: they are training rows too
        (``CandidateBatch.second_look``), which is how the model learns to rank them."""
        extra: dict[int, list[Candidate]] = {}
        jobs, groups = [], []
        for gi, (ctx, d) in enumerate(zip(ctxs, decisions, strict=True)):
            if d.status != SUGGESTED or not ctx.families:
                continue
            more = self.gen.expand(ctx)
            if not more:
                continue
            featurize(ctx, self.know, self.gen, more)
            jobs.extend(c.features for c in more)
            extra[gi] = more
            groups.extend([gi] * len(more))
        if not jobs:
            return extra
        Xe = np.asarray(jobs, dtype=np.float64)
        raw_extra = self.scorer.raw(Xe)
        conf = self.scorer.confidence_extra(raw, g, raw_extra, np.asarray(groups, dtype=np.int64))
        pos = 0
        for gi, more in extra.items():
            for c in more:
                c.score = float(conf[pos])
                c.raw_score = float(raw_extra[pos])
                pos += 1
            d = decisions[gi]
            valid = [(c, c.score) for c in more if self._fits(c)]
            if valid:
                d.ranked = sorted(d.ranked + valid, key=lambda cs: _rank_key(cs[0]))
                d.chosen = d.ranked[0][0]
        return extra

    def _payer_families(self, p: Payment) -> set[str]:
        know = self.know
        owners = set(know.seen_account.get(p.account, ()))
        if p.account in know.master_account:
            owners.add(know.master_account[p.account])
        return {know.family_key(c) for c in owners}

    def _doc_families(self, doc: RemittanceDocument) -> set[str]:
        out = set()
        for ln in doc.lines:
            for h in self.book.refs.lookup(ln.invoice_reference):
                owner = self.book.refs.customer_of.get(h.item_id)
                if owner:
                    out.add(self.know.family_key(owner))
        return out

    def _fits(self, c: Candidate) -> bool:
        for a in c.allocs:  # noqa: SIM110 - a plain loop: all() over a generator costs more (measured)
            if a.item.open_cents < a.cash + a.discount + a.deduction:
                return False
        return True

    def _decide(self, ctx: Context) -> Decision:
        p = ctx.payment
        ranked = sorted(ctx.candidates, key=_rank_key)
        valid = [c for c in ranked if self._fits(c)]
        conflict = bool(ranked) and bool(ranked[0].allocs) and not self._fits(ranked[0])
        pairs = [(c, c.score) for c in valid]
        fams = ctx.families
        identified = any(not f.amount_only for f in fams)
        top = valid[0] if valid else None
        if not fams:
            return Decision(p, UNIDENTIFIED, "payer_not_identified", None, [], fams)
        if top is None or not any(c.allocs for c in valid):
            has_items = any(ctx.items.get(f.family) for f in fams)
            reason = "no_matching_items" if has_items else "no_open_items"
            if conflict:
                reason = "items_already_applied"
            status = SUGGESTED if identified else UNIDENTIFIED
            return Decision(p, status, reason, top, pairs, fams)
        rule = self.rules.customer(top.customer_id)
        threshold = self.scorer.threshold_for(top.group)
        if (
            identified
            and not conflict
            and top.score >= threshold
            and top.allocs
            and top.method not in self.rules.never_auto_methods
            and rule.auto_apply
        ):
            for a in top.allocs:
                # Small differences and bank fees are closed here; a disputed deduction stays open (see confirm).
                closes = a.reason in ("SMALL_DIFFERENCE", "BANK_FEE", "FX_DIFFERENCE")
                self.book.reduce(a.item.item_id, a.cash + a.discount + (a.deduction if closes else 0))
            return Decision(p, AUTO, None, top, pairs, fams)
        if not identified:
            reason = "payer_not_identified"
        elif conflict:
            reason = "items_already_applied"
        elif not rule.auto_apply:
            reason = "customer_rule_review"
        elif top.method in self.rules.never_auto_methods:
            reason = f"review_{top.method}"
        elif top.method in ("partial", "oldest_first"):
            reason = "partial_payment"
        elif any(a.deduction for a in top.allocs):
            reason = "short_payment"
        elif top.unapplied:
            reason = "overpayment"
        elif len(pairs) > 1 and pairs[1][1] >= 0.5 * top.score:
            reason = "ambiguous"
        else:
            reason = "low_confidence"
        return Decision(p, SUGGESTED, reason, top, pairs, fams)

    # -- learning from confirmed applications ----------------------------------------------------------------

    def confirm(
        self,
        *,
        account: str | None,
        name: str | None,
        day: int,
        amount: int,
        allocations: list[tuple[str, int, int, int]],
        customer_id: str | None = None,
        reduce_book: bool = True,
    ) -> None:
        """A payment whose application is settled (auto-applied and kept, accepted, or corrected):
        learn who paid and how, and take the cash and allowed discount off the book. A deduction
        stays open on its invoice: the ERP opens a dispute for it, settled later by a credit memo or
        by the customer paying it. ``allocations``: (item_id, cash, discount allowed, deduction) in
        cents, optionally followed by the deduction's reason (a ``BANK_FEE`` one teaches the engine
        that this customer pays net of bank fees); ``customer_id``: the account an unallocated
        payment belongs to."""
        owners, dfd, disc, partial, short, shares = [], [], False, False, False, []
        applied = fee = 0
        for item_id, cash, discount, deduction, *reason in allocations:
            if reason and reason[0] == "BANK_FEE":
                fee += deduction
            it = self.book.items.get(item_id)
            if it is None:
                continue
            owners.append(it.customer_id)
            dfd.append(day - it.due_date)
            disc |= discount > 0
            short |= deduction > 0
            if 0 < cash + discount + deduction < it.open_cents:
                partial = True
                shares.append((cash + discount + deduction) / it.open_cents)
            applied += cash
        if not owners and customer_id:
            owners = [customer_id]
        self.know.learn_payment(
            account=account,
            name=name,
            customer_ids=owners,
            n_items=len(allocations),
            discount=disc,
            partial=partial,
            short=short,
            over=amount > applied and bool(allocations),
            days_from_due=dfd,
            bank_fee_cents=fee,
            split_shares=shares,
        )
        if reduce_book:
            for item_id, cash, discount, *_rest in allocations:
                self.book.reduce(item_id, cash + discount)

    # -- output frames -----------------------------------------------------------------------------------

    def _frames(self, decisions: list[Decision], unlinked, skipped, batch) -> CashAppResult:
        version = self.scorer.version
        apps, sugg, exc, unap, pays = [], [], [], [], []
        for d in decisions:
            p = d.payment
            day = dt.date.fromordinal(p.date)
            applied = suggested = 0
            who = ""
            top = d.chosen
            if d.status == AUTO:
                applied = top.applied + top.writeoff
                ev = _evidence(d, top)
                for a in top.allocs:
                    apps.append(
                        (
                            p.transaction_id,
                            day,
                            a.item.customer_id,
                            a.item.item_id,
                            "invoice",
                            p.currency,
                            from_cents(a.cash),
                            from_cents(a.discount),
                            from_cents(a.deduction),
                            a.reason,
                            top.method,
                            round(top.score, 6),
                            ev,
                            version,
                        )
                    )
                if top.writeoff:
                    apps.append(
                        (
                            p.transaction_id,
                            day,
                            top.customer_id,
                            None,
                            "write_off",
                            p.currency,
                            from_cents(top.writeoff),
                            from_cents(0),
                            from_cents(0),
                            "SMALL_OVERPAYMENT",
                            top.method,
                            round(top.score, 6),
                            ev,
                            version,
                        )
                    )
                who = top.customer_id
            else:
                for rank, (c, s) in enumerate(d.suggestions(self.rules.suggestions), start=1):
                    ev = _evidence(d, c)
                    rows = [
                        (
                            a.item.customer_id,
                            a.item.item_id,
                            "invoice",
                            a.cash,
                            a.discount,
                            a.deduction,
                            a.reason,
                        )
                        for a in c.allocs
                    ]
                    if c.writeoff:
                        rows.append((c.customer_id, None, "write_off", c.writeoff, 0, 0, "SMALL_OVERPAYMENT"))
                    if not rows:
                        rows.append((c.customer_id, None, "on_account", 0, 0, 0, None))
                    for cust, item, typ, cash, disc, ded, reason in rows:
                        sugg.append(
                            (
                                p.transaction_id,
                                rank,
                                cust,
                                item,
                                typ,
                                p.currency,
                                from_cents(cash),
                                from_cents(disc),
                                from_cents(ded),
                                reason,
                                from_cents(c.unapplied),
                                c.method,
                                round(s, 6),
                                ev,
                                version,
                            )
                        )
                if top is not None and d.status == SUGGESTED:
                    suggested = top.applied + top.writeoff
                    who = top.customer_id
                elif d.families:
                    who = d.families[0].customer_id if not d.families[0].amount_only else ""
                best = d.ranked[0][1] if d.ranked else None
                exc.append(
                    (
                        p.transaction_id,
                        day,
                        p.currency,
                        from_cents(p.amount),
                        p.name or None,
                        p.txn.counterparty_account or p.account or None,
                        p.txn.remittance_text,
                        who or None,
                        d.reason,
                        _detail(d),
                        None if best is None else round(best, 6),
                        len(d.ranked),
                        len(p.docs),
                    )
                )
            unapplied = p.amount - applied - suggested
            if unapplied < 0 or applied < 0 or suggested < 0:
                # never reached by construction; the guard is what makes "never lose a cent" a promise
                raise AssertionError(
                    f"payment {p.transaction_id}: {applied}+{suggested}+{unapplied} != {p.amount}"
                )
            if unapplied:
                reason = (
                    "overpayment"
                    if d.status == AUTO
                    else "pending_review"
                    if d.status == SUGGESTED
                    else "unidentified"
                )
                unap.append((p.transaction_id, day, who or None, p.currency, from_cents(unapplied), reason))
            pays.append(
                (
                    p.transaction_id,
                    day,
                    p.currency,
                    from_cents(p.amount),
                    d.status,
                    who or None,
                    from_cents(applied),
                    from_cents(suggested),
                    from_cents(unapplied),
                    top.method if top is not None else None,
                    round(top.score, 6) if top is not None else None,
                    d.reason,
                    version,
                    len(p.docs),
                )
            )
        unl = [
            (
                u.payer_name,
                u.payment_reference,
                u.payment_date,
                u.currency,
                from_cents(t) if (t := doc_total(u)) is not None else None,
                len(u.lines),
                u.source_format,
            )
            for u in unlinked
        ]
        # dtype=object: the values are already what they should be (Decimal, date, str, None); letting
        # pandas infer string dtypes costs more than the whole match for a day's small batch.
        return CashAppResult(
            payments=_frame(pays, PAYMENT_COLUMNS),
            applications=_frame(apps, APPLICATION_COLUMNS),
            suggestions=_frame(sugg, SUGGESTION_COLUMNS),
            exceptions=_frame(exc, EXCEPTION_COLUMNS),
            unapplied=_frame(unap, UNAPPLIED_COLUMNS),
            unlinked_remittances=_frame(unl, UNLINKED_COLUMNS),
            skipped=_frame(skipped, SKIPPED_COLUMNS),
            candidates=batch,
            decisions=decisions,
            model_version=version,
        )


_INDEXES: dict[tuple[str, ...], pd.Index] = {}


def _frame(rows: list, columns: tuple[str, ...]) -> pd.DataFrame:
    # A ready object-dtype column index: pandas would otherwise build an Arrow string index for every
    # frame of every daily run, which measured as much as the rows themselves.
    idx = _INDEXES.get(columns)
    if idx is None:
        idx = _INDEXES[columns] = pd.Index(list(columns), dtype=object)
    # One object block filled column by column: pd.DataFrame(rows, dtype=object) sanitizes every
    # column on its own and costs 0.2-0.6 ms a frame even when empty (measured), seven frames a daily
    # run. np.fromiter keeps each cell one object (a tuple cell stays a tuple, never a sub-array).
    n = len(rows)
    arr = np.empty((n, len(columns)), dtype=object)
    if n:
        if len(rows[0]) != len(columns):
            raise ValueError(f"row of {len(rows[0])} values for {len(columns)} columns {columns}")
        for j, col in enumerate(zip(*rows, strict=True)):
            arr[:, j] = np.fromiter(col, dtype=object, count=n)
    return pd.DataFrame(arr, columns=idx, dtype=object, copy=False)


def _who(d: Decision, c: Candidate) -> str:
    f = next((f for f in d.families if f.family == c.family), None)
    if f is None:
        return ""
    bits = []
    if f.acct_master:
        bits.append("payer account in customer master")
    if f.acct_seen:
        bits.append(f"payer account on {f.acct_seen} confirmed payment(s)")
    if f.ref_items:
        bits.append(f"{f.ref_items} referenced invoice(s) belong to it")
    if f.cust_ref:
        bits.append("reference names the customer account")
    if f.alias:
        bits.append("payer name seen on confirmed payments")
    if f.name_score:
        bits.append(f"payer name similar ({f.name_score:.0f}/100)")
    if f.amount_only:
        bits.append("payer unknown: only the amount points here")
    return f"{f.customer_id}: " + ", ".join(bits)


def _evidence(d: Decision, c: Candidate) -> str:
    return " | ".join([_who(d, c), *c.evidence])


def _detail(d: Decision) -> str:
    if not d.families:
        return "no account, reference or name points to a customer"
    if not d.ranked:
        return "no open item of the identified customer fits"
    c, s = d.ranked[0]
    return f"best: {c.method} at {s:.3f}; " + "; ".join(c.evidence[:2])


def check_conservation(result: CashAppResult) -> None:
    """applied + suggested + unapplied = amount, per payment and in total per currency (exact Decimal),
    and the applications of each auto-applied payment sum to its applied amount. Raises AssertionError."""
    df = result.payments
    if df.empty:
        return
    parts = df.applied_amount + df.suggested_amount + df.unapplied_amount
    bad = df.loc[parts != df.amount, "transaction_id"]
    if len(bad):
        raise AssertionError(f"payment {bad.iloc[0]} does not add up to the cent")
    neg = df.loc[
        (df.applied_amount < 0) | (df.suggested_amount < 0) | (df.unapplied_amount < 0), "transaction_id"
    ]
    if len(neg):
        raise AssertionError(f"payment {neg.iloc[0]} has a negative part")
    for cur, grp in df.groupby("currency"):
        if sum(grp.applied_amount) + sum(grp.suggested_amount) + sum(grp.unapplied_amount) != sum(grp.amount):
            raise AssertionError(f"{cur} total does not add up to the cent")
    apps = result.applications
    if not apps.empty:
        sums = {}
        for tid, amt in zip(apps.transaction_id, apps.applied_amount, strict=True):
            sums[tid] = sums.get(tid, 0) + amt
        rec = dict(zip(df.transaction_id, df.applied_amount, strict=True))
        for tid, total in sums.items():
            if total != rec.get(tid):
                raise AssertionError(
                    f"payment {tid}: applications sum to {total}, payment says {rec.get(tid)}"
                )


def build_engine(
    open_items: pd.DataFrame | OpenItemBook,
    customers: pd.DataFrame,
    *,
    history: pd.DataFrame | None = None,
    corrections: pd.DataFrame | None = None,
    rules: Rules | None = None,
    scorer: Scorer | None = None,
) -> CashApplicationEngine:
    """An engine from warehouse-shaped frames.

    ``open_items``: see :meth:`OpenItemBook.from_frame` (or a book already built; the engine
    reserves the day's applications on it). ``customers``: the customer master (see
    :meth:`PayerKnowledge.from_customers`). ``history``: past confirmed applications, one row per
    (payment, item): counterparty_account, counterparty_name, booking_date, amount, item_id,
    customer_id, applied_amount, discount_amount, deduction_amount (see ``ml.cashapp.corrections``
    for how corrections become confirmed applications). Open items are the state *now*: history is
    only learned from, never taken off the book again.
    """
    from ml.cashapp.corrections import confirmed_from_corrections

    rules = rules or load_rules()
    book = open_items if isinstance(open_items, OpenItemBook) else OpenItemBook.from_frame(open_items)
    know = PayerKnowledge.from_customers(customers, rules)
    engine = CashApplicationEngine(book, know, rules, scorer)
    # History first, people's decisions after: a rejection must outlive the older history it contradicts.
    if history is not None and not history.empty:
        learn_history(engine, history)
    if corrections is not None and not corrections.empty:
        learn_history(engine, confirmed_from_corrections(corrections, know))
    return engine


def learn_history(engine: CashApplicationEngine, history: pd.DataFrame) -> None:
    """Teach the engine from confirmed applications (see :func:`build_engine`), without touching the book.

    The items paid are usually closed by now, so who they belonged to comes from the frame's
    ``customer_id``; an optional ``due_date`` column lets the customer's days-from-due habit be learned
    too, and an optional ``item_open_amount`` (open before the payment) its partial-payment habit. An
    optional ``deduction_reason`` lets a confirmed ``BANK_FEE`` deduction teach that the customer pays
    net of bank fees (up to the largest such fee). An optional ``remittance_text`` (the bank line's
    text) gives the payer's name and id where the bank put them only there (BAI2 ACH and wire
    credits: ``ORIG CO NAME:=``, ``ORIG ID:=``)."""
    learn_payers(engine.know, history)


def learn_payers(know: PayerKnowledge, history: pd.DataFrame) -> None:
    """:func:`learn_history` into a :class:`PayerKnowledge` (no engine needed)."""
    if history.empty:
        return
    from ml.cashapp.money import to_cents

    def cents(v) -> int:
        return 0 if v is None or (isinstance(v, float) and v != v) else to_cents(v)

    # One pass over plain column arrays, transactions in order of first appearance (what a
    # ``groupby(sort=False)`` gives): per-group ``iloc``/``to_dict`` cost 0.5 ms a payment, 16 s for a
    # month of applications at a million invoices, paid again every day the history is learned.
    n_rows = len(history)

    def column(name: str):
        return history[name].to_numpy(dtype=object) if name in history.columns else [None] * n_rows

    tids, items, owners_col = column("transaction_id"), column("item_id"), column("customer_id")
    applied_col, discount_col, deduction_col = (
        column("applied_amount"),
        column("discount_amount"),
        column("deduction_amount"),
    )
    has_due = "due_date" in history.columns
    has_open = "item_open_amount" in history.columns
    has_reason = "deduction_reason" in history.columns
    due_col, open_col, reason_col = column("due_date"), column("item_open_amount"), column("deduction_reason")
    booking_col, amount_col = column("booking_date"), column("amount")
    account_col, name_col, text_col = (
        column("counterparty_account"),
        column("counterparty_name"),
        column("remittance_text"),
    )
    groups: dict[object, _LearnedPayment] = {}
    for i in range(n_rows):
        tid = tids[i]
        if tid is None or tid is pd.NaT or (isinstance(tid, float) and tid != tid):
            continue  # groupby drops missing keys
        g = groups.get(tid)
        if g is None:
            g = groups[tid] = _LearnedPayment(first=i, day=pd.Timestamp(booking_col[i]).date().toordinal())
        item = items[i]
        if not isinstance(item, str) or not item:
            continue
        g.n += 1
        g.owners.append(str(owners_col[i]))
        cash, d, x = cents(applied_col[i]), cents(discount_col[i]), cents(deduction_col[i])
        g.applied += cash
        g.discount |= d > 0
        g.deduction |= x > 0
        if has_reason and reason_col[i] == "BANK_FEE":
            g.fee += x
        due = due_col[i]
        if has_due and due is not None and due == due:
            g.days_from_due.append(g.day - pd.Timestamp(due).date().toordinal())
        if has_open and open_col[i] is not None:
            before = cents(open_col[i])
            if 0 < cash + d + x < before:
                g.partial = True
                g.split_shares.append((cash + d + x) / before)
    for g in groups.values():
        i = g.first
        owners = g.owners
        if not owners and isinstance(owners_col[i], str):
            owners = [owners_col[i]]
        account, name = _text_or_none(account_col[i]), _text_or_none(name_col[i])
        if (not account or not name) and _text_or_none(text_col[i]):
            # a BAI2 line names its payer only in the bank text (see intake.payer_of)
            fields_name, fields_account = payer_of_text(text_col[i])
            account, name = account or fields_account, name or fields_name
        know.learn_payment(
            account=account,
            name=name,
            customer_ids=owners,
            n_items=g.n,
            discount=g.discount,
            partial=g.partial,
            short=g.deduction,
            over=cents(amount_col[i]) > g.applied and g.n > 0,
            days_from_due=g.days_from_due,
            bank_fee_cents=g.fee,
            split_shares=g.split_shares,
        )


# The order in which confirmed applications are learned (confirmed_history's order).
HISTORY_KEYS = ("booking_date", "transaction_id", "item_id")


@dataclass
class LearnedPayers:
    """What is known about payers after the customer master and a history of confirmed applications,
    with the keys (:data:`HISTORY_KEYS`) of the rows learned, so that a later day's history can be
    learned on top of it (:func:`learn_forward`)."""

    know: PayerKnowledge
    learned: pd.DataFrame


def learn_forward(
    customers: pd.DataFrame, history: pd.DataFrame | None, rules: Rules, before: LearnedPayers | None = None
) -> LearnedPayers:
    """``PayerKnowledge.from_customers(customers, rules)`` taught ``history`` (as :func:`build_engine`
    without corrections), reusing ``before`` (the same customers and rules, an earlier day's history)
    when ``history`` is the history ``before`` learned with payments added after it: then only those
    are learned, and ``before.know`` is taught them in place.

    Why: a first run builds an engine for each of its 30 days, and each day's history is the day
    before's plus that day's applications. Learning the master and the whole history again every day
    grew with the square of the days (281,777 payments taught for the 23,711 of a first run at a million
    invoices, 37.8 of its 140 profiled seconds). Learning is the same in both ways because payments are
    taught one after the other in the history's order, so the carried knowledge is the knowledge a
    fresh build gives: the rows already learned must come first, unchanged, and no payment may have
    rows on both sides (a payment's rows are taught together); otherwise it is built afresh. Only
    corrections break the chain (a rejection must outlive the history after it): callers with
    corrections use :func:`build_engine`."""
    history = history if history is not None else pd.DataFrame(columns=list(HISTORY_KEYS))
    keys = history[list(HISTORY_KEYS)].reset_index(drop=True)
    if before is not None and _extends(before.learned, keys):
        learn_payers(before.know, history.iloc[len(before.learned) :])
        return LearnedPayers(before.know, keys)
    know = PayerKnowledge.from_customers(customers, rules)
    learn_payers(know, history)
    return LearnedPayers(know, keys)


def _extends(learned: pd.DataFrame, keys: pd.DataFrame) -> bool:
    """``keys`` starts with ``learned`` row for row, and its other rows are other payments."""
    n = len(learned)
    if n > len(keys) or not keys.iloc[:n].equals(learned):
        return False
    return not set(keys["transaction_id"].iloc[n:]) & set(learned["transaction_id"])


@dataclass(slots=True)
class _LearnedPayment:
    """What :func:`learn_history` gathers about one confirmed payment before teaching it."""

    first: int  # row of the payment's first application: its bank line's payer, amount and day
    day: int
    n: int = 0
    owners: list[str] = field(default_factory=list)
    applied: int = 0
    discount: bool = False
    deduction: bool = False
    partial: bool = False
    fee: int = 0
    days_from_due: list[int] = field(default_factory=list)
    split_shares: list[float] = field(default_factory=list)


def _text_or_none(v) -> str | None:
    return v if isinstance(v, str) and v.strip() else None


def _rank_key(c: Candidate) -> tuple[float, float, float]:
    """Best first: the calibrated confidence, then the scorer's raw score (an isotonic calibration is a
    step function: candidates the model tells apart share a step), then the generator's prior."""
    return (-c.score, -c.raw_score, -c.prior)
