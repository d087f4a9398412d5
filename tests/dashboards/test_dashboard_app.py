"""The AR overview page rendered by Streamlit's AppTest against published fixture marts."""

from __future__ import annotations

from pathlib import Path

import dashboard_marts_fixture as fx
import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from orchestration.publishing import publish_marts

APP = Path(__file__).resolve().parents[2] / "dashboards" / "app.py"


def _run_app() -> AppTest:
    # The first run imports pandas, duckdb and the page modules; later runs take well under a second.
    at = AppTest.from_file(str(APP), default_timeout=30).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _frame(at: AppTest, first_column: str):
    return next(df.value for df in at.dataframe if df.value.columns[0] == first_column)


def test_overview_shows_the_known_totals(published_settings):
    at = _run_app()

    assert [t.value for t in at.title] == ["AR overview"]
    assert _metrics(at) == {
        "Open AR (USD)": "$1,234,567.89",
        "% current": "72.4%",
        "Share over 90": "3.2%",
        "DSO (days)": "42.7",
        "CEI": "87.6%",
    }
    caption = at.caption[0].value
    assert "As of 2026-11-20" in caption
    assert "13 open items, 2 disputed ($20,000.00)" in caption

    aging = _frame(at, "Bucket")
    assert aging.to_dict("records") == [
        {"Bucket": "current", "Open AR": "$893,323.45", "Share": "72.4%"},
        {"Bucket": "1-30", "Open AR": "$260,800.01", "Share": "21.1%"},
        {"Bucket": "31-60", "Open AR": "$35,044.43", "Share": "2.8%"},
        {"Bucket": "61-90", "Open AR": "$5,400.00", "Share": "0.4%"},
        {"Bucket": "91-120", "Open AR": "$20,000.00", "Share": "1.6%"},
        {"Bucket": "120+", "Open AR": "$20,000.00", "Share": "1.6%"},
        {"Bucket": "Total", "Open AR": "$1,234,567.89", "Share": "100.0%"},
    ]
    top = _frame(at, "Customer")
    assert top[["Customer", "Top parent", "Collector", "Past due", "Over 90"]].values.tolist() == [
        ["Cobalt Inc", "Cobalt Inc", "Ben Ortiz", "$215,044.44", "$0.00"],
        ["Acme Corp", "Acme Corp", "Alice Ng", "$85,000.00", "$15,000.00"],
        ["Borealis Ltd", "Borealis Ltd", "Ben Ortiz", "$25,000.00", "$25,000.00"],
        ["Acme Europe GmbH", "Acme Corp", "Alice Ng", "$16,200.00", "$0.00"],
    ]
    # Filters offer names, newest as-of date first.
    assert at.selectbox(key="filter_as_of").options == ["2026-11-20", "2026-11-19"]
    assert at.multiselect(key="filter_collectors").options == ["Alice Ng", "Ben Ortiz"]
    assert at.multiselect(key="filter_currencies").options == ["EUR", "GBP", "USD"]


def test_filters_narrow_every_figure(published_settings):
    at = _run_app()

    at.multiselect(key="filter_collectors").set_value(["COL2"]).run()
    assert _metrics(at)["Open AR (USD)"] == "$990,167.89"
    assert _frame(at, "Customer")["Customer"].tolist() == ["Cobalt Inc", "Borealis Ltd"]
    # DSO and CEI come from the company-wide KPI mart; the tile says so when filters are on.
    dso = next(m for m in at.metric if m.label == "DSO (days)")
    assert dso.value == "42.7" and "company-wide" in dso.help

    at.multiselect(key="filter_collectors").set_value([])
    at.multiselect(key="filter_currencies").set_value(["EUR"]).run()
    open_ar = next(m for m in at.metric if m.label == "Open AR (USD)")
    assert open_ar.value == "$59,400.00"
    assert "€55,000.00 in EUR" in open_ar.help

    at.multiselect(key="filter_currencies").set_value([])
    at.multiselect(key="filter_top_parents").set_value(["C001"]).run()
    assert _metrics(at)["Open AR (USD)"] == "$244,400.00"

    at.multiselect(key="filter_top_parents").set_value([])
    at.selectbox(key="filter_as_of").set_value(fx.PREVIOUS_AS_OF).run()
    assert _metrics(at)["Open AR (USD)"] == "$999.99"
    assert _metrics(at)["% current"] == "100.0%"
    assert not at.exception


def test_a_republished_file_is_picked_up_on_the_next_run(published_settings):
    at = _run_app()
    assert _metrics(at)["Open AR (USD)"] == "$1,234,567.89"

    writer = duckdb.connect(str(published_settings.warehouse_path))
    fx.set_item_amount(writer, "INV-4001", "750000.00")
    publish_marts(writer, published_settings.published_path)
    writer.close()

    at.run()
    assert not at.exception
    assert _metrics(at)["Open AR (USD)"] == "$1,234,444.44"


def test_no_published_file_shows_how_to_get_data(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAR_DATA_DIR", str(tmp_path / "empty"))
    at = _run_app()

    assert [t.value for t in at.title] == ["No data yet"]
    assert "make run" in at.info[0].value
    assert str(tmp_path / "empty" / "published" / "openar_marts.duckdb") in at.caption[0].value
    assert not at.metric


@pytest.mark.parametrize("missing", ["rpt_ar_kpis", "fct_ar_open_items"])
def test_marts_missing_a_table_give_a_message_not_a_traceback(published_settings, missing):
    warehouse = published_settings.warehouse_path
    con = duckdb.connect(str(warehouse))
    con.execute(f"drop table marts.{missing}")
    con.close()
    publish_marts(warehouse, published_settings.published_path)

    at = _run_app()
    assert missing in at.warning[0].value
    assert "make run" in at.warning[0].value
