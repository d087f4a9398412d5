"""The forecast backtest end to end on the small world (a fast model recipe), and its CLI's errors."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from ml.collections.evaluate_forecast import METHODS, _wape, backtest_forecast, default_origins, main
from tests.ml.helpers import FAST


def test_wape():
    assert _wape(np.array([90, 110]), np.array([100, 100])) == 0.1
    assert np.isnan(_wape(np.array([1]), np.array([0])))


def test_backtest_on_the_small_world(small_warehouse):
    con, _ = small_warehouse
    origins = default_origins(con, 1, 28)
    last_pay = pd.Timestamp(
        con.execute("select max(payment_date) from raw.erp_payments").fetchone()[0]
    ).date()
    assert origins == [last_pay - dt.timedelta(days=91)]
    r = backtest_forecast(con, origins, config=FAST)
    assert set(r["weekly_wape"]) == set(METHODS)
    assert all(0 <= v < 5 for v in r["weekly_wape"].values())
    o = r["per_origin"][0]
    assert o["actual_13w"] > 0 and o["open_functional"] >= o["model_13w"] > 0
    # the due-date baseline puts every open invoice's money inside the horizon (or on its due date)
    assert o["baseline_due_date_13w"] == o["open_functional"]
    assert 0 <= r["weekly_band_coverage_p10_p90"] <= 1


def test_main_rejects_a_folder_that_is_not_a_world(tmp_path, capsys):
    assert main(["--world", str(tmp_path), "--json"]) == 2
    assert "not a simulated world" in capsys.readouterr().err
