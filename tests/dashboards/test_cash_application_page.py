"""The cash-application page on the small simulated world, applied and published for real: AppTest for
what it shows and writes back, and a headless-browser round trip in which a person accepts a
suggestion and the next run applies it."""

from __future__ import annotations

import json
from decimal import Decimal

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from ml.cashapp.warehouse import corrections_dir, run_cash_application
from orchestration.publishing import publish_marts
from tests.cashapp_wiring.conftest import build_base
from tests.conftest import settings_for
from tests.dashboards.browser import WAIT_MS

pytestmark = pytest.mark.slow


def apply_and_publish(wh, settings) -> None:
    """What the daily run does after the ledger: cash application, the cash_applied dbt stage, publish."""
    con = duckdb.connect(str(wh.path))
    try:
        run_cash_application(con, writeback_path=settings.writeback_path)
    finally:
        con.close()
    wh.dbt("build", "--select", "tag:cash_applied")
    con = duckdb.connect(str(wh.path))
    try:
        publish_marts(con, settings.published_path)
    finally:
        con.close()


@pytest.fixture(scope="module")
def world(small_world_dir, tmp_path_factory):
    wh = build_base(small_world_dir, tmp_path_factory.mktemp("cashapp_page"))
    settings = settings_for(wh.data_dir)
    apply_and_publish(wh, settings)
    return wh, settings


@pytest.fixture(scope="module")
def module_published_settings(world):
    """The app server of the browser helpers reads this data folder."""
    return world[1]


def _published(settings, sql: str, params=None) -> list[tuple]:
    con = duckdb.connect(str(settings.published_path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def _page():
    from dashboards.views import cash_application

    cash_application.render()


def _run(monkeypatch, settings) -> AppTest:
    monkeypatch.setenv("OPENAR_DATA_DIR", str(settings.data_dir))
    at = AppTest.from_function(_page, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_page_shows_the_queue_candidates_and_kpis_and_writes_an_accept_back(world, monkeypatch):
    wh, settings = world
    at = _run(monkeypatch, settings)
    assert [t.value for t in at.title] == ["Cash application"]
    received, auto, confirmed = _published(
        settings,
        "select sum(payments_received), sum(payments_auto_applied), sum(payments_confirmed) "
        "from marts.rpt_cash_application_kpis",
    )[0]
    queue = _published(
        settings,
        "select transaction_id, exception_reason from marts.rpt_cash_application_exceptions "
        "order by booking_date, received_amount desc, transaction_id",
    )
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Auto-match (payments)"] == f"{Decimal(auto) * 100 / Decimal(received):.1f}%"
    assert metrics["In the queue"] == str(len(queue)) and len(queue) > 0
    assert metrics["Confirmed by people"] == "0" == str(confirmed)
    picker = at.selectbox(key="cashapp_payment")
    assert picker.options and len(picker.options) == len(queue)
    assert picker.value == queue[0][0]
    # the first payment's candidates, as the mart has them, with their evidence
    cands = _published(
        settings,
        "select suggestion_rank, invoice_id, evidence from marts.rpt_cash_application_suggestions "
        "where transaction_id = ? order by suggestion_rank, invoice_id",
        [queue[0][0]],
    )
    table = next(df.value for df in at.dataframe if "Evidence" in df.value.columns)
    assert [(r["Rank"], r["Evidence"]) for r in table.to_dict("records")] == [(r, e) for r, _i, e in cands]

    # accept the first suggestion: one JSON-lines file in the write-back folder, the warehouse untouched
    before = wh.path.stat().st_mtime_ns
    at.button(key="cashapp_accept").click().run()
    assert not at.exception, [e.value for e in at.exception]
    (written,) = sorted(corrections_dir(settings.writeback_path).glob("*.jsonl"))
    rows = [json.loads(line) for line in written.read_text().splitlines()]
    assert {r["action"] for r in rows} == {"accept"} and {r["transaction_id"] for r in rows} == {queue[0][0]}
    assert {r["item_id"] for r in rows} == {i for r, i, _e in cands if r == 1}
    assert wh.path.stat().st_mtime_ns == before
    assert at.success and at.success[0].value.startswith("Saved: accept")
    assert {m.label: m.value for m in at.metric}["In the queue"] == str(len(queue) - 1)
    written.unlink()  # the browser test starts from an empty write-back folder


def test_accepting_in_the_browser_changes_the_next_run(world, app_server, page):
    from playwright.sync_api import expect

    wh, settings = world
    wait = WAIT_MS
    queue_before = _published(settings, "select count(*) from marts.rpt_cash_application_exceptions")[0][0]
    page.goto(f"{app_server.url}/cash-application")
    expect(page.get_by_role("heading", name="Cash application")).to_be_visible(timeout=wait)
    tiles = page.get_by_test_id("stMetricValue")
    expect(tiles.nth(4)).to_have_text(str(queue_before), timeout=wait)
    expect(tiles.nth(5)).to_have_text("0", timeout=wait)
    page.get_by_role("button", name="Accept suggestion").click()
    expect(page.get_by_text("Saved: accept")).to_be_visible(timeout=wait)
    expect(tiles.nth(4)).to_have_text(str(queue_before - 1), timeout=wait)
    (written,) = sorted(corrections_dir(settings.writeback_path).glob("*.jsonl"))
    tid = json.loads(written.read_text().splitlines()[0])["transaction_id"]

    apply_and_publish(wh, settings)  # the next run picks the decision up
    assert (
        _published(
            settings,
            "select application_status from marts.rpt_cash_application_exceptions where transaction_id = ?",
            [tid],
        )
        == []
    )
    applied = _published(
        settings,
        "select method, model_version, is_posted_in_erp from marts.fct_cash_applications where transaction_id = ?",
        [tid],
    )
    assert applied and {(m, v) for m, v, _p in applied} == {("manual", "person")}

    page.reload()
    expect(tiles.nth(5)).to_have_text("1", timeout=wait)
    expect(tiles.nth(4)).to_have_text(str(queue_before - 1), timeout=wait)
    expect(page.get_by_text("0 decision(s) waiting for the next run")).to_be_visible(timeout=wait)
    assert "Traceback" not in app_server.log.read_text()
