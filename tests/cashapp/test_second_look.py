"""The candidate kinds a specialist adds when nothing explains a payment, with concrete amounts.

Unexplained deductions (method ``deduction``: the oldest items, or the named invoices plus others, or
the named invoices with their earned discounts, closed short by a deduction within
``matching.deductions`` on the invoice ``place_deduction`` picks), the oldest items but one held back,
named invoices plus others net of their discounts, and "all on account" in the last slot when
nothing fits (off by default). Each through the engine with the real rules file; conservation checked every time.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np

from ml.cashapp.book import OpenItem
from ml.cashapp.candidates import UNEXPLAINED, Alloc, place_deduction
from ml.cashapp.engine import AUTO, SUGGESTED, check_conservation
from ml.cashapp.intake import payment_of
from ml.cashapp.rules import load_rules
from tests.cashapp.builders import DAY, engine, inv, txn


def _d(days: int) -> dt.date:
    return DAY - dt.timedelta(days=days)


def _expand(e, t):
    """First candidates and the second look of one payment, as the engine builds them."""
    ctx = e.gen.context(payment_of(t, 0))
    e.gen.generate(ctx)
    return ctx, e.gen.expand(ctx)


def _allocs(c) -> set[tuple[str, int, int, int]]:
    return {(a.item.item_id, a.cash, a.discount, a.deduction) for a in c.allocs}


def _paid_in_instalments(eng, payments, days_ago: int = 40, every: int = 10) -> None:
    """Confirmed payments, each of one invoice ((invoice, cents) pairs), the first ``days_ago`` days
    before DAY and ``every`` days apart (what teaches the payer's split share)."""
    for k, (item_id, paid) in enumerate(payments):
        eng.confirm(
            account=None,
            name=None,
            day=DAY.toordinal() - days_ago + every * k,
            amount=paid,
            allocations=[(item_id, paid, 0, 0)],
        )


def test_place_deduction_puts_it_on_the_oldest_item_that_can_carry_it():
    rules = load_rules()
    old = OpenItem("INV-1", "C1", "USD", 100, 130, 20_000, 20_000)  # 200.00, due first
    mid = OpenItem("INV-2", "C1", "USD", 110, 140, 100_000, 100_000)
    new = OpenItem("INV-3", "C1", "USD", 120, 150, 50_000, 50_000)
    allocs = [Alloc(new, 50_000), Alloc(mid, 100_000), Alloc(old, 20_000)]
    # 90.00 is 45% of INV-1 (above max_share 0.30): the next oldest, INV-2, carries it
    a = place_deduction(allocs, 9_000, "USD", rules)
    assert a is not None and a.item.item_id == "INV-2"
    assert (a.cash, a.deduction, a.reason) == (91_000, 9_000, UNEXPLAINED)
    assert sum(x.cash for x in allocs) == 170_000 - 9_000
    # 40.00 fits on INV-1 (20%), the oldest
    allocs = [Alloc(new, 50_000), Alloc(old, 20_000)]
    assert place_deduction(allocs, 4_000, "USD", rules).item.item_id == "INV-1"
    # below min_amount (1.00), or above 30% of every item: no deduction, allocations untouched
    allocs = [Alloc(old, 20_000)]
    assert place_deduction(allocs, 99, "USD", rules) is None
    assert place_deduction(allocs, 6_001, "USD", rules) is None
    assert allocs[0].cash == 20_000 and allocs[0].deduction == 0


def _three_old_and_a_new() -> list[dict]:
    """C000001's open invoices: three old ones of 2,400.00 together, and a recent 2,000.00."""
    return [
        inv("INV-300001", "C000001", "1000.00", issued=_d(90)),
        inv("INV-300002", "C000001", "800.00", issued=_d(80)),
        inv("INV-300003", "C000001", "600.00", issued=_d(70)),
        inv("INV-300004", "C000001", "2000.00", issued=_d(10)),
    ]


def test_oldest_items_closed_short_by_an_unexplained_deduction():
    items = _three_old_and_a_new()
    e = engine(items)
    t = txn("2250.00")  # 1000 + 800 + 600 = 2400.00, 150.00 short: 15% of INV-300001, the oldest
    ctx, more = _expand(e, t)
    assert not any(c.group == "explained" for c in ctx.candidates)
    short = [c for c in more if c.method == "deduction" and len(c.allocs) == 3]
    assert [_allocs(c) for c in short] == [
        {("INV-300001", 85_000, 0, 15_000), ("INV-300002", 80_000, 0, 0), ("INV-300003", 60_000, 0, 0)}
    ]
    assert short[0].unapplied == 0 and short[0].group == "residual"
    assert any("unexplained deduction" in ev for ev in short[0].evidence)
    res = engine(items).run([t])
    check_conservation(res)
    assert res.payments.status.tolist() == [SUGGESTED]  # an unexplained deduction is never applied alone


def test_a_round_amount_just_above_the_only_item_below_it_is_that_item_rounded_up():
    """810.00 from a customer whose only open item below that is 806.24: the item in full, 3.76 on
    account (the others are larger than the payment, so no sum of items is searched)."""
    items = [
        inv("INV-330001", "C000001", "806.24", issued=_d(40)),
        inv("INV-330002", "C000001", "2000.00", issued=_d(30)),
        inv("INV-330003", "C000001", "3500.00", issued=_d(20)),
    ]
    e = engine(items)
    ctx = e.gen.context(payment_of(txn("810.00"), 0))
    e.gen.generate(ctx)
    rounded = [c for c in ctx.candidates if c.method == "overpayment"]
    assert [(_allocs(c), c.unapplied) for c in rounded] == [({("INV-330001", 80_624, 0, 0)}, 376)]
    assert any("round amount" in ev for ev in rounded[0].evidence)
    res = engine(items).run([txn("810.00")])
    check_conservation(res)


def test_a_round_amount_covering_the_oldest_items_is_proposed_among_other_sums_in_range():
    """12,800.00 from a customer with fourteen open items: its four oldest come to 12,786.57 (rounded up
    to the next hundred), and other sets of up to four fall between 12,700.01 and 12,799.99 too. The
    oldest are proposed even when the bounded search finds the others first."""
    amounts = ["2861.25", "2678.21", "2614.52", "4632.59", "7430.25", "2168.94", "6722.27", "2200.00"]
    amounts += ["2053.36", "1200.00", "1400.00", "1774.79", "6128.59", "2900.00"]
    items = [inv(f"INV-34{k:04d}", "C000001", a, issued=_d(60 - 3 * k)) for k, a in enumerate(amounts)]
    e = engine(items)
    ctx = e.gen.context(payment_of(txn("12800.00"), 0))
    e.gen.generate(ctx)
    rounded = [c for c in ctx.candidates if c.method == "overpayment" and c.unapplied]
    oldest = {("INV-340000", 286_125, 0, 0), ("INV-340001", 267_821, 0, 0)}
    oldest |= {("INV-340002", 261_452, 0, 0), ("INV-340003", 463_259, 0, 0)}
    assert [c.unapplied for c in rounded if _allocs(c) == oldest] == [1_343]
    assert len(rounded) > 1  # the other sums in range are still there
    res = engine(items).run([txn("12800.00")])
    check_conservation(res)


def test_a_later_run_of_items_closed_short_by_an_unexplained_deduction():
    """The payer skips its two oldest (large, perhaps disputed) items and pays the next three, one of
    them short: no run from the oldest fits, the run from the third item does."""
    items = [
        inv("INV-320001", "C000001", "9000.00", issued=_d(120)),
        inv("INV-320002", "C000001", "8000.00", issued=_d(110)),
        inv("INV-320003", "C000001", "3000.00", issued=_d(60)),
        inv("INV-320004", "C000001", "2500.00", issued=_d(55)),
        inv("INV-320005", "C000001", "1500.00", issued=_d(50)),
        inv("INV-320006", "C000001", "2000.00", issued=_d(20)),
    ]
    e = engine(items)
    t = txn("6760.00")  # 3000 + 2500 + 1500 = 7000.00, 240.00 short: 8% of INV-320003, the run's oldest
    ctx, more = _expand(e, t)
    run = {
        ("INV-320003", 276_000, 0, 24_000),
        ("INV-320004", 250_000, 0, 0),
        ("INV-320005", 150_000, 0, 0),
    }
    assert run not in [_allocs(c) for c in ctx.candidates]
    found = [c for c in more if _allocs(c) == run]
    assert len(found) == 1 and found[0].method == "deduction" and found[0].unapplied == 0
    assert any("due" in ev for ev in found[0].evidence)
    assert any("unexplained deduction" in ev and "INV-320003" in ev for ev in found[0].evidence)
    res = engine(items).run([t])
    check_conservation(res)
    assert res.payments.status.tolist() == [SUGGESTED]


def test_named_invoice_plus_unnamed_ones_short_by_a_deduction():
    items = [
        inv("INV-310001", "C000001", "500.00", issued=_d(60)),
        inv("INV-310002", "C000001", "300.00", issued=_d(50)),
        inv("INV-310003", "C000001", "200.00", issued=_d(40)),
        inv("INV-310004", "C000001", "5000.00", issued=_d(30)),
    ]
    e = engine(items)
    # names INV-310001 only, pays 960.00: 500 + 300 + 200 less 40.00, which INV-310001 (oldest) carries
    t = txn("960.00", text="PAYMENT INV-310001")
    _ctx, more = _expand(e, t)
    want = {("INV-310001", 46_000, 0, 4_000), ("INV-310002", 30_000, 0, 0), ("INV-310003", 20_000, 0, 0)}
    assert want in [_allocs(c) for c in more if c.method == "deduction"]
    res = engine(items).run([t])
    check_conservation(res)
    assert res.payments.status.tolist() == [SUGGESTED]
    assert res.payments.suggested_amount.iloc[0] + res.payments.unapplied_amount.iloc[0] == Decimal("960.00")


def test_named_invoices_with_the_earned_discounts_and_one_short():
    items = [
        # 2% earned (discount date today), 2% no longer earned (date long past), no terms
        inv("INV-320001", "C000001", "1000.00", issued=_d(5), discount_pct="2.0000", discount_due=DAY),
        inv("INV-320002", "C000001", "500.00", issued=_d(60), discount_pct="2.0000", discount_due=_d(50)),
        inv("INV-320003", "C000001", "300.00", issued=_d(50)),
    ]
    e = engine(items)
    # 980.00 (less its 20.00 earned discount) + 500.00 + 300.00 = 1780.00; paid 1755.00: 25.00 short
    t = txn("1755.00", text="INV-320001 INV-320002 INV-320003")
    ctx, more = _expand(e, t)
    got = [_allocs(c) for c in more if c.method == "deduction"]
    assert {
        ("INV-320001", 98_000, 2_000, 0),
        ("INV-320002", 50_000, 0, 0),
        ("INV-320003", 27_500, 0, 2_500),
    } in got
    # INV-320002 short: the same cash on the same invoices as a first candidate (both discounts
    # taken, 15.00 short on it), so the second look does not propose it again
    first = {c.key() for c in ctx.candidates}
    assert frozenset({("INV-320001", 98_000), ("INV-320002", 47_500), ("INV-320003", 30_000)}) in first
    assert all(c.key() not in first for c in more)
    check_conservation(engine(items).run([t]))


def test_oldest_items_but_one_held_back_are_applied():
    # ten oldest items but the third (disputed, held back): more than the subset search's 8 items
    cents = [41_000, 123_456, 39_000, 51_525, 22_010, 30_303, 47_070, 18_800, 26_262, 33_333, 19_191]
    items = [
        inv(f"INV-33{n:04d}", "C000001", f"{c / 100:.2f}", issued=_d(120 - 5 * n))
        for n, c in enumerate(cents)
    ]
    items.append(inv("INV-339999", "C000001", "90000.00", issued=_d(5)))
    paid = sum(cents) - cents[1]
    res = engine(items).run([txn(f"{paid / 100:.2f}")])
    check_conservation(res)
    assert res.payments.status.tolist() == [AUTO]
    apps = {(r.item_id, r.applied_amount) for r in res.applications.itertuples()}
    assert apps == {(f"INV-33{n:04d}", Decimal(c) / 100) for n, c in enumerate(cents) if n != 1}
    assert res.applications.method.unique().tolist() == ["subset_sum"]
    assert "but INV-330001" in res.applications.evidence.iloc[0]


def test_named_invoice_plus_an_unnamed_one_net_of_its_discount():
    items = [
        inv("INV-340001", "C000001", "400.00", issued=_d(45)),
        inv("INV-340002", "C000001", "500.00", issued=_d(5), discount_pct="2.0000", discount_due=DAY),
        inv("INV-340003", "C000001", "777.00", issued=_d(30)),
    ]
    res = engine(items).run([txn("890.00", text="INV-340001")])  # 400.00 + 500.00 less 10.00 discount
    check_conservation(res)
    assert res.payments.status.tolist() == [AUTO]
    rows = {(r.item_id, r.applied_amount, r.discount_amount) for r in res.applications.itertuples()}
    assert rows == {
        ("INV-340001", Decimal("400.00"), Decimal("0.00")),
        ("INV-340002", Decimal("490.00"), Decimal("10.00")),
    }


def test_all_on_account_can_take_the_last_slot_when_nothing_fits():
    items = [inv(f"INV-35000{i}", "C000001", "1000.00", issued=_d(60 - 5 * i)) for i in range(1, 5)]
    res = engine(items).run([txn("123.45")])  # less than any invoice: only partial readings
    check_conservation(res)
    assert res.payments.status.tolist() == [SUGGESTED]
    s = res.suggestions
    assert sorted(s["rank"].unique().tolist()) == [1, 2, 3]
    assert set(s["method"]) == {"partial"}  # the default: the three best, on account not among them
    d = res.decisions[0]
    slotted = d.suggestions(3, on_account_slot=True)
    assert [c.method for c, _ in slotted] == ["partial", "partial", "on_account"]
    assert slotted[2][0].unapplied == 12_345 and not slotted[2][0].allocs
    assert [c.key() for c, _ in slotted[:2]] == [c.key() for c, _ in d.suggestions(3)[:2]]


def test_the_invoices_and_amount_key_ignores_only_the_split():
    from ml.cashapp.replay import amount_key

    truth = frozenset({("INV-1", 85_000), ("INV-2", 80_000), ("INV-3", 60_000)})
    other_split = frozenset({("INV-1", 100_000), ("INV-2", 65_000), ("INV-3", 60_000)})
    less_cash = frozenset({("INV-1", 85_000), ("INV-2", 80_000), ("INV-3", 59_999)})
    one_more = truth | {("INV-4", 1)}
    assert amount_key(truth) == amount_key(other_split) == (frozenset({"INV-1", "INV-2", "INV-3"}), 225_000)
    assert amount_key(less_cash) != amount_key(truth)
    assert amount_key(one_more) != amount_key(truth)
    assert amount_key(frozenset()) == (frozenset(), 0)  # all on account


def test_candidates_on_one_calibration_step_are_ordered_by_the_scorers_raw_score():
    from ml.cashapp.candidates import Candidate
    from ml.cashapp.engine import _rank_key

    item = OpenItem("INV-1", "C1", "USD", 100, 130, 20_000, 20_000)

    def cand(score, raw, prior):
        c = Candidate("partial", "C1", "C1", [Alloc(item, 10_000)], 0)
        c.score, c.raw_score, c.prior = score, raw, prior
        return c

    a, b, c = cand(0.025, 0.10, 0.9), cand(0.025, 0.30, 0.1), cand(0.4, 0.01, 0.0)
    # the isotonic map puts a and b on one step (0.025): the model's own score tells them apart
    assert sorted([a, b, c], key=_rank_key) == [c, b, a]
    b.raw_score = a.raw_score
    assert sorted([a, b, c], key=_rank_key) == [c, a, b]  # then the generator's prior


def test_the_candidate_cap_keeps_every_possible_payers_first_candidates():
    from ml.cashapp.candidates import MAX_CANDIDATES, Candidate, by_prior_across_families

    def cand(family, n):
        item = OpenItem(f"INV-{family}-{n}", family, "USD", 100, 130, 20_000, 20_000)
        c = Candidate("partial", family, family, [Alloc(item, 10_000)], 0)
        c.prior = 0.2
        return c

    # four possible payers, ten equally plausible candidates each, made family after family
    made = [cand(fam, n) for fam in ("C1", "C2", "C3", "C4") for n in range(10)]
    kept = by_prior_across_families(made)[:MAX_CANDIDATES]
    assert {c.family for c in kept[:4]} == {"C1", "C2", "C3", "C4"}
    assert all(sum(c.family == fam for c in kept) == MAX_CANDIDATES // 4 for fam in ("C1", "C2", "C3", "C4"))
    # a higher prior still comes first, whatever its family and rank
    made[-1].prior = 0.9
    assert by_prior_across_families(made)[0] is made[-1]


def test_an_instalment_payers_mix_of_rests_and_first_instalments_is_proposed():
    # An instalment payer (40 % first, the rest later) pays the rests of INV-1 and INV-5 whole and
    # 40 % of INV-2 in one run, naming INV-2 only: nothing in full explains 1,700.00, and no pair of
    # "one in full, part of another" covers three invoices.
    import datetime as dt

    from tests.cashapp.builders import DAY, engine, inv, txn

    def candidates(split_habit: bool):
        items = [
            inv("INV-1", "C000001", "1000.00", open_amount="600.00", issued=DAY - dt.timedelta(days=60)),
            inv("INV-5", "C000001", "500.00", open_amount="300.00", issued=DAY - dt.timedelta(days=58)),
            inv("INV-3", "C000001", "1500.00", issued=DAY - dt.timedelta(days=35)),  # older, not named
            inv("INV-2", "C000001", "2000.00", issued=DAY - dt.timedelta(days=30)),
            inv("INV-8", "C000001", "500.00", issued=DAY - dt.timedelta(days=90)),
            inv("INV-9", "C000001", "800.00", issued=DAY - dt.timedelta(days=90)),
        ]
        eng = engine(items)
        for iid, cash in (("INV-8", 20000), ("INV-9", 32000)):
            paid = cash if split_habit else {"INV-8": 50000, "INV-9": 80000}[iid]  # in part, or whole
            eng.confirm(
                account=None,
                name=None,
                day=DAY.toordinal() - 20,
                amount=paid,
                allocations=[(iid, paid, 0, 0)],
            )
        res = eng.run([txn("1700.00", text="INV-2")])
        return [{a.item.item_id: a.cash for a in c.allocs} for d in res.decisions for c, _ in d.ranked]

    mix = {"INV-1": 60000, "INV-5": 30000, "INV-2": 80000}
    assert mix in candidates(split_habit=True)
    assert mix not in candidates(split_habit=False)  # a payer that pays invoices whole: no such proposal


def test_an_instalment_payers_run_in_full_but_one_first_instalment_is_proposed():
    # An instalment payer (about 60 % first) pays its five oldest invoices, four in full and 60 % of
    # INV-3, without a remittance: their total is 1,187.66 more than the 5,312.34 paid, no set of open
    # items sums to it, and no deduction within the rules closes them that short.
    import datetime as dt

    from tests.cashapp.builders import DAY, engine, inv, txn

    def candidates(split_habit: bool):
        items = [
            inv("INV-1", "C000001", "700.00", issued=DAY - dt.timedelta(days=70)),
            inv("INV-2", "C000001", "900.00", issued=DAY - dt.timedelta(days=65)),
            inv("INV-3", "C000001", "3000.00", issued=DAY - dt.timedelta(days=60)),
            inv("INV-4", "C000001", "1100.00", issued=DAY - dt.timedelta(days=55)),
            inv("INV-5", "C000001", "800.00", issued=DAY - dt.timedelta(days=50)),
            inv("INV-6", "C000001", "2450.00", issued=DAY - dt.timedelta(days=20)),
            inv("INV-9", "C000001", "1000.00", issued=DAY - dt.timedelta(days=120)),
        ]
        eng = engine(items)
        # INV-9 paid in two instalments (60 %, then the rest), or whole
        _paid_in_instalments(
            eng, [("INV-9", 60000), ("INV-9", 40000)] if split_habit else [("INV-9", 100000)]
        )
        res = eng.run([txn("5312.34")])
        check_conservation(res)
        return [{a.item.item_id: a.cash for a in c.allocs} for d in res.decisions for c, _ in d.ranked]

    run = {"INV-1": 70000, "INV-2": 90000, "INV-3": 181234, "INV-4": 110000, "INV-5": 80000}
    assert run in candidates(split_habit=True)
    assert run not in candidates(split_habit=False)  # a payer that pays invoices whole: no such proposal


def test_the_named_invoices_and_a_rest_in_full_but_one_first_instalment_are_proposed():
    # The payment names INV-2 and INV-3 and pays the rest of INV-1 (part-paid before, not named) too:
    # INV-1's rest and INV-2 in full, 60 % of INV-3.
    import datetime as dt

    from tests.cashapp.builders import DAY, engine, inv, txn

    def candidates():
        items = [
            inv("INV-1", "C000001", "1000.00", open_amount="430.00", issued=DAY - dt.timedelta(days=70)),
            inv("INV-7", "C000001", "900.00", open_amount="375.50", issued=DAY - dt.timedelta(days=66)),
            inv("INV-2", "C000001", "1250.00", issued=DAY - dt.timedelta(days=40)),
            inv("INV-3", "C000001", "2875.00", issued=DAY - dt.timedelta(days=35)),
            inv("INV-4", "C000001", "1990.00", issued=DAY - dt.timedelta(days=20)),
            inv("INV-9", "C000001", "1000.00", issued=DAY - dt.timedelta(days=120)),
        ]
        eng = engine(items)
        _paid_in_instalments(eng, [("INV-9", 60000), ("INV-9", 40000)])  # 60 %, then the rest
        res = eng.run([txn("3405.00", text="INV-2 INV-3")])
        check_conservation(res)
        return [{a.item.item_id: a.cash for a in c.allocs} for d in res.decisions for c, _ in d.ranked]

    # with INV-7's rest whole too, the 1,349.50 left is 47 % of INV-3: not this payer's share
    assert {"INV-1": 43000, "INV-2": 125000, "INV-3": 172500} in candidates()


def test_an_instalment_mix_of_fewer_invoices_comes_before_larger_ones_nearer_the_share():
    # A payer that pays 60 % first: 1,200.00 is 59 % of INV-A and INV-B together, and four sets of three
    # smaller invoices come nearer 60 % by chance (59.5-60.2 %). The pair is proposed.
    amounts = {"INV-A": "1000.00", "INV-B": "1040.00", "INV-C": "660.00", "INV-D": "670.00"}
    amounts |= {"INV-E": "680.00", "INV-F": "665.00"}
    items = [
        inv(i, "C000001", a, issued=DAY - dt.timedelta(days=40 - k))
        for k, (i, a) in enumerate(amounts.items())
    ]
    items += [inv(f"INV-{k}", "C000001", "1000.00", issued=DAY - dt.timedelta(days=120)) for k in (8, 9)]
    e = engine(items)
    paid = [("INV-8", 60000), ("INV-9", 60000), ("INV-8", 40000), ("INV-9", 40000)]
    _paid_in_instalments(e, paid, days_ago=50, every=5)
    ctx, more = _expand(e, txn("1200.00"))
    mixes = [c for c in more if c.method == "partial" and "usually pays" in c.evidence[0]]
    sets = [frozenset(a.item.item_id for a in c.allocs) for c in mixes]
    assert frozenset({"INV-A", "INV-B"}) in sets
    assert all(len(s) == 2 for s in sets)  # pairs within the share's tolerance before any three


def test_the_oldest_items_but_one_held_back_closed_short_by_a_deduction():
    # Five oldest items; the payer holds back INV-350004 (perhaps disputed) and pays the other four,
    # 37.48 short: 654.33 + 642.73 + 340.50 + 235.73 = 1,873.29 for 1,835.81. No run of consecutive
    # items, no set summing to the amount, and no run closed short explains it.
    amounts = ["654.33", "642.73", "340.50", "887.65", "235.73", "1010.43", "661.34", "483.75"]
    items = [inv(f"INV-35{k:04d}", "C000001", a, issued=_d(60 - 3 * k)) for k, a in enumerate(amounts, 1)]
    e = engine(items)
    ctx, more = _expand(e, txn("1835.81"))
    held = [c for c in more if c.method == "deduction" and "but INV-350004" in c.evidence[0]]
    paid = {"INV-350001", "INV-350002", "INV-350003", "INV-350005"}
    assert [{a.item.item_id for a in c.allocs} for c in held][:1] == [paid]
    c = held[0]
    assert sum(a.cash for a in c.allocs) == 183_581 and sum(a.deduction for a in c.allocs) == 3_748
    res = engine(items).run([txn("1835.81")])
    check_conservation(res)
    # an invoice the payment names is not the one it held back
    ctx, more = _expand(engine(items), txn("1835.81", text="INV-350004"))
    assert not any(c.method == "deduction" and "but INV-350004" in c.evidence[0] for c in more)


def test_a_second_looks_candidates_are_kept_as_training_rows_after_their_payments_first_ones():
    items = [*_three_old_and_a_new(), inv("INV-300005", "C000002", "700.00", issued=_d(30))]
    # the first is short by 150.00 (a second look closes the oldest items short), the second exact
    run = [txn("2250.00"), txn("700.00", name="BETA TRADING LLC", account="GB00BETA0000000002")]
    res = engine(items).run(run, keep_candidates=True)
    b = res.candidates
    assert b.second_look is not None and len(b.second_look) == len(b.groups) == len(b.X)
    assert (np.diff(b.groups) >= 0).all()  # grouped by payment, as fit_scorer expects
    look = b.second_look
    assert look.any() and set(b.groups[look]) == {0}  # only the suggested payment looked again
    first0 = b.groups == 0
    # within the payment, its first candidates come first, then the second look's
    assert look[first0].tolist() == sorted(look[first0].tolist())
    short = frozenset({("INV-300001", 85_000), ("INV-300002", 80_000), ("INV-300003", 60_000)})
    assert short in [b.keys[i] for i in np.flatnonzero(look)]
    assert short not in [b.keys[i] for i in np.flatnonzero(~look)]
    frame = b.to_frame()
    assert frame["second_look"].tolist() == look.tolist()


def _statement(n: int, seed: int = 5) -> list[dict]:
    """``n`` open invoices of one customer, one every two days, the oldest due 90 days ago, of
    unrelated amounts (no two sets of a few of them sum alike)."""
    import random

    rng = random.Random(seed)
    return [
        inv(
            f"INV-4000{k:02d}",
            "C000001",
            f"{rng.randint(50_000, 500_000) / 100:.2f}",
            due=DAY - dt.timedelta(days=90 - 2 * k),
        )
        for k in range(n)
    ]


def test_the_oldest_items_with_several_held_back_are_proposed():
    # An AP run pays everything due up to the 25th oldest invoice but two on hold (the 4th and the
    # 12th). 23 invoices: beyond the bounded search's sets of 8, and the oldest 8 are not among the
    # 22 due nearest the payment date that the exhaustive search reads.
    items = _statement(30)
    held = {3, 11}
    paid = [it for k, it in enumerate(items[:25]) if k not in held]
    total = sum(it["open_amount"] for it in paid)
    e = engine(items)
    t = txn(f"{total:.2f}")
    ctx, more = _expand(e, t)
    want = {(it["item_id"], int(it["open_amount"] * 100), 0, 0) for it in paid}
    assert not any(_allocs(c) == want for c in ctx.candidates)  # the first look does not find it
    runs = [c for c in more if _allocs(c) == want]
    assert len(runs) == 1 and runs[0].method == "subset_sum" and runs[0].unapplied == 0
    assert "but 2 held back: INV-400003, INV-400011" in runs[0].evidence[0]
    res = engine(items).run([t])
    check_conservation(res)


def test_an_invoice_the_payment_names_is_never_one_held_back():
    items = _statement(30)
    paid = [it for k, it in enumerate(items[:25]) if k not in {3, 11}]
    total = sum(it["open_amount"] for it in paid)
    named = txn(f"{total:.2f}", text="INV-400003")  # names one of the two the run leaves out
    _, more = _expand(engine(items), named)
    assert not any("held back" in c.evidence[0] and "INV-400003" in c.evidence[0] for c in more)
