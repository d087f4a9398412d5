"""Customer risk: tier and score, early warnings against the customer's own past, credit reviews.

Three questions, each answered from the customer-level state (``features.customer_features``) and,
for the score, the payment model's predictions of the customer's open invoices:

1. **Early warning — is this customer paying worse than it used to?** ("same history, different
   trajectory"). Three signals, each compared with the customer's own baseline (its median days
   late over the year before the last 90 days, and the spread around it):
   - *paying later*: the plain settlements of the last 90 days (one payment, no dispute, no
     discount) run later than the habit known when each invoice was issued — on average by a robust
     z of 1+ with z·sqrt(n) >= 3, and by 5+ days — two weeks running; unless the same quarter last
     year was just as late (seasonal payers are late every summer: that is their habit, not a change);
   - *aging*: the invoices open and overdue now are, on average, further past due than the
     customer's usual lateness plus a margin (what a customer that stopped paying looks like
     before any late settlement exists to measure);
   - *stopped paying*: nothing received for three times the customer's usual gap between
     payments while invoices are overdue.
   Each alert carries its evidence as sentences with the numbers.
2. **Tier and score (0-100)** — points for the amount expected to be paid 30+ days late relative to
   the customer's size (40), for the trajectory (35: days worse than its own baseline, 30 days
   earns all) and for severity (25: share of the open balance already 60+ days past due). Critical:
   score >= 60, or an alert with something 90+ days past due; high: score >= 35 or any alert.
3. **Credit review** — the limit a customer needs is what it carries in steady state (monthly
   billing x its days to pay / 30), scaled by tier (headroom for good payers, less for risky ones),
   rounded up to whole thousands. Categories: ``hold`` (critical: no new credit), ``reduce`` (high
   risk and a limit well above its need), ``increase`` (normal risk, using 60%+ of a limit below its
   need), ``maintain`` (the current limit stands). The priority orders the review queue: tier,
   then category, then the amount expected 30+ days late.

Money leaves this module as integer minor units (functional currency), never float.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

import numpy as np
import pandas as pd

from ml.features import FeatureContext, customer_features
from ml.history import InvoiceHistory

TIERS = ("critical", "high", "normal")
CATEGORIES = ("hold", "reduce", "increase", "maintain")


@dataclass(frozen=True)
class WarningRules:
    """Thresholds of the three signals, chosen on the default simulated world (300 customers, two
    years): there they alert 21 of the 30 slowly deteriorating customers, two thirds of them before
    they pay 30 days later than they used to, and 2.5% of the weeks of customers that did not change."""

    z: float = 1.0  # mean robust z of recent plain settlements against the customer's habit ...
    z_stat: float = 3.0  # ... and that mean times sqrt(n): two settlements need a bigger shift than ten
    min_shift_days: float = 5.0  # ... and at least this much later on average than its usual median
    min_recent: int = 2
    aging_margin_days: float = 20.0
    aging_spreads: float = 3.0
    gap_ratio: float = 3.0
    min_gap_days: float = 45.0
    persist_days: int = 14  # paying-later and aging must already hold this many days earlier


def _signals(cf: pd.DataFrame, rules: WarningRules) -> dict[str, np.ndarray]:
    base = cf["baseline_median"].to_numpy(dtype="float64")
    base_std = np.nan_to_num(cf["baseline_std"].to_numpy(dtype="float64"), nan=0.0)
    has_base = (cf["baseline_n"].to_numpy(dtype="float64") >= 5) & ~np.isnan(base)
    z = cf["recent_z"].to_numpy(dtype="float64")
    zn = cf["recent_z_n"].to_numpy(dtype="float64")
    zy = cf["last_year_z"].to_numpy(dtype="float64")
    zyn = cf["last_year_z_n"].to_numpy(dtype="float64")
    seasonal = (zyn >= 2) & (zy >= 0.6 * rules.z)
    shift = cf["recent_mean"].to_numpy(dtype="float64") - base
    paying_later = (
        (zn >= rules.min_recent)
        & (z >= rules.z)
        & (z * np.sqrt(zn) >= rules.z_stat)
        & ~seasonal
        & (shift >= rules.min_shift_days)
    )
    od_n = cf["od_count"].to_numpy(dtype="float64")
    od_dpd = cf["od_mean_dpd"].to_numpy(dtype="float64")
    # days past due cannot be negative: a customer that usually pays 20 days early (a discount
    # taker) is "usually 0 days past due", not -20, when its invoices age
    usual = np.where(has_base, np.maximum(base, 0.0), 0.0)
    aging = (od_n >= 2) & (
        od_dpd > usual + np.maximum(rules.aging_margin_days, rules.aging_spreads * base_std)
    )
    gap = cf["days_since_paid"].to_numpy(dtype="float64")
    ratio = cf["paid_gap_ratio"].to_numpy(dtype="float64")
    stopped = (od_n >= 2) & (ratio >= rules.gap_ratio) & (gap >= rules.min_gap_days)
    return {
        "paying_later": paying_later,
        "aging": aging,
        "stopped_paying": stopped,
        "seasonal": seasonal & (zn >= 2),
        "usual": usual,
        "has_base": has_base,
    }


def early_warnings(
    cf: pd.DataFrame, rules: WarningRules = WarningRules(), previous: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Alert flags, the shift against the customer's own past and the evidence, per row of ``cf``.

    ``previous``: the same customers ``rules.persist_days`` earlier; when given, the paying-later and
    aging signals must hold then too (one late settlement or one slow week is not a trajectory).
    """
    sig = _signals(cf, rules)
    paying_later, aging, stopped = sig["paying_later"], sig["aging"], sig["stopped_paying"]
    if previous is not None:
        before = _signals(previous, rules)
        paying_later = paying_later & before["paying_later"]
        aging = aging & (before["aging"] | before["stopped_paying"])
    base = cf["baseline_median"].to_numpy(dtype="float64")
    base_std = np.nan_to_num(cf["baseline_std"].to_numpy(dtype="float64"), nan=0.0)
    base_n = cf["baseline_n"].to_numpy(dtype="float64")
    rec = cf["recent_mean"].to_numpy(dtype="float64")
    rec_n = cf["recent_n"].to_numpy(dtype="float64")
    z = cf["recent_z"].to_numpy(dtype="float64")
    od_n = cf["od_count"].to_numpy(dtype="float64")
    od_dpd = cf["od_mean_dpd"].to_numpy(dtype="float64")
    gap = cf["days_since_paid"].to_numpy(dtype="float64")
    ratio = cf["paid_gap_ratio"].to_numpy(dtype="float64")
    usual = sig["usual"]
    # How much worse than its own past: the larger of what recent settlements and what the invoices
    # overdue now show (either may be unmeasurable, e.g. no settlement in 90 days).
    shift = np.fmax(
        np.where(sig["has_base"] & (rec_n >= rules.min_recent), rec - base, np.nan),
        np.where(od_n >= 2, od_dpd - usual, np.nan),
    )
    out = pd.DataFrame(
        {
            "customer_id": cf["customer_id"].to_numpy(),
            "as_of_day": cf["as_of_day"].to_numpy(),
            "alert": paying_later | aging | stopped,
            "paying_later": paying_later,
            "aging": aging,
            "stopped_paying": stopped,
            "seasonal_as_last_year": sig["seasonal"],
            "shift_days": shift,
        }
    )
    evidence = []
    for i in range(len(out)):  # sentence formatting only, for the rows that alert
        if not out["alert"].iat[i]:
            evidence.append(None)
            continue
        items = []
        if paying_later[i]:
            items.append(
                f"paid {int(rec_n[i])} invoices in the last 90 days at {rec[i]:+.0f} days late on average "
                f"against its usual {base[i]:+.0f} (spread {base_std[i]:.0f} days over {int(base_n[i])} "
                f"invoices the year before); undisputed single payments run {z[i]:.1f} spreads later "
                "than its habit"
            )
        if aging[i]:
            items.append(
                f"{int(od_n[i])} open invoices are {od_dpd[i]:.0f} days past due on average, against a "
                f"usual lateness of {usual[i]:+.0f} days"
            )
        if stopped[i]:
            items.append(
                f"no payment received for {gap[i]:.0f} days (about {ratio[i]:.1f}x its usual gap) "
                f"while {int(od_n[i])} invoices are overdue"
            )
        evidence.append(json.dumps(items))
    out["evidence"] = pd.Series(evidence, dtype=object, index=out.index)
    return out


