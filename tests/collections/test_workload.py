"""The workload forecast replays the strategy day by day; the backtest reads what the team did."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from ml.collections.strategy import load_strategy
from ml.collections.workload import (
    actual_workload,
    backtest_workload,
    calibrate_to_level,
    forecast_workload,
    recent_level,
)
from tests.collections.test_worklist import AS_OF, inputs

D = dt.timedelta


@pytest.fixture(scope="module")
def strategy():
    return load_strategy()


def test_contacts_done_today_are_not_repeated_tomorrow(strategy):
    # three customers 20 days overdue (a call each), capacity two: day 1 calls two, day 2 the third
    inp = inputs([("I1", "A", 20, 300_00), ("I2", "B", 20, 200_00), ("I3", "C", 20, 100_00)], capacity=2)
    f = forecast_workload(inp, strategy, AS_OF, workdays=5).set_index("day")
    days = [dt.date(2026, 3, 12), dt.date(2026, 3, 13), dt.date(2026, 3, 16), dt.date(2026, 3, 17)]
    assert f.loc[days[0], "demand_call"] == 3 and f.loc[days[0], "planned_call"] == 2
    assert (
        f.loc[days[1], "demand_call"] == 1 and f.loc[days[1], "planned_call"] == 1
    )  # A, B contacted yesterday
    # Monday 16th: A and B (called Thursday) and C (called Friday) are due again, capacity two
    assert f.loc[days[2], "demand_call"] == 3 and f.loc[days[2], "planned_call"] == 2


def test_projected_payments_leave_the_workload(strategy):
    preds = pd.DataFrame(
        {
            "invoice_id": ["I1", "I2"],
            "p10_days_late": [20.0, 60.0],
            "p50_days_late": [22.0, 70.0],
            "p90_days_late": [30.0, 90.0],
        }
    )
    inp = inputs([("I1", "A", 20, 300_00), ("I2", "B", 20, 200_00)], predictions=preds)
    f = forecast_workload(inp, strategy, AS_OF, workdays=1)
    # A is expected to pay within three days: postponed, no contact; B gets its call
    assert f["demand_total"].tolist() == [1] and f["planned_call"].tolist() == [1]


def test_backtest_on_the_simulated_world(small_warehouse, strategy):
    con, _ = small_warehouse
    last = pd.Timestamp(
        con.execute("select max(_extract_date) from raw.erp_collection_activities").fetchone()[0]
    ).date()
    T = last - D(days=7)
    a = actual_workload(con, T, last)
    n = con.execute(
        f"select count(*) from raw.erp_collection_activities where _extract_date > date '{T}' and _extract_date <= date '{last}'"
    ).fetchone()[0]
    assert int(a["actual_total"].sum()) == n > 0
    r = backtest_workload(con, [T], strategy)
    assert r["actual_contacts"] > 0 and r["collector_days"] > 0
    assert set(r) >= {
        "forecast",
        "strategy_calibrated",
        "planned",
        "demand",
        "baseline_same_weekday",
        "by_kind",
    }
    assert r["planned"]["mae"] >= 0 and r["planned"]["wape"] >= 0
    assert r["beats_baseline"] == (r["forecast"]["mae"] < r["baseline_same_weekday"]["mae"])


def test_the_strategy_days_are_scaled_to_the_level_the_team_really_works_at():
    # the team did 40 contacts (A) and 10 (B) over the four weeks' 20 work days: 2 and 0.5 a day
    start, end = dt.date(2026, 2, 6), dt.date(2026, 3, 6)
    hist = pd.DataFrame({"collector_id": ["A", "A", "B"], "actual_total": [30, 10, 10]})
    level = recent_level(hist, start, end)
    assert level.to_dict() == {"A": 2.0, "B": 0.5}
    # the strategy asks A for 6 then 2 contacts, and nothing of B: A keeps the shape at its level,
    # B gets its level every day
    d1, d2 = dt.date(2026, 3, 9), dt.date(2026, 3, 10)
    f = pd.DataFrame({"day": [d1, d2], "collector_id": ["A", "A"], "planned_total": [6, 2]})
    c = calibrate_to_level(f, level).set_index(["day", "collector_id"])["calibrated_total"]
    assert c.to_dict() == {(d1, "A"): 3.0, (d1, "B"): 0.5, (d2, "A"): 1.0, (d2, "B"): 0.5}
