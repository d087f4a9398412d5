"""The ingestion page and what publish_marts publishes for it, against a fixture warehouse whose
load log, quarantine, statement balances and bank/remittance rows have known values
(dashboard_marts_fixture.add_ingestion_rows), in AppTest and in a real headless browser."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import dashboard_marts_fixture as fx
import duckdb
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from orchestration.publishing import publish_marts
from orchestration.settings import Settings, load_settings
from tests.dashboards.browser import CHROMIUM, WAIT_MS

D18, D19, D20 = fx.INGESTION_DAYS


def _publish(data_dir: Path, *, ingestion: bool = True) -> Settings:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OPENAR_DATA_DIR", str(data_dir))
        settings = load_settings()
    warehouse = fx.build_warehouse(settings.warehouse_path)
    if ingestion:
        fx.add_ingestion_rows(warehouse)
    publish_marts(warehouse, settings.published_path)
    return settings


@pytest.fixture
def ingestion_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    settings = _publish(tmp_path / "data")
    monkeypatch.setenv("OPENAR_DATA_DIR", str(settings.data_dir))
    return settings


@pytest.fixture(scope="module")
def module_published_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Overrides conftest's for this module, so the browser's app server reads the ingestion rows."""
    return _publish(tmp_path_factory.mktemp("ingestion") / "data")


def _ingestion_page():
    # AppTest.from_function runs this body as the script: the page exactly as app.py runs it.
    from dashboards.views import ingestion

    ingestion.render()


def _run_page() -> AppTest:
    at = AppTest.from_function(_ingestion_page, default_timeout=30).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _table(at: AppTest, first_column: str) -> list[dict]:
    frame = next((df.value for df in at.dataframe if df.value.columns[0] == first_column), None)
    return [] if frame is None else frame.to_dict("records")


def _chart_rows(at: AppTest) -> tuple[dict, set[tuple[str, str, int]]]:
    """The files-per-day chart's spec and its data as (day, status, files)."""
    (chart,) = at.get("vega_lite_chart")
    spec = json.loads(chart.proto.spec)
    (dataset,) = chart.proto.datasets
    frame = pa.ipc.open_stream(dataset.data.data).read_pandas()
    # Streamlit melts the wide frame into day, series, value columns, in that order.
    return spec, {(day, status, int(n)) for day, status, n in frame.itertuples(index=False)}


