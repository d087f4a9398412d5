"""The simulated world's bank statements, lockbox files and remittance advices through the real loader.

Every simulated payment must come out of ``raw.bank_transactions`` exactly once, at the file and
position the ground truth names, with its exact amount; nothing is quarantined; replaying the files,
or re-sending statements under another name, adds no row.
"""

from __future__ import annotations

import csv
import shutil
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from ingestion.bank_loader import ingest_files

TABLES = ("bank_transactions", "bank_statement_balances", "remittance_documents", "remittance_lines")


def _truth(world: Path, name: str) -> list[dict]:
    with (world / "ground_truth" / f"{name}.csv").open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _counts(con) -> dict[str, int]:
    return {t: con.execute(f"select count(*) from raw.{t}").fetchone()[0] for t in (*TABLES, "quarantine")}


@pytest.fixture(scope="module")
def loaded(small_world_dir: Path, tmp_path_factory):
    """The small world's bank and remittance landing folders, loaded once into a throwaway DuckDB file:
    parsed by two worker processes and written in batches of 50 files, as a large daily run does."""
    db = tmp_path_factory.mktemp("simulated_bank") / "warehouse.duckdb"
    con = duckdb.connect(str(db))
    landing = [small_world_dir / "landing" / "bank", small_world_dir / "landing" / "remittance"]
    outcomes = ingest_files(con, landing, "sim-1", root=small_world_dir, workers=2, batch_files=50)
    yield small_world_dir, con, landing, outcomes
    con.close()


def test_every_file_loads_and_none_is_quarantined(loaded):
    world, con, landing, outcomes = loaded
    files = [p for folder in landing for p in folder.rglob("*") if p.is_file()]
    assert len(outcomes) == len(files) > 300
    bad = [(o.source_file, o.reason) for o in outcomes if o.status != "loaded"]
    assert bad == []
    assert _counts(con)["quarantine"] == 0
    formats = Counter(o.source_format for o in outcomes)
    # every writer of the simulator is exercised (lockbox files carry their own format name)
    assert {"bai2", "mt940", "camt.053", "lockbox", "x12-820"} <= set(formats)
    # every statement's opening balance + movements = closing balance
    assert sum(o.unreconciled for o in outcomes) == 0


def _contents(con, table: str) -> list[tuple]:
    columns = [
        c
        for (c,) in con.execute(
            "select column_name from duckdb_columns() where schema_name = 'raw' and table_name = ? "
            "order by column_index",
            [table],
        ).fetchall()
        if c != "_loaded_at"
    ]
    return con.execute(f"select {', '.join(columns)} from raw.{table} order by all").fetchall()


def test_parallel_batched_loading_writes_exactly_what_one_file_at_a_time_writes(loaded, tmp_path):
    world, con, landing, outcomes = loaded
    serial = duckdb.connect(str(tmp_path / "serial.duckdb"))
    serial_outcomes = ingest_files(serial, landing, "serial", root=world, workers=1, batch_files=1)
    assert [(o.source_file, o.status, o.transactions, o.remittance_lines) for o in serial_outcomes] == [
        (o.source_file, o.status, o.transactions, o.remittance_lines) for o in outcomes
    ]
    for table in TABLES:
        assert _contents(serial, table) == _contents(con, table), table
    serial.close()


def test_a_failure_while_writing_a_batch_leaves_none_of_its_files_behind(
    small_world_dir, tmp_path, monkeypatch
):
    import ingestion.bank_loader as loader

    folder = small_world_dir / "landing" / "bank" / "first-continental"
    con = duckdb.connect(str(tmp_path / "crash.duckdb"))
    real_append = loader._append

    def append_then_fail(con_, table, rows):
        real_append(con_, table, rows)
        if table == "bank_statement_balances":  # the transactions of the batch are already inserted
            raise OSError("disk full")

    monkeypatch.setattr(loader, "_append", append_then_fail)
    with pytest.raises(OSError, match="disk full"):
        ingest_files(con, [folder], "crash", batch_files=10_000)
    assert _counts(con) == dict.fromkeys((*TABLES, "quarantine"), 0)
    assert con.execute("select count(*) from raw.load_log").fetchone()[0] == 0
    monkeypatch.setattr(loader, "_append", real_append)
    outcomes = ingest_files(con, [folder], "retry")
    assert {o.status for o in outcomes} == {"loaded"}
    assert _counts(con)["bank_transactions"] == sum(o.transactions for o in outcomes) > 0
    con.close()


def test_every_simulated_payment_is_found_once_with_its_exact_amount(loaded):
    world, con, _, _ = loaded
    payments = _truth(world, "payments")
    assert len(payments) > 300
    rows = con.execute(
        "select _source_file, _position, amount, currency, bank_reference from raw.bank_transactions"
    ).fetchall()
    at: dict[tuple[str, int], list[tuple]] = defaultdict(list)
    for file, position, amount, currency, bank_ref in rows:
        at[(file, position)].append((amount, currency, bank_ref))
    missing, wrong = [], []
    for p in payments:
        found = at.get((p["bank_file"], int(p["bank_position"])), [])
        if len(found) != 1:
            missing.append((p["payment_id"], p["bank_file"], p["bank_position"], len(found)))
        elif found[0] != (Decimal(p["amount"]), p["currency"], p["bank_reference"]):
            wrong.append((p["payment_id"], p["amount"], p["currency"], p["bank_reference"], found[0]))
    assert missing == []
    assert wrong == []
    # No payment is booked twice under another movement: each payment names its own (file, position).
    assert len({(p["bank_file"], p["bank_position"]) for p in payments}) == len(payments)


