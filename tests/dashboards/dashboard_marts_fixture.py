"""A small warehouse with the mart tables the dashboard reads, hand-made rows with known totals.

Run as a script it is the stand-in for a pipeline run (``writer`` mode): it holds the warehouse
read-write, keeps writing to it and republishes through its own connection in a loop, which is
what the real pipeline does to the file while people use the app.

Known figures at AS_OF (functional currency USD):
  open AR 1,234,567.89 = current 893,323.45 + 1-30 260,800.01 + 31-60 35,044.43 + 61-90 5,400.00
                         + 91-120 20,000.00 + 120+ 20,000.00
  past due by customer: Cobalt Inc 215,044.44, Acme Corp 85,000.00, Borealis Ltd 25,000.00,
                        Acme Europe GmbH 16,200.00
  collector COL2 (Ben Ortiz): 990,167.89; currency EUR: 59,400.00 (EUR 55,000.00)
  13 open items, 2 disputed (20,000.00); the day before, one item of 999.99.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from decimal import Decimal
from pathlib import Path

import duckdb

from ingestion.ddl import create_bank_tables, create_raw_tables
from orchestration.publishing import publish_marts

AS_OF = dt.date(2026, 11, 20)
PREVIOUS_AS_OF = dt.date(2026, 11, 19)
MARTS = "marts"

CUSTOMERS = {
    # id: (name, parent, top parent, collector, currency, fx rate to USD)
    "C001": ("Acme Corp", None, "C001", "COL1", "USD", Decimal("1")),
    "C002": ("Acme Europe GmbH", "C001", "C001", "COL1", "EUR", Decimal("1.08")),
    "C003": ("Borealis Ltd", None, "C003", "COL2", "GBP", Decimal("1.25")),
    "C004": ("Cobalt Inc", None, "C004", "COL2", "USD", Decimal("1")),
}
COLLECTORS = {"COL1": "Alice Ng", "COL2": "Ben Ortiz"}
DAYS_PAST_DUE = {"current": -10, "1-30": 15, "31-60": 45, "61-90": 75, "91-120": 100, "120+": 150}

# (item_id, customer, bucket, open amount in document currency, disputed)
OPEN_ITEMS = [
    ("INV-1001", "C001", "current", "100000.00", False),
    ("INV-1002", "C001", "1-30", "50000.00", False),
    ("INV-1003", "C001", "31-60", "20000.00", False),
    ("INV-1004", "C001", "91-120", "10000.00", True),
    ("INV-1005", "C001", "120+", "5000.00", False),
    ("INV-2001", "C002", "current", "40000.00", False),
    ("INV-2002", "C002", "1-30", "10000.00", False),
    ("INV-2003", "C002", "61-90", "5000.00", False),
    ("INV-3001", "C003", "91-120", "8000.00", True),
    ("INV-3002", "C003", "120+", "12000.00", False),
    ("INV-4001", "C004", "current", "750123.45", False),
    ("INV-4002", "C004", "1-30", "200000.01", False),
    ("INV-4003", "C004", "31-60", "15044.43", False),
]
PREVIOUS_ITEMS = [("INV-0999", "C001", "current", "999.99", False)]

OPEN_AR_TOTAL = "$1,234,567.89"
KPI_DAYS = 90
# The last KPI row (AS_OF); earlier days drift linearly towards it so the trend has a slope.
LAST_KPIS = {
    "dso_standard": Decimal("42.70"),
    "dso_countback": Decimal("39.40"),
    "best_possible_dso": Decimal("30.10"),
    "average_days_delinquent": Decimal("12.60"),
    "cei_pct": Decimal("87.64"),
}

AMOUNT = "decimal(18, 2)"
FCT_DDL = f"""
create table {MARTS}.fct_ar_open_items (
    as_of_date date, item_id varchar, item_type varchar, customer_id varchar, customer_name varchar,
    parent_customer_id varchar, top_parent_customer_id varchar, collector_id varchar, currency varchar,
    document_date date, due_date date, original_amount {AMOUNT}, open_amount {AMOUNT},
    fx_rate decimal(18, 6), open_amount_functional {AMOUNT}, days_past_due integer,
    aging_bucket varchar, is_disputed boolean
)"""
BUCKET_COLUMNS = [
    "bucket_current",
    "bucket_1_30",
    "bucket_31_60",
    "bucket_61_90",
    "bucket_91_120",
    "bucket_over_120",
]
BUCKET_OF = dict(zip(DAYS_PAST_DUE, BUCKET_COLUMNS, strict=True))
KPI_COLUMNS = [
    "open_ar_functional", "current_ar_functional", "past_due_ar_functional", "over_90_ar_functional",
    "credit_sales_90d_functional", "collections_30d_functional",
]  # fmt: skip


def _item_rows(as_of: dt.date, items: list) -> list[tuple]:
    rows = []
    for item_id, customer_id, bucket, amount, disputed in items:
        name, parent, top, collector, currency, fx = CUSTOMERS[customer_id]
        open_amount = Decimal(amount)
        due = as_of - dt.timedelta(days=DAYS_PAST_DUE[bucket])
        rows.append((
            as_of, item_id, "invoice", customer_id, name, parent, top, collector, currency,
            due - dt.timedelta(days=30), due, open_amount, open_amount, fx,
            (open_amount * fx).quantize(Decimal("0.01")), max(DAYS_PAST_DUE[bucket], 0), bucket, disputed,
        ))  # fmt: skip
    return rows


def build_warehouse(path: Path) -> Path:
    """Write the fixture warehouse at ``path`` (replacing any) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    try:
        con.execute(f"create schema {MARTS}")
        con.execute("create schema staging")  # not a marts schema: must not be published
        con.execute("create table staging.stg_scratch as select 1 as x")
        con.execute(FCT_DDL)
        con.executemany(
            f"insert into {MARTS}.fct_ar_open_items values ({', '.join(['?'] * 18)})",
            _item_rows(AS_OF, OPEN_ITEMS) + _item_rows(PREVIOUS_AS_OF, PREVIOUS_ITEMS),
        )
        con.execute(f"create table {MARTS}.dim_collectors (collector_id varchar, collector_name varchar)")
        con.executemany(f"insert into {MARTS}.dim_collectors values (?, ?)", list(COLLECTORS.items()))
        con.execute(
            f"create table {MARTS}.dim_customers (customer_id varchar, customer_name varchar, "
            "parent_customer_id varchar, top_parent_customer_id varchar, collector_id varchar)"
        )
        con.executemany(
            f"insert into {MARTS}.dim_customers values (?, ?, ?, ?, ?)",
            [(cid, c[0], c[1], c[2], c[3]) for cid, c in CUSTOMERS.items()],
        )
        # The aging report is the items pivoted by bucket, one row per as_of × customer × currency.
        pivot = ",\n".join(
            f"sum(case when aging_bucket = '{b}' then open_amount{suffix} else 0 end)::{AMOUNT} as {col}{suffix}"
            for suffix in ("", "_functional")
            for b, col in BUCKET_OF.items()
        )
        con.execute(f"""
            create table {MARTS}.rpt_ar_aging as
            select i.as_of_date, i.customer_id, any_value(i.customer_name) as customer_name,
                any_value(i.parent_customer_id) as parent_customer_id,
                any_value(i.top_parent_customer_id) as top_parent_customer_id,
                any_value(tp.customer_name) as top_parent_customer_name,
                any_value(i.collector_id) as collector_id, any_value(c.collector_name) as collector_name,
                i.currency,
                count(*)::integer as open_item_count,
                {pivot},
                sum(open_amount)::{AMOUNT} as total_open,
                sum(open_amount_functional)::{AMOUNT} as total_open_functional
            from {MARTS}.fct_ar_open_items i
            join {MARTS}.dim_customers tp on tp.customer_id = i.top_parent_customer_id
            join {MARTS}.dim_collectors c on c.collector_id = i.collector_id
            group by i.as_of_date, i.customer_id, i.currency
        """)
        kpi_cols = ", ".join(f"{c} {AMOUNT}" for c in KPI_COLUMNS)
        con.execute(
            f"create table {MARTS}.rpt_ar_kpis (kpi_date date, {kpi_cols}, dso_standard decimal(18, 2), "
            "dso_countback decimal(18, 2), best_possible_dso decimal(18, 2), "
            "average_days_delinquent decimal(18, 2), cei_pct decimal(18, 2), pct_current decimal(18, 2), "
            "share_over_90 decimal(18, 4))"
        )
        kpi_rows = []
        for back in range(KPI_DAYS - 1, -1, -1):
            drift = Decimal(back) / 10  # 0.1 day (or point) per day back
            kpi_rows.append((
                AS_OF - dt.timedelta(days=back),
                Decimal("1234567.89"), Decimal("893323.45"), Decimal("341244.44"), Decimal("40000.00"),
                Decimal("2900000.00"), Decimal("1100000.00"),
                LAST_KPIS["dso_standard"] + drift, LAST_KPIS["dso_countback"] + drift,
                LAST_KPIS["best_possible_dso"], LAST_KPIS["average_days_delinquent"],
                LAST_KPIS["cei_pct"] - drift, Decimal("72.36"), Decimal("0.0324"),
            ))  # fmt: skip
        con.executemany(f"insert into {MARTS}.rpt_ar_kpis values ({', '.join(['?'] * 14)})", kpi_rows)
        create_raw_tables(con)
        con.execute(
            "insert into raw.load_log values ('erp/invoices/invoices_2026-11-20.csv', 'invoices', ?, "
            "'abc123', 'loaded', 13, 0, null, 'fixture', now())",
            [AS_OF],
        )
    finally:
        con.close()
    return path


