"""Engine inputs from the warehouse: exact amounts from DuckDB, clear errors for inexact or missing ones."""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pandas as pd
import pytest

from ml.cashapp.book import OpenItemBook, exact_frame
from ml.cashapp.engine import AUTO, CashApplicationEngine
from ml.cashapp.knowledge import PayerKnowledge
from ml.cashapp.rules import load_rules
from tests.cashapp.builders import customers, txn


@pytest.fixture
def con(tmp_path):
    c = duckdb.connect(str(tmp_path / "wh.duckdb"))
    c.execute("""
        create table open_items as select * from (values
            ('INV-1', 'invoice', 'C000001', 'USD', date '2026-01-10', date '2026-02-09', 1234.56, 1234.56, 2.0,
             date '2026-01-20', 'PO-1'),
            ('INV-2', 'invoice', 'C000001', 'USD', date '2026-01-12', date '2026-02-11', 99.99, 49.99, 0.0,
             null, null),
            ('CM-1', 'credit_memo', 'C000001', 'USD', date '2026-01-15', date '2026-01-15', -20.00, -20.00, 0.0,
             null, null)
        ) t(item_id, item_type, customer_id, currency, document_date, due_date, original_amount, open_amount,
            discount_pct, discount_due_date, po_number)
    """)
    c.execute("""create or replace table open_items as select * replace (
        cast(original_amount as decimal(18, 2)) as original_amount, cast(open_amount as decimal(18, 2)) as open_amount,
        cast(discount_pct as decimal(7, 4)) as discount_pct) from open_items""")
    yield c
    c.close()


def test_open_items_from_duckdb_stay_exact(con):
    frame = exact_frame(con, "select * from open_items")
    assert isinstance(frame.open_amount.iloc[0], Decimal)
    book = OpenItemBook.from_duckdb(con, "select * from open_items")
    assert set(book.items) == {"INV-1", "INV-2"}  # a credit memo is not something a payment pays
    assert book.items["INV-2"].open_cents == 4999 and book.items["INV-2"].original_cents == 9999
    assert book.items["INV-1"].discount_pct == Decimal("2.0000")
    e = CashApplicationEngine(book, PayerKnowledge.from_customers(customers(), load_rules()))
    res = e.run([txn("49.99", text="INV-2")])
    assert res.payments.status.tolist() == [AUTO]
    assert res.applications.applied_amount.tolist() == [Decimal("49.99")]


def test_float_amounts_are_refused_with_the_row(con):
    floats = con.execute("select * from open_items").df()  # DuckDB's .df() turns DECIMAL into float64
    with pytest.raises(ValueError, match=r"open items row 1 \(item 'INV-1'\): .*float"):
        OpenItemBook.from_frame(floats)
    with pytest.raises(ValueError, match="lacks columns: due_date"):
        OpenItemBook.from_frame(
            pd.DataFrame(
                {
                    "item_id": ["X"],
                    "customer_id": ["C"],
                    "currency": ["USD"],
                    "document_date": ["2026-01-01"],
                    "open_amount": [Decimal("1")],
                }
            )
        )


def test_the_warehouse_frame_builds_the_book_the_exact_frame_builds(con):
    """Integer cents and ordinals (how the warehouse hands a million items over, built column-wise)
    give the same items as ``Decimal`` amounts and dates read row by row."""
    ordinal = "date_diff('day', date '0001-01-01', {}) + 1"
    cents = (
        con.sql(f"""
        select item_id, item_type, customer_id, currency,
            {ordinal.format("document_date")} as document_date, {ordinal.format("due_date")} as due_date,
            cast(original_amount * 100 as bigint) as original_cents, cast(open_amount * 100 as bigint) as open_cents,
            discount_pct, {ordinal.format("discount_due_date")} as discount_due_date, po_number
        from open_items order by item_id
    """)
        .to_arrow_table()
        .to_pandas()
    )
    assert cents["discount_due_date"].dtype == "float64"  # NaN where missing, as the warehouse's is
    exact = OpenItemBook.from_duckdb(con, "select * from open_items order by item_id")
    fast = OpenItemBook.from_frame(cents)
    assert list(fast.items) == list(exact.items) == ["INV-1", "INV-2"]
    assert [fast.items[i] for i in fast.items] == [exact.items[i] for i in exact.items]
    assert fast.items["INV-1"].discount_due == exact.items["INV-1"].discount_due is not None
    assert fast.refs.by_po == exact.refs.by_po and fast.by_amount.keys() == exact.by_amount.keys()