def test_page_shows_the_known_files_quarantine_balances_and_records(ingestion_settings):
    at = _run_page()

    assert [t.value for t in at.title] == ["Ingestion"]
    assert at.caption[0].value.startswith("Files loaded 2026-11-18 to 2026-11-20 (UTC days)")
    assert _metrics(at) == {
        "Files": "9",
        "Loaded": "6",
        "Skipped": "1",
        "Quarantined": "2",
        "Rows quarantined": "2",
        "Off balance": "1",
    }

    spec, rows = _chart_rows(at)
    assert spec["encoding"]["y"]["stack"] is True
    assert spec["encoding"]["color"]["scale"] == {
        "domain": ["Loaded", "Skipped", "Quarantined"],
        "range": ["#2e7d32", "#9e9e9e", "#c62828"],
    }
    assert {r for r in rows if r[2]} == {
        ("2026-11-18", "Loaded", 2),
        ("2026-11-19", "Loaded", 1),
        ("2026-11-19", "Skipped", 1),
        ("2026-11-19", "Quarantined", 1),
        ("2026-11-20", "Loaded", 3),
        # Loaded at 23:59 UTC on the 20th: a UTC day, whatever the reader's time zone.
        ("2026-11-20", "Quarantined", 1),
    }

    assert [(r["Source"], r["Format / extract"], r["Loaded"], r["Skipped"], r["Quarantined"], r["Files"])
            for r in _table(at, "Source")] == [
        ("Bank", "camt.053", 1, 0, 0, 1),
        ("Bank", "lockbox", 1, 0, 0, 1),
        ("Bank", "mt940", 1, 0, 0, 1),
        # A rejected bank or remittance file has no format: nothing of it could be read.
        ("Bank or remittance", "unknown", 0, 0, 1, 1),
        ("ERP", "customers", 0, 0, 1, 1),
        ("ERP", "invoices", 1, 1, 0, 2),
        ("ERP", "payments", 1, 0, 0, 1),
        ("Remittance", "eml", 1, 0, 0, 1),
    ]  # fmt: skip

    quarantine = _table(at, "Quarantined (UTC)")
    assert [(q["Quarantined (UTC)"], q["File"], q["Row"], q["Rule"], q["Reason"]) for q in quarantine] == [
        ("2026-11-20 23:59", fx.BROKEN_BANK_FILE, "–", "parse", fx.BROKEN_BANK_REASON),
        ("2026-11-19 06:00", fx.CUSTOMERS_FILE, "–", "header", fx.CUSTOMERS_REASON),
        ("2026-11-18 06:00", fx.PAYMENTS_FILE, "7", "not_null", fx.PAYMENT_ROW_REASONS[7][1]),
        ("2026-11-18 06:00", fx.PAYMENTS_FILE, "12", "currency", fx.PAYMENT_ROW_REASONS[12][1]),
    ]

    (alert,) = at.error
    assert alert.value == (
        "1 of 4 statements do not reconcile: opening + movements ≠ closing.\n\n"
        f"- NL91ABNA0417164300 940-0001 ({fx.MT940_FILE}): {fx.MT940_PROBLEM}"
    )
    balances = _table(at, "Account")
    assert [
        (b["Statement"], b["Format"], b["Opening"], b["Movements"], b["Closing"], b["Check"])
        for b in balances
    ] == [
        ("940-0001", "mt940", "$5,000.00", "$250.00", "$5,200.00", fx.MT940_PROBLEM),
        ("LBX-20261120", "lockbox", "–", "$3,150.00", "–", "not stated"),
        ("940-0002", "mt940", "$5,200.00", "-$100.00", "$5,100.00", "reconciles"),
        ("CAMT-2026-11-18", "camt.053", "€10,000.00", "€2,500.50", "€12,500.50", "reconciles"),
    ]
    assert balances[0]["Opening date"] == dt.date(2026, 11, 17)

    records = _table(at, "Day (UTC)")
    assert [tuple(r.values()) for r in records] == [
        # day, format, files, statements, off balance, transactions, credits, debits, documents, lines
        (D18, "camt.053", 1, 1, 0, 3, 2, 1, 0, 0),
        (D19, "mt940", 1, 2, 1, 2, 1, 1, 0, 0),
        (D20, "eml", 1, 0, 0, 0, 0, 0, 1, 3),
        (D20, "lockbox", 1, 1, 0, 2, 2, 0, 0, 0),
    ]

    files = _table(at, "Loaded (UTC)")
    assert len(files) == 9
    assert files[0]["File"] == fx.BROKEN_BANK_FILE and files[0]["Status"] == "quarantined"
    assert files[-1] == {
        "Loaded (UTC)": "2026-11-18 06:00",
        "File": fx.PAYMENTS_FILE,
        "Source": "ERP",
        "Format / extract": "payments",
        "Status": "loaded",
        "Rows loaded": 40,
        "Rows quarantined": 2,
        "Message": "2 row(s) quarantined",
    }


