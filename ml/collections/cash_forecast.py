"""Cash collection forecast: when the open receivables turn into cash, day by day for 13 weeks.

Inputs at the end of an as-of day: the open balance of every invoice (``open_balances``), the payment
model's P10/P50/P90 days late per invoice (``ml.scoring``), and the pending promises to pay
(``open_promises``). Output in functional currency, integer minor units:

- **most likely**: the expected cash per day. Each invoice's pay date follows a piecewise-linear
  distribution through its P10/P50/P90 (10 % of the mass on each outer tail, spread over the width of
  the neighbouring inner interval); a quantile at the model's cap (120 days late) means "not in the
  horizon" and its mass never arrives. A pending promise moves the customer's historical keep rate
  of the covered amount onto the promised date (plus up to two days for the money to land) and the
  rest after the promise's grace period.
- **low / high**: the 10th and 90th percentiles of simulated totals (``DRAWS`` Monte Carlo draws of
  every invoice's pay date from the same distributions). Invoices of one customer move together
  (correlation ``CUSTOMER_CORRELATION``): a customer's payment run pays several invoices at once, and
  treating them as independent would make the band far too narrow.

Cash lands on bank business days of the invoice's currency (weekends and the bank holidays of the Fed,
TARGET2 or England roll forward). Every daily figure is an integer number of cents; weekly, 30/60/90-day
and horizon totals are exact integer sums of the daily figures (so they add up to the cent).
The forecast covers the open AR only: invoices not yet issued are not in it (see the backtest's note).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache

import holidays
import numpy as np
import pandas as pd

from ingestion.erp_contracts import FUNCTIONAL_CURRENCY

HORIZON_DAYS = 91  # 13 weeks
WEEKS = 13
PERIODS = (30, 60, 90)
CAP_DAYS_LATE = 120  # the payment model's cap: a quantile there is "not paid within the horizon"
DRAWS = 400
CUSTOMER_CORRELATION = 0.8
# A share of the timing error is common to all customers (a slow month, a holiday season): without it
# the band of a total of hundreds of invoices would shrink to nothing.
GLOBAL_SHARE = 0.25
PROMISE_GRACE_DAYS = 3  # the ERP's promise check allows three days for the money to arrive
PROMISE_PRIOR_KEEP = (
    0.6  # keep rate of a customer without promise history (pulled toward by 3 pseudo-promises)
)
PROMISE_PRIOR_WEIGHT = 3.0


# --- warehouse reads --------------------------------------------------------------------------------


def _latest(table: str, key: str, as_of: dt.date, where: str = "") -> str:
    cond = f"_extract_date <= date '{as_of.isoformat()}'" + (f" and ({where})" if where else "")
    return (
        f"(select * from raw.{table} where {cond} qualify row_number() over "
        f"(partition by {key} order by _extract_date desc, _loaded_at desc, _row_number desc) = 1)"
    )


def open_balances(con, as_of: dt.date) -> pd.DataFrame:
    """Open cash balance of every invoice at the end of ``as_of``: amount less cash and discounts
    applied, credits applied and deductions taken (a deduction does not come as cash), in transaction
    currency and in functional currency at the as-of rate (exact decimal arithmetic, rounded to the cent)."""
    a = f"date '{as_of.isoformat()}'"
    return con.execute(
        f"""
        with inv as {_latest("erp_invoices", "invoice_id", as_of, f"invoice_date <= {a}")},
        app as {_latest("erp_payment_applications", "application_id", as_of, f"applied_date <= {a}")},
        cm as {_latest("erp_credit_memos", "credit_memo_id", as_of, f"credit_date <= {a} and applied_invoice_id is not null")},
        dsp as {_latest("erp_disputes", "dispute_id", as_of, f"opened_date <= {a} and is_deduction = 'true'")},
        fx as (select currency, arg_max(rate_to_functional, rate_date) as rate
               from {_latest("erp_fx_rates", "rate_date, currency", as_of, f"rate_date <= {a}")} group by currency),
        settled as (
            select invoice_id, sum(applied_amount + discount_amount) as amt from app group by invoice_id
            union all select applied_invoice_id, sum(amount) from cm group by applied_invoice_id
            union all select invoice_id, sum(disputed_amount) from dsp group by invoice_id
        ),
        s as (select invoice_id, sum(amt) as settled from settled group by invoice_id),
        bal as (
            select inv.invoice_id, inv.customer_id, inv.currency, inv.invoice_date, inv.due_date,
                   inv.amount - coalesce(s.settled, 0) as open_amount,
                   coalesce(fx.rate, case when inv.currency = '{FUNCTIONAL_CURRENCY}' then 1 end) as rate
            from inv left join s using (invoice_id) left join fx using (currency)
        )
        select invoice_id, customer_id, currency, invoice_date, due_date,
               cast(round(open_amount * 100) as bigint) as open_minor,
               cast(round(cast(open_amount as decimal(38, 10)) * rate * 100) as bigint) as open_functional_minor,
               cast(rate as varchar) as fx_rate
        from bal where open_amount > 0
        order by invoice_id
        """
    ).df()


def open_promises(con, as_of: dt.date) -> pd.DataFrame:
    """Promises still pending at the end of ``as_of`` whose grace period has not run out, with the
    customer's keep rate from the promises resolved by then (smoothed toward ``PROMISE_PRIOR_KEEP``)."""
    a = f"date '{as_of.isoformat()}'"
    p = con.execute(
        f"""
        with v as {_latest("erp_promises_to_pay", "promise_id", as_of)},
        hist as (
            select customer_id, count(*) filter (where status = 'kept') as kept,
                   count(*) filter (where status in ('kept', 'broken')) as resolved
            from v group by customer_id
        )
        select v.promise_id, v.customer_id, v.invoice_id, v.promise_date, v.promised_pay_date, v.currency,
               cast(round(v.promised_amount * 100) as bigint) as promised_minor,
               coalesce(h.kept, 0) as kept, coalesce(h.resolved, 0) as resolved
        from v left join hist h using (customer_id)
        where v.status = 'open' and v.promised_pay_date + interval {PROMISE_GRACE_DAYS} day > {a}
        order by v.promised_pay_date, v.promise_id
        """
    ).df()
    p["keep_rate"] = (p["kept"] + PROMISE_PRIOR_KEEP * PROMISE_PRIOR_WEIGHT) / (
        p["resolved"] + PROMISE_PRIOR_WEIGHT
    )
    return p


