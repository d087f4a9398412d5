"""The collections assets materialized against a copy of the small world's warehouse."""

from __future__ import annotations

import datetime as dt
import shutil

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from assets.collections import WORKLIST_KEY, cash_forecast, collector_worklist
from ml.collections import cash_forecast as cf
from ml.collections.contact_log import write_contact
from orchestration.resources import OpenARSettings


def test_assets_write_the_collections_tables(small_warehouse, tmp_path):
    import duckdb

    con, _ = small_warehouse
    con.execute("checkpoint")
    path = tmp_path / "wh.duckdb"
    shutil.copy(
        con.execute(
            "select path from duckdb_databases() where database_name = current_database()"
        ).fetchone()[0],
        path,
    )
    w = duckdb.connect(str(path))
    as_of = pd.Timestamp(w.execute("select max(_extract_date) from raw.erp_invoices").fetchone()[0]).date()
    bal = cf.open_balances(w, as_of)
    p = pd.DataFrame(
        {
            "invoice_id": bal["invoice_id"],
            "customer_id": bal["customer_id"],
            "as_of_date": as_of,
            "p10_days_late": 5.0,
            "p50_days_late": 10.0,
            "p90_days_late": 15.0,
        }
    )
    w.execute("create schema if not exists ml")
    w.register("_p", p)
    w.execute("create or replace table ml.payment_predictions as select * from _p")
    w.close()

    data_dir = tmp_path / "data"
    resources = {
        "duckdb": DuckDBResource(database=str(path)),
        "openar": OpenARSettings(data_dir=str(data_dir)),
    }
    first = None
    for _ in range(2):  # a rerun replaces its as-of day's rows
        result = dg.materialize([collector_worklist, cash_forecast], resources=resources)
        assert result.success
        if first is None:
            # a collector logs a promise in the app for the top customer of the first run's list
            w = duckdb.connect(str(path), read_only=True)
            first = w.execute(
                "select customer_id from collections.collector_worklist where status = 'today' "
                "order by priority desc, customer_id limit 1"
            ).fetchone()[0]
            w.close()
            promised = as_of + dt.timedelta(days=5)
            write_contact(
                data_dir / "writeback",
                {"log_id": "t1", "customer_id": first, "data_as_of": as_of, "outcome": "promise_to_pay",
                 "promised_pay_date": promised, "channel": "call"},
            )  # fmt: skip
    w = duckdb.connect(str(path), read_only=True)
    action, reason = w.execute(
        "select action, reason from collections.collector_worklist where customer_id = ?", [first]
    ).fetchone()
    assert (action, reason) == ("postpone", f"promise to pay pending, due {promised}")
    n_wl = w.execute(
        "select count(*), count(distinct customer_id) from collections.collector_worklist"
    ).fetchone()
    assert n_wl[0] == n_wl[1] > 0
    weeks = w.execute(
        "select count(*) from collections.cash_forecast_weekly where as_of_date = ?", [as_of]
    ).fetchone()
    assert weeks[0] == 13
    daily_sum, weekly_sum = w.execute(
        "select (select sum(expected_minor) from collections.cash_forecast_daily), "
        "(select sum(expected_minor) from collections.cash_forecast_weekly)"
    ).fetchone()
    assert daily_sum == weekly_sum  # 91 days = 13 weeks, to the cent
    mats = [
        e.materialization for e in result.get_asset_materialization_events() if e.asset_key == WORKLIST_KEY
    ]
    assert mats[0].metadata["rows"].value == n_wl[0]
    w.close()
