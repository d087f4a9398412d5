"""The cash-application engine wired to the warehouse, on the session's small simulated world: inputs
read from DuckDB, results in schema cashapp conserved to the cent and idempotent per day, the ledger
counting bank-applied cash once, the marts and the ERP reconciliation file built from them."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal

import dagster as dg
import duckdb
import pandas as pd
import pytest
import yaml
from dagster_duckdb import DuckDBResource

from assets.cashapp import cashapp_reconciliation, cashapp_results, conservation_problems
from ml.cashapp.engine import check_conservation
from ml.cashapp.warehouse import (
    MATCH_COLUMNS,
    RESULT_TABLES,
    _type,
    days_to_apply,
    open_item_book,
    read_corrections,
    result_from_tables,
    run_cash_application,
    write_correction,
)
from orchestration.resources import OpenARSettings
from orchestration.settings import DEFAULT_AS_OF_DATE, REPO_ROOT

pytestmark = pytest.mark.slow

AS_OF = DEFAULT_AS_OF_DATE


def _run(wh, **kw):
    con = duckdb.connect(str(wh.path))
    try:
        return run_cash_application(con, writeback_path=wh.data_dir / "writeback", **kw)
    finally:
        con.close()


def _table(wh, table: str) -> list[tuple]:
    return wh.query(f"select * from cashapp.{table} order by all")


def test_sources_yaml_declares_the_tables_the_adapter_writes():
    sources = yaml.safe_load(
        (REPO_ROOT / "dbt_project/models/staging/cashapp/_cashapp__sources.yml").read_text()
    )["sources"][0]
    assert sources["schema"] == "cashapp"
    for t in sources["tables"]:
        cols = ("run_date", *RESULT_TABLES[t["name"]]) if t["name"] in RESULT_TABLES else MATCH_COLUMNS
        assert [(c["name"], c["data_type"]) for c in t["columns"]] == [
            (c, _type(c).replace(" ", "")) for c in cols
        ], t["name"]


def test_first_run_applies_the_last_30_days_conserved_to_the_cent_and_rerun_is_idempotent(warehouse):
    import gc

    run = _run(warehouse)
    # the book is frozen out of the garbage collector's way for the run only
    assert gc.get_freeze_count() == 0 and gc.isenabled()
    assert run.as_of == AS_OF
    assert [d.day for d in run.days] == [AS_OF - dt.timedelta(days=29 - i) for i in range(30)]
    (credits,) = warehouse.query(
        "select count(*) from raw.bank_transactions where credit_debit = 'CRDT' and booking_date between ? and ?",
        [AS_OF - dt.timedelta(days=29), AS_OF],
    )[0]
    (handled,) = warehouse.query(
        "select (select count(*) from cashapp.payments) + "
        "(select count(*) from cashapp.skipped where amount > 0)"
    )[0]
    assert handled == credits > 40  # every credit of the window is a payment or set aside, none lost
    statuses = dict(warehouse.query("select status, count(*) from cashapp.payments group by status"))
    assert statuses.get("auto_applied", 0) > statuses.get("suggested", 0) > 0
    # money is exact DECIMAL in the warehouse, and every payment adds up to the cent
    types = dict(
        warehouse.query(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'cashapp' and table_name = 'payments'"
        )
    )
    assert types["amount"] == types["applied_amount"] == "DECIMAL(18,2)"
    con = duckdb.connect(str(warehouse.path))
    try:
        assert conservation_problems(con) == []
        for day in {d.day for d in run.days}:
            check_conservation(result_from_tables(con, day))
        (received, parts) = con.execute(
            "select sum(amount), sum(applied_amount + suggested_amount + unapplied_amount) from cashapp.payments"
        ).fetchone()
        assert received == parts > Decimal("10000.00")
        # the next day: only the as-of day is due again; a later day starts after the last one applied
        assert days_to_apply(con, AS_OF) == [AS_OF]
        assert days_to_apply(con, AS_OF + dt.timedelta(days=2)) == [
            AS_OF + dt.timedelta(days=1),
            AS_OF + dt.timedelta(days=2),
        ]
    finally:
        con.close()
    before = {t: _table(warehouse, t) for t in RESULT_TABLES}
    again = _run(warehouse)
    assert [d.day for d in again.days] == [AS_OF]
    assert {t: _table(warehouse, t) for t in RESULT_TABLES} == before


def test_ledger_counts_bank_applied_cash_once(warehouse):
    _run(warehouse)
    warehouse.dbt("build", "--select", "tag:cash_applied")
    pending = warehouse.query("""
        select e.transaction_id, e.item_id, e.item_type, e.amount
        from intermediate.int_cashapp_bank_item_events as e order by all
    """)
    # payments the ERP received but applies later (the simulator posts 10% days after receipt)
    assert pending, "the small world has late ERP applications in the last 30 days"
    erp_open = dict(
        warehouse.query("""
        select item_id, sum(amount) from intermediate.int_ar_erp_item_events group by item_id
    """)
    )
    ledger = dict(warehouse.query("select item_id, open_amount from marts.fct_ar_open_items"))
    by_item: dict[str, Decimal] = {}
    for _tid, item, _typ, amount in pending:
        by_item[item] = by_item.get(item, Decimal(0)) + amount
    for item, delta in by_item.items():
        assert ledger.get(item, Decimal("0.00")) == erp_open[item] + delta, item
    # every invoice reduced has its ERP receipt's unapplied cash reduced by the same cash: the
    # customer's balance is the ERP's, only the items differ
    invoice_side = sum(a for _t, _i, typ, a in pending if typ == "invoice")
    receipt_side = sum(a for _t, _i, typ, a in pending if typ == "unapplied_payment")
    assert invoice_side == -receipt_side < 0
    erp_total = warehouse.query("select sum(amount) from intermediate.int_ar_erp_item_events")[0][0]
    assert warehouse.query("select sum(open_amount) from marts.fct_ar_open_items")[0][0] == erp_total
    # everything else equals the ERP's ledger
    others = {i for i in ledger if i not in by_item}
    assert all(ledger[i] == erp_open[i] for i in others)
    # the marts built on the cash-applied ledger
    kpis = warehouse.query(
        "select sum(payments_received), sum(payments_auto_applied), sum(exceptions_total) "
        "from marts.rpt_cash_application_kpis"
    )[0]
    counts = warehouse.query(
        "select count(*), count(*) filter (where status = 'auto_applied') from cashapp.payments"
    )[0]
    assert kpis == (counts[0], counts[1], counts[0] - counts[1])
    posted = dict(
        warehouse.query(
            "select is_posted_in_erp, count(distinct transaction_id) from marts.fct_cash_applications group by all"
        )
    )
    assert posted[False] == len({t for t, *_ in pending})
    queue = warehouse.query("select count(*) from marts.rpt_cash_application_exceptions")[0][0]
    assert queue == counts[0] - counts[1]


def test_decisions_written_back_change_the_next_run(warehouse):
    _run(warehouse)
    con = duckdb.connect(str(warehouse.path), read_only=True)
    try:
        auto = con.execute("""
            select p.run_date, p.transaction_id, p.customer_id, p.amount
            from cashapp.payments as p where p.status = 'auto_applied' order by p.run_date desc, p.transaction_id
        """).fetchall()[0]
        suggested = con.execute("""
            select p.run_date, p.transaction_id, p.amount, s.customer_id, s.item_id, s.applied_amount
            from cashapp.payments as p
            inner join cashapp.suggestions as s using (run_date, transaction_id)
            where p.status = 'suggested' and s.rank = 1 and s.item_type = 'invoice'
            order by p.run_date desc, p.transaction_id
        """).fetchall()[0]
    finally:
        con.close()
    wb = warehouse.data_dir / "writeback"
    write_correction(wb, [{
        "correction_id": "c1", "transaction_id": auto[1], "action": "reject", "customer_id": auto[2],
        "booking_date": auto[0], "amount": auto[3], "decided_by": "test", "decided_at": "2026-11-21T09:00:00+00:00",
    }])  # fmt: skip
    day, tid, amount, cust, item, applied = suggested
    write_correction(wb, [{
        "correction_id": "c2", "transaction_id": tid, "action": "correct", "customer_id": cust, "item_id": item,
        "applied_amount": applied, "booking_date": day, "amount": amount, "decided_by": "test",
        "decided_at": "2026-11-21T09:01:00+00:00", "note": "checked with the customer",
    }])  # fmt: skip
    assert read_corrections(wb)["action"].tolist() == ["reject", "correct"]
    # the next run re-applies the days decided on, whichever they are
    _run(warehouse)
    rejected = warehouse.query(
        "select status, applied_amount, unapplied_amount, reason from cashapp.payments where transaction_id = ?",
        [auto[1]],
    )
    assert rejected == [("suggested", Decimal("0.00"), auto[3], "rejected_by_reviewer")]
    assert warehouse.query(
        "select count(*) from cashapp.applications where transaction_id = ?", [auto[1]]
    ) == [(0,)]
    confirmed = warehouse.query(
        "select status, applied_amount, suggested_amount, unapplied_amount from cashapp.payments "
        "where transaction_id = ?",
        [tid],
    )
    assert confirmed == [("confirmed", applied, Decimal("0.00"), amount - applied)]
    assert warehouse.query(
        "select item_id, applied_amount, method, model_version from cashapp.applications where transaction_id = ?",
        [tid],
    ) == [(item, applied, "manual", "person")]
    con = duckdb.connect(str(warehouse.path), read_only=True)
    try:
        assert conservation_problems(con) == []
    finally:
        con.close()


def test_assets_materialize_with_their_check_and_the_reconciliation_file(warehouse):
    resources = {
        "openar": OpenARSettings(data_dir=str(warehouse.data_dir)),
        "duckdb": DuckDBResource(database=str(warehouse.path)),
    }
    result = dg.materialize([cashapp_results, cashapp_reconciliation], resources=resources)
    assert result.success
    (check,) = result.get_asset_check_evaluations()
    assert (check.check_name, check.passed) == ("conserved_to_the_cent", True)
    path = warehouse.data_dir / "exports" / "cashapp" / f"reconciliation_{AS_OF.isoformat()}.csv"
    rows = list(csv.DictReader(path.open(newline="", encoding="utf-8")))
    assert path.read_bytes().count(b"\r\n") == len(rows) + 1
    received = warehouse.query(
        "select currency, sum(amount) from cashapp.payments where run_date = ? group by currency", [AS_OF]
    )
    control = {r["currency"]: Decimal(r["amount"]) for r in rows if r["record_type"] == "CONTROL"}
    assert control == dict(received)
    posted: dict[str, Decimal] = {}
    for r in rows:
        if r["record_type"] != "CONTROL":
            posted[r["currency"]] = posted.get(r["currency"], Decimal(0)) + Decimal(r["amount"])
    assert posted == control
    assert not any(v.startswith(("=", "+", "-", "@")) for r in rows for v in r.values() if v)


def _book_state(book) -> tuple:
    # ``items`` and the indexes' keys are only looked up (dicts compared without order); the items
    # an index returns for a key keep their order (decisions break ties by it), and no key is empty
    items = {
        k: (it.customer_id, it.currency, it.document_date, it.due_date, it.original_cents, it.open_cents,
         it.discount_pct, it.discount_due, it.po_number, it.digits)
        for k, it in book.items.items()
    }  # fmt: skip
    indexes = [
        {k: list(v) for k, v in index.items()}
        for index in (book.by_customer, book.by_amount, book.by_amount_any)
    ]
    assert all(all(index.values()) for index in indexes)
    refs = book.refs
    return items, indexes, refs.by_compact, refs.by_digits, refs.by_po, refs.customer_of, refs.customer_ids


def test_references_added_later_are_indexed_as_if_added_in_id_order():
    from ml.cashapp.references import ReferenceIndex

    built = ReferenceIndex()  # every id at once, in id order, as a fresh book builds it
    built.add_many(
        ["INV-001", "INV-1001", "INV-2001", "inv1001"], ["A", "A", "C", "B"], ["PO-77", None, "PO77", None]
    )
    later = ReferenceIndex()
    later.add_many(["INV-001", "INV-2001"], ["A", "C"], ["PO-77", "PO77"])
    later.add_many(["inv1001", "INV-1001"], ["B", "A"], [None, None], in_id_order=True)
    assert later.by_digits == built.by_digits and later.by_digits["1001"] == ["INV-1001", "inv1001"]
    assert later.by_po == built.by_po and later.by_po["PO77"] == ["INV-001", "INV-2001"]
    assert later.by_compact == built.by_compact and later.by_compact["INV1001"] == "inv1001"
    assert later.customer_of == built.customer_of


def test_a_book_brought_forward_day_by_day_equals_the_book_built_that_day(warehouse):
    # a first run carries one book through its 30 days instead of building it 30 times; the book it
    # carries must be the one a fresh build gives, down to index order (ties are broken by it), with
    # the engine's applications of earlier days still pending at the ERP taken off
    _run(warehouse)
    con = duckdb.connect(str(warehouse.path), read_only=True)
    try:
        start = AS_OF - dt.timedelta(days=20)
        carried = open_item_book(con, start)
        book = carried.book
        issued_since, changed, shared_seen = 0, 0, 0
        for k in range(1, 22):
            day = start + dt.timedelta(days=k)
            # what the engine does to the book during a day: reservations, which the next day overwrites
            # (also of the first of several invoices of one amount: undone, it must go back first)
            shared = [next(iter(same.values())) for same in book.by_amount_any.values() if len(same) > 1][:20]
            shared_seen += len(shared)
            for it in list(book.items.values())[:50] + shared:
                book.reduce(it.item_id, 1)
            before = {i: it.open_cents for i, it in book.items.items()}
            carried = open_item_book(con, day, previous=carried)
            assert carried.book is book
            fresh = open_item_book(con, day).book
            assert _book_state(book) == _book_state(fresh), day
            issued_since += len(fresh.items) - len(before)
            changed += sum(before.get(i) != it.open_cents for i, it in fresh.items.items())
        assert shared_seen > 20
        assert issued_since > 50 and changed > 100, (
            issued_since,
            changed,
        )  # the days did bring new invoices and payments
    finally:
        con.close()


def _knowledge_state(know) -> tuple:
    names = know.names
    return (
        know.customers, know.top_of, know.family, know.master_account, know.seen_account, know.seen_name,
        know.habits, know.pays_for, know.rejected,
        names._names, names._owners, names._pos, names._postings,
    )  # fmt: skip


def test_what_is_learned_about_payers_day_by_day_equals_learning_it_afresh(warehouse):
    # a first run teaches the payers' knowledge only each day's new confirmed applications; it must be
    # the knowledge that the customer master and the whole history give, in the same order (name
    # positions break ties)
    from ml.cashapp.engine import learn_forward
    from ml.cashapp.rules import load_rules
    from ml.cashapp.warehouse import confirmed_history, customers

    _run(warehouse)
    rules = load_rules()
    con = duckdb.connect(str(warehouse.path), read_only=True)
    try:
        cust = customers(con)
        carried, carried_days, grew = None, 0, 0
        for k in range(-30, 2):
            history = confirmed_history(con, AS_OF + dt.timedelta(days=k))
            before = carried
            carried = learn_forward(cust, history, rules, carried)
            carried_days += before is not None and carried.know is before.know
            grew += before is not None and len(carried.learned) > len(before.learned)
            fresh = learn_forward(cust, history, rules)
            assert _knowledge_state(carried.know) == _knowledge_state(fresh.know), k
        assert carried_days == 31 and grew > 15  # carried every day, and the history did grow
        # a history whose rows already learned come back in another order, or with a payment split
        # across the old and the new rows, is learned afresh
        history = confirmed_history(con, AS_OF + dt.timedelta(days=1))
        assert len(history) > 40
        shuffled = pd.concat([history.iloc[5:], history.iloc[:5]], ignore_index=True)
        start = learn_forward(cust, history.iloc[:-20], rules)
        assert learn_forward(cust, shuffled, rules, start).know is not start.know
        tid = history["transaction_id"].iloc[-1]
        split = history[history["transaction_id"] == tid]
        if len(split) == 1:  # make the last payment one of two rows, one on each side of the cut
            split = pd.concat([split, split.assign(item_id="INV-SPLIT")], ignore_index=True)
        head = pd.concat([history.iloc[:-1], split.iloc[:1]], ignore_index=True)
        whole = pd.concat([head, split.iloc[1:]], ignore_index=True)
        start = learn_forward(cust, head, rules)
        again = learn_forward(cust, whole, rules, start)
        assert again.know is not start.know
        assert _knowledge_state(again.know) == _knowledge_state(learn_forward(cust, whole, rules).know)
    finally:
        con.close()


def test_a_first_run_carrying_what_it_learned_gives_the_results_of_learning_afresh_each_day(
    warehouse, monkeypatch
):
    from ml.cashapp import warehouse as cashapp_warehouse

    _run(warehouse)
    carried = {t: _table(warehouse, t) for t in RESULT_TABLES}
    con = duckdb.connect(str(warehouse.path))
    con.execute("drop schema cashapp cascade")
    con.close()
    real = cashapp_warehouse.learn_forward
    monkeypatch.setattr(
        cashapp_warehouse, "learn_forward", lambda customers, history, rules, before=None: real(customers, history, rules)
    )  # fmt: skip
    _run(warehouse)
    assert {t: _table(warehouse, t) for t in RESULT_TABLES} == carried
    assert sum(len(rows) for rows in carried.values()) > 100