def test_status_and_day_filters_narrow_every_section(ingestion_settings):
    at = _run_page()
    assert at.multiselect(key="ingestion_status").options == ["Loaded", "Skipped", "Quarantined"]

    at.multiselect(key="ingestion_status").set_value(["quarantined"]).run()
    assert _metrics(at)["Files"] == "2"
    # Only files rejected whole; the payments rows belong to a loaded file.
    assert [q["File"] for q in _table(at, "Quarantined (UTC)")] == [fx.BROKEN_BANK_FILE, fx.CUSTOMERS_FILE]
    # Balances and records come from loaded files only.
    assert _table(at, "Account") == [] and _table(at, "Day (UTC)") == []
    assert "No statement balances in this selection." in [i.value for i in at.info]

    at.multiselect(key="ingestion_status").set_value(["loaded"])
    at.date_input(key="ingestion_dates").set_value((D18, D18)).run()
    assert not at.exception
    assert _metrics(at)["Files"] == "2"
    assert [(q["Row"], q["Rule"]) for q in _table(at, "Quarantined (UTC)")] == [
        ("7", "not_null"),
        ("12", "currency"),
    ]
    assert [b["Statement"] for b in _table(at, "Account")] == ["CAMT-2026-11-18"]
    assert "All 1 statements with balances reconcile (or state none)." in [s.value for s in at.success]

    at.multiselect(key="ingestion_status").set_value(["skipped"])
    at.date_input(key="ingestion_dates").set_value((D20, D20)).run()
    assert _metrics(at)["Files"] == "0"
    assert "No files match these filters" in at.info[0].value
    assert not at.dataframe


def test_a_new_day_published_extends_the_default_range_but_not_a_chosen_one(ingestion_settings):
    at = _run_page()
    at.multiselect(key="ingestion_status").set_value(["loaded"]).run()
    assert at.date_input(key="ingestion_dates").value == (D18, D20)

    con = duckdb.connect(str(ingestion_settings.warehouse_path))
    con.execute(
        "insert into raw.load_log values ('erp/invoices/invoices_2026-11-22.csv', 'invoices', ?, 'h-inv22', "
        "'loaded', 5, 0, null, 'later run', ?)",
        [dt.date(2026, 11, 22), dt.datetime(2026, 11, 22, 6, tzinfo=dt.UTC)],
    )
    publish_marts(con, ingestion_settings.published_path)
    con.close()

    at.run()
    assert at.date_input(key="ingestion_dates").value == (D18, dt.date(2026, 11, 22))
    assert _metrics(at)["Loaded"] == "7"

    at.date_input(key="ingestion_dates").set_value((D19, D20)).run()
    con = duckdb.connect(str(ingestion_settings.warehouse_path))
    con.execute(
        "update raw.load_log set loaded_at = loaded_at + interval 1 day where content_hash = 'h-inv22'"
    )
    publish_marts(con, ingestion_settings.published_path)
    con.close()
    at.run()
    assert at.date_input(key="ingestion_dates").value == (D19, D20)
    # mt940 on the 19th; invoices, lockbox and the remittance advice on the 20th.
    assert _metrics(at)["Loaded"] == "4"


def test_nothing_ingested_yet_is_a_friendly_empty_state(tmp_path, monkeypatch):
    settings = _publish(tmp_path / "data", ingestion=False)
    con = duckdb.connect(str(settings.warehouse_path))
    con.execute("delete from raw.load_log")
    con.close()
    publish_marts(settings.warehouse_path, settings.published_path)
    monkeypatch.setenv("OPENAR_DATA_DIR", str(settings.data_dir))

    at = _run_page()
    assert [t.value for t in at.title] == ["Ingestion"]
    assert "No files have been ingested yet" in at.info[0].value
    assert "make run" in at.info[0].value
    assert str(settings.landing_dir) in at.caption[0].value
    assert not at.metric and not at.dataframe

    # Marts published without any raw table (a warehouse no loader has touched): the same page.
    publish_marts(settings.warehouse_path, settings.published_path, extra_tables=())
    at = _run_page()
    assert "No files have been ingested yet" in at.info[0].value


