"""``openar whatif`` on a warehouse holding predictions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml.collections import cash_forecast as cf
from ml.collections.whatif import format_whatif, latest_predictions, main, scenario


@pytest.fixture(scope="module")
def predicted(small_warehouse):
    """The small world with an ``ml.payment_predictions`` table: every open invoice paid 10 days late (± 5)."""
    con, _ = small_warehouse
    as_of = pd.Timestamp(con.execute("select max(_extract_date) from raw.erp_invoices").fetchone()[0]).date()
    bal = cf.open_balances(con, as_of)
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
    con.execute("create schema if not exists ml")
    con.register("_p", p)
    con.execute("create or replace table ml.payment_predictions as select * from _p")
    con.unregister("_p")
    return con, as_of, bal


def test_delay_top_customers_moves_cash_later(predicted):
    con, as_of, bal = predicted
    preds, seen_as_of = latest_predictions(con)
    assert seen_as_of == as_of and len(preds) == len(bal)
    base = cf.cash_forecast(bal, preds, cf.open_promises(con, as_of), as_of, draws=20)
    w = scenario(base, delay_top=3, days=30)
    assert len(w.customers) == 3
    biggest = bal.groupby("customer_id")["open_functional_minor"].sum().sort_values(ascending=False)
    assert set(w.customers) == set(biggest.index[:3])
    t = w.totals.set_index("period_days")
    assert t.loc[30, "delta_minor"] < 0  # cash leaves the first month
    assert abs(t.loc[90, "delta_minor"]) < abs(t.loc[30, "delta_minor"])  # and mostly comes back later
    text = format_whatif(w, "USD")
    assert "the 3 largest customers pay 30 days later" in text and "next 30 days" in text


def test_default_removes_the_customers_cash(predicted):
    con, as_of, bal = predicted
    preds, _ = latest_predictions(con)
    base = cf.cash_forecast(bal, preds, None, as_of, draws=20)
    who = cf.top_customers(base.dists, 1)[0]
    w = scenario(base, defaults=(who,))
    in_horizon = base.dists.customer_id == who
    assert int(w.weekly["delta_minor"].sum()) < 0
    assert int(w.weekly["scenario_expected_minor"].sum()) <= int(base.weekly["expected_minor"].sum())
    with pytest.raises(ValueError, match="no open invoices for customer"):
        scenario(base, defaults=("NOPE",))
    with pytest.raises(ValueError, match="nothing to simulate"):
        scenario(base)
    assert in_horizon.any()


def test_main_without_a_warehouse(tmp_path, capsys):
    assert main(["--delay-top", "5", "--days", "10", "--warehouse", str(tmp_path / "none.duckdb")]) == 2
    assert "no warehouse" in capsys.readouterr().err


def test_main_without_predictions(tmp_path, capsys):
    import duckdb

    path = tmp_path / "empty.duckdb"
    duckdb.connect(str(path)).close()
    assert main(["--delay-top", "5", "--days", "10", "--warehouse", str(path)]) == 2
    assert "no ml.payment_predictions table" in capsys.readouterr().err


def test_a_default_also_stops_the_customers_new_business(predicted):
    con, as_of, bal = predicted
    preds, _ = latest_predictions(con)
    base = cf.cash_forecast_from_warehouse(con, as_of, preds, draws=20)
    open_only = cf.cash_forecast_from_warehouse(con, as_of, preds, draws=20, include_new_business=False)
    nb = base.new_business
    with_open = np.isin(nb.customer_id, bal["customer_id"].unique())
    who = nb.customer_id[with_open][np.argmax(nb.daily_rate_minor[with_open])]  # most invoiced, with open AR
    lost = scenario(base, defaults=(who,)).totals.set_index("period_days").loc[90, "delta_minor"]
    lost_open = scenario(open_only, defaults=(who,)).totals.set_index("period_days").loc[90, "delta_minor"]
    assert lost < lost_open < 0  # its open invoices and the invoices it would have been sent
    # a delay moves the customers' new business too: the base's horizon total drops further
    late = scenario(base, delay_top=3, days=30).totals.set_index("period_days").loc[90, "delta_minor"]
    late_open = (
        scenario(open_only, delay_top=3, days=30).totals.set_index("period_days").loc[90, "delta_minor"]
    )
    assert late < late_open <= 0
