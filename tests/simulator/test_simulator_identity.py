"""Bank identifiers, names as banks write them, money formatting: checked against published examples."""

from __future__ import annotations

from decimal import Decimal

import pytest

from simulator import identity
from simulator.money import convert, fmt_cents, fmt_grouped, parse_cents, pct_of
from simulator.rand import Draws, customer_generator


@pytest.mark.parametrize(
    "iban",
    [
        # Examples published in the ISO 13616 / SWIFT IBAN registry.
        "GB82WEST12345698765432",
        "DE89370400440532013000",
        "ES9121000418450200051332",
        "IT60X0542811101000000123456",
        "NL91ABNA0417164300",
        "IE29AIBK93115212345678",
    ],
)
def test_iban_check_digits_match_published_examples(iban):
    assert identity.iban_is_valid(iban)
    assert identity.iban_check_digits(iban[:2], iban[4:]) == iban[2:4]


def test_national_check_digits_match_published_examples():
    # ES9121000418450200051332: bank 2100, branch 0418, checks 4 and 5, account 0200051332
    assert identity._es_check("0021000418") == "4"
    assert identity._es_check("0200051332") == "5"
    # IT60X0542811101000000123456: CIN X for ABI 05428, CAB 11101, account 000000123456
    assert identity._it_cin("05428", "11101", "000000123456") == "X"
    # FR7630006000011234567890189: bank 30006, branch 00001, account 12345678901, RIB key 89
    assert identity._fr_rib_key("30006", "00001", "12345678901") == "89"


@pytest.mark.parametrize("country", ["GB", "IE", "DE", "FR", "NL", "ES", "IT"])
def test_generated_ibans_are_valid(country):
    d = Draws(customer_generator(1, 2))
    for _ in range(50):
        iban = identity.make_iban(d, country)
        assert iban.startswith(country) and identity.iban_is_valid(iban)
        assert not identity.iban_is_valid(iban[:-1] + str((int(iban[-1]) + 1) % 10))


def test_us_routing_numbers_pass_the_aba_checksum():
    assert identity.aba_is_valid("021000021") and not identity.aba_is_valid("021000022")
    d = Draws(customer_generator(3, 4))
    assert all(identity.aba_is_valid(identity.make_aba(d)) for _ in range(200))


def test_bank_names_are_upper_case_ascii_and_fit_the_rail():
    d = Draws(customer_generator(5, 6))
    styled = identity.bank_style_name(d, "Müller Maschinenbau GmbH & Co. KG")
    assert styled == styled.upper() and "Ü" not in styled and styled.startswith(("MUELLER", "MULLER"))
    for channel, width in identity.NAME_WIDTH.items():
        for _ in range(20):
            assert len(identity.name_as_written(d, styled, channel)) <= width


def test_money_is_exact_and_half_up():
    assert fmt_cents(-123456) == "-1234.56" and fmt_cents(5) == "0.05"
    assert parse_cents("1234.56") == 123456
    assert pct_of(1025, Decimal("2.0000")) == 21  # 20.5 cents rounds half up
    assert pct_of(1075, Decimal("2.0000")) == 22  # 21.5 -> 22
    assert convert(100, Decimal("1.085005")) == 109  # 108.5005
    assert convert(-250, Decimal("1.27")) == -318  # -317.5 rounds away from zero
    assert fmt_grouped(1234567, "de") == "12.345,67" and fmt_grouped(1234567) == "12,345.67"
