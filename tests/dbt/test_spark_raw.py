"""The Parquet export behind dbt on Spark (orchestration/spark_raw.py), checked without Spark: every
raw ERP table, every row, the contract's types, and a second export replacing the first. Also a trap
of having pyspark installed at all."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from ingestion.erp_contracts import EXTRACTS
from orchestration.spark_raw import export_raw_parquet, raw_parquet_dir, register_args

pytestmark = pytest.mark.slow  # needs the session's simulated warehouse


def _parquet_schema(path) -> dict[str, str]:
    con = duckdb.connect()
    try:
        return dict(
            con.execute(f"select column_name, column_type from (describe select * from '{path}')").fetchall()
        )
    finally:
        con.close()


def test_export_writes_every_raw_table_with_its_rows_and_types(simulated_warehouse, tmp_path):
    counts = export_raw_parquet(simulated_warehouse.path, tmp_path / "raw")
    assert set(counts) == {e.table for e in EXTRACTS.values()}
    for table, rows in counts.items():
        ((expected,),) = simulated_warehouse.query(f"select count(*) from raw.{table}")
        assert rows == expected, table
    assert counts["erp_invoices"] > 100

    schema = _parquet_schema(tmp_path / "raw" / "erp_invoices" / "data.parquet")
    assert schema["amount"] == "DECIMAL(18,2)"
    assert schema["discount_pct"] == "DECIMAL(7,4)"
    assert schema["invoice_date"] == "DATE"
    assert schema["_row_number"] == "INTEGER"
    assert schema["_loaded_at"] == "TIMESTAMP WITH TIME ZONE"
    assert list(schema)[: len(EXTRACTS["invoices"].columns)] == [c.name for c in EXTRACTS["invoices"].columns]

    # money survives to the cent: the exported amounts sum to the warehouse's
    con = duckdb.connect()
    try:
        ((exported_total,),) = con.execute(
            f"select sum(amount) from '{tmp_path / 'raw' / 'erp_invoices' / 'data.parquet'}'"
        ).fetchall()
    finally:
        con.close()
    ((warehouse_total,),) = simulated_warehouse.query("select sum(amount) from raw.erp_invoices")
    assert exported_total == warehouse_total


def test_a_second_export_replaces_the_first(simulated_warehouse, tmp_path):
    out = tmp_path / "raw"
    (out / "erp_invoices").mkdir(parents=True)
    (out / "erp_invoices" / "stale.parquet").write_bytes(b"left over from an older export")
    export_raw_parquet(simulated_warehouse.path, out)
    assert sorted(p.name for p in (out / "erp_invoices").iterdir()) == ["data.parquet"]


def test_register_args_point_dbt_at_the_absolute_export_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # a relative folder is made absolute: dbt may run from another working directory
    assert register_args(Path("x")) == [
        "run-operation",
        "register_raw_parquet",
        "--target",
        "spark",
        "--args",
        f"{{location: '{tmp_path.resolve() / 'x'}'}}",
    ]
    assert raw_parquet_dir(tmp_path) == tmp_path.resolve() / "spark" / "raw_parquet"


def test_pyspark_does_not_stop_python_c_scripts():
    """great-expectations imports pyspark.sql.connect when pyspark is installed; without the
    connect extras (pyproject: pyspark[connect]) pyspark takes a `python -c` script for its own
    doctests and calls sys.exit(0): the script stops silently, with status 0."""
    result = subprocess.run(
        [
            sys.executable,
            "-W",
            "ignore",
            "-c",
            "import pyspark.sql.connect.dataframe; print('still running')",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "still running", result.stderr[-2000:]
