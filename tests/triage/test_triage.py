"""The triage model end to end on a small simulated world and on hand-written messages."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from ml.triage.data import labelled_messages
from ml.triage.evaluate import family_split, held_out_families, scores
from ml.triage.evaluate import main as evaluate_main
from ml.triage.triage import BLIND_FILE, SEED_FILE, load_handwritten, train_triage_model, triage_messages


@pytest.fixture(scope="module")
def labelled(small_world_dir) -> pd.DataFrame:
    return labelled_messages(small_world_dir)


@pytest.fixture(scope="module")
def split(labelled):
    return family_split(labelled)


@pytest.fixture(scope="module")
def model(split):
    return train_triage_model(split[0])


def test_held_out_wording_families_are_read(split, model):
    train, test = split
    assert set(train["family"]).isdisjoint(test["family"])
    assert test["intent"].nunique() == 7  # every intent has a family held out
    s = scores(test, triage_messages(test, model))
    assert s["n"] > 80
    assert s["macro_f1"] >= 0.9
    assert s["promise"]["date_accuracy"] >= 0.85 and s["promise"]["amount_accuracy"] >= 0.85


def test_worker_processes_triage_a_large_batch_as_one_process_does(split, model, monkeypatch):
    import ml.triage.triage as triage

    test = split[1]
    alone = triage_messages(test, model)
    monkeypatch.setattr(triage, "POOL_MIN_MESSAGES", 10)  # the small world's batch counts as large
    shared = triage_messages(test, model, workers=2)
    assert len(shared) == len(test) > 80
    pd.testing.assert_frame_equal(shared, alone)


def test_the_same_families_are_held_out_on_any_world():
    fams = pd.Series(["promise_to_pay:a", "promise_to_pay:b", "promise_to_pay:c", "other:x", "other:y"])
    intents = fams.str.split(":").str[0]
    once = held_out_families(fams, intents)
    assert once == held_out_families(fams[::-1], intents[::-1])
    assert len(once & {"promise_to_pay:a", "promise_to_pay:b", "promise_to_pay:c"}) == 1
    assert len(once & {"other:x", "other:y"}) == 1


def _one(subject, body, received, country="US"):
    return pd.DataFrame(
        {
            "message_id": ["M1"],
            "subject": [subject],
            "body": [body],
            "received_date": [received],
            "country": [country],
            "from_address": ["old.ap@customer.example"],
            "account_id": ["C000001"],
        }
    )


def test_a_promise_gets_logged_with_its_date_and_amount(model):
    r = triage_messages(
        _one(
            "RE: overdue",
            "Hi Tom, we'll cut a check for $4,870.00 this Friday. Thanks, Dana",
            dt.date(2026, 3, 10),
        ),
        model,
    ).iloc[0]
    assert r["intent"] == "promise_to_pay" and r["quick_action"] == "log_promise"
    assert r["promised_date"] == dt.date(2026, 3, 13)
    assert r["promised_amount_minor"] == 487000 and r["promised_currency"] == "USD"


def test_a_contact_change_names_the_new_address(model):
    body = (
        "Hello, please note Sam has left the company. Going forward please send all invoices and "
        "statements to payables@customer.example.\n\nRegards, Kim"
    )
    r = triage_messages(_one("Change of AP contact", body, dt.date(2026, 4, 1)), model).iloc[0]
    assert r["intent"] == "contact_change"
    assert r["new_contact_email"] == "payables@customer.example"
    assert r["action_detail"] == "update AP contact to payables@customer.example"


def test_an_out_of_office_reply_says_when_to_retry(model):
    body = "Thank you for your email. I am out of the office until 28/08/2026 with limited access to email."
    r = triage_messages(
        _one("Automatic reply: Payment reminder", body, dt.date(2026, 8, 17), "GB"), model
    ).iloc[0]
    assert r["intent"] == "out_of_office"
    assert r["back_date"] == dt.date(2026, 8, 28)
    assert r["action_detail"] == "retry after 2026-08-29"


def test_handwritten_sets_load_and_are_disjoint():
    seed, blind = load_handwritten(SEED_FILE), load_handwritten(BLIND_FILE)
    assert len(seed) >= 60 and len(blind) >= 30
    assert not set(seed["message_id"]) & set(blind["message_id"])
    assert (
        set(seed["intent"])
        == set(blind["intent"])
        == {
            "promise_to_pay",
            "dispute",
            "invoice_copy_request",
            "remittance_advice",
            "contact_change",
            "out_of_office",
            "other",
        }
    )


def test_a_malformed_handwritten_file_names_the_message(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("messages:\n- id: X-1\n  received: 2026-01-01\n  subject: s\n  intent: other\n")
    with pytest.raises(ValueError, match=r"bad.yaml: message 1 \(X-1\) lacks 'body'"):
        load_handwritten(p)


def test_evaluate_main_prints_json(small_world_dir, capsys):
    assert evaluate_main(["--world", str(small_world_dir), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["simulated_held_out_families"]["macro_f1"] >= 0.9
    assert r["simulated_held_out_families"]["template_overlap"] < 0.5
    assert 0 <= r["handwritten_blind"]["macro_f1"] <= 1
    assert r["handwritten_blind"]["n"] == len(load_handwritten(BLIND_FILE))


def test_evaluate_main_on_a_folder_without_truth(tmp_path, capsys):
    assert evaluate_main(["--world", str(tmp_path)]) == 2
    assert "message_intents.csv" in capsys.readouterr().err