# --- Ingestion: what the loaders logged over three UTC days (add_ingestion_rows) ---------------
# Files per UTC load day and status:  2026-11-18 loaded 2
#                                     2026-11-19 loaded 1, skipped 1, quarantined 1
#                                     2026-11-20 loaded 3, quarantined 1      -> 9 files: 6 / 1 / 2
# Bank/remittance per day and format: 11-18 camt.053 1 statement, 3 transactions (2 credits, 1 debit)
#                                     11-19 mt940 2 statements (1 off balance), 2 transactions
#                                     11-20 lockbox 1 statement (balances not stated), 2 transactions;
#                                           eml 1 document, 3 remittance lines
INGESTION_DAYS = (dt.date(2026, 11, 18), dt.date(2026, 11, 19), dt.date(2026, 11, 20))
_D18, _D19, _D20 = INGESTION_DAYS


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=dt.UTC)


CAMT_FILE = "bank/acme_bank/camt053_2026-11-18.xml"
MT940_FILE = "bank/beta_bank/mt940_2026-11-19.sta"
LOCKBOX_FILE = "bank/lockbox/lockbox_2026-11-20.txt"
REMITTANCE_FILE = "remittance/advice_cobalt_2026-11-20.eml"
BROKEN_BANK_FILE = "bank/acme_bank/camt053_laughs.xml"
PAYMENTS_FILE = "erp/payments/payments_2026-11-18.csv"
CUSTOMERS_FILE = "erp/customers/customers_2026-11-19.csv"
REPLAYED_FILE = "erp/invoices/invoices_2026-11-19.csv"
INVOICES_FILE = "erp/invoices/invoices_2026-11-20.csv"  # the one build_warehouse logs