def alert_timeline(
    h: InvoiceHistory,
    start: dt.date,
    end: dt.date,
    every_days: int = 7,
    rules: WarningRules = WarningRules(),
    ctx: FeatureContext | None = None,
) -> pd.DataFrame:
    """Early warnings for every customer every ``every_days`` between start and end (point in time)."""
    ctx = ctx or FeatureContext(h)
    dates = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq=f"{every_days}D")
    ids = h.customers["customer_id"].to_numpy(dtype=object)
    all_ids = np.tile(ids, len(dates))
    all_dates = pd.Series(np.repeat(dates.to_numpy(), len(ids)))
    cf = customer_features(h, all_ids, all_dates, ctx)
    prev = customer_features(h, all_ids, all_dates - pd.Timedelta(days=rules.persist_days), ctx)
    w = early_warnings(cf, rules, previous=prev)
    w["as_of"] = all_dates.to_numpy()
    return w


def first_alerts(timeline: pd.DataFrame) -> pd.DataFrame:
    alerted = timeline[timeline["alert"]]
    first = alerted.sort_values("as_of").groupby("customer_id", as_index=False).first()
    return first[["customer_id", "as_of", "shift_days", "evidence"]].rename(columns={"as_of": "first_alert"})


def warning_lead_times(
    timeline: pd.DataFrame, truth: pd.DataFrame, *, slide_days: float = 30.0
) -> pd.DataFrame:
    """Compare alerts with a simulated world's truth (``ground_truth/customers.csv`` columns).

    For a ``slow_deteriorating`` customer the slide starts at ``deterioration_start`` and we call it
    *serious* when the intended delay is ``slide_days`` worse than before (start + slide_days /
    rate months); for a ``sudden_default`` the event is ``default_date``. ``lead_days`` = event -
    first alert on or after the start of the trouble (positive: the alert came first);
    ``detection_days`` = first alert - start of the trouble. Alerts before the trouble started are
    counted separately as ``alerts_before_start`` (they cannot be about it).
    """
    t = truth.copy()
    t["start"] = pd.to_datetime(t["deterioration_start"]).fillna(pd.to_datetime(t["default_date"]))
    rate = pd.to_numeric(t["deterioration_days_per_month"], errors="coerce")
    t["event"] = np.where(
        t["archetype"].eq("slow_deteriorating"),
        t["start"] + pd.to_timedelta((slide_days / rate * 30.4).fillna(0).round(), unit="D"),
        pd.to_datetime(t["default_date"]),
    )
    t = t[t["archetype"].isin(["slow_deteriorating", "sudden_default"])]
    alerts = timeline.loc[timeline["alert"], ["customer_id", "as_of"]]
    m = alerts.merge(t[["customer_id", "start"]], on="customer_id")
    after = (
        m[m["as_of"] >= m["start"]].groupby("customer_id")["as_of"].min().rename("first_alert_after_start")
    )
    before = m[m["as_of"] < m["start"]].groupby("customer_id")["as_of"].count().rename("alerts_before_start")
    out = (
        t[["customer_id", "archetype", "start", "event"]]
        .merge(after, on="customer_id", how="left")
        .merge(before, on="customer_id", how="left")
    )
    out["alerts_before_start"] = out["alerts_before_start"].fillna(0).astype(int)
    out["lead_days"] = (pd.to_datetime(out["event"]) - out["first_alert_after_start"]).dt.days
    out["detection_days"] = (out["first_alert_after_start"] - out["start"]).dt.days
    return out


