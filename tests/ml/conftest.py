"""Fixtures of the ML tests: a synthetic history (fast, learnable) and a tiny simulated ERP world
loaded through the real loader into a real DuckDB file."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

from synthetic import synthetic_history  # noqa: E402

from ml.payment_model import ModelConfig  # noqa: E402

TINY_WORLD = {"customers": 14, "years": 1, "seed": 11, "as_of": dt.date(2026, 11, 20)}
# Small trees, few rounds: the tests check behaviour and direction, not the last decimal.
FAST = ModelConfig(num_boost_round=50, classifier_rounds=30, learning_rate=0.1, num_leaves=15, min_data_in_leaf=20,
                   calibration_days=60)


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
