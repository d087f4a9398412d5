"""The cash-application engine against the warehouse: inputs read from DuckDB, results written to schema ``cashapp``.

What a run as of day D does (:func:`run_cash_application`):

1. **Which days.** Every day from the day after the last one already applied (a run dated before D)
   through D; on the first run, the last :data:`FIRST_RUN_DAYS` days. Each day is applied on its own,
   in order, and its results replace whatever an earlier run wrote for that day (rerunning a day is
   idempotent: ``delete ... where run_date = d`` then insert, in one transaction).
2. **Inputs of day d** (:func:`engine_inputs`):
   - the bank movements booked on d (``raw.bank_transactions``; the engine sets debits and reversals
     aside) and the remittance advices dated within ``remittance_link_days`` before d;
   - the open items **at the start of d**: the ERP's ledger events dated before d
     (``intermediate.int_ar_erp_item_events``), less the cash this engine applied on earlier days
     that the ERP has not posted yet (:func:`pending_bank_applications`): what the engine applied
     yesterday is not open today, even before the ERP hears of it;
   - the customer master (``staging.stg_erp__customers``), the payments confirmed on earlier days
     (auto-applied and not rejected since) and the corrections people made in the app
     (:func:`read_corrections`, from the write-back folder).
3. **Results** (:data:`RESULT_TABLES`): one table per frame of
   :class:`~ml.cashapp.engine.CashAppResult`, each row stamped with its ``run_date``; money
   ``decimal(18,2)`` written through Arrow (exact ``Decimal`` end to end). A day whose result does not
   add up to the cent (:func:`~ml.cashapp.engine.check_conservation`) is never written.
4. **Matches with the ERP** (:func:`match_erp_payments`, table ``cashapp.erp_payment_matches``): which
   ERP receipt is the same money as which bank movement, so the ledger (dbt, tag ``cash_applied``)
   counts a payment once: from the bank until the ERP posts its application, from the ERP after.

Why the start of the day and not the ERP as of D: the ERP extract of D already holds whatever AR
applied by hand that day; the engine must see the invoices as they stood when the money arrived.
"""

from __future__ import annotations

import datetime as dt
import gc
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa

from ingestion.normalized import BankTransaction, RemittanceDocument, RemittanceLine
from ml.cashapp.book import OpenItemBook
from ml.cashapp.corrections import CORRECTION_COLUMNS, empty_corrections, validate_corrections
from ml.cashapp.engine import (
    APPLICATION_COLUMNS,
    EXCEPTION_COLUMNS,
    PAYMENT_COLUMNS,
    SKIPPED_COLUMNS,
    SUGGESTION_COLUMNS,
    UNAPPLIED_COLUMNS,
    UNLINKED_COLUMNS,
    CashApplicationEngine,
    CashAppResult,
    build_engine,
    check_conservation,
    learn_forward,
)
from ml.cashapp.engine import (
    SUGGESTED as SUGGESTED_STATUS,
)
from ml.cashapp.rules import Rules, load_rules
from ml.cashapp.scoring import Scorer
from ml.writeback import read_records, write_records

CASHAPP_SCHEMA = "cashapp"
# On the first run there is no "last day applied": start this many days back (a go-live backlog). Older
# movements were applied by people in the ERP before the engine existed.
FIRST_RUN_DAYS = 30
# Relations the adapter reads (built by the base dbt stage, or loaded by ingestion).
ERP_EVENTS = "intermediate.int_ar_erp_item_events"
ITEMS = "intermediate.int_ar_items"
INVOICES = "staging.stg_erp__invoices"
CUSTOMERS = "staging.stg_erp__customers"
ERP_PAYMENTS = "staging.stg_erp__payments"
ERP_APPLICATIONS = "staging.stg_erp__payment_applications"
BANK_TRANSACTIONS = "raw.bank_transactions"
REMITTANCE_DOCUMENTS = "raw.remittance_documents"
REMITTANCE_LINES = "raw.remittance_lines"
CORRECTIONS_FOLDER = "cashapp_corrections"

MONEY = "decimal(18, 2)"
CONFIDENCE = "decimal(9, 6)"
_TYPES = {
    "run_date": "date",
    "booking_date": "date",
    "payment_date": "date",
    "amount": MONEY,
    "applied_amount": MONEY,
    "discount_amount": MONEY,
    "deduction_amount": MONEY,
    "suggested_amount": MONEY,
    "unapplied_amount": MONEY,
    "total_amount": MONEY,
    # the engine rounds confidences to 6 places: exact decimals, the same type on every dbt engine
    "confidence": CONFIDENCE,
    "best_confidence": CONFIDENCE,
    "rank": "integer",
    "candidate_count": "integer",
    "remittance_documents": "integer",
    "line_count": "integer",
}
# One table per result frame: the engine's columns, after run_date.
RESULT_TABLES: dict[str, tuple[str, ...]] = {
    "payments": PAYMENT_COLUMNS,
    "applications": APPLICATION_COLUMNS,
    "suggestions": SUGGESTION_COLUMNS,
    "exceptions": EXCEPTION_COLUMNS,
    "unapplied": UNAPPLIED_COLUMNS,
    "unlinked_remittances": UNLINKED_COLUMNS,
    "skipped": SKIPPED_COLUMNS,
}
MATCH_COLUMNS = ("transaction_id", "payment_id", "customer_id", "booking_date", "payment_date", "amount")
# An ERP receipt is the same money as a bank movement when currency and amount are equal, the customer
# is the engine's (or of its family), and the ERP dated it from 5 days before to 30 days after the
# bank booked it (ERPs post receipts late; a value date can precede the booking date).
MATCH_DAYS_BEFORE, MATCH_DAYS_AFTER = 5, 30


