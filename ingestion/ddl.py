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


BANK_DDL = (
    f"""
create table if not exists {RAW_SCHEMA}.bank_transactions (
    transaction_id varchar not null,          -- BankTransaction.identity(): the de-duplication key
    source_format varchar not null,
    account varchar not null,
    bank varchar,
    statement_id varchar,
    booking_date date,
    value_date date,
    amount decimal(18, 2) not null,           -- signed: credits positive
    currency varchar not null,
    credit_debit varchar not null,
    counterparty_name varchar,
    counterparty_account varchar,
    end_to_end_id varchar,
    bank_reference varchar,
    customer_reference varchar,
    remittance_text varchar,
    structured_references varchar[],
    transaction_code varchar,
    is_reversal boolean not null,
    _source_file varchar not null,
    _position integer not null,
    _content_hash varchar not null,
    _loaded_at timestamptz not null
)
""",
    f"""
create table if not exists {RAW_SCHEMA}.bank_statement_balances (
    source_format varchar not null,
    account varchar not null,
    statement_id varchar,
    currency varchar not null,
    opening_balance decimal(18, 2),
    opening_date date,
    closing_balance decimal(18, 2),
    closing_date date,
    movements_total decimal(18, 2) not null,
    reconciliation_problem varchar,           -- null: opening + movements = closing (or not stated)
    _source_file varchar not null,
    _content_hash varchar not null,
    _loaded_at timestamptz not null
)
""",
    f"""
create table if not exists {RAW_SCHEMA}.remittance_documents (
    document_id varchar not null,
    source_format varchar not null,
    payer_name varchar,
    payer_confidence double,
    payment_reference varchar,
    payment_date date,
    total_amount decimal(18, 2),
    currency varchar,
    line_count integer not null,
    _source_file varchar not null,
    _position integer not null,
    _content_hash varchar not null,
    _loaded_at timestamptz not null
)
""",
    f"""
create table if not exists {RAW_SCHEMA}.remittance_lines (
    document_id varchar not null,
    line_number integer not null,
    invoice_reference varchar not null,
    paid_amount decimal(18, 2),
    invoice_amount decimal(18, 2),
    discount_amount decimal(18, 2),
    deduction_amount decimal(18, 2),
    deduction_reason varchar,
    confidence double not null,
    _source_file varchar not null,
    _content_hash varchar not null,
    _loaded_at timestamptz not null
)
""",
)


def create_bank_tables(con) -> None:
    """Tables of the bank and remittance ingestion (idempotent), plus the shared log and quarantine."""
    con.execute(f"create schema if not exists {RAW_SCHEMA}")
    for ddl in BANK_DDL:
        con.execute(ddl)
    con.execute(LOAD_LOG_DDL)
    con.execute(QUARANTINE_DDL)
