"""Payment features of an invoice as of a date, from what was known at the end of that date only.

A *row* is (invoice, as_of). The invoice's own static attributes (amount, dates, terms) are on the
row; everything else is looked up in the history with a knowledge cut at ``as_of``:

- issue rows (``issue_rows``): as_of is the day before the invoice date, so even a payment booked
  on the invoice day itself cannot leak into its own features;
- open rows (``open_rows``/``snapshot_rows``): invoices still open at the end of as_of, for
  re-scoring and for training the model on invoices that are already some days old.

How it stays vectorized. Each kind of fact (a settlement, an invoice falling overdue, a dispute, a
promise outcome, a reminder) is an *event stream*: events sorted by (key, day) with running sums.
The state of a key at day t is the running sum at its last event on or before t, found with one
``numpy.searchsorted`` for all rows at once; a window (t - w, t] is the difference of two such
look-ups. "Open and more than k days past due at t" is not a single running sum, but it is the
difference of two: invoices whose due date + k has passed, minus those of them already closed,
i.e. events at ``due + k + 1`` minus events at ``max(due + k + 1, closed)``. Medians (the baseline
needs the customer's median days late known at the time) come from pandas' grouped expanding and
rolling medians evaluated at each event.

Nothing here loops over rows in Python: the loops are over a fixed list of streams and countries.
"""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ml.calendar import calendar_features
from ml.history import STATIC_INVOICE_COLUMNS, InvoiceHistory

# Days late are clipped to this range everywhere (features, labels, metrics): an invoice paid 120+
# days late or never is "lost" for cash planning, and one outlier must not swamp a customer's mean.
DAYS_LATE_MIN, DAYS_LATE_CAP = -60, 120
OVERDUE_THRESHOLDS = (0, 30, 60, 90)
RESPONSE_OUTCOMES = ("reached", "promise_to_pay", "replied", "dispute_raised")

_EPOCH = np.datetime64("1970-01-01", "D")
_DAY_OFFSET = 1 << 16  # days are shifted into [0, 2^17): 1791..2149 is plenty
_DAY_SPAN = 1 << 17


def to_days(values) -> np.ndarray:
    """Dates (datetime64 / Timestamp / date / NaT) → int64 days since 1970-01-01; NaT → a huge sentinel."""
    arr = np.asarray(pd.to_datetime(pd.Series(values)).to_numpy(dtype="datetime64[D]"))
    out = (arr - _EPOCH).astype("int64")
    out[np.isnat(arr)] = NEVER
    return out


NEVER = np.int64(10**7)  # a day that never comes (about year 29,000)


def as_day(d: dt.date) -> int:
    return int((np.datetime64(d, "D") - _EPOCH).astype("int64"))


