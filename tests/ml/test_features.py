"""Features see only what was known at their as-of date; the event streams count what they claim."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from ml.features import Stream, build_features, customer_features, issue_rows, open_rows, to_days
from ml.history import InvoiceHistory, invoice_history_from_warehouse, normalize_history, truncate_history


def _rows_at(full, t: dt.date) -> pd.DataFrame:
    """Invoices open at the end of t, plus those issued the next day (their issue rows)."""
    known = truncate_history(full, t)
    nxt = issue_rows(full, start=t + dt.timedelta(days=1), end=t + dt.timedelta(days=1))
    return pd.concat([open_rows(known, t), nxt], ignore_index=True)


def _assert_same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(
        a.reset_index(drop=True), b.reset_index(drop=True), check_exact=False, rtol=1e-9, atol=1e-9
    )


@pytest.mark.slow  # loads a simulated world through the real loader (about a minute on a shared machine)
@pytest.mark.parametrize("t", [dt.date(2026, 4, 15), dt.date(2026, 8, 3)])
def test_no_leakage_on_erp_history(tiny_warehouse, t):
    """Features of a truncated history at t equal the features at t of the full history: payments,
    disputes, promises and reminders recorded after t change nothing."""
    con, _ = tiny_warehouse
    full = invoice_history_from_warehouse(con, dt.date(2026, 11, 20))
    known = truncate_history(full, t)
    rows = _rows_at(full, t)
    assert len(rows) > 20
    on_full = build_features(full, rows)
    on_known = build_features(known, rows)
    _assert_same(on_full, on_known)
    # ...and the history really did change after t, so the test could have failed
    later = full.invoices["paid_known_date"] > pd.Timestamp(t)
    assert later.sum() > 50
    assert (on_full["n_paid"] > 0).any()


def test_no_leakage_customer_state(synthetic):
    h, _, _ = synthetic
    t = dt.date(2024, 3, 10)
    ids = h.customers["customer_id"].to_numpy()
    a = customer_features(h, ids, t)
    b = customer_features(truncate_history(h, t), ids, t)
    _assert_same(a, b)


def test_no_leakage_changes_if_the_cut_is_wrong(synthetic):
    """The check above is not vacuous: one day more of history changes the features."""
    h, _, _ = synthetic
    t = dt.date(2024, 3, 10)
    ids = h.customers["customer_id"].to_numpy()
    a = customer_features(h, ids, t + dt.timedelta(days=10))
    b = customer_features(truncate_history(h, t), ids, t + dt.timedelta(days=10))
    assert not np.allclose(a["n_paid"], b["n_paid"])


def _tiny_history() -> InvoiceHistory:
    d = pd.Timestamp
    inv = pd.DataFrame(
        {
            "invoice_id": ["A1", "A2", "A3", "B1"],
            "customer_id": ["007", "007", "007", "0042"],
            "invoice_date": [d("2025-01-01"), d("2025-01-10"), d("2025-02-01"), d("2025-01-05")],
            "due_date": [d("2025-01-31"), d("2025-02-09"), d("2025-03-03"), d("2025-02-04")],
            "amount_minor": [10000, 20000, 30000, 5000],
            "paid_date": [d("2025-02-05"), pd.NaT, d("2025-03-01"), d("2025-02-20")],
        }
    )
    return normalize_history(InvoiceHistory(invoices=inv))


@pytest.mark.parametrize(
    "as_of, n_paid, dl_mean, od_count, od_dpd, open_count",
    [
        ("2025-02-04", 0, np.nan, 1, 4.0, 3),  # A1 4 days past due; A2 and A3 not due yet
        ("2025-02-05", 1, 5.0, 0, np.nan, 2),  # A1 paid 5 days late on the 5th (known that day)
        ("2025-02-15", 1, 5.0, 1, 6.0, 2),  # A2 now 6 days past due
        ("2025-03-02", 2, 1.5, 1, 21.0, 1),  # A3 paid 2 days early: (5 - 2) / 2; A2 21 days past due
    ],
)
def test_customer_state_by_hand(as_of, n_paid, dl_mean, od_count, od_dpd, open_count):
    f = customer_features(_tiny_history(), ["007"], dt.date.fromisoformat(as_of)).iloc[0]
    assert f["n_paid"] == n_paid
    assert (np.isnan(dl_mean) and np.isnan(f["dl_mean"])) or f["dl_mean"] == pytest.approx(dl_mean)
    assert f["od_count"] == od_count
    assert (np.isnan(od_dpd) and np.isnan(f["od_mean_dpd"])) or f["od_mean_dpd"] == pytest.approx(od_dpd)
    assert f["open_count"] == open_count


def test_issue_row_sees_the_day_before():
    """An invoice's issue row is as of the day before it: a payment booked on its issue day is not
    in it (it could be its own), one booked the day before is."""
    h = _tiny_history()
    extra = pd.DataFrame(
        {
            "invoice_id": ["A4", "A5"],
            "customer_id": ["007", "007"],
            "invoice_date": [pd.Timestamp("2025-02-05"), pd.Timestamp("2025-02-06")],
            "due_date": [pd.Timestamp("2025-03-07"), pd.Timestamp("2025-03-08")],
            "amount_minor": [1000, 1000],
            "paid_date": [pd.NaT, pd.NaT],
        }
    )
    h = normalize_history(InvoiceHistory(invoices=pd.concat([h.invoices[extra.columns], extra])))
    rows = issue_rows(h)
    X = build_features(h, rows).set_index(rows["invoice_id"])
    assert X.loc["A4", "n_paid"] == 0  # A1 was paid on A4's issue day
    assert X.loc["A5", "n_paid"] == 1
    assert X.loc["A5", "age_days"] == 0 and X.loc["A5", "days_to_due"] == 31
    assert X.loc["B1", "n_paid"] == 0  # another customer's payments are not its history


def test_unknown_customer_matches_nothing():
    """A customer the history has never seen gets empty history, not somebody else's."""
    f = customer_features(_tiny_history(), ["999", "007"], dt.date(2025, 3, 2))
    assert f.iloc[0]["n_paid"] == 0 and f.iloc[1]["n_paid"] == 2


