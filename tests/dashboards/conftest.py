"""Fixtures for the dashboard tests: a published fixture warehouse in a temp data folder."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from orchestration.publishing import publish_marts
from orchestration.settings import Settings, load_settings
from tests.dashboards.browser import app_server, browser, page  # noqa: F401 (fixtures for every page test)

FIXTURE_SCRIPT = Path(__file__).with_name("dashboard_marts_fixture.py")


def _load_fixture_module():
    # pyproject runs pytest with --import-mode=importlib, so this folder is not on sys.path; the
    # module stays a plain file because the "pipeline writer" subprocess runs it as a script.
    # Registered under its name so the test modules here can import it.
    spec = importlib.util.spec_from_file_location("dashboard_marts_fixture", FIXTURE_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


marts_fixture = sys.modules.get("dashboard_marts_fixture") or _load_fixture_module()


def published_settings_for(data_dir: Path) -> Settings:
    """Settings for ``data_dir`` with the fixture warehouse built and published there."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OPENAR_DATA_DIR", str(data_dir))
        settings = load_settings()
    publish_marts(marts_fixture.build_warehouse(settings.warehouse_path), settings.published_path)
    return settings


@pytest.fixture
def published_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The fixture marts published under a fresh data folder that OPENAR_DATA_DIR points at."""
    settings = published_settings_for(tmp_path / "data")
    monkeypatch.setenv("OPENAR_DATA_DIR", str(settings.data_dir))
    return settings


@pytest.fixture(scope="module")
def module_published_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Like ``published_settings`` but shared by a module (a server started once reads it)."""
    return published_settings_for(tmp_path_factory.mktemp("published") / "data")
