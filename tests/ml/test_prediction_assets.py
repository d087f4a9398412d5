"""The prediction assets: when to train, the tables they write, their checks, and a real materialization."""

from __future__ import annotations

import datetime as dt
import json

import dagster as dg
import duckdb
import pandas as pd
import pytest

from ml.pipeline import BACKTEST_PLANS, backtest_plan, training_decision
from ml.warehouse import (
    CREDIT_REVIEW_TYPES,
    CUSTOMER_RISK_TYPES,
    PREDICTION_TYPES,
    latest_extract_date,
    prediction_check_results,
    top_driver,
    write_predictions,
)

AS_OF = dt.date(2026, 11, 20)


@pytest.mark.parametrize(
    ("champion", "retrain", "train", "why"),
    [
        (None, False, True, "no champion yet"),
        (
            {"model_version": "3", "trained_as_of": dt.date(2026, 11, 1)},
            False,
            False,
            "19 days, retrain after 28",
        ),
        ({"model_version": "3", "trained_as_of": dt.date(2026, 11, 1)}, True, True, "retrain requested"),
        ({"model_version": "3", "trained_as_of": dt.date(2026, 10, 23)}, False, True, "data 28 days old"),
        ({"model_version": "3", "trained_as_of": None}, False, True, "records no training date"),
    ],
)
def test_training_decision(champion, retrain, train, why):
    decided, reason = training_decision(champion, AS_OF, retrain=retrain)
    assert decided is train and why in reason


def test_backtest_plan_shrinks_to_the_history(synthetic):
    h, _, _ = synthetic  # 700 days: the full plan fits
    assert backtest_plan(h) == BACKTEST_PLANS[0]
    inv = h.invoices
    year = inv[inv["invoice_date"] >= inv["invoice_date"].max() - pd.Timedelta(days=365)]
    from dataclasses import replace

    assert backtest_plan(replace(h, invoices=year.reset_index(drop=True))) == BACKTEST_PLANS[1]
    quarter = inv[inv["invoice_date"] >= inv["invoice_date"].max() - pd.Timedelta(days=90)]
    with pytest.raises(ValueError, match=r"spans \d+ days .* needs at least 330 days"):
        backtest_plan(replace(h, invoices=quarter.reset_index(drop=True)))


def test_top_driver_reads_the_first_item():
    assert (
        top_driver(json.dumps([{"feature": "cust_median", "value": 3, "effect_days": 4.1}])) == "cust_median"
    )
    assert top_driver(None) is None and top_driver("[]") is None and top_driver(float("nan")) is None


def _frames(as_of: dt.date, customers=("C1", "C2"), p10=1.0):
    def row(types, **values):
        return {c: values.get(c) for c in types}

    inv = pd.DataFrame(
        [
            row(
                PREDICTION_TYPES,
                invoice_id=f"I{i}",
                customer_id=c,
                as_of_date=pd.Timestamp(as_of),
                invoice_date=pd.Timestamp("2026-10-01"),
                due_date=pd.Timestamp("2026-10-31"),
                amount_minor=12345,
                amount_functional_minor=12345,
                days_past_due=20,
                p10_days_late=p10,
                p50_days_late=5.0,
                p90_days_late=20.0,
                p_paid_by_due=0.1,
                p_paid_within_30=0.5,
                p_paid_within_60=0.8,
                p_paid_within_90=0.9,
                p_late_over_30=0.5,
                drivers=json.dumps([{"feature": "days_past_due", "value": 20, "effect_days": 3.0}]),
                model_name="m",
                model_version="1",
            )
            for i, c in enumerate(customers)
        ]
    ).drop(columns=["top_driver"])
    cust = pd.DataFrame(
        [
            row(
                CUSTOMER_RISK_TYPES,
                customer_id=c,
                as_of_date=pd.Timestamp(as_of),
                tier="high",
                score=40.0,
                alert=True,
                reasons="[]",
                drivers=None,
                model_name="m",
                model_version="1",
            )
            for c in customers
        ]
    ).drop(columns=["top_driver"])
    rev = pd.DataFrame(
        [
            row(CREDIT_REVIEW_TYPES, customer_id=c, as_of_date=pd.Timestamp(as_of), priority=k + 1)
            for k, c in enumerate(customers)
        ]
    )
    return inv, cust, rev


