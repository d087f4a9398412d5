"""The AR overview in a real headless browser (fixtures in tests/dashboards/browser.py), including while
the pipeline holds the warehouse and republishes."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import dashboard_marts_fixture as fx
import duckdb
import pytest

from tests.dashboards.browser import BROWSER_MARKS, WAIT_MS

FIXTURE_SCRIPT = Path(fx.__file__)

pytestmark = BROWSER_MARKS


def _assert_overview_rendered(page) -> None:
    """The whole page is there with the marts' numbers, and nothing went wrong on the way."""
    from playwright.sync_api import expect

    values = page.get_by_test_id("stMetricValue")
    expect(values.first).to_have_text(fx.OPEN_AR_TOTAL, timeout=WAIT_MS)
    expect(values).to_have_text(["$1,234,567.89", "72.4%", "3.2%", "42.7", "87.6%"], timeout=WAIT_MS)
    # vega-embed draws each chart as an SVG once its data has arrived.
    expect(page.locator('[data-testid="stVegaLiteChart"] svg.marks')).to_have_count(3, timeout=WAIT_MS)
    tables = page.get_by_test_id("stDataFrame")
    expect(tables).to_have_count(2, timeout=WAIT_MS)
    # The grids paint on a canvas but keep an accessible copy of each cell in the DOM.
    cells = "[data-testid^='glide-cell-']"
    expect(tables.nth(0).locator(cells).filter(has_text=fx.OPEN_AR_TOTAL)).to_have_count(1, timeout=WAIT_MS)
    expect(tables.nth(1).locator(cells).first).to_have_text("Cobalt Inc", timeout=WAIT_MS)
    assert page.get_by_test_id("stException").count() == 0
    # The page has no alert when all is well; the friendly error messages are alerts.
    assert page.get_by_test_id("stAlert").count() == 0


def test_overview_in_a_real_browser(app_server, page, tmp_path):
    from playwright.sync_api import expect

    page.goto(f"{app_server.url}/")

    _assert_overview_rendered(page)
    expect(page.get_by_test_id("stCaptionContainer").first).to_contain_text(
        "13 open items, 2 disputed ($20,000.00)"
    )
    shot = tmp_path / "ar_overview.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")
    assert shot.stat().st_size > 20_000
    assert "Traceback" not in app_server.log.read_text()


def test_page_keeps_showing_numbers_while_the_pipeline_writes_and_republishes(
    app_server, page, module_published_settings, tmp_path
):
    settings = module_published_settings
    status, stop = tmp_path / "publishes", tmp_path / "stop"
    writer = subprocess.Popen(
        [
            sys.executable, str(FIXTURE_SCRIPT), "writer",
            str(settings.warehouse_path), str(settings.published_path), str(status), str(stop), "60",
        ]
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not status.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert status.exists(), "the writer never published"
        # The scenario is real: the writer's lock keeps every other process out of the warehouse.
        with pytest.raises(duckdb.IOException, match="lock"):
            duckdb.connect(str(settings.warehouse_path), read_only=True)

        before = int(status.read_text())
        # The writer's publication counter, sampled at each reload: inode numbers are not a
        # reliable witness because a file system may hand a freed inode to the next copy.
        publications_seen = set()
        page.goto(f"{app_server.url}/")
        _assert_overview_rendered(page)
        for _ in range(4):
            publications_seen.add(int(status.read_text()))
            page.reload()
            _assert_overview_rendered(page)
        published_meanwhile = int(status.read_text()) - before
    finally:
        stop.touch()
        writer.wait(timeout=20)

    assert writer.returncode == 0
    # The page was loaded across several different published files, not one quiet copy.
    assert published_meanwhile >= 4, published_meanwhile
    assert len(publications_seen) >= 3, publications_seen
    assert "Traceback" not in app_server.log.read_text()