BROKEN_BANK_REASON = (
    f"{BROKEN_BANK_FILE} line 2: entity declarations are not allowed in untrusted XML [rule: xml-no-entities]"
)
CUSTOMERS_REASON = f"{CUSTOMERS_FILE}: required column customer_name is missing [rule: header]"
PAYMENT_ROW_REASONS = {
    7: ("not_null", f"{PAYMENTS_FILE} row 7: amount is empty [rule: not_null]"),
    12: ("currency", f"{PAYMENTS_FILE} row 12: currency 'XXX' is not an ISO 4217 code [rule: currency]"),
}
MT940_PROBLEM = "opening 5,000.00 + movements 250.00 = 5,250.00 but closing is 5,200.00 (off by -50.00)"

# (source_file, extract_name, extract_date, hash, status, rows_loaded, rows_quarantined, message, loaded_at)
LOAD_LOG_ROWS = [
    (PAYMENTS_FILE, "payments", _D18, "h-pay", "loaded", 40, 2, "2 row(s) quarantined", _at(_D18, 6)),
    (CAMT_FILE, "bank_statement", None, "h-camt", "loaded", 3, 0, None, _at(_D18, 7)),
    (CUSTOMERS_FILE, "customers", _D19, "h-cust", "quarantined", 0, 0, CUSTOMERS_REASON, _at(_D19, 6)),
    (REPLAYED_FILE, "invoices", _D19, "h-inv19", "skipped", 0, 0, "same bytes already loaded", _at(_D19, 6, 5)),
    (MT940_FILE, "bank_statement", None, "h-mt940", "loaded", 2, 0, None, _at(_D19, 7)),
    (LOCKBOX_FILE, "bank_statement", None, "h-lbx", "loaded", 2, 0, None, _at(_D20, 7)),
    (REMITTANCE_FILE, "remittance", None, "h-eml", "loaded", 3, 0, None, _at(_D20, 7, 30)),
    # 23:59 UTC still counts as the 20th, whatever the reader's time zone.
    (BROKEN_BANK_FILE, "bank_or_remittance", None, "h-laughs", "quarantined", 0, 0, BROKEN_BANK_REASON,
     _at(_D20, 23, 59)),
]  # fmt: skip
INVOICES_LOADED_AT = _at(_D20, 6)

