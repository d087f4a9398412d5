"""Helpers of the dbt tests: run dbt for real, fill raw tables, copy them to PostgreSQL, read marts."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

from ingestion.ddl import LOAD_LOG_DDL, QUARANTINE_DDL, RAW_SCHEMA, raw_table_ddl
from ingestion.erp_contracts import EXTRACTS, LOAD_METADATA_COLUMNS, LOAD_ORDER

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
MARTS_SCHEMA = "marts"
MARTS = (
    "dim_collectors",
    "dim_customers",
    "fct_ar_open_items",
    "fct_ar_balance_daily",
    "rpt_ar_aging",
    "rpt_ar_kpis",
)


def dbt_executable() -> str:
    """The venv's dbt, beside the running interpreter (the tests run from .venv/bin/pytest)."""
    candidate = Path(sys.executable).parent / "dbt"
    return str(candidate) if candidate.exists() else "dbt"


def run_dbt(args: list[str], env: dict[str, str], work_dir: Path) -> subprocess.CompletedProcess:
    """``dbt <args>`` on our project; target/ and logs/ go to ``work_dir`` so concurrent runs (other
    tests, a developer's own build) never share dbt's state files."""
    full_env = {
        **os.environ,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_TARGET_PATH": str(work_dir / "target"),
        "DBT_LOG_PATH": str(work_dir / "logs"),
        **env,
    }
    cmd = [
        dbt_executable(),
        *args,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
    ]
    return subprocess.run(cmd, env=full_env, capture_output=True, text=True, cwd=work_dir, timeout=900)


def dbt_failure_message(result: subprocess.CompletedProcess) -> str:
    lines = (result.stdout + result.stderr).splitlines()
    interesting = [ln for ln in lines if "ERROR" in ln or "FAIL" in ln or "Error" in ln or "WARN" in ln]
    return "\n".join(interesting[-40:] or lines[-60:])


def load_landing_csvs(con, erp_dir: Path) -> None:
    """A deliberately simple stand-in for the loader: every CSV under ``erp_dir`` into its raw
    table, cast by the contract, stamped with the load metadata the loader would add (row numbers
    in file order, extract date from the name). The real loader's validation is not needed for the
    simulator's clean files, and this takes a second instead of a minute."""
    import csv

    import pandas as pd

    for name in LOAD_ORDER:
        extract = EXTRACTS[name]
        names = [c.name for c in extract.columns]
        records: list[list[str | int]] = []
        for path in sorted((erp_dir / name).glob(f"{name}_*.csv")):
            extract_date = path.stem[len(name) + 1 : len(name) + 11]
            with path.open(newline="", encoding="utf-8-sig") as f:
                for row_number, row in enumerate(csv.DictReader(f), start=1):
                    records.append(
                        [row[n] for n in names] + [f"erp/{name}/{path.name}", row_number, extract_date]
                    )
        if not records:
            continue
        frame = pd.DataFrame(
            records, columns=[*names, "source_file", "row_number", "extract_date"], dtype=object
        )
        casts = ", ".join(f"cast(nullif(frame.{c.name}, '') as {c.sql_type})" for c in extract.columns)
        meta = ", ".join(m for m, _, _ in LOAD_METADATA_COLUMNS)
        con.register("frame", frame)
        con.execute(f"""
            insert into {RAW_SCHEMA}.{extract.table} ({", ".join(names)}, {meta})
            select {casts}, source_file, 'sha256-' || source_file, cast(row_number as integer),
                cast(extract_date as date), current_timestamp
            from frame
        """)
        con.unregister("frame")


def copy_raw_to_postgres(duckdb_path: Path, pg_conn) -> dict[str, int]:
    """Copy every raw table from the DuckDB file into schema raw of PostgreSQL (same DDL), with
    COPY through CSV: DuckDB's postgres extension would need a download. Returns rows per table."""
    import duckdb

    tables = [(EXTRACTS[n].table, raw_table_ddl(EXTRACTS[n])) for n in LOAD_ORDER]
    tables += [("load_log", LOAD_LOG_DDL), ("quarantine", QUARANTINE_DDL)]
    counts: dict[str, int] = {}
    src = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        with pg_conn.cursor() as cur, tempfile.TemporaryDirectory() as tmp:
            cur.execute(f"create schema if not exists {RAW_SCHEMA}")
            for table, ddl in tables:
                cur.execute(ddl)
                csv_path = Path(tmp) / f"{table}.csv"
                # timestamptz as ISO text with offset, so the session time zone cannot shift it
                src.execute("set timezone = 'UTC'")
                src.execute(
                    f"copy (select * from {RAW_SCHEMA}.{table}) to '{csv_path}' (header, delimiter ',')"
                )
                with csv_path.open() as f:
                    cur.copy_expert(f"copy {RAW_SCHEMA}.{table} from stdin with (format csv, header true)", f)
                cur.execute(f"select count(*) from {RAW_SCHEMA}.{table}")
                counts[table] = cur.fetchone()[0]
    finally:
        src.close()
    return counts


def _normalized(value):
    # Decimals compare as text so that the scale counts too (1.5 and 1.50 are different money).
    if isinstance(value, Decimal):
        return ("decimal", str(value))
    return (type(value).__name__, value)


def sorted_rows(rows) -> list[tuple]:
    normalized = [tuple(_normalized(v) for v in row) for row in rows]
    return sorted(normalized, key=lambda row: tuple((kind, "" if v is None else str(v)) for kind, v in row))


def duckdb_table(path: Path, schema: str, table: str) -> tuple[list[str], list[tuple]]:
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        cur = con.execute(f'select * from "{schema}"."{table}"')
        return [d[0] for d in cur.description], cur.fetchall()
    finally:
        con.close()


def postgres_table(pg_conn, schema: str, table: str) -> tuple[list[str], list[tuple]]:
    with pg_conn.cursor() as cur:
        cur.execute(f'select * from "{schema}"."{table}"')
        return [d[0] for d in cur.description], cur.fetchall()
