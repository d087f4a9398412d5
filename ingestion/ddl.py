"""DDL of the raw schema, derived from the extract contracts."""

from __future__ import annotations

from ingestion.erp_contracts import EXTRACTS, LOAD_METADATA_COLUMNS, Extract

RAW_SCHEMA = "raw"


def raw_table_ddl(extract: Extract, schema: str = RAW_SCHEMA) -> str:
    cols = [f"{c.name} {c.sql_type}" for c in extract.columns]
    cols += [f"{name} {sql_type}" for name, sql_type, _ in LOAD_METADATA_COLUMNS]
    return f"create table if not exists {schema}.{extract.table} (\n    " + ",\n    ".join(cols) + "\n)"


LOAD_LOG_DDL = f"""
create table if not exists {RAW_SCHEMA}.load_log (
    source_file varchar not null,
    extract_name varchar not null,
    extract_date date,
    content_hash varchar not null,
    status varchar not null,          -- loaded | replaced | quarantined | skipped
    rows_loaded integer not null,
    rows_quarantined integer not null,
    message varchar,
    run_id varchar,
    loaded_at timestamptz not null
)
"""

QUARANTINE_DDL = f"""
create table if not exists {RAW_SCHEMA}.quarantine (
    source_file varchar not null,
    extract_name varchar not null,
    content_hash varchar not null,
    row_number integer,               -- null: the whole file was rejected
    rule varchar not null,
    reason varchar not null,          -- what a person reads: file, row, column, value and rule
    raw_record varchar,
    run_id varchar,
    quarantined_at timestamptz not null
)
"""


def create_raw_tables(con) -> None:
    """Create the raw schema and every raw table (idempotent). ``con`` is a DuckDB connection."""
    con.execute(f"create schema if not exists {RAW_SCHEMA}")
    for extract in EXTRACTS.values():
        con.execute(raw_table_ddl(extract))
    con.execute(LOAD_LOG_DDL)
    con.execute(QUARANTINE_DDL)
