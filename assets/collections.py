"""collections/collector_worklist and collections/cash_forecast_*: what collectors do tomorrow, and the cash to expect.

Thin wrappers of ``ml.collections``: both read the raw ERP tables as known on the as-of day and the
scored predictions of schema ``ml`` (the payment model's quantiles and probabilities per open invoice,
the customers' risk tiers), and write schema ``collections``, which the ``collections`` dbt stage reads.
"""

import dagster as dg
from dagster_duckdb import DuckDBResource

from assets.config import AsOfConfig
from orchestration.resources import OpenARSettings

PREDICTION_DEPS = [dg.AssetKey(["ml", "payment_predictions"]), dg.AssetKey(["ml", "customer_risk"])]
WORKLIST_KEY = dg.AssetKey(["collections", "collector_worklist"])
FORECAST_KEYS = {
    t: dg.AssetKey(["collections", t])
    for t in ("cash_forecast_daily", "cash_forecast_weekly", "cash_forecast_totals")
}


def _predictions_and_tiers(con):
    from ml.collections.whatif import latest_predictions

    preds, as_of = latest_predictions(con)
    try:
        tiers = con.execute(
            "select customer_id, tier from ml.customer_risk where as_of_date = ?", [as_of]
        ).df()
    except Exception:  # no risk table yet: every customer is "normal"
        tiers = None
    return preds, tiers, as_of


@dg.asset(
    key=WORKLIST_KEY,
    deps=PREDICTION_DEPS,
    group_name="collections",
    kinds={"python", "duckdb"},
    metadata={"grain": "as_of_date, customer_id"},
)
def collector_worklist(
    config: AsOfConfig, openar: OpenARSettings, duckdb: DuckDBResource
) -> dg.MaterializeResult:
    """One row per customer with money overdue: next action, reason, priority, schedule, e-mail draft."""
    from ml.collections.strategy import load_strategy
    from ml.collections.warehouse import write_worklist
    from ml.collections.worklist import build_worklist, worklist_inputs_from_warehouse

    with duckdb.get_connection() as con:
        preds, tiers, as_of = _predictions_and_tiers(con)
        if config.as_of_date and config.as_of_date != as_of.isoformat():
            raise ValueError(f"ml.payment_predictions is as of {as_of}, the run is as of {config.as_of_date}")
        strategy = load_strategy()
        # the promises and call outcomes collectors logged in the app count from this run on
        inputs = worklist_inputs_from_warehouse(con, as_of, preds, tiers, openar.get().writeback_path)
        wl = build_worklist(inputs, strategy, as_of)
        rows = write_worklist(con, wl, as_of)
    counts = wl["action"].value_counts().to_dict()
    return dg.MaterializeResult(
        metadata={
            "as_of_date": as_of.isoformat(),
            "rows": rows,
            "today": int((wl["status"] == "today").sum()),
            "rolled_over": int((wl["status"] == "rolled_over").sum()),
            "strategy": strategy.source,
            **{f"action_{k}": int(v) for k, v in counts.items()},
        }
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            key,
            deps=PREDICTION_DEPS,
            group_name="collections",
            kinds={"python", "duckdb"},
            description=f"13-week cash collection forecast ({key.path[-1].rsplit('_', 1)[-1]}), "
            "low / expected / high in functional currency, one set of rows per as-of date.",
        )
        for key in FORECAST_KEYS.values()
    ],
    can_subset=False,
)
def cash_forecast(config: AsOfConfig, duckdb: DuckDBResource):
    """All expected receipts by day, week and 30/60/90 days (open AR + invoices not issued yet), with
    calibrated P10-P90 bands."""
    from ml.collections.cash_forecast import cash_forecast_from_warehouse
    from ml.collections.warehouse import write_cash_forecast

    with duckdb.get_connection() as con:
        preds, _, as_of = _predictions_and_tiers(con)
        if config.as_of_date and config.as_of_date != as_of.isoformat():
            raise ValueError(f"ml.payment_predictions is as of {as_of}, the run is as of {config.as_of_date}")
        fc = cash_forecast_from_warehouse(con, as_of, preds)
        counts = write_cash_forecast(con, fc)
    totals = fc.totals.set_index("period_days")["expected_minor"]
    for table, key in FORECAST_KEYS.items():
        yield dg.MaterializeResult(
            asset_key=key,
            metadata={
                "as_of_date": as_of.isoformat(),
                "rows": counts[table],
                **{f"expected_{p}d": float(totals[p]) / 100 for p in totals.index},
                "open_functional": fc.open_functional_minor / 100,
                "scope": fc.scope,
                "expected_new_business_90d": float(fc.totals["new_business_expected_minor"].iloc[-1]) / 100,
                "bands": fc.band_source,
            },
        )