def cash_received(con, as_of: dt.date, horizon_days: int = HORIZON_DAYS) -> pd.DataFrame:
    """What really came (for the backtest and forecast-vs-actual): cash applied to the invoices open
    at ``as_of``, by receipt date in the horizon, converted at the as-of rate (so the comparison
    measures timing, not FX moves). Applications known at any time count: reading a past day."""
    a = f"date '{as_of.isoformat()}'"
    end = f"date '{(as_of + dt.timedelta(days=horizon_days)).isoformat()}'"
    open_now = open_balances(con, as_of)[["invoice_id", "fx_rate"]]
    con.register("_collect_open_now", open_now)
    try:
        return con.execute(
            f"""
            with app as (select * from raw.erp_payment_applications
                         qualify row_number() over (partition by application_id
                                                    order by _extract_date desc, _loaded_at desc, _row_number desc) = 1),
            pay as (select * from raw.erp_payments
                    qualify row_number() over (partition by payment_id
                                               order by _extract_date desc, _loaded_at desc, _row_number desc) = 1)
            select pay.payment_date as day,
                   sum(cast(round(cast(app.applied_amount as decimal(38, 10)) * cast(o.fx_rate as decimal(18, 8)) * 100)
                            as bigint)) as cash_minor
            from app join pay using (payment_id) join _collect_open_now o using (invoice_id)
            where pay.payment_date > {a} and pay.payment_date <= {end}
            group by 1 order by 1
            """
        ).df()
    finally:
        con.unregister("_collect_open_now")


# --- the distributions ------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _bank_holidays(currency: str, first_year: int, last_year: int) -> tuple[np.datetime64, ...]:
    years = range(first_year, last_year + 1)
    if currency == "EUR":
        h = holidays.financial_holidays("XECB", years=years)  # TARGET2 closing days
    elif currency == "GBP":
        h = holidays.country_holidays("GB", subdiv="ENG", years=years)
    else:
        h = holidays.country_holidays("US", years=years)  # Fed holidays ≈ US federal holidays
    return tuple(np.datetime64(d, "D") for d in sorted(h))