# --- tier and score -------------------------------------------------------------------------------------


def customer_risk(
    h: InvoiceHistory,
    as_of: dt.date,
    predictions: pd.DataFrame | None,
    rules: WarningRules = WarningRules(),
    ctx: FeatureContext | None = None,
) -> pd.DataFrame:
    """One row per customer at the end of ``as_of``: tier, score, trend, alert, reasons, drivers.

    ``predictions`` are the payment model's rows for the open invoices (``scoring.score_open_invoices``):
    customer_id, amount_functional_minor, p_late_over_30, p50_days_late and drivers (JSON).
    """
    ids = h.customers["customer_id"].to_numpy(dtype=object)
    ctx = ctx or FeatureContext(h)
    cf = customer_features(h, ids, as_of, ctx)
    prev = customer_features(h, ids, as_of - dt.timedelta(days=rules.persist_days), ctx)
    w = early_warnings(cf, rules, previous=prev)
    out = pd.DataFrame({"customer_id": ids, "as_of_date": pd.Timestamp(as_of)})
    open_amount = cf["open_amount"].to_numpy()
    size = np.fmax(
        np.nan_to_num(cf["credit_limit"].to_numpy(), nan=0.0),
        np.nan_to_num(cf["billed_365"].to_numpy(), nan=0.0) / 12.0,
    )
    size = np.maximum(size, 1.0)

    exp_late = np.zeros(len(ids))
    exp_days = np.full(len(ids), np.nan)
    drivers: list[str | None] = [None] * len(ids)
    if predictions is not None and len(predictions):
        p = predictions
        amount = p["amount_functional_minor"].to_numpy(dtype="float64") / 100.0
        by = (
            pd.DataFrame(
                {
                    "c": p["customer_id"].to_numpy(),
                    "late": amount * p["p_late_over_30"].to_numpy(),
                    "w": amount,
                    "wd": amount * p["p50_days_late"].to_numpy(),
                }
            )
            .groupby("c")
            .sum()
        )
        idx = pd.Index(ids)
        pos = idx.get_indexer(by.index)
        ok = pos >= 0
        exp_late[pos[ok]] = by["late"].to_numpy()[ok]
        exp_days[pos[ok]] = (by["wd"] / by["w"].where(by["w"] > 0)).to_numpy()[ok]
        if "drivers" in p:
            drivers = customer_drivers(p, ids)

    exposure_pts = 40 * np.clip(exp_late / size, 0, 1)
    shift = np.nan_to_num(w["shift_days"].to_numpy(dtype="float64"), nan=0.0)
    trajectory_pts = 35 * np.clip(shift / 30.0, 0, 1)
    severity = np.nan_to_num(
        cf["od60_amount"].to_numpy() / np.where(open_amount > 0, open_amount, np.nan), nan=0.0
    )
    severity_pts = 25 * np.clip(severity * 2, 0, 1)
    score = exposure_pts + trajectory_pts + severity_pts
    alert = w["alert"].to_numpy()
    od90 = cf["od90_amount"].to_numpy() > 0
    tier = np.where(
        (score >= 60) | (alert & od90), "critical", np.where((score >= 35) | alert, "high", "normal")
    )

    out["tier"] = tier
    out["score"] = np.round(score, 1)
    out["trend"] = np.where(shift > 5, "worsening", np.where(shift < -5, "improving", "stable"))
    out["shift_days"] = np.round(w["shift_days"].to_numpy(dtype="float64"), 1)
    out["alert"] = alert
    out["alert_signals"] = [
        ",".join(s for s, f in (("paying_later", a), ("aging", b), ("stopped_paying", c)) if f) or None
        for a, b, c in zip(w["paying_later"], w["aging"], w["stopped_paying"], strict=True)
    ]
    out["open_amount_minor"] = _minor(open_amount)
    out["overdue_amount_minor"] = _minor(cf["od_amount"].to_numpy())
    out["expected_late_30_amount_minor"] = _minor(exp_late)
    out["expected_days_late"] = np.round(exp_days, 1)
    out["baseline_days_late"] = np.round(cf["baseline_median"].to_numpy(dtype="float64"), 1)
    out["recent_days_late"] = np.round(cf["recent_mean"].to_numpy(dtype="float64"), 1)
    out["score_components"] = [
        json.dumps(
            {"exposure": round(float(a), 1), "trajectory": round(float(b), 1), "severity": round(float(c), 1)}
        )
        for a, b, c in zip(exposure_pts, trajectory_pts, severity_pts, strict=True)
    ]
    out["reasons"] = _reasons(w, exp_late, size, severity)
    out["drivers"] = drivers
    out.attrs["customer_features"] = cf
    return out


