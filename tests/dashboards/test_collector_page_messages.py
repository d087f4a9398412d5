"""The collector page's customer view lists the customer's triaged messages (rpt_message_triage) with
intent and suggested action, newest first: AppTest on fixture marts, and the same in a headless browser."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from orchestration.publishing import publish_marts
from tests.collections import page_marts as pm
from tests.conftest import settings_for
from tests.dashboards.browser import WAIT_MS

# (message, customer, received, subject, intent, confidence, review, action, detail, summary, rank)
MESSAGES = [
    ("M1", "C001", dt.datetime(2026, 11, 18, 9, 5), "RE: overdue", "promise_to_pay", 0.93, False,
     "log_promise", "log promise: USD 85000.00 by 2026-11-27", "We will pay $85,000.00 on 27 Nov.", 1),
    ("M2", "C001", dt.datetime(2026, 11, 2, 14, 0), "Copy of INV-1003", "invoice_copy_request", 0.55, True,
     "send_invoice_copy", "send copy of INV-1003", "Can I get a copy of INV-1003 please?", 2),
    ("M3", "C004", dt.datetime(2026, 11, 10, 8, 0), "Automatic reply", "out_of_office", 0.99, False,
     "retry_after", "retry after 2026-11-16", "Out until 15 November.", 1),
]  # fmt: skip


def publish_with_messages(data_dir: Path):
    fx = sys.modules["dashboard_marts_fixture"]  # registered by tests/dashboards/conftest.py
    settings = settings_for(data_dir)
    path = pm.add_collections_marts(fx.build_warehouse(settings.warehouse_path))
    con = duckdb.connect(str(path))
    try:
        con.execute(
            """create table marts.rpt_message_triage (
                message_id varchar, customer_id varchar, received_at timestamp, subject varchar,
                intent varchar, confidence decimal(9, 4), needs_review boolean, quick_action varchar,
                action_detail varchar, summary varchar, recency_rank bigint)"""
        )
        con.executemany(
            "insert into marts.rpt_message_triage values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", MESSAGES
        )
    finally:
        con.close()
    publish_marts(path, settings.published_path)
    return settings


@pytest.fixture(scope="module")
def module_published_settings(tmp_path_factory):
    """The app server of the browser helpers reads this data folder."""
    return publish_with_messages(tmp_path_factory.mktemp("collector_messages") / "data")


def _page():
    from dashboards.views import collector

    collector.render()


def test_a_customers_messages_show_intent_and_suggested_action(tmp_path, monkeypatch):
    settings = publish_with_messages(tmp_path / "data")
    monkeypatch.setenv("OPENAR_DATA_DIR", str(settings.data_dir))
    at = AppTest.from_function(_page, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="collector_customer").value == "C001"  # Alice Ng's first customer
    msgs = next(df.value for df in at.dataframe if "Suggested action" in df.value.columns)
    assert list(msgs["Subject"]) == ["RE: overdue", "Copy of INV-1003"]  # newest first
    assert list(msgs["Intent"]) == ["Promise to pay", "Invoice copy request"]
    assert list(msgs["Suggested action"]) == [
        "log promise: USD 85000.00 by 2026-11-27",
        "send copy of INV-1003",
    ]
    assert list(msgs["Check"]) == ["", "review"]

    at.selectbox(key="collector_pick").set_value("COL2").run()
    msgs = next(df.value for df in at.dataframe if "Suggested action" in df.value.columns)
    assert list(msgs["Intent"]) == ["Out of office"] and list(msgs["Suggested action"]) == [
        "retry after 2026-11-16"
    ]


def test_without_the_triage_mart_the_customer_view_says_so(tmp_path, monkeypatch):
    from tests.dashboards.test_collector_page import publish_collections_fixture

    settings = publish_collections_fixture(tmp_path / "data")
    monkeypatch.setenv("OPENAR_DATA_DIR", str(settings.data_dir))
    at = AppTest.from_function(_page, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    assert "No triaged message from this customer." in [c.value for c in at.caption]


@pytest.mark.browser
def test_the_messages_section_renders_in_the_browser(module_published_settings, app_server, page):
    from playwright.sync_api import expect

    page.goto(f"{app_server.url}/collector")
    expect(page.get_by_role("heading", name="Collector")).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_text("Messages and suggested actions")).to_be_visible(timeout=WAIT_MS)
    assert page.get_by_test_id("stException").count() == 0
