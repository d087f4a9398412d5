"""The ledger on the session's small simulated world: equal to the simulator's truth on DuckDB, and
the same SQL built on PostgreSQL gives the same marts, row for row and digit for digit."""

from __future__ import annotations

import csv
from decimal import Decimal

import pytest

from tests.dbt.helpers import (
    MARTS,
    MARTS_SCHEMA,
    copy_raw_to_postgres,
    dbt_failure_message,
    duckdb_table,
    postgres_table,
    run_dbt,
    sorted_rows,
)

pytestmark = pytest.mark.slow


def test_open_items_equal_the_simulators_truth(simulated_warehouse, small_world_dir):
    truth = {}
    with (small_world_dir / "ground_truth" / "open_items.csv").open() as f:
        for r in csv.DictReader(f):
            truth[r["item_id"]] = (
                r["item_type"],
                r["customer_id"],
                r["currency"],
                r["document_date"],
                r["due_date"],
                Decimal(r["open_amount"]),
                Decimal(r["fx_rate"]),
                Decimal(r["open_amount_functional"]),
                int(r["days_past_due"]),
                r["aging_bucket"],
            )
    got = {
        r[0]: r[1:]
        for r in simulated_warehouse.query(f"""
        select item_id, item_type, customer_id, currency, cast(document_date as varchar),
            cast(due_date as varchar), open_amount, fx_rate, open_amount_functional, days_past_due, aging_bucket
        from {MARTS_SCHEMA}.fct_ar_open_items
    """)
    }
    assert len(truth) > 100  # a world with something in every bucket, not an empty comparison
    assert len({t[-1] for t in truth.values()}) >= 4  # several aging buckets, not just "current"
    assert got == truth


def test_daily_balance_on_the_as_of_date_ties_to_the_open_items(simulated_warehouse):
    by_customer = simulated_warehouse.query(f"""
        with balance as (
            select customer_id, currency, open_amount, open_item_count
            from {MARTS_SCHEMA}.fct_ar_balance_daily
            where balance_date = (select max(kpi_date) from {MARTS_SCHEMA}.rpt_ar_kpis)
        ),
        items as (
            select customer_id, currency, sum(open_amount) as open_amount, count(*) as open_item_count
            from {MARTS_SCHEMA}.fct_ar_open_items
            group by customer_id, currency
        )
        select count(*), count(*) filter (where balance.open_amount = items.open_amount
                                           and balance.open_item_count = items.open_item_count)
        from balance full outer join items using (customer_id, currency)
    """)
    total, tied = by_customer[0]
    assert total > 10 and tied == total


@pytest.mark.postgres
def test_postgres_builds_marts_equal_to_duckdbs(simulated_warehouse, postgres_server, tmp_path):
    conn = postgres_server.connect()
    try:
        counts = copy_raw_to_postgres(simulated_warehouse.path, conn)
        (invoices,) = simulated_warehouse.query("select count(*) from raw.erp_invoices")[0]
        assert counts["erp_invoices"] == invoices > 0

        result = run_dbt(["build", "--target", "postgres"], postgres_server.env(), tmp_path)
        assert result.returncode == 0, dbt_failure_message(result)

        for mart in MARTS:
            duck_columns, duck_rows = duckdb_table(simulated_warehouse.path, MARTS_SCHEMA, mart)
            pg_columns, pg_rows = postgres_table(conn, MARTS_SCHEMA, mart)
            assert pg_columns == duck_columns, mart
            assert len(pg_rows) == len(duck_rows) > 0, mart
            assert sorted_rows(pg_rows) == sorted_rows(duck_rows), mart
    finally:
        conn.close()
