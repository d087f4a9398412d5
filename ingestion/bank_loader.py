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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ingestion.ddl import RAW_SCHEMA, create_bank_tables
from ingestion.normalized import ParseError, ParseResult
from ingestion.parsing import parse_file, reconcile

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


def ingest_files(
    con,
    paths: Iterable[Path],
    run_id: str,
    *,
    root: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[IngestOutcome]:
    """Parse and load every file under ``paths``; one outcome per file."""
    create_bank_tables(con)
    outcomes = []
    files = iter_files(paths)
    for i, path in enumerate(files, start=1):
        outcomes.append(ingest_file(con, path, run_id, name=_display_name(path, root)))
        if progress and (i % 200 == 0 or i == len(files)):
            progress(f"bank/remittance files: {i}/{len(files)}")
    return outcomes


def ingest_file(con, path: Path, run_id: str, *, name: str | None = None) -> IngestOutcome:
    name = name or str(path)
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    seen = con.execute(
        f"select status from {RAW_SCHEMA}.load_log where content_hash = ? limit 1", [digest]
    ).fetchone()
    if seen:
        return IngestOutcome(name, None, "skipped", reason=f"same bytes already {seen[0]}")
    now = dt.datetime.now(dt.UTC)
    try:
        result = parse_file(path)
    except ParseError as e:
        return _quarantine(con, name, digest, str(e), run_id, now)
    except Exception as e:  # noqa: BLE001 - a parser bug must not stop the batch; the file is kept aside
        return _quarantine(
            con, name, digest, f"{name}: could not be parsed ({type(e).__name__}: {e})", run_id, now
        )
    con.execute("begin transaction")
    try:
        outcome = _insert(con, result, name, digest, now)
        con.execute(
            f"insert into {RAW_SCHEMA}.load_log values (?, ?, null, ?, 'loaded', ?, 0, ?, ?, ?)",
            [
                name,
                _kind(result),
                digest,
                outcome.transactions + outcome.remittance_lines,
                "; ".join(result.warnings)[:2000] or None,
                run_id,
                now,
            ],
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return outcome


def _kind(result: ParseResult) -> str:
    return "remittance" if result.remittances and not result.transactions else "bank_statement"


def _insert(con, result: ParseResult, name: str, digest: str, now) -> IngestOutcome:
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
        existing = set()
        ids = [r[0] for r in rows]
        for chunk_start in range(0, len(ids), 5000):
            chunk = ids[chunk_start : chunk_start + 5000]
            existing |= {
                r[0]
                for r in con.execute(
                    f"select transaction_id from {RAW_SCHEMA}.bank_transactions where transaction_id in "
                    f"(select unnest(?::varchar[]))",
                    [chunk],
                ).fetchall()
            }
        new_rows = [r for r in rows if r[0] not in existing]
        outcome.duplicates += len(rows) - len(new_rows)
        if new_rows:
            con.executemany(
                f"insert into {RAW_SCHEMA}.bank_transactions values ({', '.join('?' * 23)})", new_rows
            )
        outcome.transactions = len(new_rows)
    for b in result.balances:
        problem = reconcile(b)
        outcome.unreconciled += problem is not None
        con.execute(
            f"insert into {RAW_SCHEMA}.bank_statement_balances values ({', '.join('?' * 13)})",
            [
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
            ],
        )
    outcome.statements = len(result.balances) or len({t.statement_id for t in result.transactions})
    line_rows = []
    for i, doc in enumerate(result.remittances, start=1):
        doc_id = hashlib.sha256(f"{digest}|{doc.position}|{i}".encode()).hexdigest()[:32]
        con.execute(
            f"insert into {RAW_SCHEMA}.remittance_documents values ({', '.join('?' * 13)})",
            [
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
            ],
        )
        for n, line in enumerate(doc.lines, start=1):
            line_rows.append(
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
    if line_rows:
        con.executemany(
            f"insert into {RAW_SCHEMA}.remittance_lines values ({', '.join('?' * 12)})", line_rows
        )
    outcome.remittance_lines = len(line_rows)
    return outcome


def _quarantine(con, name: str, digest: str, reason: str, run_id: str, now) -> IngestOutcome:
    con.execute("begin transaction")
    try:
        con.execute(
            f"insert into {RAW_SCHEMA}.quarantine values (?, 'bank_or_remittance', ?, null, 'parse', ?, null, ?, ?)",
            [name, digest, reason, run_id, now],
        )
        con.execute(
            f"insert into {RAW_SCHEMA}.load_log values (?, 'bank_or_remittance', null, ?, 'quarantined', 0, 0, ?, ?, ?)",
            [name, digest, reason, run_id, now],
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return IngestOutcome(name, None, "quarantined", reason=reason)