# (account, statement_id, currency, opening, opening_date, closing, closing_date, movements, problem, file, fmt, hash, at)
BALANCE_ROWS = [
    ("DE89370400440532013000", "CAMT-2026-11-18", "EUR", "10000.00", dt.date(2026, 11, 17), "12500.50", _D18,
     "2500.50", None, CAMT_FILE, "camt.053", "h-camt", _at(_D18, 7)),
    ("NL91ABNA0417164300", "940-0001", "USD", "5000.00", dt.date(2026, 11, 17), "5200.00", dt.date(2026, 11, 18),
     "250.00", MT940_PROBLEM, MT940_FILE, "mt940", "h-mt940", _at(_D19, 7)),
    ("NL91ABNA0417164300", "940-0002", "USD", "5200.00", dt.date(2026, 11, 18), "5100.00", _D19,
     "-100.00", None, MT940_FILE, "mt940", "h-mt940", _at(_D19, 7)),
    ("LBX-778", "LBX-20261120", "USD", None, None, None, None, "3150.00", None, LOCKBOX_FILE, "lockbox",
     "h-lbx", _at(_D20, 7)),
]  # fmt: skip

# (file, format, hash, at, booking_date, amount, account, currency)
TRANSACTION_ROWS = [
    (CAMT_FILE, "camt.053", "h-camt", _at(_D18, 7), _D18, "2000.00", "DE89370400440532013000", "EUR"),
    (CAMT_FILE, "camt.053", "h-camt", _at(_D18, 7), _D18, "750.50", "DE89370400440532013000", "EUR"),
    (CAMT_FILE, "camt.053", "h-camt", _at(_D18, 7), _D18, "-250.00", "DE89370400440532013000", "EUR"),
    (MT940_FILE, "mt940", "h-mt940", _at(_D19, 7), dt.date(2026, 11, 18), "250.00", "NL91ABNA0417164300", "USD"),
    (MT940_FILE, "mt940", "h-mt940", _at(_D19, 7), _D19, "-100.00", "NL91ABNA0417164300", "USD"),
    (LOCKBOX_FILE, "lockbox", "h-lbx", _at(_D20, 7), _D20, "1150.00", "LBX-778", "USD"),
    (LOCKBOX_FILE, "lockbox", "h-lbx", _at(_D20, 7), _D20, "2000.00", "LBX-778", "USD"),
]  # fmt: skip
REMITTANCE_LINES = [("INV-4001", "750123.45"), ("INV-4002", "200000.01"), ("INV-4003", "15044.43")]