def _type(col: str) -> str:
    return _TYPES.get(col, "varchar")


def table_ddl(table: str, columns: Iterable[str], *, run_date: bool = True) -> str:
    cols = (("run_date",) if run_date else ()) + tuple(columns)
    body = ",\n    ".join(f"{c} {_type(c)}{' not null' if c == 'run_date' else ''}" for c in cols)
    return f"create table if not exists {CASHAPP_SCHEMA}.{table} (\n    {body}\n)"


def create_cashapp_tables(con) -> None:
    """Schema ``cashapp`` and its tables (idempotent): dbt's sources exist even before the first run."""
    _do(con, f"create schema if not exists {CASHAPP_SCHEMA}")
    for table, cols in RESULT_TABLES.items():
        _do(con, table_ddl(table, cols))
    _do(con, table_ddl("erp_payment_matches", MATCH_COLUMNS, run_date=False))


def _exists(con, relation: str) -> bool:
    schema, name = relation.split(".")
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, name],
        ).fetchall()[0][0]
    )


def _do(con, sql: str, params: list | None = None) -> None:
    # Fetch to the end: DuckDB refuses the next relation query on a connection while a statement's
    # result is still open.
    con.execute(sql, params or []).fetchall()


def _frame(con, sql: str, params: list | None = None) -> pd.DataFrame:
    # Through Arrow: DECIMAL stays Decimal (DuckDB's .df() would hand over float64).
    return con.sql(sql, params=params or None).to_arrow_table().to_pandas()


# -- inputs ----------------------------------------------------------------------------------------------


def bank_transactions(con, day: dt.date) -> list[BankTransaction]:
    """Every movement booked on ``day`` (value date when a bank gives no booking date), in file order."""
    rows = con.execute(
        f"""
        select source_format, account, bank, statement_id, booking_date, value_date, amount, currency,
            credit_debit, counterparty_name, counterparty_account, end_to_end_id, bank_reference,
            customer_reference, remittance_text, structured_references, transaction_code, is_reversal,
            _position
        from {BANK_TRANSACTIONS}
        where coalesce(booking_date, value_date) = ?
        order by _source_file, _position, transaction_id
        """,
        [day],
    ).fetchall()
    return [
        BankTransaction(*r[:15], structured_references=list(r[15] or []), transaction_code=r[16],
                        is_reversal=bool(r[17]), position=r[18])
        for r in rows
    ]  # fmt: skip


def remittance_documents(con, day: dt.date, link_days: int) -> list[RemittanceDocument]:
    """Advices dated from ``link_days`` before ``day`` to ``day``: the engine links them to movements."""
    docs = con.execute(
        f"""
        select document_id, source_format, payer_name, payment_reference, payment_date, total_amount,
            currency, coalesce(payer_confidence, 1), _position
        from {REMITTANCE_DOCUMENTS}
        where payment_date between ? and ?
        order by payment_date, _source_file, _position, document_id
        """,
        [day - dt.timedelta(days=link_days), day],
    ).fetchall()
    if not docs:
        return []
    lines: dict[str, list[RemittanceLine]] = {}
    for r in con.execute(
        f"""
        select l.document_id, l.invoice_reference, l.paid_amount, l.invoice_amount, l.discount_amount,
            l.deduction_amount, l.deduction_reason, l.confidence, l.line_number
        from {REMITTANCE_LINES} as l
        inner join {REMITTANCE_DOCUMENTS} as d on l.document_id = d.document_id
        where d.payment_date between ? and ?
        order by l.document_id, l.line_number
        """,
        [day - dt.timedelta(days=link_days), day],
    ).fetchall():
        lines.setdefault(r[0], []).append(RemittanceLine(*r[1:]))
    return [
        RemittanceDocument(d[1], d[2], d[3], d[4], d[5], d[6], lines.get(d[0], []), float(d[7]), d[8])
        for d in docs
    ]


