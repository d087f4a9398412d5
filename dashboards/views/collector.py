"""Collector: my worklist for the next work day, a customer's open invoices with their predicted payment
dates, history, messages and the suggested action; log a call outcome or a promise to pay.

Reads the published marts like every page. A logged contact is written to the write-back folder
(``settings.writeback_path``, one JSON-lines file per entry through
``ml.collections.contact_log.write_contact``), never to the warehouse: the pipeline holds that file
read-write, and DuckDB allows one writer. The next worklist run reads the folder: a promise postpones
the customer's next action until the promised date (plus grace), a contact counts as the last contact.
The queries sit here, not in ``dashboards/data.py``, because they concern this page alone.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal, InvalidOperation

import pandas as pd
import streamlit as st

from dashboards import data
from dashboards import formatting as fmt
from dashboards.views import shared
from ml.collections.contact_log import OUTCOMES, read_contacts, write_contact
from orchestration.settings import load_settings

TITLE = "Collector"
WORKLIST_MART = "rpt_collector_worklist"
HISTORY_MART = "rpt_collections_customer_history"
PREDICTIONS_MART = "fct_payment_predictions"
OPEN_ITEMS_MART = "fct_ar_open_items"
HISTORY_LIMIT = 200
TRIAGE_MART = "rpt_message_triage"
MESSAGES_LIMIT = 50
ACTION_LABELS = {
    "call": "Call",
    "reminder_email": "Reminder e-mail",
    "statement": "Statement of account",
    "escalation": "Escalate",
    "pre_legal": "Pre-legal notice",
    "dispute_follow_up": "Dispute follow-up",
    "postpone": "Postpone",
    "wait": "Wait",
}
OUTCOME_LABELS = {
    "promise_to_pay": "Promise to pay",
    "reached": "Reached, no promise",
    "no_answer": "No answer",
    "left_voicemail": "Left a voicemail",
    "dispute_raised": "Dispute raised",
    "replied": "Replied by e-mail",
}
PROMISE_DAYS_DEFAULT = 7
INTENT_LABELS = {
    "promise_to_pay": "Promise to pay",
    "dispute": "Dispute",
    "invoice_copy_request": "Invoice copy request",
    "remittance_advice": "Remittance advice",
    "contact_change": "Contact change",
    "out_of_office": "Out of office",
    "other": "Other",
}
QUICK_ACTION_LABELS = {
    "log_promise": "Log the promise",
    "open_dispute": "Open a dispute",
    "send_invoice_copy": "Send the invoice copy",
    "route_to_cash_application": "Route to cash application",
    "update_contact": "Update the contact",
    "retry_after": "Retry after the return date",
    "review": "Read and route",
}


@st.cache_data(ttl=data.QUERY_TTL_SECONDS, max_entries=data.QUERY_CACHE_ENTRIES, show_spinner=False)
def worklist(source: data.MartsSource) -> pd.DataFrame:
    """The latest worklist, every collector, in queue order (actionable first)."""
    return data._frame(
        source,
        f"""select * from {data._mart(WORKLIST_MART)}
            order by collector_name, queue_rank nulls last, priority desc, customer_id""",
    )


@st.cache_data(ttl=data.QUERY_TTL_SECONDS, max_entries=data.QUERY_CACHE_ENTRIES, show_spinner=False)
def open_invoices(source: data.MartsSource, customer_id: str, as_of: dt.date) -> pd.DataFrame:
    """The customer's open items at ``as_of`` with the payment model's dates, when it scored them."""
    predictions = (
        f"""left join (
                select invoice_id, p10_pay_date, p50_pay_date, p90_pay_date, p_paid_within_30, top_driver
                from {data._mart(PREDICTIONS_MART)}
                where as_of_date = (select max(as_of_date) from {data._mart(PREDICTIONS_MART)}
                                    where as_of_date <= $as_of)
            ) p on p.invoice_id = o.item_id"""
        if f"{data.MARTS_SCHEMA}.{PREDICTIONS_MART}" in data.published_tables(source)
        else """left join (select null::varchar as invoice_id, null::date as p10_pay_date,
                null::date as p50_pay_date, null::date as p90_pay_date, null::decimal(9,6) as p_paid_within_30,
                null::varchar as top_driver where false) p on p.invoice_id = o.item_id"""
    )
    return data._frame(
        source,
        f"""select o.item_id, o.item_type, o.document_date, o.due_date, o.days_past_due, o.currency,
                   o.open_amount, o.open_amount_functional, o.is_disputed,
                   p.p10_pay_date, p.p50_pay_date, p.p90_pay_date, p.p_paid_within_30, p.top_driver
            from {data._mart(OPEN_ITEMS_MART)} o
            {predictions}
            where o.customer_id = $customer and o.as_of_date = (
                select max(as_of_date) from {data._mart(OPEN_ITEMS_MART)} where as_of_date <= $as_of)
            order by o.due_date, o.item_id""",
        {"customer": customer_id, "as_of": as_of},
    )


@st.cache_data(ttl=data.QUERY_TTL_SECONDS, max_entries=data.QUERY_CACHE_ENTRIES, show_spinner=False)
def history(source: data.MartsSource, customer_id: str, limit: int = HISTORY_LIMIT) -> pd.DataFrame:
    if f"{data.MARTS_SCHEMA}.{HISTORY_MART}" not in data.published_tables(source):
        return pd.DataFrame(
            columns=["event_at", "event_kind", "event_type", "status", "amount", "currency", "summary"]
        )
    return data._frame(
        source,
        f"""select event_at, event_kind, event_type, status, amount, currency, summary
            from {data._mart(HISTORY_MART)} where customer_id = $customer
            order by event_at desc nulls last, event_kind, event_id limit $limit""",
        {"customer": customer_id, "limit": limit},
    )


@st.cache_data(ttl=data.QUERY_TTL_SECONDS, max_entries=data.QUERY_CACHE_ENTRIES, show_spinner=False)
def messages(source: data.MartsSource, customer_id: str, limit: int = MESSAGES_LIMIT) -> pd.DataFrame:
    """The customer's triaged messages, newest first (empty until the triage asset has run)."""
    if f"{data.MARTS_SCHEMA}.{TRIAGE_MART}" not in data.published_tables(source):
        return pd.DataFrame(columns=["received_at", "subject", "intent", "confidence", "needs_review",
                                     "quick_action", "action_detail", "summary"])  # fmt: skip
    return data._frame(
        source,
        f"""select received_at, subject, intent, confidence, needs_review, quick_action, action_detail, summary
            from {data._mart(TRIAGE_MART)} where customer_id = $customer
            order by recency_rank limit $limit""",
        {"customer": customer_id, "limit": limit},
    )


