"""cashapp/*: bank payments applied to open invoices by the cash-application engine, and the ERP's reconciliation file.

Thin wiring of ``ml.cashapp.warehouse`` (inputs from the warehouse, results to schema ``cashapp``)
and ``ml.cashapp.reconciliation`` (the CSV for the ERP). The dbt models tagged ``cash_applied``
read these tables and build after them.
"""

import datetime as dt

import dagster as dg
from dagster_duckdb import DuckDBResource

from assets.config import AsOfConfig
from orchestration.resources import OpenARSettings

TABLES = (
    "payments",
    "applications",
    "suggestions",
    "exceptions",
    "unapplied",
    "unlinked_remittances",
    "skipped",
    "erp_payment_matches",
)
TABLE_DESCRIPTIONS = {
    "payments": "One row per bank movement applied per run day: status, applied + suggested + unapplied = amount.",
    "applications": "Auto-applied cash, payment x invoice: amount, discount, deduction, method, confidence, evidence.",
    "suggestions": "Top candidate allocations of payments left for review, payment x rank x invoice.",
    "exceptions": "The review queue: payments not auto-applied, with the reason and the best candidate.",
    "unapplied": "Cash not applied to an invoice (pending review, unidentified, overpayment) per payment.",
    "unlinked_remittances": "Remittance advices no bank movement could be linked to.",
    "skipped": "Debits and reversals: bank movements that are not cash to apply.",
    "erp_payment_matches": "Which ERP receipt is the same money as which bank movement the engine applied.",
}
RECONCILIATION_KEY = dg.AssetKey(["exports", "cashapp_reconciliation"])
# What the engine reads, as the base dbt stage and the ingestion assets name them.
UPSTREAM = [
    dg.AssetKey(["intermediate", "int_ar_erp_item_events"]),
    dg.AssetKey(["intermediate", "int_ar_items"]),
    dg.AssetKey(["staging", "stg_erp__customers"]),
    dg.AssetKey(["staging", "stg_erp__invoices"]),
    dg.AssetKey(["staging", "stg_erp__payments"]),
    dg.AssetKey(["staging", "stg_erp__payment_applications"]),
    dg.AssetKey(["raw", "bank_transactions"]),
    dg.AssetKey(["raw", "remittance_documents"]),
    dg.AssetKey(["raw", "remittance_lines"]),
]


def table_key(table: str) -> dg.AssetKey:
    return dg.AssetKey(["cashapp", table])


def conservation_problems(con) -> list[str]:
    """Payments whose applied + suggested + unapplied differ from the amount, or whose applications
    do not sum to the applied amount, across every run day stored (exact DECIMAL arithmetic)."""
    rows = con.execute("""
        select run_date, transaction_id, 'parts do not add up to the amount'
        from cashapp.payments
        where applied_amount + suggested_amount + unapplied_amount <> amount
            or applied_amount < 0 or suggested_amount < 0 or unapplied_amount < 0
        union all
        select p.run_date, p.transaction_id, 'applications do not sum to the applied amount'
        from cashapp.payments as p
        left join (
            select run_date, transaction_id, sum(applied_amount) as applied
            from cashapp.applications group by run_date, transaction_id
        ) as a on p.run_date = a.run_date and p.transaction_id = a.transaction_id
        where coalesce(a.applied, 0) <> p.applied_amount
        order by 1, 2
    """).fetchall()
    return [f"{d} {t[:12]}: {why}" for d, t, why in rows]


def _scorer(settings):
    from ml.cashapp.scoring import load_scorer

    try:
        return load_scorer(settings.mlflow_tracking_uri)
    except ValueError:  # a champion trained on other features: the heuristic is safer than a wrong model
        return None


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            table_key(t),
            group_name="cash_application",
            kinds={"duckdb", "python"},
            description=TABLE_DESCRIPTIONS[t],
            deps=UPSTREAM if t == "payments" else [],
        )
        for t in TABLES
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "conserved_to_the_cent",
            asset=table_key("payments"),
            blocking=True,
            description="Every payment: applied + suggested + unapplied = amount, and its applications "
            "sum to its applied amount, to the cent.",
        )
    ],
    can_subset=False,
)
def cashapp_results(
    context: dg.AssetExecutionContext, config: AsOfConfig, openar: OpenARSettings, duckdb: DuckDBResource
):
    """Bank credits of each day applied to the invoices open at the start of that day (ml.cashapp)."""
    from ml.cashapp.warehouse import run_cash_application

    settings = openar.get()
    as_of = dt.date.fromisoformat(config.as_of_date) if config.as_of_date else None
    scorer = _scorer(settings)
    with duckdb.get_connection() as con:
        run = run_cash_application(
            con,
            as_of=as_of,
            writeback_path=settings.writeback_path,
            scorer=scorer,
            progress=context.log.info,
        )
        counts = {t: con.execute(f"select count(*) from cashapp.{t}").fetchall()[0][0] for t in TABLES}
        problems = conservation_problems(con)
    statuses: dict[str, int] = {}
    for d in run.days:
        for s in d.result.payments["status"].tolist():
            statuses[s] = statuses.get(s, 0) + 1
    context.log.info(
        f"cash application as of {run.as_of}: {len(run.days)} day(s), {statuses}, {run.matches} ERP matches"
    )
    for t in TABLES:
        meta = {"rows_total": counts[t], "as_of_date": str(run.as_of), "model_version": run.model_version}
        if t == "payments":
            meta |= {"days_applied": len(run.days), **{f"payments_{k}": v for k, v in statuses.items()}}
        elif t != "erp_payment_matches":
            meta["rows_this_run"] = run.total(t)
        yield dg.MaterializeResult(asset_key=table_key(t), metadata=meta)
    yield dg.AssetCheckResult(
        asset_key=table_key("payments"),
        check_name="conserved_to_the_cent",
        passed=not problems,
        description="; ".join(problems[:10]) or None,
        metadata={"payments_not_conserved": len(problems)},
    )


@dg.asset(
    key=RECONCILIATION_KEY,
    deps=[table_key("payments"), table_key("applications")],
    group_name="cash_application",
    kinds={"csv"},
)
def cashapp_reconciliation(
    config: AsOfConfig, openar: OpenARSettings, duckdb: DuckDBResource
) -> dg.MaterializeResult:
    """The ERP's reconciliation CSV of the as-of day's cash application (layout: ml/cashapp/reconciliation.py)."""
    from ml.cashapp.reconciliation import write_reconciliation_csv
    from ml.cashapp.warehouse import ledger_as_of, result_from_tables

    settings = openar.get()
    with duckdb.get_connection() as con:
        day = dt.date.fromisoformat(config.as_of_date) if config.as_of_date else ledger_as_of(con)
        result = result_from_tables(con, day)
    path = settings.exports_path / "cashapp" / f"reconciliation_{day.isoformat()}.csv"
    totals = write_reconciliation_csv(result, path)
    return dg.MaterializeResult(
        metadata={
            "path": str(path),
            "run_date": str(day),
            "bank_movements": len(result.payments),
            **{f"received_{cur}": str(v) for cur, v in sorted(totals.items())},
        }
    )
