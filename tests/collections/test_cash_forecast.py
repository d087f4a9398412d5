"""The cash forecast on hand-made invoices (exact figures) and on the small simulated world."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from ml.collections import cash_forecast as cf

AS_OF = dt.date(2026, 3, 6)  # a Friday


def _balances(rows):
    """rows: (invoice_id, customer_id, due_date, open_functional_minor[, currency])."""
    return pd.DataFrame(
        [
            {
                "invoice_id": r[0],
                "customer_id": r[1],
                "currency": r[4] if len(r) > 4 else "USD",
                "invoice_date": AS_OF - dt.timedelta(days=20),
                "due_date": r[2],
                "open_minor": r[3],
                "open_functional_minor": r[3],
                "fx_rate": "1",
            }
            for r in rows
        ]
    )


def _preds(rows):
    """rows: (invoice_id, p10, p50, p90, p_by_due, p30, p60, p90prob) in days late."""
    cols = [
        "invoice_id",
        "p10_days_late",
        "p50_days_late",
        "p90_days_late",
        "p_paid_by_due",
        "p_paid_within_30",
        "p_paid_within_60",
        "p_paid_within_90",
    ]
    return pd.DataFrame(rows, columns=cols)


def test_sums_are_exact_and_everything_arrives_when_the_model_says_so():
    bal = _balances(
        [
            ("I1", "C1", AS_OF + dt.timedelta(days=10), 1_000_001),
            ("I2", "C2", AS_OF + dt.timedelta(days=3), 250_099),
        ]
    )
    preds = _preds([("I1", 2, 5, 9, 0.02, 1.0, 1.0, 1.0), ("I2", 0, 1, 4, 0.1, 1.0, 1.0, 1.0)])
    fc = cf.cash_forecast(bal, preds, None, AS_OF, draws=50)
    assert fc.daily["expected_minor"].dtype == np.int64
    assert int(fc.daily["expected_minor"].sum()) == 1_250_100  # to the cent
    assert int(fc.weekly["expected_minor"].sum()) == 1_250_100
    totals = fc.totals.set_index("period_days")["expected_minor"]
    assert totals[60] == 1_250_100 and totals[30] >= 0.9 * 1_250_100  # P90 9 days late, all paid within 30
    assert fc.beyond_horizon_minor == 0
    assert (fc.weekly["low_minor"] <= fc.weekly["expected_minor"]).all()
    assert (fc.weekly["expected_minor"] <= fc.weekly["high_minor"]).all()
    assert fc.as_decimal("totals")["expected"].tolist()[1:] == [Decimal("12501.00")] * 2


def test_cash_lands_on_bank_business_days_only():
    bal = _balances([("I1", "C1", AS_OF + dt.timedelta(days=5), 700_000)])
    preds = _preds([("I1", -3, 4, 12, 0.3, 1.0, 1.0, 1.0)])
    fc = cf.cash_forecast(bal, preds, None, AS_OF, draws=10)
    paid = fc.daily[fc.daily["expected_minor"] > 0]
    assert len(paid) > 3
    assert all(pd.Timestamp(d).dayofweek < 5 for d in paid["day"])
    # Good Friday 2026 (3 April) is a Fed business day but a TARGET2 holiday: EUR cash rolls to Tuesday 7 April
    eur = _balances([("E1", "C9", dt.date(2026, 4, 3), 100_000, "EUR")])
    fc_eur = cf.cash_forecast(eur, _preds([("E1", 0, 0, 0, 1.0, 1.0, 1.0, 1.0)]), None, AS_OF, draws=5)
    days = fc_eur.daily.set_index("day")["expected_minor"]
    assert days[dt.date(2026, 4, 3)] == 0 and days[dt.date(2026, 4, 6)] == 0
    assert days[dt.date(2026, 4, 7)] >= 90_000  # P10 at the due date: 10 % spreads over the days before
    assert int(days.sum()) == 100_000


def test_a_capped_prediction_brings_no_cash():
    bal = _balances(
        [
            ("I1", "C1", AS_OF - dt.timedelta(days=150), 500_000),  # past the 120-day cap already
            ("I2", "C2", AS_OF + dt.timedelta(days=5), 300_000),
        ]
    )
    preds = _preds([("I1", 151, 151, 151, 0.0, 0.0, 0.0, 0.0), ("I2", 120, 120, 120, 0.0, 0.0, 0.0, 0.0)])
    fc = cf.cash_forecast(bal, preds, None, AS_OF, draws=10)
    assert int(fc.daily["expected_minor"].sum()) == 0
    assert fc.beyond_horizon_minor == 800_000


def test_classifier_probabilities_carry_the_upper_tail():
    """P90 at the cap (as the model often says) must not lose the mass the classifiers put within 60
    days; P(within 90 days late) adds nothing (it overstates the cash of open invoices)."""
    bal = _balances([("I1", "C1", AS_OF, 1_000_000)])  # due today: horizon day d is d days late
    preds = _preds([("I1", 5, 20, 120, 0.05, 0.6, 0.8, 0.9)])
    fc = cf.cash_forecast(bal, preds, None, AS_OF, draws=10)
    totals = fc.totals.set_index("period_days")["expected_minor"]
    assert totals[30] == pytest.approx(600_000, abs=25_000)
    assert totals[60] == pytest.approx(800_000, abs=25_000)
    assert totals[90] == totals[60]


def test_only_the_cash_share_of_the_open_amount_arrives():
    bal = _balances([("I1", "C1", AS_OF + dt.timedelta(days=10), 1_000_000)])
    preds = _preds([("I1", 2, 5, 9, 0.02, 1.0, 1.0, 1.0)])
    full = cf.cash_forecast(bal, preds, None, AS_OF, draws=10)
    part = cf.cash_forecast(bal, preds, None, AS_OF, draws=10, cash_share=0.97)
    assert int(full.daily["expected_minor"].sum()) == 1_000_000
    assert int(part.daily["expected_minor"].sum()) == 970_000
    assert part.beyond_horizon_minor == 30_000


def test_a_kept_promise_moves_the_cash_to_the_promised_date():
    due = AS_OF - dt.timedelta(days=20)
    bal = _balances([("I1", "C1", due, 400_000)])
    preds = _preds([("I1", 40, 60, 90, 0.0, 0.0, 0.5, 0.9)])  # the model expects it 40-90 days late
    promises = pd.DataFrame(
        [
            {
                "promise_id": "P1",
                "customer_id": "C1",
                "invoice_id": "I1",
                "promised_pay_date": dt.date(2026, 3, 11),
                "promised_minor": 400_000,
                "keep_rate": 1.0,
            }
        ]
    )
    fc = cf.cash_forecast(bal, preds, promises, AS_OF, draws=20)
    days = fc.daily.set_index("day")["expected_minor"]
    assert int(days[dt.date(2026, 3, 11) : dt.date(2026, 3, 13)].sum()) == 400_000
    assert (fc.weekly["low_minor"] == fc.weekly["expected_minor"]).all()  # certain: no band


def _promise(invoice_id, customer_id, day, minor, keep_rate):
    return {
        "promise_id": f"P-{invoice_id}",
        "customer_id": customer_id,
        "invoice_id": invoice_id,
        "promised_pay_date": day,
        "promised_minor": minor,
        "keep_rate": keep_rate,
    }


def test_a_promise_does_not_hold_back_cash_the_model_expects_earlier():
    # An account-level promise names the date of the customer's last planned run; invoices planned for
    # earlier runs go out in those. Kept, the cash comes by the promised date, or earlier where the model
    # has it earlier.
    due = AS_OF + dt.timedelta(days=2)
    bal = _balances([("I1", "C1", due, 500_000)])
    preds = _preds([("I1", 1, 12, 25, 0.1, 0.95, 1.0, 1.0)])  # paid 3 to 27 days from now
    promised = AS_OF + dt.timedelta(days=18)  # a Tuesday
    grace_end = promised + dt.timedelta(days=cf.PROMISE_GRACE_DAYS)

    def daily(keep_rate):
        promises = (
            None if keep_rate is None else pd.DataFrame([_promise("I1", "C1", promised, 500_000, keep_rate)])
        )
        return cf.cash_forecast(bal, preds, promises, AS_OF, draws=50).daily.set_index("day")[
            "expected_minor"
        ]

    model, kept, broken = daily(None), daily(1.0), daily(0.0)

    def same(a, b, cents=1):  # to the cents that spreading the rounding over the days may move
        return bool((abs(a - b) <= cents).all())

    # kept: the model's cash before the promised date stays where it is, the rest comes on it
    assert same(kept[: promised - dt.timedelta(days=1)], model[: promised - dt.timedelta(days=1)])
    assert int(kept[promised : promised + dt.timedelta(days=2)].sum()) == pytest.approx(
        500_000 - int(model[: promised - dt.timedelta(days=1)].sum()), abs=20
    )
    assert int(kept[promised + dt.timedelta(days=3) :].sum()) == 0
    # broken: the run planned for the promised date slips past the grace days; cash the model has for
    # runs more than BROKEN_PROMISE_WINDOW days before it goes out as planned
    early_end = promised - dt.timedelta(days=cf.BROKEN_PROMISE_WINDOW + 1)
    assert same(broken[:early_end], model[:early_end])
    assert int(broken[early_end + dt.timedelta(days=1) : grace_end].sum()) == 0
    # after the grace days it comes as the model has it there, scaled up by what was held back
    after = grace_end + dt.timedelta(days=4)  # the Tuesday after: the weekend's cash has landed on Monday
    held_back = 500_000 - int(model[:early_end].sum())
    scale = held_back / int(model[grace_end + dt.timedelta(days=1) :].sum())
    assert scale > 1.5  # the window held back a good part of the model's cash: the test is not vacuous
    assert same(broken[after:], model[after:] * scale, cents=2 * scale)
    assert int(kept.sum()) == int(broken.sum()) == int(model.sum()) == 500_000


def test_broken_promise_draws_follow_its_expected_cash():
    # the Monte Carlo bands draw a broken promise the way the expectation spreads it
    due = AS_OF + dt.timedelta(days=2)
    bal = _balances([("I1", "C1", due, 500_000)])
    preds = _preds([("I1", 1, 12, 25, 0.1, 0.95, 1.0, 1.0)])
    promised = AS_OF + dt.timedelta(days=18)
    d = cf.invoice_distributions(
        bal, preds, pd.DataFrame([_promise("I1", "C1", promised, 500_000, 0.0)]), AS_OF
    )
    G = 102
    model_cdf = cf._cdf(d.knots, d.levels, np.arange(G, dtype="float64"))
    pdays = d.promise_offset[:, None]
    expected = cf._broken_promise_cdf(model_cdf, pdays)[0]
    u = (np.arange(20_000) + 0.5)[None, :] / 20_000
    t = cf._broken_promise_draws(d.knots, d.levels, model_cdf, pdays, u, cf._quantile(d.knots, d.levels, u))
    drawn = np.array([(np.ceil(t[0]) <= k).mean() for k in range(G)])
    assert np.abs(drawn - expected).max() < 0.01
    early_end, grace_end = 18 - cf.BROKEN_PROMISE_WINDOW - 1, 18 + cf.PROMISE_GRACE_DAYS
    assert 0.05 < expected[early_end] < expected[grace_end + 1] < 1  # some cash early, some after
    assert expected[grace_end] == expected[early_end]


def _promise_history(con, rows):
    """rows: (promise_id, customer_id, invoice_id or None, promised_pay_date, amount, status)."""
    con.execute("create schema if not exists raw")
    con.execute(
        "create or replace table raw.erp_promises_to_pay (promise_id varchar, customer_id varchar, "
        "invoice_id varchar, promise_date date, promised_pay_date date, currency varchar, "
        "promised_amount decimal(18, 2), status varchar, _extract_date date, _loaded_at timestamp, "
        "_row_number bigint)"
    )
    for i, (pid, cust, inv, day, amount, status) in enumerate(rows):
        con.execute(
            "insert into raw.erp_promises_to_pay values (?, ?, ?, ?, ?, 'USD', ?, ?, ?, now(), ?)",
            [pid, cust, inv, day - dt.timedelta(days=5), day, amount, status, AS_OF, i],
        )


def test_keep_rates_weigh_promises_by_amount_and_kind():
    import duckdb

    con = duckdb.connect()
    old = AS_OF - dt.timedelta(days=60)
    rows = []
    # every customer keeps its small account-level promises and breaks the large ones: by count
    # 3 in 4 are kept, by amount 1 in 4; promises naming one invoice are all kept
    for c in range(10):
        for k, (amount, status) in enumerate([(100, "kept"), (100, "kept"), (100, "kept"), (900, "broken")]):
            rows.append((f"A{c}-{k}", f"C{c}", None, old, amount, status))
        rows += [(f"I{c}-{k}", f"C{c}", f"INV{c}-{k}", old, 500, "kept") for k in range(3)]
    rows += [
        ("OPEN-ACCOUNT", "C0", None, AS_OF + dt.timedelta(days=5), 1_000, "open"),
        ("OPEN-INVOICE", "C0", "INV-X", AS_OF + dt.timedelta(days=5), 1_000, "open"),
        ("OPEN-NEWCOMER", "NEW", None, AS_OF + dt.timedelta(days=5), 1_000, "open"),
        ("EXPIRED", "C1", None, AS_OF - dt.timedelta(days=cf.PROMISE_GRACE_DAYS), 1_000, "open"),
    ]
    _promise_history(con, rows)
    p = cf.open_promises(con, AS_OF).set_index("promise_id")
    assert set(p.index) == {"OPEN-ACCOUNT", "OPEN-INVOICE", "OPEN-NEWCOMER"}  # grace over: not pending
    assert p.loc["OPEN-ACCOUNT", "keep_rate"] == pytest.approx(0.25)  # own and all customers' alike
    assert p.loc["OPEN-INVOICE", "keep_rate"] == pytest.approx(1.0)
    # a customer without history of the kind gets all customers' rate of that kind
    assert p.loc["OPEN-NEWCOMER", "keep_rate"] == pytest.approx(0.25)
    assert p.loc["OPEN-ACCOUNT", "promised_minor"] == 100_000


def test_keep_rates_shrink_a_short_history_toward_the_prior():
    p = pd.DataFrame(
        {
            "resolved": [0, 1, 30, 1],
            "kept_share": [np.nan, 1.0, 0.0, 0.0],
            "prior_share": [0.4, 0.4, 0.4, np.nan],
            "prior_n": [50, 50, 50, 5],
        }
    )
    w = cf.PROMISE_PRIOR_WEIGHT
    assert cf._keep_rates(p) == pytest.approx(
        [0.4, (1 + w * 0.4) / (1 + w), w * 0.4 / (30 + w), w * cf.PROMISE_PRIOR_KEEP / (1 + w)]
    )


def test_an_account_level_promise_covers_the_oldest_invoices_first():
    bal = _balances(
        [
            ("OLD", "C1", AS_OF - dt.timedelta(days=40), 100_000),
            ("NEW", "C1", AS_OF - dt.timedelta(days=5), 100_000),
        ]
    )
    preds = _preds([("OLD", 60, 80, 100, 0, 0, 0.2, 0.6), ("NEW", 60, 80, 100, 0, 0, 0.2, 0.6)])
    promises = pd.DataFrame(
        [
            {
                "promise_id": "P1",
                "customer_id": "C1",
                "invoice_id": None,
                "promised_pay_date": dt.date(2026, 3, 10),
                "promised_minor": 150_000,
                "keep_rate": 1.0,
            }
        ]
    )
    d = cf.invoice_distributions(bal, preds, promises, AS_OF)
    assert dict(zip(d.invoice_id, d.promise_minor, strict=True)) == {"OLD": 100_000, "NEW": 50_000}


def test_run_profiles_put_cash_on_the_customers_payment_day():
    thursdays = pd.date_range("2025-09-04", "2026-03-05", freq="7D")  # a weekly Thursday payer
    pays = pd.DataFrame({"customer_id": "C1", "payment_date": thursdays})
    prof = cf.RunProfiles.from_payments(pays, AS_OF)
    bal = _balances([("I1", "C1", AS_OF + dt.timedelta(days=14), 1_000_000)])
    preds = _preds([("I1", -2, 3, 9, 0.3, 1.0, 1.0, 1.0)])
    plain = cf.cash_forecast(bal, preds, None, AS_OF, draws=10)
    fc = cf.cash_forecast(bal, preds, None, AS_OF, draws=10, profiles=prof)
    by_day = (
        fc.daily.assign(wd=pd.to_datetime(fc.daily["day"]).dt.dayofweek).groupby("wd")["expected_minor"].sum()
    )
    assert by_day[3] / 1_000_000 > 0.7  # most of it on Thursdays
    plain_wd = plain.daily.assign(wd=pd.to_datetime(plain.daily["day"]).dt.dayofweek)
    assert plain_wd.groupby("wd")["expected_minor"].sum()[3] / 1_000_000 < 0.4
    assert int(fc.daily["expected_minor"].sum()) == 1_000_000  # moved, not lost


def test_what_if_delay_and_default():
    bal = _balances(
        [
            ("A1", "BIG", AS_OF + dt.timedelta(days=10), 900_000),
            ("B1", "SMALL", AS_OF + dt.timedelta(days=10), 100_000),
        ]
    )
    preds = _preds([("A1", 0, 0, 0, 1.0, 1.0, 1.0, 1.0), ("B1", 0, 0, 0, 1.0, 1.0, 1.0, 1.0)])
    base = cf.cash_forecast(bal, preds, None, AS_OF, draws=10)
    assert cf.top_customers(base.dists, 1) == ["BIG"]
    late = cf.what_if(base, cf.delay_customers(base.dists, ["BIG"], 30), "BIG 30 days late", ["BIG"])
    t = late.totals.set_index("period_days")
    assert t.loc[30, "delta_minor"] == -900_000 and t.loc[60, "delta_minor"] == 0
    gone = cf.what_if(base, cf.default_customers(base.dists, ["SMALL"]), "SMALL defaults", ["SMALL"])
    assert gone.totals.set_index("period_days").loc[90, "delta_minor"] == -100_000
    assert int(gone.weekly["delta_minor"].sum()) == -100_000


def test_open_balances_match_the_simulated_ledger(small_warehouse):
    con, world = small_warehouse
    as_of = pd.Timestamp(con.execute("select max(_extract_date) from raw.erp_invoices").fetchone()[0]).date()
    bal = cf.open_balances(con, as_of)
    truth = pd.read_csv(world / "ground_truth" / "open_items.csv", dtype=str)
    truth = truth[truth["item_type"] == "invoice"]
    both = truth.merge(bal, left_on="item_id", right_on="invoice_id")
    assert len(both) > 20
    assert all(
        int(Decimal(a) * 100) == b
        for a, b in zip(both["open_amount_functional"], both["open_functional_minor"], strict=True)
    )
    # the only invoices the ledger shows open and the forecast does not are short-paid ones (deductions)
    missing = set(truth["item_id"]) - set(bal["invoice_id"])
    if missing:
        ded = set(
            con.execute("select invoice_id from raw.erp_disputes where is_deduction = 'true'").df()[
                "invoice_id"
            ]
        )
        assert missing <= ded


def test_cash_share_is_the_cash_of_the_balances_settled_since(small_warehouse):
    con, _ = small_warehouse
    as_of = pd.Timestamp(con.execute("select max(_extract_date) from raw.erp_invoices").fetchone()[0]).date()
    share = cf.cash_share_of_open(con, as_of - dt.timedelta(days=60))
    # credit memos, deductions and write-offs take a few percent; the rest comes as cash
    assert 0.85 < share < 1.0
    # before any invoice was open there is nothing to measure
    assert cf.cash_share_of_open(con, dt.date(2000, 1, 1)) == 1.0


def test_forecast_on_the_simulated_world(small_warehouse):
    con, world = small_warehouse
    as_of = pd.Timestamp(con.execute("select max(_extract_date) from raw.erp_invoices").fetchone()[0]).date()
    as_of = as_of - dt.timedelta(days=120)
    bal = cf.open_balances(con, as_of)
    # predictions from the truth: every invoice's real pay date, ±3 days
    out = pd.read_csv(world / "ground_truth" / "invoice_outcomes.csv", dtype=str)[["invoice_id", "paid_date"]]
    b = bal.merge(out, on="invoice_id")
    late = (pd.to_datetime(b["paid_date"]) - pd.to_datetime(b["due_date"])).dt.days
    preds = pd.DataFrame(
        {
            "invoice_id": b["invoice_id"],
            "p10_days_late": late - 3,
            "p50_days_late": late,
            "p90_days_late": late + 3,
        }
    )
    preds = preds.dropna()
    fc = cf.cash_forecast_from_warehouse(con, as_of, preds, draws=20)
    actual = cf.cash_received(con, as_of)
    # all receipts against the whole forecast, and the open-AR part against its own actuals
    a = int(actual["cash_minor"].sum())
    f = int(fc.daily["expected_minor"].sum())
    assert a > 0 and abs(f - a) / a < 0.15
    a_open = int(actual["open_ar_cash_minor"].sum())
    f_open = int(fc.daily["open_ar_expected_minor"].sum())
    assert a_open > 0 and abs(f_open - a_open) / a_open < 0.15
    a_new = int(actual["new_business_cash_minor"].sum())
    f_new = int(fc.daily["new_business_expected_minor"].sum())
    assert a_new > 0 and abs(f_new - a_new) / a_new < 0.35
    assert a >= a_open + a_new  # the rest: cash on invoices already settled at as_of (rare)
    assert (
        fc.daily["expected_minor"]
        == fc.daily["open_ar_expected_minor"] + fc.daily["new_business_expected_minor"]
    ).all()
    assert fc.scope.startswith("all receipts") and fc.band_source == cf.BANDS.source


def _history(as_of: dt.date):
    """C1 is invoiced 1,000.00 every business day of the last 91 days and of a year before, and pays each
    invoice in full 30 days after issue; C2 has one old invoice, half paid after 10 days (segment prior)."""
    days = pd.bdate_range(as_of - dt.timedelta(days=480), as_of)
    days = [d for d in days if d.date() not in cf._bank_holidays("USD", d.year, d.year)]
    inv = pd.DataFrame(
        {
            "invoice_id": [f"C1-{i}" for i in range(len(days))],
            "customer_id": "C1",
            "segment": "mid_market",
            "currency": "USD",
            "invoice_date": days,
            "due_date": [d + pd.Timedelta(days=30) for d in days],
            "amount_functional_minor": 100_000,
        }
    )
    old = as_of - dt.timedelta(days=200)
    inv = pd.concat(
        [
            inv,
            pd.DataFrame(
                [
                    {
                        "invoice_id": "C2-1",
                        "customer_id": "C2",
                        "segment": "mid_market",
                        "currency": "USD",
                        "invoice_date": pd.Timestamp(old),
                        "due_date": pd.Timestamp(old + dt.timedelta(days=30)),
                        "amount_functional_minor": 50_000,
                    }
                ]
            ),
        ],
        ignore_index=True,
    )
    rec = inv[inv["customer_id"] == "C1"].assign(
        payment_date=lambda f: f["invoice_date"] + pd.Timedelta(days=30), cash_functional_minor=100_000
    )
    rec = rec[rec["payment_date"] <= pd.Timestamp(as_of)][
        ["invoice_id", "payment_date", "cash_functional_minor"]
    ]
    rec = pd.concat(
        [
            rec,
            pd.DataFrame(
                [
                    {
                        "invoice_id": "C2-1",
                        "payment_date": pd.Timestamp(old + dt.timedelta(days=10)),
                        "cash_functional_minor": 25_000,
                    }
                ]
            ),
        ],
        ignore_index=True,
    )
    return inv, rec


def test_new_business_is_the_run_rate_paid_on_the_usual_lag():
    inv, rec = _history(AS_OF)
    nb = cf.NewBusiness.from_history(inv, rec, AS_OF)
    # C2 invoiced nothing in the last 91 days: no new business from it
    assert list(nb.customer_id) == ["C1"]
    assert nb.daily_rate_minor[0] == pytest.approx(100_000)  # one invoice per business day
    # its own 30-day lag, shrunk toward the segment's (C1's own invoices and C2's half at 10 days)
    pmf = nb.lag_pmf[0]
    assert pmf[30] > 0.95 and pmf[10] < 0.01 and pmf.sum() == pytest.approx(pmf[30] + pmf[10])
    no_open = _balances([("X", "C1", AS_OF, 0)]).iloc[:0]
    fc = cf.cash_forecast(no_open, _preds([]), None, AS_OF, draws=5, new_business=nb)
    d = fc.daily.set_index("day")
    # before the first new invoice is 30 days old only the segment prior's crumbs (C2's 10-day half);
    # then about 1,000.00 every business day
    assert 0 < d.loc[: AS_OF + dt.timedelta(days=30), "expected_minor"].sum() < 100_000 * pmf[10] * 25
    later = d.loc[AS_OF + dt.timedelta(days=40) :, "new_business_expected_minor"]
    busy = later[later > 0]
    assert busy.median() == pytest.approx(100_000 * pmf[30], rel=0.02)
    assert (fc.daily["open_ar_expected_minor"] == 0).all()
    assert int(fc.weekly["expected_minor"].sum()) == int(fc.daily["expected_minor"].sum())


def test_point_lag_and_what_if_move_the_new_business():
    inv, rec = _history(AS_OF)
    nb = cf.NewBusiness.from_history(inv, rec, AS_OF)
    due = nb.with_point_lag(np.array([30.0]))
    assert due.lag_pmf[0, 30] == 1.0 and due.lag_pmf[0].sum() == 1.0
    late = cf.delay_new_business(due, ["C1"], 7)
    assert late.lag_pmf[0, 37] == 1.0
    assert cf.stop_new_business(nb, ["C1"]).daily_rate_minor.tolist() == [0.0]


def test_month_end_profile_weights_the_invoicing_of_the_last_business_days():
    days = pd.bdate_range("2025-09-01", "2026-02-27")
    left = cf._bdays_to_month_end(days.to_numpy("datetime64[D]"), cf.MONTH_END_BUCKETS)
    # 2026-01-30 is the last business day of January (a Friday), 2026-01-28 two before it
    assert left[days.get_loc(pd.Timestamp("2026-01-30"))] == 0
    assert left[days.get_loc(pd.Timestamp("2026-01-28"))] == 2
    assert left[days.get_loc(pd.Timestamp("2026-01-05"))] == cf.MONTH_END_BUCKETS
    inv = pd.DataFrame(
        {"invoice_date": days, "amount_functional_minor": np.where(left < cf.MONTH_END_BUCKETS, 200, 100)}
    )
    profile = cf.month_end_profile(inv)
    assert len(profile) == cf.MONTH_END_BUCKETS + 1
    assert profile[:-1] == pytest.approx([profile[0]] * cf.MONTH_END_BUCKETS)
    assert profile[0] / profile[-1] == pytest.approx(2.0)
    # the issuance of a month-end day is twice an ordinary day's
    nb = cf.NewBusiness(
        np.array(["C1"], dtype=object),
        np.array(["USD"], dtype=object),
        np.array([100.0]),
        np.eye(1, 40),  # paid on the day of issue
        month_end_profile=profile,
    )
    as_of = dt.date(2026, 1, 23)  # a Friday; 2026-01-30 is 7 days later, 2026-02-02 10 days later
    m = nb.mass(as_of, 20)[0]
    assert m[7] == pytest.approx(2 * m[10])


def test_seasonal_index_is_the_month_factor_against_the_run_rate_windows():
    # two whole years: four invoices every bank business day, two in December (half the activity); the
    # amounts are wild on purpose (the factors count invoices)
    hol = set(cf._bank_holidays("USD", 2024, 2026))
    days = pd.DatetimeIndex(
        [d for d in pd.bdate_range("2024-11-01", "2026-10-30") if d.to_datetime64() not in hol]
    )
    per_day = np.where(days.month == 12, 2, 4)
    dates = np.repeat(days, per_day)
    rng = np.random.default_rng(7)
    inv = pd.DataFrame(
        {"invoice_date": dates, "amount_functional_minor": rng.lognormal(10, 2, len(dates)).round()}
    )
    as_of = dt.date(2026, 10, 30)  # the window (May-October) has no December in it
    s = cf.seasonal_index(inv, as_of, cf.ISSUANCE_LOOKBACK_DAYS, 91)
    ahead = pd.date_range(as_of, periods=91, freq="D")
    assert len(s) == 91
    assert s[ahead.month == 11] == pytest.approx(1.0)
    # December at half the level, shrunk halfway (a square root) toward flat
    assert s[ahead.month == 12] == pytest.approx(0.5**cf.SEASONAL_SHRINK)
    # a window that holds a December raises the rest against it
    s_jan = cf.seasonal_index(inv, dt.date(2026, 1, 30), 182, 40)
    assert s_jan[0] > 1.0
    # without a whole year of months: flat (empty)
    young = inv[inv["invoice_date"] >= pd.Timestamp("2025-12-15")]
    assert len(cf.seasonal_index(young, as_of, cf.ISSUANCE_LOOKBACK_DAYS, 91)) == 0


def test_credit_holds_cut_the_run_rate_of_customers_long_past_due():
    nb = cf.NewBusiness(
        np.array(["C1", "C2", "C3"], dtype=object),
        np.array(["USD"] * 3, dtype=object),
        np.array([100.0, 100.0, 100.0]),
        np.zeros((3, 10)),
    )
    bal = _balances(
        [
            ("I1", "C1", AS_OF - dt.timedelta(days=cf.CREDIT_HOLD_DAYS + 1), 1_000),
            ("I2", "C2", AS_OF - dt.timedelta(days=cf.CREDIT_HOLD_DAYS), 1_000),
        ]
    )
    held = nb.with_credit_holds(bal, AS_OF)
    assert held.daily_rate_minor.tolist() == [100.0 * cf.CREDIT_HOLD_FACTOR, 100.0, 100.0]
    assert 0 < cf.CREDIT_HOLD_FACTOR < 1


def test_calibrated_bands_are_the_expected_times_the_realized_error_quantiles():
    bal = _balances([("I1", "C1", AS_OF + dt.timedelta(days=10), 1_000_000)])
    preds = _preds([("I1", 2, 5, 9, 0.02, 1.0, 1.0, 1.0)])
    bands = cf.BandCalibration(
        weekly=((1, 4, -0.2, 0.1), (5, 13, -0.5, 0.5)),
        periods=((30, -0.1, 0.05), (60, -0.1, 0.05), (90, -0.1, 0.05)),
    )
    fc = cf.cash_forecast(bal, preds, None, AS_OF, draws=20, bands=bands)
    w = fc.weekly.set_index("week")
    for k in (1, 2, 3):
        e = int(w.loc[k, "expected_minor"])
        assert (w.loc[k, "low_minor"], w.loc[k, "high_minor"]) == (round(e * 0.8), round(e * 1.1))
    t = fc.totals.set_index("period_days")
    assert t.loc[60, "expected_minor"] == 1_000_000
    assert (t.loc[60, "low_minor"], t.loc[60, "high_minor"]) == (900_000, 1_050_000)
    with pytest.raises(ValueError, match="week 14"):
        bands.week(14)


def test_blocks_of_customers_change_neither_the_expectation_nor_the_draws(monkeypatch):
    # 60 customers (one weekly Thursday payer), 400 invoices, one with a pending promise: computed in one
    # block and in blocks of a few customers and invoices, the forecast is the same to the cent.
    rng = np.random.default_rng(3)
    rows, preds = [], []
    for i in range(400):
        c = f"C{int(rng.integers(0, 60)):02d}"
        rows.append(
            (
                f"I{i:03d}",
                c,
                AS_OF + dt.timedelta(days=int(rng.integers(-20, 40))),
                int(rng.integers(1, 10**7)),
            )
        )
        p10 = int(rng.integers(-5, 10))
        preds.append((f"I{i:03d}", p10, p10 + 5, p10 + 20, 0.3, 0.8, 0.95, 1.0))
    bal, pr = _balances(rows), _preds(preds)
    promises = pd.DataFrame(
        [
            {
                "promise_id": "P1",
                "customer_id": rows[0][1],
                "invoice_id": "I000",
                "promised_pay_date": AS_OF + dt.timedelta(days=9),
                "promised_minor": rows[0][3],
                "keep_rate": 0.7,
            }
        ]
    )
    thursdays = pd.date_range("2025-09-04", "2026-03-05", freq="7D")
    prof = cf.RunProfiles.from_payments(
        pd.DataFrame({"customer_id": "C07", "payment_date": thursdays}), AS_OF
    )

    def run():
        fc = cf.cash_forecast(bal, pr, promises, AS_OF, draws=64, profiles=prof)
        return fc.daily

    whole = run()
    monkeypatch.setattr(cf, "KERNEL_BLOCK", 7)
    monkeypatch.setattr(cf, "MC_BLOCK_INVOICES", 25)
    monkeypatch.setattr(cf, "MC_BLOCK_CUSTOMERS", 4)
    blocks = run()
    pd.testing.assert_frame_equal(whole, blocks)
    assert (whole["low_minor"] < whole["high_minor"]).any()  # the draws do spread


def test_customer_blocks_bound_invoices_and_customers():
    counts = np.array([3, 0, 5, 40, 1, 1, 1, 2])
    blocks = cf._customer_blocks(counts, max_invoices=6, max_customers=3)
    assert blocks == [(0, 2), (2, 3), (3, 4), (4, 7), (7, 8)]
    assert [c for b in blocks for c in range(*b)] == list(range(len(counts)))
