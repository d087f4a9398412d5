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

# Raw tables the ingestion page shows next to the marts: what was loaded and what was rejected.
DEFAULT_EXTRA_TABLES: tuple[str, ...] = ("raw.load_log", "raw.quarantine")
# Our dbt project puts the marts in schema "marts"; dbt's default naming would make it "main_marts".
# Matching on the suffix publishes either, and a second marts folder ("finance_marts") too.
DEFAULT_MART_SCHEMA_SUFFIX = "marts"
# Written into every published file so readers can show when the data was published and from where.
META_SCHEMA = "openar_meta"
META_TABLE = "publish_info"
_PUB_ALIAS = "openar_publish_target"


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
) -> dict:
    """Copy the marts from the warehouse into a new file and atomically replace ``published_path``.

    ``warehouse_path`` is the warehouse file, or an open connection to it (the pipeline's write
    connection; it is used as is and left open). ``tables`` ("schema.table") publishes exactly
    those; otherwise every table and view of ``schemas`` (default: every schema whose name ends
    with "marts") plus ``extra_tables`` where they exist. Views are materialized as tables so the
    published file stands alone. Tables keep their schema names in the published file.

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
            for schema in sorted({s for s, _ in chosen} | {META_SCHEMA}):
                con.execute(f"create schema if not exists {_PUB_ALIAS}.{_ident(schema)}")
            for schema, table in chosen:
                con.execute(
                    f"create table {_PUB_ALIAS}.{_ident(schema)}.{_ident(table)} as "
                    f"select * from {_ident(catalog)}.{_ident(schema)}.{_ident(table)}"
                )
                row_counts[f"{schema}.{table}"] = con.execute(
                    f"select count(*) from {_PUB_ALIAS}.{_ident(schema)}.{_ident(table)}"
                ).fetchone()[0]
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