@dataclass(frozen=True)
class ErpReceipts:
    """Where the pending-cash rule reads the ERP's receipts and their applications from: the staging
    views, or (:meth:`snapshot`) a copy of the columns it needs, taken once for a run. The views
    keep the latest extract of each row with a window over every receipt and application, 0.3 s each
    time at a million invoices; a first run asks 30 times, and the warehouse does not change under it."""

    payments: str = ERP_PAYMENTS
    applications: str = ERP_APPLICATIONS

    @classmethod
    @contextmanager
    def snapshot(cls, con) -> Iterator[ErpReceipts]:
        names = cls("temp.main.cashapp_run_erp_payments", "temp.main.cashapp_run_erp_applications")
        try:
            _do(
                con,
                f"create or replace temp table cashapp_run_erp_payments as select payment_id, customer_id, "
                f"payment_date, currency, payment_amount from {ERP_PAYMENTS}",
            )
            _do(
                con,
                "create or replace temp table cashapp_run_erp_applications as select payment_id, applied_date "
                f"from {ERP_APPLICATIONS}",
            )
            yield names
        finally:
            for table in ("cashapp_run_erp_payments", "cashapp_run_erp_applications"):
                _do(con, f"drop table if exists temp.main.{table}")


def _pending_bank_applications_sql(before: dt.date, receipts: ErpReceipts = ErpReceipts()) -> str:
    """Cash the engine applied on days before ``before`` (also the parameter ``$day``) that the ERP has not
    applied yet, per item: item_id, applied_amount, discount_amount. The ERP "has" a movement's cash
    once the ERP receipt matched to it (:func:`match_erp_payments`) has an application dated before
    that day; the dbt model ``int_cashapp_bank_item_events`` states the same rule for the ledger."""
    return f"""
        with matches as ({_matches_sql(before, receipts.payments)}),
        posted as (
            select distinct m.transaction_id
            from matches as m
            inner join {receipts.applications} as a on a.payment_id = m.payment_id
            where a.applied_date < $day
        )
        select a.item_id, sum(a.applied_amount) as applied_amount, sum(a.discount_amount) as discount_amount
        from {CASHAPP_SCHEMA}.applications as a
        where a.run_date < $day and a.item_id is not null
            and a.transaction_id not in (select transaction_id from posted)
        group by a.item_id
        """


def pending_bank_applications(con, before: dt.date) -> pd.DataFrame:
    """See :func:`_pending_bank_applications_sql`."""
    return _frame(con, _pending_bank_applications_sql(before), {"day": before})


# Proleptic ordinals (``date.toordinal()``) computed in DuckDB: the book keeps dates as ordinals.
def _ordinal_sql(col: str) -> str:
    return f"date_diff('day', date '0001-01-01', {col}) + 1"


def _open_amounts_sql(day: dt.date, receipts: ErpReceipts = ErpReceipts()) -> str:
    """item_id, open_cents of every invoice issued before ``day`` (unordered): the ERP's events dated
    before ``day`` less what the engine applied that the ERP has not posted yet, never below 0."""
    return f"""
        with events as (
            select item_id, sum(amount) as open_amount
            from {ERP_EVENTS}
            where item_type = 'invoice' and event_date < $day
            group by item_id
        ),
        pending as ({_pending_bank_applications_sql(day, receipts)})
        select i.item_id, cast(greatest(
                coalesce(e.open_amount, 0) - coalesce(p.applied_amount, 0) - coalesce(p.discount_amount, 0),
                0
            ) * 100 as bigint) as open_cents
        from {ITEMS} as i
        inner join events as e on i.item_id = e.item_id
        left join pending as p on i.item_id = p.item_id
        where i.item_type = 'invoice'
        """


def _invoice_attributes_sql(items: str) -> str:
    """What the book keeps of each invoice of ``items`` (a relation with item_id and open_cents), in
    item order. The invoice terms come from a staging view: joined for the given items only, it stays
    cheap when ``items`` is a day's few new invoices."""
    return f"""
        select i.item_id, i.item_type, i.customer_id, i.currency,
            {_ordinal_sql("i.document_date")} as document_date, {_ordinal_sql("i.due_date")} as due_date,
            cast(i.original_amount * 100 as bigint) as original_cents, a.open_cents,
            v.discount_pct, {_ordinal_sql("v.discount_due_date")} as discount_due_date, v.po_number
        from ({items}) as a
        inner join {ITEMS} as i on i.item_id = a.item_id
        left join {INVOICES} as v on i.item_id = v.invoice_id
        order by i.item_id
        """


def open_items(con, day: dt.date) -> pd.DataFrame:
    """Every invoice issued before ``day`` with its open amount at the start of ``day`` (closed ones too:
    a reference to a paid invoice still names its customer), as :meth:`OpenItemBook.from_frame` reads.

    Amounts come as integer cents and dates as ordinals, computed by DuckDB: at a million invoices,
    turning them into ``Decimal`` and ``date`` objects only to turn them back cost more than the
    day's matching. ``decimal(18,2) * 100`` is exact, so nothing is rounded."""
    return _frame(con, _invoice_attributes_sql(_open_amounts_sql(day)), {"day": day})