class Stream:
    """Events keyed by an integer code, sorted by (key, day), with running sums of their values."""

    def __init__(self, keys: np.ndarray, days: np.ndarray, values: dict[str, np.ndarray] | None = None):
        keep = days < NEVER
        keys, days = keys[keep].astype("int64"), days[keep].astype("int64")
        comp = keys * _DAY_SPAN + (days + _DAY_OFFSET)
        order = np.argsort(comp, kind="stable")
        self.comp = comp[order]
        self.keys = keys[order]
        self.days = days[order]
        self.order = order
        self.keep = keep
        self.cum: dict[str, np.ndarray] = {}
        self.values: dict[str, np.ndarray] = {}
        self.add("n", np.ones(len(keep), dtype="int64"))
        for name, v in (values or {}).items():
            self.add(name, v)

    def add(self, name: str, v: np.ndarray) -> None:
        v = np.asarray(v)[self.keep][self.order]
        self.values[name] = v
        acc = np.cumsum(v, dtype="int64" if v.dtype.kind in "iub" else "float64")
        self.cum[name] = np.concatenate([np.zeros(1, dtype=acc.dtype), acc])

    def bounds(self, qkeys: np.ndarray, qdays: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """[start, end) of each query key's events dated on or before its day."""
        start = np.searchsorted(self.comp, qkeys * _DAY_SPAN, side="left")
        end = np.searchsorted(self.comp, qkeys * _DAY_SPAN + (qdays + _DAY_OFFSET), side="right")
        return start, end

    def total(self, name: str, qkeys: np.ndarray, qdays: np.ndarray) -> np.ndarray:
        start, end = self.bounds(qkeys, qdays)
        c = self.cum[name]
        return c[end] - c[start]

    def window(self, name: str, qkeys: np.ndarray, qdays: np.ndarray, days: int) -> np.ndarray:
        """Sum over events dated in (t - days, t]."""
        return self.total(name, qkeys, qdays) - self.total(name, qkeys, qdays - days)

    def last(self, v: np.ndarray, qkeys: np.ndarray, qdays: np.ndarray, fill=np.nan) -> np.ndarray:
        """Value at the key's last event on or before t (``v`` is aligned with the sorted events)."""
        start, end = self.bounds(qkeys, qdays)
        has = end > start
        out = np.full(len(qkeys), fill, dtype="float64")
        out[has] = v[end[has] - 1]
        return out

    def grouped(self, values: np.ndarray) -> pd.core.groupby.SeriesGroupBy:
        return pd.Series(values).groupby(self.keys, sort=False)


def _div(a, b) -> np.ndarray:
    a = np.asarray(a, dtype="float64")
    b = np.asarray(b, dtype="float64")
    out = np.full(np.broadcast(a, b).shape, np.nan)
    np.divide(a, b, out=out, where=b != 0)
    return out


def _std(n, s, s2) -> np.ndarray:
    mean = _div(s, n)
    var = _div(s2, n) - mean**2
    return np.sqrt(np.clip(var, 0, None))


def _slope(n, sx, sy, sxy, sxx, min_n: int = 4) -> np.ndarray:
    n = np.asarray(n, dtype="float64")
    cov = _div(sxy, n) - _div(sx, n) * _div(sy, n)
    var = _div(sxx, n) - _div(sx, n) ** 2
    out = _div(cov, np.where(var > 1e-9, var, 0))
    out[n < min_n] = np.nan
    return out


# --- rows -----------------------------------------------------------------------------------------------


def _row_frame(inv: pd.DataFrame, as_of: pd.Series, extra: tuple[str, ...]) -> pd.DataFrame:
    cols = list(STATIC_INVOICE_COLUMNS) + [c for c in extra if c in inv.columns]
    rows = inv[cols].copy()
    rows["as_of"] = pd.to_datetime(as_of).astype("datetime64[s]").to_numpy()
    return rows.reset_index(drop=True)


def issue_rows(h: InvoiceHistory, start: dt.date | None = None, end: dt.date | None = None) -> pd.DataFrame:
    """One row per invoice issued in [start, end], as known the day before it was issued."""
    inv = h.invoices
    sel = np.ones(len(inv), dtype=bool)
    if start is not None:
        sel &= inv["invoice_date"] >= pd.Timestamp(start)
    if end is not None:
        sel &= inv["invoice_date"] <= pd.Timestamp(end)
    inv = inv[sel]
    return _row_frame(inv, inv["invoice_date"] - pd.Timedelta(days=1), h.extra_features)


def open_rows(h: InvoiceHistory, as_of: dt.date) -> pd.DataFrame:
    """Invoices issued on or before ``as_of`` and not known to be closed at its end."""
    inv = h.invoices
    t = pd.Timestamp(as_of)
    sel = (inv["invoice_date"] <= t) & ~(inv["closed_known_date"] <= t)
    inv = inv[sel]
    return _row_frame(inv, pd.Series(t, index=inv.index), h.extra_features)


def snapshot_rows(h: InvoiceHistory, dates) -> pd.DataFrame:
    frames = [open_rows(h, d) for d in dates]
    frames = [f for f in frames if len(f)]
    if not frames:
        return open_rows(h, dt.date(1970, 1, 1))
    return pd.concat(frames, ignore_index=True)


# --- the feature frame ----------------------------------------------------------------------------------


@dataclass
class _Codes:
    customer: pd.Index
    invoice: pd.Index
    family: np.ndarray | None  # family code of each customer code; None when no parents are known

    def cust(self, ids) -> np.ndarray:
        return self.customer.get_indexer(pd.Index(ids)).astype("int64")

    def inv(self, ids) -> np.ndarray:
        return self.invoice.get_indexer(pd.Index(ids)).astype("int64")


def _codes(h: InvoiceHistory, rows: pd.DataFrame) -> _Codes:
    cust = pd.Index(pd.unique(np.concatenate([h.invoices["customer_id"].to_numpy(dtype=object),
                                              rows["customer_id"].to_numpy(dtype=object),
                                              h.customers["customer_id"].to_numpy(dtype=object)])))
    inv = pd.Index(pd.unique(np.concatenate([h.invoices["invoice_id"].to_numpy(dtype=object),
                                             rows["invoice_id"].to_numpy(dtype=object)])))
    parent = h.customers.set_index("customer_id")["parent_id"].dropna()
    family = None
    if len(parent):
        fam_ids = pd.Series(cust.to_numpy(dtype=object), index=cust).map(parent)
        fam_ids = fam_ids.fillna(pd.Series(cust.to_numpy(dtype=object), index=cust))
        family = pd.factorize(fam_ids.to_numpy(dtype=object))[0].astype("int64")
    return _Codes(cust, inv, family)


CATEGORICAL_FEATURES = ("segment", "terms_code")


def feature_names(extra: tuple[str, ...] = ()) -> list[str]:
    return list(_BASE_FEATURES) + [f"x_{c}" for c in extra]


_BASE_FEATURES = (
    # customer payment history
    "n_paid", "dl_mean", "dl_std", "dl_median", "dl_median_last10", "dl_ewm", "dl_last", "share_late",
    "share_late30", "share_partial", "dtp_mean", "n_paid_90", "dl_mean_90", "dl_mean_180", "dl_mean_365",
    "share_late30_180", "dl_trend", "dl_slope_180", "trend_extrapolated", "amount_slope", "amount_effect",
    "season_excess", "days_since_paid", "paid_gap_ratio", "pay_wd_mode", "pay_wd_share", "due_to_run_days",
    "month_end_pay_share", "mid_month_pay_share",
    # current exposure
    "open_count", "open_amount_log", "od_count", "od_amount_share", "od_mean_dpd", "od30_count", "od60_count",
    "od90_count", "od30_amount_share", "credit_use", "open_months_billing",
    # billing, disputes, promises, reminders
    "issued_90", "dispute_share_365", "n_deductions", "promises_kept", "promises_broken", "promise_keep_rate",
    "contacts_90", "response_rate",
    # parent (family) level
    "family_dl_mean_180", "family_od30_count",
    # invoice
    "amount_log", "amount_ratio_log2", "terms_days", "discount_pct", "inv_weekday", "inv_month_end", "due_weekday",
    "due_day", "due_month", "due_days_to_month_end", "due_quarter_end", "age_days", "days_to_due",
    "disputed", "days_since_dispute", "deduction", "partially_paid", "promise_days", "promises_on_invoice",
    "broken_on_invoice", "contacts_on_invoice",
    # calendar
    "bdays_to_due", "due_is_business_day", "due_next_bday_offset", "holidays_after_due",
    # customer categoricals
    "segment", "terms_code",
)

TERMS_CODES = {"NET30": 1, "NET45": 2, "NET60": 3, "2/10NET30": 4}
SEGMENT_CODES = {"enterprise": 1, "mid_market": 2, "small_business": 3}


def _clip_dl(x: np.ndarray) -> np.ndarray:
    return np.clip(x, DAYS_LATE_MIN, DAYS_LATE_CAP)


def build_features(h: InvoiceHistory, rows: pd.DataFrame) -> pd.DataFrame:
    """Feature frame aligned with ``rows`` (same order). ``rows`` holds the invoices' static columns
    and ``as_of``; the history is only consulted up to each row's as_of (end of day, inclusive)."""
    inv = h.invoices
    codes = _codes(h, rows)
    n = len(rows)
    t = to_days(rows["as_of"])
    r_cust = codes.cust(rows["customer_id"].to_numpy(dtype=object))
    r_inv = codes.inv(rows["invoice_id"].to_numpy(dtype=object))
    r_inv_day = to_days(rows["invoice_date"])
    r_due_day = to_days(rows["due_date"])
    r_amount = rows["amount_functional_minor"].to_numpy(dtype="float64") / 100.0

    h_cust = codes.cust(inv["customer_id"].to_numpy(dtype=object))
    h_inv = codes.inv(inv["invoice_id"].to_numpy(dtype=object))
    h_inv_day = to_days(inv["invoice_date"])
    h_due_day = to_days(inv["due_date"])
    h_paid_day = to_days(inv["paid_date"])
    h_paid_known = to_days(inv["paid_known_date"])
    h_closed_known = to_days(inv["closed_known_date"])
    h_amount = inv["amount_functional_minor"].to_numpy(dtype="int64")
    is_paid = (inv["resolution"].to_numpy() == "paid") & (h_paid_known < NEVER)

    # Customer-level state is computed once per distinct (customer, as_of) and broadcast to rows.
    pairs = pd.DataFrame({"c": r_cust, "t": t})
    uniq = pairs.drop_duplicates().reset_index(drop=True)
    back = pairs.merge(uniq.reset_index(), on=["c", "t"], how="left")["index"].to_numpy()
    qc, qt = uniq["c"].to_numpy(dtype="int64"), uniq["t"].to_numpy(dtype="int64")
    f: dict[str, np.ndarray] = {}

    # -- invoices issued: billing rate and the customer's usual amount ----------------------------------
    issued = Stream(h_cust, h_inv_day, {"amount": h_amount})
    med_amount = issued.grouped(issued.values["amount"].astype("float64")).rolling(20, min_periods=1).median()
    med_amount = med_amount.to_numpy()
    usual_amount_q = issued.last(med_amount, qc, qt) / 100.0
    f["issued_90"] = issued.window("n", qc, qt, 90).astype("float64")
    billed_365 = issued.window("amount", qc, qt, 365) / 100.0
    n_issued_365 = issued.window("n", qc, qt, 365)

    # amount ratio of each historical invoice against the usual amount known the day before it
    h_usual = issued.last(med_amount, h_cust, h_inv_day - 1) / 100.0
    h_ratio = np.log2(np.clip(_div(h_amount / 100.0, h_usual), 1 / 16, 16))
    h_ratio = np.nan_to_num(h_ratio, nan=0.0)

    # -- settlements: days late and how the customer pays ---------------------------------------------
    dl = _clip_dl(h_paid_day - h_due_day).astype("int64")
    dtp = np.clip(h_paid_day - h_inv_day, 0, 365).astype("int64")
    paid_dates = pd.DatetimeIndex((np.where(is_paid, h_paid_day, 0)).astype("datetime64[D]"))
    wd = np.asarray(paid_dates.weekday)
    dom = np.asarray(paid_dates.day)
    dim = np.asarray(paid_dates.days_in_month)
    u = (h_due_day - 20000) / 30.4  # months, near zero for recent dates: keeps the sums well conditioned
    pv = {
        "dl": dl, "dl2": dl * dl, "late": (dl > 0).astype("int64"), "late30": (dl > 30).astype("int64"),
        "partial": (inv["n_payments"].to_numpy() > 1).astype("int64"), "dtp": dtp,
        "x": h_ratio, "xx": h_ratio * h_ratio, "xy": h_ratio * dl,
        "u": u, "uu": u * u, "uy": u * dl,
        "month_end": (dim - dom <= 2).astype("int64"), "mid_month": ((dom >= 13) & (dom <= 17)).astype("int64"),
    }
    for k in range(7):
        pv[f"wd{k}"] = (wd == k).astype("int64")
    sel = is_paid
    paid = Stream(h_cust[sel], h_paid_known[sel], {k: v[sel] for k, v in pv.items()})
    n_paid = paid.total("n", qc, qt)
    f["n_paid"] = n_paid.astype("float64")
    s_dl = paid.total("dl", qc, qt)
    f["dl_mean"] = _div(s_dl, n_paid)
    f["dl_std"] = _std(n_paid, s_dl, paid.total("dl2", qc, qt))
    f["share_late"] = _div(paid.total("late", qc, qt), n_paid)
    f["share_late30"] = _div(paid.total("late30", qc, qt), n_paid)
    f["share_partial"] = _div(paid.total("partial", qc, qt), n_paid)
    f["dtp_mean"] = _div(paid.total("dtp", qc, qt), n_paid)
    dl_sorted = paid.values["dl"].astype("float64")
    g = paid.grouped(dl_sorted)
    f["dl_median"] = paid.last(g.expanding().median().to_numpy(), qc, qt)
    f["dl_median_last10"] = paid.last(g.rolling(10, min_periods=1).median().to_numpy(), qc, qt)
    f["dl_ewm"] = paid.last(g.ewm(span=5).mean().to_numpy(), qc, qt) if len(dl_sorted) else \
        np.full(len(qc), np.nan)
    f["dl_last"] = paid.last(dl_sorted, qc, qt)
    for w in (90, 180, 365):
        nw = paid.window("n", qc, qt, w)
        f[f"dl_mean_{w}"] = _div(paid.window("dl", qc, qt, w), nw)
        if w == 90:
            f["n_paid_90"] = nw.astype("float64")
        if w == 180:
            f["share_late30_180"] = _div(paid.window("late30", qc, qt, w), nw)
            n180 = nw
    n_prior = paid.window("n", qc, qt - 90, 275)
    f["dl_trend"] = f["dl_mean_90"] - _div(paid.window("dl", qc, qt - 90, 275), n_prior)
    f["dl_slope_180"] = _slope(n180, paid.window("u", qc, qt, 180), paid.window("dl", qc, qt, 180),
                               paid.window("uy", qc, qt, 180), paid.window("uu", qc, qt, 180))
    f["amount_slope"] = _slope(n_paid, paid.total("x", qc, qt), s_dl, paid.total("xy", qc, qt),
                               paid.total("xx", qc, qt), min_n=8)
    last_paid_day = paid.last(paid.days.astype("float64"), qc, qt)
    f["days_since_paid"] = qt - last_paid_day
    paid_365 = paid.window("n", qc, qt, 365)
    f["paid_gap_ratio"] = f["days_since_paid"] * _div(np.maximum(paid_365, 1), 365.0)
    wd_counts = np.stack([paid.total(f"wd{k}", qc, qt) for k in range(7)], axis=1)
    f["pay_wd_mode"] = np.where(n_paid > 0, wd_counts.argmax(axis=1), np.nan)
    f["pay_wd_share"] = _div(wd_counts.max(axis=1), n_paid)
    f["month_end_pay_share"] = _div(paid.total("month_end", qc, qt), n_paid)
    f["mid_month_pay_share"] = _div(paid.total("mid_month", qc, qt), n_paid)

    # -- what is open and overdue now --------------------------------------------------------------------
    open_s = Stream(np.concatenate([h_cust, h_cust]), np.concatenate([h_inv_day, h_closed_known]),
                    {"amount": np.concatenate([h_amount, -h_amount])})
    open_s.add("n", np.concatenate([np.ones(len(h_cust), "int64"), -np.ones(len(h_cust), "int64")]))
    open_count = open_s.total("n", qc, qt)
    open_amount = open_s.total("amount", qc, qt) / 100.0
    f["open_count"] = open_count.astype("float64")
    f["open_amount_log"] = np.log10(np.clip(open_amount, 0, None) + 1)
    od = {}
    for k in OVERDUE_THRESHOLDS:
        od[k] = _overdue_stream(h_cust, h_due_day, h_closed_known, h_amount, k)
    od0_n = od[0].total("n", qc, qt)
    f["od_count"] = od0_n.astype("float64")
    f["od_amount_share"] = _div(od[0].total("amount", qc, qt) / 100.0, open_amount)
    f["od_mean_dpd"] = qt - _div(od[0].total("due", qc, qt), od0_n)
    for k in (30, 60, 90):
        f[f"od{k}_count"] = od[k].total("n", qc, qt).astype("float64")
    f["od30_amount_share"] = _div(od[30].total("amount", qc, qt) / 100.0, open_amount)
    climit = h.customers.set_index("customer_id")["credit_limit_functional_minor"]
    climit = climit.reindex(codes.customer).to_numpy(dtype="float64", na_value=np.nan)[qc] / 100.0
    f["credit_use"] = _div(open_amount, climit)
    f["open_months_billing"] = _div(open_amount, billed_365 / 12.0)

    # -- disputes, promises, reminders ------------------------------------------------------------------
    h_dispute_day = to_days(inv["dispute_date"])
    disp = Stream(h_cust, h_dispute_day, {"ded": inv["is_deduction"].to_numpy().astype("int64")})
    f["dispute_share_365"] = _div(disp.window("n", qc, qt, 365), n_issued_365)
    f["n_deductions"] = disp.total("ded", qc, qt).astype("float64")
    prom = h.promises
    if prom is not None and len(prom):
        p_cust = codes.cust(prom["customer_id"].to_numpy(dtype=object))
        res_day = to_days(prom["resolved_known_date"])
        status = prom["status"].to_numpy()
        resolved = Stream(p_cust, res_day, {"kept": (status == "kept").astype("int64"),
                                            "broken": (status == "broken").astype("int64")})
        kept, broken = resolved.total("kept", qc, qt), resolved.total("broken", qc, qt)
        f["promises_kept"], f["promises_broken"] = kept.astype("float64"), broken.astype("float64")
        f["promise_keep_rate"] = _div(kept, kept + broken)
    else:
        for k in ("promises_kept", "promises_broken", "promise_keep_rate"):
            f[k] = np.full(len(qc), np.nan)
    act = h.activities
    if act is not None and len(act):
        a_cust = codes.cust(act["customer_id"].to_numpy(dtype=object))
        a_day = to_days(act["activity_date"])
        responded = act["outcome"].isin(RESPONSE_OUTCOMES).to_numpy().astype("int64")
        acts = Stream(a_cust, a_day, {"resp": responded})
        f["contacts_90"] = acts.window("n", qc, qt, 90).astype("float64")
        f["response_rate"] = _div(acts.total("resp", qc, qt), acts.total("n", qc, qt))
    else:
        f["contacts_90"] = np.full(len(qc), np.nan)
        f["response_rate"] = np.full(len(qc), np.nan)

    # -- parent level: subsidiaries of one group tend to pay through one treasury -----------------------
    if codes.family is not None:
        h_fam, q_fam = codes.family[h_cust], codes.family[qc]
        fam_paid = Stream(h_fam[sel], h_paid_known[sel], {"dl": dl[sel]})
        f["family_dl_mean_180"] = _div(fam_paid.window("dl", q_fam, qt, 180), fam_paid.window("n", q_fam, qt, 180))
        f["family_od30_count"] = _overdue_stream(h_fam, h_due_day, h_closed_known, h_amount, 30).total(
            "n", q_fam, qt).astype("float64")
    else:
        f["family_dl_mean_180"] = f["dl_mean_180"]
        f["family_od30_count"] = f["od30_count"]

    cust_static = h.customers.set_index("customer_id").reindex(codes.customer)
    f["segment"] = cust_static["segment"].map(SEGMENT_CODES).to_numpy(dtype="float64", na_value=np.nan)[qc]
    cust_terms = cust_static["terms"].map(TERMS_CODES).to_numpy(dtype="float64", na_value=np.nan)[qc]
    country = cust_static["country"].fillna("").astype(str).to_numpy()

    out = pd.DataFrame({k: v[back] for k, v in f.items()})

    # -- invoice level -------------------------------------------------------------------------------------
    out["amount_log"] = np.log10(np.clip(r_amount, 0, None) + 1)
    usual = usual_amount_q[back]
    ratio = np.log2(np.clip(_div(r_amount, usual), 1 / 16, 16))
    out["amount_ratio_log2"] = ratio
    out["amount_effect"] = out["amount_slope"].to_numpy() * np.nan_to_num(ratio)
    out["terms_days"] = (r_due_day - r_inv_day).astype("float64")
    out["discount_pct"] = rows["discount_pct"].to_numpy(dtype="float64")
    inv_dates = pd.DatetimeIndex(r_inv_day.astype("datetime64[D]"))
    due_dates = pd.DatetimeIndex(r_due_day.astype("datetime64[D]"))
    out["inv_weekday"] = np.asarray(inv_dates.weekday, dtype="float64")
    out["inv_month_end"] = (np.asarray(inv_dates.days_in_month) - np.asarray(inv_dates.day) <= 2).astype("float64")
    out["due_weekday"] = np.asarray(due_dates.weekday, dtype="float64")
    out["due_day"] = np.asarray(due_dates.day, dtype="float64")
    out["due_month"] = np.asarray(due_dates.month, dtype="float64")
    out["due_days_to_month_end"] = (np.asarray(due_dates.days_in_month) - np.asarray(due_dates.day)).astype("float64")
    out["due_quarter_end"] = np.isin(np.asarray(due_dates.month), (3, 6, 9, 12)).astype("float64")
    out["age_days"] = (t - r_inv_day + 1).astype("float64")
    out["days_to_due"] = (r_due_day - t).astype("float64")
    out["due_to_run_days"] = np.where(out["pay_wd_share"].to_numpy() >= 0.4,
                                      (out["pay_wd_mode"].to_numpy() - out["due_weekday"].to_numpy()) % 7, np.nan)
    out["trend_extrapolated"] = out["dl_slope_180"].to_numpy() / 30.4 * np.clip(r_due_day - t, 0, None)

    # same season last year: mean days late of invoices due within a month of this due month
    sea_key = h_cust * 12 + (np.asarray(pd.DatetimeIndex(h_due_day.astype("datetime64[D]")).month) - 1)
    sea = Stream(sea_key[sel], h_paid_known[sel], {"dl": dl[sel]})
    rm = np.asarray(due_dates.month) - 1
    sn = np.zeros(n, dtype="float64")
    ss = np.zeros(n, dtype="float64")
    # Only settlements known 9+ months ago count as "last season"; newer ones are just recent history.
    for shift in (-1, 0, 1):
        key = r_cust * 12 + (rm + shift) % 12
        sn += sea.total("n", key, t - 270)
        ss += sea.total("dl", key, t - 270)
    season = _div(ss, sn)
    season[sn < 2] = np.nan
    out["season_excess"] = season - out["dl_mean"].to_numpy()

    # invoice-level facts known at as_of
    r_dispute = _lookup_day(h_inv, h_dispute_day, r_inv, t)
    out["disputed"] = (r_dispute < NEVER).astype("float64")
    out["days_since_dispute"] = np.where(r_dispute < NEVER, t - r_dispute, np.nan)
    ded_day = np.where(inv["is_deduction"].to_numpy(), h_dispute_day, NEVER)
    out["deduction"] = (_lookup_day(h_inv, ded_day, r_inv, t) < NEVER).astype("float64")
    out["partially_paid"] = (_lookup_day(h_inv, to_days(inv["first_paid_known_date"]), r_inv, t) < NEVER).astype(
        "float64")
    if prom is not None and len(prom) and prom["invoice_id"].notna().any():
        p_inv = codes.inv(prom["invoice_id"].fillna("").to_numpy(dtype=object))
        ok = p_inv >= 0
        made = Stream(p_inv[ok], to_days(prom["promise_date"])[ok])
        promised = to_days(prom["promised_date"])[ok][made.order].astype("float64")
        last_promised = made.last(promised, r_inv, t)
        out["promise_days"] = last_promised - t
        out["promises_on_invoice"] = made.total("n", r_inv, t).astype("float64")
        rs = Stream(p_inv[ok], to_days(prom["resolved_known_date"])[ok],
                    {"broken": (prom["status"].to_numpy()[ok] == "broken").astype("int64")})
        out["broken_on_invoice"] = rs.total("broken", r_inv, t).astype("float64")
    else:
        out["promise_days"] = np.nan
        out["promises_on_invoice"] = 0.0
        out["broken_on_invoice"] = 0.0
    if act is not None and len(act) and act["invoice_id"].notna().any():
        a_inv = codes.inv(act["invoice_id"].fillna("").to_numpy(dtype=object))
        ok = a_inv >= 0
        out["contacts_on_invoice"] = Stream(a_inv[ok], to_days(act["activity_date"])[ok]).total(
            "n", r_inv, t).astype("float64")
    else:
        out["contacts_on_invoice"] = 0.0

    cal = calendar_features(r_inv_day, r_due_day, country[r_cust])
    for c in cal.columns:
        out[c] = cal[c].to_numpy()
    terms = rows["terms"].map(TERMS_CODES).to_numpy(dtype="float64", na_value=np.nan)
    out["terms_code"] = np.where(np.isnan(terms), cust_terms[back] if len(back) else terms, terms)
    for c in h.extra_features:
        out[f"x_{c}"] = _extra_feature(rows[c]) if c in rows.columns else np.nan
    return out[feature_names(h.extra_features)]


def _overdue_stream(keys, due_day, closed_known, amount, k: int) -> Stream:
    """Invoices open and more than ``k`` days past due: +1 when due + k passes, -1 when closed after that."""
    start = due_day + k + 1
    stop = np.maximum(start, closed_known)
    s = Stream(np.concatenate([keys, keys]), np.concatenate([start, stop]),
               {"amount": np.concatenate([amount, -amount]), "due": np.concatenate([due_day, -due_day])})
    s.add("n", np.concatenate([np.ones(len(keys), "int64"), -np.ones(len(keys), "int64")]))
    return s


def _lookup_day(h_inv: np.ndarray, h_day: np.ndarray, r_inv: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The invoice's own event day if it happened on or before t, else NEVER."""
    day = np.full(len(r_inv), NEVER, dtype="int64")
    pos = pd.Index(h_inv).get_indexer(r_inv)
    found = pos >= 0
    d = h_day[pos[found]]
    day[found] = np.where(d <= t[found], d, NEVER)
    return day


def _extra_feature(s: pd.Series) -> np.ndarray:
    """A user-mapped column: numbers stay numbers, booleans become 0/1, text becomes a stable code."""
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
        return pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64")
    num = pd.to_numeric(s, errors="coerce")
    if num.notna().sum() >= 0.95 * s.notna().sum() and s.notna().any():
        return num.to_numpy(dtype="float64")
    # A CRC of the text, not its rank among the distinct values: ranks change with the data, so the
    # same category would get another code in another fold or at scoring time.
    return s.fillna("").astype(str).map(lambda v: float(zlib.crc32(v.encode()) % 100003) if v else np.nan).to_numpy()
