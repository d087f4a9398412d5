"""A small, hand-made ERP world whose ledger we can work out by hand.

Four customers in three currencies (a three-level parent chain), partial payments, an
early-payment discount, credit memos applied and on account, unapplied cash, disputes opened and
resolved, FX rates with gaps, and rows superseded by later extracts, later loads and later rows of
the same file. The expected open items on 2026-03-31 (the latest extract date) and on 2026-02-28
are spelled out in ``EXPECTED_OPEN_ITEMS_*`` with the reasoning beside them.

Rows are inserted into the raw tables created by ``ingestion.ddl.create_raw_tables`` exactly as
the loader would leave them, load metadata included.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ingestion.erp_contracts import EXTRACTS, LOAD_METADATA_COLUMNS

D = Decimal
AS_OF = dt.date(2026, 3, 31)
EARLIER_AS_OF = dt.date(2026, 2, 28)

# (extract, extract_date, loaded_at hour, row) in load order; the file a row came from is
# <extract>/<extract>_<extract_date>.csv (a second load of the same day gets a suffix).
_ROWS: list[tuple[str, str, int, dict]] = []


def _add(extract: str, extract_date: str, rows: list[dict], hour: int = 6) -> None:
    for row in rows:
        _ROWS.append((extract, extract_date, hour, row))


# ---- masters -------------------------------------------------------------------------------------
_add(
    "collectors",
    "2025-10-01",
    [
        dict(collector_id="K1", collector_name="Ann Archer", email="ann@example.com", daily_capacity=40),
        dict(collector_id="K2", collector_name="Bob Baker", email="bob@example.com", daily_capacity=35),
    ],
)


def _customer(cid, name, parent, currency, collector):
    return dict(
        customer_id=cid,
        customer_name=name,
        parent_customer_id=parent,
        country="US",
        currency=currency,
        credit_limit=D("50000.00"),
        payment_terms="NET30",
        segment="enterprise",
        collector_id=collector,
        contact_email=None,
        bank_account=None,
        created_date=dt.date(2020, 1, 1),
    )


_add(
    "customers",
    "2025-10-01",
    [
        _customer("C001", "Acme Holdings", None, "USD", "K1"),
        _customer("C002", "Acme Europe", "C001", "EUR", "K1"),
        _customer("C003", "Acme Europe Retail", "C002", "USD", "K2"),
        _customer("C004", "Beta Ltd", None, "GBP", "K2"),
    ],
)
# A later snapshot renames C004 and moves it to K1: the current version wins.
_add("customers", "2026-03-01", [_customer("C004", "Beta Limited", None, "GBP", "K1")])

# ---- FX: one unit in USD. No EUR rate after Friday 2026-03-27: it carries over to the 31st. ------
_add(
    "fx_rates",
    "2025-10-01",
    [
        dict(rate_date=dt.date(2025, 10, 1), currency="EUR", rate_to_functional=D("1.10000000")),
        dict(rate_date=dt.date(2025, 10, 1), currency="GBP", rate_to_functional=D("1.25000000")),
    ],
)
_add(
    "fx_rates",
    "2026-02-27",
    [
        dict(rate_date=dt.date(2026, 2, 27), currency="EUR", rate_to_functional=D("1.05000000")),
    ],
)
_add(
    "fx_rates",
    "2026-03-02",
    [
        dict(rate_date=dt.date(2026, 3, 2), currency="EUR", rate_to_functional=D("1.07000000")),
    ],
)
_add(
    "fx_rates",
    "2026-03-27",
    [
        dict(rate_date=dt.date(2026, 3, 27), currency="EUR", rate_to_functional=D("1.08500000")),
    ],
)
_add(
    "fx_rates",
    "2026-03-31",
    [
        dict(rate_date=dt.date(2026, 3, 31), currency="GBP", rate_to_functional=D("1.27123457")),
    ],
)


def _invoice(iid, cid, date, due, currency, amount, terms="NET30", discount="0"):
    return dict(
        invoice_id=iid,
        customer_id=cid,
        invoice_date=dt.date.fromisoformat(date),
        due_date=dt.date.fromisoformat(due),
        currency=currency,
        amount=D(amount),
        payment_terms=terms,
        discount_pct=D(discount),
        discount_due_date=None,
        po_number=None,
    )


def _payment(pid, cid, date, currency, amount):
    return dict(
        payment_id=pid,
        customer_id=cid,
        payment_date=dt.date.fromisoformat(date),
        currency=currency,
        amount=D(amount),
        method="wire",
        reference=None,
    )


def _application(aid, pid, iid, date, applied, discount="0.00"):
    return dict(
        application_id=aid,
        payment_id=pid,
        invoice_id=iid,
        applied_date=dt.date.fromisoformat(date),
        applied_amount=D(applied),
        discount_amount=D(discount),
    )


def _credit(cmid, cid, date, currency, amount, applied_to, reason="PRICING"):
    return dict(
        credit_memo_id=cmid,
        customer_id=cid,
        credit_date=dt.date.fromisoformat(date),
        currency=currency,
        amount=D(amount),
        applied_invoice_id=applied_to,
        reason_code=reason,
    )


def _dispute(did, cid, iid, opened, status, resolved=None, amount="10.00", currency="USD"):
    return dict(
        dispute_id=did,
        customer_id=cid,
        invoice_id=iid,
        opened_date=dt.date.fromisoformat(opened),
        reason_code="PRICING",
        currency=currency,
        disputed_amount=D(amount),
        is_deduction="false",
        status=status,
        resolved_date=dt.date.fromisoformat(resolved) if resolved else None,
    )


# ---- documents, each in the extract of its own date ------------------------------------------------
_add("invoices", "2025-10-01", [_invoice("INV-1005", "C001", "2025-10-01", "2025-10-31", "USD", "750.00")])
_add("invoices", "2025-10-10", [_invoice("INV-4001", "C004", "2025-10-10", "2025-11-09", "GBP", "2000.00")])
_add("invoices", "2025-11-01", [_invoice("INV-1004", "C001", "2025-11-01", "2025-12-01", "USD", "250.00")])
_add("disputes", "2025-11-15", [_dispute("D-01", "C001", "INV-1005", "2025-11-15", "open", amount="750.00")])
_add("payments", "2025-12-01", [_payment("PAY-05", "C004", "2025-12-01", "GBP", "2000.00")])
_add(
    "payment_applications",
    "2025-12-01",
    [_application("APP-05", "PAY-05", "INV-4001", "2025-12-01", "2000.00")],
)
_add("invoices", "2025-12-01", [_invoice("INV-1001", "C001", "2025-12-01", "2025-12-31", "USD", "1000.00")])
_add(
    "invoices",
    "2026-01-01",
    [
        _invoice(
            "INV-1003",
            "C001",
            "2026-01-01",
            "2026-01-31",
            "USD",
            "1000.00",
            terms="2/10NET30",
            discount="2.0000",
        ),
    ],
)
_add("payments", "2026-01-08", [_payment("PAY-02", "C001", "2026-01-08", "USD", "980.00")])
_add(
    "payment_applications",
    "2026-01-08",
    [
        # paid within 10 days: 980 cash + 20 discount settle the 1,000 invoice
        _application("APP-02", "PAY-02", "INV-1003", "2026-01-08", "980.00", discount="20.00"),
    ],
)
_add("payments", "2026-01-10", [_payment("PAY-01", "C001", "2026-01-10", "USD", "400.00")])
_add(
    "payment_applications",
    "2026-01-10",
    [_application("APP-01", "PAY-01", "INV-1001", "2026-01-10", "400.00")],
)
_add("credit_memos", "2026-01-15", [_credit("CM-01", "C001", "2026-01-15", "USD", "50.00", "INV-1004")])
_add("invoices", "2026-01-15", [_invoice("INV-2002", "C002", "2026-01-15", "2026-02-14", "EUR", "100.01")])
_add(
    "invoices",
    "2026-02-15",
    [_invoice("INV-1002", "C001", "2026-02-15", "2026-03-31", "USD", "500.00", terms="NET45")],
)
_add("disputes", "2026-02-20", [_dispute("D-02", "C002", "INV-2002", "2026-02-20", "open", currency="EUR")])
_add("invoices", "2026-03-01", [_invoice("INV-2001", "C002", "2026-03-01", "2026-03-31", "EUR", "1234.56")])
# INV-4002 first exported at 850.00, corrected to 800.00 in the next day's extract.
_add("invoices", "2026-03-02", [_invoice("INV-4002", "C004", "2026-03-02", "2026-04-01", "GBP", "850.00")])
_add("invoices", "2026-03-03", [_invoice("INV-4002", "C004", "2026-03-02", "2026-04-01", "GBP", "800.00")])
_add("payments", "2026-03-02", [_payment("PAY-04", "C002", "2026-03-02", "EUR", "60.00")])
_add(
    "payment_applications",
    "2026-03-02",
    [_application("APP-04", "PAY-04", "INV-2002", "2026-03-02", "60.00")],
)
# INV-4003: two loads of the same extract date (the later load wins: 20.00) ...
_add(
    "invoices",
    "2026-03-05",
    [_invoice("INV-4003", "C004", "2026-03-05", "2026-04-04", "GBP", "10.00")],
    hour=6,
)
_add(
    "invoices",
    "2026-03-05",
    [_invoice("INV-4003", "C004", "2026-03-05", "2026-04-04", "GBP", "20.00")],
    hour=9,
)
# ... and INV-4004 twice in one file: the later row wins (0.50 -> 30.00).
_add(
    "invoices",
    "2026-03-06",
    [
        _invoice("INV-4004", "C004", "2026-03-06", "2026-04-05", "GBP", "0.50"),
        _invoice("INV-4004", "C004", "2026-03-06", "2026-04-05", "GBP", "30.00"),
    ],
)
# D-02 resolved without credit in a later extract: the resolution supersedes the open version.
_add(
    "disputes",
    "2026-03-10",
    [
        _dispute(
            "D-02",
            "C002",
            "INV-2002",
            "2026-02-20",
            "resolved_no_credit",
            resolved="2026-03-10",
            currency="EUR",
        ),
    ],
)
_add("payments", "2026-03-20", [_payment("PAY-03", "C001", "2026-03-20", "USD", "300.00")])
_add("invoices", "2026-03-25", [_invoice("INV-3001", "C003", "2026-03-25", "2026-04-24", "USD", "99.99")])
_add(
    "credit_memos",
    "2026-03-30",
    [_credit("CM-02", "C001", "2026-03-30", "USD", "100.00", None, reason="REBATE")],
)
_add("invoices", "2026-03-31", [_invoice("INV-2003", "C002", "2026-03-31", "2026-04-30", "EUR", "1.00")])
_add(
    "credit_memos",
    "2026-03-31",
    [_credit("CM-03", "C002", "2026-03-31", "EUR", "1.00", None, reason="REBATE")],
)


def load(con, loaded_on: dt.date | None = None) -> int:
    """Insert the world into the raw tables (which must exist). Returns the number of rows.

    ``loaded_at`` is ``loaded_on`` (default: today, so source freshness passes) plus the row's
    hour; rows keep their file's row number.
    """
    loaded_on = loaded_on or dt.date.today()
    row_numbers: dict[str, int] = {}
    meta_names = [name for name, _, _ in LOAD_METADATA_COLUMNS]
    for extract, extract_date, hour, row in _ROWS:
        spec = EXTRACTS[extract]
        source_file = f"erp/{extract}/{extract}_{extract_date}.csv" + ("" if hour == 6 else f"#load{hour}")
        row_numbers[source_file] = row_numbers.get(source_file, 0) + 1
        loaded_at = dt.datetime.combine(loaded_on, dt.time(hour), tzinfo=dt.UTC)
        columns = [c.name for c in spec.columns]
        values = [row[c] for c in columns] + [
            source_file,
            f"sha256-{source_file}",
            row_numbers[source_file],
            dt.date.fromisoformat(extract_date),
            loaded_at,
        ]
        placeholders = ", ".join("?" for _ in values)
        con.execute(
            f"insert into raw.{spec.table} ({', '.join(columns + meta_names)}) values ({placeholders})",
            values,
        )
    return len(_ROWS)


# ---- what the ledger must say --------------------------------------------------------------------
# (item_id, item_type, customer_id, currency, open_amount, fx_rate, open_amount_functional,
#  days_past_due, aging_bucket, is_disputed)
EXPECTED_OPEN_ITEMS_AS_OF = [
    # 1,000 - 400 paid on 01-10; due 2025-12-31 -> 90 days
    ("INV-1001", "invoice", "C001", "USD", D("600.00"), D("1"), D("600.00"), 90, "61-90", False),
    # due on the as-of date itself: current
    ("INV-1002", "invoice", "C001", "USD", D("500.00"), D("1"), D("500.00"), 0, "current", False),
    # 250 - credit memo CM-01 50; due 2025-12-01 -> 120 days
    ("INV-1004", "invoice", "C001", "USD", D("200.00"), D("1"), D("200.00"), 120, "91-120", False),
    # never paid, dispute D-01 still open; due 2025-10-31 -> 151 days
    ("INV-1005", "invoice", "C001", "USD", D("750.00"), D("1"), D("750.00"), 151, "120+", True),
    # unapplied cash from 03-20: ages from its receipt
    ("PAY-03", "unapplied_payment", "C001", "USD", D("-300.00"), D("1"), D("-300.00"), 11, "1-30", False),
    # rebate left on account on 03-30
    ("CM-02", "credit_memo", "C001", "USD", D("-100.00"), D("1"), D("-100.00"), 1, "1-30", False),
    # EUR at Friday 03-27's 1.085: 1,234.56 x 1.085 = 1,339.4976
    ("INV-2001", "invoice", "C002", "EUR", D("1234.56"), D("1.085"), D("1339.50"), 0, "current", False),
    # 100.01 - 60 paid on 03-02 = 40.01 x 1.085 = 43.41085; dispute D-02 resolved on 03-10
    ("INV-2002", "invoice", "C002", "EUR", D("40.01"), D("1.085"), D("43.41"), 45, "31-60", False),
    # 1.00 x 1.085 = 1.085: half-up to 1.09 (a banker's rounding would give 1.08) ...
    ("INV-2003", "invoice", "C002", "EUR", D("1.00"), D("1.085"), D("1.09"), -30, "current", False),
    # ... and -1.085 to -1.09
    ("CM-03", "credit_memo", "C002", "EUR", D("-1.00"), D("1.085"), D("-1.09"), 0, "current", False),
    ("INV-3001", "invoice", "C003", "USD", D("99.99"), D("1"), D("99.99"), -24, "current", False),
    # corrected amount 800 x 1.27123457 = 1,016.987656
    ("INV-4002", "invoice", "C004", "GBP", D("800.00"), D("1.27123457"), D("1016.99"), -1, "current", False),
    # later load's 20.00 x 1.27123457 = 25.4246914
    ("INV-4003", "invoice", "C004", "GBP", D("20.00"), D("1.27123457"), D("25.42"), -4, "current", False),
    # later row's 30.00 x 1.27123457 = 38.1370371
    ("INV-4004", "invoice", "C004", "GBP", D("30.00"), D("1.27123457"), D("38.14"), -5, "current", False),
]

# On 2026-02-28 only rows extracted by then count: no March documents, PAY-04 not yet applied,
# D-02 still open (its resolution is extracted on 03-10), EUR at 02-27's 1.05, GBP at 1.25.
EXPECTED_OPEN_ITEMS_EARLIER = [
    ("INV-1001", "invoice", "C001", "USD", D("600.00"), D("1"), D("600.00"), 59, "31-60", False),
    ("INV-1002", "invoice", "C001", "USD", D("500.00"), D("1"), D("500.00"), -31, "current", False),
    ("INV-1004", "invoice", "C001", "USD", D("200.00"), D("1"), D("200.00"), 89, "61-90", False),
    ("INV-1005", "invoice", "C001", "USD", D("750.00"), D("1"), D("750.00"), 120, "91-120", True),
    # 100.01 x 1.05 = 105.0105
    ("INV-2002", "invoice", "C002", "EUR", D("100.01"), D("1.05"), D("105.01"), 14, "1-30", True),
]


# ---- a brute-force replay, item by item and day by day (independent of the SQL) -------------------
_KEYS = {name: extract.key for name, extract in EXTRACTS.items()}
_BUCKETS = ("current", "1-30", "31-60", "61-90", "91-120", "120+")


def _bucket(days: int) -> str:
    for limit, name in ((0, "current"), (30, "1-30"), (60, "31-60"), (90, "61-90"), (120, "91-120")):
        if days <= limit:
            return name
    return "120+"


def _half_up(value: Decimal) -> Decimal:
    from decimal import ROUND_HALF_UP

    return value.quantize(D("0.01"), rounding=ROUND_HALF_UP)


def current_rows(extract: str, as_of: dt.date) -> list[dict]:
    """The current version of each key among rows extracted on or before ``as_of``."""
    latest: dict[tuple, tuple] = {}
    row_numbers: dict[tuple, int] = {}
    for name, extract_date, hour, row in _ROWS:
        file_key = (name, extract_date, hour)
        row_numbers[file_key] = row_numbers.get(file_key, 0) + 1
        if name != extract or dt.date.fromisoformat(extract_date) > as_of:
            continue
        version = (extract_date, hour, row_numbers[file_key])
        key = tuple(row[k] for k in _KEYS[extract])
        if key not in latest or version > latest[key][0]:
            latest[key] = (version, row)
    return [row for _, row in latest.values()]


def replay(as_of: dt.date) -> dict[tuple, dict]:
    """{(day, customer_id, currency): columns of fct_ar_balance_daily} for every day from the first
    document to ``as_of``, computed item by item and day by day."""
    invoices = [r for r in current_rows("invoices", as_of) if r["invoice_date"] <= as_of]
    credits = [r for r in current_rows("credit_memos", as_of) if r["credit_date"] <= as_of]
    payments = [r for r in current_rows("payments", as_of) if r["payment_date"] <= as_of]
    applications = [r for r in current_rows("payment_applications", as_of) if r["applied_date"] <= as_of]
    rates = sorted(
        (r["rate_date"], r["currency"], r["rate_to_functional"])
        for r in current_rows("fx_rates", as_of)
        if r["rate_date"] <= as_of
    )

    # item -> (customer, currency, due date, [(date, signed amount, kind)])
    items: dict[str, tuple] = {}
    for inv in invoices:
        items[inv["invoice_id"]] = (
            inv["customer_id"],
            inv["currency"],
            inv["due_date"],
            [(inv["invoice_date"], inv["amount"], "invoiced")],
        )
    for cm in credits:
        if cm["applied_invoice_id"] is None:
            items[cm["credit_memo_id"]] = (
                cm["customer_id"],
                cm["currency"],
                cm["credit_date"],
                [(cm["credit_date"], -cm["amount"], "")],
            )
        elif cm["applied_invoice_id"] in items:
            items[cm["applied_invoice_id"]][3].append((cm["credit_date"], -cm["amount"], ""))
    for pay in payments:
        items[pay["payment_id"]] = (
            pay["customer_id"],
            pay["currency"],
            pay["payment_date"],
            [(pay["payment_date"], -pay["amount"], "collected")],
        )
    for app in applications:
        items[app["invoice_id"]][3].append(
            (app["applied_date"], -(app["applied_amount"] + app["discount_amount"]), "")
        )
        items[app["payment_id"]][3].append((app["applied_date"], app["applied_amount"], ""))

    def rate(currency: str, day: dt.date) -> Decimal | None:
        if currency == "USD":
            return D("1")
        found = [r for d_, c, r in rates if c == currency and d_ <= day]
        return found[-1] if found else None

    first = min(date for *_, events in items.values() for date, _, _ in events)
    out: dict[tuple, dict] = {}
    day = first
    while day <= as_of:
        for customer, currency, due, events in items.values():
            open_amount = sum((a for d_, a, _ in events if d_ <= day), D("0"))
            todays = [(a, kind) for d_, a, kind in events if d_ == day and a != 0]
            if open_amount == 0 and not todays:
                continue
            row = out.setdefault(
                (day, customer, currency),
                {
                    "open_item_count": 0,
                    "open_amount": D("0"),
                    **{b: D("0") for b in _BUCKETS},
                    "invoiced": D("0"),
                    "collected": D("0"),
                },
            )
            if open_amount != 0:
                row["open_item_count"] += 1
                row["open_amount"] += open_amount
                row[_bucket((day - due).days)] += open_amount
            for amount, kind in todays:
                if kind == "invoiced":
                    row["invoiced"] += amount
                elif kind == "collected":
                    row["collected"] -= amount
        day += dt.timedelta(days=1)

    for (day, _customer, currency), row in out.items():
        r = rate(currency, day)
        row["fx_rate"] = r
        functional = {b: _half_up(row[b] * r) for b in _BUCKETS}
        row["functional"] = functional
        row["open_amount_functional"] = sum(functional.values(), D("0"))
        row["invoiced_functional"] = _half_up(row["invoiced"] * r)
        row["collected_functional"] = _half_up(row["collected"] * r)
    return out
