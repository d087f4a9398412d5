"""Cash application: the review queue (each payment, its remittance, its candidates with evidence) with
accept / correct / reject, and the KPI charts.

Reads the cash-application marts from the published file, like every page. A decision is written to
the write-back folder (``settings.writeback_path``, one JSON-lines file per decision through
``ml.cashapp.warehouse.write_correction``), never to the warehouse: the pipeline holds that file
read-write, and DuckDB allows one writer. The next run reads the folder, holds the decision (the
payment is applied as decided, or sent back to the queue) and learns from it. The queries sit here,
not in ``dashboards/data.py``, because they concern this page alone (as on the risk page).
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
from ml.cashapp.warehouse import read_corrections, write_correction
from orchestration.settings import load_settings

TITLE = "Cash application"
CASHAPP_MARTS = (
    "rpt_cash_application_kpis",
    "rpt_cash_application_exceptions",
    "rpt_cash_application_suggestions",
    "rpt_unapplied_cash",
)
REASON_LABELS = {
    "payer_not_identified": "Payer not identified",
    "low_confidence": "Low confidence",
    "ambiguous": "Ambiguous",
    "partial_payment": "Partial payment",
    "short_payment": "Short payment",
    "overpayment": "Overpayment",
    "no_matching_items": "No matching invoice",
    "no_open_items": "No open invoice",
    "items_already_applied": "Invoices already taken",
    "rejected_by_reviewer": "Rejected by a reviewer",
}
PICK_KEY = "cashapp_payment"


@st.cache_data(ttl=data.QUERY_TTL_SECONDS, max_entries=data.QUERY_CACHE_ENTRIES, show_spinner=False)
def kpi_days(source: data.MartsSource) -> pd.DataFrame:
    return data._frame(source, f"select * from {data._mart('rpt_cash_application_kpis')} order by kpi_date")


@st.cache_data(ttl=data.QUERY_TTL_SECONDS, max_entries=data.QUERY_CACHE_ENTRIES, show_spinner=False)
def queue(source: data.MartsSource) -> pd.DataFrame:
    """The review queue, oldest first."""
    return data._frame(
        source,
        f"""select * from {data._mart("rpt_cash_application_exceptions")}
            order by booking_date, received_amount desc, transaction_id""",
    )


@st.cache_data(ttl=data.QUERY_TTL_SECONDS, max_entries=data.QUERY_CACHE_ENTRIES, show_spinner=False)
def candidates(source: data.MartsSource, transaction_id: str) -> pd.DataFrame:
    return data._frame(
        source,
        f"""select * from {data._mart("rpt_cash_application_suggestions")}
            where transaction_id = $tid order by suggestion_rank, invoice_id""",
        {"tid": transaction_id},
    )


@st.cache_data(ttl=data.QUERY_TTL_SECONDS, max_entries=data.QUERY_CACHE_ENTRIES, show_spinner=False)
def unapplied_by_age(source: data.MartsSource) -> pd.DataFrame:
    return data._frame(
        source,
        f"""select age_bucket, unapplied_reason, sum(unapplied_amount_functional) as amount, count(*) as payments
            from {data._mart("rpt_unapplied_cash")} group by all order by all""",
    )


def _pct(part: int | Decimal, whole: int | Decimal) -> str:
    return "–" if not whole else f"{Decimal(part) * 100 / Decimal(whole):.1f}%"


def _tiles(kpis: pd.DataFrame, pending: pd.DataFrame) -> None:
    received = int(kpis["payments_received"].sum())
    auto = int(kpis["payments_auto_applied"].sum())
    lines_auto = int(kpis["lines_auto_applied"].sum())
    lines_all = lines_auto + int(kpis["lines_suggested"].sum())
    amount = sum(kpis["received_functional"], Decimal("0.00"))
    applied = sum(kpis["applied_functional"], Decimal("0.00"))
    unapplied = sum(kpis["unapplied_functional"], Decimal("0.00"))
    confirmed = int(kpis["payments_confirmed"].sum())
    tiles = st.columns(6)
    tiles[0].metric(
        "Auto-match (payments)", _pct(auto, received), help=f"{auto:,} of {received:,}", border=True
    )
    tiles[1].metric("Auto-match (lines)", _pct(lines_auto, lines_all), border=True)
    tiles[2].metric("Auto-match (amount)", _pct(applied, amount), border=True)
    tiles[3].metric("Unapplied cash", fmt.money(unapplied, "USD"), border=True)
    tiles[4].metric("In the queue", f"{len(pending):,}", border=True)
    tiles[5].metric("Confirmed by people", f"{confirmed:,}", border=True)


def _charts(kpis: pd.DataFrame, exceptions: pd.DataFrame) -> None:
    left, right = st.columns(2)
    with left:
        st.subheader("Auto-match rate per day")
        chart = pd.DataFrame(
            {
                "Day": kpis["kpi_date"].astype(str),
                "Payments %": kpis["auto_match_rate_payments_pct"].map(
                    lambda v: None if v is None else float(v)
                ),
                "Amount %": kpis["auto_match_rate_amount_pct"].map(lambda v: None if v is None else float(v)),
            }
        )
        st.line_chart(chart, x="Day", y=["Payments %", "Amount %"], height=260)
    with right:
        st.subheader("Exceptions by reason")
        by_reason = (
            exceptions.assign(Reason=exceptions["exception_reason"].map(lambda r: REASON_LABELS.get(r, r)))
            .groupby("Reason", as_index=False)
            .size()
            .rename(columns={"size": "Payments"})
        )
        st.bar_chart(by_reason, x="Reason", y="Payments", horizontal=True, height=260)


def _label(row) -> str:
    payer = row.counterparty_name or row.customer_id or "unknown payer"
    return (
        f"{row.booking_date} · {fmt.money(row.received_amount, row.currency)} · {payer} · "
        f"{REASON_LABELS.get(row.exception_reason, row.exception_reason)}"
    )


def _decision_rows(action: str, pay, lines: list[dict], note: str) -> list[dict]:
    cid = uuid.uuid4().hex[:16]
    base = {
        "correction_id": cid,
        "transaction_id": pay.transaction_id,
        "action": action,
        "booking_date": pay.booking_date,
        "amount": pay.received_amount,
        "counterparty_account": pay.counterparty_account,
        "counterparty_name": pay.counterparty_name,
        "decided_by": st.session_state.get("cashapp_reviewer") or "reviewer",
        "decided_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "note": note or None,
    }
    return [{**base, **line} for line in lines] or [base]


def _save(rows: list[dict]) -> None:
    write_correction(load_settings().writeback_path, rows)
    st.session_state["cashapp_saved"] = f"Saved: {rows[0]['action']} of {rows[0]['transaction_id'][:12]}…"
    st.rerun()


def _actions(pay, cands: pd.DataFrame) -> None:
    st.subheader("Decide")
    note = st.text_input("Note (optional)", key="cashapp_note")
    ranks = sorted(cands["suggestion_rank"].unique().tolist()) if len(cands) else []
    accept_col, reject_col = st.columns(2)
    with accept_col:
        if ranks:
            rank = st.selectbox("Suggestion", ranks, key="cashapp_rank", format_func=lambda r: f"#{r}")
            if st.button("Accept suggestion", key="cashapp_accept", type="primary"):
                chosen = cands[cands["suggestion_rank"] == rank]
                lines = [
                    {
                        "suggestion_rank": int(rank),
                        "customer_id": r.customer_id,
                        "item_id": r.invoice_id,
                        "applied_amount": r.applied_amount if r.invoice_id else None,
                        "discount_amount": r.discount_amount if r.invoice_id else None,
                        "deduction_amount": r.deduction_amount if r.invoice_id else None,
                        "deduction_reason": r.deduction_reason if r.invoice_id else None,
                    }
                    for r in chosen.itertuples()
                    if r.application_type in ("invoice", "on_account")
                ]
                _save(_decision_rows("accept", pay, lines, note))
        else:
            st.caption("No suggestion to accept: correct it below.")
    with reject_col:
        if st.button("Reject", key="cashapp_reject"):
            _save(
                _decision_rows(
                    "reject",
                    pay,
                    [{"customer_id": pay.customer_id}] if pay.customer_id else [],
                    note,
                )
            )
    with st.form("cashapp_correct"):
        st.caption("Correct: the customer and the invoice this payment pays (the rest stays on account).")
        customer = st.text_input("Customer", value=pay.customer_id or "", key="cashapp_fix_customer")
        invoice = st.text_input("Invoice", key="cashapp_fix_invoice")
        amount = st.text_input("Amount applied", value=str(pay.received_amount), key="cashapp_fix_amount")
        if st.form_submit_button("Save correction"):
            try:
                applied = Decimal(amount.strip()).quantize(Decimal("0.01"))
            except InvalidOperation:
                st.error(f"'{amount}' is not an amount.")
                return
            if not customer.strip():
                st.error("A correction names the customer the money belongs to.")
                return
            if applied > pay.received_amount or applied < 0:
                st.error(f"The amount must be between 0 and {pay.received_amount}.")
                return
            line = {"customer_id": customer.strip()}
            if invoice.strip():
                line |= {"item_id": invoice.strip(), "applied_amount": applied}
            _save(_decision_rows("correct", pay, [line], note))


def _detail(pay, cands: pd.DataFrame) -> None:
    left, right = st.columns([1, 1.4])
    with left:
        st.subheader("Payment")
        st.markdown(
            "\n".join(
                [
                    f"- **Amount**: {fmt.money(pay.received_amount, pay.currency)} (booked {pay.booking_date})",
                    f"- **Payer on the bank line**: {pay.counterparty_name or fmt.EMPTY}"
                    f" ({pay.counterparty_account or 'no account'})",
                    f"- **Customer identified**: {pay.customer_id or fmt.EMPTY}",
                    f"- **Why in the queue**: {REASON_LABELS.get(pay.exception_reason, pay.exception_reason)}",
                    f"- **Waiting**: {pay.days_in_queue} day(s)",
                ]
            )
        )
        st.markdown("**Remittance**")
        st.code(pay.remittance_text or "(no remittance text on the bank line)", language=None)
        st.caption(
            f"{pay.remittance_document_count} remittance advice(s) linked. {pay.exception_detail or ''}"
        )
    with right:
        st.subheader("Candidates")
        if cands.empty:
            st.info("No candidate: nothing in the open items fits this payment.")
        else:
            st.dataframe(
                pd.DataFrame(
                    {
                        "Rank": cands["suggestion_rank"],
                        "Customer": cands["customer_id"],
                        "Invoice": cands["invoice_id"].fillna(cands["application_type"]),
                        "Applied": [
                            fmt.money(v, c)
                            for v, c in zip(cands["applied_amount"], cands["currency"], strict=True)
                        ],
                        "Discount": [
                            fmt.money(v, c)
                            for v, c in zip(cands["discount_amount"], cands["currency"], strict=True)
                        ],
                        "Deduction": [
                            fmt.money(v, c)
                            for v, c in zip(cands["deduction_amount"], cands["currency"], strict=True)
                        ],
                        "Method": cands["method"],
                        "Confidence": cands["confidence"].map(lambda v: f"{float(v):.3f}"),
                        "Evidence": cands["evidence"],
                    }
                ),
                hide_index=True,
                column_config={"Evidence": st.column_config.TextColumn(width="large")},
            )


def render() -> None:
    source = shared.require_source()
    st.title(TITLE)
    with shared.friendly_errors():
        if not {f"{data.MARTS_SCHEMA}.{m}" for m in CASHAPP_MARTS} <= data.published_tables(source):
            st.info(
                "No cash application has been published yet: put bank statements in `landing/bank/` and "
                "run `make run`."
            )
            return
        kpis = kpi_days(source)
        exceptions = queue(source)
    saved = st.session_state.pop("cashapp_saved", None)
    if saved:
        st.success(saved + " The next run applies it.")
    decided = read_corrections(load_settings().writeback_path)
    # A decision waits for the next run until the queue shows it: an accepted or corrected payment
    # leaves the queue, a rejected one comes back as rejected_by_reviewer (for another decision).
    last = decided.sort_values("decided_at", kind="stable").groupby("transaction_id")["action"].last()
    waiting = exceptions["transaction_id"].map(last).notna() & ~(
        (exceptions["transaction_id"].map(last) == "reject")
        & (exceptions["exception_reason"] == "rejected_by_reviewer")
    )
    pending = exceptions[~waiting]
    if kpis.empty:
        st.info("No bank payment has been applied yet.")
        return
    st.caption(
        f"Run days {kpis['kpi_date'].min()} to {kpis['kpi_date'].max()}; "
        f"{int(waiting.sum()):,} decision(s) waiting for the next run."
    )
    _tiles(kpis, pending)
    _charts(kpis, exceptions)
    st.subheader("Review queue")
    if pending.empty:
        st.success("Nothing waits for review.")
        return
    labels = {r.transaction_id: _label(r) for r in pending.itertuples()}
    tid = st.selectbox("Payment", list(labels), format_func=labels.get, key=PICK_KEY)
    pay = next(pending[pending["transaction_id"] == tid].itertuples())
    with shared.friendly_errors():
        cands = candidates(source, tid)
    _detail(pay, cands)
    _actions(pay, cands)
