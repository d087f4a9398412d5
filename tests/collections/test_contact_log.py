"""Contacts logged in the app: written whole to the write-back folder, checked, and turned into the
promises and activities of the next worklist run."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest

from ml.collections.contact_log import apply_contacts, contacts_dir, read_contacts, write_contact

AS_OF = dt.date(2026, 11, 20)
PROMISE = {
    "log_id": "a1",
    "customer_id": "C1",
    "data_as_of": AS_OF,
    "logged_at": "2026-11-23T09:15:00+00:00",
    "channel": "call",
    "outcome": "promise_to_pay",
    "promised_pay_date": dt.date(2026, 11, 27),
    "promised_amount": Decimal("1234.50"),
}


def _empty_inputs():
    promises = pd.DataFrame(
        columns=["promise_id", "customer_id", "invoice_id", "promise_date", "promised_pay_date", "promised_minor",
                 "status", "resolved_date"]
    )  # fmt: skip
    return promises, pd.DataFrame(columns=["customer_id", "activity_at", "activity_type", "outcome"])


def test_a_promise_round_trips_exactly_and_becomes_an_open_promise(tmp_path):
    path = write_contact(tmp_path, PROMISE)
    assert path.parent == contacts_dir(tmp_path) and not list(path.parent.glob("*.tmp"))
    logged = read_contacts(tmp_path)
    assert (
        logged.loc[0, "promised_amount"] == "1234.50" and logged.loc[0, "promised_pay_date"] == "2026-11-27"
    )
    promises, activities = apply_contacts(*_empty_inputs(), logged, AS_OF)
    assert promises.to_dict("records")[0] | {"resolved_date": None} == {
        "promise_id": "APP-a1", "customer_id": "C1", "invoice_id": None, "promise_date": pd.Timestamp(AS_OF),
        "promised_pay_date": pd.Timestamp("2026-11-27"), "promised_minor": 123450, "status": "open",
        "resolved_date": None,
    }  # fmt: skip
    assert activities.to_dict("records") == [
        {
            "customer_id": "C1",
            "activity_at": "2026-11-20T12:00:00",
            "activity_type": "call",
            "outcome": "promise_to_pay",
        }
    ]


def test_a_contact_logged_for_a_later_data_day_waits_for_that_run(tmp_path):
    write_contact(tmp_path, PROMISE)
    promises, activities = apply_contacts(
        *_empty_inputs(), read_contacts(tmp_path), AS_OF - dt.timedelta(days=1)
    )
    assert promises.empty and activities.empty


def test_a_no_answer_is_a_contact_not_a_promise(tmp_path):
    write_contact(
        tmp_path, {**PROMISE, "outcome": "no_answer", "promised_pay_date": None, "promised_amount": None}
    )
    promises, activities = apply_contacts(*_empty_inputs(), read_contacts(tmp_path), AS_OF)
    assert promises.empty and list(activities["outcome"]) == ["no_answer"]


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ({"outcome": "maybe"}, "outcome 'maybe' is not one of"),
        ({"promised_pay_date": None}, "a promise to pay needs promised_pay_date"),
        ({"promised_pay_date": dt.date(2026, 11, 19)}, "promised_pay_date 2026-11-19 is before the data day"),
        ({"promised_amount": Decimal("10.005")}, "at most two decimals"),
        ({"promised_amount": "ten"}, "promised_amount 'ten' is not a number"),
        ({"customer_id": ""}, "customer_id is required"),
    ],
)
def test_bad_entries_are_refused_with_the_rule(tmp_path, change, rule):
    with pytest.raises(ValueError, match=rule):
        write_contact(tmp_path, {**PROMISE, **change})
    assert not any(contacts_dir(tmp_path).glob("*.jsonl"))


def test_a_bad_line_names_its_file_and_line(tmp_path):
    write_contact(tmp_path, PROMISE)
    bad = contacts_dir(tmp_path) / "zz-bad.jsonl"
    bad.write_text('{"log_id": "b"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"zz-bad.jsonl line 1: customer_id is required"):
        read_contacts(tmp_path)