def _minor(x: np.ndarray) -> np.ndarray:
    return np.round(np.nan_to_num(np.asarray(x, dtype="float64"), nan=0.0) * 100).astype("int64")


def _reasons(w: pd.DataFrame, exp_late: np.ndarray, size: np.ndarray, severity: np.ndarray) -> list[str]:
    out = []
    for i in range(len(w)):
        ev = w["evidence"].iat[i]
        items = json.loads(ev) if isinstance(ev, str) else []
        if exp_late[i] > 0 and exp_late[i] / size[i] >= 0.2:
            items.append(
                f"{exp_late[i] / size[i]:.0%} of its credit size is expected to be paid 30+ days late"
            )
        if severity[i] >= 0.1:
            items.append(f"{severity[i]:.0%} of the open balance is 60+ days past due")
        out.append(json.dumps(items))
    return out


def customer_drivers(p: pd.DataFrame, ids: np.ndarray, top: int = 3) -> list[str | None]:
    """Amount-weighted sum of the invoices' SHAP drivers (in days late) per customer, top three."""
    recs = []
    amount = p["amount_functional_minor"].to_numpy(dtype="float64")
    for c, a, d in zip(p["customer_id"].to_numpy(), amount, p["drivers"].to_numpy(), strict=True):
        # past ``max_explained`` rows an invoice has no drivers: None, or NaN once pandas has aligned it
        if isinstance(d, str) and d:
            for item in json.loads(d):
                recs.append((c, item["feature"], a * item["effect_days"], a))
    if not recs:
        return [None] * len(ids)
    df = pd.DataFrame(recs, columns=["c", "feature", "we", "w"])
    agg = df.groupby(["c", "feature"])["we"].sum().reset_index()
    agg["effect_days"] = agg["we"] / agg["c"].map(p.groupby("customer_id")["amount_functional_minor"].sum())
    agg["abs"] = agg["effect_days"].abs()
    agg = agg.sort_values(["c", "abs"], ascending=[True, False]).groupby("c").head(top)
    by_c = {
        c: json.dumps(
            [
                {"feature": f, "effect_days": round(float(e), 2)}
                for f, e in zip(g["feature"], g["effect_days"], strict=True)
            ]
        )
        for c, g in agg.groupby("c")
    }
    return [by_c.get(c) for c in ids]


