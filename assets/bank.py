"""raw/bank_* and raw/remittance_*: bank statements, lockbox files and remittance advices from the landing folders."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from ingestion.bank_loader import ingest_files
from orchestration.resources import OpenARSettings

BANK_TABLES = ("bank_transactions", "bank_statement_balances", "remittance_documents", "remittance_lines")


def bank_asset_key(table: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", table])


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            bank_asset_key("bank_transactions"),
            group_name="ingestion",
            kinds={"duckdb"},
            description="One row per booked movement of every bank statement and lockbox file (camt, "
            "MT940/942, BAI2, lockbox, bank CSV), de-duplicated by movement identity.",
        ),
        dg.AssetSpec(
            bank_asset_key("bank_statement_balances"),
            group_name="ingestion",
            kinds={"duckdb"},
            description="Opening/closing balances stated by each statement, with the movements' sum.",
        ),
        dg.AssetSpec(
            bank_asset_key("remittance_documents"),
            group_name="ingestion",
            kinds={"duckdb"},
            description="Remittance advices (EDI 820, lockbox detail, e-mail, PDF, HTML, XLSX).",
        ),
        dg.AssetSpec(
            bank_asset_key("remittance_lines"),
            group_name="ingestion",
            kinds={"duckdb"},
            description="Invoices each remittance advice says it pays, with extraction confidence.",
        ),
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "balances_reconcile",
            asset=bank_asset_key("bank_statement_balances"),
            description="Opening balance + movements = closing balance for every statement loaded.",
        ),
        dg.AssetCheckSpec(
            "files_readable",
            asset=bank_asset_key("bank_transactions"),
            description="Warns when a file of this run was quarantined (see raw.quarantine).",
        ),
    ],
    can_subset=False,
)
def raw_bank_and_remittance(
    context: dg.AssetExecutionContext, openar: OpenARSettings, duckdb: DuckDBResource
):
    """Every new file under landing/bank and landing/remittance, parsed and loaded idempotently."""
    settings = openar.get()
    folders = [d for d in (settings.landing_dir / "bank", settings.landing_dir / "remittance") if d.exists()]
    with duckdb.get_connection() as con:
        outcomes = ingest_files(
            con,
            folders,
            context.run_id,
            root=settings.landing_dir,
            progress=context.log.info,
            workers=settings.worker_processes,
        )
        counts = {t: con.execute(f"select count(*) from raw.{t}").fetchone()[0] for t in BANK_TABLES}
        unreconciled = con.execute(
            "select _source_file, reconciliation_problem from raw.bank_statement_balances "
            "where reconciliation_problem is not null and _source_file in (select unnest(?::varchar[]))",
            [[o.source_file for o in outcomes if o.status == "loaded"]],
        ).fetchall()
    loaded = [o for o in outcomes if o.status == "loaded"]
    quarantined = [o for o in outcomes if o.status == "quarantined"]
    for table in BANK_TABLES:
        yield dg.MaterializeResult(
            asset_key=bank_asset_key(table),
            metadata={
                "rows_total": counts[table],
                "files_loaded": len(loaded),
                "files_quarantined": len(quarantined),
                "duplicates_skipped": sum(o.duplicates for o in outcomes),
            },
        )
    yield dg.AssetCheckResult(
        asset_key=bank_asset_key("bank_statement_balances"),
        check_name="balances_reconcile",
        passed=not unreconciled,
        severity=dg.AssetCheckSeverity.WARN,
        description="; ".join(f"{f}: {p}" for f, p in unreconciled[:10]) or None,
        metadata={"statements_unreconciled": len(unreconciled)},
    )
    yield dg.AssetCheckResult(
        asset_key=bank_asset_key("bank_transactions"),
        check_name="files_readable",
        passed=not quarantined,
        severity=dg.AssetCheckSeverity.WARN,
        description="; ".join(o.reason or "" for o in quarantined[:10]) or None,
        metadata={"files_quarantined": len(quarantined), "files_loaded": len(loaded)},
    )