def _landing_offsets(as_of: dt.date, currencies: np.ndarray, horizon: int) -> np.ndarray:
    """For each currency row and each calendar offset 0..horizon+10: the offset cash lands on
    (rolled forward to a bank business day of that currency)."""
    base = np.datetime64(as_of, "D")
    days = base + np.arange(horizon + 11)
    out = np.empty((len(currencies), len(days)), dtype=np.int64)
    cache: dict[str, np.ndarray] = {}
    for i, cur in enumerate(currencies):
        if cur not in cache:
            hol = np.array(_bank_holidays(cur, as_of.year, as_of.year + 1), dtype="datetime64[D]")
            rolled = np.busday_offset(days, 0, roll="forward", holidays=hol)
            # past the grid's end is past the horizon anyway: the last cell collects it
            cache[cur] = np.minimum((rolled - base).astype(np.int64), len(days) - 1)
        out[i] = cache[cur]
    return out


@dataclass
class InvoiceDistributions:
    """Per invoice: a piecewise-linear CDF of the pay date, as knots (offsets from as-of, in days) and
    the CDF values (levels) at them. Mass above the last level never arrives in the horizon."""

    invoice_id: np.ndarray
    customer_id: np.ndarray
    currency: np.ndarray
    amount_minor: np.ndarray  # open, functional currency
    knots: np.ndarray  # (n, K) ascending; inf past the last point
    levels: np.ndarray  # (n, K) non-decreasing CDF values at the knots
    promise_minor: np.ndarray  # part of the amount covered by a pending promise
    promise_offset: np.ndarray  # offset of the promised date (nan: none)
    keep_rate: np.ndarray


QUANTILE_POINTS = (("p10_days_late", 0.1), ("p50_days_late", 0.5), ("p90_days_late", 0.9))
PROBABILITY_POINTS = (
    ("p_paid_by_due", 0),
    ("p_paid_within_30", 30),
    ("p_paid_within_60", 60),
    ("p_paid_within_90", 90),
)


def invoice_distributions(
    balances: pd.DataFrame, predictions: pd.DataFrame, promises: pd.DataFrame | None, as_of: dt.date
) -> InvoiceDistributions:
    """Join balances to the model's predictions and the promises, and build each invoice's CDF.

    The CDF passes through the quantile points (P10 at .1, P50 at .5, P90 at .9) and the classifier
    points (paid by due, within 30/60/90 days late): on the default world the classifiers are well
    calibrated (predicted 0.43 / 0.74 / 0.85 of the amount paid within 30/60/90 days late, actual 0.41
    / 0.75 / 0.84) while the P90 sits at the 120-day cap for most invoices, so the classifiers carry the
    upper tail and the quantiles the shape inside the first month. Where the two disagree, the levels are
    made monotone by averaging the running maximum and the reversed running minimum. A quantile at the
    cap, or raised to the as-of floor of an overdue invoice, says nothing about the date and is left out.
    An open invoice without a prediction (issued today, or not scored) pays around its due date.
    """
    cols = ["invoice_id"] + [c for c, _ in QUANTILE_POINTS + PROBABILITY_POINTS if c in predictions.columns]
    b = balances.merge(predictions[cols], on="invoice_id", how="left")
    n = len(b)
    due = (pd.to_datetime(b["due_date"]) - pd.Timestamp(as_of)).dt.days.to_numpy(dtype="float64")
    floor_late = 1.0 - due  # days late of a payment tomorrow
    xs, ys = [], []
    for col, level in QUANTILE_POINTS:
        q = b[col].to_numpy(dtype="float64", copy=True) if col in b else np.full(n, np.nan)
        ok = np.isfinite(q) & (q < CAP_DAYS_LATE) & (q > floor_late + 0.5)
        xs.append(np.where(ok, q, np.nan))
        ys.append(np.full(n, level))
    for col, edge in PROBABILITY_POINTS:
        pr = b[col].to_numpy(dtype="float64", copy=True) if col in b else np.full(n, np.nan)
        ok = np.isfinite(pr) & (edge >= floor_late)
        xs.append(np.where(ok, float(edge), np.nan))
        ys.append(pr)
    x, y = np.column_stack(xs), np.column_stack(ys)
    unscored = (
        np.isnan(x).all(axis=1) & (floor_late < CAP_DAYS_LATE) & b[cols[1:2]].isna().all(axis=1).to_numpy()
    )
    x[unscored, :3] = [-3.0, 0.0, 10.0]  # around the due date
    order = np.argsort(np.where(np.isnan(x), np.inf, x), axis=1, kind="stable")
    x = np.take_along_axis(x, order, axis=1)
    y = np.take_along_axis(y, order, axis=1)
    valid = ~np.isnan(x)
    y = np.clip(y, 0, 1)
    up = np.fmax.accumulate(np.where(valid, y, -np.inf), axis=1)
    down = np.fmin.accumulate(np.where(valid, y, np.inf)[:, ::-1], axis=1)[:, ::-1]
    y = np.where(valid, (up + np.minimum(down, up)) / 2, np.nan)
    # the lower tail starts one gap (at least 3 days) before the first point, and not before tomorrow
    gap = np.nan_to_num(x[:, 1] - x[:, 0], nan=7.0)
    start = np.maximum(x[:, 0] - np.maximum(gap, 3.0), floor_late - 0.5)
    x = np.column_stack([start, x])
    y = np.column_stack([np.zeros(n), y])
    valid = ~np.isnan(x)
    past = floor_late >= CAP_DAYS_LATE  # beyond the cap already: not forecast
    knots = np.where(valid, due[:, None] + x, np.inf)
    knots[past] = np.inf
    levels = np.fmax.accumulate(np.where(valid, y, -1.0), axis=1)  # past the last point: flat
    levels[past] = 0.0
    knots = np.maximum(knots, 0.5)  # mass before tomorrow lands tomorrow
    knots = np.maximum.accumulate(knots, axis=1)

    promise_minor = np.zeros(n, dtype=np.int64)
    promise_offset = np.full(n, np.nan)
    keep = np.zeros(n)
    if promises is not None and len(promises):
        promise_minor, promise_offset, keep = _allocate_promises(b, promises, as_of)
    return InvoiceDistributions(
        invoice_id=b["invoice_id"].to_numpy(dtype=object),
        customer_id=b["customer_id"].to_numpy(dtype=object),
        currency=b["currency"].to_numpy(dtype=object),
        amount_minor=b["open_functional_minor"].to_numpy(dtype=np.int64),
        knots=knots,
        levels=levels,
        promise_minor=promise_minor,
        promise_offset=promise_offset,
        keep_rate=keep,
    )