def test_stream_windows():
    s = Stream(np.array([1, 1, 1, 2]), np.array([10, 20, 30, 15]), {"v": np.array([1, 2, 4, 8])})
    keys, days = np.array([1, 1, 2, 3]), np.array([25, 30, 15, 100])
    assert s.total("v", keys, days).tolist() == [3, 7, 8, 0]
    assert s.window("v", keys, days, 10).tolist() == [2, 4, 8, 0]  # (t-10, t]: day 20 is not in (20, 30]


def test_to_days_roundtrip():
    assert to_days(pd.Series([pd.Timestamp("1970-01-02"), pd.NaT]))[0] == 1


def test_window_quantiles_match_pandas_rolling():
    """The numpy window statistics are pandas' grouped rolling quantiles, without the per-group cost."""
    from ml.features import window_ewm, window_quantiles

    rng = np.random.default_rng(0)
    keys = np.sort(rng.integers(0, 200, 5000))
    vals = rng.normal(10, 8, 5000).round()
    g = pd.Series(vals).groupby(keys, sort=False)
    got = window_quantiles(keys, vals, 20, (0.25, 0.5, 0.75))
    for q in (0.25, 0.5, 0.75):
        assert np.allclose(got[q], g.rolling(20, min_periods=1).quantile(q).to_numpy())
    assert np.allclose(window_ewm(keys, vals, 5), g.ewm(span=5).mean().to_numpy(), atol=0.01)


def test_stable_order_is_a_stable_argsort():
    from ml.features import stable_order

    rng = np.random.default_rng(1)
    v = rng.integers(0, 50, 10_000)  # many ties
    assert (stable_order(v) == np.argsort(v, kind="stable")).all()


def test_window_quantiles_at_positions():
    from ml.features import window_quantiles

    keys = np.array([1, 1, 1, 2, 2])
    vals = np.array([5.0, 1.0, 3.0, 10.0, 20.0])
    got = window_quantiles(keys, vals, 2, (0.5,), at=np.array([2, 4, -1, 0]))[0.5]
    assert got[:2].tolist() == [2.0, 15.0] and np.isnan(got[2]) and got[3] == 5.0


