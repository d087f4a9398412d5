"""Fixtures of the collections tests: the small simulated world loaded into a real DuckDB file."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


@pytest.fixture(scope="session")
def small_warehouse(small_world_dir, tmp_path_factory):
    """(read-write connection, world dir): the small world's ERP extracts loaded by the real loader."""
    import duckdb

    from ingestion.erp_loader import load_erp_extracts

    path = tmp_path_factory.mktemp("collections_wh") / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    load_erp_extracts(con, small_world_dir / "landing" / "erp", "collections-tests")
    yield con, small_world_dir
    con.close()