def _allocate_promises(b: pd.DataFrame, promises: pd.DataFrame, as_of: dt.date):
    """A promise names an invoice or only the account; an account-level promise covers the customer's
    oldest open invoices up to the promised amount (the way AP departments pay down a statement)."""
    n = len(b)
    covered = np.zeros(n, dtype=np.int64)  # transaction currency minor units
    offset = np.full(n, np.nan)
    keep = np.zeros(n)
    pos = {inv: i for i, inv in enumerate(b["invoice_id"])}
    by_customer = (
        b.assign(_i=np.arange(n))
        .sort_values(["due_date", "invoice_id"])
        .groupby("customer_id")["_i"]
        .apply(list)
        .to_dict()
    )
    for p in promises.itertuples(index=False):
        left = int(p.promised_minor)
        targets = (
            [pos[p.invoice_id]]
            if isinstance(p.invoice_id, str) and p.invoice_id in pos
            else by_customer.get(p.customer_id, [])
        )
        o = (pd.Timestamp(p.promised_pay_date) - pd.Timestamp(as_of)).days
        for i in targets:
            room = int(b["open_minor"].iat[i]) - covered[i]
            if left <= 0 or room <= 0:
                continue
            take = min(room, left)
            covered[i] += take
            left -= take
            offset[i] = max(o, 1) if np.isnan(offset[i]) else min(offset[i], max(o, 1))
            keep[i] = p.keep_rate
    # covered amounts in functional currency: the invoice's own rate, proportionally, to the cent
    share = np.where(b["open_minor"].to_numpy() > 0, covered / np.maximum(b["open_minor"].to_numpy(), 1), 0.0)
    promise_functional = np.rint(share * b["open_functional_minor"].to_numpy()).astype(np.int64)
    return promise_functional, offset, keep


def _cdf(knots: np.ndarray, levels: np.ndarray, t: np.ndarray) -> np.ndarray:
    """CDF of each row's piecewise-linear distribution at offsets ``t`` (vectorized over rows and t)."""
    t = t[None, :]
    out = np.zeros((knots.shape[0], t.shape[1]))
    for k in range(knots.shape[1] - 1):
        a, b = knots[:, k : k + 1], knots[:, k + 1 : k + 2]
        mass = np.maximum(levels[:, k + 1 : k + 2] - levels[:, k : k + 1], 0.0)
        finite = np.isfinite(a) & np.isfinite(b)
        with np.errstate(invalid="ignore"):
            width = np.where(finite, np.maximum(b - a, 1e-9), 1.0)
        out += np.where(finite, mass * np.clip((t - a) / width, 0.0, 1.0), 0.0)
    # a first level above 0 is a point mass at the first knot
    a0 = knots[:, :1]
    out += np.where(np.isfinite(a0) & (t >= a0), np.maximum(levels[:, :1], 0.0), 0.0)
    return out


