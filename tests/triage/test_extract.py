"""The extractors on the forms people write: locale-dependent numeric dates, dates without a year,
weekdays relative to the sending day, amounts in three grouping styles."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from ml.triage import extract
from ml.triage.summary import split_thread, summarize

D = dt.date


@pytest.mark.parametrize(
    "text, received, country, expected",
    [
        ("will be paid on 06/10/2025", D(2025, 9, 30), "FR", D(2025, 10, 6)),  # day first in France
        ("will be paid on 06/10/2025", D(2025, 5, 30), "US", D(2025, 6, 10)),  # month first in the US
        ("erfolgt am 03.11.2025", D(2025, 10, 30), "DE", D(2025, 11, 3)),
        ("by 16 Apr", D(2026, 3, 30), "GB", D(2026, 4, 16)),
        ("by 5 Jan", D(2025, 12, 20), "GB", D(2026, 1, 5)),  # no year: the next 5 January
        ("sera effectué le 12 juin 2025", D(2025, 6, 2), "FR", D(2025, 6, 12)),
        ("am 7. Oktober 2025", D(2025, 10, 1), "DE", D(2025, 10, 7)),
        ("released on Thursday", D(2026, 7, 13), "US", D(2026, 7, 16)),  # 13 July 2026 is a Monday
        ("released on Monday", D(2026, 7, 13), "US", D(2026, 7, 20)),  # the same weekday means next week's
        ("released on Friday, July 17", D(2026, 7, 13), "US", D(2026, 7, 17)),
        ("on 2026-01-31", D(2026, 1, 20), None, D(2026, 1, 31)),
        ("by November 10", D(2026, 11, 3), "US", D(2026, 11, 10)),
        ("releasing it tomorrow", D(2026, 6, 11), "US", D(2026, 6, 12)),
        ("zahlen am 2.10.", D(2026, 9, 22), "DE", D(2026, 10, 2)),  # German, no year
        ("le virement partira le 11/02", D(2026, 1, 27), "FR", D(2026, 2, 11)),
        ("planned for 3/10", D(2026, 1, 9), "US", D(2026, 3, 10)),
        ("value date of 17-Feb-2026", D(2026, 2, 6), "GB", D(2026, 2, 17)),
        ("by the 12th of March", D(2026, 3, 2), "IE", D(2026, 3, 12)),
        ("paying by Tue 28", D(2026, 7, 24), "US", D(2026, 7, 28)),  # 28 July 2026 is a Tuesday
        ("goes out Friday next week", D(2026, 7, 13), "US", D(2026, 7, 24)),
        ("at month end", D(2026, 2, 10), "US", D(2026, 2, 28)),
        ("by the end of March", D(2026, 3, 2), "GB", D(2026, 3, 31)),
        ("on 03-17-2026", D(2026, 3, 6), "US", D(2026, 3, 17)),
    ],
)
def test_dates(text, received, country, expected):
    found = extract.dates(text, received, country)
    assert found and found[0].value == expected


@pytest.mark.parametrize(
    "text, amount, currency",
    [
        ("payment of USD 19,225.41 today", Decimal("19225.41"), "USD"),
        ("Die Zahlung über 1.934,29 EUR erfolgt", Decimal("1934.29"), "EUR"),
        ("le règlement de 3\u202f011,24 € sera", Decimal("3011.24"), "EUR"),
        ("le règlement de 3 011,24 EUR sera", Decimal("3011.24"), "EUR"),
        ("a credit of $25,077.18?", Decimal("25077.18"), "USD"),
        ("£12,400.50 will be transferred", Decimal("12400.50"), "GBP"),
        ("EUR 7.450,00 in the batch", Decimal("7450.00"), "EUR"),
        ("$2,500 now", Decimal("2500"), "USD"),
        ("4,240.71 dollars is planned", Decimal("4240.71"), "USD"),
        ("der Betrag von 166.811,26 Euro wird", Decimal("166811.26"), "EUR"),
        ("6,631.30 gbp by Friday", Decimal("6631.30"), "GBP"),
        ("US$3,695.01 today", Decimal("3695.01"), "USD"),
        ("$ 62,695.99 going out", Decimal("62695.99"), "USD"),
    ],
)
def test_amounts(text, amount, currency):
    found = extract.amounts(text)
    assert [f.value for f in found][:1] == [(amount, currency)]


def test_a_bare_number_is_not_money():
    assert extract.amounts("we received 190 of 250 units on PO 5531") == []
    # an account number at the end of a subject line is not money that a "$" on the next line starts
    assert [f.value for f in extract.amounts("RE: C000265\n$ 62,695.99 going out")] == [
        (Decimal("62695.99"), "USD")
    ]


def test_month_end_close_is_not_a_date_and_today_yields_to_a_stated_date():
    text = (
        "Slipped through our month-end close. I've processed $397.80 today with a value date of January 22nd."
    )
    assert extract.promise_terms(text, D(2026, 1, 21), "US") == (D(2026, 1, 22), Decimal("397.80"), "USD")


def test_an_unlinked_sender_paying_in_dollars_writes_dates_month_first():
    assert extract.promise_terms("will pay $21,706.56 on 02-11-2026", D(2026, 2, 10), None)[0] == D(
        2026, 2, 11
    )


def test_promise_terms_take_the_amount_next_to_the_date():
    text = "We can pay EUR 1.200,00 on 15.03.2026 towards INV-100200 (total EUR 3.600,00), the rest in April."
    assert extract.promise_terms(text, D(2026, 3, 2), "DE") == (D(2026, 3, 15), Decimal("1200.00"), "EUR")


def test_promise_terms_ignore_past_dates():
    text = "Your reminder of 02/03/2026: we will pay $880.00 on 03/20/2026."
    assert extract.promise_terms(text, D(2026, 3, 10), "US") == (D(2026, 3, 20), Decimal("880.00"), "USD")


def test_invoice_ids_and_emails():
    text = "Copy of INV-102570 and inv 103496 please, to AP@Example.com. INV-102570 again."
    assert extract.invoice_ids(text) == ["INV-102570", "INV-103496"]
    assert extract.emails(text) == ["ap@example.com"]


def test_dispute_reason_cues():
    assert extract.dispute_reason_by_cues("6 cartons arrived crushed") == "DAMAGED"
    assert extract.dispute_reason_by_cues("billed twice for the same order") == "DUPLICATE_BILLING"
    assert extract.dispute_reason_by_cues("thanks") is None


THREAD = """Hi Tom,
Confirmed - $9,845.12 goes out via ACH on November 10.
Rachel

On Mon, Nov 2, 2026 at 9:14 AM Tom Becker <tom@seller.example> wrote:
> Hi Rachel, any update on the invoices below? They are now 45 days past due and our
> credit team has asked me to escalate if we cannot agree a date this week.
> INV-240011 $4,200.00
> INV-240057 $5,645.12
>
> On Mon, Oct 19, 2026 Rachel Kim wrote:
>> Checking with our controller and will get back to you. We had a system migration last month
>> and a number of supplier invoices were stuck in the approval queue, yours among them.
"""


def test_thread_is_split_newest_first():
    parts = split_thread(THREAD)
    assert len(parts) == 3
    assert parts[0].startswith("Hi Tom,")
    assert parts[2].startswith("Checking with our controller")


def test_summary_keeps_the_newest_facts_and_drops_greetings():
    s = summarize(THREAD, max_sentences=2)
    assert "Confirmed - $9,845.12 goes out via ACH on November 10." in s
    assert "Hi Tom" not in s and "Rachel\n" not in s
    assert len(s) <= 280


def test_short_message_is_its_own_summary():
    assert summarize("Paid today, $870.00.\n") == "Paid today, $870.00."
