"""``openar bench ingest`` at a tiny size: it scores extraction against the truth and parses what it wrote."""

from __future__ import annotations

import json
from decimal import Decimal

from ingestion.bench import FORMATS, _score, main, throughput_benchmark, write_throughput_files
from ingestion.parsing import parse_file
from orchestration.cli import DELEGATED


def test_scoring_counts_a_reference_on_the_wrong_amount_but_not_the_amount():
    truth = [
        {"reference_as_written": "100123", "invoice_id": "INV-100123", "paid_amount": "1200.00"},
        {"reference_as_written": "100124", "invoice_id": "INV-100124", "paid_amount": "80.50"},
    ]
    # canonical number accepted; the second line carries the first line's amount; one invented line
    predicted = [("INV-100123", Decimal("1200.00")), ("100124", Decimal("1200.00")), ("999", Decimal("1"))]
    assert _score(truth, predicted) == (2, 1)


def test_throughput_files_are_written_by_the_simulators_writers_and_all_parse(tmp_path):
    written = write_throughput_files(tmp_path, 2_503)
    assert {f: n for f, (_, n) in written.items()} == {
        "camt.053": 500,
        "mt940": 500,
        "bai2": 500,
        "lockbox": 500,
        "csv": 503,
    }
    detected = {}
    for fmt in FORMATS:
        for p in sorted((tmp_path / fmt.replace(".", "_")).iterdir()):
            r = parse_file(p)
            detected[fmt] = r.source_format
            # statements carry balances that reconcile; every movement has an exact amount
            assert all(t.amount > 0 for t in r.transactions)
    assert detected == {f: f for f in FORMATS}


def test_throughput_report_counts_every_transaction():
    r = throughput_benchmark(1_000)
    assert r["transactions"] == 1_000
    assert [v["transactions"] for v in r["formats"].values()] == [200] * 5
    assert r["total"]["tx_per_cpu_second"] > 500


def test_the_command_scores_a_simulated_world_and_prints_json(small_world_dir, capsys):
    assert DELEGATED[("bench", "ingest")] == "ingestion.bench"
    code = main(["--world", str(small_world_dir), "--max-documents", "40", "--transactions", "250", "--json"])
    report = json.loads(capsys.readouterr().out)
    extraction = report["extraction"]
    assert extraction["files"] == 40
    assert extraction["overall"]["documents"] >= 40
    assert extraction["overall"]["invoice_reference"]["f1"] >= 0.98
    assert extraction["overall"]["paid_amount"]["f1"] >= 0.98
    assert code == 0 and extraction["passed"] is True
    assert report["throughput"]["transactions"] == 250


def test_a_world_without_bank_files_is_refused_with_a_clear_message(tmp_path, capsys):
    assert main(["--world", str(tmp_path), "--skip-throughput"]) == 2
    assert "remittance_documents.csv not found" in capsys.readouterr().err
