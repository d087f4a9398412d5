"""The collectors' daily worklist: the next action for every customer with money overdue, with the reason.

``build_worklist`` is pure (frames in, a frame out) and follows ``collections_strategy.yaml`` (see its
header for the order of the rules and the priority formula). ``worklist_inputs_from_warehouse`` reads
what it needs from the raw ERP tables; ``export_worklists`` writes one CSV and one XLSX per collector.

One row per customer situation (a customer with at least one overdue invoice). Columns: see
``WORKLIST_COLUMNS``. Money is integer minor units: ``*_functional_minor`` in functional currency for
ranking and totals, the e-mail draft in the customer's own currency.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

from ml.collections.cash_forecast import _cdf, _latest, invoice_distributions, open_balances
from ml.collections.contact_log import apply_contacts, read_contacts
from ml.collections.strategy import Strategy

RESPONSES = frozenset({"reached", "promise_to_pay", "dispute_raised", "replied"})
ATTEMPTS = frozenset({"sent", "no_answer", "left_voicemail", "bounced"})
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
RESPONSIVENESS_PRIOR = 5.0  # pseudo-contacts pulling a customer's answer rate toward the portfolio's
WORKLIST_COLUMNS = (
    "as_of_date",
    "worklist_date",
    "collector_id",
    "collector_name",
    "customer_id",
    "customer_name",
    "segment",
    "tier",
    "action",
    "channel",
    "reason",
    "status",
    "rank",
    "scheduled_for",
    "priority",
    "overdue_functional_minor",
    "at_risk_functional_minor",
    "p_contact_changes_outcome",
    "max_days_overdue",
    "overdue_invoices",
    "tone",
    "best_weekday",
    "best_hour",
    "currency",
    "email_to",
    "email_subject",
    "email_body",
)


@dataclass
class WorklistInputs:
    customers: pd.DataFrame  # customer_id, customer_name, segment, collector_id, contact_email, currency
    collectors: pd.DataFrame  # collector_id, collector_name, daily_capacity
    balances: pd.DataFrame  # cash_forecast.open_balances
    promises: pd.DataFrame  # promise_id, customer_id, invoice_id, promised_pay_date, status, resolved_date
    disputes: pd.DataFrame  # dispute_id, customer_id, invoice_id, opened_date, status, disputed_minor
    activities: pd.DataFrame  # customer_id, activity_at (ISO text, customer's offset), activity_type, outcome
    predictions: pd.DataFrame | None = None  # ml.scoring rows (quantiles and probabilities per invoice)
    tiers: pd.DataFrame | None = None  # customer_id, tier (ml.risk)


def next_business_day(d: dt.date) -> dt.date:
    return pd.Timestamp(np.busday_offset(np.datetime64(d, "D"), 1, roll="forward")).date()


def _business_days_after(d: dt.date, k: int) -> dt.date:
    return pd.Timestamp(np.busday_offset(np.datetime64(d, "D"), k, roll="forward")).date()


def contact_profile(activities: pd.DataFrame) -> pd.DataFrame:
    """Per customer: answers, attempts, attempts since the last answer, the last contact day, and the
    weekday and hour (the customer's local time) with the best answer rate on calls."""
    cols = ["answers", "contacts", "unanswered_streak", "last_contact", "best_weekday", "best_hour"]
    if activities.empty:
        return pd.DataFrame(columns=["customer_id", *cols]).set_index("customer_id")
    a = activities[["customer_id", "activity_at", "activity_type", "outcome"]].copy()
    local = pd.to_datetime(a["activity_at"].astype(str).str.slice(0, 19))  # wall clock where the customer is
    a["_day"], a["_wd"], a["_hour"] = local.dt.date, local.dt.dayofweek, local.dt.hour
    a["_answer"] = a["outcome"].isin(RESPONSES)
    a = a.sort_values(["customer_id", "activity_at"], kind="stable").reset_index(drop=True)
    g = a.groupby("customer_id", sort=True)
    out = pd.DataFrame(
        {"answers": g["_answer"].sum().astype(int), "contacts": g.size(), "last_contact": g["_day"].max()}
    )
    # answers at or after each row; zero means the row came after the customer's last answer
    later = a["_answer"][::-1].groupby(a["customer_id"][::-1]).cumsum()[::-1]
    # only dunning attempts count as unanswered reminders (an invoice copy sent is not one)
    unanswered = (later == 0) & a["outcome"].isin(ATTEMPTS)
    out["unanswered_streak"] = unanswered.groupby(a["customer_id"]).sum().astype(int)
    out["best_weekday"] = _best_slot(a, "_wd")
    out["best_hour"] = _best_slot(a, "_hour")
    few = out["answers"] < 2
    out.loc[few, ["best_weekday", "best_hour"]] = np.nan
    return out[cols]


def _best_slot(a: pd.DataFrame, col: str) -> pd.Series:
    """Per customer, the weekday (or hour) with the best answer rate on calls, smoothed: collectors call
    at their own times, so the slot answered most often may just be the slot called most often."""
    calls = a[a["activity_type"] == "call"]
    if calls.empty:
        return pd.Series(dtype="float64")
    by = calls.groupby(["customer_id", col])["_answer"].agg(["sum", "count"]).reset_index()
    by["rate"] = (by["sum"] + 1) / (by["count"] + 3)  # one answer in three calls a priori
    best = by.sort_values(["customer_id", "rate", col], ascending=[True, False, True]).drop_duplicates(
        "customer_id"
    )
    return best.set_index("customer_id")[col].astype("float64")


def _fmt(minor: int) -> str:
    return f"{Decimal(int(minor)).scaleb(-2):,.2f}"


_TABLE_HEADER = f"{'Invoice':<14}{'Date':<12}{'Due':<12}{'Open':>14}  Days overdue"


def _invoice_lines(inv: pd.DataFrame, as_of: dt.date) -> list[str]:
    """One e-mail table line per row of ``inv``, in its order (formatted once for all customers)."""
    due = pd.to_datetime(inv["due_date"])
    days = np.maximum((pd.Timestamp(as_of) - due).dt.days.to_numpy(), 0)
    issued = pd.to_datetime(inv["invoice_date"]).dt.strftime("%Y-%m-%d")
    return [
        f"{i:<14}{d:<12}{u:<12}{_fmt(m):>14}  {n}"
        for i, d, u, m, n in zip(
            inv["invoice_id"], issued, due.dt.strftime("%Y-%m-%d"), inv["open_minor"], days, strict=True
        )
    ]


def draft_email(
    strategy: Strategy,
    template: str,
    tone: str,
    *,
    customer_name: str,
    collector_name: str,
    currency: str,
    total_minor: int,
    table: str,
    as_of: dt.date,
) -> tuple[str, str]:
    t = strategy.templates[template][tone]
    fill = {
        "customer_name": customer_name,
        "contact_greeting": f"Dear {customer_name} accounts payable team,",
        "collector_name": collector_name,
        "total": _fmt(total_minor),
        "currency": currency,
        "invoice_table": table,
        "as_of": as_of.isoformat(),
    }
    return t["subject"].format(**fill), t["body"].format(**fill)


def _expected_shares(
    balances: pd.DataFrame, predictions: pd.DataFrame | None, as_of: dt.date, days: tuple[int, ...]
):
    """Per invoice: the probability it is paid within each of ``days`` days (from the payment model)."""
    if predictions is None or predictions.empty:
        return {d: np.zeros(len(balances)) for d in days}
    dist = invoice_distributions(balances, predictions, None, as_of)
    cdf = _cdf(dist.knots, dist.levels, np.array(days, dtype="float64"))
    return {d: cdf[:, i] for i, d in enumerate(days)}


def _spans(customer_ids: pd.Series) -> dict:
    """customer -> (start, stop) of its rows in a frame sorted by customer."""
    ids = customer_ids.to_numpy()
    if not len(ids):
        return {}
    cut = np.flatnonzero(ids[1:] != ids[:-1]) + 1
    starts = np.concatenate([[0], cut])
    stops = np.concatenate([cut, [len(ids)]])
    return {ids[a]: (a, b) for a, b in zip(starts, stops, strict=True)}


def _situations(overdue: pd.DataFrame, open_disputes: pd.DataFrame) -> pd.DataFrame:
    """Per customer with money overdue, the sums the rules read, computed in one pass over all invoices
    (a loop over customers' sub-frames cost ~25 s at 9,400 customers)."""
    cust = overdue["customer_id"]
    f = overdue["open_functional_minor"]
    g = overdue.groupby("customer_id", sort=True)
    out = pd.DataFrame(
        {
            "max_days": g["days_overdue"].max().astype(int),
            "overdue_f": g["open_functional_minor"].sum().astype("int64"),
            "overdue_minor": g["open_minor"].sum().astype("int64"),
            "soon_f": (f * overdue["p_soon"]).groupby(cust).sum(),
            "at_risk": (f * (1 - overdue["p_30"])).groupby(cust).sum(),
            "currency": g["currency"].first() if "currency" in overdue else None,
            "invoices": g["invoice_id"].agg(" ".join),
        }
    )
    # open disputes count only on the customer's overdue invoices
    on_overdue = open_disputes.merge(
        overdue[["customer_id", "invoice_id"]].drop_duplicates(), on=["customer_id", "invoice_id"]
    )
    d = on_overdue.groupby("customer_id")
    out["disputes"] = d.size().reindex(out.index).fillna(0).astype(int)
    out["disputed"] = d["disputed_minor"].sum().reindex(out.index).fillna(0).astype("int64")
    out["oldest_dispute"] = d["opened_date"].min().reindex(out.index)
    return out


def build_worklist(inputs: WorklistInputs, strategy: Strategy, as_of: dt.date) -> pd.DataFrame:
    """Next action, reason, priority and schedule for every customer with money overdue at ``as_of``."""
    s = strategy
    bal = inputs.balances.copy()
    bal["due_date"] = pd.to_datetime(bal["due_date"])
    bal["days_overdue"] = (pd.Timestamp(as_of) - bal["due_date"]).dt.days
    shares = _expected_shares(bal, inputs.predictions, as_of, (s.postpone_within_days, 30))
    bal["p_soon"] = shares[s.postpone_within_days]
    bal["p_30"] = shares[30]
    # customer, then the order invoices are listed in (e-mails and the worklist's invoice list)
    bal = bal.sort_values(["customer_id", "due_date", "invoice_id"], kind="stable").reset_index(drop=True)
    is_overdue = (bal["days_overdue"] > 0).to_numpy()
    if not is_overdue.any():
        return pd.DataFrame(columns=list(WORKLIST_COLUMNS))
    overdue = bal[is_overdue].reset_index(drop=True)

    customers = {
        r["customer_id"]: r
        for r in inputs.customers.drop_duplicates("customer_id", keep="last").to_dict("records")
    }
    collectors = inputs.collectors.set_index("collector_id")
    collector_names = collectors["collector_name"].to_dict()
    tiers = (
        dict(zip(inputs.tiers["customer_id"], inputs.tiers["tier"], strict=True))
        if inputs.tiers is not None
        else {}
    )
    profile = contact_profile(inputs.activities)
    answer_rate_all = (
        (profile["answers"].sum() + 1) / (profile["contacts"].sum() + 2) if len(profile) else 0.5
    )
    profiles = dict(zip(profile.index, profile.itertuples(index=False), strict=True))

    pr = inputs.promises.copy()
    for c in ("promised_pay_date", "resolved_date"):
        if c in pr:
            pr[c] = pd.to_datetime(pr[c])
    t = pd.Timestamp(as_of)
    pending = pr[
        (pr["status"] == "open") & (pr["promised_pay_date"] + pd.Timedelta(days=s.promise_grace_days) >= t)
    ]
    broken = pr[pr["status"] == "broken"]
    broken_recent = broken[broken["resolved_date"] >= t - pd.Timedelta(days=s.broken_promise_within_days)]
    broken_year = broken[broken["resolved_date"] >= t - pd.Timedelta(days=365)]
    first_pending = pending.groupby("customer_id")["promised_pay_date"].min().to_dict()
    last_broken = broken_recent.groupby("customer_id")["resolved_date"].max().to_dict()
    broken_year_n = broken_year.groupby("customer_id").size().to_dict()
    ds = inputs.disputes.copy()
    ds["opened_date"] = pd.to_datetime(ds["opened_date"])
    situations = _situations(overdue, ds[ds["status"] == "open"])

    # e-mail tables: one line per invoice, formatted once; a customer's lines are a slice
    overdue_lines, all_lines = _invoice_lines(overdue, as_of), None
    overdue_spans, all_spans = _spans(overdue["customer_id"]), _spans(bal["customer_id"])

    work_day = next_business_day(as_of)
    rows = []
    for cid, sit in zip(situations.index, situations.itertuples(index=False), strict=True):
        c = customers.get(cid, {})
        segment = c.get("segment")
        tier = tiers.get(cid, "normal")
        tier = tier if tier in s.urgency else "normal"
        max_days, overdue_f = int(sit.max_days), int(sit.overdue_f)
        soon_share = float(sit.soon_f / max(overdue_f, 1))
        at_risk = int(round(float(sit.at_risk)))
        prof = profiles.get(cid)
        answers, contacts = (int(prof.answers), int(prof.contacts)) if prof is not None else (0, 0)
        streak = int(prof.unanswered_streak) if prof is not None else 0
        last_contact = prof.last_contact if prof is not None else None
        responsiveness = (answers + RESPONSIVENESS_PRIOR * answer_rate_all) / (
            contacts + RESPONSIVENESS_PRIOR
        )
        relative = float(np.clip(responsiveness / answer_rate_all, 0.25, 2.0))

        disputed = int(sit.disputed)
        level = s.level_for(segment, max_days)
        action, channel, template = None, None, None
        if cid in first_pending:
            action, reason = "postpone", f"promise to pay pending, due {first_pending[cid].date()}"
        elif soon_share >= s.postpone_min_share:
            action = "postpone"
            reason = f"payment predicted within {s.postpone_within_days} days ({soon_share:.0%} of the overdue amount)"
        elif last_contact is not None and (work_day - last_contact).days < s.min_days_between_contacts:
            # counted from the day the list is worked: a Friday call makes Monday's list, not Tuesday's
            action, reason = (
                "wait",
                f"last contact {last_contact} ({(work_day - last_contact).days} day(s) before)",
            )
        elif disputed >= s.dispute_min_share * int(sit.overdue_minor) and disputed > 0:
            age = (t - sit.oldest_dispute).days
            if age >= s.dispute_follow_up_after_days:
                action, channel = "dispute_follow_up", "phone"
                reason = f"{sit.disputes} open dispute(s), oldest {age} days, {disputed / max(int(sit.overdue_minor), 1):.0%} of overdue"
            else:
                action, reason = "wait", f"dispute opened {age} day(s) ago, under review"
        elif cid in last_broken:
            action, channel = "escalation", "phone"
            reason = f"promise to pay broken on {last_broken[cid].date()}"
        elif streak >= s.unanswered_reminders and level is not None:
            action, channel = "escalation", "phone"
            reason = f"no response after {streak} reminders"
        elif level is None:
            action, reason = (
                "wait",
                f"{max_days} day(s) overdue; first reminder at {s.levels(segment)[0].min_days_overdue}",
            )
        else:
            action, channel, template = level.action, level.channel, level.template
            reason = f"{max_days} days overdue: level {s.levels(segment).index(level) + 1} ({level.action})"
        firm = (
            tier in s.firm_tiers
            or max_days >= s.firm_days_overdue
            or int(broken_year_n.get(cid, 0)) >= s.firm_after_broken_promises
            or streak >= s.unanswered_reminders
        )
        tone = "firm" if firm else "friendly"
        actionable = action not in ("postpone", "wait")
        p_change = min(1.0, s.action_effect[action] * relative) if actionable else 0.0
        priority = at_risk / 100 * p_change * s.urgency[tier] if actionable else 0.0
        col_id = c.get("collector_id")
        col_name = collector_names.get(col_id) if col_id in collector_names else None
        subject = body = None
        currency = c.get("currency") or sit.currency
        if actionable and template:
            if action == "statement":  # the whole account, not only what is overdue
                if all_lines is None:
                    all_lines = _invoice_lines(bal, as_of)
                (a, b), lines = all_spans[cid], all_lines
            else:
                (a, b), lines = overdue_spans[cid], overdue_lines
            subject, body = draft_email(
                s,
                template,
                tone,
                customer_name=str(c.get("customer_name", cid)),
                collector_name=str(col_name or "Accounts Receivable"),
                currency=str(currency),
                total_minor=int(sit.overdue_minor),  # every template calls {total} the amount overdue
                table="\n".join([_TABLE_HEADER, *lines[a:b]]),
                as_of=as_of,
            )
        best_wd = prof.best_weekday if prof is not None else None
        best_hr = prof.best_hour if prof is not None else None
        rows.append(
            {
                "customer_id": cid,
                "customer_name": c.get("customer_name"),
                "segment": segment,
                "tier": tier,
                "collector_id": col_id,
                "collector_name": col_name,
                "action": action,
                "channel": channel,
                "reason": reason,
                "priority": round(priority, 2),
                "overdue_functional_minor": overdue_f,
                "at_risk_functional_minor": at_risk,
                "p_contact_changes_outcome": round(p_change, 4),
                "max_days_overdue": max_days,
                "overdue_invoices": sit.invoices,
                "tone": tone,
                "best_weekday": WEEKDAY_NAMES[int(best_wd)]
                if best_wd is not None and pd.notna(best_wd)
                else None,
                "best_hour": int(best_hr) if best_hr is not None and pd.notna(best_hr) else None,
                "currency": currency,
                "email_to": c.get("contact_email"),
                "email_subject": subject,
                "email_body": body,
            }
        )
    wl = pd.DataFrame(rows)
    return schedule(wl, collectors, strategy, as_of)


def schedule(wl: pd.DataFrame, collectors: pd.DataFrame, strategy: Strategy, as_of: dt.date) -> pd.DataFrame:
    """Rank each collector's actionable items by priority and fill the next work day up to capacity;
    what does not fit rolls over to the following work days, visibly (status ``rolled_over``)."""
    day = next_business_day(as_of)
    wl = wl.sort_values(
        ["collector_id", "priority", "customer_id"], ascending=[True, False, True], kind="stable"
    )
    wl["as_of_date"], wl["worklist_date"] = as_of, day
    wl["rank"], wl["status"], wl["scheduled_for"] = pd.NA, None, None
    actionable = ~wl["action"].isin(["postpone", "wait"])
    wl.loc[~actionable, "status"] = np.where(
        wl.loc[~actionable, "action"] == "postpone", "postponed", "waiting"
    )
    for col_id, idx in wl[actionable].groupby("collector_id", dropna=False).groups.items():
        cap = collectors["daily_capacity"].get(col_id) if col_id in collectors.index else None
        cap = (
            int(cap)
            if cap is not None and pd.notna(cap) and int(cap) > 0
            else strategy.default_daily_capacity
        )
        for rank, i in enumerate(idx, 1):
            k = (rank - 1) // cap
            wl.at[i, "rank"] = rank
            wl.at[i, "status"] = "today" if k == 0 else "rolled_over"
            wl.at[i, "scheduled_for"] = _business_days_after(day, k)
    wl["rank"] = wl["rank"].astype("Int64")
    return wl[list(WORKLIST_COLUMNS)].reset_index(drop=True)


# --- warehouse ---------------------------------------------------------------------------------------


def worklist_inputs_from_warehouse(
    con,
    as_of: dt.date,
    predictions: pd.DataFrame | None = None,
    tiers: pd.DataFrame | None = None,
    writeback_path: Path | None = None,
) -> WorklistInputs:
    """What ``build_worklist`` needs, as known at ``as_of``; with ``writeback_path``, the call outcomes
    and promises collectors logged in the app (``ml.collections.contact_log``) are added."""
    a = f"date '{as_of.isoformat()}'"
    customers = con.execute(
        f"select customer_id, customer_name, segment, collector_id, contact_email, currency "
        f"from {_latest('erp_customers', 'customer_id', as_of)}"
    ).df()
    if customers.empty:  # snapshots dated after as-of only (a world starts with one): take the earliest
        customers = con.execute(
            "select customer_id, customer_name, segment, collector_id, contact_email, currency from raw.erp_customers "
            "qualify row_number() over (partition by customer_id order by _extract_date, _row_number desc) = 1"
        ).df()
    collectors = con.execute(
        "select collector_id, collector_name, daily_capacity from raw.erp_collectors "
        "qualify row_number() over (partition by collector_id order by _extract_date desc, _row_number desc) = 1"
    ).df()
    promises = con.execute(
        f"""
        with v as (select * from raw.erp_promises_to_pay where _extract_date <= {a}),
        latest as (select * from v qualify row_number() over (partition by promise_id
                   order by _extract_date desc, _loaded_at desc, _row_number desc) = 1),
        res as (select promise_id, min(_extract_date) as resolved_date from v where status <> 'open' group by 1)
        select latest.promise_id, latest.customer_id, latest.invoice_id, latest.promise_date, latest.promised_pay_date,
               cast(round(latest.promised_amount * 100) as bigint) as promised_minor, latest.status, res.resolved_date
        from latest left join res using (promise_id)
        """
    ).df()
    disputes = con.execute(
        f"""select dispute_id, customer_id, invoice_id, opened_date, status, reason_code,
                   cast(round(disputed_amount * 100) as bigint) as disputed_minor
            from {_latest("erp_disputes", "dispute_id", as_of, f"opened_date <= {a}")}"""
    ).df()
    activities = con.execute(
        f"""select customer_id, cast(activity_at as varchar) as activity_at_utc, activity_type, outcome,
                   _source_file
            from {_latest("erp_collection_activities", "activity_id", as_of)}"""
    ).df()
    activities = _with_local_time(con, activities, as_of)
    promises, activities = apply_contacts(promises, activities, read_contacts(writeback_path), as_of)
    return WorklistInputs(
        customers, collectors, open_balances(con, as_of), promises, disputes, activities, predictions, tiers
    )


# The ERP stores contact times as UTC instants; the hour a customer answers is a local-time habit. The
# customer master has a country, not a time zone: each country's main zone stands in (a gap for the US
# and Canada, which span several; their hours may be off by up to three).
COUNTRY_TIMEZONES = {
    "US": "America/New_York",
    "CA": "America/Toronto",
    "GB": "Europe/London",
    "IE": "Europe/Dublin",
    "DE": "Europe/Berlin",
    "FR": "Europe/Paris",
    "NL": "Europe/Amsterdam",
    "IT": "Europe/Rome",
    "ES": "Europe/Madrid",
}


def _with_local_time(con, activities: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """``activity_at`` as the customer's local wall-clock time (ISO text without offset)."""
    countries = (
        con.execute("select customer_id, any_value(country) as country from raw.erp_customers group by 1")
        .df()
        .set_index("customer_id")["country"]
    )
    out = activities.drop(columns="_source_file").copy()
    utc = pd.to_datetime(out.pop("activity_at_utc"), utc=True)
    tz = out["customer_id"].map(countries).map(COUNTRY_TIMEZONES).fillna("UTC")
    local = pd.Series(index=out.index, dtype=object)
    for zone, idx in tz.groupby(tz).groups.items():
        local[idx] = utc[idx].dt.tz_convert(zone).dt.strftime("%Y-%m-%dT%H:%M:%S")
    out["activity_at"] = local
    return out
