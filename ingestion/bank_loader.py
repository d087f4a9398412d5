"""Load bank statements, lockbox files and remittance advices into the warehouse, losing nothing.

- A file's bytes are loaded once (SHA-256 in ``raw.load_log``): replaying a folder changes nothing.
- A movement already in ``raw.bank_transactions`` (same ``BankTransaction.identity()``: account, booking
  and value dates, amount, currency, end-to-end id and bank reference; the n-th look-alike within one
  file keeps an identity of its own) is not inserted again, so the same statement re-sent under
  another name, or overlapping statements, create no duplicates.
- A file that cannot be read is quarantined whole with the parser's reason (file, line, rule); the
  rest of the batch goes on. Each file is loaded in one transaction: nothing half-loaded stays.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from ingestion.ddl import RAW_SCHEMA, create_bank_tables
from ingestion.normalized import ParseError, ParseResult
from ingestion.parsing import parse_file, reconcile
from ingestion.processes import map_in_processes

SKIP_NAMES = {".DS_Store", "Thumbs.db"}


@dataclass
class IngestOutcome:
    source_file: str
    source_format: str | None
    status: str  # loaded | skipped (same bytes seen) | quarantined
    statements: int = 0
    transactions: int = 0
    duplicates: int = 0
    remittance_lines: int = 0
    unreconciled: int = 0
    reason: str | None = None
    warnings: list[str] = field(default_factory=list)


def iter_files(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            files += sorted(f for f in p.rglob("*") if f.is_file() and f.name not in SKIP_NAMES)
        elif p.exists():
            files.append(p)
        else:
            raise FileNotFoundError(f"{p}: no such file or folder")
    return files


def _display_name(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
    return str(path)


# Files parsed per transaction. A batch is written in one transaction (its rows, its load-log lines and
# its quarantine lines together): a crash leaves no file half-loaded, and the batch is simply parsed
# again by the next run. Per-file transactions cost about 10 ms of statement overhead a file, more
# than parsing most statements.
BATCH_FILES = 500
# Below this many new files a process pool costs more to start (each worker imports the parsers)
# than it saves.
POOL_MIN_FILES = 64


def ingest_files(
    con,
    paths: Iterable[Path],
    run_id: str,
    *,
    root: Path | None = None,
    progress: Callable[[str], None] | None = None,
    workers: int = 1,
    batch_files: int = BATCH_FILES,
) -> list[IngestOutcome]:
    """Parse and load every file under ``paths``; one outcome per file, in file order.

    Files whose bytes were loaded before (or appear twice in this call) are skipped without parsing.
    The rest are parsed by ``workers`` processes (parsing is pure: a path in, a ``ParseResult`` out)
    and written by this process in batches, so DuckDB keeps its single writer.
    """
    create_bank_tables(con)
    files = iter_files(paths)
    names = [_display_name(path, root) for path in files]
    digests = [hashlib.sha256(path.read_bytes()).hexdigest() for path in files]
    seen = dict(
        con.execute(
            f"select content_hash, any_value(status) from {RAW_SCHEMA}.load_log "
            f"where content_hash in (select unnest(?::varchar[])) group by content_hash",
            [sorted(set(digests))],
        ).fetchall()
    )
    outcomes: list[IngestOutcome | None] = [None] * len(files)
    todo: list[int] = []
    first_in_call: dict[str, str] = {}
    for i, digest in enumerate(digests):
        if digest in seen:
            outcomes[i] = IngestOutcome(
                names[i], None, "skipped", reason=f"same bytes already {seen[digest]}"
            )
        elif digest in first_in_call:
            outcomes[i] = IngestOutcome(
                names[i], None, "skipped", reason=f"same bytes as {first_in_call[digest]} in this batch"
            )
        else:
            first_in_call[digest] = names[i]
            todo.append(i)

    done = len(files) - len(todo)
    batch = _Batch(con, run_id)
    for i, parsed in zip(todo, _parse_all([files[i] for i in todo], workers), strict=True):
        outcomes[i] = batch.add(names[i], digests[i], parsed)
        done += 1
        if len(batch) >= batch_files:
            batch.flush()
        if progress and (done % 200 == 0 or done == len(files)):
            progress(f"bank/remittance files: {done}/{len(files)}")
    batch.flush()
    return [o for o in outcomes if o is not None]


def _parse_one(path: Path) -> ParseResult | str:
    """A file's parse, or the reason it cannot be read (a worker's unit of work; must not raise)."""
    try:
        return parse_file(path)
    except ParseError as e:
        return str(e)
    except Exception as e:  # noqa: BLE001 - a parser bug must not stop the batch; the file is kept aside
        return f"{path.name}: could not be parsed ({type(e).__name__}: {e})"


def _parse_all(paths: list[Path], workers: int) -> Iterator[ParseResult | str]:
    if workers <= 1 or len(paths) < POOL_MIN_FILES:
        yield from map(_parse_one, paths)
        return
    yield from map_in_processes(_parse_one, paths, workers, chunksize=16)


def _kind(result: ParseResult) -> str:
    return "remittance" if result.remittances and not result.transactions else "bank_statement"


class _Batch:
    """Rows of several parsed files, written to the raw tables in one transaction."""

    def __init__(self, con, run_id: str):
        self.con = con
        self.run_id = run_id
        self.files = 0
        self._reset()

    def __len__(self) -> int:
        return self.files

    def _reset(self) -> None:
        self.files = 0
        self.rows: dict[str, list[tuple]] = {
            t: []
            for t in (
                "bank_transactions",
                "bank_statement_balances",
                "remittance_documents",
                "remittance_lines",
                "load_log",
                "quarantine",
            )
        }
        self.transaction_ids: set[str] = set()  # ids this batch inserts (a look-alike file in the batch)

    def add(self, name: str, digest: str, parsed: ParseResult | str) -> IngestOutcome:
        self.files += 1
        now = dt.datetime.now(dt.UTC)
        if isinstance(parsed, str):
            self.rows["quarantine"].append(
                (name, "bank_or_remittance", digest, None, "parse", parsed, None, self.run_id, now)
            )
            self.rows["load_log"].append(
                (name, "bank_or_remittance", None, digest, "quarantined", 0, 0, parsed, self.run_id, now)
            )
            return IngestOutcome(name, None, "quarantined", reason=parsed)
        outcome = self._add_rows(parsed, name, digest, now)
        self.rows["load_log"].append(
            (
                name,
                _kind(parsed),
                None,
                digest,
                "loaded",
                outcome.transactions + outcome.remittance_lines,
                0,
                "; ".join(parsed.warnings)[:2000] or None,
                self.run_id,
                now,
            )
        )
        return outcome

    def _add_rows(self, result: ParseResult, name: str, digest: str, now) -> IngestOutcome:
        outcome = IngestOutcome(name, result.source_format, "loaded", warnings=list(result.warnings))
        rows = []
        occurrences: dict[str, int] = {}
        for t in result.transactions:
            # Two movements of one file are two movements even when they look alike (two card payments
            # of 9.99 on one day with no reference): the n-th look-alike of a file keeps its own identity,
            # and the same file (or an overlapping statement) sent again maps onto the same identities.
            base = t.identity()
            occurrences[base] = occurrences.get(base, 0) + 1
            tid = (
                base
                if occurrences[base] == 1
                else hashlib.sha256(f"{base}#{occurrences[base]}".encode()).hexdigest()
            )
            rows.append(
                (
                    tid,
                    t.source_format,
                    t.account,
                    t.bank,
                    t.statement_id,
                    t.booking_date,
                    t.value_date,
                    t.amount,
                    t.currency,
                    t.credit_debit,
                    t.counterparty_name,
                    t.counterparty_account,
                    t.end_to_end_id,
                    t.bank_reference,
                    t.customer_reference,
                    t.remittance_text,
                    t.structured_references,
                    t.transaction_code,
                    t.is_reversal,
                    name,
                    t.position,
                    digest,
                    now,
                )
            )
        if rows:
            existing = self._existing_transaction_ids([r[0] for r in rows]) | self.transaction_ids
            new_rows = [r for r in rows if r[0] not in existing]
            outcome.duplicates += len(rows) - len(new_rows)
            self.rows["bank_transactions"] += new_rows
            self.transaction_ids.update(r[0] for r in new_rows)
            outcome.transactions = len(new_rows)
        for b in result.balances:
            problem = reconcile(b)
            outcome.unreconciled += problem is not None
            self.rows["bank_statement_balances"].append(
                (
                    b.source_format,
                    b.account,
                    b.statement_id,
                    b.currency,
                    b.opening_balance,
                    b.opening_date,
                    b.closing_balance,
                    b.closing_date,
                    b.movements_total,
                    problem,
                    name,
                    digest,
                    now,
                )
            )
        outcome.statements = len(result.balances) or len({t.statement_id for t in result.transactions})
        lines = 0
        for i, doc in enumerate(result.remittances, start=1):
            doc_id = hashlib.sha256(f"{digest}|{doc.position}|{i}".encode()).hexdigest()[:32]
            self.rows["remittance_documents"].append(
                (
                    doc_id,
                    doc.source_format,
                    doc.payer_name,
                    doc.payer_confidence,
                    doc.payment_reference,
                    doc.payment_date,
                    doc.total_amount,
                    doc.currency,
                    len(doc.lines),
                    name,
                    doc.position,
                    digest,
                    now,
                )
            )
            for n, line in enumerate(doc.lines, start=1):
                lines += 1
                self.rows["remittance_lines"].append(
                    (
                        doc_id,
                        n,
                        line.invoice_reference,
                        line.paid_amount,
                        line.invoice_amount,
                        line.discount_amount,
                        line.deduction_amount,
                        line.deduction_reason,
                        line.confidence,
                        name,
                        digest,
                        now,
                    )
                )
        outcome.remittance_lines = lines
        return outcome

    def _existing_transaction_ids(self, ids: list[str]) -> set[str]:
        existing: set[str] = set()
        for chunk_start in range(0, len(ids), 5000):
            chunk = ids[chunk_start : chunk_start + 5000]
            existing |= {
                r[0]
                for r in self.con.execute(
                    f"select transaction_id from {RAW_SCHEMA}.bank_transactions where transaction_id in "
                    f"(select unnest(?::varchar[]))",
                    [chunk],
                ).fetchall()
            }
        return existing

    def flush(self) -> None:
        if not self.files:
            return
        self.con.execute("begin transaction")
        try:
            for table, rows in self.rows.items():
                if rows:
                    _append(self.con, table, rows)
            self.con.execute("commit")
        except BaseException:
            self.con.execute("rollback")
            raise
        self._reset()


_ARROW_TYPES = {
    "VARCHAR": pa.string(),
    "DATE": pa.date32(),
    "INTEGER": pa.int32(),
    "DOUBLE": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "TIMESTAMP WITH TIME ZONE": pa.timestamp("us", tz="UTC"),
    "VARCHAR[]": pa.list_(pa.string()),
    # Wider than the column on purpose: DuckDB casts to decimal(18,2) on insert exactly as a
    # parameterized insert did; Arrow would refuse to rescale a 3-decimal amount itself.
    "DECIMAL(18,2)": pa.decimal128(38, 10),
}


def _append(con, table: str, rows: list[tuple]) -> None:
    """Insert row tuples (in the table's column order) through one Arrow table: a statement per
    table per batch instead of one per row."""
    columns = con.execute(
        "select column_name, data_type from duckdb_columns() where schema_name = ? and table_name = ? "
        "order by column_index",
        [RAW_SCHEMA, table],
    ).fetchall()
    arrays = [
        pa.array([r[k] for r in rows], type=_ARROW_TYPES[data_type])
        for k, (_, data_type) in enumerate(columns)
    ]
    batch = pa.Table.from_arrays(arrays, names=[c for c, _ in columns])  # noqa: F841 - read by DuckDB below
    con.execute(f"insert into {RAW_SCHEMA}.{table} select * from batch")
