"""The engine on a small simulated world: the adapter's inputs, the time-ordered replay, the bench command."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

import pytest

from ml.cashapp import bench
from ml.cashapp.replay import replay
from ml.cashapp.rules import load_rules
from ml.cashapp.sources import parsed_feed, simulated_feed


@pytest.fixture(scope="module")
def feed(small_world_dir):
    return simulated_feed(small_world_dir)


@pytest.fixture(scope="module")
def parse_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("parsed")


@pytest.fixture(scope="module")
def parsed(small_world_dir, parse_cache):
    return parsed_feed(small_world_dir, cache_dir=parse_cache, workers=1)


def test_every_simulated_payment_is_one_bank_transaction(small_world_dir: Path, feed):
    with (small_world_dir / "ground_truth" / "payments.csv").open(newline="") as fh:
        payments = list(csv.DictReader(fh))
    txns = [t for day in feed.transactions_by_day.values() for t in day]
    assert len(txns) == len(payments) == feed.payment_count
    assert len({t.identity() for t in txns}) == len(txns)
    by_id = {p["payment_id"]: p for p in payments}
    for t in txns:
        truth = feed.truth[t.identity()]
        row = by_id[truth.payment_id]
        assert t.amount == Decimal(row["amount"]) and t.currency == row["currency"]
        assert t.counterparty_account == row["payer_account"]
        assert t.booking_date.isoformat() == row["received_date"]
        # the truth's cash never exceeds what was received
        assert sum(a.cash for a in truth.allocations) <= truth.amount
    docs = [d for day in feed.remittances_by_day.values() for d in day]
    with_advice = sum(1 for p in payments if p["remittance"] != "none" and p["bundled_invoice_count"] != "0")
    assert 0.9 * with_advice <= len(docs) <= with_advice
    assert {d.source_format for d in docs} <= {"lockbox", "x12-820", "eml", "pdf", "xlsx"}


def test_the_feed_is_deterministic(small_world_dir: Path, feed):
    again = simulated_feed(small_world_dir)
    assert list(again.truth) == list(feed.truth)
    a = [
        (ln.invoice_reference, ln.paid_amount)
        for day in feed.remittances_by_day.values()
        for d in day
        for ln in d.lines
    ]
    b = [
        (ln.invoice_reference, ln.paid_amount)
        for day in again.remittances_by_day.values()
        for d in day
        for ln in d.lines
    ]
    assert a == b


def test_bench_command_prints_its_figures(small_world_dir: Path, tmp_path: Path, parsed, parse_cache, capsys):
    out = tmp_path / "cashapp.json"
    argv = f"--payments 800 --world {small_world_dir} --no-mlflow --json --scaling-sizes 10,60 "
    argv += f"--remittance-lines 40 --out {out} --cache-dir {parse_cache}"
    assert bench.main(argv.split()) == 0
    report = json.loads(capsys.readouterr().out)
    assert json.loads(out.read_text()) == report
    figures = (
        "auto_match_rate",
        "auto_precision",
        "recall_at_3_suggested",
        "recall_at_3_suggested_invoices_amount",
        "unidentified_share",
    )
    for key in (
        *figures,
        "payments_per_second",
        "time_per_payment_by_open_items",
        "scaling",
        "remittance_800",
    ):
        assert key in report
    assert all(0.0 <= report[k] <= 1.0 for k in figures)
    # a suggestion right to the cent is right on invoices and amount too; both are defined in the report
    assert report["recall_at_3_suggested_invoices_amount"] >= report["recall_at_3_suggested"]
    assert set(report["recall_definitions"]) == {"exact_allocation", "invoices_and_amount", "invoices_only"}
    assert report["recall_target_basis"].startswith("invoices_and_amount")
    assert "recall_at_3_suggested_invoices_amount" in report["targets"]
    assert report["payments_total"] == report["payments_trained_on"] + report["payments_evaluated"]
    assert [s["open_items"] for s in report["scaling"]] == [10, 60]
    assert report["remittance_800"]["all_lines_applied"] is True
    assert report["remittance_800"]["lines"] == 40
    # the engine was fed from the landing files by the parsers, not from the truth
    assert report["inputs"]["origin"] == "parsed" and report["inputs"]["parse_errors"] == 0
    assert report["inputs"]["files"] > 100 and report["other_credits_auto_applied"] == 0


def test_the_parsed_feed_is_what_the_parsers_read_from_the_landing_files(
    small_world_dir: Path, parsed, parse_cache
):
    feed = parsed
    assert feed.origin == "parsed" and feed.parse_errors == []
    gt = small_world_dir / "ground_truth"
    with (gt / "bank_movements.csv").open(newline="") as fh:
        movements = list(csv.DictReader(fh))
    with (gt / "payments.csv").open(newline="") as fh:
        payments = list(csv.DictReader(fh))
    with (gt / "remittance_documents.csv").open(newline="") as fh:
        documents = list(csv.DictReader(fh))
    txns = [t for day in feed.transactions_by_day.values() for t in day]
    # every movement of every statement (debits, sweeps, interest included), each true payment one of them
    assert len(txns) == len(movements)
    assert len(feed.truth) == len(payments)
    assert sorted(str(t.amount) for t in txns) == sorted(m["amount"] for m in movements)
    docs = [d for day in feed.remittances_by_day.values() for d in day]
    assert len(docs) == len(documents)
    # the second read comes from the cache and is the same
    again = parsed_feed(small_world_dir, cache_dir=parse_cache)
    assert again.parse_seconds == 0.0 and list(again.truth) == list(feed.truth)


def test_time_ordered_replay_of_the_parsed_files_applies_most_payments_and_is_right_when_it_does(parsed):
    res = replay(parsed, load_rules(), train_share=0.5)
    ev = res.evaluation.as_dict()
    assert res.train_payments > 300 and ev["payments"] > 300
    assert ev["auto_match_rate"] >= 0.85
    assert ev["auto_precision"] >= 0.99
    assert ev["auto_wrong"] <= 1
    assert res.scorer.booster is not None and res.scorer.threshold >= 0.9
    assert set(res.scorer.group_thresholds) == {"explained", "tolerance", "residual"}
    assert ev["other_credits"] > 0 and ev["other_credits_auto_applied"] == 0
    assert ev["payments_set_aside"] == 0


def test_the_throughput_feed_parses_bank_files_and_synthesizes_only_e_mailed_advices(
    small_world_dir: Path, parsed, tmp_path
):
    hybrid = parsed_feed(small_world_dir, cache_dir=tmp_path, workers=1, documents="synthesized")
    assert hybrid.origin != "parsed" and hybrid.parse_errors == []
    assert hybrid.files < parsed.files  # the e-mails were not read
    assert list(hybrid.truth) == list(parsed.truth)  # the same bank movements, parsed
    formats = {d.source_format for day in hybrid.remittances_by_day.values() for d in day}
    assert {"x12-820", "lockbox"} <= formats
    n_docs = sum(len(v) for v in hybrid.remittances_by_day.values())
    assert abs(n_docs - sum(len(v) for v in parsed.remittances_by_day.values())) <= 0.05 * n_docs