@dataclass
class DayBook:
    """The open-item book of the start of ``day`` and the open amounts it was built from (item_id,
    open_cents), from which the next day's book is brought forward by the difference. ``later``: what
    the book keeps of the invoices not in it yet (see :func:`open_item_book`), read once for the run."""

    day: dt.date
    book: OpenItemBook
    amounts: pa.Table
    later: pd.DataFrame | None = None


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused while a book is built: a million new items (and the
    dicts and lists that index them) set it off again and again, each time walking every object
    alive, for nothing (no cycle is built here). 11.9 -> 8.7 s for the 1M-invoice world's book."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def _long_lived_objects() -> Iterator[Callable[[], None]]:
    """``freeze()`` moves every object alive into the collector's permanent generation until the
    block ends, so the collections the engine's own allocations set off skip the book (a day of the
    1M-invoice world: 14.6 -> 12.0 s, with :func:`_collector_paused`). Only a freeze made here is
    undone: objects someone else froze stay frozen."""
    frozen_before = gc.get_freeze_count()
    try:
        yield gc.freeze
    finally:
        if frozen_before == 0:
            gc.unfreeze()


def open_item_book(
    con, day: dt.date, previous: DayBook | None = None, receipts: ErpReceipts = ErpReceipts()
) -> DayBook:
    """The book of the start of ``day``: built from :func:`open_items`, or brought forward from the
    book of an earlier day of the same run (:meth:`OpenItemBook.advance`): the engine's reservations
    of that day undone, then only the invoices whose open amount changed, and the new invoices in
    full. At a million invoices this is about a second, where building the book takes 8.6.

    The difference is one join of the two days' amounts. The new invoices' terms come from the rows
    of every invoice not in the book yet, read once on the run's first step forward: the invoices
    view costs 0.2 s a read at a million invoices, however few rows are asked of it (a day forward
    took 1.3 s with three joins and that read each day; 1.0 s now).

    The book comes back recording reservations (:meth:`OpenItemBook.begin`), so the next day can
    undo what the engine took off it today: tomorrow's amounts come from the warehouse."""
    amounts = con.sql(_open_amounts_sql(day, receipts), params={"day": day}).to_arrow_table()
    con.register("cashapp_amounts_now", amounts)
    try:
        if previous is not None:
            previous.book.rollback()
            con.register("cashapp_amounts_before", previous.amounts)
            diff = con.sql(
                "select coalesce(n.item_id, b.item_id) as item_id, coalesce(n.open_cents, 0) as open_cents, "
                "n.item_id is null as vanished, b.item_id is null as is_new "
                "from cashapp_amounts_now as n full outer join cashapp_amounts_before as b "
                "on n.item_id = b.item_id where b.open_cents is distinct from n.open_cents"
            ).fetchnumpy()
            if not diff["vanished"].any():  # else an invoice left the extract: the book is built afresh below
                later = previous.later
                if later is None:
                    later = _frame(
                        con,
                        _invoice_attributes_sql(
                            f"select i.item_id, 0 as open_cents from {ITEMS} as i "
                            "anti join cashapp_amounts_before as b on i.item_id = b.item_id "
                            "where i.item_type = 'invoice'"
                        ),
                    ).set_index("item_id", drop=False)
                is_new = diff["is_new"].astype(bool)
                changed = ~is_new
                new_cents = dict(
                    zip(diff["item_id"][is_new].tolist(), diff["open_cents"][is_new].tolist(), strict=True)
                )
                new = later.loc[sorted(new_cents)].reset_index(drop=True)
                new["open_cents"] = new["item_id"].map(new_cents).astype("int64")
                previous.book.advance(
                    dict(
                        zip(
                            diff["item_id"][changed].tolist(),
                            diff["open_cents"][changed].tolist(),
                            strict=True,
                        )
                    ),
                    list(OpenItemBook.from_frame(new).items.values()),
                )
                previous.book.begin()
                return DayBook(day, previous.book, amounts, later)
        frame = _frame(con, _invoice_attributes_sql("select * from cashapp_amounts_now"))
        with _collector_paused():
            book = OpenItemBook.from_frame(frame)
        del frame
    finally:
        for name in ("cashapp_amounts_now", "cashapp_amounts_before"):
            con.unregister(name)  # a name never registered is no error
    book.begin()
    return DayBook(day, book, amounts)


def customers(con) -> pd.DataFrame:
    return _frame(
        con,
        f"select customer_id, customer_name, parent_customer_id, bank_account, currency from {CUSTOMERS} "
        "order by customer_id",
    )


