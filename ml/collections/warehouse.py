"""The collections tables in the warehouse (schema ``collections``), written by the collections assets.

- ``collections.collector_worklist``: one row per customer situation per as-of date (the dbt mart
  ``rpt_collector_worklist`` reads it).
- ``collections.cash_forecast_daily`` / ``cash_forecast_weekly`` / ``cash_forecast_totals``: one set of
  rows per as-of date, so that a later run can compare each past forecast with the cash that came.

A run replaces the rows of its own as-of date only. Money is integer minor units (functional currency).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from ml.collections.cash_forecast import CashForecast

SCHEMA = "collections"
WORKLIST_TYPES = {
    "as_of_date": "date",
    "worklist_date": "date",
    "collector_id": "varchar",
    "collector_name": "varchar",
    "customer_id": "varchar",
    "customer_name": "varchar",
    "segment": "varchar",
    "tier": "varchar",
    "action": "varchar",
    "channel": "varchar",
    "reason": "varchar",
    "status": "varchar",
    "rank": "integer",
    "scheduled_for": "date",
    "priority": "decimal(18, 2)",
    "overdue_functional_minor": "bigint",
    "at_risk_functional_minor": "bigint",
    "p_contact_changes_outcome": "decimal(9, 6)",
    "max_days_overdue": "integer",
    "overdue_invoices": "varchar",
    "tone": "varchar",
    "best_weekday": "varchar",
    "best_hour": "integer",
    "currency": "varchar",
    "email_to": "varchar",
    "email_subject": "varchar",
    "email_body": "varchar",
}
FORECAST_TYPES = {
    "cash_forecast_daily": {
        "as_of_date": "date",
        "day": "date",
        "low_minor": "bigint",
        "expected_minor": "bigint",
        "high_minor": "bigint",
        "open_ar_expected_minor": "bigint",
        "new_business_expected_minor": "bigint",
    },
    "cash_forecast_weekly": {
        "as_of_date": "date",
        "week": "integer",
        "week_start": "date",
        "week_end": "date",
        "low_minor": "bigint",
        "expected_minor": "bigint",
        "high_minor": "bigint",
        "open_ar_expected_minor": "bigint",
        "new_business_expected_minor": "bigint",
    },
    "cash_forecast_totals": {
        "as_of_date": "date",
        "period_days": "integer",
        "low_minor": "bigint",
        "expected_minor": "bigint",
        "high_minor": "bigint",
        "open_ar_expected_minor": "bigint",
        "new_business_expected_minor": "bigint",
    },
}


def _replace_as_of(con, table: str, frame: pd.DataFrame, types: dict[str, str], as_of: dt.date) -> int:
    con.execute(f"create schema if not exists {SCHEMA}")
    cols = ", ".join(f"{c} {t}" for c, t in types.items())
    con.execute(f"create table if not exists {SCHEMA}.{table} ({cols})")
    for c, t in types.items():  # a warehouse written before a column was added keeps working
        con.execute(f"alter table {SCHEMA}.{table} add column if not exists {c} {t}")
    con.execute(f"delete from {SCHEMA}.{table} where as_of_date = ?", [as_of])
    f = frame.copy()
    f["as_of_date"] = as_of
    f = f[list(types)]
    name = f"_collections_{table}"
    con.register(name, f)
    try:
        select = ", ".join(f"cast({c} as {t}) as {c}" for c, t in types.items())
        con.execute(f"insert into {SCHEMA}.{table} select {select} from {name}")
    finally:
        con.unregister(name)
    return len(f)


def write_worklist(con, worklist: pd.DataFrame, as_of: dt.date) -> int:
    return _replace_as_of(con, "collector_worklist", worklist, WORKLIST_TYPES, as_of)


def write_cash_forecast(con, fc: CashForecast) -> dict[str, int]:
    frames = {
        "cash_forecast_daily": fc.daily,
        "cash_forecast_weekly": fc.weekly,
        "cash_forecast_totals": fc.totals,
    }
    return {t: _replace_as_of(con, t, frames[t], FORECAST_TYPES[t], fc.as_of) for t in frames}
