"""ml/payment_model and ml/payment_predictions, ml/customer_risk, ml/credit_review_queue.

Thin wrappers of ``ml.pipeline``: the model is trained (and registered in MLflow, promoted to
``@champion`` only when it beats the current one on the same backtest) when there is no champion,
when asked, or when the champion's data is four weeks old; scoring loads ``@champion`` and writes
the three tables of schema ``ml`` that the ``predicted`` dbt stage reads.
"""

import datetime as dt

import dagster as dg
from dagster_duckdb import DuckDBResource

from assets.config import AsOfConfig
from orchestration.resources import OpenARSettings

MODEL_KEY = dg.AssetKey(["ml", "payment_model"])
TABLE_KEYS = {
    "payment_predictions": dg.AssetKey(["ml", "payment_predictions"]),
    "customer_risk": dg.AssetKey(["ml", "customer_risk"]),
    "credit_review_queue": dg.AssetKey(["ml", "credit_review_queue"]),
}
# The ledger marts the predictions must agree with; the history itself is rebuilt from the raw
# extracts as known on the as-of day (ml.history), which the marts, being today's, cannot give.
LEDGER_DEPS = [dg.AssetKey(["marts", "fct_ar_open_items"]), dg.AssetKey(["marts", "dim_customers"])]
PREDICTION_CHECKS = {
    "quantiles_ordered": ("payment_predictions", "P10 <= P50 <= P90 days late on every prediction."),
    "probabilities_cumulative": (
        "payment_predictions",
        "Probabilities of payment by due, +30, +60, +90 days rise and stay within [0, 1].",
    ),
    "model_version_recorded": (
        "payment_predictions",
        "Every prediction names the model and version that made it; one version per run.",
    ),
    "every_open_invoice_scored_once": (
        "payment_predictions",
        "Each invoice scored at most once, and every invoice open in fct_ar_open_items is scored.",
    ),
}


class PaymentModelConfig(AsOfConfig):
    """Run config of the training step."""

    retrain: bool = False  # fit a challenger even when the champion is recent
    retrain_every_days: int = 28  # refit when the champion's data is this many days older than the as-of


def resolve_as_of(con, as_of_date: str | None) -> dt.date:
    """The run's day: the configured one, else the newest extract loaded."""
    from ml.warehouse import latest_extract_date

    if as_of_date:
        return dt.date.fromisoformat(as_of_date)
    latest = latest_extract_date(con)
    if latest is None:
        raise ValueError("no ERP extract is loaded: nothing to train on or score")
    return latest