def confirmed_history(con, before: dt.date) -> pd.DataFrame:
    """Auto-applications of earlier days, with the payer's account and name from the bank line: what
    ``build_engine`` learns payers from. (Corrections come on top, and a rejection wins over them.)"""
    return _frame(
        con,
        f"""
        select a.transaction_id, a.booking_date, p.amount, t.counterparty_account, t.counterparty_name,
            a.customer_id, a.item_id, a.applied_amount, a.discount_amount, a.deduction_amount,
            -- BAI2 credits carry their payer only in the remittance text; a confirmed BANK_FEE deduction
            -- teaches that the customer pays net of fees (ml/cashapp/knowledge.py)
            t.remittance_text, a.deduction_reason
        from {CASHAPP_SCHEMA}.applications as a
        inner join {CASHAPP_SCHEMA}.payments as p
            on a.run_date = p.run_date and a.transaction_id = p.transaction_id
        inner join {BANK_TRANSACTIONS} as t on a.transaction_id = t.transaction_id
        where a.run_date < ? and a.item_type = 'invoice'
        order by a.booking_date, a.transaction_id, a.item_id
        """,
        [before],
    )


# -- corrections (the app's write-back folder) ------------------------------------------------------------


def corrections_dir(writeback_path: Path) -> Path:
    return Path(writeback_path) / CORRECTIONS_FOLDER


def write_correction(writeback_path: Path, rows: list[dict]) -> Path:
    """One decision (its rows share a correction_id) as one JSON-lines file, written to a temporary name
    and renamed: a run reading the folder sees a decision whole or not at all, and the app never opens
    the warehouse (DuckDB allows one writer, the pipeline). Amounts are written as text, exact."""
    if not rows:
        raise ValueError("a correction needs at least one row")
    frame = pd.DataFrame([{c: r.get(c) for c in CORRECTION_COLUMNS} for r in rows], dtype=object)
    validate_corrections(frame, source="new correction")
    cid = rows[0]["correction_id"]
    if any(r["correction_id"] != cid for r in rows):
        raise ValueError("rows of one correction share its correction_id")
    return write_records(
        corrections_dir(writeback_path),
        str(rows[0].get("decided_at") or ""),
        str(cid),
        ({c: r.get(c) for c in CORRECTION_COLUMNS} for r in rows),
    )


def read_corrections(writeback_path: Path) -> pd.DataFrame:
    """Every decision in the write-back folder (``CORRECTION_COLUMNS``), amounts as ``Decimal``;
    a bad line raises naming its file and line."""
    folder = corrections_dir(writeback_path)
    rows = []
    for _where, r in read_records(folder):
        for col in ("applied_amount", "discount_amount", "deduction_amount", "amount"):
            if r.get(col) not in (None, ""):
                r[col] = Decimal(str(r[col]))
        rows.append({c: r.get(c) for c in CORRECTION_COLUMNS})
    if not rows:
        return empty_corrections()
    frame = pd.DataFrame(rows, columns=list(CORRECTION_COLUMNS), dtype=object)
    return validate_corrections(frame, source=str(folder))


# -- matching ERP receipts to bank movements --------------------------------------------------------------


def _matches_sql(before: dt.date | None = None, erp_payments: str = ERP_PAYMENTS) -> str:
    """Mutual best pairs (bank movement applied by the engine, ERP receipt): same currency and amount,
    same customer family, ERP date within the window; ties broken by the nearest date, then ids. A
    receipt pairs with one movement at most, and the other way round."""
    bound = f"and p.payment_date < cast('{before.isoformat()}' as date)" if before else ""
    return f"""
        select transaction_id, payment_id, customer_id, booking_date, payment_date, amount
        from (
            select b.transaction_id, p.payment_id, p.customer_id, b.booking_date, p.payment_date, b.amount,
                row_number() over (partition by b.transaction_id
                    order by abs(p.payment_date - b.booking_date), p.payment_id) as by_movement,
                row_number() over (partition by p.payment_id
                    order by abs(p.payment_date - b.booking_date), b.transaction_id) as by_receipt
            from {CASHAPP_SCHEMA}.payments as b
            inner join {CUSTOMERS} as bc on b.customer_id = bc.customer_id
            inner join {erp_payments} as p
                on p.currency = b.currency and p.payment_amount = b.amount
                and p.payment_date between b.booking_date - {MATCH_DAYS_BEFORE}
                    and b.booking_date + {MATCH_DAYS_AFTER}
                {bound}
            inner join {CUSTOMERS} as pc on p.customer_id = pc.customer_id
            where b.customer_id is not null
                and (p.customer_id = b.customer_id
                    or coalesce(pc.parent_customer_id, pc.customer_id)
                        = coalesce(bc.parent_customer_id, bc.customer_id))
        ) as ranked
        where by_movement = 1 and by_receipt = 1
    """


def match_erp_payments(con) -> int:
    """Rewrite ``cashapp.erp_payment_matches`` from every movement applied so far; returns its rows."""
    _do(con, f"delete from {CASHAPP_SCHEMA}.erp_payment_matches")
    _do(
        con, f"insert into {CASHAPP_SCHEMA}.erp_payment_matches ({', '.join(MATCH_COLUMNS)}) {_matches_sql()}"
    )
    return con.execute(f"select count(*) from {CASHAPP_SCHEMA}.erp_payment_matches").fetchall()[0][0]


