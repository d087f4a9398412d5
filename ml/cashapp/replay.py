"""Time-ordered replay of a simulated world through the engine: train on earlier payments, evaluate on later ones.

Day by day, as a cash-application team lives it: invoices issued and credit memos applied that day
join the book; the engine runs on the day's bank movements and advices against the book as it stands;
at the end of the day every payment is settled as it truly was (auto-applications kept, exceptions
resolved by people), which is what the engine learns from and what the next day's open items reflect.

The first ``train_share`` of payment days is the training period: the engine runs on its cold-start
heuristic and its candidates, labelled by the truth, become the training rows. The scorer is fitted on
them (``ml.cashapp.scoring.fit_scorer``: an expanding-window backtest inside the training period
calibrates it and sets the threshold), then the evaluation period runs with it and is scored against
the truth. Nothing of the evaluation period is used for training.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from ml.cashapp.book import OpenItemBook
from ml.cashapp.engine import AUTO, SUGGESTED, CashApplicationEngine
from ml.cashapp.knowledge import PayerKnowledge
from ml.cashapp.rules import Rules
from ml.cashapp.scoring import Scorer, fit_scorer
from ml.cashapp.sources import SimulatedFeed

OPEN_ITEM_BUCKETS = ((1, 10), (11, 50), (51, 200), (201, 1000), (1001, 10**9))


RECALL_DEFINITIONS = {
    "exact_allocation": "a suggestion applies the same cash to the same invoices as the truth: the set "
    "of (invoice, cash applied) pairs is equal (a payment the truth leaves wholly on account: the "
    "'all on account' suggestion)",
    "invoices_and_amount": "a suggestion names exactly the invoices the truth paid and applies the same "
    "total cash to them (so the same amount is left on account); how that cash is split among them may "
    "differ, e.g. which of them carries an unexplained short-pay",
    "invoices_only": "a suggestion names exactly the invoices the truth paid, whatever the amounts",
}


def amount_key(pairs) -> tuple[frozenset, int]:
    """(invoices, total cash applied) of a set of (invoice, cash) pairs: the invoices-and-amount key."""
    return frozenset(i for i, _ in pairs), sum(c for _, c in pairs)


@dataclass
class Evaluation:
    payments: int = 0
    auto: int = 0
    auto_correct: int = 0
    suggested: int = 0
    suggested_hit3: int = 0  # exact allocation among the top 3 (see RECALL_DEFINITIONS)
    suggested_amount_hit3: int = 0  # the right invoices and the right amount among the top 3
    not_auto_invoices_hit3: int = 0  # the right invoices among the top 3, whatever the amounts
    unidentified: int = 0
    unidentified_hit3: int = 0
    run_seconds: float = 0.0
    run_cpu_seconds: float = 0.0  # CPU time of this process: what the engine costs on a machine others share
    by_method: dict = field(default_factory=dict)  # method -> [auto, correct]
    by_reason: dict = field(default_factory=dict)
    errors: list = field(default_factory=list)  # wrong auto-applications (payment_id, method, conf)
    # Credits that are no customer payment (sweeps, interest, lockbox deposit totals): set aside by
    # the engine, or taken as payments (auto-applied ones are wrong applications of non-AR money).
    other_credits: int = 0
    other_set_aside: int = 0
    other_auto: int = 0
    other_suggested: int = 0
    payments_set_aside: int = 0  # true customer payments the engine set aside as not receivable
    open_item_times: dict = field(default_factory=dict)  # bucket -> [payments, seconds]

    def as_dict(self) -> dict:
        n = max(self.payments, 1)
        not_auto = self.suggested + self.unidentified
        return {
            "payments": self.payments,
            "auto_match_rate": self.auto / n,
            "auto_precision": self.auto_correct / max(self.auto, 1),
            "auto_applied": self.auto,
            "auto_wrong": self.auto - self.auto_correct,
            "suggested_share": self.suggested / n,
            "recall_at_3_suggested": self.suggested_hit3 / max(self.suggested, 1),
            "recall_at_3_suggested_invoices_amount": self.suggested_amount_hit3 / max(self.suggested, 1),
            "suggested": self.suggested,
            "suggested_hit3": self.suggested_hit3,
            "suggested_amount_hit3": self.suggested_amount_hit3,
            "recall_at_3_not_auto": (self.suggested_hit3 + self.unidentified_hit3) / max(not_auto, 1),
            "recall_at_3_invoices_not_auto": self.not_auto_invoices_hit3 / max(not_auto, 1),
            "unidentified_share": self.unidentified / n,
            "other_credits": self.other_credits,
            "other_credits_set_aside": self.other_set_aside,
            "other_credits_auto_applied": self.other_auto,
            "other_credits_suggested": self.other_suggested,
            "payments_set_aside": self.payments_set_aside,
            "engine_seconds": round(self.run_seconds, 3),
            "payments_per_second": self.payments / self.run_seconds if self.run_seconds else None,
            "engine_cpu_seconds": round(self.run_cpu_seconds, 3),
            "payments_per_cpu_second": self.payments / self.run_cpu_seconds if self.run_cpu_seconds else None,
            "exceptions_by_reason": dict(sorted(self.by_reason.items(), key=lambda kv: -kv[1])),
            "auto_by_method": {m: {"auto": v[0], "correct": v[1]} for m, v in sorted(self.by_method.items())},
            "time_per_payment_by_open_items": {
                f"{lo}-{hi if hi < 10**9 else 'more'}": {
                    "payments": v[0],
                    "microseconds_per_payment": round(v[1] / v[0] * 1e6, 1) if v[0] else None,
                }
                for (lo, hi), v in self.open_item_times.items()
            },
        }


@dataclass
class ReplayResult:
    evaluation: Evaluation
    scorer: Scorer
    train_payments: int
    train_seconds: float
    fit_seconds: float
    engine: CashApplicationEngine


def _settle(engine: CashApplicationEngine, feed: SimulatedFeed, result) -> None:
    """End of day: the truth of every payment of the run becomes the book and the engine's knowledge."""
    for d in result.decisions:
        t = feed.truth.get(d.payment.transaction_id)
        if t is None:
            continue
        engine.confirm(
            account=d.payment.account,
            name=d.payment.name,
            day=d.payment.date,
            amount=t.amount,
            allocations=[(a.item_id, a.cash, a.allowed_discount, a.deduction) for a in t.allocations],
            customer_id=t.customer_id,
        )