def _messages_table(msgs: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Received": msgs["received_at"],
            "Subject": msgs["subject"],
            "Intent": msgs["intent"].map(lambda i: INTENT_LABELS.get(i, i)),
            "Suggested action": [
                detail or QUICK_ACTION_LABELS.get(a, a)
                for a, detail in zip(msgs["quick_action"], msgs["action_detail"], strict=True)
            ],
            "Check": msgs["needs_review"].map(lambda r: "review" if pd.notna(r) and bool(r) else ""),
            "Summary": msgs["summary"],
        }
    )


def _worklist_table(rows: pd.DataFrame, logged: set[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "#": rows["queue_rank"].map(lambda v: "" if pd.isna(v) else int(v)),
            "Customer": rows["customer_name"].fillna(rows["customer_id"]),
            "Action": rows["action"].map(lambda a: ACTION_LABELS.get(a, a)),
            "Why": rows["reason"],
            "Overdue": rows["overdue_amount_functional"].map(fmt.money),
            "Days overdue": rows["max_days_overdue"],
            "Tier": rows["risk_tier"],
            "Tone": rows["tone"],
            "Best time": [
                " ".join(str(x) for x in (wd, f"{int(h)}:00" if pd.notna(h) else None) if x and pd.notna(x))
                for wd, h in zip(rows["best_weekday"], rows["best_hour"], strict=True)
            ],
            "Status": rows["status"],
            "Logged": rows["customer_id"].map(lambda c: "✓" if c in logged else ""),
        }
    )


