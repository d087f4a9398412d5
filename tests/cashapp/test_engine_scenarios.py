"""Hand-made situations through the whole engine (cold-start heuristic scorer, real rules file)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ml.cashapp.engine import AUTO, SUGGESTED, UNIDENTIFIED, check_conservation
from ml.cashapp.rules import rules_from_dict
from tests.cashapp.builders import ACME, DAY, WESER, advice, engine, inv, txn


def _apps(res) -> set[tuple[str, Decimal]]:
    return {(r.item_id, r.applied_amount) for r in res.applications.itertuples() if r.item_type == "invoice"}


def test_exact_amount_from_known_account_is_applied():
    e = engine([inv("INV-100001", "C000001", "1250.00"), inv("INV-100002", "C000001", "980.10")])
    res = e.run([txn("980.10")])
    check_conservation(res)
    assert res.payments.status.tolist() == [AUTO]
    assert _apps(res) == {("INV-100002", Decimal("980.10"))}
    assert res.applications.method.tolist() == ["exact_amount"]
    assert "payer account in customer master" in res.applications.evidence.iloc[0]
    assert e.book.items["INV-100002"].open_cents == 0  # reserved: a second payment cannot take it


def test_two_open_items_of_the_same_amount_are_not_guessed():
    e = engine(
        [
            inv("INV-100001", "C000001", "500.00"),
            inv("INV-100002", "C000001", "500.00", issued=DAY - dt.timedelta(days=20)),
        ]
    )
    res = e.run([txn("500.00")])
    assert res.payments.status.tolist() == [SUGGESTED]
    assert set(res.suggestions.loc[res.suggestions["rank"] <= 2, "item_id"]) == {"INV-100001", "INV-100002"}
    assert res.payments.suggested_amount.iloc[0] == Decimal("500.00")
    assert res.payments.unapplied_amount.iloc[0] == Decimal("0.00")


def test_reference_with_swapped_digits_finds_the_invoice():
    items = [
        inv("INV-104417", "C000001", "310.00"),
        inv("INV-104471", "C000001", "1200.00"),
        inv("INV-104418", "C000001", "75.00"),
    ]
    res = engine(items).run([txn("1200.00", text="PAYMENT INV-104741")])
    assert _apps(res) == {("INV-104471", Decimal("1200.00"))}


def test_remittance_with_discount_and_deduction():
    items = [
        inv("INV-200001", "C000001", "1000.00", discount_pct="2.0000", discount_due=DAY),
        inv("INV-200002", "C000001", "500.00"),
        inv("INV-200003", "C000001", "99.00"),
    ]
    doc = advice(
        [("INV-200001", "980.00", "20.00"), ("200002", "440.00", None, "60.00", "damaged goods")],
        total="1420.00",
    )
    res = engine(items).run([txn("1420.00", text="REMITTANCE")], [doc])
    check_conservation(res)
    assert res.payments.status.tolist() == [AUTO]
    rows = {r.item_id: r for r in res.applications.itertuples()}
    assert rows["INV-200001"].applied_amount == Decimal("980.00")
    assert rows["INV-200001"].discount_amount == Decimal("20.00")
    assert rows["INV-200002"].applied_amount == Decimal("440.00")
    assert rows["INV-200002"].deduction_amount == Decimal("60.00")
    assert rows["INV-200002"].deduction_reason == "DAMAGED GOODS"
    assert set(rows["INV-200001"].method for _ in [0]) == {"remittance"}


def test_early_pay_discount_alone_explains_the_amount():
    items = [
        inv(
            "INV-300001",
            "C000010",
            "2000.00",
            currency="EUR",
            discount_pct="2.0000",
            discount_due=DAY - dt.timedelta(days=2),
        ),
        inv("INV-300002", "C000010", "700.00", currency="EUR"),
    ]
    res = engine(items).run(
        [
            txn(
                "1960.00",
                name="WESER FAHRZEUGTEILE GMBH + CO KG",
                account="DE44500105175407324931",
                currency="EUR",
            )
        ]
    )
    assert res.payments.status.tolist() == [AUTO]
    r = res.applications.iloc[0]
    assert (r.item_id, r.applied_amount, r.discount_amount, r.method) == (
        "INV-300001",
        Decimal("1960.00"),
        Decimal("40.00"),
        "discount",
    )


def test_several_invoices_summing_to_the_amount():
    items = [
        inv(f"INV-40000{i}", "C000001", a, due=DAY - dt.timedelta(days=10 - i))
        for i, a in enumerate(["100.00", "250.00", "333.33", "1000.00", "47.11"])
    ]
    res = engine(items).run([txn("630.44")])  # 250.00 + 333.33 + 47.11
    assert _apps(res) == {
        ("INV-400001", Decimal("250.00")),
        ("INV-400002", Decimal("333.33")),
        ("INV-400004", Decimal("47.11")),
    }


def test_parent_pays_for_its_subsidiary():
    items = [inv("INV-500001", "C000002", "812.40"), inv("INV-500002", "C000001", "99.00")]
    res = engine(items).run([txn("812.40", text="C000002 INV-500001")])
    assert res.applications.customer_id.tolist() == ["C000002"]
    assert _apps(res) == {("INV-500001", Decimal("812.40"))}


def test_new_account_identified_by_name_and_reference():
    items = [inv("INV-600001", "C000010", "1500.00", currency="EUR")]
    res = engine(items).run(
        [
            txn(
                "1500.00",
                name="WESER FAHRZEUGTEILE",
                account="DE11111111111111111111",
                currency="EUR",
                text="RG 600001",
            )
        ]
    )
    assert _apps(res) == {("INV-600001", Decimal("1500.00"))}


def test_overpayment_leaves_unapplied_credit_on_account():
    items = [inv("INV-700001", "C000001", "4321.00")]
    res = engine(items).run([txn("4400.00", text="INV-700001")])
    check_conservation(res)
    p = res.payments.iloc[0]
    assert p.applied_amount + p.suggested_amount == Decimal("4321.00")
    assert p.unapplied_amount == Decimal("79.00")
    assert res.unapplied.unapplied_amount.tolist() == [Decimal("79.00")]


def test_bank_fee_is_closed_for_a_customer_who_pays_net_of_fees():
    rules = rules_from_dict({"customers": {"C000010": {"net_of_bank_fees": True, "bank_fee_max": "40.00"}}})
    items = [inv("INV-800001", "C000010", "3000.00", currency="EUR")]
    res = engine(items, rules=rules).run(
        [txn("2965.00", name="WESER", account="DE44500105175407324931", currency="EUR", text="INV-800001")]
    )
    rows = res.applications if len(res.applications) else res.suggestions[res.suggestions["rank"] == 1]
    r = rows.iloc[0]
    assert (r.applied_amount, r.deduction_amount, r.deduction_reason) == (
        Decimal("2965.00"),
        Decimal("35.00"),
        "BANK_FEE",
    )


def test_partial_payment_named_by_the_payer_stays_partly_open():
    items = [inv("INV-900001", "C000001", "5000.00")]
    res = engine(items).run([txn("2000.00", text="INV-900001 PART PAYMENT")])
    check_conservation(res)
    row = (res.applications if len(res.applications) else res.suggestions[res.suggestions["rank"] == 1]).iloc[
        0
    ]
    assert (row.item_id, row.applied_amount, row.deduction_amount) == (
        "INV-900001",
        Decimal("2000.00"),
        Decimal("0.00"),
    )


def test_unknown_payer_is_unidentified_and_all_cash_unapplied():
    items = [inv("INV-910001", "C000001", "100.00"), inv("INV-910002", "C000001", "100.00")]
    res = engine(items).run(
        [txn("77.77", name="SOMEONE ELSE ENTIRELY", account="FR7630006000011234567890189")]
    )
    check_conservation(res)
    p = res.payments.iloc[0]
    assert p.status == UNIDENTIFIED
    assert (p.applied_amount, p.suggested_amount, p.unapplied_amount) == (
        Decimal("0.00"),
        Decimal("0.00"),
        Decimal("77.77"),
    )
    assert res.exceptions.reason.tolist() == ["payer_not_identified"]


def test_same_invoice_paid_twice_in_one_run_goes_to_review_the_second_time():
    e = engine([inv("INV-920001", "C000001", "640.00")])
    res = e.run([txn("640.00", text="INV-920001"), txn("640.00", text="INV-920001")])
    check_conservation(res)
    assert sorted(res.payments.status) == [AUTO, SUGGESTED]
    assert res.exceptions.reason.tolist() == ["items_already_applied"]


def test_debits_and_reversals_are_set_aside():
    t = txn("10.00")
    t.credit_debit, t.amount = "DBIT", Decimal("-10.00")
    res = engine([inv("INV-930001", "C000001", "10.00")]).run([t])
    assert res.payments.empty and res.skipped.reason.tolist() == ["debit"]


def test_advice_without_reference_is_linked_by_amount_and_payer():
    items = [
        inv("INV-940001", "C000010", "120.00", currency="EUR"),
        inv("INV-940002", "C000010", "80.00", currency="EUR"),
    ]
    doc = advice(
        [("940001", "120.00"), ("940002", "80.00")],
        total="200.00",
        payer=WESER["customer_name"],
        currency="EUR",
        day=DAY - dt.timedelta(days=1),
    )
    res = engine(items).run(
        [txn("200.00", name="WESER FAHRZEUGTEILE GMBH", account="DE44500105175407324931", currency="EUR")],
        [doc],
    )
    assert res.unlinked_remittances.empty
    assert res.payments.remittance_documents.tolist() == [1]
    assert _apps(res) == {("INV-940001", Decimal("120.00")), ("INV-940002", Decimal("80.00"))}
    assert ACME["customer_id"] not in set(res.applications.customer_id)