def _day_events(book: OpenItemBook, feed: SimulatedFeed, day: int) -> None:
    for it in feed.invoices_by_day.get(day, ()):
        book.add(replace(it))  # a copy: the feed's items are reused across replays and must not change
    for item_id, cents in feed.credits_by_day.get(day, ()):
        book.reduce(item_id, cents)


def _evaluate(ev: Evaluation, feed: SimulatedFeed, result, suggestions: int, per_payment: dict) -> None:
    if not result.skipped.empty:
        for tid, reason in zip(result.skipped.transaction_id, result.skipped.reason, strict=True):
            if reason in ("debit", "reversal"):
                continue
            if tid in feed.truth:
                # a customer payment set aside is a payment nobody applies: counted as not matched
                ev.payments += 1
                ev.payments_set_aside += 1
                ev.unidentified += 1
                ev.by_reason[f"set_aside_{reason}"] = ev.by_reason.get(f"set_aside_{reason}", 0) + 1
            else:
                ev.other_credits += 1
                ev.other_set_aside += 1
    for d in result.decisions:
        t = feed.truth.get(d.payment.transaction_id)
        if t is None:
            ev.other_credits += 1
            ev.other_auto += d.status == AUTO
            ev.other_suggested += d.status == SUGGESTED
            continue
        truth = t.key()
        ev.payments += 1
        if d.status == AUTO:
            ev.auto += 1
            ok = d.chosen.key() == truth
            ev.auto_correct += ok
            m = ev.by_method.setdefault(d.chosen.method, [0, 0])
            m[0] += 1
            m[1] += ok
            if not ok and len(ev.errors) < 200:
                ev.errors.append((t.payment_id, d.chosen.method, round(d.chosen.score, 4)))
        else:
            top = d.suggestions(suggestions)
            hit = any(c.key() == truth for c, _ in top)
            tk = amount_key(truth)
            hit_amount = any(amount_key(c.key()) == tk for c, _ in top)
            ids = {i for i, _ in truth}
            ev.not_auto_invoices_hit3 += any({i for i, _ in c.key()} == ids for c, _ in top)
            if d.status == SUGGESTED:
                ev.suggested += 1
                ev.suggested_hit3 += hit
                ev.suggested_amount_hit3 += hit_amount
            else:
                ev.unidentified += 1
                ev.unidentified_hit3 += hit
            ev.by_reason[d.reason] = ev.by_reason.get(d.reason, 0) + 1
    for n_open, secs in per_payment.values():
        for lo, hi in OPEN_ITEM_BUCKETS:
            if lo <= max(n_open, 1) <= hi:
                b = ev.open_item_times.setdefault((lo, hi), [0, 0.0])
                b[0] += 1
                b[1] += secs
                break


