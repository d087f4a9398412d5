"""The prediction tables in the warehouse (schema ``ml``): written by the scoring asset, read by dbt.

- ``ml.payment_predictions``: the open invoices scored at the latest run, one row per invoice.
  Replaced whole by every run: at a million open invoices a daily history would grow by a million
  rows a day, and what a past run predicted is in the marts it published.
- ``ml.customer_risk`` and ``ml.credit_review_queue``: one row per customer *per as-of date*; a run
  replaces the rows of its own as-of date only. Small (one row per customer), and the history is
  what tells a new alert from an old one and draws a customer's score over time.

Money stays integer minor units (functional currency), as ``ml.risk`` produces it; the dbt
staging models turn it into decimals. Explanations (drivers, reasons) are JSON text: every engine
stores text, none of the three agrees on a JSON type.
"""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd

from ingestion.ddl import RAW_SCHEMA
from ingestion.erp_contracts import EXTRACTS

SCHEMA = "ml"
PREDICTIONS, CUSTOMER_RISK, CREDIT_REVIEWS = "payment_predictions", "customer_risk", "credit_review_queue"
TABLES = (PREDICTIONS, CUSTOMER_RISK, CREDIT_REVIEWS)

# Types of every column the tables hold; the frames' columns are cast to these so a run with no open
# invoice (an all-null column) writes the same table as any other. Decimals, not doubles: the same
# spelling exists on DuckDB, PostgreSQL and Spark, where dbt declares these tables as sources.
DAYS, PROBABILITY, SCORE = "decimal(9, 2)", "decimal(9, 6)", "decimal(9, 2)"
PREDICTION_TYPES = {
    "invoice_id": "varchar",
    "customer_id": "varchar",
    "as_of_date": "date",
    "invoice_date": "date",
    "due_date": "date",
    "currency": "varchar",
    "amount_minor": "bigint",
    "amount_functional_minor": "bigint",
    "days_past_due": "integer",
    "p10_days_late": DAYS,
    "p50_days_late": DAYS,
    "p90_days_late": DAYS,
    "p50_days_late_continuous": DAYS,
    "p10_pay_date": "date",
    "p50_pay_date": "date",
    "p90_pay_date": "date",
    "p_paid_by_due": PROBABILITY,
    "p_paid_within_30": PROBABILITY,
    "p_paid_within_60": PROBABILITY,
    "p_paid_within_90": PROBABILITY,
    "p_late_over_30": PROBABILITY,
    "bucket": "varchar",
    "top_driver": "varchar",
    "drivers": "varchar",
    "model_name": "varchar",
    "model_version": "varchar",
}
CUSTOMER_RISK_TYPES = {
    "customer_id": "varchar",
    "as_of_date": "date",
    "tier": "varchar",
    "score": SCORE,
    "trend": "varchar",
    "shift_days": DAYS,
    "alert": "boolean",
    "alert_signals": "varchar",
    "open_amount_minor": "bigint",
    "overdue_amount_minor": "bigint",
    "expected_late_30_amount_minor": "bigint",
    "expected_days_late": DAYS,
    "baseline_days_late": DAYS,
    "recent_days_late": DAYS,
    "score_components": "varchar",
    "reasons": "varchar",
    "top_driver": "varchar",
    "drivers": "varchar",
    "model_name": "varchar",
    "model_version": "varchar",
}
CREDIT_REVIEW_TYPES = {
    "customer_id": "varchar",
    "as_of_date": "date",
    "priority": "integer",
    "category": "varchar",
    "needs_review": "boolean",
    "tier": "varchar",
    "score": SCORE,
    "current_limit_minor": "bigint",
    "recommended_limit_minor": "bigint",
    "expected_late_30_amount_minor": "bigint",
    "reasons": "varchar",
    "model_name": "varchar",
    "model_version": "varchar",
}
TYPES = {
    PREDICTIONS: PREDICTION_TYPES,
    CUSTOMER_RISK: CUSTOMER_RISK_TYPES,
    CREDIT_REVIEWS: CREDIT_REVIEW_TYPES,
}