@dg.asset(
    key=MODEL_KEY,
    deps=LEDGER_DEPS,
    group_name="prediction",
    kinds={"mlflow", "lightgbm"},
    check_specs=[
        dg.AssetCheckSpec(
            "champion_registered",
            asset=MODEL_KEY,
            blocking=True,
            description="A model carries the @champion alias, so scoring has something to load.",
        )
    ],
)
def payment_model(
    context: dg.AssetExecutionContext,
    config: PaymentModelConfig,
    openar: OpenARSettings,
    duckdb: DuckDBResource,
):
    """The payment-date model registered in MLflow (``openar_payment_days``), trained when there is
    no champion, when asked, or when the champion's data is ``retrain_every_days`` old."""
    from ml.pipeline import HistoryTooShortError, train_payment_model, training_decision
    from ml.registry import champion_info

    uri = openar.get().mlflow_tracking_uri
    champion = champion_info(uri=uri)
    with duckdb.get_connection() as con:
        as_of = resolve_as_of(con, config.as_of_date)
        train, why = training_decision(
            champion, as_of, retrain=config.retrain, every_days=config.retrain_every_days
        )
        context.log.info(f"as of {as_of}: {'training' if train else 'keeping the champion'} ({why})")
        metadata: dict = {"as_of_date": as_of.isoformat(), "trained": train, "decision": why}
        outcome = None
        if train:
            try:
                outcome = train_payment_model(
                    con,
                    as_of,
                    uri=uri,
                    progress=context.log.info,
                    max_invoices=openar.get().training_max_invoices,
                )
            except HistoryTooShortError as e:
                # A young installation: nothing to learn from yet. The run goes on (the ledger is
                # still built); scoring waits for a model.
                context.log.warning(str(e))
                metadata["not_trained_because"] = str(e)
        if outcome is not None:
            metadata.update(
                {
                    "trained_version": outcome.model_version,
                    "promoted": outcome.promoted,
                    "promotion_reason": outcome.reason,
                    "mlflow_run_id": outcome.run_id,
                    **{
                        f"backtest_{k}": float(v)
                        for k, v in outcome.metrics.items()
                        if k in ("mae", "p10_p90_coverage", "auc_30_late", "rmse")
                    },
                    "backtest_table": dg.MetadataValue.md(f"```\n{outcome.backtest.table()}\n```"),
                }
            )
    champion = champion_info(uri=uri)
    if champion is not None:
        metadata.update({"champion_version": champion["model_version"], "tracking_uri": uri})
    yield dg.MaterializeResult(metadata=metadata)
    too_short = "not_trained_because" in metadata
    yield dg.AssetCheckResult(
        check_name="champion_registered",
        passed=champion is not None,
        # too little history is a state to wait out, not a failure to block the run on
        severity=dg.AssetCheckSeverity.WARN if too_short else dg.AssetCheckSeverity.ERROR,
        description=(
            f"@champion is version {champion['model_version']}"
            if champion
            else metadata.get(
                "not_trained_because", "no model is @champion: the first training was not promoted"
            )
        ),
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            TABLE_KEYS["payment_predictions"],
            deps=[MODEL_KEY, *LEDGER_DEPS],
            description="One row per open invoice: P10/P50/P90 days late and dates, probabilities of "
            "payment by due/+30/+60/+90, most likely bucket, top SHAP drivers, model name and version.",
            group_name="prediction",
            kinds={"duckdb", "lightgbm"},
            metadata={"grain": "invoice_id"},
        ),
        dg.AssetSpec(
            TABLE_KEYS["customer_risk"],
            deps=[MODEL_KEY, *LEDGER_DEPS],
            description="One row per customer and as-of date: risk tier and score, trend against its "
            "own past, early-warning alert with evidence, top drivers.",
            group_name="prediction",
            kinds={"duckdb"},
            metadata={"grain": "as_of_date, customer_id"},
        ),
        dg.AssetSpec(
            TABLE_KEYS["credit_review_queue"],
            deps=[MODEL_KEY, *LEDGER_DEPS],
            description="One row per customer and as-of date: credit review category, recommended "
            "limit, reasons and priority.",
            group_name="prediction",
            kinds={"duckdb"},
            metadata={"grain": "as_of_date, customer_id"},
        ),
    ],
    check_specs=[
        dg.AssetCheckSpec(name, asset=TABLE_KEYS[table], description=description)
        for name, (table, description) in PREDICTION_CHECKS.items()
    ],
    can_subset=False,  # one scoring pass produces all three
)
def payment_predictions(
    context: dg.AssetExecutionContext,
    config: AsOfConfig,
    openar: OpenARSettings,
    duckdb: DuckDBResource,
):
    """Every open invoice scored with ``@champion`` as of the run's day, customers tiered, credit
    reviews queued; written to schema ``ml``."""
    from ml.pipeline import NoChampionError, predict_payments
    from ml.warehouse import ensure_tables, prediction_check_results, write_predictions

    settings = openar.get()
    with duckdb.get_connection() as con:
        as_of = resolve_as_of(con, config.as_of_date)
        try:
            out = predict_payments(
                con,
                as_of,
                uri=settings.mlflow_tracking_uri,
                block_invoices=settings.scoring_block_invoices,
                progress=context.log.info,
            )
        except NoChampionError as e:
            created = ensure_tables(con)
            context.log.warning(f"{e}: tables left as they were (created empty: {created or 'none'})")
            for key in TABLE_KEYS.values():
                yield dg.MaterializeResult(
                    asset_key=key, metadata={"as_of_date": as_of.isoformat(), "scored": False}
                )
            for name, (table, _) in PREDICTION_CHECKS.items():
                yield dg.AssetCheckResult(
                    asset_key=TABLE_KEYS[table],
                    check_name=name,
                    passed=True,
                    description="nothing scored: no model is @champion yet",
                )
            return
        counts = write_predictions(con, out.invoices, out.customers, out.credit_reviews)
        checks = prediction_check_results(con)
    tiers = out.customers["tier"].value_counts().to_dict()
    common = {
        "as_of_date": as_of.isoformat(),
        "model_name": out.model_name,
        "model_version": out.model_version,
    }
    yield dg.MaterializeResult(
        asset_key=TABLE_KEYS["payment_predictions"],
        metadata={
            **common,
            "rows": counts["payment_predictions"],
            "expected_late_30_share": float(out.invoices["p_late_over_30"].mean())
            if len(out.invoices)
            else 0.0,
            **{f"timing_{k}": float(v) for k, v in out.timings.items()},
        },
    )
    yield dg.MaterializeResult(
        asset_key=TABLE_KEYS["customer_risk"],
        metadata={
            **common,
            "rows": counts["customer_risk"],
            "alerts": int(out.customers["alert"].sum()),
            **{f"tier_{t}": int(n) for t, n in tiers.items()},
        },
    )
    yield dg.MaterializeResult(
        asset_key=TABLE_KEYS["credit_review_queue"],
        metadata={
            **common,
            "rows": counts["credit_review_queue"],
            "needs_review": int(out.credit_reviews["needs_review"].sum()),
        },
    )
    for name, (passed, description, meta) in checks.items():
        yield dg.AssetCheckResult(
            asset_key=TABLE_KEYS[PREDICTION_CHECKS[name][0]],
            check_name=name,
            passed=passed,
            description=description,
            metadata=meta,
        )