def _customer(source: data.MartsSource, row) -> None:
    st.subheader(f"{row.customer_name or row.customer_id}")
    st.markdown(
        f"**Suggested**: {ACTION_LABELS.get(row.action, row.action)}"
        + (f" by {row.channel}" if row.channel else "")
        + f" — {row.reason}. Tone: {row.tone}."
        + (f" Best reached {row.best_weekday}" if row.best_weekday else "")
        + (f" around {int(row.best_hour)}:00." if pd.notna(row.best_hour) else "")
    )
    invoices = open_invoices(source, row.customer_id, row.as_of_date)
    st.markdown("**Open invoices**")
    if invoices.empty:
        st.caption("No open item in the published ledger.")
    else:
        st.dataframe(
            pd.DataFrame(
                {
                    "Item": invoices["item_id"],
                    "Due": invoices["due_date"],
                    "Days past due": invoices["days_past_due"],
                    "Open": [
                        fmt.money(v, c)
                        for v, c in zip(invoices["open_amount"], invoices["currency"], strict=True)
                    ],
                    "Disputed": invoices["is_disputed"].map(lambda d: "yes" if d else ""),
                    "Predicted pay date": invoices["p50_pay_date"],
                    "Range (P10–P90)": [
                        f"{a} – {b}" if pd.notna(a) else fmt.EMPTY
                        for a, b in zip(invoices["p10_pay_date"], invoices["p90_pay_date"], strict=True)
                    ],
                    "Paid within 30 d": invoices["p_paid_within_30"].map(
                        lambda p: fmt.EMPTY if p is None or pd.isna(p) else f"{float(p):.0%}"
                    ),
                }
            ),
            hide_index=True,
        )
    if row.email_subject:
        with st.expander(f"E-mail draft: {row.email_subject}"):
            st.caption(f"To: {row.email_to or 'no contact e-mail'}")
            st.code(row.email_body, language=None)
    events = history(source, row.customer_id)
    st.markdown("**History and messages**")
    if events.empty:
        st.caption("No contact, promise or message on record.")
    else:
        st.dataframe(
            pd.DataFrame(
                {
                    "When": events["event_at"],
                    "Kind": events["event_kind"],
                    "Type": events["event_type"],
                    "Outcome / status": events["status"],
                    "Amount": [
                        "" if a is None or pd.isna(a) else fmt.money(a, c)
                        for a, c in zip(events["amount"], events["currency"], strict=True)
                    ],
                    "Summary": events["summary"],
                }
            ),
            hide_index=True,
            column_config={"Summary": st.column_config.TextColumn(width="large")},
        )
    msgs = messages(source, row.customer_id)
    st.markdown("**Messages and suggested actions**")
    if msgs.empty:
        st.caption("No triaged message from this customer.")
    else:
        st.dataframe(
            _messages_table(msgs),
            hide_index=True,
            column_config={"Summary": st.column_config.TextColumn(width="large")},
        )


