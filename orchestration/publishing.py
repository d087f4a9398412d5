"""Publish the warehouse's marts to a separate DuckDB file that readers open read-only.

Why a separate file: DuckDB lets one process open a database file read-write, and while it does,
no other process can open that file at all, not even read-only (../shared/STACK.md, "DuckDB
locking"). The pipeline holds ``settings.warehouse_path`` read-write during a run, so the
dashboard and BI tools never read it. After each run the pipeline copies the marts into a new
file and ``os.replace``-s it over ``settings.published_path``. The rename is atomic on POSIX: a
reader opening the path sees either the old file or the new one, complete, and a reader that
already holds the old file keeps reading its inode until it closes it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import duckdb

# Raw tables the ingestion page shows next to the marts: what was loaded, what was rejected, and
# the statement balance checks. All three hold a row per file or statement, never per movement.
DEFAULT_EXTRA_TABLES: tuple[str, ...] = ("raw.load_log", "raw.quarantine", "raw.bank_statement_balances")
# Our dbt project puts the marts in schema "marts"; dbt's default naming would make it "main_marts".
# Matching on the suffix publishes either, and a second marts folder ("finance_marts") too.
DEFAULT_MART_SCHEMA_SUFFIX = "marts"
# Written into every published file so readers can show when the data was published and from where.
META_SCHEMA = "openar_meta"
META_TABLE = "publish_info"
_PUB_ALIAS = "openar_publish_target"

# Per-file aggregates of the bank and remittance tables for the ingestion page. raw.bank_transactions
# reaches millions of rows, and the page needs only counts per file, format and day: copying the
# table would make every publish (and the published file) grow with the bank history.
INGESTION_SUMMARY_SCHEMA = "ingestion_summary"
SOURCE_FILES_TABLE = f"{INGESTION_SUMMARY_SCHEMA}.source_files"
# The published contract of the summary, declared once so it exists with these types even when
# only some of the raw tables it reads do (a warehouse that has seen statements but no remittances).
_SOURCE_FILES_DDL = """
create table {target} (
    source_file varchar not null,      -- raw.load_log.source_file
    content_hash varchar not null,     -- with source_file, the key into raw.load_log
    source_format varchar not null,    -- camt.053, mt940, bai2, lockbox, x12-820, eml, ...
    load_date date not null,           -- UTC day of _loaded_at
    statements bigint not null,        -- statements with balances (raw.bank_statement_balances)
    unreconciled_statements bigint not null,
    transactions bigint not null,      -- new rows in raw.bank_transactions (duplicates are not stored)
    credits bigint not null,
    debits bigint not null,
    first_booking_date date,
    last_booking_date date,
    remittance_documents bigint not null,
    remittance_lines bigint not null
)
"""
# One select per raw table, each giving every column of the summary (zeros where it has nothing to
# say); the summary sums them per file and format. Keyed by the raw tables each one reads.
_SOURCE_FILES_PARTS: dict[tuple[str, ...], str] = {
    ("raw.bank_transactions",): """
        select _source_file as source_file, _content_hash as content_hash, source_format,
            min(_loaded_at) as loaded_at, 0 as statements, 0 as unreconciled_statements,
            count(*) as transactions,
            count(*) filter (where credit_debit = 'CRDT') as credits,
            count(*) filter (where credit_debit = 'DBIT') as debits,
            min(booking_date) as first_booking_date, max(booking_date) as last_booking_date,
            0 as remittance_documents, 0 as remittance_lines
        from {catalog}.raw.bank_transactions
        group by _source_file, _content_hash, source_format""",
    ("raw.bank_statement_balances",): """
        select _source_file as source_file, _content_hash as content_hash, source_format,
            min(_loaded_at) as loaded_at, count(*) as statements,
            count(*) filter (where reconciliation_problem is not null) as unreconciled_statements,
            0 as transactions, 0 as credits, 0 as debits,
            null::date as first_booking_date, null::date as last_booking_date,
            0 as remittance_documents, 0 as remittance_lines
        from {catalog}.raw.bank_statement_balances
        group by _source_file, _content_hash, source_format""",
    ("raw.remittance_documents", "raw.remittance_lines"): """
        select d._source_file as source_file, d._content_hash as content_hash, d.source_format,
            min(d._loaded_at) as loaded_at, 0 as statements, 0 as unreconciled_statements,
            0 as transactions, 0 as credits, 0 as debits,
            null::date as first_booking_date, null::date as last_booking_date,
            count(distinct d.document_id) as remittance_documents,
            count(l.document_id) as remittance_lines
        from {catalog}.raw.remittance_documents d
        left join {catalog}.raw.remittance_lines l
            on l.document_id = d.document_id and l._content_hash = d._content_hash
        group by d._source_file, d._content_hash, d.source_format""",
}


class PublishError(RuntimeError):
    """Publishing could not run; the previously published file is left as it was."""


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _split_qualified(name: str) -> tuple[str, str]:
    parts = name.split(".")
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"table names to publish are 'schema.table', got {name!r}")
    return parts[0], parts[1]


@contextlib.contextmanager
def _warehouse_connection(
    warehouse: Path | str | duckdb.DuckDBPyConnection,
) -> Iterator[duckdb.DuckDBPyConnection]:
    if isinstance(warehouse, duckdb.DuckDBPyConnection):
        # The caller (the pipeline) already holds the write connection: use it and leave it open.
        yield warehouse
        return
    path = Path(warehouse)
    if not path.exists():
        raise PublishError(f"no warehouse at {path}: run the pipeline first (make run)")
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.ConnectionException:
        # This process already holds the file read-write through duckdb.connect; DuckDB refuses a
        # second configuration of the same file in one process, but hands out the same instance
        # when asked with the writer's configuration.
        con = duckdb.connect(str(path))
    except duckdb.IOException as exc:
        raise PublishError(
            f"cannot open the warehouse {path}: another process holds it read-write ({exc}). "
            "Publish from inside that process by passing its open connection."
        ) from exc
    try:
        yield con
    finally:
        con.close()


def _tables_to_publish(
    con: duckdb.DuckDBPyConnection,
    catalog: str,
    tables: Sequence[str] | None,
    schemas: Sequence[str] | None,
    extra_tables: Sequence[str],
) -> list[tuple[str, str]]:
    existing = {
        (s, t)
        for s, t in con.execute(
            "select table_schema, table_name from information_schema.tables where table_catalog = ?",
            [catalog],
        ).fetchall()
    }
    if tables is not None:
        wanted = [_split_qualified(t) for t in tables]
        missing = [f"{s}.{t}" for s, t in wanted if (s, t) not in existing]
        if missing:
            raise PublishError(f"tables to publish are not in the warehouse: {', '.join(missing)}")
        return wanted
    if schemas is None:
        chosen = sorted(k for k in existing if k[0].endswith(DEFAULT_MART_SCHEMA_SUFFIX))
    else:
        chosen = sorted(k for k in existing if k[0] in set(schemas))
    # The raw extras are optional: a warehouse built without the loader still publishes its marts.
    chosen += [k for k in map(_split_qualified, extra_tables) if k in existing and k not in chosen]
    return chosen


def _existing_tables(con: duckdb.DuckDBPyConnection, catalog: str) -> set[str]:
    rows = con.execute(
        "select table_schema || '.' || table_name from information_schema.tables where table_catalog = ?",
        [catalog],
    ).fetchall()
    return {r[0] for r in rows}


def _source_files_sql(catalog: str, existing: set[str]) -> str | None:
    """The select that fills ``ingestion_summary.source_files``; None when no raw table feeds it."""
    parts = [
        sql.format(catalog=_ident(catalog))
        for needs, sql in _SOURCE_FILES_PARTS.items()
        if all(t in existing for t in needs)
    ]
    if not parts:
        return None
    return f"""
        with parts as ({" union all by name ".join(parts)})
        select source_file, content_hash, source_format,
            -- UTC, whatever the session's TimeZone: the page groups by this day.
            (min(loaded_at) at time zone 'UTC')::date as load_date,
            sum(statements), sum(unreconciled_statements), sum(transactions), sum(credits), sum(debits),
            min(first_booking_date), max(last_booking_date),
            sum(remittance_documents), sum(remittance_lines)
        from parts
        group by source_file, content_hash, source_format
        order by load_date, source_file, source_format
    """


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish_marts(
    warehouse_path: Path | str | duckdb.DuckDBPyConnection,
    published_path: Path | str,
    tables: list[str] | None = None,
    *,
    schemas: list[str] | None = None,
    extra_tables: Sequence[str] = DEFAULT_EXTRA_TABLES,
    ingestion_summary: bool = True,
) -> dict:
    """Copy the marts from the warehouse into a new file and atomically replace ``published_path``.

    ``warehouse_path`` is the warehouse file, or an open connection to it (the pipeline's write
    connection; it is used as is and left open). ``tables`` ("schema.table") publishes exactly
    those; otherwise every table and view of ``schemas`` (default: every schema whose name ends
    with "marts") plus ``extra_tables`` where they exist. Views are materialized as tables so the
    published file stands alone. Tables keep their schema names in the published file.

    ``ingestion_summary`` (unless ``tables`` is given) adds ``ingestion_summary.source_files``: one
    row per loaded bank or remittance file and format with its counts of statements, transactions
    and remittance lines, built from whichever of the raw bank/remittance tables exist.

    Returns ``{"published_path", "tables": {"schema.table": rows}, "bytes", "seconds", "published_at"}``.
    On any error the old published file is untouched and the temporary file is removed.
    """
    started = time.perf_counter()
    published_path = Path(published_path).resolve()
    published_path.parent.mkdir(parents=True, exist_ok=True)
    # Same folder as the target: os.replace is atomic only within one filesystem. The leading dot
    # and the unique suffix keep concurrent publishers and readers' globs off each other's files.
    tmp_path = published_path.with_name(f".{published_path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    published_at = dt.datetime.now(dt.UTC)
    row_counts: dict[str, int] = {}

    with _warehouse_connection(warehouse_path) as con:
        catalog, source_file = con.execute(
            "select database_name, path from duckdb_databases() where database_name = current_database()"
        ).fetchone()
        chosen = _tables_to_publish(con, catalog, tables, schemas, extra_tables)
        summary_sql = (
            _source_files_sql(catalog, _existing_tables(con, catalog))
            if ingestion_summary and tables is None
            else None
        )
        if not chosen:
            raise PublishError(
                f"nothing to publish in catalog {catalog!r}: no schema ending in "
                f"{DEFAULT_MART_SCHEMA_SUFFIX!r} (has dbt built the marts?)"
            )
        attached = False
        try:
            # READ_WRITE is explicit because an ATTACH from a read-only connection defaults to read-only.
            con.execute(f"attach {_literal(str(tmp_path))} as {_PUB_ALIAS} (read_write)")
            attached = True
            schemas_out = {s for s, _ in chosen} | {META_SCHEMA}
            if summary_sql:
                schemas_out.add(INGESTION_SUMMARY_SCHEMA)
            for schema in sorted(schemas_out):
                con.execute(f"create schema if not exists {_PUB_ALIAS}.{_ident(schema)}")
            for schema, table in chosen:
                con.execute(
                    f"create table {_PUB_ALIAS}.{_ident(schema)}.{_ident(table)} as "
                    f"select * from {_ident(catalog)}.{_ident(schema)}.{_ident(table)}"
                )
                row_counts[f"{schema}.{table}"] = con.execute(
                    f"select count(*) from {_PUB_ALIAS}.{_ident(schema)}.{_ident(table)}"
                ).fetchone()[0]
            if summary_sql:
                target = f"{_PUB_ALIAS}.{SOURCE_FILES_TABLE}"
                con.execute(_SOURCE_FILES_DDL.format(target=target))
                con.execute(f"insert into {target} {summary_sql}")
                row_counts[SOURCE_FILES_TABLE] = con.execute(f"select count(*) from {target}").fetchone()[0]
            con.execute(
                f"create table {_PUB_ALIAS}.{META_SCHEMA}.{META_TABLE} as "
                "select ?::timestamptz as published_at, ?::varchar as warehouse, ?::varchar[] as tables",
                [published_at, source_file, sorted(row_counts)],
            )
            # Fold the WAL into the file before the rename: readers must get one self-contained file.
            con.execute(f"checkpoint {_PUB_ALIAS}")
            con.execute(f"detach {_PUB_ALIAS}")
            attached = False
            _fsync_path(tmp_path)
            os.replace(tmp_path, published_path)
            _fsync_path(published_path.parent)
        except Exception:
            if attached:
                with contextlib.suppress(duckdb.Error):
                    con.execute(f"detach {_PUB_ALIAS}")
            for leftover in (tmp_path, tmp_path.with_name(tmp_path.name + ".wal")):
                leftover.unlink(missing_ok=True)
            raise

    return {
        "published_path": str(published_path),
        "tables": row_counts,
        "bytes": published_path.stat().st_size,
        "seconds": round(time.perf_counter() - started, 3),
        "published_at": published_at.isoformat(),
    }
