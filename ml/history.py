"""The canonical invoice history every model in ``ml/`` reads, and the two ways to build it.

One shape for the ERP warehouse and for any CSV a user brings (``evaluate_payments``), so the same
features, models and backtest run on both. Knowledge is explicit: each fact carries the date it
became known (a payment is known when it is applied, a promise's outcome when the ERP records it),
so "what was known on day t" is a filter, and :func:`truncate_history` can prove features never
look past it.

Frames (dates are ``datetime64``; money is integer minor units, never float):

``invoices`` (one row per invoice, required columns first)
    invoice_id, customer_id (text, leading zeros kept), invoice_date, due_date,
    amount_minor (transaction currency), paid_date (the receipt that settled it; NaT if never paid),
    then optional: paid_known_date (when the settlement was known; defaults to paid_date),
    closed_known_date (when it stopped being open for any reason: paid, credited, written off),
    resolution (paid | credited | written_off | open), first_paid_known_date, n_payments, discount_taken,
    amount_functional_minor, currency, terms, discount_pct, dispute_date, is_deduction, and any
    ``extra_features`` columns (static attributes known at issue).
``customers`` (optional): customer_id, parent_id, country, currency, segment, terms, credit_limit_functional_minor.
``promises`` (optional): customer_id, invoice_id, promise_date, promised_date, status, resolved_known_date.
``activities`` (optional): customer_id, invoice_id, activity_date, activity_type, outcome.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from ingestion.ddl import RAW_SCHEMA
from ingestion.erp_contracts import EXTRACTS

REQUIRED_INVOICE_COLUMNS = (
    "invoice_id",
    "customer_id",
    "invoice_date",
    "due_date",
    "amount_minor",
    "paid_date",
)
DATE_COLUMNS = (
    "invoice_date",
    "due_date",
    "paid_date",
    "paid_known_date",
    "closed_known_date",
    "first_paid_known_date",
    "dispute_date",
)
# What is known about an invoice the day it is issued: safe to give the model for any as-of date.
STATIC_INVOICE_COLUMNS = (
    "invoice_id",
    "customer_id",
    "invoice_date",
    "due_date",
    "amount_minor",
    "amount_functional_minor",
    "currency",
    "terms",
    "discount_pct",
)
RESOLUTIONS = ("paid", "credited", "written_off", "open")


@dataclass(frozen=True)
class InvoiceHistory:
    invoices: pd.DataFrame
    customers: pd.DataFrame | None = None
    promises: pd.DataFrame | None = None
    activities: pd.DataFrame | None = None
    extra_features: tuple[str, ...] = field(default_factory=tuple)
    source: str = ""

    @property
    def first_date(self) -> dt.date:
        return self.invoices["invoice_date"].min().date()

    @property
    def last_date(self) -> dt.date:
        """The last day any fact in the history is dated (the data's as-of)."""
        cols = [c for c in ("invoice_date", "paid_known_date", "closed_known_date") if c in self.invoices]
        return max(self.invoices[c].max() for c in cols).date()


def _to_dates(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s).astype("datetime64[s]")


def normalize_history(h: InvoiceHistory) -> InvoiceHistory:
    """Fill the optional columns with their defaults and check the invariants the features rely on."""
    inv = h.invoices.copy()
    missing = [c for c in REQUIRED_INVOICE_COLUMNS if c not in inv.columns]
    if missing:
        raise ValueError(f"invoice history lacks column(s) {', '.join(missing)}")
    for c in DATE_COLUMNS:
        if c in inv:
            inv[c] = _to_dates(inv[c])
    inv["invoice_id"] = inv["invoice_id"].astype(str)
    inv["customer_id"] = inv["customer_id"].astype(str)
    inv["amount_minor"] = inv["amount_minor"].astype("int64")
    if "amount_functional_minor" not in inv:
        inv["amount_functional_minor"] = inv["amount_minor"]
    inv["amount_functional_minor"] = inv["amount_functional_minor"].astype("int64")
    if "paid_known_date" not in inv:
        inv["paid_known_date"] = inv["paid_date"]
    if "resolution" not in inv:
        inv["resolution"] = np.where(inv["paid_date"].notna(), "paid", "open")
    if "closed_known_date" not in inv:
        inv["closed_known_date"] = inv["paid_known_date"]
    if "first_paid_known_date" not in inv:
        inv["first_paid_known_date"] = inv["paid_known_date"]
    if "n_payments" not in inv:
        inv["n_payments"] = np.where(inv["paid_date"].notna(), 1, 0)
    if "discount_taken" not in inv:
        inv["discount_taken"] = False
    inv["discount_taken"] = inv["discount_taken"].fillna(False).astype(bool)
    if "dispute_date" not in inv:
        inv["dispute_date"] = pd.Series(pd.NaT, index=inv.index, dtype="datetime64[s]")
    if "is_deduction" not in inv:
        inv["is_deduction"] = False
    inv["is_deduction"] = inv["is_deduction"].fillna(False).astype(bool)
    if "discount_pct" not in inv:
        inv["discount_pct"] = 0.0
    inv["discount_pct"] = pd.to_numeric(inv["discount_pct"], errors="coerce").fillna(0.0).astype(float)
    for c in ("currency", "terms"):
        if c not in inv:
            inv[c] = ""
        inv[c] = inv[c].fillna("").astype(str)
    if inv["invoice_id"].duplicated().any():
        dupes = inv.loc[inv["invoice_id"].duplicated(), "invoice_id"].head(5).tolist()
        raise ValueError(f"invoice ids must be unique; repeated: {', '.join(dupes)}")
    inv = inv.sort_values(["invoice_date", "invoice_id"], kind="stable").reset_index(drop=True)

    customers = h.customers
    if customers is None:
        customers = pd.DataFrame({"customer_id": inv["customer_id"].unique()})
    customers = customers.copy()
    customers["customer_id"] = customers["customer_id"].astype(str)
    for c, default in (
        ("parent_id", None),
        ("country", ""),
        ("currency", ""),
        ("segment", ""),
        ("terms", ""),
    ):
        if c not in customers:
            customers[c] = default
    customers["parent_id"] = customers["parent_id"].where(
        customers["parent_id"].notna() & (customers["parent_id"].astype(str) != ""), None
    )
    if "credit_limit_functional_minor" not in customers:
        customers["credit_limit_functional_minor"] = pd.array([pd.NA] * len(customers), dtype="Int64")
    known = set(customers["customer_id"])
    extra = sorted(set(inv["customer_id"]) - known)
    if extra:
        customers = pd.concat([customers, pd.DataFrame({"customer_id": extra})], ignore_index=True)
        customers["country"] = customers["country"].fillna("")
    customers = customers.drop_duplicates("customer_id", keep="last").reset_index(drop=True)

    promises = h.promises
    if promises is not None:
        promises = promises.copy()
        for c in ("promise_date", "promised_date", "resolved_known_date"):
            promises[c] = _to_dates(promises[c])
    activities = h.activities
    if activities is not None:
        activities = activities.copy()
        activities["activity_date"] = _to_dates(activities["activity_date"])
    return replace(h, invoices=inv, customers=customers, promises=promises, activities=activities)


def truncate_history(h: InvoiceHistory, as_of: dt.date) -> InvoiceHistory:
    """The history exactly as it was known at the end of ``as_of``: later invoices gone, later
    settlements, disputes, promise outcomes and activities not yet happened."""
    t = pd.Timestamp(as_of)
    inv = h.invoices[h.invoices["invoice_date"] <= t].copy()
    unknown_close = ~(inv["closed_known_date"] <= t)
    for c in ("paid_date", "paid_known_date", "closed_known_date"):
        inv.loc[unknown_close, c] = pd.NaT
    inv.loc[unknown_close, "resolution"] = "open"
    inv.loc[unknown_close, "n_payments"] = 0
    inv.loc[unknown_close, "discount_taken"] = False
    inv.loc[~(inv["first_paid_known_date"] <= t), "first_paid_known_date"] = pd.NaT
    late_dispute = ~(inv["dispute_date"] <= t)
    inv.loc[late_dispute, "dispute_date"] = pd.NaT
    inv.loc[late_dispute, "is_deduction"] = False
    promises = h.promises
    if promises is not None:
        promises = promises[promises["promise_date"] <= t].copy()
        pending = ~(promises["resolved_known_date"] <= t)
        promises.loc[pending, "status"] = "open"
        promises.loc[pending, "resolved_known_date"] = pd.NaT
    activities = h.activities
    if activities is not None:
        activities = activities[activities["activity_date"] <= t].copy()
    return replace(h, invoices=inv.reset_index(drop=True), promises=promises, activities=activities)


# --- from the warehouse -------------------------------------------------------------------------------


def latest_rows(extract: str, as_of_sql: str, where: str = "") -> str:
    """Latest version of each key known at as_of: later extract, then later load, then later row."""
    e = EXTRACTS[extract]
    key = ", ".join(e.key)
    cond = f"_extract_date <= {as_of_sql}" + (f" and ({where})" if where else "")
    return (
        f"(select * from {RAW_SCHEMA}.{e.table} where {cond} "
        f"qualify row_number() over (partition by {key} order by _extract_date desc, _loaded_at desc, "
        f"_row_number desc) = 1)"
    )


def invoice_counts(con, as_of: dt.date) -> pd.Series:
    """customer_id -> number of its invoices in the history as of ``as_of`` (without reading it):
    what the training sample and the scoring blocks are sized by."""
    a = f"date '{as_of.isoformat()}'"
    counts = con.execute(
        f"select customer_id, count(*) as n from {latest_rows('invoices', a, f'invoice_date <= {a}')} "
        "group by 1 order by 1"
    ).df()
    return pd.Series(
        counts["n"].to_numpy(dtype="int64"), index=counts["customer_id"].astype(str).to_numpy(), name="n"
    )


# The relation that restricts a history to a block of customers (see invoice_history_from_warehouse).
CUSTOMER_BLOCK = "openar_history_customer_block"


def invoice_history_from_warehouse(con, as_of: dt.date, customers: list[str] | None = None) -> InvoiceHistory:
    """Build the canonical history from the raw ERP tables, as known at the end of ``as_of``.

    ``customers``: only these customers' invoices, promises, activities and master rows (scoring a
    large ledger a block of whole customer families at a time, ``ml.pipeline``); None: everyone.

    The invoice is settled on the day cash applied, discounts allowed, credits (write-offs included)
    and deductions the customer took (opened as deduction disputes) first cover its amount; the paid
    date is the receipt date of the last payment applied by then, and it is known on the settlement
    day. A refused-discount residue later written off thus counts as paid on the day of the cash
    (which is what the payer did). An invoice settled without any cash is ``credited`` or
    ``written_off`` and has no paid date. On the simulated world this matches the ground truth's
    paid date for 99.3% of paid invoices (the rest: cash received but not yet applied at as-of).
    """
    if customers is not None:
        con.register(CUSTOMER_BLOCK, pd.DataFrame({"customer_id": pd.Series(customers, dtype=object)}))
        try:
            return _history_from_warehouse(
                con, as_of, f"customer_id in (select customer_id from {CUSTOMER_BLOCK})"
            )
        finally:
            con.unregister(CUSTOMER_BLOCK)
    return _history_from_warehouse(con, as_of, "true")


def _history_from_warehouse(con, as_of: dt.date, of_customers: str) -> InvoiceHistory:
    """:func:`invoice_history_from_warehouse` for the customers ``of_customers`` (a SQL condition
    on customer_id) selects. The block filters the latest version of each row, never the versions
    before it is chosen, so a row that changed customer between extracts is judged by its latest."""
    a = f"date '{as_of.isoformat()}'"
    sql = f"""
    with inv as (select * from {latest_rows("invoices", a, f"invoice_date <= {a}")} where {of_customers}),
    pay as {latest_rows("payments", a)},
    app as {latest_rows("payment_applications", a, f"applied_date <= {a}")},
    cm as {latest_rows("credit_memos", a, f"credit_date <= {a} and applied_invoice_id is not null")},
    dsp as {latest_rows("disputes", a, f"opened_date <= {a}")},
    fx as (select rate_date, currency, rate_to_functional from {latest_rows("fx_rates", a)}),
    ev as (
        select app.invoice_id, app.applied_date as known_date, pay.payment_date as pay_date,
               app.applied_amount + app.discount_amount as amt, app.applied_amount as cash, 0 as wo
        from app left join pay using (payment_id)
        union all
        select applied_invoice_id, credit_date, null, amount, 0, case when reason_code = 'WRITE_OFF' then 1 else 0 end
        from cm
        union all
        select invoice_id, opened_date, null, disputed_amount, 0, 0 from dsp where is_deduction = 'true'
    ),
    cum as (
        select ev.*, inv.amount,
               sum(amt) over w as cum_amt, sum(cash) over w as cum_cash, max(pay_date) over w as last_pay,
               sum(wo) over w as cum_wo
        from ev join inv using (invoice_id)
        window w as (partition by ev.invoice_id order by known_date, cash desc
                     rows between unbounded preceding and current row)
    ),
    settle as (
        select invoice_id, arg_min(known_date, known_date) as closed_known_date,
               arg_min(last_pay, known_date) as last_pay, arg_min(cum_cash, known_date) as cum_cash,
               arg_min(cum_wo, known_date) as cum_wo
        from cum where cum_amt >= amount group by invoice_id
    ),
    firstpay as (
        select invoice_id, min(applied_date) as first_paid_known_date,
               count(distinct pay.payment_date) as n_payments, bool_or(discount_amount > 0) as discount_taken
        from app left join pay using (payment_id) where applied_amount > 0 group by invoice_id
    ),
    disp as (
        select invoice_id, min(opened_date) as dispute_date, bool_or(is_deduction = 'true') as is_deduction
        from dsp group by invoice_id
    )
    select inv.invoice_id, inv.customer_id, inv.invoice_date, inv.due_date,
           cast(round(inv.amount * 100) as bigint) as amount_minor,
           cast(round(cast(inv.amount as decimal(38, 10)) * coalesce(fx.rate_to_functional, 1) * 100) as bigint) as amount_functional_minor,
           inv.currency, inv.payment_terms as terms, cast(inv.discount_pct as double) as discount_pct,
           case when s.cum_cash > 0 then s.last_pay end as paid_date,
           case when s.cum_cash > 0 then s.closed_known_date end as paid_known_date,
           s.closed_known_date,
           case when s.invoice_id is null then 'open' when s.cum_cash > 0 then 'paid'
                when s.cum_wo > 0 then 'written_off' else 'credited' end as resolution,
           f.first_paid_known_date, coalesce(f.n_payments, 0) as n_payments,
           coalesce(f.discount_taken, false) as discount_taken,
           d.dispute_date, coalesce(d.is_deduction, false) as is_deduction
    from inv
    left join settle s using (invoice_id)
    left join firstpay f using (invoice_id)
    left join disp d using (invoice_id)
    asof left join fx on fx.currency = inv.currency and fx.rate_date <= inv.invoice_date
    order by inv.invoice_date, inv.invoice_id
    """
    invoices = con.execute(sql).df()
    customers = customers_from_warehouse(con, as_of)
    if of_customers != "true":
        block = set(
            con.execute(f"select customer_id from {CUSTOMER_BLOCK}").fetchnumpy()["customer_id"].tolist()
        )
        customers = customers[customers["customer_id"].isin(block)].reset_index(drop=True)
    promises = con.execute(f"""
        with v as (select * from {RAW_SCHEMA}.erp_promises_to_pay where _extract_date <= {a}),
        first as (
            select * from v qualify row_number() over (partition by promise_id
                                                       order by _extract_date, _loaded_at, _row_number) = 1),
        res as (
            select promise_id, arg_min(status, _extract_date) as status, min(_extract_date) as resolved_known_date
            from v where status <> 'open' group by promise_id)
        select first.customer_id, first.invoice_id, first.promise_date, first.promised_pay_date as promised_date,
               coalesce(res.status, 'open') as status, res.resolved_known_date
        from first left join res using (promise_id)
        where {of_customers}
        order by promise_date, promise_id
    """).df()
    activities = con.execute(f"""
        select customer_id, invoice_id, _extract_date as activity_date, activity_type, outcome
        from {latest_rows("collection_activities", a)} where {of_customers} order by activity_date, activity_id
    """).df()
    return normalize_history(
        InvoiceHistory(
            invoices=invoices,
            customers=customers,
            promises=promises,
            activities=activities,
            source="warehouse",
        )
    )


def customers_from_warehouse(con, as_of: dt.date) -> pd.DataFrame:
    """The customer master as of ``as_of``; its attributes are treated as static: when no snapshot
    that old exists (worlds start with one snapshot), the earliest one stands in for it."""
    a = f"date '{as_of.isoformat()}'"
    snap = con.execute(f"""
        select coalesce(max(_extract_date) filter (where _extract_date <= {a}), min(_extract_date))
        from {RAW_SCHEMA}.erp_customers
    """).fetchone()[0]
    if snap is None:
        return pd.DataFrame(
            columns=[
                "customer_id",
                "parent_id",
                "country",
                "currency",
                "segment",
                "terms",
                "credit_limit_functional_minor",
            ]
        )
    return con.execute(f"""
        with c as {latest_rows("customers", f"date '{snap.isoformat()}'")},
        fx as (select currency, arg_max(rate_to_functional, rate_date) as rate
               from {RAW_SCHEMA}.erp_fx_rates where rate_date <= {a} group by currency)
        select customer_id, parent_customer_id as parent_id, country, c.currency, segment,
               payment_terms as terms,
               cast(round(cast(credit_limit as decimal(38, 10)) * coalesce(fx.rate, 1) * 100) as bigint) as credit_limit_functional_minor
        from c left join fx using (currency) order by customer_id
    """).df()