# -- writing results --------------------------------------------------------------------------------------


def _arrow_type(col: str) -> pa.DataType:
    t = _type(col)
    return {
        MONEY: pa.decimal128(18, 2),
        CONFIDENCE: pa.decimal128(9, 6),
        "date": pa.date32(),
        "integer": pa.int32(),
    }.get(t, pa.string())


def _arrow(frame: pd.DataFrame, columns: tuple[str, ...], run_date: dt.date) -> pa.Table:
    def clean(v):
        if v is None or v is pd.NA or (isinstance(v, float) and v != v):
            return None
        if isinstance(v, pd.Timestamp):
            return v.date()
        return v

    data = {"run_date": [run_date] * len(frame)}
    for c in columns:
        vals = [clean(v) for v in frame[c].tolist()] if len(frame) else []
        if _type(c) == "varchar":
            vals = [None if v is None else str(v) for v in vals]
        elif _type(c) == CONFIDENCE:
            vals = [None if v is None else Decimal(str(round(float(v), 6))) for v in vals]
        data[c] = vals
    schema = pa.schema([("run_date", pa.date32())] + [(c, _arrow_type(c)) for c in columns])
    return pa.Table.from_pydict(data, schema=schema)


def write_day(con, day: dt.date, result: CashAppResult) -> dict[str, int]:
    """Replace ``day``'s rows of every result table with ``result`` (one transaction). Returns rows per table."""
    check_conservation(result)
    counts = {}
    _do(con, "begin transaction")
    try:
        for table, cols in RESULT_TABLES.items():
            _do(con, f"delete from {CASHAPP_SCHEMA}.{table} where run_date = ?", [day])
            arrow = _arrow(getattr(result, table), cols, day)
            if arrow.num_rows:
                con.register("cashapp_rows", arrow)
                _do(
                    con,
                    f"insert into {CASHAPP_SCHEMA}.{table} (run_date, {', '.join(cols)}) "
                    f"select run_date, {', '.join(cols)} from cashapp_rows",
                )
                con.unregister("cashapp_rows")
            counts[table] = arrow.num_rows
        _do(con, "commit")
    except Exception:
        _do(con, "rollback")
        raise
    return counts


# -- the run ----------------------------------------------------------------------------------------------


@dataclass
class DayRun:
    day: dt.date
    result: CashAppResult
    rows: dict[str, int]


@dataclass
class CashAppRun:
    as_of: dt.date
    days: list[DayRun] = field(default_factory=list)
    matches: int = 0
    model_version: str = "heuristic"

    def total(self, table: str) -> int:
        return sum(d.rows.get(table, 0) for d in self.days)


def days_to_apply(con, as_of: dt.date, first_run_days: int = FIRST_RUN_DAYS) -> list[dt.date]:
    """The days after the last day applied before ``as_of`` through ``as_of`` (see the module docstring)."""
    last = con.execute(
        f"select max(run_date) from {CASHAPP_SCHEMA}.payments where run_date < ?", [as_of]
    ).fetchall()[0][0]
    start = last + dt.timedelta(days=1) if last else as_of - dt.timedelta(days=first_run_days - 1)
    return [start + dt.timedelta(days=i) for i in range((as_of - start).days + 1)]


def days_with_new_decisions(con, corrections: pd.DataFrame, before: dt.date) -> set[dt.date]:
    """Earlier days holding a payment whose stored result does not carry its latest decision yet: the
    next run re-applies them, so a decision taken in the app holds from that run on."""
    decisions = _latest_decisions(corrections)
    if not decisions:
        return set()
    rows = con.execute(
        f"select run_date, transaction_id, status, reason from {CASHAPP_SCHEMA}.payments "
        "where run_date < ? and transaction_id in (select unnest(?))",
        [before, list(decisions)],
    ).fetchall()
    out = set()
    for day, tid, status, reason in rows:
        rejected = decisions[tid]["action"].iloc[0] == "reject"
        if rejected != (reason == "rejected_by_reviewer") or (not rejected) != (status == CONFIRMED):
            out.add(day)
    return out


def ledger_as_of(con) -> dt.date:
    """The ledger's as-of date as the base dbt stage built it (``intermediate.int_ar_as_of_date``)."""
    rows = con.execute("select as_of_date from intermediate.int_ar_as_of_date").fetchall()
    if not rows or rows[0][0] is None:
        raise ValueError("intermediate.int_ar_as_of_date is empty: no ERP extract loaded yet")
    return rows[0][0]


