"""Messages to triage, and their labels when a simulated world knows them.

The ERP's ``customer_messages`` extract carries the text; the customer master gives the sender's
country (which fixes how numeric dates read). About one message in twelve is not linked to an
account by the ERP: the sender's e-mail domain usually still names the customer, so it is matched
on the contact e-mail domains of the customer master.
"""

from __future__ import annotations

import glob
from pathlib import Path

import pandas as pd

from ingestion.ddl import RAW_SCHEMA

MESSAGE_COLUMNS = ("message_id", "customer_id", "received_at", "from_address", "subject", "body")
# Free-mail domains say nothing about the employer.
_GENERIC_DOMAINS = frozenset({"gmail.com", "outlook.com", "hotmail.com", "yahoo.com", "gmx.de", "orange.fr"})


def _read_extract(landing_erp: Path, name: str) -> pd.DataFrame:
    files = sorted(glob.glob(str(landing_erp / name / f"{name}_*.csv")))
    if not files:
        raise FileNotFoundError(f"{landing_erp / name}: no {name}_<date>.csv extract files")
    frames = [pd.read_csv(f, dtype=str, keep_default_na=False, na_values=[""]) for f in files]
    return pd.concat(frames, ignore_index=True)


def _domain(address) -> str | None:
    if not isinstance(address, str) or "@" not in address:
        return None
    d = address.rsplit("@", 1)[1].strip().lower()
    return None if d in _GENERIC_DOMAINS else d


def attach_customers(messages: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    """Add ``account_id`` (the ERP's link, else the customer whose contact domain matches) and ``country``."""
    m = messages.copy()
    by_domain = (
        customers.assign(_d=customers["contact_email"].map(_domain))
        .dropna(subset=["_d"])
        .drop_duplicates("_d", keep=False)  # a domain shared by two accounts names neither
        .set_index("_d")["customer_id"]
    )
    linked = m["customer_id"].where(m["customer_id"].notna(), m["from_address"].map(_domain).map(by_domain))
    m["account_id"] = linked
    m["country"] = linked.map(customers.set_index("customer_id")["country"])
    ts = pd.to_datetime(m["received_at"].str.slice(0, 19))  # the sender's local wall-clock time
    m["received_date"] = ts.dt.date
    m["received_local"] = ts
    return m


def messages_from_world(world: Path) -> pd.DataFrame:
    """Every message of a simulated world (landing extracts) with its account and country."""
    erp = Path(world) / "landing" / "erp"
    msgs = _read_extract(erp, "customer_messages").drop_duplicates("message_id", keep="last")
    customers = _read_extract(erp, "customers").drop_duplicates("customer_id", keep="last")
    return attach_customers(msgs[list(MESSAGE_COLUMNS)], customers)


def labelled_messages(world: Path) -> pd.DataFrame:
    """Messages joined to ``ground_truth/message_intents.csv`` (intent, promised date/amount, reason)."""
    truth_path = Path(world) / "ground_truth" / "message_intents.csv"
    if not truth_path.exists():
        raise FileNotFoundError(f"{truth_path}: a labelled world needs ground_truth/message_intents.csv")
    truth = pd.read_csv(truth_path, dtype=str, keep_default_na=False, na_values=[""])
    missing = {"message_id", "intent"} - set(truth.columns)
    if missing:
        raise ValueError(f"{truth_path}: missing columns {sorted(missing)}")
    truth = truth.rename(columns={"customer_id": "true_customer_id", "invoice_ids": "true_invoice_ids"})
    out = messages_from_world(world).merge(truth, on="message_id", how="inner", validate="one_to_one")
    return out.sort_values(["received_local", "message_id"]).reset_index(drop=True)


def messages_from_warehouse(con, as_of=None, since=None) -> pd.DataFrame:
    """Messages of the loaded ERP tables (latest version of each), up to ``as_of`` when given, and
    received after ``since`` when given."""
    # As known on the as-of day: extracts delivered by then, messages received by then.
    conds, params = [], []
    if as_of is not None:
        conds.append("_extract_date <= ? and cast(received_at as date) <= ?")
        params += [as_of, as_of]
    if since is not None:
        conds.append("cast(received_at as date) > ?")
        params.append(since)
    where = f"where {' and '.join(conds)}" if conds else ""
    msgs = con.execute(
        f"""
        select message_id, customer_id, cast(received_at as varchar) as received_at, from_address, subject, body
        from {RAW_SCHEMA}.erp_customer_messages {where}
        qualify row_number() over (partition by message_id order by _extract_date desc, _row_number desc) = 1
        """,
        params,
    ).df()
    customers = con.execute(
        f"""
        select customer_id, country, contact_email from {RAW_SCHEMA}.erp_customers
        qualify row_number() over (partition by customer_id order by _extract_date desc, _row_number desc) = 1
        """
    ).df()
    return attach_customers(msgs, customers)