def test_open_state_direct_equals_streams(synthetic):
    """Scoring counts open and overdue invoices directly for its one or two days; training uses
    event streams for thousands of days: same numbers."""
    from ml.features import FeatureContext

    h, _, _ = synthetic
    ctx = FeatureContext(h)
    ids = h.customers["customer_id"].to_numpy()
    qc = ctx.codes.cust(ids)
    for day in ("2024-02-10", "2024-11-30"):
        qt = to_days(pd.Series([pd.Timestamp(day)] * len(ids)))
        direct = ctx._open_state(qc, qt)
        ctx.DIRECT_DAYS = 0
        streamed = ctx._open_state(qc, qt)
        ctx.DIRECT_DAYS = FeatureContext.DIRECT_DAYS
        assert direct.keys() == streamed.keys()
        for k in direct:
            assert (direct[k] == streamed[k]).all(), k
        assert direct["od30_n"].sum() > 0


def test_rows_carrying_history_positions_get_the_same_features_as_looked_up_ids(synthetic):
    h, _, _ = synthetic
    rows = open_rows(h, h.last_date - dt.timedelta(days=200))
    assert "history_position" in rows.attrs and len(rows) > 20
    looked_up = rows.copy()
    looked_up.attrs = {}
    pd.testing.assert_frame_equal(build_features(h, rows), build_features(h, looked_up))
    # positions that do not match the ids are not trusted
    shuffled = rows.iloc[::-1].reset_index(drop=True)
    shuffled.attrs = dict(rows.attrs)
    plain = shuffled.copy()
    plain.attrs = {}
    pd.testing.assert_frame_equal(build_features(h, shuffled), build_features(h, plain))


def test_running_extreme_stays_within_each_customer():
    from ml.features import _running_extreme

    # customer 0: 3 (split), 5 (not), 1 (split); customer 1: 9 (not), 2 (split)
    s = Stream(np.array([0, 0, 0, 1, 1]), np.array([1, 2, 3, 1, 2]))
    values = np.array([3.0, 5.0, 1.0, 9.0, 2.0])
    split = np.array([True, False, True, False, True])
    np.testing.assert_array_equal(_running_extreme(s, values, split, "min"), [3.0, 3.0, 1.0, np.nan, 2.0])
    np.testing.assert_array_equal(_running_extreme(s, values, ~split, "max"), [np.nan, 5.0, 5.0, 9.0, 9.0])


NEW_FEATURES = (
    "dl_mean_last5",
    "early_pay_share",
    "discount_take_share",
    "amount_vs_usual_log2",
    "run_shift_weekly",
    "run_shift_semi",
    "run_shift_month_end",
)


@pytest.mark.parametrize("t", [dt.date(2023, 11, 20), dt.date(2024, 6, 3)])
def test_no_leakage_of_habit_amount_and_pay_run_features(synthetic, t):
    """The recent level, the early-payment/discount habit, the amount against the customer's usual
    in its own currency and the pay-run shifts of the invoices open at t and issued the next day
    are the same on the history truncated at t as on the full history."""
    h, _, _ = synthetic
    assert len(_rows_at(h, t)) > 20
    assert_known_equals_full(h, t, NEW_FEATURES, probe="dl_mean_last5", later_days=10)


def assert_known_equals_full(h, t: dt.date, features, *, probe: str, later_days: int) -> None:
    """``features`` of the rows at ``t`` are the same on the history truncated at ``t`` as on the full
    history (each with values on more than ten rows), and ``probe`` of the same rows looked at
    ``later_days`` past the cut differs between them: the comparison sees leakage when there is some."""
    rows = _rows_at(h, t)
    on_full = build_features(h, rows)[list(features)]
    on_known = build_features(truncate_history(h, t), rows)[list(features)]
    _assert_same(on_full, on_known)
    for c in features:
        assert on_full[c].notna().sum() > 10, c
    later = rows.copy()
    later["as_of"] = later["as_of"] + pd.Timedelta(days=later_days)
    a = build_features(h, later)[probe].fillna(-999)
    b = build_features(truncate_history(h, t), later)[probe].fillna(-999)
    assert not np.allclose(a, b)


