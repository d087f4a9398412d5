"""The ledger on a hand-made world whose every number is worked out in handmade_world.py.

Built for real with ``dbt build`` (models, data tests and unit tests all pass or the fixture fails),
then read back from DuckDB.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tests.dbt import handmade_world as world
from tests.dbt.helpers import MARTS_SCHEMA, dbt_failure_message, run_dbt

pytestmark = pytest.mark.slow

D = Decimal
BUCKET_COLUMNS = {
    "current": "current_functional",
    "1-30": "past_due_1_30_functional",
    "31-60": "past_due_31_60_functional",
    "61-90": "past_due_61_90_functional",
    "91-120": "past_due_91_120_functional",
    "120+": "past_due_over_120_functional",
}


def _open_items(warehouse) -> list[tuple]:
    return sorted(
        warehouse.query(f"""
        select item_id, item_type, customer_id, currency, open_amount, fx_rate, open_amount_functional,
            days_past_due, aging_bucket, is_disputed
        from {MARTS_SCHEMA}.fct_ar_open_items
    """)
    )


def test_open_items_on_the_as_of_date_are_the_hand_worked_ones(handmade_warehouse):
    assert _open_items(handmade_warehouse) == sorted(world.EXPECTED_OPEN_ITEMS_AS_OF)
    (as_of,) = handmade_warehouse.query(f"select distinct as_of_date from {MARTS_SCHEMA}.fct_ar_open_items")
    assert as_of == (world.AS_OF,)


def test_open_items_as_of_an_earlier_date_see_only_what_was_known_then(handmade_warehouse_earlier):
    assert _open_items(handmade_warehouse_earlier) == sorted(world.EXPECTED_OPEN_ITEMS_EARLIER)
    names = dict(
        handmade_warehouse_earlier.query(
            f"select customer_id, customer_name from {MARTS_SCHEMA}.dim_customers"
        )
    )
    assert names["C004"] == "Beta Ltd"  # renamed only in the 2026-03-01 snapshot


def test_open_item_attributes(handmade_warehouse):
    rows = {
        r[0]: r[1:]
        for r in handmade_warehouse.query(f"""
        select item_id, customer_name, parent_customer_id, top_parent_customer_id, collector_id,
            document_date, due_date, original_amount
        from {MARTS_SCHEMA}.fct_ar_open_items
    """)
    }
    assert rows["INV-3001"] == (
        "Acme Europe Retail",
        "C002",
        "C001",
        "K2",
        dt.date(2026, 3, 25),
        dt.date(2026, 4, 24),
        D("99.99"),
    )
    # credits and cash: due on their own date, original amount negative like the open amount
    assert rows["PAY-03"] == (
        "Acme Holdings",
        None,
        "C001",
        "K1",
        dt.date(2026, 3, 20),
        dt.date(2026, 3, 20),
        D("-300.00"),
    )
    assert rows["INV-4002"][3:] == ("K1", dt.date(2026, 3, 2), dt.date(2026, 4, 1), D("800.00"))


def test_aging_report_rows(handmade_warehouse):
    rows = {
        (r[0], r[1]): r[2:]
        for r in handmade_warehouse.query(f"""
        select customer_id, currency, top_parent_customer_name, collector_name, open_item_count,
            bucket_current, bucket_1_30, bucket_31_60, bucket_61_90, bucket_91_120, bucket_over_120, total_open,
            bucket_current_functional, bucket_31_60_functional, total_open_functional
        from {MARTS_SCHEMA}.rpt_ar_aging
    """)
    }
    assert set(rows) == {("C001", "USD"), ("C002", "EUR"), ("C003", "USD"), ("C004", "GBP")}
    # C001: 500 current; -300 cash and -100 credit in 1-30; 600 / 200 / 750 in the older buckets
    assert rows[("C001", "USD")] == (
        "Acme Holdings",
        "Ann Archer",
        6,
        D("500.00"),
        D("-400.00"),
        D("0.00"),
        D("600.00"),
        D("200.00"),
        D("750.00"),
        D("1650.00"),
        D("500.00"),
        D("0.00"),
        D("1650.00"),
    )
    # C002 in EUR; functional totals are sums of per-item rounded amounts: 1339.50 + 1.09 - 1.09 + 43.41
    assert rows[("C002", "EUR")] == (
        "Acme Holdings",
        "Ann Archer",
        4,
        D("1234.56"),
        D("0.00"),
        D("40.01"),
        D("0.00"),
        D("0.00"),
        D("0.00"),
        D("1274.57"),
        D("1339.50"),
        D("43.41"),
        D("1382.91"),
    )
    assert rows[("C004", "GBP")][:3] == ("Beta Limited", "Ann Archer", 3)
    assert rows[("C004", "GBP")][-1] == D("1016.99") + D("25.42") + D("38.14")


@pytest.mark.parametrize("as_of", [world.AS_OF, world.EARLIER_AS_OF], ids=str)
def test_daily_balance_equals_a_day_by_day_replay(as_of, handmade_warehouse, handmade_warehouse_earlier):
    warehouse = handmade_warehouse if as_of == world.AS_OF else handmade_warehouse_earlier
    got = {
        (r[0], r[1], r[2]): r[3:]
        for r in warehouse.query(f"""
        select balance_date, customer_id, currency, fx_rate, open_item_count, open_amount,
            open_amount_functional, {", ".join(BUCKET_COLUMNS.values())},
            invoiced_functional, collected_functional
        from {MARTS_SCHEMA}.fct_ar_balance_daily
    """)
    }
    expected = {
        key: (
            row["fx_rate"],
            row["open_item_count"],
            row["open_amount"],
            row["open_amount_functional"],
            *(row["functional"][b] for b in BUCKET_COLUMNS),
            row["invoiced_functional"],
            row["collected_functional"],
        )
        for key, row in world.replay(as_of).items()
    }
    assert sorted(got) == sorted(expected)
    mismatches = {k: (got[k], expected[k]) for k in expected if got[k] != expected[k]}
    assert mismatches == {}
    # spot checks a person can follow: INV-1001 (1,000, due 12-31) in 1-30 on 01-09, 600 after 01-10
    c001 = {k[0]: v for k, v in got.items() if k[1] == "C001"}
    if as_of == world.AS_OF:
        assert c001[dt.date(2026, 1, 9)][5] == D("1000.00")  # past_due_1_30: INV-1001 only (INV-1003 not due)
        assert c001[dt.date(2026, 1, 10)][5] == D("600.00")


def test_kpis_on_the_as_of_date_follow_their_formulas(handmade_warehouse):
    daily = world.replay(world.AS_OF)
    days = sorted({k[0] for k in daily})

    def total(day, field):
        return sum((row[field] for (d, _, _), row in daily.items() if d == day), D("0"))

    def functional(day, bucket):
        return sum((row["functional"][bucket] for (d, _, _), row in daily.items() if d == day), D("0"))

    def window(field, n):
        return sum(
            (total(world.AS_OF - dt.timedelta(days=i), field + "_functional") for i in range(n)), D("0")
        )

    open_ar = total(world.AS_OF, "open_amount_functional")
    current = functional(world.AS_OF, "current")
    sales_90, sales_30 = window("invoiced", 90), window("invoiced", 30)
    begin = total(world.AS_OF - dt.timedelta(days=30), "open_amount_functional")
    assert days[-1] == world.AS_OF

    def r2(x):
        return world._half_up(x)

    (row,) = handmade_warehouse.query(
        f"""
        select open_ar_functional, current_ar_functional, credit_sales_90d_functional, dso_standard,
            best_possible_dso, average_days_delinquent, cei_pct, pct_current, collections_30d_functional
        from {MARTS_SCHEMA}.rpt_ar_kpis where kpi_date = ?
    """,
        [world.AS_OF],
    )
    assert row == (
        open_ar,
        current,
        sales_90,
        r2(open_ar * 90 / sales_90),
        r2(current * 90 / sales_90),
        r2(open_ar * 90 / sales_90) - r2(current * 90 / sales_90),
        r2((begin + sales_30 - open_ar) * 100 / (begin + sales_30 - current)),
        r2(current * 100 / open_ar),
        window("collected", 30),
    )
    (n_days,) = handmade_warehouse.query(f"select count(*) from {MARTS_SCHEMA}.rpt_ar_kpis")[0]
    assert n_days == (world.AS_OF - days[0]).days + 1


def test_count_back_dso_walks_back_through_daily_sales(handmade_warehouse):
    daily = world.replay(world.AS_OF)
    sales = {}
    for (d, _, _), row in daily.items():
        sales[d] = sales.get(d, D("0")) + row["invoiced_functional"]
    remaining = sum(
        (row["open_amount_functional"] for (d, _, _), row in daily.items() if d == world.AS_OF), D("0")
    )
    assert remaining > 0
    day, days = world.AS_OF, D("0")
    while day >= min(sales):
        s = sales.get(day, D("0"))
        if s > remaining:
            days += world._half_up(remaining / s)  # the part of this day's sales still open
            break
        remaining -= s  # the whole day's sales are still open
        days += 1
        day -= dt.timedelta(days=1)
    (got,) = handmade_warehouse.query(
        f"select dso_countback from {MARTS_SCHEMA}.rpt_ar_kpis where kpi_date = ?", [world.AS_OF]
    )[0]
    assert got == days
    # 4,213.45 open reaches back past the 2025-12-01 invoice (120 whole days, most without sales)
    assert got == D("120.14")


def test_dimensions(handmade_warehouse):
    customers = {
        r[0]: r[1:]
        for r in handmade_warehouse.query(f"""
        select customer_id, parent_customer_id, top_parent_customer_id, top_parent_customer_name,
            hierarchy_depth, collector_name
        from {MARTS_SCHEMA}.dim_customers
    """)
    }
    assert customers == {
        "C001": (None, "C001", "Acme Holdings", 0, "Ann Archer"),
        "C002": ("C001", "C001", "Acme Holdings", 1, "Ann Archer"),
        "C003": ("C002", "C001", "Acme Holdings", 2, "Bob Baker"),
        "C004": (None, "C004", "Beta Limited", 0, "Ann Archer"),
    }
    assert sorted(
        handmade_warehouse.query(f"select collector_id, customer_count from {MARTS_SCHEMA}.dim_collectors")
    ) == [("K1", 3), ("K2", 1)]


def test_source_freshness_passes_on_fresh_loads_and_fails_on_stale_ones(
    handmade_warehouse, handmade_warehouse_earlier
):
    fresh = run_dbt(["source", "freshness"], handmade_warehouse.env, handmade_warehouse.work_dir)
    assert fresh.returncode == 0, dbt_failure_message(fresh)
    stale = run_dbt(
        ["source", "freshness"], handmade_warehouse_earlier.env, handmade_warehouse_earlier.work_dir
    )
    assert stale.returncode == 1
    assert "ERROR STALE" in stale.stdout and "erp.erp_invoices" in stale.stdout