def test_the_bank_carries_exactly_the_movements_the_simulator_wrote(loaded):
    world, con, _, _ = loaded
    movements = _truth(world, "bank_movements")
    truth = Counter((m["file"], int(m["position"]), Decimal(m["amount"])) for m in movements)
    loaded_rows = Counter(
        con.execute("select _source_file, _position, amount from raw.bank_transactions").fetchall()
    )
    assert loaded_rows == truth
    balances = _truth(world, "bank_statements")
    closing = dict(
        con.execute("select _source_file, closing_balance from raw.bank_statement_balances").fetchall()
    )
    assert {b["file"]: Decimal(b["closing_balance"]) for b in balances} == closing


def test_lockbox_checks_and_the_deposit_that_carries_them_are_two_levels_not_duplicates(loaded):
    """Identity rule: a lockbox file itemizes the checks (account = lockbox number), the operating
    account's BAI2 shows the day's deposit as one 115 credit. Neither is a copy of the other: each
    check is one row, the deposit one row, and the deposit equals the sum of that day's checks."""
    world, con, _, _ = loaded
    checks = con.execute(
        "select booking_date, sum(amount), count(*) from raw.bank_transactions "
        "where source_format = 'lockbox' group by booking_date order by booking_date"
    ).fetchall()
    deposits = con.execute(
        "select booking_date, amount from raw.bank_transactions "
        "where source_format = 'bai2' and transaction_code = '115' order by booking_date"
    ).fetchall()
    assert len(checks) > 10
    assert [(d, total) for d, total, _ in checks] == deposits
    lockbox_payments = [p for p in _truth(world, "payments") if p["channel"] == "check"]
    assert sum(n for _, _, n in checks) == len(lockbox_payments)


def test_remittance_documents_of_every_kind_are_loaded_with_their_lines(loaded):
    world, con, _, _ = loaded
    docs = _truth(world, "remittance_documents")
    kinds = Counter(d["kind"] for d in docs)
    assert {"email_body", "email_pdf", "edi820"} <= set(kinds)
    per_file = Counter(d["file"] for d in docs)
    loaded_docs = Counter(
        f for (f,) in con.execute("select _source_file from raw.remittance_documents").fetchall()
    )
    assert loaded_docs == per_file
    lines = _truth(world, "remittance_lines")
    n_lines = con.execute("select count(*) from raw.remittance_lines").fetchone()[0]
    assert n_lines == len(lines)


def test_replaying_every_file_and_resending_statements_under_other_names_adds_nothing(loaded, tmp_path):
    world, con, landing, _ = loaded
    before = _counts(con)
    replay = ingest_files(con, landing, "sim-2", root=world)
    assert {o.status for o in replay} == {"skipped"}
    assert _counts(con) == before
    # The same statements re-sent with other bytes (line endings converted, as a file transfer
    # does) under another name: new content hashes, same movements, so no new transaction.
    resent = []
    for fmt_dir, pattern in (
        ("first-continental", "BAI2_*.bai"),
        ("first-continental", "LBX*.txt"),
        ("rheinische-handelsbank", "MT940_*.sta"),
        ("thames-mercia", "*_MT940.txt"),
        ("banque-atlantique", "camt053_*.xml"),
    ):
        for src in sorted((world / "landing" / "bank" / fmt_dir).glob(pattern))[-3:]:
            data = src.read_bytes()
            data = data.replace(b"\r\n", b"\n") if b"\r\n" in data else data.replace(b"\n", b"\r\n")
            dst = tmp_path / f"resent_{src.name}"
            dst.write_bytes(data)
            resent.append(dst)
    assert len(resent) == 15
    outcomes = ingest_files(con, [tmp_path], "sim-3", root=tmp_path)
    assert [o.status for o in outcomes] == ["loaded"] * 15
    assert sum(o.transactions for o in outcomes) == 0
    assert sum(o.duplicates for o in outcomes) > 15
    after = _counts(con)
    assert after["bank_transactions"] == before["bank_transactions"]
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_parse_workers_start_even_when_the_main_module_cannot_be_imported_again(
    small_world_dir, tmp_path, monkeypatch
):
    """A Streamlit test script, a notebook or a script without the __main__ guard is the parent's
    __main__: spawned workers must not re-run it (it killed every worker before)."""
    import sys
    import types
    import warnings

    from ingestion.bank_loader import POOL_MIN_FILES, _parse_all, _parse_one, iter_files

    poisoned = tmp_path / "not_importable_twice.py"
    poisoned.write_text("raise RuntimeError('this script must not run in a parse worker')\n")
    main = types.ModuleType("__main__")
    main.__file__ = str(poisoned)
    monkeypatch.setitem(sys.modules, "__main__", main)

    files = iter_files([small_world_dir / "landing" / "bank"])[: POOL_MIN_FILES + 6]
    with warnings.catch_warnings():
        # a broken pool warns and falls back to parsing here: make that fail the test
        warnings.simplefilter("error", RuntimeWarning)
        parsed = list(_parse_all(files, workers=2))
    assert sys.modules["__main__"] is main
    assert parsed == [_parse_one(f) for f in files]