# --- credit review ----------------------------------------------------------------------------------------

_TIER_FACTOR = {"normal": Decimal("1.25"), "high": Decimal("0.9"), "critical": Decimal("0.5")}
_LIMIT_STEP_MINOR = 100_000  # recommendations in whole thousands of the functional currency


def credit_reviews(risk: pd.DataFrame) -> pd.DataFrame:
    """Category, recommended limit (minor units), reasons and priority (1 = first) per customer."""
    cf = risk.attrs.get("customer_features")
    if cf is None:
        raise ValueError(
            "credit_reviews needs the frame returned by customer_risk (it carries the customer state)"
        )
    billed = np.nan_to_num(cf["billed_365"].to_numpy(dtype="float64"), nan=0.0)
    dtp = cf["dtp_mean"].to_numpy(dtype="float64")
    exp_days = risk["expected_days_late"].to_numpy(dtype="float64")
    terms = 30.0
    days_to_pay = np.where(np.isnan(dtp), terms + np.nan_to_num(exp_days, nan=0.0), dtp)
    days_to_pay = np.maximum(days_to_pay, 30.0)
    current = cf["credit_limit"].to_numpy(dtype="float64")
    credit_use = cf["credit_use"].to_numpy(dtype="float64")
    # Columns taken out once: every column lookup on ``risk`` deep-copies its attrs (the customer
    # state), which inside this loop cost 15 s at 15,000 customers.
    tiers = risk["tier"].tolist()
    all_reasons = risk["reasons"].tolist()
    rows = []
    for i in range(len(risk)):
        tier = tiers[i]
        # Steady-state balance: a month of billing stays open for (days to pay / 30) months.
        need = Decimal(str(round(billed[i] / 12.0 * days_to_pay[i] / 30.0, 2)))
        rec_minor = (
            int((need * 100 * _TIER_FACTOR[tier] / _LIMIT_STEP_MINOR).to_integral_value(ROUND_CEILING))
            * _LIMIT_STEP_MINOR
        )
        cur_minor = None if np.isnan(current[i]) else int(round(current[i] * 100))
        reasons = json.loads(all_reasons[i])
        if tier == "critical":
            category = "hold"
            if cur_minor is not None:
                rec_minor = min(rec_minor, cur_minor)
            reasons.insert(0, "critical risk: stop new credit until the overdue balance is collected")
        elif tier == "high" and cur_minor is not None and rec_minor < cur_minor * 0.9:
            # only risky customers are cut back: an unused limit of a good payer costs nothing
            category = "reduce"
            reasons.insert(
                0,
                f"needs about {rec_minor / 100:,.0f} of credit at its billing and payment pace, "
                f"has {cur_minor / 100:,.0f}",
            )
        elif (
            tier == "normal"
            and cur_minor is not None
            and rec_minor > cur_minor * 1.1
            and credit_use[i] >= 0.6
        ):
            category = "increase"
            reasons.insert(
                0,
                f"pays as usual and uses {credit_use[i]:.0%} of its limit; its billing "
                f"needs about {rec_minor / 100:,.0f}",
            )
        else:
            category = "maintain"
            if cur_minor is not None:
                rec_minor = cur_minor
        rows.append((category, rec_minor, cur_minor, json.dumps(reasons)))
    out = pd.DataFrame(
        rows, columns=["category", "recommended_limit_minor", "current_limit_minor", "reasons"]
    )
    out.insert(0, "customer_id", risk["customer_id"].to_numpy())
    out.insert(1, "as_of_date", risk["as_of_date"].to_numpy())
    out["tier"] = risk["tier"].to_numpy()
    out["score"] = risk["score"].to_numpy()
    out["expected_late_30_amount_minor"] = risk["expected_late_30_amount_minor"].to_numpy()
    out["current_limit_minor"] = out["current_limit_minor"].astype("Int64")
    out["needs_review"] = out["category"] != "maintain"
    order = out.assign(
        _tier=out["tier"].map({t: i for i, t in enumerate(TIERS)}),
        _cat=out["category"].map({c: i for i, c in enumerate(CATEGORIES)}),
    ).sort_values(
        ["_tier", "_cat", "expected_late_30_amount_minor", "score"], ascending=[True, True, False, False]
    )
    out.loc[order.index, "priority"] = np.arange(1, len(out) + 1)
    out["priority"] = out["priority"].astype("int64")
    return out.sort_values("priority", ignore_index=True)