def _quantile(knots: np.ndarray, levels: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse CDF: the offset at probability ``u`` (rows × draws); inf above the last level."""
    out = np.where(u <= levels[:, :1], knots[:, :1], np.inf)
    for k in range(knots.shape[1] - 1):
        lo, hi = levels[:, k : k + 1], levels[:, k + 1 : k + 2]
        a, b = knots[:, k : k + 1], knots[:, k + 1 : k + 2]
        inside = (u > lo) & (u <= hi) & np.isfinite(b)
        frac = (u - lo) / np.where(hi > lo, hi - lo, 1.0)
        with np.errstate(invalid="ignore"):
            out = np.where(inside, a + frac * (b - a), out)
    return out


def _with_floor(knots: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """The distribution with the mass before ``floor`` moved to ``floor`` (a broken promise: cash after the grace)."""
    f = np.where(np.isnan(floor), -np.inf, floor)[:, None]
    return np.maximum(knots, f)


# --- payment-run profiles ---------------------------------------------------------------------------

RUN_WINDOW_DAYS = 10  # how far a payment run moves a date: weekly runs ±3 days, month-end runs up to ±10
RUN_MIN_PAYMENTS = 4  # fewer receipts than this in the lookback: no profile, the model's dates stand
RUN_LOOKBACK_DAYS = 365
# Weights squared: a run day seen in most receipts should win over its neighbours more than the raw
# shares say (chosen on two origins of the default world, 2026-07-10 and 2026-08-21: weekly WAPE 25.7 %
# at 1, 23.8 % at 2; the other origins of the backtest were not used to choose it).
RUN_SHARPNESS = 2.0
_DOM_EDGES = np.array([3, 9, 16, 24, 28, 31])  # day-of-month bins: 1-3, 4-9, 10-16, 17-24, 25-28, 29-31
_DOM_SHARE = np.array([3, 6, 7, 8, 4, 2.44]) / 30.44  # share of calendar days in each bin


def _dom_bin(day_of_month: np.ndarray) -> np.ndarray:
    return np.searchsorted(_DOM_EDGES, day_of_month, side="left")


@dataclass
class RunProfiles:
    """When each customer's money arrives: receipts by weekday and by part of the month.

    The payment model predicts how late an invoice is paid, and its distribution is smooth over days;
    real payers pay in runs (every Thursday, the 15th and the month end, the last business day), so the
    cash of a week depends on whether a run falls in it. Each invoice's expected cash is moved within
    ``RUN_WINDOW_DAYS`` toward the days its customer has paid on (weights: weekday share × part-of-month
    share, each against its share of days, Laplace-smoothed), which keeps the total and fixes the timing.
    """

    customer_id: np.ndarray
    weekday_counts: np.ndarray  # (n, 7)
    dom_counts: np.ndarray  # (n, 6)

    @classmethod
    def empty(cls) -> RunProfiles:
        return cls(np.array([], dtype=object), np.zeros((0, 7)), np.zeros((0, 6)))

    @classmethod
    def from_payments(cls, payments: pd.DataFrame, as_of: dt.date, lookback_days: int = RUN_LOOKBACK_DAYS):
        """``payments``: customer_id, payment_date (one row per receipt)."""
        t = pd.Timestamp(as_of)
        p = payments[
            (pd.to_datetime(payments["payment_date"]) <= t)
            & (pd.to_datetime(payments["payment_date"]) > t - pd.Timedelta(days=lookback_days))
        ]
        dates = pd.to_datetime(p["payment_date"])
        ids, codes = np.unique(p["customer_id"].astype(str).to_numpy(), return_inverse=True)
        wd = np.zeros((len(ids), 7))
        dom = np.zeros((len(ids), 6))
        np.add.at(wd, (codes, dates.dt.dayofweek.to_numpy()), 1)
        np.add.at(dom, (codes, _dom_bin(dates.dt.day.to_numpy())), 1)
        return cls(ids.astype(object), wd, dom)

    @classmethod
    def from_warehouse(cls, con, as_of: dt.date) -> RunProfiles:
        p = con.execute(
            f"select customer_id, payment_date from {_latest('erp_payments', 'payment_id', as_of)} "
            f"where payment_date <= date '{as_of.isoformat()}'"
        ).df()
        return cls.from_payments(p, as_of)

    def day_weights(self, customer_ids: np.ndarray, as_of: dt.date, G: int) -> np.ndarray:
        """(n_c, G) relative weight of each offset 0..G-1 as a pay day; 1 everywhere without a profile."""
        days = pd.date_range(pd.Timestamp(as_of), periods=G, freq="D")
        wd_of, dom_of = days.dayofweek.to_numpy(), _dom_bin(days.day.to_numpy())
        pos = pd.Index(self.customer_id).get_indexer(customer_ids)
        w = np.ones((len(customer_ids), G))
        have = pos >= 0
        if have.any():
            wd = self.weekday_counts[pos[have]]
            dom = self.dom_counts[pos[have]]
            n = wd.sum(axis=1, keepdims=True)
            wd_ratio = (wd + 0.5) / (n + 3.5) * 7  # Laplace, half a receipt per weekday
            dom_ratio = (dom + 0.5) / (n + 3.0) / _DOM_SHARE
            ww = wd_ratio[:, wd_of] * dom_ratio[:, dom_of]
            w[have] = np.where(n >= RUN_MIN_PAYMENTS, ww**RUN_SHARPNESS, 1.0)
        return w

    def kernels(self, customer_ids: np.ndarray, as_of: dt.date, G: int) -> np.ndarray | None:
        """(n_c, G, G): column j spreads a unit of cash planned on day j over the days i near it,
        in proportion to the customer's day weights (columns sum to 1: no cash is created or lost)."""
        if len(self.customer_id) == 0 or len(customer_ids) == 0:
            return None
        w = self.day_weights(customer_ids, as_of, G)
        idx = np.arange(G)
        near = np.abs(idx[:, None] - idx[None, :]) <= RUN_WINDOW_DAYS
        tri = np.where(near, 1.0 - np.abs(idx[:, None] - idx[None, :]) / (RUN_WINDOW_DAYS + 1), 0.0)
        k = tri[None, :, :] * w[:, :, None]
        k[:, 0, :] = 0.0  # nothing lands on as-of itself: the invoices are open at its end
        return k / np.maximum(k.sum(axis=1, keepdims=True), 1e-12)


# --- the forecast -----------------------------------------------------------------------------------


@dataclass
class CashForecast:
    as_of: dt.date
    daily: pd.DataFrame  # day, low_minor, expected_minor, high_minor
    weekly: pd.DataFrame  # week (1..13), week_start, week_end, low_minor, expected_minor, high_minor
    totals: pd.DataFrame  # period_days (30/60/90), low_minor, expected_minor, high_minor
    open_functional_minor: int
    beyond_horizon_minor: int  # expected cash not in the horizon (late beyond it, or never)
    currency: str = FUNCTIONAL_CURRENCY
    dists: InvoiceDistributions | None = field(default=None, repr=False)

    def as_decimal(self, frame: str = "weekly") -> pd.DataFrame:
        """The frame with money as Decimal in currency units (for display and export)."""
        f = getattr(self, frame).copy()
        for c in [c for c in f.columns if c.endswith("_minor")]:
            f[c.removesuffix("_minor")] = [Decimal(int(v)).scaleb(-2) for v in f[c]]
            f = f.drop(columns=c)
        return f


def _round_preserving_total(x: np.ndarray) -> np.ndarray:
    """Cents per day whose sum equals the rounded sum (largest remainders): weekly and period totals
    built from the days then equal the rounded total of the underlying expectation."""
    floor = np.floor(x)
    short = int(round(x.sum())) - int(floor.sum())
    rem = x - floor
    idx = np.argsort(-rem, kind="stable")[: max(short, 0)]
    out = floor.astype(np.int64)
    out[idx] += 1
    return out


def forecast_from_distributions(
    d: InvoiceDistributions,
    as_of: dt.date,
    horizon_days: int = HORIZON_DAYS,
    draws: int = DRAWS,
    seed: int = 0,
    profiles: RunProfiles | None = None,
) -> CashForecast:
    n, H = len(d.amount_minor), horizon_days
    G = H + 11  # offsets 0..H+10: cash dated in the horizon may land after it
    grid = np.arange(0, G, dtype="float64")
    amount = d.amount_minor.astype("float64")
    has_promise = ~np.isnan(d.promise_offset) & (d.promise_minor > 0)
    p_amt = np.where(has_promise, d.promise_minor, 0).astype("float64")
    keep = np.where(has_promise, d.keep_rate, 0.0)
    floor = np.where(has_promise, d.promise_offset + PROMISE_GRACE_DAYS, np.nan)
    cust_ids, cust = np.unique(d.customer_id.astype(str), return_inverse=True)
    n_c = len(cust_ids)
    # the customer's currency decides the bank calendar; one currency per customer in the ERP
    cust_currency = pd.Series(d.currency).groupby(cust).first().to_numpy(dtype=object) if n else np.array([])
    land = _landing_offsets(as_of, cust_currency, H)  # (n_c, G)
    kernel = (profiles or RunProfiles.empty()).kernels(cust_ids, as_of, G)  # (n_c, G, G) or None
    pdays = np.where(has_promise, d.promise_offset, np.inf)[:, None]

    def to_cash(per_customer: np.ndarray) -> np.ndarray:
        """(n_c, G[, draws]) calendar-day mass → (G[, draws]) cash by landing day, all customers."""
        if kernel is not None:
            per_customer = np.einsum("cij,cj...->ci...", kernel, per_customer)
        out = np.zeros((G,) + per_customer.shape[2:])
        for c in range(n_c):
            np.add.at(out, land[c], per_customer[c])
        return out

    # expected: unpromised part follows the model; promised part keeps (at the date, spread over 3 days) or breaks
    cum = (amount - p_amt)[:, None] * _cdf(d.knots, d.levels, grid)
    if has_promise.any():
        cdf_kept = np.clip((grid[None, :] - pdays + 1) / 3.0, 0, 1)
        cdf_broken = _cdf(_with_floor(d.knots, floor), d.levels, grid)
        cum += (p_amt * keep)[:, None] * cdf_kept + (p_amt * (1 - keep))[:, None] * cdf_broken
    per_invoice = np.diff(cum, axis=1, prepend=0.0)
    per_customer = np.zeros((n_c, G))
    np.add.at(per_customer, cust, per_invoice)
    expected = _round_preserving_total(to_cash(per_customer)[1 : H + 1])

    # bands: Monte Carlo with customers moving together
    rng = np.random.default_rng(seed)
    z = np.sqrt(GLOBAL_SHARE) * rng.standard_normal((1, draws)) + np.sqrt(1 - GLOBAL_SHARE) * (
        CUSTOMER_CORRELATION * rng.standard_normal((n_c, draws))[cust]
        + np.sqrt(1 - CUSTOMER_CORRELATION**2) * rng.standard_normal((n, draws))
    )
    from scipy.stats import norm  # scipy ships with scikit-learn

    u = norm.cdf(z)
    t_model = _quantile(d.knots, d.levels, u)
    t_broken = _quantile(_with_floor(d.knots, floor), d.levels, u)
    kept = rng.random((n, draws)) < keep[:, None]
    t_prom = np.where(kept, pdays + rng.integers(0, 3, (n, draws)), t_broken)
    sim_c = np.zeros((n_c, G, draws))
    for amt, t in (((amount - p_amt), t_model), (p_amt, t_prom)):
        t = np.ceil(t)
        ok = np.isfinite(t) & (t <= G - 1) & (amt[:, None] > 0)
        rows, cols = np.nonzero(ok)
        np.add.at(sim_c, (cust[rows], t[rows, cols].astype(np.int64), cols), amt[rows])
    sim = np.rint(to_cash(sim_c)[1 : H + 1]).astype(np.int64)

    days = [as_of + dt.timedelta(days=i) for i in range(1, H + 1)]

    def band(totals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (
            np.percentile(totals, 10, axis=-1).round().astype(np.int64),
            np.percentile(totals, 90, axis=-1).round().astype(np.int64),
        )

    lo, hi = band(sim)
    daily = pd.DataFrame(
        {
            "day": days,
            "low_minor": np.minimum(lo, expected),
            "expected_minor": expected,
            "high_minor": np.maximum(hi, expected),
        }
    )
    weeks = np.arange(H) // 7 + 1
    wk_sim = np.stack([sim[weeks == w].sum(axis=0) for w in range(1, WEEKS + 1)])
    wk_exp = np.array([expected[weeks == w].sum() for w in range(1, WEEKS + 1)])
    wlo, whi = band(wk_sim)
    weekly = pd.DataFrame(
        {
            "week": np.arange(1, WEEKS + 1),
            "week_start": [as_of + dt.timedelta(days=7 * (w - 1) + 1) for w in range(1, WEEKS + 1)],
            "week_end": [as_of + dt.timedelta(days=7 * w) for w in range(1, WEEKS + 1)],
            "low_minor": np.minimum(wlo, wk_exp),
            "expected_minor": wk_exp,
            "high_minor": np.maximum(whi, wk_exp),
        }
    )
    rows = []
    for p in PERIODS:
        tot = sim[:p].sum(axis=0)
        e = int(expected[:p].sum())
        plo, phi = band(tot)
        rows.append(
            {
                "period_days": p,
                "low_minor": min(int(plo), e),
                "expected_minor": e,
                "high_minor": max(int(phi), e),
            }
        )
    totals = pd.DataFrame(rows)
    total_open = int(d.amount_minor.sum())
    return CashForecast(as_of, daily, weekly, totals, total_open, total_open - int(expected.sum()), dists=d)


def cash_forecast(
    balances: pd.DataFrame,
    predictions: pd.DataFrame,
    promises: pd.DataFrame | None,
    as_of: dt.date,
    *,
    horizon_days: int = HORIZON_DAYS,
    draws: int = DRAWS,
    seed: int = 0,
    profiles: RunProfiles | None = None,
) -> CashForecast:
    """The forecast at the end of ``as_of`` (see the module docstring)."""
    d = invoice_distributions(balances, predictions, promises, as_of)
    return forecast_from_distributions(d, as_of, horizon_days, draws, seed, profiles)


def cash_forecast_from_warehouse(con, as_of: dt.date, predictions: pd.DataFrame, **kw) -> CashForecast:
    return cash_forecast(
        open_balances(con, as_of),
        predictions,
        open_promises(con, as_of),
        as_of,
        profiles=RunProfiles.from_warehouse(con, as_of),
        **kw,
    )


# --- what-if ----------------------------------------------------------------------------------------


def delay_customers(d: InvoiceDistributions, customers, days: int) -> InvoiceDistributions:
    """The same world with these customers paying ``days`` later (promises included)."""
    sel = np.isin(d.customer_id, list(customers))
    knots = d.knots.copy()
    knots[sel] = knots[sel] + days
    po = d.promise_offset.copy()
    po[sel] = po[sel] + days
    return replace(d, knots=knots, promise_offset=po)


def default_customers(d: InvoiceDistributions, customers) -> InvoiceDistributions:
    """The same world with these customers paying nothing (promises broken, no cash in the horizon)."""
    sel = np.isin(d.customer_id, list(customers))
    knots = d.knots.copy()
    knots[sel] = np.inf
    return replace(d, knots=knots, promise_minor=np.where(sel, 0, d.promise_minor))


def top_customers(d: InvoiceDistributions, n: int) -> list[str]:
    """The ``n`` customers with the largest open balance (ties: by id, for a stable answer)."""
    s = pd.Series(d.amount_minor, index=d.customer_id).groupby(level=0).sum()
    return list(s.sort_index().sort_values(ascending=False, kind="stable").index[:n])


@dataclass
class WhatIf:
    description: str
    customers: list[str]
    weekly: pd.DataFrame  # week, base_expected_minor, scenario_expected_minor, delta_minor
    totals: pd.DataFrame  # period_days, base, scenario, delta


def what_if(
    base: CashForecast, scenario: InvoiceDistributions, description: str, customers: list[str]
) -> WhatIf:
    s = forecast_from_distributions(scenario, base.as_of, draws=50)
    w = pd.DataFrame(
        {
            "week": base.weekly["week"],
            "week_start": base.weekly["week_start"],
            "base_expected_minor": base.weekly["expected_minor"],
            "scenario_expected_minor": s.weekly["expected_minor"],
        }
    )
    w["delta_minor"] = w["scenario_expected_minor"] - w["base_expected_minor"]
    t = pd.DataFrame(
        {
            "period_days": base.totals["period_days"],
            "base_expected_minor": base.totals["expected_minor"],
            "scenario_expected_minor": s.totals["expected_minor"],
        }
    )
    t["delta_minor"] = t["scenario_expected_minor"] - t["base_expected_minor"]
    return WhatIf(description, customers, w, t)


def money(minor: int) -> str:
    """``1234567`` → ``12,345.67`` (exact)."""
    return f"{Decimal(int(minor)).scaleb(-2).quantize(Decimal('0.01'), ROUND_HALF_EVEN):,}"