def add_ingestion_rows(path: Path) -> Path:
    """Add three days of load log, quarantine, balances, transactions and a remittance advice."""
    con = duckdb.connect(str(path))
    try:
        create_bank_tables(con)
        con.execute(
            "update raw.load_log set loaded_at = ? where source_file = ?", [INVOICES_LOADED_AT, INVOICES_FILE]
        )
        con.executemany(
            "insert into raw.load_log values (?, ?, ?, ?, ?, ?, ?, ?, 'fixture', ?)", LOAD_LOG_ROWS
        )
        quarantine = [
            (PAYMENTS_FILE, "payments", "h-pay", row, rule, reason, f"P-{row},,USD", _at(_D18, 6))
            for row, (rule, reason) in PAYMENT_ROW_REASONS.items()
        ]
        quarantine += [
            (CUSTOMERS_FILE, "customers", "h-cust", None, "header", CUSTOMERS_REASON, None, _at(_D19, 6)),
            (BROKEN_BANK_FILE, "bank_or_remittance", "h-laughs", None, "parse", BROKEN_BANK_REASON, None,
             _at(_D20, 23, 59)),
        ]  # fmt: skip
        con.executemany("insert into raw.quarantine values (?, ?, ?, ?, ?, ?, ?, 'fixture', ?)", quarantine)
        con.executemany(
            "insert into raw.bank_statement_balances values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (fmt, acct, stmt, cur, _dec(op), op_d, _dec(cl), cl_d, Decimal(mv), problem, f, h, at)
                for acct, stmt, cur, op, op_d, cl, cl_d, mv, problem, f, fmt, h, at in BALANCE_ROWS
            ],
        )
        con.executemany(
            "insert into raw.bank_transactions values (?, ?, ?, 'Fixture Bank', null, ?, ?, ?, ?, ?, "
            "'Cobalt Inc', null, null, null, null, null, [], null, false, ?, ?, ?, ?)",
            [
                (f"t{i}", fmt, acct, day, day, Decimal(amt), cur, "DBIT" if amt.startswith("-") else "CRDT",
                 f, i, h, at)
                for i, (f, fmt, h, at, day, amt, acct, cur) in enumerate(TRANSACTION_ROWS)
            ],
        )  # fmt: skip
        con.execute(
            "insert into raw.remittance_documents values ('doc-1', 'eml', 'Cobalt Inc', 0.99, 'PAY-889', ?, "
            "965167.89, 'USD', 3, ?, 1, 'h-eml', ?)",
            [_D20, REMITTANCE_FILE, _at(_D20, 7, 30)],
        )
        con.executemany(
            "insert into raw.remittance_lines values ('doc-1', ?, ?, ?, null, null, null, null, 0.98, ?, 'h-eml', ?)",
            [
                (n, ref, Decimal(paid), REMITTANCE_FILE, _at(_D20, 7, 30))
                for n, (ref, paid) in enumerate(REMITTANCE_LINES, start=1)
            ],
        )
    finally:
        con.close()
    return path


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def set_item_amount(con: duckdb.DuckDBPyConnection, item_id: str, amount: str) -> None:
    """Change one item's open amount in fct and aging alike (a later pipeline run's result)."""
    old, bucket, customer = con.execute(
        f"select open_amount, aging_bucket, customer_id from {MARTS}.fct_ar_open_items "
        "where item_id = ? and as_of_date = ?",
        [item_id, AS_OF],
    ).fetchone()
    delta = Decimal(amount) - old
    con.execute(
        f"update {MARTS}.fct_ar_open_items set open_amount = ?, open_amount_functional = ? "
        "where item_id = ? and as_of_date = ?",
        [Decimal(amount), Decimal(amount), item_id, AS_OF],
    )
    col = BUCKET_OF[bucket]
    con.execute(
        f"update {MARTS}.rpt_ar_aging set {col} = {col} + $d, {col}_functional = {col}_functional + $d, "
        "total_open = total_open + $d, total_open_functional = total_open_functional + $d "
        "where customer_id = $c and as_of_date = $a",
        {"d": delta, "c": customer, "a": AS_OF},
    )


def _writer(warehouse: Path, published: Path, status_file: Path, stop_file: Path, max_seconds: float) -> None:
    """Hold the warehouse read-write, write to it and republish until told to stop (bounded in time)."""
    con = duckdb.connect(str(warehouse))
    publishes = 0
    deadline = time.monotonic() + max_seconds
    while not stop_file.exists() and time.monotonic() < deadline:
        con.execute(
            "insert into raw.load_log values ('erp/invoices/x.csv', 'invoices', ?, 'h', 'skipped', 0, 0, "
            "'writer loop', 'writer', now())",
            [AS_OF],
        )
        publish_marts(con, published)
        publishes += 1
        # Rewritten whole each time so the test never reads a half-written count.
        tmp = status_file.with_suffix(".tmp")
        tmp.write_text(str(publishes))
        tmp.replace(status_file)
        # A few publishes a second: many per page load, without starving the browser of CPU.
        time.sleep(0.2)
    con.close()


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    if mode == "writer":
        _writer(Path(args[0]), Path(args[1]), Path(args[2]), Path(args[3]), float(args[4]))
    elif mode == "hold":
        # Hold the write lock until the stop file appears (bounded), to test publishing from outside.
        held = duckdb.connect(args[0])
        Path(args[1]).write_text("holding")
        deadline = time.monotonic() + float(args[3])
        while not Path(args[2]).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        held.close()
    else:
        raise SystemExit(f"unknown mode {mode!r}: writer | hold")
