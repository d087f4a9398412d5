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
i.e. events at ``due + k + 1`` minus events at ``max(due + k + 1, closed)``. Medians and quantiles
(the baseline needs the customer's median days late known at the time) are taken over the last K
events of the key at each event (``window_quantiles``: a gather into a K-wide matrix and one row
sort). Pandas' grouped rolling medians give the same numbers but pay ~100 µs of Python per group
and per call: minutes at 50,000 customers. The baseline's "historical median" is therefore the
median of the customer's last 50 settlements, its whole history for all but the busiest accounts.

Nothing here loops over rows in Python: the loops are over a fixed list of streams and countries.
"""

from __future__ import annotations

import datetime as dt
import zlib
from concurrent.futures import ThreadPoolExecutor

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


def stable_order(values: np.ndarray) -> np.ndarray:
    """``np.argsort(values, kind="stable")`` for non-negative int64, several times faster: each value
    carries its position in its low bits and the packed values are sorted with numpy's vectorized
    value sort (an argsort of 8M int64 takes 4.5 s here, a sort 0.4 s). Ties keep their order, as a
    stable sort does, because the positions break them."""
    n = len(values)
    if n == 0:
        return np.zeros(0, dtype="int64")
    idx_bits = max(1, (n - 1).bit_length())
    if int(values.max()).bit_length() + idx_bits > 62 or int(values.min()) < 0:
        return np.argsort(values, kind="stable")
    packed = (values.astype("int64") << idx_bits) | np.arange(n, dtype="int64")
    packed.sort()
    return packed & ((1 << idx_bits) - 1)


def _searchsorted(haystack: np.ndarray, needles: np.ndarray, side: str) -> np.ndarray:
    """``np.searchsorted`` with the needles sorted first: a million random binary searches into a
    large array miss the cache on every step, sorted ones walk it in order (5x faster here)."""
    if len(needles) < 50_000:
        return np.searchsorted(haystack, needles, side=side)
    order = stable_order(needles)
    out = np.empty(len(needles), dtype="int64")
    out[order] = np.searchsorted(haystack, needles[order], side=side)
    return out


class Stream:
    """Events keyed by an integer code, sorted by (key, day), with running sums of their values."""

    def __init__(self, keys: np.ndarray, days: np.ndarray, values: dict[str, np.ndarray] | None = None):
        keep = days < NEVER
        keys, days = keys[keep].astype("int64"), days[keep].astype("int64")
        comp = keys * _DAY_SPAN + (days + _DAY_OFFSET)
        order = stable_order(comp)
        self.comp = comp[order]
        self.keys = self.comp // _DAY_SPAN  # arithmetic on the sorted keys beats two more gathers
        self.days = self.comp % _DAY_SPAN - _DAY_OFFSET
        self.take = np.flatnonzero(keep)[order]  # source index of each sorted event: one gather per value
        n_keys = int(self.keys[-1]) + 1 if len(self.keys) else 0
        # first event of each key, so a query needs one binary search (its end), not two
        self.key_start = np.searchsorted(self.keys, np.arange(n_keys + 1), side="left")
        self.cum: dict[str, np.ndarray] = {}
        self.values: dict[str, np.ndarray] = {}
        self.values["n"] = np.ones(len(self.comp), dtype="int64")
        self.cum["n"] = np.arange(len(self.comp) + 1, dtype="int64")
        for name, v in (values or {}).items():
            self.add(name, v)

    def add(self, name: str, v: np.ndarray, ordered: bool = False) -> None:
        """Values in the order the stream was built from, or already in its sorted order (``ordered``)."""
        v = np.asarray(v) if ordered else np.asarray(v)[self.take]
        self.values[name] = v
        acc = np.cumsum(v, dtype="int64" if v.dtype.kind in "iub" else "float64")
        self.cum[name] = np.concatenate([np.zeros(1, dtype=acc.dtype), acc])

    def bounds(self, qkeys: np.ndarray, qdays: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """[start, end) of each query key's events dated on or before its day."""
        start = self.key_start[np.minimum(qkeys, len(self.key_start) - 1)]
        end = _searchsorted(self.comp, qkeys * _DAY_SPAN + (qdays + _DAY_OFFSET), side="right")
        return start, np.maximum(end, start)

    def total(self, name: str, qkeys: np.ndarray, qdays: np.ndarray) -> np.ndarray:
        start, end = self.bounds(qkeys, qdays)
        c = self.cum[name]
        return c[end] - c[start]

    def window(self, name: str, qkeys: np.ndarray, qdays: np.ndarray, days: int) -> np.ndarray:
        """Sum over events dated in (t - days, t]."""
        return self.total(name, qkeys, qdays) - self.total(name, qkeys, qdays - days)

    def last_index(self, qkeys: np.ndarray, qdays: np.ndarray) -> np.ndarray:
        """Index of the key's last event on or before t; -1 when there is none."""
        start, end = self.bounds(qkeys, qdays)
        return np.where(end > start, end - 1, -1)

    def last(self, v: np.ndarray, qkeys: np.ndarray, qdays: np.ndarray, fill=np.nan) -> np.ndarray:
        """Value at the key's last event on or before t (``v`` is aligned with the sorted events)."""
        start, end = self.bounds(qkeys, qdays)
        has = end > start
        out = np.full(len(qkeys), fill, dtype="float64")
        out[has] = v[end[has] - 1]
        return out


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


def _positions(keys: np.ndarray) -> np.ndarray:
    """Index of each event within its key's run (``keys`` sorted)."""
    n = len(keys)
    if n == 0:
        return np.zeros(0, dtype="int64")
    starts = np.r_[0, np.flatnonzero(keys[1:] != keys[:-1]) + 1]
    run_start = np.repeat(starts, np.diff(np.r_[starts, n]))
    return np.arange(n, dtype="int64") - run_start


def window_quantiles(
    keys: np.ndarray,
    values: np.ndarray,
    k: int,
    qs: tuple[float, ...],
    at: np.ndarray | None = None,
    chunk: int = 200_000,
) -> dict[float, np.ndarray]:
    """Quantiles (linear, as pandas) of the values of the last ``k`` events of a key, up to and
    including event ``at`` (indexes into the events sorted by key then day; -1: none, NaN out).
    Without ``at``: at every event."""
    # float32 halves the memory traffic of the gather and the sort; these are days and amounts
    # whose quantiles only ever feed ratios and features (never money that is stored).
    values = np.asarray(values, dtype="float32")
    pos_all = _positions(keys)
    at = np.arange(len(values), dtype="int64") if at is None else np.asarray(at, dtype="int64")
    n = len(at)
    out = {q: np.full(n, np.nan, dtype="float64") for q in qs}
    lags = np.arange(k, dtype="int64")
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        ends = at[a:b]
        ok = ends >= 0
        if not ok.any():
            continue
        e = ends[ok]
        idx = e[:, None] - lags[None, :]
        valid = lags[None, :] <= pos_all[e][:, None]
        np.maximum(idx, 0, out=idx)
        m = values[idx]
        m[~valid] = np.inf  # missing slots sort last
        m.sort(axis=1)
        cnt = valid.sum(axis=1)
        rows = np.arange(len(e))
        where = np.flatnonzero(ok) + a
        for q in qs:
            pos = q * (cnt - 1)
            lo = np.floor(pos).astype("int64")
            hi = np.ceil(pos).astype("int64")
            out[q][where] = m[rows, lo] + (m[rows, hi] - m[rows, lo]) * (pos - lo)
    return out


def _running_extreme(stream: Stream, values: np.ndarray, mask: np.ndarray, kind: str) -> np.ndarray:
    """Per event of ``stream`` (sorted by key, day): the min or max of ``values`` over the key's
    events so far where ``mask`` holds (NaN before the first). ``values``/``mask`` are in the order
    the stream was built from. One vectorized pass: each key's values are shifted into a band of
    their own (keys ascend), so a plain running max never carries one key's value into the next."""
    v = np.asarray(values, dtype="float64")[stream.take]
    m = np.asarray(mask, dtype=bool)[stream.take]
    if kind == "min":
        v = -v
    floor = -1e3  # below every value (log2 amounts are >= 0)
    band = 1e4  # wider than the values' range plus the floor's distance
    w = np.where(m, v, floor) + stream.keys.astype("float64") * band
    out = np.maximum.accumulate(w) - stream.keys.astype("float64") * band if len(w) else w
    out = np.where(out <= floor + 1, np.nan, out)
    return -out if kind == "min" else out


def window_ewm(
    keys: np.ndarray, values: np.ndarray, span: float, at: np.ndarray | None = None, k: int = 20
) -> np.ndarray:
    """Exponentially weighted mean over the last ``k`` events of a key up to event ``at`` (pandas'
    ``adjust=True`` weights; beyond 20 events a span-5 weight is below 0.03%: the truncation changes
    nothing that matters). Without ``at``: at every event."""
    values = np.asarray(values, dtype="float64")
    pos_all = _positions(keys)
    at = np.arange(len(values), dtype="int64") if at is None else np.asarray(at, dtype="int64")
    w = (1 - 2 / (span + 1)) ** np.arange(k)
    num = np.zeros(len(at))
    den = np.zeros(len(at))
    ok = at >= 0
    pos = np.where(ok, pos_all[np.maximum(at, 0)] if len(pos_all) else 0, -1)
    for lag in range(k):
        idx = np.flatnonzero(pos >= lag)
        num[idx] += w[lag] * values[at[idx] - lag]
        den[idx] += w[lag]
    return _div(num, den)


# --- rows -----------------------------------------------------------------------------------------------


def _row_frame(inv: pd.DataFrame, as_of: pd.Series, extra: tuple[str, ...]) -> pd.DataFrame:
    cols = list(STATIC_INVOICE_COLUMNS) + [c for c in extra if c in inv.columns]
    rows = inv[cols].copy()
    rows["as_of"] = pd.to_datetime(as_of).astype("datetime64[s]").to_numpy()
    positions = inv.index.to_numpy()  # the history's RangeIndex: each row's position there
    rows = rows.reset_index(drop=True)
    if positions.dtype.kind in "iu":
        rows.attrs["history_position"] = _Positions(positions)
    return rows


class _Positions:
    """Row positions in the history, kept in a frame's ``attrs``. A plain array would not do: pandas
    compares attrs with ``==`` when it concatenates frames; this object equals only itself."""

    __slots__ = ("array",)

    def __init__(self, array: np.ndarray):
        self.array = array

    def __len__(self) -> int:
        return len(self.array)

    def __deepcopy__(self, memo) -> _Positions:
        # pandas deep-copies attrs on every derived frame (each column lookup); the positions are
        # never written to, so sharing them saves copying an array per lookup.
        return self


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


class _Codes:
    """Integer codes of customers, families and invoices; ids the history has never seen get fresh
    codes (past the known ones), so they match no event rather than each other.

    The invoice code is the invoice's position in the history. Its hash index (every invoice id)
    is built only when an id must be looked up: at a million open invoices hashing four million
    ids costs seconds, and rows taken from the history carry their positions (``_row_frame``)."""

    def __init__(self, h: InvoiceHistory):
        # factorize works on the Arrow strings directly; a detour through Python objects costs
        # seconds at millions of ids. Codes are in order of first appearance, as pd.unique's.
        both = pd.concat([h.invoices["customer_id"], h.customers["customer_id"]], ignore_index=True)
        codes, uniques = pd.factorize(both)
        self.customer = pd.Index(np.asarray(uniques, dtype=object))
        self.history_customer = codes[: len(h.invoices)].astype("int64")
        self._invoice_ids = h.invoices["invoice_id"]
        self._invoice: pd.Index | None = None
        parent = h.customers.set_index("customer_id")["parent_id"].dropna()
        self.family = None  # family code of each customer code; None when no parents are known
        if len(parent):
            ids = pd.Series(self.customer.to_numpy(dtype=object), index=self.customer)
            self.family = pd.factorize(ids.map(parent).fillna(ids).to_numpy(dtype=object))[0].astype("int64")

    @property
    def invoice(self) -> pd.Index:
        if self._invoice is None:
            self._invoice = pd.Index(self._invoice_ids.to_numpy(dtype=object))
        return self._invoice

    @property
    def n_invoices(self) -> int:
        return len(self._invoice_ids)

    def inv_of_rows(self, rows: pd.DataFrame) -> np.ndarray:
        """Invoice codes of feature rows: their history positions when they carry them and the ids
        there match, else a lookup."""
        return self.of_rows(rows)[1]

    def of_rows(self, rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(customer codes, invoice codes) of feature rows. Rows taken from the history carry their
        positions there: once the invoice ids at those positions match, the customers are the
        history's own (no hash lookup of a million customer ids)."""
        pos = rows.attrs.get("history_position")
        if isinstance(pos, _Positions) and len(pos) == len(rows):
            pos = pos.array.astype("int64")
            if len(pos) == 0:
                return np.zeros(0, dtype="int64"), pos
            if (
                pos.min() >= 0
                and pos.max() < self.n_invoices
                and bool((self._invoice_ids.to_numpy()[pos] == rows["invoice_id"].to_numpy()).all())
            ):
                return self.history_customer[pos], pos
        return (
            self.cust(rows["customer_id"].to_numpy(dtype=object)),
            self.inv(rows["invoice_id"].to_numpy(dtype=object)),
        )

    @staticmethod
    def _code(index: pd.Index, ids) -> np.ndarray:
        ids = np.asarray(ids, dtype=object)
        out = index.get_indexer(pd.Index(ids)).astype("int64")
        unknown = out < 0
        if unknown.any():
            out[unknown] = len(index) + pd.factorize(ids[unknown])[0]
        return out

    def cust(self, ids) -> np.ndarray:
        return self._code(self.customer, ids)

    def inv(self, ids) -> np.ndarray:
        return self._code(self.invoice, ids)

    def fam(self, cust_codes: np.ndarray) -> np.ndarray:
        if self.family is None:
            return cust_codes
        known = cust_codes < len(self.family)
        # unknown customers are their own family, coded past every family code
        return np.where(
            known, self.family[np.minimum(cust_codes, len(self.family) - 1)], len(self.customer) + cust_codes
        )


CATEGORICAL_FEATURES = ("segment", "terms_code")


def feature_names(extra: tuple[str, ...] = ()) -> list[str]:
    return list(_BASE_FEATURES) + [f"x_{c}" for c in extra]


_CUSTOMER_FEATURES = (
    # payment history
    "n_paid",
    "dl_mean",
    "dl_std",
    "dl_median",
    "dl_median_last10",
    "dl_ewm",
    "dl_last",
    "dl_mean_last5",
    "early_pay_share",
    "discount_take_share",
    "share_late",
    "share_late30",
    "share_partial",
    "dtp_mean",
    "n_paid_90",
    "dl_mean_90",
    "dl_mean_180",
    "dl_mean_365",
    "share_late30_180",
    "dl_trend",
    "dl_slope_180",
    "amount_slope",
    "days_since_paid",
    "paid_gap_ratio",
    "pay_wd_mode",
    "pay_wd_share",
    "month_end_pay_share",
    "mid_month_pay_share",
    # current exposure
    "open_count",
    "open_amount_log",
    "od_count",
    "od_amount_share",
    "od_mean_dpd",
    "od30_count",
    "od60_count",
    "od90_count",
    "od30_amount_share",
    "stuck_count",
    "stuck_share",
    "stuck_mean_days",
    "credit_use",
    "open_months_billing",
    # billing, disputes, promises, reminders
    "issued_90",
    "dispute_share_365",
    "n_deductions",
    "promises_kept",
    "promises_broken",
    "promise_keep_rate",
    "contacts_90",
    "response_rate",
    # parent (family) level
    "family_dl_mean_180",
    "family_od30_count",
    "segment",
)
# What the customer's own past says about this due date and this size of invoice (each read as of the
# row's day, like every feature).
HISTORY_SHAPE_FEATURES = (
    "season_fit",
    "season_amp",
    "harmonic_at_due",
    "trend_at_due",
    "size_dl_mean",
    "size_n",
    "size_split_share",
    "size_disc_share",
    "discount_take_share_90",
    "partial_share_120",
    "split_gap_mean",
    "usual_calendar_window",
    "currency_code",
    "due_dom_dl_mean",
    "due_wd_dl_mean",
    "recent_vs_median",
    "last10_vs_median",
    "run_proj_month_end",
    "run_miss_month_end",
    "run_proj_semi",
    "run_miss_semi",
    "run_proj_weekly",
    "run_miss_weekly",
    "cohort_vs_median",
    "cohort_open0_share",
    "cohort_open30_share",
    "cohort_open60_share",
)

_BASE_FEATURES = (
    _CUSTOMER_FEATURES
    + (
        # invoice
        "trend_extrapolated",
        "vs_min_split_log2",
        "vs_max_full_log2",
        "vs_min_early_log2",
        "vs_max_late_log2",
        "usual_day",
        "usual_to_month_end",
        "usual_to_15th",
        "usual_to_pay_weekday",
        "run_shift_weekly",
        "run_shift_semi",
        "run_shift_month_end",
        "amount_effect",
        "season_excess",
        "due_to_run_days",
        "amount_log",
        "amount_ratio_log2",
        "amount_vs_usual_log2",
        "terms_days",
        "discount_pct",
        "inv_weekday",
        "inv_month_end",
        "due_weekday",
        "due_day",
        "due_month",
        "due_days_to_month_end",
        "due_quarter_end",
        "age_days",
        "days_to_due",
        "disputed",
        "days_since_dispute",
        "deduction",
        "partially_paid",
        "promise_days",
        "promises_on_invoice",
        "broken_on_invoice",
        "contacts_on_invoice",
        # calendar
        "bdays_to_due",
        "due_is_business_day",
        "due_next_bday_offset",
        "holidays_after_due",
        "terms_code",
    )
    + HISTORY_SHAPE_FEATURES
)
# Customer-level values the risk module reads besides the model's features.
RISK_COLUMNS = (
    "baseline_median",
    "baseline_std",
    "baseline_n",
    "recent_mean",
    "recent_n",
    "last_year_mean",
    "last_year_n",
    "recent_z",
    "recent_z_n",
    "last_year_z",
    "last_year_z_n",
    "open_amount",
    "od_amount",
    "od60_amount",
    "od90_amount",
    "billed_365",
    "credit_limit",
    "last_paid_day",
)

TERMS_CODES = {"NET30": 1, "NET45": 2, "NET60": 3, "2/10NET30": 4}
SEGMENT_CODES = {"enterprise": 1, "mid_market": 2, "small_business": 3}
RECENT_DAYS = 90  # "recent behaviour" for the trajectory signals
USUAL_AMOUNT_WINDOW = 100  # invoices behind the customer's usual amount
BASELINE_WINDOW = 50  # settlements behind "the customer's median days late known at the time"
BASELINE_DAYS = 365  # the customer's own past: the year before the recent window
# An open invoice is "stuck" once it is this many days past the day the customer's habit (the mean
# days late of its last ten settlements when the invoice was issued) said it would be paid: a cash
# crunch or a forgotten pile shows there before it shows in the absolute aging (a 40-days-late payer
# is "30+ overdue" every day).
STUCK_DAYS = 7
# The lateness of the invoices that fell due lately, read by due date rather than by payment date:
# the settlements known at a day are the invoices paid by then, so when a customer slides they are
# its early payers and its habit lags the slide by months. Of the invoices due in a window of
# COHORT_WINDOW days ending d + 1 days ago, the share still unpaid d days past due, for each lag d.
# (Lags and window not tuned. On a world simulated with seed 11, test origins 2026-03-21 to 09-20:
# MAE 10.33 -> 10.23 with these features; 10.06 -> 9.92 beside the trend start and the imputed
# censored labels of payment_model.py.)
COHORT_LAGS = (0, 7, 14, 21, 30, 45, 60, 90)
COHORT_WINDOW = 60
RUN_WINDOW = 12  # settlements that vote on the customer's intended delay under each run calendar
DOM_BUCKETS = 6
SIZE_BUCKETS = 64  # doubling buckets of an invoice's document amount (in major units)
SEASON_RIDGE = 3.0  # shrinks the fitted season and trend of a short history towards none
CURRENCY_CODES = {"USD": 0, "EUR": 1, "GBP": 2}
# Histories at least this large build their event streams on two threads (small ones: not worth a thread).
PARALLEL_CONTEXT_ROWS = 200_000


def _clip_dl(x: np.ndarray) -> np.ndarray:
    return np.clip(x, DAYS_LATE_MIN, DAYS_LATE_CAP)


class FeatureContext:
    """Event streams of one history, built once and queried for any (customer, day) or (invoice, day)."""

    def __init__(self, h: InvoiceHistory):
        self.h = h
        inv = h.invoices
        self.codes = codes = _Codes(h)
        self.h_cust = h_cust = codes.history_customer
        self.h_inv = np.arange(len(inv), dtype="int64")
        self.h_inv_day = h_inv_day = to_days(inv["invoice_date"])
        self.h_due_day = h_due_day = to_days(inv["due_date"])
        h_paid_day = to_days(inv["paid_date"])
        self.h_paid_known = h_paid_known = to_days(inv["paid_known_date"])
        h_closed_known = to_days(inv["closed_known_date"])
        h_amount = inv["amount_functional_minor"].to_numpy(dtype="int64")
        is_paid = (inv["resolution"].to_numpy() == "paid") & (h_paid_known < NEVER)
        dl = _clip_dl(h_paid_day - h_due_day).astype("int64")
        # The early-warning and seasonal streams need nothing the others build: on a large history a
        # second thread builds them meanwhile (numpy's sorts, gathers and sums release the GIL).
        pool = ThreadPoolExecutor(1) if len(inv) >= PARALLEL_CONTEXT_ROWS else None
        habit_args = (inv, h_cust, h_inv_day, h_due_day, h_paid_known, dl, is_paid)
        side = pool.submit(self._habit_streams, *habit_args) if pool else None

        self.issued = issued = Stream(h_cust, h_inv_day, {"amount": h_amount})
        self.med_amount = window_quantiles(issued.keys, issued.values["amount"], 20, (0.5,))[0.5]
        # The customer's usual amount over a long window and in its own currency: the habit an AP
        # department's approval rules follow (a fixed threshold in its currency); functional amounts
        # move with the exchange rate, and 20 invoices give a noisy median.
        issued.add("doc", inv["amount_minor"].to_numpy(dtype="int64"))
        # amount ratio of each historical invoice against the usual amount known the day before it
        h_usual = issued.last(self.med_amount, h_cust, h_inv_day - 1) / 100.0
        h_ratio = np.nan_to_num(np.log2(np.clip(_div(h_amount / 100.0, h_usual), 1 / 16, 16)), nan=0.0)

        dtp = np.clip(h_paid_day - h_inv_day, 0, 365).astype("int64")
        sel = is_paid
        shape_args = (inv, h_cust, h_due_day, h_paid_known, dl, sel)
        side_shape = pool.submit(self._shape_streams, *shape_args) if pool else None
        self.paid = paid = Stream(h_cust[sel], h_paid_known[sel])
        # The settlements' values are derived from a few base columns gathered once into the stream's
        # order: a gather per value (24 of them) costs seconds at millions of settlements.
        o = np.flatnonzero(sel)[paid.take]
        s_dl, s_dtp, s_x = dl[o], dtp[o], h_ratio[o]
        s_paid = h_paid_day[o]
        # Each settlement bounds the customer's intended payment day (before its payment run) to the
        # run cycle its payment went out in: (previous run, run] under each run calendar.
        s_due = h_due_day[o]
        self.run_bounds = {}
        for name, latest in (("month_end", _latest_month_end_run), ("semi", _latest_semi_monthly_run)):
            run = _per_day(latest, s_paid)
            prev = _per_day(latest, run - 1)
            self.run_bounds[name] = (prev - s_due, run - s_due, s_paid - run)
        self.run_bounds["weekly"] = (s_paid - 7 - s_due, s_paid - s_due, np.zeros(len(s_paid), dtype="int64"))
        self.s_ratio = s_x  # each settlement's amount against the usual then (log2), stream order
        self.s_due_day, self.s_paid_day = s_due, s_paid
        month = s_paid.astype("datetime64[D]").astype("datetime64[M]")
        first = (month.astype("datetime64[D]") - _EPOCH).astype("int64")
        dom = s_paid - first + 1
        dim = ((month + 1).astype("datetime64[D]") - _EPOCH).astype("int64") - first
        wd = _weekday(s_paid)
        # months, near zero for recent dates: keeps the sums well conditioned
        u = (h_due_day[o] - 20000) / 30.4
        pv = {
            "dl": s_dl,
            "dl2": s_dl * s_dl,
            "late": (s_dl > 0).astype("int64"),
            "late30": (s_dl > 30).astype("int64"),
            "partial": (inv["n_payments"].to_numpy()[o] > 1).astype("int64"),
            "dtp": s_dtp,
            "x": s_x,
            "xx": s_x * s_x,
            "xy": s_x * s_dl,
            "u": u,
            "uu": u * u,
            "uy": u * s_dl,
            "month_end": (dim - dom <= 2).astype("int64"),
            "mid_month": ((dom >= 13) & (dom <= 17)).astype("int64"),
            # the early-payment habit: settled within 14 days of the invoice / a discount taken
            "early": (s_dtp <= 14).astype("int64"),
            "disc": inv["discount_taken"].to_numpy()[o].astype("int64"),
        }
        for k in range(7):
            pv[f"wd{k}"] = (wd == k).astype("int64")
        # Seasonal cash cycle by due month: sums of a one-harmonic regression (with a linear trend so
        # a slide is not read as a season), solved per customer and day in ``build_features``.
        ang = 2 * np.pi * _per_day(_month_of, h_due_day[o]) / 12.0
        hc, hs = np.cos(ang), np.sin(ang)
        pv.update(
            hc=hc,
            hs=hs,
            hcc=hc * hc,
            hss=hs * hs,
            hcs=hc * hs,
            hyc=hc * s_dl,
            hys=hs * s_dl,
            huc=u * hc,
            hus=u * hs,
        )
        # days between the first and the last instalment of an invoice paid in parts
        first_known = to_days(inv["first_paid_known_date"])[o]
        pv["split_gap"] = np.where(
            pv["partial"] > 0, np.clip(h_paid_known[o] - np.minimum(first_known, h_paid_known[o]), 0, 365), 0
        ).astype("int64")
        for k, v in pv.items():
            paid.add(k, v, ordered=True)
        # Each invoice's *expected* payment day as seen when it was issued: its due date plus the mean
        # days late of the customer's last ten settlements then (running sums: a median at every
        # invoice would cost a K-wide sort per invoice, seconds at millions of them).
        p_start, p_end = self.paid.bounds(h_cust, h_inv_day - 1)
        lo10 = np.maximum(p_start, p_end - 10)
        habit = _div(self.paid.cum["dl"][p_end] - self.paid.cum["dl"][lo10], p_end - lo10)
        self.h_expected_day = h_due_day + np.round(np.nan_to_num(habit, nan=0.0)).astype("int64")
        # Amount thresholds of the instalment and discount habits (big invoices wait for the cash and
        # get split; the early-payment discount is worth the effort on big ones): the smallest amount
        # the customer split / paid early and the largest it paid in one go / late, among the
        # settlements known by each day (log2 of the functional amount).
        la = np.log2(np.maximum(h_amount / 100.0, 1.0))[sel]
        split = (inv["n_payments"].to_numpy() > 1)[sel]
        early = (dtp <= 14)[sel]
        self.amount_extremes = {
            "min_split": _running_extreme(self.paid, la, split, "min"),
            "max_full": _running_extreme(self.paid, la, ~split, "max"),
            "min_early": _running_extreme(self.paid, la, early, "min"),
            "max_late": _running_extreme(self.paid, la, ~early, "max"),
        }
        if pool is not None:
            self.h_size, self.sized, self.by_due_dom, self.by_due_wd = side_shape.result()
            self.excess, self.season = side.result()
            pool.shutdown()
        else:
            self.h_size, self.sized, self.by_due_dom, self.by_due_wd = self._shape_streams(*shape_args)
            self.excess, self.season = self._habit_streams(*habit_args)

        # What is open and overdue: built on first use (see ``_open_state``).
        self.h_closed_known, self.h_amount = h_closed_known, h_amount
        self._open_streams: dict | None = None
        self._by_due: Stream | None = None  # built on first use (``_cohort_lateness``)

        self.h_dispute_day = to_days(inv["dispute_date"])
        self.disputes = Stream(
            h_cust, self.h_dispute_day, {"ded": inv["is_deduction"].to_numpy().astype("int64")}
        )
        self.ded_day = np.where(inv["is_deduction"].to_numpy(), self.h_dispute_day, NEVER)
        self.first_paid_day = to_days(inv["first_paid_known_date"])

        prom = h.promises
        self.promises = self.promise_made = self.promise_res = None
        if prom is not None and len(prom):
            p_cust = codes.cust(prom["customer_id"].to_numpy(dtype=object))
            res_day = to_days(prom["resolved_known_date"])
            status = prom["status"].to_numpy()
            self.promises = Stream(
                p_cust,
                res_day,
                {"kept": (status == "kept").astype("int64"), "broken": (status == "broken").astype("int64")},
            )
            p_inv = codes.inv(prom["invoice_id"].fillna("").to_numpy(dtype=object))
            ok = prom["invoice_id"].notna().to_numpy() & (p_inv < codes.n_invoices)
            if ok.any():
                self.promise_made = Stream(p_inv[ok], to_days(prom["promise_date"])[ok])
                self.promised_day = to_days(prom["promised_date"])[ok][self.promise_made.take].astype(
                    "float64"
                )
                self.promise_res = Stream(
                    p_inv[ok], res_day[ok], {"broken": (status[ok] == "broken").astype("int64")}
                )
        act = h.activities
        self.activities = self.invoice_activities = None
        if act is not None and len(act):
            a_day = to_days(act["activity_date"])
            responded = act["outcome"].isin(RESPONSE_OUTCOMES).to_numpy().astype("int64")
            self.activities = Stream(
                codes.cust(act["customer_id"].to_numpy(dtype=object)), a_day, {"resp": responded}
            )
            a_inv = codes.inv(act["invoice_id"].fillna("").to_numpy(dtype=object))
            ok = act["invoice_id"].notna().to_numpy() & (a_inv < codes.n_invoices)
            if ok.any():
                self.invoice_activities = Stream(a_inv[ok], a_day[ok])

        self.family = None
        if codes.family is not None:
            h_fam = codes.fam(h_cust)
            self.family = Stream(h_fam[sel], h_paid_known[sel], {"dl": dl[sel]})
            self.h_fam = h_fam

        cust_static = h.customers.set_index("customer_id").reindex(codes.customer)
        self.segment = cust_static["segment"].map(SEGMENT_CODES).to_numpy(dtype="float64", na_value=np.nan)
        self.terms = cust_static["terms"].map(TERMS_CODES).to_numpy(dtype="float64", na_value=np.nan)
        self.country = cust_static["country"].fillna("").astype(str).to_numpy(dtype=object)
        self.credit_limit = (
            cust_static["credit_limit_functional_minor"].to_numpy(dtype="float64", na_value=np.nan) / 100.0
        )

    @staticmethod
    def _shape_streams(inv, h_cust, h_due_day, h_paid_known, dl, sel) -> tuple:
        """(size bucket of each invoice, settlements by size, by part of the month and by weekday of
        the due date)."""
        # The customer's settlements by size of invoice (doubling buckets of the document amount):
        # approval chains, instalments and early-pay discounts all follow the amount.
        h_size = _size_bucket(inv["amount_minor"].to_numpy(dtype="int64"))
        sized = Stream(
            h_cust[sel] * SIZE_BUCKETS + h_size[sel],
            h_paid_known[sel],
            {
                "dl": dl[sel],
                "split": (inv["n_payments"].to_numpy()[sel] > 1).astype("int64"),
                "disc": inv["discount_taken"].to_numpy()[sel].astype("int64"),
            },
        )
        # ... and by where the due date falls in the month and in the week: a customer paying on
        # set run days pays an invoice due just after a run almost a full cycle later than one due
        # just before it.
        by_due_dom = Stream(
            h_cust[sel] * DOM_BUCKETS + _per_day(_dom_bucket, h_due_day[sel]),
            h_paid_known[sel],
            {"dl": dl[sel]},
        )
        by_due_wd = Stream(h_cust[sel] * 7 + _weekday(h_due_day[sel]), h_paid_known[sel], {"dl": dl[sel]})
        return h_size, sized, by_due_dom, by_due_wd

    @staticmethod
    def _habit_streams(inv, h_cust, h_inv_day, h_due_day, h_paid_known, dl, is_paid) -> tuple[Stream, Stream]:
        """(excess, season): each plain settlement against the customer's habit, and the settlements
        by due month."""
        # Each settlement against the customer's habit known when the invoice was issued, in robust
        # standard units (median and IQR/1.35, at least 3 days), clipped so one forgotten invoice
        # cannot carry a window: the early-warning signal (risk.py). Only *plain* settlements count,
        # for the habit and for the signal: one payment, no dispute, no early-payment discount. The
        # others have their own explanation (a dispute, instalments, a discount taken or skipped:
        # a prompt payer that skips its 2% discount pays 20 days "later" without anything changing).
        # (a dispute counts if it was raised by the settlement: a later one was not known then)
        plain = (
            (inv["n_payments"].to_numpy() <= 1)
            & ~(to_days(inv["dispute_date"]) <= h_paid_known)
            & ~inv["discount_taken"].to_numpy()
            & is_paid
        )
        pl = Stream(h_cust[plain], h_paid_known[plain], {"dl": dl[plain]})
        wq = window_quantiles(pl.keys, pl.values["dl"], 30, (0.25, 0.5, 0.75))
        med, q25, q75 = wq[0.5], wq[0.25], wq[0.75]
        nexp = (_positions(pl.keys) + 1).astype("float64")
        qk, qd = h_cust[plain], h_inv_day[plain] - 1
        at_issue = pl.last_index(qk, qd)  # one binary search for the four look-ups
        ref = _take_last(med, at_issue)
        spread = np.maximum(3.0, (_take_last(q75, at_issue) - _take_last(q25, at_issue)) / 1.35)
        z = np.clip((dl[plain] - ref) / spread, -3.0, 5.0)
        z_ok = ~np.isnan(z) & (np.nan_to_num(_take_last(nexp, at_issue)) >= 5)
        excess = Stream(h_cust[plain][z_ok], h_paid_known[plain][z_ok], {"z": z[z_ok]})
        sea_key = h_cust * 12 + (np.asarray(pd.DatetimeIndex(h_due_day.astype("datetime64[D]")).month) - 1)
        season = Stream(sea_key[is_paid], h_paid_known[is_paid], {"dl": dl[is_paid]})
        return excess, season

    def _static(self, arr: np.ndarray, qc: np.ndarray, fill=np.nan) -> np.ndarray:
        known = qc < len(arr)
        out = np.full(len(qc), fill, dtype=arr.dtype if arr.dtype != object else object)
        out[known] = arr[qc[known]]
        return out

    # Few distinct days (scoring: as-of, and as-of - 14 for the warnings): count the open invoices of
    # those days directly, one pass per day. Many days (training, backtests, alert timelines): event
    # streams, one sort for all days. Both give the same numbers (tests/ml/test_features.py).
    DIRECT_DAYS = 4

    @property
    def by_due(self) -> Stream:
        """Invoices by due date, each with whether it was still unpaid d days past it (``COHORT_LAGS``):
        known d + 1 days after the due date, whether or not it has been paid since."""
        if self._by_due is None:
            closed, due = self.h_closed_known, self.h_due_day
            self._by_due = Stream(
                self.h_cust, due, {f"open{d}": (closed > due + d).astype("int64") for d in COHORT_LAGS}
            )
        return self._by_due

    def cohort_counts(self, qc: np.ndarray, qt: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray]:
        """(invoices due in the ``COHORT_WINDOW`` days to ``qt - d - 1``, those of them unpaid d days
        past due) per query. Few distinct days (scoring): counted directly, as ``_open_state``."""
        days = np.unique(qt)
        if len(days) > self.DIRECT_DAYS:
            end = qt - d - 1
            return self.by_due.window("n", qc, end, COHORT_WINDOW), self.by_due.window(
                f"open{d}", qc, end, COHORT_WINDOW
            )
        size = int(max(self.h_cust.max(initial=-1), qc.max(initial=-1))) + 1
        n = np.zeros(len(qc), dtype="int64")
        unpaid = np.zeros(len(qc), dtype="int64")
        for t in days:
            sel = qt == t
            end = t - d - 1
            m = (self.h_due_day <= end) & (self.h_due_day > end - COHORT_WINDOW)
            k = self.h_cust[m]
            n[sel] = np.bincount(k, minlength=size)[qc[sel]]
            late = self.h_closed_known[m] > self.h_due_day[m] + d
            unpaid[sel] = np.bincount(k[late], minlength=size)[qc[sel]]
        return n, unpaid

    def _open_state(self, qkeys: np.ndarray, qt: np.ndarray, family: bool = False) -> dict[str, np.ndarray]:
        keys = self.h_fam if family else self.h_cust
        days = np.unique(qt)
        if len(days) <= self.DIRECT_DAYS:
            return self._open_state_direct(keys, qkeys, qt, days)
        streams = self._streams(family)
        out = {
            "open_n": streams["open"].total("n", qkeys, qt),
            "open_amount": streams["open"].total("amount", qkeys, qt),
        }
        for k in OVERDUE_THRESHOLDS:
            s = streams[k]
            out[f"od{k}_n"] = s.total("n", qkeys, qt)
            out[f"od{k}_amount"] = s.total("amount", qkeys, qt)
            out[f"od{k}_due"] = s.total("due", qkeys, qt)
        if not family:
            out["stuck_n"] = streams["stuck"].total("n", qkeys, qt)
            out["stuck_due"] = streams["stuck"].total("due", qkeys, qt)
        return out

    def _streams(self, family: bool) -> dict:
        if self._open_streams is None:
            self._open_streams = {}
        if family not in self._open_streams:
            keys = self.h_fam if family else self.h_cust
            amount, closed = self.h_amount, self.h_closed_known
            streams: dict = {
                k: _overdue_stream(keys, self.h_due_day, closed, amount, k) for k in OVERDUE_THRESHOLDS
            }
            op = Stream(
                np.concatenate([keys, keys]),
                np.concatenate([self.h_inv_day, closed]),
                {"amount": np.concatenate([amount, -amount])},
            )
            op.add("n", np.concatenate([np.ones(len(keys), "int64"), -np.ones(len(keys), "int64")]))
            streams["open"] = op
            if not family:
                streams["stuck"] = _overdue_stream(keys, self.h_expected_day, closed, amount, STUCK_DAYS)
            self._open_streams[family] = streams
        return self._open_streams[family]

    def _open_state_direct(self, keys, qkeys, qt, days) -> dict[str, np.ndarray]:
        size = int(max(keys.max(initial=-1), qkeys.max(initial=-1))) + 1
        names = ["open_n", "open_amount"] + [
            f"od{k}_{v}" for k in OVERDUE_THRESHOLDS for v in ("n", "amount", "due")
        ]
        stuck = keys is self.h_cust
        if stuck:
            names += ["stuck_n", "stuck_due"]
        out = {n: np.zeros(len(qkeys), dtype="int64") for n in names}
        for t in days:
            sel = qt == t
            is_open = (self.h_inv_day <= t) & (self.h_closed_known > t)
            k_open, due, amount = keys[is_open], self.h_due_day[is_open], self.h_amount[is_open]
            qk = qkeys[sel]
            out["open_n"][sel] = np.bincount(k_open, minlength=size)[qk]
            out["open_amount"][sel] = _bincount_int(k_open, amount, size)[qk]
            for k in OVERDUE_THRESHOLDS:
                m = due + k + 1 <= t
                out[f"od{k}_n"][sel] = np.bincount(k_open[m], minlength=size)[qk]
                out[f"od{k}_amount"][sel] = _bincount_int(k_open[m], amount[m], size)[qk]
                out[f"od{k}_due"][sel] = _bincount_int(k_open[m], due[m], size)[qk]
            if stuck:
                exp = self.h_expected_day[is_open]
                m = exp + STUCK_DAYS + 1 <= t
                out["stuck_n"][sel] = np.bincount(k_open[m], minlength=size)[qk]
                out["stuck_due"][sel] = _bincount_int(k_open[m], exp[m], size)[qk]
        return out

    def customer(self, qc: np.ndarray, qt: np.ndarray) -> dict[str, np.ndarray]:
        """Customer-level state at the end of day ``qt`` for customer codes ``qc``."""
        f: dict[str, np.ndarray] = {}
        issued, paid = self.issued, self.paid
        f["usual_amount"] = issued.last(self.med_amount, qc, qt) / 100.0
        # (only at the queried days: a 100-wide median at every invoice is the dearest step of all)
        f["usual_doc_amount"] = window_quantiles(
            issued.keys, issued.values["doc"], USUAL_AMOUNT_WINDOW, (0.5,), at=issued.last_index(qc, qt)
        )[0.5]
        f["issued_90"] = issued.window("n", qc, qt, 90).astype("float64")
        f["billed_365"] = issued.window("amount", qc, qt, 365) / 100.0
        n_issued_365 = issued.window("n", qc, qt, 365)

        n_paid = paid.total("n", qc, qt)
        f["n_paid"] = n_paid.astype("float64")
        s_dl = paid.total("dl", qc, qt)
        f["dl_mean"] = _div(s_dl, n_paid)
        f["dl_std"] = _std(n_paid, s_dl, paid.total("dl2", qc, qt))
        f["share_late"] = _div(paid.total("late", qc, qt), n_paid)
        f["share_late30"] = _div(paid.total("late30", qc, qt), n_paid)
        f["share_partial"] = _div(paid.total("partial", qc, qt), n_paid)
        f["dtp_mean"] = _div(paid.total("dtp", qc, qt), n_paid)
        last = paid.last_index(qc, qt)
        dl_sorted = paid.values["dl"]
        f["dl_median"] = window_quantiles(paid.keys, dl_sorted, BASELINE_WINDOW, (0.5,), at=last)[0.5]
        f["dl_median_last10"] = window_quantiles(paid.keys, dl_sorted, 10, (0.5,), at=last)[0.5]
        f["dl_ewm"] = window_ewm(paid.keys, dl_sorted, span=5, at=last)
        f["dl_last"] = paid.last(paid.values["dl"].astype("float64"), qc, qt)
        # the level of the last five settlements: the customer's current habit, before a slide shows
        # in the longer windows
        p_start, p_end = paid.bounds(qc, qt)
        lo5 = np.maximum(p_start, p_end - 5)
        f["dl_mean_last5"] = _div(paid.cum["dl"][p_end] - paid.cum["dl"][lo5], p_end - lo5)
        f["early_pay_share"] = _div(paid.total("early", qc, qt), n_paid)
        f["discount_take_share"] = _div(paid.total("disc", qc, qt), n_paid)
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
        f["dl_slope_180"] = _slope(
            n180,
            paid.window("u", qc, qt, 180),
            paid.window("dl", qc, qt, 180),
            paid.window("uy", qc, qt, 180),
            paid.window("uu", qc, qt, 180),
        )
        f["amount_slope"] = _slope(
            n_paid, paid.total("x", qc, qt), s_dl, paid.total("xy", qc, qt), paid.total("xx", qc, qt), min_n=8
        )
        f["last_paid_day"] = paid.last(paid.days.astype("float64"), qc, qt)
        f["days_since_paid"] = qt - f["last_paid_day"]
        paid_365 = paid.window("n", qc, qt, 365)
        f["paid_gap_ratio"] = f["days_since_paid"] * _div(np.maximum(paid_365, 1), 365.0)
        wd_counts = np.stack([paid.total(f"wd{k}", qc, qt) for k in range(7)], axis=1)
        f["pay_wd_mode"] = np.where(n_paid > 0, wd_counts.argmax(axis=1), np.nan)
        f["pay_wd_share"] = _div(wd_counts.max(axis=1), n_paid)
        f["month_end_pay_share"] = _div(paid.total("month_end", qc, qt), n_paid)
        f["mid_month_pay_share"] = _div(paid.total("mid_month", qc, qt), n_paid)

        # the customer's own past against its recent behaviour (risk module)
        f["baseline_median"] = window_quantiles(
            paid.keys, dl_sorted, BASELINE_WINDOW, (0.5,), at=paid.last_index(qc, qt - RECENT_DAYS)
        )[0.5]
        nb = paid.window("n", qc, qt - RECENT_DAYS, BASELINE_DAYS)
        f["baseline_n"] = nb.astype("float64")
        f["baseline_std"] = _std(
            nb,
            paid.window("dl", qc, qt - RECENT_DAYS, BASELINE_DAYS),
            paid.window("dl2", qc, qt - RECENT_DAYS, BASELINE_DAYS),
        )
        f["recent_n"] = f["n_paid_90"]
        f["recent_mean"] = f["dl_mean_90"]
        ny = paid.window("n", qc, qt - 365, RECENT_DAYS)
        f["last_year_n"] = ny.astype("float64")
        f["last_year_mean"] = _div(paid.window("dl", qc, qt - 365, RECENT_DAYS), ny)
        nz = self.excess.window("n", qc, qt, RECENT_DAYS)
        f["recent_z_n"] = nz.astype("float64")
        f["recent_z"] = _div(self.excess.window("z", qc, qt, RECENT_DAYS), nz)
        nzy = self.excess.window("n", qc, qt - 365, RECENT_DAYS)
        f["last_year_z_n"] = nzy.astype("float64")
        f["last_year_z"] = _div(self.excess.window("z", qc, qt - 365, RECENT_DAYS), nzy)

        st = self._open_state(qc, qt)
        open_amount = st["open_amount"] / 100.0
        f["open_amount"] = open_amount
        f["open_count"] = st["open_n"].astype("float64")
        f["open_amount_log"] = np.log10(np.clip(open_amount, 0, None) + 1)
        od0_n = st["od0_n"]
        f["od_amount"] = st["od0_amount"] / 100.0
        f["od_count"] = od0_n.astype("float64")
        f["od_amount_share"] = _div(f["od_amount"], open_amount)
        f["od_mean_dpd"] = qt - _div(st["od0_due"], od0_n)
        for k in (30, 60, 90):
            f[f"od{k}_count"] = st[f"od{k}_n"].astype("float64")
        f["od30_amount_share"] = _div(st["od30_amount"] / 100.0, open_amount)
        f["stuck_count"] = st["stuck_n"].astype("float64")
        f["stuck_share"] = _div(st["stuck_n"], st["open_n"])
        f["stuck_mean_days"] = qt - _div(st["stuck_due"], st["stuck_n"])
        f["od60_amount"] = st["od60_amount"] / 100.0
        f["od90_amount"] = st["od90_amount"] / 100.0
        f["credit_limit"] = self._static(self.credit_limit, qc)
        f["credit_use"] = _div(open_amount, f["credit_limit"])
        f["open_months_billing"] = _div(open_amount, f["billed_365"] / 12.0)

        f["dispute_share_365"] = _div(self.disputes.window("n", qc, qt, 365), n_issued_365)
        f["n_deductions"] = self.disputes.total("ded", qc, qt).astype("float64")
        if self.promises is not None:
            kept, broken = self.promises.total("kept", qc, qt), self.promises.total("broken", qc, qt)
            f["promises_kept"], f["promises_broken"] = kept.astype("float64"), broken.astype("float64")
            f["promise_keep_rate"] = _div(kept, kept + broken)
        else:
            for k in ("promises_kept", "promises_broken", "promise_keep_rate"):
                f[k] = np.full(len(qc), np.nan)
        if self.activities is not None:
            f["contacts_90"] = self.activities.window("n", qc, qt, 90).astype("float64")
            f["response_rate"] = _div(
                self.activities.total("resp", qc, qt), self.activities.total("n", qc, qt)
            )
        else:
            f["contacts_90"] = np.full(len(qc), np.nan)
            f["response_rate"] = np.full(len(qc), np.nan)
        # parent level: subsidiaries of one group tend to pay through one treasury
        if self.family is not None:
            q_fam = self.codes.fam(qc)
            f["family_dl_mean_180"] = _div(
                self.family.window("dl", q_fam, qt, 180), self.family.window("n", q_fam, qt, 180)
            )
            f["family_od30_count"] = self._open_state(q_fam, qt, family=True)["od30_n"].astype("float64")
        else:
            f["family_dl_mean_180"] = f["dl_mean_180"]
            f["family_od30_count"] = f["od30_count"]
        f["segment"] = self._static(self.segment, qc)
        return f


def customer_features(
    h: InvoiceHistory, customer_ids, as_of, ctx: FeatureContext | None = None
) -> pd.DataFrame:
    """Customer-level state (model features plus ``RISK_COLUMNS``) at the end of each ``as_of``."""
    ctx = ctx or FeatureContext(h)
    ids = np.asarray(customer_ids, dtype=object)
    qt = to_days(
        pd.Series(as_of)
        if not np.isscalar(as_of) and not isinstance(as_of, dt.date)
        else pd.Series([as_of] * len(ids))
    )
    f = ctx.customer(ctx.codes.cust(ids), qt)
    out = pd.DataFrame({k: f[k] for k in list(_CUSTOMER_FEATURES) + list(RISK_COLUMNS)})
    out.insert(0, "customer_id", ids)
    out.insert(1, "as_of_day", qt)
    return out


def build_features(h: InvoiceHistory, rows: pd.DataFrame, ctx: FeatureContext | None = None) -> pd.DataFrame:
    """Feature frame aligned with ``rows`` (same order). ``rows`` holds the invoices' static columns
    and ``as_of``; the history is only consulted up to each row's as_of (end of day, inclusive)."""
    ctx = ctx or FeatureContext(h)
    codes = ctx.codes
    t = to_days(rows["as_of"])
    r_cust, r_inv = codes.of_rows(rows)
    r_inv_day = to_days(rows["invoice_date"])
    r_due_day = to_days(rows["due_date"])
    r_amount = rows["amount_functional_minor"].to_numpy(dtype="float64") / 100.0

    # Customer-level state is computed once per distinct (customer, as_of) and broadcast to rows.
    # (one integer key per pair and np.unique: a frame drop_duplicates + merge costs seconds at 1M rows)
    pair = r_cust.astype("int64") * _DAY_SPAN + (t.astype("int64") + _DAY_OFFSET)
    uniq, back = np.unique(pair, return_inverse=True)
    back = back.reshape(-1)
    u_cust, u_t = uniq // _DAY_SPAN, uniq % _DAY_SPAN - _DAY_OFFSET
    f = ctx.customer(u_cust, u_t)
    last_paid = ctx.paid.last_index(u_cust, u_t)
    out = pd.DataFrame({k: f[k][back] for k in _CUSTOMER_FEATURES})

    out["amount_log"] = np.log10(np.clip(r_amount, 0, None) + 1)
    ratio = np.log2(np.clip(_div(r_amount, f["usual_amount"][back]), 1 / 16, 16))
    out["amount_ratio_log2"] = ratio
    r_doc = rows["amount_minor"].to_numpy(dtype="float64")
    out["amount_vs_usual_log2"] = np.log2(np.clip(_div(r_doc, f["usual_doc_amount"][back]), 1 / 16, 16))
    out["amount_effect"] = out["amount_slope"].to_numpy() * np.nan_to_num(ratio)
    out["terms_days"] = (r_due_day - r_inv_day).astype("float64")
    out["discount_pct"] = rows["discount_pct"].to_numpy(dtype="float64")
    inv_dates = pd.DatetimeIndex(r_inv_day.astype("datetime64[D]"))
    due_dates = pd.DatetimeIndex(r_due_day.astype("datetime64[D]"))
    out["inv_weekday"] = np.asarray(inv_dates.weekday, dtype="float64")
    out["inv_month_end"] = (np.asarray(inv_dates.days_in_month) - np.asarray(inv_dates.day) <= 2).astype(
        "float64"
    )
    out["due_weekday"] = np.asarray(due_dates.weekday, dtype="float64")
    out["due_day"] = np.asarray(due_dates.day, dtype="float64")
    out["due_month"] = np.asarray(due_dates.month, dtype="float64")
    out["due_days_to_month_end"] = (np.asarray(due_dates.days_in_month) - np.asarray(due_dates.day)).astype(
        "float64"
    )
    out["due_quarter_end"] = np.isin(np.asarray(due_dates.month), (3, 6, 9, 12)).astype("float64")
    out["age_days"] = (t - r_inv_day + 1).astype("float64")
    out["days_to_due"] = (r_due_day - t).astype("float64")
    out["due_to_run_days"] = np.where(
        out["pay_wd_share"].to_numpy() >= 0.4,
        (out["pay_wd_mode"].to_numpy() - out["due_weekday"].to_numpy()) % 7,
        np.nan,
    )
    out["trend_extrapolated"] = out["dl_slope_180"].to_numpy() / 30.4 * np.clip(r_due_day - t, 0, None)

    # Where this invoice's amount sits against the customer's instalment and discount thresholds.
    r_la = np.log2(np.maximum(r_amount, 1.0))
    for name, extreme in ctx.amount_extremes.items():
        out[f"vs_{name}_log2"] = r_la - _take_last(extreme, last_paid)[back]
    # Where the customer's usual lateness lands this invoice: payment runs go out on set days (month
    # end, the 15th, one weekday), so the day the usual lateness reaches decides the next run.
    usual = r_due_day + np.round(np.nan_to_num(out["dl_median"].to_numpy(), nan=0.0)).astype("int64")
    usual_dates = pd.DatetimeIndex(usual.astype("datetime64[D]"))
    usual_day = np.asarray(usual_dates.day)
    known = out["n_paid"].to_numpy() > 0
    out["usual_day"] = np.where(known, usual_day, np.nan)
    out["usual_to_month_end"] = np.where(known, np.asarray(usual_dates.days_in_month) - usual_day, np.nan)
    out["usual_to_15th"] = np.where(known, (15 - usual_day) % 31, np.nan)
    out["usual_to_pay_weekday"] = np.where(
        known, (out["pay_wd_mode"].to_numpy() - np.asarray(usual_dates.weekday)) % 7, np.nan
    )

    # The customer's pay-run calendar: money goes out on the first run on or after the day the
    # customer means to pay, so a payment lands on a run day. The settlements seen so far are
    # post-run (median = intent + the average wait for a run); taking the average wait back off
    # and projecting this due date through each calendar gives the run this invoice will catch:
    # the shift against the plain median is what the due date's place in the calendar adds.
    med = out["dl_median"].to_numpy()
    for name, wait in (("weekly", 3), ("semi", 7), ("month_end", 15)):
        intent = r_due_day + np.round(np.nan_to_num(med, nan=0.0) - wait).astype("int64")
        if name == "weekly":
            mode = np.nan_to_num(out["pay_wd_mode"].to_numpy(), nan=0.0).astype("int64")
            run = intent + (mode - _weekday(intent)) % 7
        elif name == "semi":
            run = _per_day(_semi_monthly_run, intent)
        else:
            run = _per_day(_month_end_run, intent)
        out[f"run_shift_{name}"] = np.where(known, run - r_due_day - med, np.nan)

    # Same season last year: mean days late of invoices due within a month of this due month. Only
    # settlements known 9+ months ago count as "last season"; newer ones are just recent history.
    # (per distinct (customer, day, due month): a few per customer, not one per row)
    rm = np.asarray(due_dates.month) - 1
    trip, back_m = np.unique(back.astype("int64") * 12 + rm, return_inverse=True)
    back_m = back_m.reshape(-1)
    t_pair, t_month = trip // 12, trip % 12
    sn = np.zeros(len(trip), dtype="float64")
    ss = np.zeros(len(trip), dtype="float64")
    for shift in (-1, 0, 1):
        key = u_cust[t_pair] * 12 + (t_month + shift) % 12
        sn += ctx.season.total("n", key, u_t[t_pair] - 270)
        ss += ctx.season.total("dl", key, u_t[t_pair] - 270)
    season = _div(ss, sn)
    season[sn < 2] = np.nan
    season = season[back_m]
    out["season_excess"] = season - out["dl_mean"].to_numpy()

    _history_shape_features(
        ctx, out, u_cust, u_t, back, r_due_day, rows, r_cust, t, usual, f["amount_slope"], f["pay_wd_mode"]
    )

    # the invoice's own facts known at as_of
    r_dispute = _lookup_day(ctx.h_dispute_day, r_inv, t)
    out["disputed"] = (r_dispute < NEVER).astype("float64")
    out["days_since_dispute"] = np.where(r_dispute < NEVER, t - r_dispute, np.nan)
    out["deduction"] = (_lookup_day(ctx.ded_day, r_inv, t) < NEVER).astype("float64")
    out["partially_paid"] = (_lookup_day(ctx.first_paid_day, r_inv, t) < NEVER).astype("float64")
    if ctx.promise_made is not None:
        out["promise_days"] = ctx.promise_made.last(ctx.promised_day, r_inv, t) - t
        out["promises_on_invoice"] = ctx.promise_made.total("n", r_inv, t).astype("float64")
        out["broken_on_invoice"] = ctx.promise_res.total("broken", r_inv, t).astype("float64")
    else:
        out["promise_days"] = np.nan
        out["promises_on_invoice"] = 0.0
        out["broken_on_invoice"] = 0.0
    if ctx.invoice_activities is not None:
        out["contacts_on_invoice"] = ctx.invoice_activities.total("n", r_inv, t).astype("float64")
    else:
        out["contacts_on_invoice"] = 0.0

    country = ctx._static(ctx.country, r_cust, fill="")
    cal = calendar_features(r_inv_day, r_due_day, country)
    for c in cal.columns:
        out[c] = cal[c].to_numpy()
    terms = rows["terms"].map(TERMS_CODES).to_numpy(dtype="float64", na_value=np.nan)
    out["terms_code"] = np.where(np.isnan(terms), ctx._static(ctx.terms, r_cust), terms)
    for c in ctx.h.extra_features:
        out[f"x_{c}"] = _extra_feature(rows[c]) if c in rows.columns else np.nan
    return out[feature_names(ctx.h.extra_features)]


def _per_day(fn, days: np.ndarray) -> np.ndarray:
    """``fn(days)`` computed once per distinct day: calendar arithmetic through datetime64 months
    costs ~0.1 s a million values, and a million settlements fall on a few hundred days."""
    days = np.asarray(days, dtype="int64")
    if len(days) < 1000:
        return fn(days)
    lo, hi = int(days.min()), int(days.max())
    if hi - lo < len(days):
        # every day of the span once, then a lookup: np.unique sorted the millions of values instead
        # (3.5 of the 18 s of a million open invoices' event streams)
        return fn(np.arange(lo, hi + 1, dtype="int64"))[days - lo]
    uniq, back = np.unique(days, return_inverse=True)
    return fn(uniq)[back.reshape(-1)]


def _month_of(days: np.ndarray) -> np.ndarray:
    m = np.asarray(days, dtype="int64").astype("datetime64[D]").astype("datetime64[M]").astype("int64")
    return (m % 12 + 1).astype("float64")


def _dom_bucket(days: np.ndarray) -> np.ndarray:
    """Six parts of the month by day of month (1-5, 6-10, ..., 26-31)."""
    days = np.asarray(days, dtype="int64")
    first = days.astype("datetime64[D]").astype("datetime64[M]").astype("datetime64[D]").astype("int64")
    return np.minimum((days - first) // 5, DOM_BUCKETS - 1)


def _size_bucket(amount_minor: np.ndarray) -> np.ndarray:
    return np.clip(np.floor(np.log2(np.maximum(amount_minor / 100.0, 1.0))), 0, SIZE_BUCKETS - 1).astype(
        "int64"
    )


def _history_shape_features(
    ctx, out, u_cust, u_t, back, r_due_day, rows, r_cust, t, usual, slope_pairs, wd_pairs
) -> None:
    """Seasonal cycle, trend projected to the due date, same-size habits, recent discount and
    instalment habits, and the calendar window the usual payment day lands in."""
    paid = ctx.paid
    # one harmonic + linear trend, least squares with a small ridge, per distinct (customer, day)
    names = ("n", "u", "hc", "hs", "uu", "huc", "hus", "hcc", "hcs", "hss", "dl", "uy", "hyc", "hys")
    start, end = paid.bounds(u_cust, u_t)
    tot = {k: paid.cum[k][end] - paid.cum[k][start] for k in names}
    n = tot["n"].astype("float64")
    A = np.empty((len(n), 4, 4))
    A[:, 0] = np.stack([n, tot["u"], tot["hc"], tot["hs"]], axis=1)
    A[:, 1] = np.stack([tot["u"], tot["uu"], tot["huc"], tot["hus"]], axis=1)
    A[:, 2] = np.stack([tot["hc"], tot["huc"], tot["hcc"], tot["hcs"]], axis=1)
    A[:, 3] = np.stack([tot["hs"], tot["hus"], tot["hcs"], tot["hss"]], axis=1)
    A[:, 0, 0] += 1e-6
    for j in (1, 2, 3):
        A[:, j, j] += SEASON_RIDGE
    b = np.stack([tot["dl"], tot["uy"], tot["hyc"], tot["hys"]], axis=1).astype("float64")
    coef = np.full((len(n), 4), np.nan)
    ok = n >= 8
    if ok.any():
        coef[ok] = np.linalg.solve(A[ok], b[ok][:, :, None])[:, :, 0]
    coef = coef[back]
    ang = 2 * np.pi * _per_day(_month_of, r_due_day) / 12.0
    r_u = (r_due_day - 20000) / 30.4
    season = coef[:, 2] * np.cos(ang) + coef[:, 3] * np.sin(ang)
    out["season_fit"] = season
    out["season_amp"] = np.hypot(coef[:, 2], coef[:, 3])
    out["harmonic_at_due"] = np.clip(coef[:, 0] + coef[:, 1] * r_u + season, DAYS_LATE_MIN, DAYS_LATE_CAP)

    # the last 180 days' linear trend (by due date) read at this invoice's due date
    n180 = paid.window("n", u_cust, u_t, 180).astype("float64")
    mu_u = _div(paid.window("u", u_cust, u_t, 180), n180)
    mu_y = _div(paid.window("dl", u_cust, u_t, 180), n180)
    slope = out["dl_slope_180"].to_numpy()
    out["trend_at_due"] = np.clip(mu_y[back] + slope * (r_u - mu_u[back]), DAYS_LATE_MIN, DAYS_LATE_CAP)

    # same-size settlements: this doubling bucket and its two neighbours
    size = _size_bucket(rows["amount_minor"].to_numpy(dtype="int64"))
    sized = ctx.sized
    acc = {k: np.zeros(len(size)) for k in ("n", "dl", "split", "disc")}
    for shift, w in ((0, 1.0), (-1, 0.5), (1, 0.5)):
        bk = np.clip(size + shift, 0, SIZE_BUCKETS - 1)
        s0, s1 = sized.bounds(r_cust * SIZE_BUCKETS + bk, t)
        for k in acc:
            acc[k] += w * (sized.cum[k][s1] - sized.cum[k][s0])
    out["size_dl_mean"] = _div(acc["dl"], acc["n"])
    out["size_n"] = acc["n"]
    out["size_split_share"] = _div(acc["split"], acc["n"])
    out["size_disc_share"] = _div(acc["disc"], acc["n"])

    for name, stream, key in (
        ("due_dom_dl_mean", ctx.by_due_dom, r_cust * DOM_BUCKETS + _per_day(_dom_bucket, r_due_day)),
        ("due_wd_dl_mean", ctx.by_due_wd, r_cust * 7 + _weekday(r_due_day)),
    ):
        s0, s1 = stream.bounds(key, t)
        nk = s1 - s0
        mean = _div(stream.cum["dl"][s1] - stream.cum["dl"][s0], nk)
        mean[nk < 2] = np.nan
        out[name] = mean

    n90 = paid.window("n", u_cust, u_t, 90)
    out["discount_take_share_90"] = _div(paid.window("disc", u_cust, u_t, 90), n90)[back]
    out["partial_share_120"] = _div(
        paid.window("partial", u_cust, u_t, 120), paid.window("n", u_cust, u_t, 120)
    )[back]
    out["split_gap_mean"] = _div(paid.total("split_gap", u_cust, u_t), paid.total("partial", u_cust, u_t))[
        back
    ]

    # AP calendars: the year-end close, August in Europe, quarter-end holds
    ud = pd.DatetimeIndex(usual.astype("datetime64[D]"))
    um, uday = np.asarray(ud.month), np.asarray(ud.day)
    window = np.where(
        ((um == 12) & (uday >= 15)) | ((um == 1) & (uday <= 5)),
        1,
        np.where(um == 8, 2, np.where(np.isin(um, (3, 6, 9, 12)) & (uday >= 19), 3, 0)),
    )
    out["usual_calendar_window"] = np.where(out["n_paid"].to_numpy() > 0, window, np.nan).astype("float64")
    proj = _run_projection(
        ctx,
        u_cust,
        u_t,
        back,
        r_due_day,
        out["pay_wd_mode"].to_numpy(),
        slope_pairs,
        out["amount_ratio_log2"].to_numpy(),
        wd_pairs,
    )
    for name, v in proj.items():
        out[name] = v

    est, shares = _cohort_lateness(ctx, u_cust, u_t)
    out["cohort_vs_median"] = est[back]
    for d in (0, 30, 60):
        out[f"cohort_open{d}_share"] = shares[d][back]

    # Levels as differences from the customer's overall habit: the quantile models start from the
    # median days late and learn corrections to it, and a tree splits on a difference in one go.
    med, mean = out["dl_median"].to_numpy(), out["dl_mean"].to_numpy()
    for c in (
        "trend_at_due",
        "harmonic_at_due",
        "run_proj_month_end",
        "run_proj_semi",
        "run_proj_weekly",
        "cohort_vs_median",
    ):
        out[c] = out[c].to_numpy() - med
    for c in ("size_dl_mean", "due_dom_dl_mean", "due_wd_dl_mean"):
        out[c] = out[c].to_numpy() - mean
    out["recent_vs_median"] = out["dl_mean_90"].to_numpy() - med
    out["last10_vs_median"] = out["dl_median_last10"].to_numpy() - med
    cur = rows["currency"] if "currency" in rows else pd.Series(np.nan, index=rows.index)
    out["currency_code"] = cur.map(CURRENCY_CODES).to_numpy(dtype="float64", na_value=np.nan)


def _cohort_lateness(ctx, qc: np.ndarray, qt: np.ndarray) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """(median days late of the invoices due lately, read off the shares still unpaid at each lag;
    those shares by lag) at the end of day ``qt``. Each share is over a cohort that has had its d
    days in full, so unpaid invoices count (as later than d) instead of dropping out."""
    lags = np.asarray(COHORT_LAGS, dtype="float64")
    S = np.full((len(qc), len(lags)), np.nan)
    for j, d in enumerate(COHORT_LAGS):
        n, unpaid = ctx.cohort_counts(qc, qt, d)
        share = _div(unpaid, n)
        share[n < 2] = np.nan
        S[:, j] = share
    # later lags read older cohorts: the survival curve is made non-increasing before it is read
    mono = np.fmin.accumulate(S, axis=1)
    below = mono <= 0.5
    j = below.argmax(axis=1)
    prev = mono[np.arange(len(qc)), np.maximum(j - 1, 0)]
    cur = mono[np.arange(len(qc)), j]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.clip((prev - 0.5) / (prev - cur), 0.0, 1.0)
    est = np.where(
        j > 0,
        lags[np.maximum(j - 1, 0)] + np.nan_to_num(frac, nan=1.0) * (lags[j] - lags[np.maximum(j - 1, 0)]),
        lags[0],
    )
    # never down to half: later than the last lag read (a lower bound, as a censored value is)
    known = ~np.isnan(S)
    last_known = np.where(known.any(axis=1), lags[len(lags) - 1 - known[:, ::-1].argmax(axis=1)], np.nan)
    est = np.where(below.any(axis=1), est, last_known)
    return est, {d: S[:, i] for i, d in enumerate(COHORT_LAGS)}


def _take_last(values: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``values`` at event indexes from ``Stream.last_index`` (-1: no event yet, NaN)."""
    out = np.full(len(idx), np.nan)
    has = idx >= 0
    out[has] = values[idx[has]]
    return out


def _weekday(days: np.ndarray) -> np.ndarray:
    """Monday = 0, as ``datetime.date.weekday`` (1970-01-01 was a Thursday)."""
    return (np.asarray(days, dtype="int64") + 3) % 7


def _last_business_day(month_first: np.ndarray) -> np.ndarray:
    """The last Monday-to-Friday day of the month starting on ``month_first`` (days since epoch).
    Weekends only: the country's holidays move a run by a day now and then, a feature can live with it."""
    m = month_first.astype("datetime64[D]").astype("datetime64[M]")
    last = ((m + 1).astype("datetime64[D]") - np.timedelta64(1, "D") - _EPOCH).astype("int64")
    wd = _weekday(last)
    return last - np.where(wd == 5, 1, np.where(wd == 6, 2, 0))


def _month_end_run(days: np.ndarray) -> np.ndarray:
    """The first month-end run (last business day of a month) on or after each day."""
    days = np.asarray(days, dtype="int64")
    first = (days.astype("datetime64[D]").astype("datetime64[M]").astype("datetime64[D]") - _EPOCH).astype(
        "int64"
    )
    run = _last_business_day(first)
    nxt_first = (
        (first.astype("datetime64[D]").astype("datetime64[M]") + 1).astype("datetime64[D]") - _EPOCH
    ).astype("int64")
    return np.where(days > run, _last_business_day(nxt_first), run)


def _first_of_month(days: np.ndarray) -> np.ndarray:
    d = (
        np.asarray(days, dtype="int64")
        .astype("datetime64[D]")
        .astype("datetime64[M]")
        .astype("datetime64[D]")
    )
    return (d - _EPOCH).astype("int64")


def _latest_month_end_run(days: np.ndarray) -> np.ndarray:
    """The last month-end run on or before each day."""
    days = np.asarray(days, dtype="int64")
    first = _first_of_month(days)
    this = _month_end_run(first)
    return np.where(this <= days, this, _month_end_run(first - 20))


def _latest_semi_monthly_run(days: np.ndarray) -> np.ndarray:
    """The last semi-monthly run (the 15th past a weekend, or the month-end run) on or before each day."""
    days = np.asarray(days, dtype="int64")
    first = _first_of_month(days)
    mid = _semi_monthly_run(first)
    end = _month_end_run(first)
    return np.where(end <= days, end, np.where(mid <= days, mid, _month_end_run(first - 20)))


def _run_projection(
    ctx, u_cust, u_t, back, r_due_day, wd_mode: np.ndarray, slope, ratio, wd_mode_pairs, k: int = RUN_WINDOW
) -> dict[str, np.ndarray]:
    """Per run calendar: the day this invoice's payment goes out if the customer's intended delay is
    the one most of its last ``k`` settlements agree with (relative to the due date), and how many
    days off that delay and calendar put those settlements on average. A customer paying on that
    calendar replays its own past almost exactly; one that pays any day does not."""
    paid = ctx.paid
    if len(paid.comp) == 0:  # nothing settled yet: no calendar to read
        nan = np.full(len(r_due_day), np.nan)
        return {f"run_{kind}_{n}": nan for n in ("month_end", "semi", "weekly") for kind in ("proj", "miss")}
    last = paid.last_index(u_cust, u_t)
    pos = _positions(paid.keys)
    ok = last >= 0
    n_avail = np.where(ok, pos[np.maximum(last, 0)] + 1 if len(pos) else 0, 0)
    lags = np.arange(k, dtype="int64")
    idx = np.maximum(last[:, None] - lags[None, :], 0)
    valid = lags[None, :] < np.minimum(n_avail, k)[:, None]
    # Bigger invoices are meant to be paid later (approvals): the votes are on the delay of an invoice
    # of the usual amount, moved by the customer's days per doubling (``amount_slope``).
    beta = np.clip(np.nan_to_num(slope, nan=0.0), 0.0, 8.0)
    shift = beta[:, None] * ctx.s_ratio[idx]
    out = {}
    for name, (lo, hi, fl) in ctx.run_bounds.items():
        L, H = lo[idx] - shift, hi[idx] - shift
        L[~valid], H[~valid] = np.inf, -np.inf
        # coverage of each candidate (an upper end): intervals (lo, hi] holding it
        cover = ((L[:, None, :] < H[:, :, None]) & (H[:, :, None] <= H[:, None, :])).sum(axis=2)
        cover[~valid] = -1
        best = cover.argmax(axis=1)
        c = H[np.arange(len(H)), best]
        holds = (c[:, None] > L) & (c[:, None] <= H)
        lo_r = np.where(holds, L, -np.inf).max(axis=1)
        hi_r = np.where(holds, H, np.inf).min(axis=1)
        with np.errstate(invalid="ignore"):
            x = np.where(np.isfinite(lo_r), (lo_r + 1 + hi_r) / 2, hi_r)
        F = fl[idx].astype("float64")
        F[~valid] = np.nan
        with np.errstate(all="ignore"):
            flt = np.nanmedian(np.where(valid.any(axis=1)[:, None], F, 0.0), axis=1)
        # how well this calendar and delay replay the customer's own last settlements (days off on
        # average): near zero for a customer that pays on that calendar, large for one that does not
        flt0 = np.nan_to_num(flt)
        intent_i = ctx.s_due_day[idx] + np.round(
            np.nan_to_num(x, posinf=0.0, neginf=0.0)[:, None] + shift
        ).astype("int64")
        if name == "weekly":
            wd_p = np.nan_to_num(wd_mode_pairs, nan=0.0).astype("int64")[:, None]
            day_i = intent_i + (wd_p - _weekday(intent_i)) % 7
        else:
            runf = _month_end_run if name == "month_end" else _semi_monthly_run
            day_i = (
                _per_day(runf, intent_i.ravel()).reshape(intent_i.shape)
                + np.round(flt0).astype("int64")[:, None]
            )
        miss = np.abs(day_i - ctx.s_paid_day[idx]).astype("float64")
        fit_err = _div(np.where(valid, miss, 0.0).sum(axis=1), valid.sum(axis=1))
        x, flt, miss = x[back], flt0[back], fit_err[back]
        good = np.isfinite(x) & (np.minimum(n_avail, k)[back] >= 3)
        x = x + beta[back] * np.nan_to_num(ratio, nan=0.0)
        intent = r_due_day + np.round(np.where(good, x, 0.0)).astype("int64")
        if name == "month_end":
            day = _per_day(_month_end_run, intent) + np.round(flt).astype("int64")
        elif name == "semi":
            day = _per_day(_semi_monthly_run, intent) + np.round(flt).astype("int64")
        else:  # the settlements' own weekday: the run's, plus the usual float
            wd = np.nan_to_num(wd_mode, nan=0.0).astype("int64")
            day = intent + (wd - _weekday(intent)) % 7
        out[f"run_proj_{name}"] = np.where(good, day - r_due_day, np.nan)
        out[f"run_miss_{name}"] = np.where(good, miss, np.nan)
    return out


def _semi_monthly_run(days: np.ndarray) -> np.ndarray:
    """The first semi-monthly run (the 15th, moved past a weekend, or the month-end run) on or after each day."""
    days = np.asarray(days, dtype="int64")
    first = (days.astype("datetime64[D]").astype("datetime64[M]").astype("datetime64[D]") - _EPOCH).astype(
        "int64"
    )
    mid = first + 14
    wd = _weekday(mid)
    mid = mid + np.where(wd == 5, 2, np.where(wd == 6, 1, 0))
    return np.where(days <= mid, mid, _month_end_run(days))


def _bincount_int(keys: np.ndarray, weights: np.ndarray, size: int) -> np.ndarray:
    """Exact integer sums per key (``np.bincount`` with weights sums in float64: fine up to 2^53,
    and minor-unit amounts of one customer stay far below that)."""
    return np.rint(np.bincount(keys, weights=weights.astype("float64"), minlength=size)).astype("int64")


def _overdue_stream(keys, due_day, closed_known, amount, k: int) -> Stream:
    """Invoices open and more than ``k`` days past due: +1 when due + k passes, -1 when closed after that."""
    start = due_day + k + 1
    stop = np.maximum(start, closed_known)
    s = Stream(
        np.concatenate([keys, keys]),
        np.concatenate([start, stop]),
        {"amount": np.concatenate([amount, -amount]), "due": np.concatenate([due_day, -due_day])},
    )
    s.add("n", np.concatenate([np.ones(len(keys), "int64"), -np.ones(len(keys), "int64")]))
    return s


def _lookup_day(h_day: np.ndarray, r_inv: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The invoice's own event day (``h_day`` is indexed by invoice code) if on or before t, else NEVER."""
    day = np.full(len(r_inv), NEVER, dtype="int64")
    found = r_inv < len(h_day)
    d = h_day[r_inv[found]]
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
    return (
        s.fillna("")
        .astype(str)
        .map(lambda v: float(zlib.crc32(v.encode()) % 100003) if v else np.nan)
        .to_numpy()
    )
