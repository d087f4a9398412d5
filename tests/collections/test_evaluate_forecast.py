"""The forecast backtest end to end on the small world (a fast model recipe), and its CLI's errors."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from ml.collections.evaluate_forecast import (
    METHODS,
    SCOPES,
    _wape,
    backtest_forecast,
    backtest_plot,
    backtest_series,
    calibrate_bands,
    default_origins,
    main,
)
from tests.ml.helpers import FAST


def test_wape():
    assert _wape(np.array([90, 110]), np.array([100, 100])) == 0.1
    assert np.isnan(_wape(np.array([1]), np.array([0])))


def test_backtest_on_the_small_world(small_warehouse, tmp_path):
    con, _ = small_warehouse
    origins = default_origins(con, 1, 28)
    last_pay = pd.Timestamp(
        con.execute("select max(payment_date) from raw.erp_payments").fetchone()[0]
    ).date()
    assert origins == [last_pay - dt.timedelta(days=91)]
    preds = _cached(con, origins)
    series, per_origin = backtest_series(con, origins, predictions_for=preds)
    o = per_origin[0]
    assert o["actual_13w"] > o["actual_13w_open_ar"] > 0  # new business adds receipts
    assert o["open_functional"] >= o["model_13w_open_ar"] > 0
    assert o["model_13w"] > o["model_13w_open_ar"]
    s = series[0]
    # the due-date baseline puts every open invoice's money inside the horizon (on its due date)
    assert int(s["daily"]["open_ar"]["baseline_due_date"].sum()) / 100 == o["open_functional"]
    # the baselines get the same new business as the model, only its timing differs: the due-date
    # baseline's new invoices are paid at the usual terms, so no earlier than the model's lag allows
    for m in METHODS:
        assert (s["daily"]["all_receipts"][m] >= s["daily"]["open_ar"][m]).all()
    png = backtest_plot(series, tmp_path / "plots" / "forecast.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    r = backtest_forecast(con, origins, predictions_for=preds)
    for scope in SCOPES:
        assert set(r[scope]["weekly_wape"]) == set(METHODS)
        assert all(0 <= v < 5 for v in r[scope]["weekly_wape"].values())
    assert r["weekly_wape"] == r["all_receipts"]["weekly_wape"]
    assert 0 <= r["weekly_band_coverage"] <= 1 and 0 < r["new_business_share_of_actuals"] < 1


def _cached(con, origins):
    from ml.history import invoice_history_from_warehouse
    from ml.payment_model import fit_payment_model
    from ml.scoring import score_open_invoices

    end = pd.Timestamp(con.execute("select max(_extract_date) from raw.erp_invoices").fetchone()[0]).date()
    h = invoice_history_from_warehouse(con, end)
    preds = {
        T: score_open_invoices(h, T, fit_payment_model(h, T, FAST), model_name="t", model_version="1")
        for T in origins
    }
    return preds.__getitem__


def test_calibrate_bands_takes_the_error_quantiles():
    # three origins whose actuals are 0.8, 1.0 and 1.2 times a flat forecast of 100.00 a day
    fc = np.full(91, 10_000, dtype=np.int64)
    series = [
        {"daily": {"all_receipts": {"model": fc}}, "actual": {"all_receipts": (fc * f).astype(np.int64)}}
        for f in (0.8, 1.0, 1.2)
    ]
    b = calibrate_bands(series, "test", level=0.8)
    # weeks 1-4: twelve errors, four each of -0.2, 0 and 0.2: the ⌈13 × 0.8⌉ = 11th smallest |error|
    assert b.week(1) == (-0.2, 0.2) and b.week(13) == (-0.2, 0.2)
    assert b.period(30) == (-0.2, 0.2)  # three errors: the largest
    # four origins off by 0 %, 5 %, -10 % and 30 %: the ⌈5 × 0.5⌉ = 3rd smallest |error| at level 0.5
    series = [
        {"daily": {"all_receipts": {"model": fc}}, "actual": {"all_receipts": (fc * f).astype(np.int64)}}
        for f in (1.0, 1.05, 0.9, 1.3)
    ]
    assert calibrate_bands(series, "t", level=0.5).week(5) == (-0.1, 0.1)
    assert b.source == "test"


def test_main_rejects_a_folder_that_is_not_a_world(tmp_path, capsys):
    assert main(["--world", str(tmp_path), "--json"]) == 2
    assert "not a simulated world" in capsys.readouterr().err