def test_write_predictions_replaces_its_day_and_keeps_the_others(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    write_predictions(con, *_frames(dt.date(2026, 11, 19)))
    write_predictions(con, *_frames(dt.date(2026, 11, 20), customers=("C1", "C2", "C3")))
    counts = write_predictions(con, *_frames(dt.date(2026, 11, 20), customers=("C1", "C2", "C3")))
    assert counts == {"payment_predictions": 3, "customer_risk": 3, "credit_review_queue": 3}
    assert con.execute(
        "select as_of_date, count(*) from ml.customer_risk group by 1 order by 1"
    ).fetchall() == [
        (dt.date(2026, 11, 19), 2),
        (dt.date(2026, 11, 20), 3),
    ]
    # predictions hold the latest run only
    assert con.execute(
        "select count(*), min(as_of_date), min(top_driver) from ml.payment_predictions"
    ).fetchone() == (
        3,
        dt.date(2026, 11, 20),
        "days_past_due",
    )
    assert con.execute(
        "select typeof(amount_minor), typeof(due_date) from ml.payment_predictions limit 1"
    ).fetchone() == (
        "BIGINT",
        "DATE",
    )
    checks = prediction_check_results(con)
    assert all(passed for passed, _, _ in checks.values())
    con.close()


def test_checks_fail_on_unordered_quantiles_and_unscored_open_invoices(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    write_predictions(con, *_frames(AS_OF, p10=9.0))  # P10 9 > P50 5
    con.execute("create schema marts")
    con.execute(
        "create table marts.fct_ar_open_items as select * from (values ('I0', 'invoice', false), "
        "('I1', 'invoice', false), ('I8', 'invoice', true), ('I9', 'invoice', false), ('CM1', 'credit_memo', false)) "
        "t(item_id, item_type, is_disputed)"
    )
    checks = prediction_check_results(con)
    assert checks["quantiles_ordered"][0] is False and checks["quantiles_ordered"][2]["violations"] == 2
    scored = checks["every_open_invoice_scored_once"]
    assert scored[0] is False and scored[2]["ledger_open_not_scored"] == 1  # I9; I8 is a deduction in dispute
    assert scored[2]["deduction_or_dispute_not_scored"] == 1
    con.close()


def test_latest_extract_date_is_the_newest_across_extracts(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    assert latest_extract_date(con) is None
    con.execute("create schema raw")
    con.execute("create table raw.erp_invoices as select date '2026-11-19' as _extract_date")
    con.execute("create table raw.erp_payments as select date '2026-11-20' as _extract_date")
    assert latest_extract_date(con) == dt.date(2026, 11, 20)
    con.close()


def _metadata(result, key) -> dict:
    (event,) = [e for e in result.get_asset_materialization_events() if e.asset_key == key]
    return event.step_materialization_data.materialization.metadata


def _fresh_install(tmp_path, monkeypatch):
    """A data folder whose warehouse holds a tiny simulated world's extracts and nothing else."""
    from dagster_duckdb import DuckDBResource

    from ingestion.erp_loader import load_erp_extracts
    from orchestration.resources import OpenARSettings
    from simulator.world import simulate_world
    from tests.conftest import settings_for
    from tests.ml.helpers import TINY_WORLD

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    world = tmp_path / "world"
    simulate_world(world, **TINY_WORLD)
    settings = settings_for(tmp_path / "data")
    settings.ensure_dirs()
    with duckdb.connect(str(settings.warehouse_path)) as con:
        load_erp_extracts(con, world / "landing" / "erp", "asset-test")
    resources = {
        "openar": OpenARSettings(data_dir=str(settings.data_dir)),
        "duckdb": DuckDBResource(database=str(settings.warehouse_path)),
    }
    return settings, resources


@pytest.mark.slow
def test_first_run_trains_then_scores_and_the_next_keeps_the_champion(tmp_path, monkeypatch):
    """A fresh installation: no model anywhere; the first materialization trains, registers and
    scores; the next one reuses the champion."""
    from assets.predictions import MODEL_KEY, TABLE_KEYS, payment_model, payment_predictions
    from tests.ml.helpers import TINY_WORLD

    settings, resources = _fresh_install(tmp_path, monkeypatch)
    first = dg.materialize([payment_model, payment_predictions], resources=resources)
    assert first.success
    model_meta = _metadata(first, MODEL_KEY)
    assert model_meta["trained"].value is True and model_meta["champion_version"].value == "1"
    assert (settings.data_dir / "mlflow" / "mlflow.db").exists()  # the registry lives under the data folder
    checks = {e.check_name: e.passed for e in first.get_asset_check_evaluations()}
    assert checks == {
        "champion_registered": True,
        "quantiles_ordered": True,
        "probabilities_cumulative": True,
        "model_version_recorded": True,
        "every_open_invoice_scored_once": True,
    }
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        n, version, as_of = con.execute(
            "select count(*), min(model_version), min(as_of_date) from ml.payment_predictions"
        ).fetchone()
        assert n > 10 and version == "1" and as_of == latest_extract_date(con)
        assert con.execute("select count(*) from ml.customer_risk").fetchone()[0] == TINY_WORLD["customers"]

    second = dg.materialize(
        [payment_model, payment_predictions],
        resources=resources,
        run_config={
            "ops": {
                "ml__payment_model": {"config": {"as_of_date": "2026-11-19"}},
                "payment_predictions": {"config": {"as_of_date": "2026-11-19"}},
            }
        },
    )
    assert second.success
    meta = _metadata(second, MODEL_KEY)
    assert meta["trained"].value is False and "trained as of 2026-11-20" in meta["decision"].value
    assert set(TABLE_KEYS.values()) <= {e.asset_key for e in second.get_asset_materialization_events()}
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        # predictions hold the latest run; risk keeps one snapshot per scoring day
        assert con.execute("select distinct as_of_date from ml.payment_predictions").fetchall() == [
            (dt.date(2026, 11, 19),)
        ]
        assert con.execute("select count(distinct as_of_date) from ml.customer_risk").fetchone()[0] == 2


def test_dbt_sources_declare_exactly_the_tables_written():
    import yaml

    from ml.warehouse import SCHEMA, TYPES
    from orchestration.settings import DBT_PROJECT_DIR

    (source,) = yaml.safe_load((DBT_PROJECT_DIR / "models/staging/ml/_ml__sources.yml").read_text())[
        "sources"
    ]
    assert source["schema"] == SCHEMA
    declared = {t["name"]: {c["name"]: c["data_type"] for c in t["columns"]} for t in source["tables"]}
    assert declared == TYPES


@pytest.mark.slow
def test_too_short_a_history_warns_and_leaves_empty_tables(tmp_path, monkeypatch):
    """Four months of extracts: no model can be measured yet; the run goes on (warning), and the
    tables the marts read exist, empty."""
    from assets.predictions import MODEL_KEY, payment_model, payment_predictions

    settings, resources = _fresh_install(tmp_path, monkeypatch)
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        first = con.execute("select min(invoice_date) from raw.erp_invoices").fetchone()[0]
    early = (first + dt.timedelta(days=120)).isoformat()
    result = dg.materialize(
        [payment_model, payment_predictions],
        resources=resources,
        run_config={
            "ops": {
                "ml__payment_model": {"config": {"as_of_date": early}},
                "payment_predictions": {"config": {"as_of_date": early}},
            }
        },
    )
    assert result.success
    meta = _metadata(result, MODEL_KEY)
    assert "needs at least 330 days" in meta["not_trained_because"].value
    (champion,) = [e for e in result.get_asset_check_evaluations() if e.check_name == "champion_registered"]
    assert not champion.passed and champion.severity == dg.AssetCheckSeverity.WARN
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        for table in ("payment_predictions", "customer_risk", "credit_review_queue"):
            assert con.execute(f"select count(*) from ml.{table}").fetchone()[0] == 0


def test_an_unscored_invoice_left_open_by_a_rejected_deduction_is_explained(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    write_predictions(con, *_frames(AS_OF))  # I0, I1 scored
    con.execute("create schema marts")
    con.execute(
        "create table marts.fct_ar_open_items as select * from (values ('I0', 'invoice', false), "
        "('I1', 'invoice', false), ('I9', 'invoice', false)) t(item_id, item_type, is_disputed)"
    )
    con.execute("create schema raw")
    con.execute("create table raw.erp_disputes as select 'I9' as invoice_id, 'true' as is_deduction")
    passed, _, meta = prediction_check_results(con)["every_open_invoice_scored_once"]
    assert passed and meta["ledger_open_not_scored"] == 0 and meta["deduction_or_dispute_not_scored"] == 1
    con.close()