def test_no_published_file_shows_how_to_get_data(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAR_DATA_DIR", str(tmp_path / "empty"))
    at = _run_page()
    assert [t.value for t in at.title] == ["No data yet"]
    assert "make run" in at.info[0].value


def _published_rows(path: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_publish_adds_balances_and_a_per_file_summary_not_the_transactions(tmp_path: Path):
    warehouse = fx.add_ingestion_rows(fx.build_warehouse(tmp_path / "w" / "openar.duckdb"))
    published = tmp_path / "p" / "openar_marts.duckdb"

    result = publish_marts(warehouse, published)

    assert {k: v for k, v in result["tables"].items() if not k.startswith("marts.")} == {
        "raw.load_log": 9,
        "raw.quarantine": 4,
        "raw.bank_statement_balances": 4,
        "ingestion_summary.source_files": 4,
    }
    tables = {
        r[0]
        for r in _published_rows(
            published, "select table_schema || '.' || table_name from information_schema.tables"
        )
    }
    assert "raw.bank_transactions" not in tables and "raw.remittance_lines" not in tables
    assert _published_rows(
        published,
        "select source_file, source_format, load_date, statements, unreconciled_statements, transactions, credits, "
        "debits, first_booking_date, last_booking_date, remittance_documents, remittance_lines "
        "from ingestion_summary.source_files order by source_file",
    ) == [
        (fx.CAMT_FILE, "camt.053", D18, 1, 0, 3, 2, 1, D18, D18, 0, 0),
        (fx.MT940_FILE, "mt940", D19, 2, 1, 2, 1, 1, D18, D19, 0, 0),
        (fx.LOCKBOX_FILE, "lockbox", D20, 1, 0, 2, 2, 0, D20, D20, 0, 0),
        (fx.REMITTANCE_FILE, "eml", D20, 0, 0, 0, 0, 0, None, None, 1, 3),
    ]
    # Balances are copied exactly, as decimals.
    assert _published_rows(
        published,
        "select sum(movements_total), any_value(typeof(closing_balance)) from raw.bank_statement_balances",
    ) == [(Decimal("5800.50"), "DECIMAL(18,2)")]

    publish_marts(warehouse, published, ingestion_summary=False)
    assert not _published_rows(
        published, "select 1 from information_schema.tables where table_schema = 'ingestion_summary'"
    )


def test_summary_reads_whichever_bank_tables_exist(tmp_path: Path):
    warehouse = fx.add_ingestion_rows(fx.build_warehouse(tmp_path / "w" / "openar.duckdb"))
    con = duckdb.connect(str(warehouse))
    con.execute("drop table raw.remittance_lines")
    con.execute("drop table raw.bank_statement_balances")
    con.close()
    published = tmp_path / "p" / "openar_marts.duckdb"

    result = publish_marts(warehouse, published)

    assert result["tables"]["ingestion_summary.source_files"] == 3
    assert "raw.bank_statement_balances" not in result["tables"]
    assert _published_rows(
        published,
        "select source_format, statements, transactions from ingestion_summary.source_files order by 1",
    ) == [("camt.053", 0, 3), ("lockbox", 0, 2), ("mt940", 0, 2)]


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing: apt-get install -y chromium")
def test_ingestion_page_in_a_real_browser_shows_the_quarantine_reasons(app_server, page, tmp_path):
    from playwright.sync_api import expect

    wait = WAIT_MS
    page.goto(f"{app_server.url}/ingestion")

    expect(page.get_by_role("heading", name="Ingestion")).to_be_visible(timeout=wait)
    values = page.get_by_test_id("stMetricValue")
    expect(values).to_have_text(["9", "6", "1", "2", "2", "1"], timeout=wait)
    expect(page.locator('[data-testid="stVegaLiteChart"] svg.marks')).to_have_count(1, timeout=wait)
    # The grids paint on a canvas but keep an accessible copy of each cell in the DOM.
    cells = page.locator("[data-testid='stDataFrame'] [data-testid^='glide-cell-']")
    for reason in (fx.BROKEN_BANK_REASON, fx.CUSTOMERS_REASON, fx.PAYMENT_ROW_REASONS[7][1]):
        expect(cells.filter(has_text=reason).first).to_be_attached(timeout=wait)
    expect(cells.filter(has_text=fx.MT940_PROBLEM).first).to_be_attached(timeout=wait)
    # The page is reachable from the app's navigation.
    expect(page.get_by_test_id("stSidebarNav").get_by_text("Ingestion")).to_be_visible(timeout=wait)
    assert page.get_by_test_id("stException").count() == 0

    shot = tmp_path / "ingestion.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")
    assert shot.stat().st_size > 20_000
    assert "Traceback" not in app_server.log.read_text()