def replay(
    feed: SimulatedFeed,
    rules: Rules,
    *,
    train_share: float = 0.5,
    scorer: Scorer | None = None,
    progress=None,
) -> ReplayResult:
    """Run the world through the engine (see the module docstring). ``scorer`` given: no training, the
    whole world is evaluated with it."""
    book = OpenItemBook()
    know = PayerKnowledge.from_customers(feed.customers, rules)
    engine = CashApplicationEngine(book, know, rules)
    pay_days = sorted(feed.transactions_by_day)
    cutoff = (
        pay_days[int(len(pay_days) * train_share)]
        if scorer is None and pay_days
        else (pay_days[0] if pay_days else 0)
    )
    X, groups, days, y, elig, kinds, first = [], [], [], [], [], [], []
    n_groups = 0
    train_payments = 0
    train_seconds = 0.0
    ev = Evaluation()
    fit_seconds = 0.0
    trained = scorer is not None
    if scorer is not None:
        engine.scorer = scorer
    for i, day in enumerate(feed.days):
        _day_events(book, feed, day)
        txns = feed.transactions_by_day.get(day)
        if not txns:
            continue
        if not trained and day >= cutoff:
            t_fit = time.perf_counter()
            Xa = np.vstack(X) if X else np.zeros((0, 1))
            engine.scorer = fit_scorer(
                Xa,
                np.concatenate(y),
                np.concatenate(groups),
                np.concatenate(days),
                np.concatenate(elig),
                np.concatenate(kinds),
                rules,
                first=np.concatenate(first),
            )
            fit_seconds = time.perf_counter() - t_fit
            trained = True
            if progress:
                progress(
                    f"trained on {train_payments} payments in {fit_seconds:.1f}s: {engine.scorer.metrics}"
                )
        book.begin()
        timing: dict = {}
        engine.timing = timing if trained else None
        # process_time() outside the wall-clock interval: on a loaded machine the syscall can cost
        # milliseconds of waiting (measured: 11 ms a call at load 13), which is not the engine's time.
        c0 = time.process_time()
        t0 = time.perf_counter()
        result = engine.run(txns, feed.remittances_by_day.get(day, []), keep_candidates=not trained)
        elapsed = time.perf_counter() - t0
        cpu = time.process_time() - c0
        book.rollback()
        if trained:
            ev.run_seconds += elapsed
            ev.run_cpu_seconds += cpu
            _evaluate(ev, feed, result, rules.suggestions, timing)
        else:
            train_seconds += elapsed
            b = result.candidates
            truth = [feed.truth[tid].key() if tid in feed.truth else None for tid in b.transaction_ids]
            X.append(b.X)
            groups.append(b.groups + n_groups)
            n_groups += len(b.transaction_ids)
            days.append(b.days)
            y.append(
                np.asarray([k == truth[g] for k, g in zip(b.keys, b.groups, strict=True)], dtype=np.float64)
            )
            elig.append(b.eligible)
            kinds.append(b.kinds)
            first.append(~b.second_look)
            train_payments += sum(1 for tid in b.transaction_ids if tid in feed.truth)
            train_payments += sum(1 for tid in result.skipped.transaction_id if tid in feed.truth)
        _settle(engine, feed, result)
        if progress and i % 100 == 0:
            progress(f"day {i}/{len(feed.days)}")
    engine.timing = None
    return ReplayResult(ev, engine.scorer, train_payments, train_seconds, fit_seconds, engine)
