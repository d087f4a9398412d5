"""Same arguments, same bytes; another seed, another world; a customer's history is its own."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import subprocess
import sys

import pytest

from simulator.profiles import build_customers
from simulator.world import simulate_world


def _digest(root) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_arguments_give_byte_identical_files(tiny_world, tiny_world_again):
    a, b = _digest(tiny_world.root), _digest(tiny_world_again.root)
    assert len(a) > 1000  # every extract, a file per day
    assert a == b


def test_another_seed_gives_another_world(tiny_world, tmp_path):
    simulate_world(tmp_path, customers=20, years=1, seed=8, as_of=dt.date(2026, 11, 20))
    a, b = _digest(tiny_world.root), _digest(tmp_path)
    name = "landing/erp/customers/customers_2026-11-20.csv"
    assert a[name] != b[name]
    assert a["ground_truth/invoice_outcomes.csv"] != b["ground_truth/invoice_outcomes.csv"]


def test_a_customers_profile_does_not_depend_on_how_many_others_exist():
    small = build_customers(42, 30, dt.date(2024, 11, 1), dt.date(2026, 11, 20))
    large = build_customers(42, 300, dt.date(2024, 11, 1), dt.date(2026, 11, 20))
    for a, b in zip(small, large[:30], strict=True):
        assert (a.customer_id, a.archetype, a.segment, a.country, a.terms, a.mean_delay, a.amount_median) == (
            b.customer_id,
            b.archetype,
            b.segment,
            b.country,
            b.terms,
            b.mean_delay,
            b.amount_median,
        )


def test_rerun_into_the_same_folder_replaces_the_previous_worlds_extract_files(tmp_path):
    stale = tmp_path / "landing" / "erp" / "invoices" / "invoices_1999-01-01.csv"
    foreign = tmp_path / "landing" / "erp" / "README.txt"
    stale.parent.mkdir(parents=True)
    stale.write_text("invoice_id\nINV-1\n")
    foreign.write_text("not the simulator's")
    simulate_world(tmp_path, customers=3, years=1, seed=1)
    assert not stale.exists()  # a previous world's day file would otherwise load with this one
    assert foreign.read_text() == "not the simulator's"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"customers": 0}, "customers must be at least 1"),
        ({"years": 0}, "years must be between 1 and 10"),
    ],
)
def test_bad_arguments_are_refused_with_a_clear_message(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        simulate_world(tmp_path, **kwargs)


def test_identical_in_another_process_with_another_hash_seed(tiny_world, tmp_path):
    """String hashing differs between processes: nothing may depend on set or hash order."""
    code = (
        "import datetime as dt, sys; from pathlib import Path; from simulator.world import simulate_world; "
        "simulate_world(Path(sys.argv[1]), customers=20, years=1, seed=7, as_of=dt.date(2026, 11, 20))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, env=env, timeout=300)
    assert _digest(tmp_path) == _digest(tiny_world.root)
