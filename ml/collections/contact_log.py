"""Call outcomes and promises to pay that collectors log in the app, and how the next worklist run uses them.

The app never opens the warehouse (the pipeline holds it read-write and DuckDB allows one writer), so
a logged contact is one JSON-lines file in ``<writeback>/collections_contacts/``, written under a
temporary name and renamed (a run sees an entry whole or not at all) — the pattern of the
cash-application decisions (``ml.cashapp.warehouse.write_correction``).

The next worklist run (``worklist_inputs_from_warehouse(..., writeback_path=...)``) reads the folder
and adds each entry logged for a data day on or before its as-of date to what the ERP says: every
entry becomes a contact activity (so "last contact" and the unanswered streak see it), a promise to
pay also becomes an open promise, which postpones that customer's next action until the promised
date plus the grace days. The ERP's own record of the same promise, when its extract brings it, is
a second pending promise with the same effect.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pandas as pd

from ml.writeback import read_records, write_records

FOLDER = "collections_contacts"
OUTCOMES = ("promise_to_pay", "reached", "no_answer", "left_voicemail", "dispute_raised", "replied")
CHANNELS = ("call", "email")
CONTACT_COLUMNS = (
    "log_id",
    "customer_id",
    "data_as_of",  # the data day the collector was looking at (the worklist's as-of date)
    "logged_at",  # wall-clock UTC instant of the entry
    "logged_by",
    "channel",
    "outcome",
    "promised_pay_date",
    "promised_amount",  # text, exact; in ``currency``
    "currency",
    "note",
)


def contacts_dir(writeback_path: Path) -> Path:
    return Path(writeback_path) / FOLDER


def _check(entry: dict, where: str) -> dict:
    def fail(rule: str) -> None:
        raise ValueError(f"{where}: {rule}")

    for col in ("log_id", "customer_id", "data_as_of", "outcome"):
        if not entry.get(col):
            fail(f"{col} is required")
    if entry["outcome"] not in OUTCOMES:
        fail(f"outcome {entry['outcome']!r} is not one of {', '.join(OUTCOMES)}")
    if (entry.get("channel") or "call") not in CHANNELS:
        fail(f"channel {entry['channel']!r} is not one of {', '.join(CHANNELS)}")
    try:
        as_of = dt.date.fromisoformat(str(entry["data_as_of"]))
    except ValueError:
        fail(f"data_as_of {entry['data_as_of']!r} is not a date (YYYY-MM-DD)")
    if entry["outcome"] == "promise_to_pay":
        try:
            promised = dt.date.fromisoformat(str(entry.get("promised_pay_date")))
        except ValueError:
            fail("a promise to pay needs promised_pay_date (YYYY-MM-DD)")
        if promised < as_of:
            fail(f"promised_pay_date {promised} is before the data day {as_of}")
    if entry.get("promised_amount") not in (None, ""):
        try:
            amount = Decimal(str(entry["promised_amount"]))
        except InvalidOperation:
            fail(f"promised_amount {entry['promised_amount']!r} is not a number")
        if amount <= 0 or amount != amount.quantize(Decimal("0.01")):
            fail(f"promised_amount {amount} must be positive with at most two decimals")
    return entry


def write_contact(writeback_path: Path, entry: dict) -> Path:
    """Log one contact (``CONTACT_COLUMNS``); returns the file written. Bad input raises naming the rule."""
    row = {c: entry.get(c) for c in CONTACT_COLUMNS}
    for c in ("data_as_of", "promised_pay_date"):
        if isinstance(row[c], dt.date):
            row[c] = row[c].isoformat()
    if isinstance(row["promised_amount"], Decimal):
        row["promised_amount"] = format(row["promised_amount"], "f")
    _check(row, "new contact")
    return write_records(
        contacts_dir(writeback_path),
        re.sub(r"[^0-9]", "", str(row.get("logged_at") or ""))[:14],
        str(row["log_id"]),
        [row],
    )


def read_contacts(writeback_path: Path | None) -> pd.DataFrame:
    """Every logged contact, oldest file first; a bad line raises naming its file and line."""
    folder = contacts_dir(writeback_path) if writeback_path else None
    rows = [_check({c: raw.get(c) for c in CONTACT_COLUMNS}, where) for where, raw in read_records(folder)]
    return pd.DataFrame(rows, columns=list(CONTACT_COLUMNS), dtype=object)


def apply_contacts(
    promises: pd.DataFrame, activities: pd.DataFrame, contacts: pd.DataFrame, as_of: dt.date
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``promises`` and ``activities`` (the worklist's inputs) with the contacts logged for data days up
    to ``as_of`` added. A contact is dated on its data day: that is the day the collector acted on."""
    if contacts.empty:
        return promises, activities
    c = contacts[pd.to_datetime(contacts["data_as_of"]).dt.date <= as_of]
    if c.empty:
        return promises, activities
    day = pd.to_datetime(c["data_as_of"]).dt.strftime("%Y-%m-%dT12:00:00")
    logged = pd.DataFrame(
        {
            "customer_id": c["customer_id"].to_numpy(),
            "activity_at": day.to_numpy(),
            "activity_type": c["channel"].fillna("call").to_numpy(),
            "outcome": c["outcome"].to_numpy(),
        }
    )
    activities = pd.concat([activities, logged], ignore_index=True)
    p = c[c["outcome"] == "promise_to_pay"]
    if len(p):
        amount = p["promised_amount"].map(
            lambda v: None if v in (None, "") else int(Decimal(str(v)).scaleb(2))
        )
        logged_promises = pd.DataFrame(
            {
                "promise_id": ("APP-" + p["log_id"].astype(str)).to_numpy(),
                "customer_id": p["customer_id"].to_numpy(),
                "invoice_id": None,
                "promise_date": pd.to_datetime(p["data_as_of"]).to_numpy(),
                "promised_pay_date": pd.to_datetime(p["promised_pay_date"]).to_numpy(),
                "promised_minor": amount.to_numpy(),
                "status": "open",
                "resolved_date": pd.NaT,
            }
        )
        promises = pd.concat([promises, logged_promises], ignore_index=True)
    return promises, activities