def _log_form(row) -> None:
    st.subheader("Log a contact")
    default_date = row.worklist_date + dt.timedelta(days=PROMISE_DAYS_DEFAULT)
    with st.form("collector_log"):
        outcome = st.selectbox("Outcome", OUTCOMES, format_func=OUTCOME_LABELS.get, key="collector_outcome")
        channel = st.radio("Channel", ("call", "email"), horizontal=True, key="collector_channel")
        promised = st.date_input("Promised pay date", value=default_date, key="collector_promised_date")
        amount = st.text_input(f"Promised amount ({row.currency}, optional)", key="collector_promised_amount")
        note = st.text_input("Note (optional)", key="collector_note")
        if not st.form_submit_button("Log", type="primary"):
            return
    entry = {
        "log_id": uuid.uuid4().hex[:16],
        "customer_id": row.customer_id,
        "data_as_of": row.as_of_date,
        "logged_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "logged_by": row.collector_name or row.collector_id,
        "channel": channel,
        "outcome": outcome,
        "currency": row.currency,
        "note": note or None,
    }
    if outcome == "promise_to_pay":
        entry["promised_pay_date"] = promised
        if amount.strip():
            try:
                entry["promised_amount"] = Decimal(amount.strip().replace(",", ""))
            except InvalidOperation:
                st.error(f"'{amount}' is not an amount.")
                return
    try:
        write_contact(load_settings().writeback_path, entry)
    except ValueError as exc:
        st.error(str(exc))
        return
    st.session_state["collector_saved"] = (
        f"Logged: {OUTCOME_LABELS[outcome].lower()} for {row.customer_name or row.customer_id}"
        + (f", pay by {promised}" if outcome == "promise_to_pay" else "")
        + ". The next run takes it into account."
    )
    st.rerun()


def render() -> None:
    source = shared.require_source()
    st.title(TITLE)
    with shared.friendly_errors():
        if f"{data.MARTS_SCHEMA}.{WORKLIST_MART}" not in data.published_tables(source):
            st.info("No worklist has been published yet: run `make run` (the collections stage builds it).")
            return
        wl = worklist(source)
    if wl.empty:
        st.success("No customer has money overdue: nothing to do.")
        return
    saved = st.session_state.pop("collector_saved", None)
    if saved:
        st.success(saved)
    collectors = (
        wl[["collector_id", "collector_name"]]
        .drop_duplicates()
        .dropna(subset=["collector_id"])
        .sort_values("collector_name")
    )
    names = dict(
        zip(
            collectors["collector_id"],
            collectors["collector_name"].fillna(collectors["collector_id"]),
            strict=True,
        )
    )
    with st.sidebar:
        collector = st.selectbox("Collector", list(names), format_func=names.get, key="collector_pick")
    mine = wl[wl["collector_id"] == collector]
    as_of, day = mine["as_of_date"].iloc[0], mine["worklist_date"].iloc[0]
    logged = read_contacts(load_settings().writeback_path)
    logged_ids = (
        set(logged.loc[logged["data_as_of"].astype(str) >= str(as_of), "customer_id"])
        if len(logged)
        else set()
    )
    today = mine[mine["status"] == "today"]
    tiles = st.columns(4)
    tiles[0].metric("To do on " + day.isoformat(), f"{len(today):,}", border=True)
    tiles[1].metric("Rolled over", f"{int((mine['status'] == 'rolled_over').sum()):,}", border=True)
    tiles[2].metric(
        "Postponed / waiting", f"{int(mine['status'].isin(['postponed', 'waiting']).sum()):,}", border=True
    )
    tiles[3].metric(
        "Overdue in today's list",
        fmt.money(sum(today["overdue_amount_functional"], Decimal("0.00"))),
        border=True,
    )
    st.caption(f"Worklist as of {as_of} for {day}; a ✓ marks a customer with a contact logged since.")
    show = st.radio(
        "Show", ("Today", "Everything"), horizontal=True, key="collector_show", label_visibility="collapsed"
    )
    rows = today if show == "Today" else mine
    st.dataframe(
        _worklist_table(rows, logged_ids),
        hide_index=True,
        column_config={"Why": st.column_config.TextColumn(width="large")},
    )
    customers = dict(zip(mine["customer_id"], mine["customer_name"].fillna(mine["customer_id"]), strict=True))
    cid = st.selectbox("Customer", list(customers), format_func=customers.get, key="collector_customer")
    row = next(mine[mine["customer_id"] == cid].itertuples())
    with shared.friendly_errors():
        _customer(source, row)
    _log_form(row)
