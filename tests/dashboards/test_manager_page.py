"""The collections manager page against published fixture marts (tests/collections/page_marts.py): the
forecast with its band, forecast vs actual with the alert, the scheduled workload and the what-if."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from orchestration.publishing import publish_marts
from tests.collections import page_marts as pm
from tests.conftest import settings_for
from tests.dashboards.browser import WAIT_MS


def _publish(data_dir: Path, with_scope: bool = False):
    import dashboard_marts_fixture as fx  # registered by tests/dashboards/conftest.py

    settings = settings_for(data_dir)
    path = pm.add_collections_marts(fx.build_warehouse(settings.warehouse_path))
    if with_scope:
        _add_scope_columns(path)
    publish_marts(path, settings.published_path)
    return settings


def _add_scope_columns(path: Path) -> None:
    """The forecast marts as the pipeline now writes them: 75% of each week from the open AR, 25% from
    invoices not issued yet; in the past forecast, the open AR brought 70% of the actual."""
    import duckdb

    con = duckdb.connect(str(path))
    try:
        for t in ("rpt_cash_forecast_weekly", "rpt_cash_forecast_vs_actual"):
            con.execute(f"alter table marts.{t} add column open_ar_expected_amount_functional decimal(18, 2)")
            con.execute(f"alter table marts.{t} add column forecast_scope varchar")
            con.execute(
                f"update marts.{t} set open_ar_expected_amount_functional = expected_amount_functional * 0.75, "
                "forecast_scope = 'open_ar_and_new_business'"
            )
        con.execute(
            "alter table marts.rpt_cash_forecast_weekly add column new_business_expected_amount_functional decimal(18, 2)"
        )
        con.execute(
            "update marts.rpt_cash_forecast_weekly set new_business_expected_amount_functional = "
            "expected_amount_functional - open_ar_expected_amount_functional"
        )
        con.execute(
            "alter table marts.rpt_cash_forecast_vs_actual add column actual_open_ar_amount_functional decimal(18, 2)"
        )
        con.execute(
            "update marts.rpt_cash_forecast_vs_actual set actual_open_ar_amount_functional = actual_amount_functional * 0.7"
        )
    finally:
        con.close()


@pytest.fixture(scope="module")
def module_published_settings(tmp_path_factory):
    return _publish(tmp_path_factory.mktemp("manager_page") / "data")


def _page():
    from dashboards.views import manager

    manager.render()


def _run(monkeypatch, settings) -> AppTest:
    monkeypatch.setenv("OPENAR_DATA_DIR", str(settings.data_dir))
    at = AppTest.from_function(_page, default_timeout=90).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_forecast_vs_actual_workload_and_whatif(tmp_path, monkeypatch):
    at = _run(monkeypatch, _publish(tmp_path / "data"))
    assert [t.value for t in at.title] == ["Collections manager"]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Expected, 13 weeks"] == "$9,100,000.00"
    assert metrics["Low (P10 weeks summed)"] == "$7,280,000.00"
    assert metrics["High (P90 weeks summed)"] == "$10,920,000.00"
    assert metrics["Past forecasts"] == "1"
    assert metrics["Weeks off by more than 20%"] == "1"
    assert metrics["Weeks inside the band"] == "75.0%"
    assert "week 3 of the forecast as of 2026-10-23 (-40.0%)" in at.warning[0].value
    vs = next(df.value for df in at.dataframe if "Actual" in df.value.columns)
    assert list(vs["Alert"]) == ["", "", "⚠", ""]
    assert list(vs["Actual"])[:3] == ["$1,365,000.00", "$1,260,000.00", "$660,000.00"]
    workload = next(df.value for df in at.dataframe if "collector" in df.value.columns)
    assert sorted(
        zip(
            workload["collector"],
            workload["call"],
            workload["escalation"],
            workload["reminder_email"],
            strict=True,
        )
    ) == [("Alice Ng", 0, 1, 0), ("Ben Ortiz", 1, 0, 1)]  # all on Monday 2026-11-23
    assert set(workload["scheduled_for"].astype(str)) == {"2026-11-23"}

    # what-if: the 3 largest customers 30 days late moves cash out of the first 30 days, none is lost
    # from the horizon's total of what is expected; defaulting Cobalt Inc loses its expected cash
    whatif = {m.label: m for m in at.metric if m.label.startswith("Next ")}
    assert set(whatif) == {"Next 30 days", "Next 60 days", "Next 90 days"}
    assert whatif["Next 30 days"].delta.startswith("-$")
    at.number_input(key="whatif_top").set_value(0)
    at.multiselect(key="whatif_defaults").set_value(["C004"]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.markdown and any("C004 defaults" in m.value for m in at.markdown)
    weekly = next(df.value for df in at.dataframe if "Scenario" in df.value.columns)
    assert all(c.startswith("-$") or c == "$0.00" for c in weekly["Change"])


def test_the_page_says_what_the_forecast_includes(tmp_path, monkeypatch):
    at = _run(monkeypatch, _publish(tmp_path / "data", with_scope=True))
    assert any("invoices not issued yet" in c.value and "calibrated" in c.value for c in at.caption)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Expected, 13 weeks"] == "$9,100,000.00"
    assert metrics["of which open AR today"] == "$6,825,000.00"
    assert metrics["of which invoices not issued yet"] == "$2,275,000.00"
    vs = next(df.value for df in at.dataframe if "Actual" in df.value.columns)
    # week 1 of the past forecast: 1,300,000.00 expected (975,000.00 open AR), 1,365,000.00 came (70% open AR)
    assert list(vs["Open AR: expected"])[0] == "$975,000.00"
    assert list(vs["Open AR: actual"])[0] == "$955,500.00"


def test_without_forecast_the_page_says_what_to_run(published_settings, monkeypatch):
    at = _run(monkeypatch, published_settings)
    assert "No cash forecast has been published yet" in at.info[0].value


@pytest.mark.browser
def test_manager_page_in_a_real_browser(app_server, page):
    from playwright.sync_api import expect

    page.goto(f"{app_server.url}/collections-manager")
    expect(page.get_by_role("heading", name="Collections manager")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_test_id("stMetricValue").first).to_have_text("$9,100,000.00", timeout=WAIT_MS)
    expect(page.locator('[data-testid="stVegaLiteChart"] svg.marks')).to_have_count(1, timeout=WAIT_MS)
    expect(page.get_by_text("Next 30 days")).to_be_visible(timeout=WAIT_MS)
    assert page.get_by_test_id("stException").count() == 0
