"""The exhaustive search over the open items due nearest the payer's habitual date (meet in the middle):
exact against brute force, and through the engine it finds a set the bounded depth-first search
runs out of steps before reaching."""

from __future__ import annotations

import datetime as dt
import itertools
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from ml.cashapp.candidates import WIDE_KEEP, subset_sum, subset_sum_all
from ml.cashapp.engine import check_conservation
from ml.cashapp.intake import payment_of
from ml.cashapp.rules import load_rules
from tests.cashapp.builders import DAY, engine, inv, txn


def _brute(values, target):
    return {
        c
        for k in range(2, len(values) + 1)
        for c in itertools.combinations(range(len(values)), k)
        if sum(values[i] for i in c) == target
    }


@settings(max_examples=80, deadline=None)
@given(
    values=st.lists(st.integers(min_value=1, max_value=3_000), min_size=0, max_size=11),
    pick=st.lists(st.integers(min_value=0, max_value=10), min_size=1, max_size=5, unique=True),
)
def test_finds_every_set_brute_force_finds(values, pick):
    target = sum(values[p % len(values)] for p in {p % len(values) for p in pick}) if values else 7
    found = subset_sum_all(values, target, 10**6)
    assert len(found) == len(set(found))
    assert set(found) == _brute(values, target)


def test_stops_collecting_at_its_cap():
    values = [100] * 10  # C(10, 2) = 45 pairs sum to 200
    assert len(subset_sum_all(values, 200, 10)) == 10
    assert len(subset_sum_all(values, 200, 1000)) == 45


def _account(seed: int = 3, n: int = 50):
    """An account of ``n`` open items of similar size, one falling due each day, and a payment of six
    of them due within two weeks of each other, not consecutive (two held back: what a payer settling
    a statement run sends)."""
    rng = random.Random(seed)
    items = []
    for i in range(n):
        cents = rng.randint(400_000, 3_000_000)
        items.append(
            inv(
                f"INV-{700000 + i}",
                "C000001",
                f"{cents // 100}.{cents % 100:02d}",
                due=DAY - dt.timedelta(days=n - i),
            )
        )
    paid = [items[i] for i in (36, 38, 39, 41, 44, 47)]
    total = sum(int(it["open_amount"] * 100) for it in paid)
    return items, frozenset(it["item_id"] for it in paid), f"{total // 100}.{total % 100:02d}"


def _wide(cands):
    return [c for c in cands if "due nearest" in " ".join(c.evidence)]


def test_finds_the_set_the_bounded_search_runs_out_of_steps_before():
    items, paid, amount = _account()
    rules = load_rules()
    e = engine(items, rules=rules)
    ctx = e.gen.context(payment_of(txn(amount, text="SUPPLIER PAYMENT"), 0))
    pool = e.gen._nearest(
        [it for it in e.book.sorted_open("C000001", "USD") if it.open_cents <= ctx.payment.amount],
        ctx.payment,
        "C000001",
    )
    found, nodes = subset_sum(
        [it.open_cents for it in pool],
        ctx.payment.amount,
        ctx.payment.amount,
        rules.subset_max_set_size,
        rules.subset_max_nodes,
        rules.subset_max_solutions,
    )
    # the bounded search over the same account does not reach it: what this search is for
    assert paid not in {frozenset(pool[i].item_id for i in s) for s in found}
    wide = _wide(e.gen.generate(ctx))
    hit = [c for c in wide if frozenset(a.item.item_id for a in c.allocs) == paid]
    assert len(hit) == 1 and hit[0].method == "subset_sum"
    assert all(a.cash == a.item.open_cents for a in hit[0].allocs) and hit[0].unapplied == 0
    assert len(wide) <= WIDE_KEEP


def test_not_run_when_one_item_explains_the_amount():
    items, _, _ = _account()
    e = engine(items)
    ctx = e.gen.context(payment_of(txn(str(items[10]["open_amount"])), 0))
    cands = e.gen.generate(ctx)
    assert any(c.method == "exact_amount" for c in cands)
    assert not _wide(cands)


def test_a_run_with_the_wide_search_conserves_every_cent():
    items, paid, amount = _account()
    res = engine(items).run([txn(amount, text="SUPPLIER PAYMENT")])
    check_conservation(res)
    assert len(res.suggestions) + len(res.applications) > 0
