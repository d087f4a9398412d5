"""The bounded subset search: exact against brute force when the bound is not hit, never past its bound."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from ml.cashapp.candidates import subset_sum


def _brute(values, lo, hi, max_size):
    return {
        tuple(sorted(c))
        for k in range(2, max_size + 1)
        for c in itertools.combinations(range(len(values)), k)
        if lo <= sum(values[i] for i in c) <= hi
    }


@settings(max_examples=80, deadline=None)
@given(
    values=st.lists(st.integers(min_value=1, max_value=5_000), min_size=2, max_size=10),
    pick=st.lists(st.integers(min_value=0, max_value=9), min_size=2, max_size=4, unique=True),
    max_size=st.integers(min_value=2, max_value=5),
)
def test_finds_every_set_brute_force_finds(values, pick, max_size):
    target = sum(values[i % len(values)] for i in set(p % len(values) for p in pick))
    found, nodes = subset_sum(values, target, target, max_size, 10**7, 10**6)
    want = _brute(values, target, target, max_size)
    assert set(found) == want
    assert all(sum(values[i] for i in s) == target for s in found)


def test_stops_at_its_bound():
    # even amounts, odd target: unreachable, but no pruning can tell: the worst case
    values = [2000 + 2 * i for i in range(40)]
    found, nodes = subset_sum(values, 8101, 8101, 8, 5_000, 6)
    assert found == [] and nodes == 5_001  # stopped as soon as the budget was spent
    found, nodes = subset_sum(values, 4002, 4002, 8, 20_000, 3)
    assert found == [(0, 1)] and nodes <= 20_000
    # out of reach: pruned before a single step
    assert subset_sum(values, 10**9, 10**9, 8, 5_000, 6) == ([], 0)


def test_range_target_for_rounded_up_payments():
    # 700.00 + 248.13 paid as 950.00 (rounded up to a whole ten): sets in [940.01, 949.99]
    found, _ = subset_sum([70000, 24813, 50000, 99999], 94001, 94999, 4, 1000, 5)
    assert (0, 1) in found