def engine_inputs(
    con, day: dt.date, rules: Rules, book: DayBook | None = None, receipts: ErpReceipts = ErpReceipts()
) -> tuple:
    """(transactions, remittances, open-item book, history) of one day; ``book``: the previous day's
    book of the same run, brought forward (see :func:`open_item_book`)."""
    return (
        bank_transactions(con, day),
        remittance_documents(con, day, rules.remittance_link_days),
        open_item_book(con, day, book, receipts),
        confirmed_history(con, day),
    )


def run_cash_application(
    con,
    *,
    as_of: dt.date | None = None,
    writeback_path: Path | None = None,
    scorer: Scorer | None = None,
    rules: Rules | None = None,
    first_run_days: int = FIRST_RUN_DAYS,
    progress: Callable[[str], None] | None = None,
) -> CashAppRun:
    """Apply every day due as of ``as_of`` (default: the ledger's) and write the results; see the module
    docstring. ``con``: a read-write DuckDB connection to the warehouse; ``progress``: told about each
    day as it is written (a first run at a million invoices takes minutes)."""
    for rel in (ERP_EVENTS, ITEMS, CUSTOMERS, ERP_PAYMENTS, ERP_APPLICATIONS):
        if not _exists(con, rel):
            raise ValueError(f"{rel} is missing: build the base dbt stage before cash application")
    create_cashapp_tables(con)
    if not _exists(con, BANK_TRANSACTIONS):
        from ingestion.ddl import create_bank_tables

        create_bank_tables(con)  # no bank file ever loaded: nothing to apply, but the run is valid
    as_of = as_of or ledger_as_of(con)
    rules = rules or load_rules()
    corrections = read_corrections(writeback_path) if writeback_path else empty_corrections()
    cust = customers(con)
    run = CashAppRun(as_of=as_of)
    days = sorted(
        set(days_to_apply(con, as_of, first_run_days)) | days_with_new_decisions(con, corrections, as_of)
    )
    book = learned = None
    # one day (the daily run) reads the views once: a copy would cost more than it saves
    receipts_of_run = ErpReceipts.snapshot(con) if len(days) > 1 else nullcontext(ErpReceipts())
    with _long_lived_objects() as freeze, receipts_of_run as receipts:
        for n, day in enumerate(days, start=1):
            started = time.perf_counter()
            # The book goes from day to day, and so does what is known about payers, taught each day's
            # new confirmed applications only (learn_forward). With corrections it is learned afresh
            # each day, so that people's decisions stay on top of the history.
            txns, docs, book, history = engine_inputs(con, day, rules, book, receipts)
            if n == 1:
                freeze()  # the book lives the whole run
            if corrections.empty:
                learned = learn_forward(cust, history, rules, learned)
                engine = CashApplicationEngine(book.book, learned.know, rules, scorer)
            else:
                engine = build_engine(
                    book.book, cust, history=history, corrections=corrections, rules=rules, scorer=scorer
                )
            result = apply_decisions(engine.run(txns, docs, keep_candidates=False), corrections)
            run.days.append(DayRun(day, result, write_day(con, day, result)))
            run.model_version = result.model_version
            if progress is not None:
                statuses = result.payments["status"].value_counts().to_dict()
                progress(
                    f"cash application day {n}/{len(days)} {day}: {len(result.payments)} payments "
                    f"{statuses}, {len(book.book.items)} invoices in the book, "
                    f"{time.perf_counter() - started:.1f}s"
                )
    run.matches = match_erp_payments(con)
    return run


CONFIRMED = "confirmed"
PERSON_VERSION = "person"


