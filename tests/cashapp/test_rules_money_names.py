"""Money conversion, the rules file, payer-name normalization and reference matching."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from ml.cashapp.book import OpenItem
from ml.cashapp.money import from_cents, pct_of, to_cents
from ml.cashapp.names import NameIndex, name_similarity, normalize_name
from ml.cashapp.references import ReferenceIndex, ocr_digits, resolve_in_family, tokens
from ml.cashapp.rules import DEFAULT_RULES_PATH, RulesError, load_rules, rules_from_dict


def test_cents_are_exact_and_floats_are_refused():
    assert to_cents(Decimal("12.34")) == 1234
    assert to_cents("0.10") == 10
    assert to_cents(Decimal("-5")) == -500
    assert from_cents(1234) == Decimal("12.34")
    assert str(from_cents(5)) == "0.05"
    assert pct_of(240_2842, Decimal("2.0000")) == 48_057  # 2% of 24,028.42, half-up
    with pytest.raises(TypeError, match="float"):
        to_cents(0.1)
    with pytest.raises(ValueError, match="more than two decimals"):
        to_cents("1.005")


def test_the_documented_rules_file_loads_with_its_defaults():
    r = load_rules(DEFAULT_RULES_PATH)
    assert r.discount_grace_days == 3
    assert r.bank_fee_limit("EUR") == 2500
    assert r.bank_fee_limit("CHF") == 3000  # "default"
    assert r.underpay_writeoff_limit("USD") == 500
    assert r.round_amount_units_cents == (1000, 10000)
    assert r.target_precision == Decimal("0.999")
    assert r.never_auto_methods == ("on_account", "oldest_first", "deduction")
    assert r.deduction_min("GBP") == 100
    assert r.deduction_max_share == Decimal("0.30")
    assert r.customers == {}


def test_customer_rules_are_read():
    r = rules_from_dict(
        {
            "customers": {
                "C000123": {
                    "pays_for": ["C000456"],
                    "net_of_bank_fees": True,
                    "bank_fee_max": "40.00",
                    "names": ["ROADRUNNER SUPPLY"],
                    "auto_apply": False,
                }
            }
        }
    )
    c = r.customer("C000123")
    assert c.pays_for == ("C000456",) and c.net_of_bank_fees and not c.auto_apply
    assert r.bank_fee_limit("EUR", "C000123") == 4000
    assert r.customer("C999999").auto_apply  # no rule: the defaults


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("matching:\n  discount_grace_day: 3\n", "matching.discount_grace_day: unknown key"),
        ("matching:\n  bank_fee:\n    max_share: lots\n", "matching.bank_fee.max_share: must be a number"),
        (
            'matching:\n  write_off:\n    underpayment_max: {EUR: "5.001"}\n',
            "underpayment_max.EUR: must be an amount",
        ),
        ("decision:\n  never_auto_methods: [guess]\n", "unknown method 'guess'"),
        ("customers:\n  C1:\n    net_of_bank_fee: true\n", "customers.C1.net_of_bank_fee: unknown key"),
        ("version: 2\n", "unsupported version"),
        ("matching: [1, 2\n", "not valid YAML"),
    ],
)
def test_bad_rules_name_the_file_and_the_key(tmp_path: Path, text: str, message: str):
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    with pytest.raises(RulesError) as e:
        load_rules(path)
    assert str(path) in str(e.value)
    assert message in str(e.value)


@pytest.mark.parametrize(
    ("name", "normalized"),
    [
        ("Weser Fahrzeugteile GmbH & Co. KG", "WESER FAHRZEUGTEILE"),
        ("WESER FAHRZEUGTEILE GMBH + CO KG", "WESER FAHRZEUGTEILE"),
        ("Müller Maschinenbau AG", "MULLER MASCHBAU"),
        ("MUELLER MASCHBAU", "MULLER MASCHBAU"),
        ("Colombo Forniture Industriali S.r.l.", "COLOMBO FORNITURE INDUSTRIALI"),
        ("Crawford Brothers Foods Ltd.", "CRAWFORD BROS FOODS"),
        ("Keystone Distribution Limited", "KEYSTONE DISTR"),
        (None, ""),
    ],
)
def test_names_reduce_to_what_identifies_the_company(name, normalized):
    assert normalize_name(name) == normalized


def test_truncated_bank_names_still_match():
    assert (
        name_similarity(normalize_name("KEYSTONE DISTR L"), normalize_name("Keystone Distribution Limited"))
        >= 95
    )
    assert (
        name_similarity(
            normalize_name("SILVERLINE TECHNOLOGIE"), normalize_name("Silverline Technologies Inc.")
        )
        >= 90
    )
    idx = NameIndex()
    idx.add("Cedar Solutions Limited", "C1")
    idx.add("Cedar Furniture Inc.", "C2")
    idx.add("Atlas & Sons Inc.", "C3")
    best = idx.search(normalize_name("CEDAR SOLUTIONS LTD"))
    assert best[0][0] == "C1" and best[0][1] == 100


def test_tokens_and_exact_lookup():
    assert tokens("RE INV-100023, 100024/100025 PO 4577859463") == (
        "INV-100023",
        "100024",
        "100025",
        "4577859463",
    )
    idx = ReferenceIndex()
    idx.add("INV-100023", "C1", "4577859463")
    idx.add("INV-100024", "C1", "PO-36408")
    assert [h.item_id for h in idx.lookup("INV100023")] == ["INV-100023"]
    assert [h.item_id for h in idx.lookup("100023")] == ["INV-100023"]
    assert [(h.item_id, h.strength) for h in idx.lookup("4577859463")] == [("INV-100023", "po")]
    assert [(h.item_id, h.strength) for h in idx.lookup("PO-36408")] == [("INV-100024", "po")]
    assert idx.customers_named("CUST C1 ACCT 000001") == set()  # only ids that exist
    idx.add_customer("C000200")
    assert idx.customers_named("ACCT 000200 PAYMENT") == {"C000200"}
    assert ocr_digits("INV-1OO023") == "100023"


def _items(*ids):
    return [OpenItem(i, "C1", "USD", 1, 31, 100, 100) for i in ids]


def test_partial_and_mistyped_references_within_a_family():
    items = _items("INV-114642", "INV-114250", "INV-114723", "INV-114732", "INV-114733")
    assert [(h.item_id, h.strength) for h in resolve_in_family(["11464"], items, set())] == [
        ("INV-114642", "partial")
    ]
    # a swap is what people type; the one-digit substitutions of a sequential series say nothing
    assert [(h.item_id, h.strength) for h in resolve_in_family(["114372"], items, set())] == [
        ("INV-114732", "transposed")
    ]
    # a prefix that names many items names none
    assert (
        resolve_in_family(["1142"], _items("INV-114201", "INV-114202", "INV-114203", "INV-114204"), set())
        == []
    )


def test_deduction_rules_are_read_and_checked():
    r = rules_from_dict(
        {"matching": {"deductions": {"min_amount": {"default": "2.50", "EUR": "5.00"}, "max_share": "0.2"}}}
    )
    assert (r.deduction_min("USD"), r.deduction_min("EUR"), r.deduction_max_share) == (
        250,
        500,
        Decimal("0.2"),
    )
    with pytest.raises(RulesError, match=r"matching\.deductions\.max_share: must be between 0 and 0\.9"):
        rules_from_dict({"matching": {"deductions": {"max_share": "0.95"}}}, source="x.yaml")
    with pytest.raises(
        RulesError, match=r"matching\.deductions\.share: unknown key \(allowed: max_share, min_amount\)"
    ):
        rules_from_dict({"matching": {"deductions": {"share": "0.2"}}})