def test_recent_level_and_early_pay_habit_by_hand():
    """Customer 007 of the tiny history: A1 paid 5 days late (35 days after its invoice), A3 paid 2
    days early (28 days after). Neither within 14 days of the invoice, no discount."""
    f = customer_features(_tiny_history(), ["007"], dt.date(2025, 3, 2)).iloc[0]
    assert f["dl_mean_last5"] == pytest.approx(1.5)
    assert f["early_pay_share"] == 0.0 and f["discount_take_share"] == 0.0
    h = _tiny_history()
    inv = h.invoices.copy()
    inv.loc[inv["invoice_id"] == "A3", "paid_date"] = pd.Timestamp("2025-02-10")  # 9 days after invoice
    inv.loc[inv["invoice_id"] == "A3", "discount_taken"] = True
    h2 = normalize_history(InvoiceHistory(invoices=inv))
    f = customer_features(h2, ["007"], dt.date(2025, 3, 2)).iloc[0]
    assert f["early_pay_share"] == 0.5 and f["discount_take_share"] == 0.5
    assert f["dl_mean_last5"] == pytest.approx((5 - 21) / 2)


def test_amount_against_usual_uses_the_document_currency():
    """Five EUR invoices of 100.00 whose functional amount drifts with the rate, then one of
    400.00: four times the usual, whatever the exchange rate did."""
    d = pd.Timestamp
    n = 6
    inv = pd.DataFrame(
        {
            "invoice_id": [f"E{i}" for i in range(n)],
            "customer_id": ["0100"] * n,
            "invoice_date": [d("2025-01-01") + pd.Timedelta(days=10 * i) for i in range(n)],
            "due_date": [d("2025-01-31") + pd.Timedelta(days=10 * i) for i in range(n)],
            "amount_minor": [10000] * 5 + [40000],
            "amount_functional_minor": [10000, 10500, 11000, 11500, 12000, 48000],
            "currency": ["EUR"] * n,
            "paid_date": [pd.NaT] * n,
        }
    )
    h = normalize_history(InvoiceHistory(invoices=inv))
    rows = issue_rows(h)
    X = build_features(h, rows).set_index(rows["invoice_id"])
    assert X.loc["E5", "amount_vs_usual_log2"] == pytest.approx(2.0)
    assert X.loc["E4", "amount_vs_usual_log2"] == pytest.approx(0.0)
    assert np.isnan(X.loc["E0", "amount_vs_usual_log2"])  # no usual amount before the first invoice


@pytest.mark.parametrize(
    "day, month_end, semi",
    [
        ("2026-01-30", "2026-01-30", "2026-01-30"),  # a Friday, the month's last business day
        ("2026-01-31", "2026-02-27", "2026-02-27"),  # past it: next month's (Feb 28 is a Saturday)
        ("2026-02-01", "2026-02-27", "2026-02-16"),  # Feb 15 is a Sunday: the run moves to Monday
        ("2026-08-18", "2026-08-31", "2026-08-31"),  # past the mid-month run
        ("2026-11-16", "2026-11-30", "2026-11-16"),
    ],
)
def test_pay_run_calendars(day, month_end, semi):
    from ml.features import _month_end_run, _semi_monthly_run, as_day

    x = np.array([as_day(dt.date.fromisoformat(day))])
    assert _month_end_run(x)[0] == as_day(dt.date.fromisoformat(month_end))
    assert _semi_monthly_run(x)[0] == as_day(dt.date.fromisoformat(semi))