def latest_extract_date(con) -> dt.date | None:
    """The day of the newest ERP extract loaded: the as-of of a run given none (as the ledger's
    ``int_ar_as_of_date`` does, a quiet extract does not hold the day back)."""
    tables = [e.table for e in EXTRACTS.values()]
    present = {
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables where table_schema = ?", [RAW_SCHEMA]
        ).fetchall()
    }
    parts = [f"select max(_extract_date) as d from {RAW_SCHEMA}.{t}" for t in tables if t in present]
    if not parts:
        return None
    return con.execute(f"select max(d) from ({' union all '.join(parts)})").fetchone()[0]


def top_driver(drivers) -> str | None:
    """The feature that moved a prediction most, from a drivers JSON list (None when unexplained,
    which pandas may hold as NaN)."""
    if not isinstance(drivers, str) or not drivers:
        return None
    items = json.loads(drivers)
    return items[0]["feature"] if items else None


def _typed(frame: pd.DataFrame, types: dict[str, str], table: str) -> str:
    """A SELECT over the registered frame that casts each column to its declared type."""
    missing = [c for c in types if c not in frame.columns]
    if missing:
        raise ValueError(f"{SCHEMA}.{table}: the frame lacks column(s) {', '.join(missing)}")
    return ", ".join(f'cast("{c}" as {t}) as "{c}"' for c, t in types.items())


def write_predictions(con, invoices: pd.DataFrame, customers: pd.DataFrame, reviews: pd.DataFrame) -> dict:
    """Write one scoring run's three frames (``ml.pipeline.Predictions``) in one transaction;
    returns the row counts written."""
    as_of = _one_as_of(invoices, customers)
    invoices = invoices.assign(top_driver=[top_driver(d) for d in invoices["drivers"]])
    customers = customers.assign(top_driver=[top_driver(d) for d in customers["drivers"]])
    con.execute(f"create schema if not exists {SCHEMA}")
    con.execute("begin transaction")
    try:
        con.register("_new_predictions", invoices)
        con.execute(
            f"create or replace table {SCHEMA}.{PREDICTIONS} as "
            f"select {_typed(invoices, PREDICTION_TYPES, PREDICTIONS)} from _new_predictions"
        )
        for table, frame in ((CUSTOMER_RISK, customers), (CREDIT_REVIEWS, reviews)):
            _replace_as_of_rows(con, table, frame, as_of)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    finally:
        for view in ("_new_predictions", "_new_rows"):
            con.execute(f"drop view if exists {view}")
    return {
        PREDICTIONS: len(invoices),
        CUSTOMER_RISK: len(customers),
        CREDIT_REVIEWS: len(reviews),
    }


def ensure_tables(con) -> list[str]:
    """Create the tables, empty, where they do not exist yet (no model to score with: the marts
    that read them still build, empty); returns the tables created."""
    con.execute(f"create schema if not exists {SCHEMA}")
    existing = {
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables where table_schema = ?", [SCHEMA]
        ).fetchall()
    }
    created = []
    for table, types in TYPES.items():
        if table not in existing:
            cols = ", ".join(f'"{c}" {t}' for c, t in types.items())
            con.execute(f"create table {SCHEMA}.{table} ({cols})")
            created.append(table)
    return created


def _one_as_of(*frames: pd.DataFrame) -> dt.date:
    dates = {pd.Timestamp(d).date() for f in frames for d in pd.unique(f["as_of_date"])}
    if len(dates) > 1:
        raise ValueError(f"one scoring run has one as-of date; got {sorted(dates)}")
    if not dates:
        raise ValueError("no customer rows: nothing to write")
    return dates.pop()


def _quoted(column: str) -> str:
    return f'"{column}"'


def _replace_as_of_rows(con, table: str, frame: pd.DataFrame, as_of: dt.date) -> None:
    """Rows of ``as_of`` replaced, the other days kept; a column added since is null on old days."""
    types = TYPES[table]
    con.register("_new_rows", frame)
    select_new = f"select {_typed(frame, types, table)} from _new_rows"
    exists = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [SCHEMA, table],
    ).fetchone()[0]
    if not exists:
        con.execute(f"create table {SCHEMA}.{table} as {select_new}")
        return
    old_cols = {
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
            [SCHEMA, table],
        ).fetchall()
    }
    keep = ", ".join(
        f'cast({_quoted(c) if c in old_cols else "null"} as {t}) as "{c}"' for c, t in types.items()
    )
    con.execute(
        f"create or replace table {SCHEMA}.{table} as "
        f"select {keep} from {SCHEMA}.{table} where as_of_date <> ? "
        f"union all {select_new}",
        [as_of],
    )


