"""The ERP loader: idempotent, quarantines bad input with a reason, replaces corrected days, never half-loads."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from ingestion.erp_loader import discover_files, load_erp_extracts

CUSTOMERS_HEADER = "customer_id,customer_name,parent_customer_id,country,currency,credit_limit,payment_terms,segment,collector_id,contact_email,bank_account,created_date"
INVOICES_HEADER = "invoice_id,customer_id,invoice_date,due_date,currency,amount,payment_terms,discount_pct,discount_due_date,po_number"


def write(
    landing: Path, extract: str, day: str, lines: list[str], encoding: str = "utf-8", suffix: str = ""
) -> Path:
    folder = landing / "erp" / extract
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{extract}_{day}{suffix}.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    root = tmp_path / "landing"
    write(
        root,
        "collectors",
        "2026-11-20",
        ["collector_id,collector_name,email,daily_capacity", "C1,Ann Lee,ann@example.com,40"],
    )
    write(
        root,
        "customers",
        "2026-11-20",
        [
            CUSTOMERS_HEADER,
            "K1,Acme Corp,,US,USD,10000.00,NET30,enterprise,C1,ap@acme.example,,2024-01-01",
            "K2,Acme GmbH,K1,DE,EUR,5000,NET45,mid_market,C1,,DE89370400440532013000,2024-03-01",
        ],
    )
    return root


@pytest.fixture
def con(tmp_path: Path):
    c = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    yield c
    c.close()


def counts(con) -> dict[str, int]:
    tables = [
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables where table_schema='raw'"
        ).fetchall()
    ]
    return {t: con.execute(f"select count(*) from raw.{t}").fetchone()[0] for t in tables}


def test_loading_the_same_files_twice_changes_nothing(landing: Path, con):
    write(
        landing,
        "invoices",
        "2026-11-19",
        [INVOICES_HEADER, "I1,K1,2026-11-19,2026-12-19,USD,100.50,NET30,0,,PO-1"],
    )
    first = load_erp_extracts(con, landing / "erp", "run-1")
    assert [f.status for f in first.files] == ["loaded"] * 3
    before = counts(con)
    second = load_erp_extracts(con, landing / "erp", "run-2")
    assert second.files == []
    assert counts(con) == before
    assert con.execute("select amount from raw.erp_invoices").fetchone()[0] == Decimal("100.50")


def test_malformed_rows_are_quarantined_with_file_row_and_rule_and_the_rest_loads(landing: Path, con):
    write(
        landing,
        "invoices",
        "2026-11-19",
        [
            INVOICES_HEADER,
            "I1,K1,2026-11-19,2026-12-19,USD,100.50,NET30,0,,",
            "I2,K1,2026-11-31,2026-12-19,USD,20.00,NET30,0,,",  # bad date
            "I3,K1,2026-11-19,2026-12-19,USD,12.345,NET30,0,,",  # three decimals: would be rounded
            "I4,K404,2026-11-19,2026-12-19,USD,10.00,NET30,0,,",  # unknown customer
            'I5,K2,2026-11-19,2026-12-19,EUR,"1,000.00",NET45,0,,',  # thousands separator
            "I6,K2,2026-11-19,2027-01-03,EUR,99.99,NET45,0,,",
        ],
    )
    report = load_erp_extracts(con, landing / "erp", "run-1")
    inv = report.extracts["invoices"]
    assert (inv.rows_loaded, inv.rows_quarantined) == (2, 4)
    assert inv.suite_success is False
    loaded = con.execute("select invoice_id, amount from raw.erp_invoices order by 1").fetchall()
    assert loaded == [("I1", Decimal("100.50")), ("I6", Decimal("99.99"))]
    reasons = dict(
        con.execute("select row_number, reason from raw.quarantine where extract_name='invoices'").fetchall()
    )
    assert reasons[2] == (
        "erp/invoices/invoices_2026-11-19.csv row 2: column invoice_date value '2026-11-31' "
        "is not a date (YYYY-MM-DD) [rule: type]"
    )
    assert "row 3: column amount value '12.345' is not an amount" in reasons[3]
    assert "row 4: customer_id 'K404' is unknown: no such customer in the loaded customers" in reasons[4]
    assert "row 5: column amount value '1,000.00'" in reasons[5]
    raw_record = con.execute("select raw_record from raw.quarantine where row_number = 4").fetchone()[0]
    assert raw_record.startswith("I4,K404,")


def test_a_file_that_cannot_be_read_is_quarantined_whole_and_others_load(landing: Path, con):
    write(
        landing,
        "invoices",
        "2026-11-18",
        [INVOICES_HEADER, "I9,K1,2026-11-18,2026-12-18,USD,5.00,NET30,0,,Müller"],
        encoding="cp1252",
    )
    write(landing, "invoices", "2026-11-19", ["invoice_id,customer_id,amount", "I1,K1,1.00"])
    write(
        landing, "invoices", "2026-11-20", [INVOICES_HEADER, "I2,K1,2026-11-20,2026-12-20,USD,7.00,NET30,0,,"]
    )
    (landing / "erp" / "invoices" / "notes.txt").write_text("hello")
    report = load_erp_extracts(con, landing / "erp", "run-1")
    by_file = {f.source_file.split("/")[-1]: f for f in report.files}
    assert by_file["invoices_2026-11-18.csv"].status == "quarantined"
    assert "not UTF-8 (byte 0xfc" in by_file["invoices_2026-11-18.csv"].message
    assert "missing column(s) invoice_date, due_date" in by_file["invoices_2026-11-19.csv"].message
    assert "file name is not <extract>_<YYYY-MM-DD>.csv" in by_file["notes.txt"].message
    assert by_file["invoices_2026-11-20.csv"].status == "loaded"
    assert con.execute("select list(invoice_id) from raw.erp_invoices").fetchone()[0] == ["I2"]
    assert con.execute("select count(*) from raw.quarantine where row_number is null").fetchone()[0] == 3


def test_a_corrected_reexport_of_a_day_replaces_that_days_rows(landing: Path, con):
    write(
        landing,
        "invoices",
        "2026-11-19",
        [
            INVOICES_HEADER,
            "I1,K1,2026-11-19,2026-12-19,USD,100.00,NET30,0,,",
            "I2,K1,2026-11-19,2026-12-19,USD,50.00,NET30,0,,",
        ],
    )
    write(
        landing, "invoices", "2026-11-20", [INVOICES_HEADER, "I3,K1,2026-11-20,2026-12-20,USD,1.00,NET30,0,,"]
    )
    load_erp_extracts(con, landing / "erp", "run-1")
    write(
        landing,
        "invoices",
        "2026-11-19",
        [INVOICES_HEADER, "I1,K1,2026-11-19,2026-12-19,USD,110.00,NET30,0,,"],
    )
    report = load_erp_extracts(con, landing / "erp", "run-2")
    assert [f.status for f in report.files] == ["replaced_day"]
    rows = con.execute("select invoice_id, amount from raw.erp_invoices order by 1").fetchall()
    assert rows == [("I1", Decimal("110.00")), ("I3", Decimal("1.00"))]
    statuses = con.execute(
        "select status from raw.load_log where extract_name='invoices' order by loaded_at, status"
    ).fetchall()
    assert sorted(s for (s,) in statuses) == ["loaded", "replaced_day", "superseded"]


def test_a_crash_during_a_batch_leaves_nothing_half_loaded(landing: Path, con, monkeypatch):
    write(
        landing,
        "invoices",
        "2026-11-19",
        [
            INVOICES_HEADER,
            "I1,K1,2026-11-19,2026-12-19,USD,100.00,NET30,0,,",
            "I2,K404,2026-11-19,2026-12-19,USD,50.00,NET30,0,,",
        ],
    )
    import ingestion.erp_loader as loader

    class DiskFull(RuntimeError):
        pass

    class FailingConnection:
        """The real connection, except that the quarantine insert (inside the transaction) fails."""

        def __getattr__(self, name):
            return getattr(con, name)

        def executemany(self, *args, **kwargs):
            raise DiskFull("disk full")

    original_load_batch = loader._load_batch
    monkeypatch.setattr(
        loader, "_load_batch", lambda _con, *a, **k: original_load_batch(FailingConnection(), *a, **k)
    )
    with pytest.raises(DiskFull):
        load_erp_extracts(con, landing / "erp", "run-1")
    assert con.execute("select count(*) from raw.erp_invoices").fetchone()[0] == 0
    assert con.execute("select count(*) from raw.load_log where extract_name='invoices'").fetchone()[0] == 0
    monkeypatch.setattr(loader, "_load_batch", original_load_batch)
    report = load_erp_extracts(con, landing / "erp", "run-2")
    assert report.extracts["invoices"].rows_loaded == 1
    assert con.execute("select count(*) from raw.quarantine where extract_name='invoices'").fetchone()[0] == 1


def test_discover_reads_extract_and_day_from_the_name(landing: Path):
    write(landing, "invoices", "2026-11-19", [INVOICES_HEADER], suffix="_v2")
    found = {f.rel_path: (f.extract, str(f.extract_date), f.problem) for f in discover_files(landing / "erp")}
    assert found["erp/invoices/invoices_2026-11-19_v2.csv"] == ("invoices", "2026-11-19", None)


def _three_invoice_days(landing: Path) -> None:
    for day, rows in (
        (
            "2026-11-17",
            [
                "I1,K1,2026-11-17,2026-12-17,USD,100.00,NET30,0,,",
                "I2,K404,2026-11-17,2026-12-17,USD,5.00,NET30,0,,",
            ],
        ),
        (
            "2026-11-18",
            [
                "I3,K2,2026-11-18,2027-01-02,EUR,40.50,NET45,0,,",
                "I3,K2,2026-11-18,2027-01-02,EUR,40.50,NET45,0,,",
            ],
        ),
        ("2026-11-19", ["I4,K1,2026-11-19,2026-12-19,USD,7.25,NET30,0,,PO-1"]),
    ):
        write(landing, "invoices", day, [INVOICES_HEADER, *rows])


def _loaded(con) -> tuple:
    return (
        con.execute(
            "select invoice_id, amount, _source_file, _row_number from raw.erp_invoices order by all"
        ).fetchall(),
        con.execute(
            "select source_file, row_number, rule, reason from raw.quarantine where extract_name='invoices' order by all"
        ).fetchall(),
        con.execute(
            "select source_file, status, rows_loaded, rows_quarantined from raw.load_log where extract_name='invoices' order by all"
        ).fetchall(),
    )


def test_chunked_load_equals_one_batch(landing: Path, tmp_path: Path, monkeypatch):
    """Files are loaded a chunk of whole files at a time (bounded memory on a first load of years of
    day files): the tables, the quarantine, the log and the report are those of one batch."""
    import ingestion.erp_loader as loader

    _three_invoice_days(landing)
    one = duckdb.connect(str(tmp_path / "one.duckdb"))
    report_one = load_erp_extracts(one, landing / "erp", "run")
    monkeypatch.setattr(loader, "LOAD_CHUNK_ROWS", 1)  # every file its own chunk
    chunked = duckdb.connect(str(tmp_path / "chunked.duckdb"))
    messages: list[str] = []
    report_chunked = load_erp_extracts(chunked, landing / "erp", "run", progress=messages.append)
    assert sum("invoices: validating" in m for m in messages) == 3
    assert _loaded(chunked) == _loaded(one)
    # I2's customer is unknown; both rows of the duplicated key I3 go to quarantine
    assert len(_loaded(one)[0]) == 2 and len(_loaded(one)[1]) == 3
    a, b = report_one.extracts["invoices"], report_chunked.extracts["invoices"]
    assert (
        (a.rows_loaded, a.rows_quarantined, a.files)
        == (b.rows_loaded, b.rows_quarantined, b.files)
        == (2, 3, 3)
    )
    assert a.suite_summary["failed_rules"] == b.suite_summary["failed_rules"]
    assert a.suite_summary["rows"] == b.suite_summary["rows"]


def test_a_crash_in_a_later_chunk_keeps_the_earlier_chunks_and_the_next_run_completes(
    landing: Path, con, tmp_path: Path, monkeypatch
):
    import ingestion.erp_loader as loader

    _three_invoice_days(landing)
    monkeypatch.setattr(loader, "LOAD_CHUNK_ROWS", 1)
    original_load_batch = loader._load_batch
    calls = {"invoices": 0}

    def crash_on_second_invoice_chunk(con_, extract, *a, **k):
        if extract.name == "invoices":
            calls["invoices"] += 1
            if calls["invoices"] == 2:
                raise RuntimeError("power cut")
        return original_load_batch(con_, extract, *a, **k)

    monkeypatch.setattr(loader, "_load_batch", crash_on_second_invoice_chunk)
    with pytest.raises(RuntimeError):
        load_erp_extracts(con, landing / "erp", "run-1")
    # the first day file is loaded and logged whole; the others are untouched
    assert con.execute("select distinct _source_file from raw.erp_invoices").fetchall() == [
        ("erp/invoices/invoices_2026-11-17.csv",)
    ]
    assert [
        r[0]
        for r in con.execute("select source_file from raw.load_log where extract_name='invoices'").fetchall()
    ] == ["erp/invoices/invoices_2026-11-17.csv"]
    monkeypatch.setattr(loader, "_load_batch", original_load_batch)
    load_erp_extracts(con, landing / "erp", "run-2")
    reference = duckdb.connect(str(tmp_path / "reference.duckdb"))
    load_erp_extracts(reference, landing / "erp", "run")
    assert _loaded(con) == _loaded(reference)


def test_the_suites_run_without_hashing_every_value_of_a_batch(landing: Path, con, monkeypatch):
    # great-expectations would hash a whole batch to label it (7.7 s of a million invoices' load)
    from great_expectations.execution_engine import pandas_execution_engine

    from ingestion.expectations import _gx

    _gx()
    monkeypatch.setattr(
        pandas_execution_engine, "hash_pandas_dataframe", lambda df: pytest.fail("a batch was hashed")
    )
    write(
        landing,
        "invoices",
        "2026-11-19",
        [INVOICES_HEADER, "I1,K1,2026-11-19,2026-12-19,USD,100.50,NET30,0,,", "I4,K404,2026-11-19,2026-12-19,USD,10.00,NET30,0,,"],
    )  # fmt: skip
    inv = load_erp_extracts(con, landing / "erp", "run-1").extracts["invoices"]
    assert (inv.rows_loaded, inv.rows_quarantined) == (1, 1)  # the suite still ran: K404 is unknown