def test_run_shift_month_end_by_hand():
    """The tiny history's 007 has median 1.5 days late by 2025-03-02; an
    invoice due 2025-03-20 is meant for 2025-03-20 + round(1.5 - 15) = 2025-03-06 (round half to
    even: -14), whose month-end run is Monday 2025-03-31: 11 days after the due date, 9.5 more than
    the plain median."""
    h = _tiny_history()
    extra = pd.DataFrame(
        {
            "invoice_id": ["A9"],
            "customer_id": ["007"],
            "invoice_date": [pd.Timestamp("2025-03-03")],
            "due_date": [pd.Timestamp("2025-03-20")],
            "amount_minor": [1000],
            "paid_date": [pd.NaT],
        }
    )
    h = normalize_history(InvoiceHistory(invoices=pd.concat([h.invoices[extra.columns], extra])))
    rows = issue_rows(h, start=dt.date(2025, 3, 3))
    X = build_features(h, rows).iloc[0]
    assert X["dl_median"] == pytest.approx(1.5)
    assert X["run_shift_month_end"] == pytest.approx(11 - 1.5)


def _tiny_with_open_invoice() -> InvoiceHistory:
    """The tiny history plus A4: issued 2025-02-10, after A1's payment 5 days late was known, due
    2025-03-12 and never paid."""
    h = _tiny_history()
    extra = pd.DataFrame(
        {
            "invoice_id": ["A4"],
            "customer_id": ["007"],
            "invoice_date": [pd.Timestamp("2025-02-10")],
            "due_date": [pd.Timestamp("2025-03-12")],
            "amount_minor": [1000],
            "paid_date": [pd.NaT],
        }
    )
    return normalize_history(InvoiceHistory(invoices=pd.concat([h.invoices[extra.columns], extra])))


@pytest.mark.parametrize(
    "as_of, stuck, share, mean_days",
    [
        # A2 (due 02-09, no habit known at its issue: expected on its due date) is stuck 8 days on
        ("2025-02-16", 0, 0.0, np.nan),
        ("2025-02-17", 1, 1 / 3, 8.0),  # A2, A3 and A4 open
        # A4 is expected 5 days after its due date (A1's lateness, known when A4 was issued): 03-17
        ("2025-03-24", 1, 0.5, 43.0),  # A2 and A4 open; A4 is 7 days past its expected day, not stuck yet
        ("2025-03-25", 2, 1.0, (44 + 8) / 2),
    ],
)
def test_stuck_invoices_by_hand(as_of, stuck, share, mean_days):
    f = customer_features(_tiny_with_open_invoice(), ["007"], dt.date.fromisoformat(as_of)).iloc[0]
    assert f["stuck_count"] == stuck
    assert f["stuck_share"] == pytest.approx(share)
    assert (np.isnan(mean_days) and np.isnan(f["stuck_mean_days"])) or f["stuck_mean_days"] == pytest.approx(
        mean_days
    )


STUCK_FEATURES = ("stuck_count", "stuck_share", "stuck_mean_days")


@pytest.mark.parametrize("t", [dt.date(2024, 3, 1), dt.date(2024, 9, 15)])
def test_no_leakage_of_stuck_features(synthetic, t):
    """Each invoice's expected day is fixed by what was known when it was issued, and the invoice
    stops counting when its settlement is known: the truncated history gives the same counts."""
    h, _, _ = synthetic
    rows = _rows_at(h, t)
    on_full = build_features(h, rows)[list(STUCK_FEATURES)]
    on_known = build_features(truncate_history(h, t), rows)[list(STUCK_FEATURES)]
    _assert_same(on_full, on_known)
    assert (on_full["stuck_count"] > 0).sum() > 10
    # ...and the same rows seen 20 days later count payments made after t (the check can fail)
    later = rows.copy()
    later["as_of"] = later["as_of"] + pd.Timedelta(days=20)
    a = build_features(h, later)["stuck_count"]
    b = build_features(truncate_history(h, t), later)["stuck_count"]
    assert (a < b).any()


def test_context_built_on_two_threads_equals_one(synthetic, monkeypatch):
    """Large histories build the warning and season streams on a second thread: same features."""
    import ml.features as mf

    h, _, _ = synthetic
    rows = _rows_at(h, dt.date(2024, 6, 3))
    monkeypatch.setattr(mf, "PARALLEL_CONTEXT_ROWS", 10**12)
    one = build_features(h, rows, mf.FeatureContext(h))
    monkeypatch.setattr(mf, "PARALLEL_CONTEXT_ROWS", 0)
    two = build_features(h, rows, mf.FeatureContext(h))
    pd.testing.assert_frame_equal(one, two)
