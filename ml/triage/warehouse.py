"""The triage table in the warehouse (schema ``triage``), written by the ``triage/message_triage`` asset.

``triage.message_triage``: one row per customer message received up to the run's as-of day, with the
intent, the facts it needs, the quick action and a summary. A run triages the messages that are new
or were read by another model version and leaves the rest alone, so a re-run is cheap and a model
change re-reads everything once. Money is integer minor units in the message's currency.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

SCHEMA = "triage"
TABLE = "message_triage"
TYPES = {
    "message_id": "varchar",
    "account_id": "varchar",
    "received_date": "date",
    "intent": "varchar",
    "confidence": "decimal(9, 4)",
    "second_intent": "varchar",
    "needs_review": "boolean",
    "invoice_ids": "varchar",
    "promised_date": "date",
    "promised_amount_minor": "bigint",
    "promised_currency": "varchar",
    "dispute_reason": "varchar",
    "disputed_amount_minor": "bigint",
    "new_contact_email": "varchar",
    "back_date": "date",
    "quick_action": "varchar",
    "action_detail": "varchar",
    "summary": "varchar",
    "reply_draft": "varchar",
    "model_version": "varchar",
    "triaged_as_of": "date",
}


def ensure_table(con) -> None:
    con.execute(f"create schema if not exists {SCHEMA}")
    cols = ", ".join(f"{c} {t}" for c, t in TYPES.items())
    con.execute(f"create table if not exists {SCHEMA}.{TABLE} ({cols})")


def triaged_ids(con, model_version: str) -> set[str]:
    """Messages already read by this model version."""
    ensure_table(con)
    rows = con.execute(
        f"select message_id from {SCHEMA}.{TABLE} where model_version = ?", [model_version]
    ).fetchall()
    return {r[0] for r in rows}


def write_triage(con, triaged: pd.DataFrame, model_version: str, as_of: dt.date) -> int:
    """Replace the rows of these messages (whatever model read them before) with ``triaged``."""
    ensure_table(con)
    if triaged.empty:
        return 0
    frame = triaged.assign(model_version=model_version, triaged_as_of=as_of)
    if "reply_draft" not in frame:
        frame = frame.assign(reply_draft=None)
    frame = frame[list(TYPES)]
    con.register("_triage_rows", frame)
    try:
        con.execute(f"delete from {SCHEMA}.{TABLE} where message_id in (select message_id from _triage_rows)")
        casts = ", ".join(f"cast({c} as {t}) as {c}" for c, t in TYPES.items())
        con.execute(f"insert into {SCHEMA}.{TABLE} select {casts} from _triage_rows")
    finally:
        con.unregister("_triage_rows")
    return len(frame)
