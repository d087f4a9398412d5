"""Bank and remittance files into the warehouse: idempotent, de-duplicated, quarantined with reasons; the CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from ingestion.bank_loader import ingest_files

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol9 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt><Stmt><Id>&lol9;</Id></Stmt></BkToCstmrStmt></Document>
"""


def counts(con) -> dict[str, int]:
    return {
        t: con.execute(f"select count(*) from raw.{t}").fetchone()[0]
        for t in (
            "bank_transactions",
            "bank_statement_balances",
            "remittance_documents",
            "remittance_lines",
            "quarantine",
            "load_log",
        )
    }


@pytest.fixture
def con(tmp_path):
    c = duckdb.connect(str(tmp_path / "w.duckdb"))
    yield c
    c.close()


def test_every_shared_sample_is_loaded_or_quarantined_and_replaying_changes_nothing(bank_fixtures: Path, con):
    outcomes = ingest_files(con, [bank_fixtures], "run-1", root=bank_fixtures)
    assert {o.status for o in outcomes} <= {"loaded", "quarantined", "skipped"}
    assert sum(o.status == "loaded" for o in outcomes) >= 60
    assert all(o.reason for o in outcomes if o.status == "quarantined")
    first = counts(con)
    assert first["bank_transactions"] > 200
    replay = ingest_files(con, [bank_fixtures], "run-2", root=bank_fixtures)
    assert {o.status for o in replay} == {"skipped"}
    assert counts(con) == first
    # a concrete movement of the genkgo camt.053 minimal sample (other samples repeat it: loaded once)
    rows = con.execute(
        "select amount, currency, booking_date::varchar, counterparty_account from raw.bank_transactions "
        "where account = 'NL26VAYB8060476890' and amount = 8.85"
    ).fetchall()
    assert (Decimal("8.85"), "EUR", "2014-12-31", "NL56AGDH9619008421") in rows


def test_the_same_statement_under_another_name_creates_no_duplicate(bank_fixtures: Path, con, tmp_path: Path):
    sample = bank_fixtures / "camt_genkgo/test/data/camt053.v2.minimal.xml"
    renamed = tmp_path / "resent_statement.xml"
    # Same movements, different bytes (a bank re-sends with a new message id and a trailing newline).
    renamed.write_bytes(sample.read_bytes().replace(b"</Document>", b"</Document>\n\n"))
    ingest_files(con, [sample], "run-1")
    before = counts(con)["bank_transactions"]
    outcome = ingest_files(con, [renamed], "run-2")[0]
    assert outcome.status == "loaded" and outcome.transactions == 0 and outcome.duplicates == before
    assert counts(con)["bank_transactions"] == before


def test_a_billion_laughs_file_is_rejected_fast_and_the_batch_goes_on(
    bank_fixtures: Path, con, tmp_path: Path
):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a_bomb.xml").write_bytes(BILLION_LAUGHS)
    (folder / "b_truncated.sta").write_bytes(
        b":20:STMT1\n:25:NL26VAYB8060476890\n:28C:1/1\n:60F:C141231EUR100,00\n:61:1501020102C8,85NTRFNONREF\n"
    )
    shutil.copy(bank_fixtures / "camt_genkgo/test/data/camt053.v2.minimal.xml", folder / "c_good.xml")
    started = time.perf_counter()
    outcomes = {Path(o.source_file).name: o for o in ingest_files(con, [folder], "run-1")}
    assert outcomes["a_bomb.xml"].status == "quarantined"
    assert "DTD" in outcomes["a_bomb.xml"].reason or "entit" in outcomes["a_bomb.xml"].reason.lower()
    assert outcomes["b_truncated.sta"].status == "quarantined"
    assert outcomes["c_good.xml"].status == "loaded" and outcomes["c_good.xml"].transactions > 0
    assert time.perf_counter() - started < 5
    reasons = [r[0] for r in con.execute("select reason from raw.quarantine order by source_file").fetchall()]
    assert len(reasons) == 2 and all(r for r in reasons)


def _openar(*args: str, env_dir: Path) -> subprocess.CompletedProcess:
    import os

    env = {**os.environ, "OPENAR_DATA_DIR": str(env_dir)}
    return subprocess.run(
        [sys.executable, "-m", "orchestration.cli", *args], capture_output=True, text=True, env=env
    )


def test_openar_parse_prints_json_lines_and_rejects_with_one_line_reason(bank_fixtures: Path, tmp_path: Path):
    ok = _openar(
        "parse", str(bank_fixtures / "camt_genkgo/test/data/camt053.v2.minimal.xml"), env_dir=tmp_path
    )
    assert ok.returncode == 0
    first = json.loads(ok.stdout.splitlines()[0])
    assert first["record"] == "transaction" and first["amount"] == "8.85" and first["currency"] == "EUR"
    bomb = tmp_path / "bomb.xml"
    bomb.write_bytes(BILLION_LAUGHS)
    bad = _openar("parse", str(bomb), env_dir=tmp_path)
    assert bad.returncode != 0 and bad.stdout == ""
    assert len(bad.stderr.strip().splitlines()) == 1 and "rejected" in bad.stderr


def test_openar_ingest_prints_a_table_and_its_exit_status_says_if_anything_was_quarantined(
    bank_fixtures: Path, tmp_path: Path
):
    good = _openar(
        "ingest", str(bank_fixtures / "bai2_venturehacks/test/data/daily.bai2"), env_dir=tmp_path / "d"
    )
    assert good.returncode == 0, good.stdout + good.stderr
    assert "daily.bai2" in good.stdout and "bai2" in good.stdout and "1 loaded" in good.stdout
    bad = _openar(
        "ingest",
        str(bank_fixtures / "bai2_venturehacks/test/data/invalid_checksum_eod.bai2"),
        env_dir=tmp_path / "d",
    )
    assert bad.returncode == 1 and "quarantined" in bad.stdout
