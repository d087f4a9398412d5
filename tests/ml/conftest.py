"""Fixtures of the ML tests: a synthetic history (fast, learnable) and a tiny simulated ERP world
loaded through the real loader into a real DuckDB file."""

from __future__ import annotations

import os

import pytest

from tests.ml.helpers import TINY_WORLD, synthetic_history

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


@pytest.fixture(scope="session")
def synthetic():
    """(history, truth per customer, true days late per invoice): 45 customers over two years."""
    return synthetic_history(n_customers=45, days=700, seed=3)


@pytest.fixture(scope="session")
def tiny_warehouse(tmp_path_factory):
    """A simulated world loaded with ``load_erp_extracts`` into DuckDB: (connection, world dir)."""
    import duckdb

    from ingestion.erp_loader import load_erp_extracts
    from simulator.world import simulate_world

    out = tmp_path_factory.mktemp("ml_world")
    simulate_world(out, **TINY_WORLD)
    con = duckdb.connect(str(out / "warehouse.duckdb"))
    load_erp_extracts(con, out / "landing" / "erp", "ml-tests")
    yield con, out
    con.close()
