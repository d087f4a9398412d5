"""Shared fixtures: a small simulated world and settings that point a whole installation at a temp folder."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import replace
from pathlib import Path

import pytest

from orchestration.settings import DEFAULT_AS_OF_DATE, Settings, load_settings

SMALL_WORLD = {"customers": 40, "years": 1, "seed": 7, "as_of": DEFAULT_AS_OF_DATE}
SHARED_FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"


@pytest.fixture(scope="session")
def small_world_dir(tmp_path_factory) -> Path:
    """A simulated world (landing + ground truth), written once per test session."""
    from simulator.world import simulate_world

    out = tmp_path_factory.mktemp("small_world")
    simulate_world(out, **SMALL_WORLD)
    return out


def settings_for(data_dir: Path) -> Settings:
    return replace(load_settings(), data_dir=data_dir, as_of_date=None, dbt_target="duckdb")


@pytest.fixture
def isolated_env(monkeypatch, tmp_path):
    """Environment of a fresh installation under tmp_path (no leakage from the developer's data/)."""
    monkeypatch.setenv("OPENAR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "data" / "dagster_home"))
    for var in ("OPENAR_AS_OF_DATE", "OPENAR_DUCKDB_PATH", "OPENAR_DBT_TARGET"):
        monkeypatch.delenv(var, raising=False)
    yield tmp_path / "data"
    # dbt env vars set by build_resources must not leak into the next test
    for var in ("OPENAR_DUCKDB_PATH", "OPENAR_DATA_DIR"):
        os.environ.pop(var, None)


def as_of(d: str) -> dt.date:
    return dt.date.fromisoformat(d)
