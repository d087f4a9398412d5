"""raw/erp_*: the ERP extracts, loaded from the landing folder into DuckDB (thin wrapper of ingestion.erp_loader)."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from ingestion.erp_contracts import EXTRACTS, LOAD_ORDER
from ingestion.erp_loader import load_erp_extracts
from orchestration.resources import OpenARSettings

# Share of a batch's rows that may be quarantined before downstream assets stop: a few bad rows
# should not hold up the ledger, a broken export (most rows bad) must.
QUARANTINE_TOLERANCE = 0.05


def erp_asset_key(extract: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", EXTRACTS[extract].table])


def _check_specs() -> list[dg.AssetCheckSpec]:
    specs = []
    for name in LOAD_ORDER:
        key = erp_asset_key(name)
        specs.append(
            dg.AssetCheckSpec(
                "rows_valid",
                asset=key,
                description=(
                    "great-expectations suite of the extract on this run's rows: fails (warning) when any row or file "
                    "was quarantined; the quarantine table says which, where and why."
                ),
            )
        )
        specs.append(
            dg.AssetCheckSpec(
                "quarantine_within_tolerance",
                asset=key,
                blocking=True,
                description=(
                    f"Blocks downstream assets when more than {QUARANTINE_TOLERANCE:.0%} of this run's rows, or any whole "
                    "file, were quarantined: the ledger would be built on a broken export."
                ),
            )
        )
    return specs


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            erp_asset_key(name),
            description=EXTRACTS[name].description,
            group_name="ingestion",
            kinds={"duckdb", "csv"},
            metadata={"grain": ", ".join(EXTRACTS[name].key)},
        )
        for name in LOAD_ORDER
    ],
    check_specs=_check_specs(),
    can_subset=False,  # one load: reference rules need the extracts in dependency order
)
def raw_erp_extracts(context: dg.AssetExecutionContext, openar: OpenARSettings, duckdb: DuckDBResource):
    """Every new ERP extract file in the landing folder, validated and loaded idempotently."""
    settings = openar.get()
    with duckdb.get_connection() as con:
        report = load_erp_extracts(con, settings.erp_landing_dir, context.run_id, progress=context.log.info)
        counts = {
            name: con.execute(f"select count(*) from raw.{EXTRACTS[name].table}").fetchone()[0]
            for name in LOAD_ORDER
        }
    for name in LOAD_ORDER:
        outcome = report.extracts.get(name)
        key = erp_asset_key(name)
        seen = outcome.rows_seen if outcome else 0
        quarantined = outcome.rows_quarantined if outcome else 0
        files_bad = outcome.files_quarantined if outcome else 0
        reasons = outcome.reasons[:10] if outcome else []
        yield dg.MaterializeResult(
            asset_key=key,
            metadata={
                "rows_total": counts[name],
                "files_new": outcome.files if outcome else 0,
                "rows_loaded": outcome.rows_loaded if outcome else 0,
                "rows_quarantined": quarantined,
                "files_quarantined": files_bad,
            },
        )
        yield dg.AssetCheckResult(
            asset_key=key,
            check_name="rows_valid",
            passed=quarantined == 0 and files_bad == 0,
            severity=dg.AssetCheckSeverity.WARN,
            description="; ".join(reasons) or None,
            metadata={
                "rows_checked": seen,
                "rows_quarantined": quarantined,
                "files_quarantined": files_bad,
                "failed_rules": dg.MetadataValue.json(
                    outcome.suite_summary.get("failed_rules", {}) if outcome else {}
                ),
            },
        )
        share = quarantined / seen if seen else 0.0
        yield dg.AssetCheckResult(
            asset_key=key,
            check_name="quarantine_within_tolerance",
            passed=files_bad == 0 and share <= QUARANTINE_TOLERANCE,
            severity=dg.AssetCheckSeverity.ERROR,
            description=None
            if files_bad == 0 and share <= QUARANTINE_TOLERANCE
            else f"{quarantined} of {seen} rows and {files_bad} file(s) quarantined: {'; '.join(reasons[:3])}",
            metadata={"quarantined_share": round(share, 4), "tolerance": QUARANTINE_TOLERANCE},
        )
    # Files that are not extracts at all (bad names) belong to no asset: say so in the log.
    for f in report.files:
        if f.status == "quarantined" and f.extract == "unknown":
            context.log.warning(f"quarantined: {f.message}")
