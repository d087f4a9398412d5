"""The warehouse resource lets go of DuckDB's file lock when an asset fails mid-block."""

from __future__ import annotations

import subprocess
import sys

import dagster as dg
import pytest

from orchestration.resources import WarehouseResource

OPEN_IN_ANOTHER_PROCESS = "import duckdb, sys; duckdb.connect(sys.argv[1]).execute('select 1').fetchall()"


def test_a_failing_asset_does_not_keep_the_warehouse_locked(tmp_path):
    path = tmp_path / "warehouse.duckdb"

    @dg.asset
    def fails_with_the_warehouse_open(duckdb: WarehouseResource):
        with duckdb.get_connection() as con:
            con.execute("create table t as select 1 as x")
            raise ValueError("the asset's own failure")

    result = dg.materialize(
        [fails_with_the_warehouse_open],
        resources={"duckdb": WarehouseResource(database=str(path))},
        raise_on_error=False,
    )
    assert not result.success
    # the run result keeps the exception, and with it the frame that held the connection; dbt, the
    # next step of a real run, opens the file from another process
    other = subprocess.run(
        [sys.executable, "-c", OPEN_IN_ANOTHER_PROCESS, str(path)], capture_output=True, text=True
    )
    assert other.returncode == 0, other.stderr[-500:]
    assert "the asset's own failure" in str(result.all_events)


def test_the_connection_is_usable_and_closed_after_a_normal_block(tmp_path):
    resource = WarehouseResource(database=str(tmp_path / "w.duckdb"))
    with resource.get_connection() as con:
        assert con.execute("select 42").fetchone() == (42,)
    with pytest.raises(Exception, match="closed"):
        con.execute("select 1")