# --- checks the scoring asset reports -------------------------------------------------------------------


def _exists(con, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchone()[0]
    )


def prediction_check_results(con, ledger_schema: str = "marts") -> dict[str, tuple[bool, str, dict]]:
    """(passed, description, metadata) of each check on the tables as written."""
    t = f"{SCHEMA}.{PREDICTIONS}"
    out: dict[str, tuple[bool, str, dict]] = {}
    n, bad = con.execute(
        f"select count(*), count(*) filter (where not (p10_days_late <= p50_days_late "
        f"and p50_days_late <= p90_days_late)) from {t}"
    ).fetchone()
    out["quantiles_ordered"] = (
        bad == 0,
        f"{bad} of {n} predictions have P10 > P50 or P50 > P90",
        {"rows": n, "violations": bad},
    )
    nprob = con.execute(
        f"select count(*) from {t} where not (p_paid_by_due <= p_paid_within_30 "
        f"and p_paid_within_30 <= p_paid_within_60 and p_paid_within_60 <= p_paid_within_90 "
        f"and p_paid_by_due >= 0 and p_paid_within_90 <= 1)"
    ).fetchone()[0]
    out["probabilities_cumulative"] = (
        nprob == 0,
        f"{nprob} predictions whose probabilities of payment by due/+30/+60/+90 are not a rising share in [0, 1]",
        {"violations": nprob},
    )
    dupes, versions, no_version = con.execute(
        f"select count(*) - count(distinct invoice_id), count(distinct model_version), "
        f"count(*) filter (where model_version is null or model_name is null) from {t}"
    ).fetchone()
    out["model_version_recorded"] = (
        no_version == 0 and versions <= 1,
        f"{no_version} rows without a model name/version; {versions} distinct version(s) in one run",
        {"distinct_versions": versions},
    )
    # The ledger's open invoices and the ones scored must be the same set, with one known gap: the
    # model's history (ml.history) settles an invoice once cash, credits and the deductions the
    # customer took cover it, the ledger once its open amount is zero. An invoice whose residue is
    # a deduction (a dispute opened as one, pending, or rejected and still unpaid) is open in the
    # ledger and settled (paid what the customer meant to pay) for the model.
    ledger = f"{ledger_schema}.fct_ar_open_items"
    has_ledger = _exists(con, ledger_schema, "fct_ar_open_items")
    if has_ledger:
        deductions = (
            f"select distinct invoice_id from {RAW_SCHEMA}.erp_disputes where is_deduction = 'true'"
            if _exists(con, RAW_SCHEMA, "erp_disputes")
            else "select null as invoice_id where false"
        )
        missing, deducted, extra, open_n = con.execute(f"""
            with l as (select item_id as invoice_id, is_disputed from {ledger} where item_type = 'invoice'),
            p as (select invoice_id from {t}),
            d as ({deductions}),
            unscored as (
                select l.*, d.invoice_id is not null as has_deduction
                from (select * from l anti join p using (invoice_id)) l
                left join d using (invoice_id))
            select (select count(*) from unscored where not (is_disputed or has_deduction)),
                   (select count(*) from unscored where is_disputed or has_deduction),
                   (select count(*) from p anti join l using (invoice_id)),
                   (select count(*) from l)
        """).fetchone()
        out["every_open_invoice_scored_once"] = (
            dupes == 0 and missing == 0,
            f"{dupes} invoices scored more than once; {missing} of the ledger's {open_n} open invoices "
            f"not scored (besides {deducted} whose open residue is a deduction or a dispute); {extra} "
            "scored invoices the ledger holds closed",
            {
                "duplicates": dupes,
                "ledger_open_not_scored": missing,
                "deduction_or_dispute_not_scored": deducted,
                "scored_not_open_in_ledger": extra,
            },
        )
    else:
        out["every_open_invoice_scored_once"] = (
            dupes == 0,
            f"{dupes} invoices scored more than once (no ledger table {ledger} to compare with)",
            {"duplicates": dupes},
        )
    return out