def _latest_decisions(corrections: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """transaction_id -> the rows of its latest decision (by decided_at, then file order)."""
    if corrections is None or corrections.empty:
        return {}
    df = corrections.sort_values("decided_at", kind="stable") if "decided_at" in corrections else corrections
    out = {}
    for tid, grp in df.groupby("transaction_id", sort=False):
        out[tid] = grp[grp["correction_id"] == grp["correction_id"].iloc[-1]]
    return out


def apply_decisions(result: CashAppResult, corrections: pd.DataFrame) -> CashAppResult:
    """The engine's result with people's latest decision on each of its payments put in its place.

    accept / correct: the person's allocation is the application (status ``confirmed``, method
    ``manual``, model_version ``person``), the rest of the money unapplied on account; reject: nothing
    is applied, the payment goes back to the queue (reason ``rejected_by_reviewer``) with the engine's
    suggestions that do not repeat the rejected one. The engine has already learned from the same
    decisions (``build_engine``); this makes the decision itself hold, to the cent, so the ledger and
    the ERP file carry it. Raises if a decision applies more than the payment's amount."""
    decisions = _latest_decisions(corrections)
    pays = result.payments
    todo = [t for t in pays["transaction_id"].tolist() if t in decisions] if len(pays) else []
    if not todo:
        return result
    frames = {t: getattr(result, t).copy() for t in RESULT_TABLES}
    for tid in todo:
        rows = decisions[tid]
        p = frames["payments"]
        i = p.index[p["transaction_id"] == tid][0]
        pay = p.loc[i]
        for t in ("applications", "suggestions", "exceptions", "unapplied"):
            frames[t] = frames[t][frames[t]["transaction_id"] != tid]
        action = rows["action"].iloc[0]
        amount = pay["amount"]
        if action == "reject":
            rejected = {r for r in rows["suggestion_rank"].tolist() if r is not None and r == r}
            applied = Decimal("0.00")
            suggestions = result.suggestions
            keep = suggestions[(suggestions["transaction_id"] == tid) & ~suggestions["rank"].isin(rejected)]
            if rejected and not keep.empty:
                frames["suggestions"] = pd.concat([frames["suggestions"], keep], ignore_index=True)
            status, reason, customer = SUGGESTED_STATUS, "rejected_by_reviewer", None
            exc = {c: None for c in EXCEPTION_COLUMNS}
            exc |= {
                "transaction_id": tid, "booking_date": pay["booking_date"], "currency": pay["currency"],
                "amount": amount, "reason": reason, "candidate_count": int(len(keep)),
                "detail": f"rejected by {rows['decided_by'].iloc[0] or 'a reviewer'}: {rows['note'].iloc[0] or ''}".strip(),
                "remittance_documents": pay["remittance_documents"],
            }  # fmt: skip
            old = result.exceptions[result.exceptions["transaction_id"] == tid]
            for c in ("counterparty_name", "counterparty_account", "remittance_text"):
                exc[c] = old[c].iloc[0] if len(old) else None
            frames["exceptions"] = pd.concat(
                [frames["exceptions"], pd.DataFrame([exc], dtype=object)], ignore_index=True
            )
        else:
            apps = []
            who = f"{action}ed by {rows['decided_by'].iloc[0] or 'a reviewer'}"
            for r in rows.to_dict("records"):
                if r.get("item_id") in (None, "") or r.get("applied_amount") in (None, ""):
                    continue
                apps.append({
                    "transaction_id": tid, "booking_date": pay["booking_date"], "customer_id": r["customer_id"],
                    "item_id": r["item_id"], "item_type": "invoice", "currency": pay["currency"],
                    "applied_amount": Decimal(str(r["applied_amount"])).quantize(Decimal("0.01")),
                    "discount_amount": Decimal(str(r.get("discount_amount") or 0)).quantize(Decimal("0.01")),
                    "deduction_amount": Decimal(str(r.get("deduction_amount") or 0)).quantize(Decimal("0.01")),
                    "deduction_reason": r.get("deduction_reason") or None, "method": "manual",
                    "confidence": 1.0, "evidence": f"{who}" + (f": {r['note']}" if r.get("note") else ""),
                    "model_version": PERSON_VERSION,
                })  # fmt: skip
            applied = sum((a["applied_amount"] for a in apps), Decimal("0.00"))
            if applied > amount:
                raise ValueError(f"correction {rows['correction_id'].iloc[0]}: applies {applied} of {amount}")
            if apps:
                frames["applications"] = pd.concat(
                    [frames["applications"], pd.DataFrame(apps, dtype=object)], ignore_index=True
                )
            status, reason, customer = CONFIRMED, None, rows["customer_id"].iloc[0]
        rest = amount - applied
        if rest:
            frames["unapplied"] = pd.concat([frames["unapplied"], pd.DataFrame([{
                "transaction_id": tid, "booking_date": pay["booking_date"], "customer_id": customer,
                "currency": pay["currency"], "unapplied_amount": rest,
                "reason": "overpayment" if status == CONFIRMED else "pending_review",
            }], dtype=object)], ignore_index=True)  # fmt: skip
        p.loc[i, ["status", "customer_id", "applied_amount", "suggested_amount", "unapplied_amount"]] = [
            status,
            customer,
            applied,
            Decimal("0.00"),
            rest,
        ]
        p.loc[i, ["method", "confidence", "reason", "model_version"]] = (
            ["manual", 1.0, None, PERSON_VERSION]
            if status == CONFIRMED
            else [None, None, reason, pay["model_version"]]
        )
    out = CashAppResult(
        **frames, candidates=result.candidates, decisions=result.decisions, model_version=result.model_version
    )
    check_conservation(out)
    return out


def result_from_tables(con, run_date: dt.date) -> CashAppResult:
    """A day's stored result, as the engine returned it (for the reconciliation file and checks)."""
    frames = {}
    for table, cols in RESULT_TABLES.items():
        frames[table] = _frame(
            con,
            f"select {', '.join(cols)} from {CASHAPP_SCHEMA}.{table} where run_date = ? order by all",
            [run_date],
        ).astype(object)
    versions = frames["payments"]["model_version"].dropna().unique().tolist()
    return CashAppResult(**frames, candidates=None, model_version=versions[0] if versions else "heuristic")


def new_correction_id() -> str:
    return uuid.uuid4().hex[:16]
