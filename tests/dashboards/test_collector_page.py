"""The collector page against published fixture marts (tests/collections/page_marts.py): AppTest for what
it shows and writes back, and a headless-browser round trip in which a collector logs a promise to pay
and the next worklist run postpones that customer."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from ml.collections.contact_log import contacts_dir, read_contacts
from ml.collections.strategy import load_strategy
from ml.collections.worklist import WorklistInputs, build_worklist
from orchestration.publishing import publish_marts
from tests.collections import page_marts as pm
from tests.conftest import settings_for
from tests.dashboards.browser import WAIT_MS


def publish_collections_fixture(data_dir: Path):
    import dashboard_marts_fixture as fx  # registered by tests/dashboards/conftest.py

    settings = settings_for(data_dir)
    path = pm.add_collections_marts(fx.build_warehouse(settings.warehouse_path))
    publish_marts(path, settings.published_path)
    return settings


@pytest.fixture(scope="module")
def module_published_settings(tmp_path_factory):
    """The app server of the browser helpers reads this data folder."""
    return publish_collections_fixture(tmp_path_factory.mktemp("collector_page") / "data")


def _page():
    from dashboards.views import collector

    collector.render()


def _run(monkeypatch, settings) -> AppTest:
    monkeypatch.setenv("OPENAR_DATA_DIR", str(settings.data_dir))
    at = AppTest.from_function(_page, default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _table(at: AppTest, column: str) -> pd.DataFrame:
    return next(df.value for df in at.dataframe if column in df.value.columns)


def test_worklist_customer_view_and_logging_a_promise(tmp_path, monkeypatch):
    settings = publish_collections_fixture(tmp_path / "data")
    at = _run(monkeypatch, settings)
    assert [t.value for t in at.title] == ["Collector"]
    # Alice Ng comes first by name: one action today (Acme Corp), one postponed
    assert at.selectbox(key="collector_pick").value == "COL1"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["To do on 2026-11-23"] == "1"
    assert metrics["Postponed / waiting"] == "1"
    assert metrics["Overdue in today's list"] == "$85,000.00"

    at.selectbox(key="collector_pick").set_value("COL2").run()
    worklist = _table(at, "Why")
    assert list(worklist["Customer"]) == ["Cobalt Inc", "Borealis Ltd"]
    assert list(worklist["Action"]) == ["Call", "Reminder e-mail"]
    assert {m.label: m.value for m in at.metric}["Overdue in today's list"] == "$240,044.44"

    # the customer view: open invoices with the model's dates, and the history
    assert at.selectbox(key="collector_customer").value == "C004"
    invoices = _table(at, "Predicted pay date")
    assert list(invoices["Item"]) == ["INV-4003", "INV-4002", "INV-4001"]  # by due date
    assert list(invoices["Open"]) == ["$15,044.43", "$200,000.01", "$750,123.45"]
    assert invoices["Predicted pay date"].iloc[0] == dt.date(2026, 11, 30)  # as_of + 1 + 9
    history = _table(at, "Summary")
    assert list(history["Kind"]) == ["message", "contact", "promise"]

    # log a promise: one JSON-lines file in the write-back folder, the warehouse untouched
    before = settings.warehouse_path.stat().st_mtime_ns
    at.selectbox(key="collector_outcome").set_value("promise_to_pay")
    at.date_input(key="collector_promised_date").set_value(dt.date(2026, 11, 27))
    at.text_input(key="collector_promised_amount").set_value("15,044.43")
    next(b for b in at.button if b.label == "Log").click().run()
    assert not at.exception, [e.value for e in at.exception]
    (written,) = sorted(contacts_dir(settings.writeback_path).glob("*.jsonl"))
    entry = json.loads(written.read_text())
    assert (entry["customer_id"], entry["outcome"], entry["promised_pay_date"], entry["promised_amount"]) == (
        "C004", "promise_to_pay", "2026-11-27", "15044.43",
    )  # fmt: skip
    assert entry["data_as_of"] == "2026-11-20"
    assert settings.warehouse_path.stat().st_mtime_ns == before
    assert at.success and at.success[0].value.startswith(
        "Logged: promise to pay for Cobalt Inc, pay by 2026-11-27"
    )
    assert list(_table(at, "Why")["Logged"]) == ["✓", ""]


def test_a_bad_amount_is_refused_and_nothing_is_written(tmp_path, monkeypatch):
    settings = publish_collections_fixture(tmp_path / "data")
    at = _run(monkeypatch, settings)
    at.selectbox(key="collector_outcome").set_value("promise_to_pay")
    at.text_input(key="collector_promised_amount").set_value("lots")
    next(b for b in at.button if b.label == "Log").click().run()
    assert [e.value for e in at.error] == ["'lots' is not an amount."]
    assert not contacts_dir(settings.writeback_path).exists()


def test_without_a_worklist_the_page_says_what_to_run(published_settings, monkeypatch):
    at = _run(monkeypatch, published_settings)  # the plain dashboard fixture: no collections marts
    assert "No worklist has been published yet" in at.info[0].value


def _next_run_inputs(as_of: dt.date) -> WorklistInputs:
    """The next run's inputs for Acme Corp (C001), one invoice 45 days overdue, nothing else on record:
    without a promise the strategy acts on it."""
    return WorklistInputs(
        customers=pd.DataFrame(
            [
                {
                    "customer_id": "C001",
                    "customer_name": "Acme Corp",
                    "segment": "smb",
                    "collector_id": "COL1",
                    "contact_email": "ap@c001.example",
                    "currency": "USD",
                }
            ]
        ),
        collectors=pd.DataFrame(
            [{"collector_id": "COL1", "collector_name": "Alice Ng", "daily_capacity": 10}]
        ),
        balances=pd.DataFrame(
            [
                {
                    "invoice_id": "INV-1003",
                    "customer_id": "C001",
                    "currency": "USD",
                    "invoice_date": as_of - dt.timedelta(days=75),
                    "due_date": as_of - dt.timedelta(days=45),
                    "open_minor": 2000000,
                    "open_functional_minor": 2000000,
                    "fx_rate": "1",
                }
            ]
        ),
        promises=pd.DataFrame(
            columns=[
                "promise_id",
                "customer_id",
                "invoice_id",
                "promise_date",
                "promised_pay_date",
                "promised_minor",
                "status",
                "resolved_date",
            ]
        ),
        disputes=pd.DataFrame(
            columns=["dispute_id", "customer_id", "invoice_id", "opened_date", "status", "disputed_minor"]
        ),
        activities=pd.DataFrame(columns=["customer_id", "activity_at", "activity_type", "outcome"]),
    )


@pytest.mark.browser
def test_a_promise_logged_in_the_browser_postpones_the_customer_in_the_next_run(
    module_published_settings, app_server, page
):
    from playwright.sync_api import expect

    from ml.collections.contact_log import apply_contacts

    settings = module_published_settings
    as_of, strategy = pm.AS_OF, load_strategy()
    before = build_worklist(_next_run_inputs(as_of), strategy, as_of)
    assert before.loc[0, "action"] != "postpone"

    page.goto(f"{app_server.url}/collector")
    expect(page.get_by_role("heading", name="Collector")).to_be_visible(timeout=WAIT_MS)
    # Alice Ng's list (the first collector): Acme Corp is her first customer
    expect(page.get_by_test_id("stMetricValue").nth(3)).to_have_text("$85,000.00", timeout=WAIT_MS)
    form = page.get_by_test_id("stForm")
    form.get_by_role("button", name="Log").wait_for(timeout=WAIT_MS)
    # the promised date keeps its default: the work day plus a week
    form.get_by_label("Promised amount (USD, optional)").fill("85000")
    form.get_by_role("button", name="Log").click()
    expect(
        page.get_by_test_id("stAlert").filter(has_text="Logged: promise to pay for Acme Corp")
    ).to_be_visible(timeout=WAIT_MS)
    assert page.get_by_test_id("stException").count() == 0

    logged = read_contacts(settings.writeback_path)
    assert list(zip(logged["customer_id"], logged["outcome"], logged["promised_pay_date"], strict=True)) == [
        ("C001", "promise_to_pay", "2026-11-30")
    ]
    # the next run: the same inputs plus what the write-back folder holds (what
    # worklist_inputs_from_warehouse does with writeback_path) -> Acme Corp is postponed
    inputs = _next_run_inputs(as_of)
    inputs.promises, inputs.activities = apply_contacts(inputs.promises, inputs.activities, logged, as_of)
    after = build_worklist(inputs, strategy, as_of)
    assert (after.loc[0, "action"], after.loc[0, "status"]) == ("postpone", "postponed")
    assert after.loc[0, "reason"] == "promise to pay pending, due 2026-11-30"
