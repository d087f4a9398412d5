"""The same dbt project built on Spark (dbt-spark session mode, local) from the same raw rows as the
session's DuckDB warehouse gives the same marts, row for row and digit for digit, with every model,
data test and unit test passing there too.

One Spark session for the module (tests/spark_session.py): the raw tables are exported to Parquet
(orchestration/spark_raw.py), registered by the dbt macro register_raw_parquet, the project is
built, and the marts are read back, all in this process.
"""

from __future__ import annotations

import time

import pytest

from orchestration.spark_raw import export_raw_parquet, register_args
from tests.dbt.helpers import MARTS, MARTS_SCHEMA, duckdb_table, sorted_rows
from tests.spark_session import (
    current_spark,
    failure_message,
    java_missing_reason,
    run_dbt_in_process,
    spark_column_types,
    spark_env,
    spark_table,
    stop_spark,
)

pytestmark = [pytest.mark.spark, pytest.mark.slow]

# DuckDB's name of each type the marts use -> Spark's name of the same type.
SPARK_TYPE_OF_DUCKDB_TYPE = {
    "VARCHAR": "string",
    "INTEGER": "int",
    "BIGINT": "bigint",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "DECIMAL(18,2)": "decimal(18,2)",
    "DECIMAL(18,4)": "decimal(18,4)",
    "DECIMAL(18,8)": "decimal(18,8)",
}


@pytest.fixture(scope="module")
def spark_build(simulated_warehouse, tmp_path_factory):
    """The session's simulated world built on Spark. Yields the Spark session, the rows exported per
    raw table, dbt's run results and the data folder; prints the timings (seen with ``-s``)."""
    reason = java_missing_reason()
    if reason:
        pytest.skip(f"Spark build skipped: {reason}")
    work_dir = tmp_path_factory.mktemp("dbt_spark")
    data_dir = work_dir / "data"
    env = spark_env(data_dir)
    parquet_dir = data_dir / "spark" / "raw_parquet"
    timings = {}

    started = time.perf_counter()
    exported = export_raw_parquet(simulated_warehouse.path, parquet_dir)
    timings["export"] = time.perf_counter() - started
    try:
        started = time.perf_counter()
        registered = run_dbt_in_process(register_args(parquet_dir), env, work_dir)
        timings["register (with Spark start)"] = time.perf_counter() - started
        assert registered.success, failure_message(registered)

        started = time.perf_counter()
        built = run_dbt_in_process(["build", "--target", "spark"], env, work_dir)
        timings["build"] = time.perf_counter() - started
        assert built.success, failure_message(built)
        print("Spark timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
        yield current_spark(), exported, built.result, data_dir
    finally:
        stop_spark()


def test_raw_tables_on_spark_hold_the_warehouses_rows_with_the_contract_types(
    spark_build, simulated_warehouse
):
    spark, exported, _, _ = spark_build
    for table, rows in exported.items():
        ((duck_rows,),) = simulated_warehouse.query(f"select count(*) from raw.{table}")
        assert spark.table(f"raw.{table}").count() == rows == duck_rows, table
    types = spark_column_types(spark, "raw", "erp_invoices")
    assert types["amount"] == "decimal(18,2)"
    assert types["discount_pct"] == "decimal(7,4)"
    assert types["invoice_date"] == "date"
    assert types["invoice_id"] == "string"
    assert types["_row_number"] == "int"
    assert types["_loaded_at"] == "timestamp"
    assert spark_column_types(spark, "raw", "erp_fx_rates")["rate_to_functional"] == "decimal(18,8)"
    # the same instant as DuckDB's timestamptz (the profile pins the session time zone to UTC)
    ((duck_loaded_at,),) = simulated_warehouse.query(
        "select strftime(max(_loaded_at) at time zone 'UTC', '%Y-%m-%d %H:%M:%S.%f') from raw.erp_invoices"
    )
    (spark_loaded_at,) = spark.sql(
        "select date_format(max(_loaded_at), 'yyyy-MM-dd HH:mm:ss.SSSSSS') from raw.erp_invoices"
    ).collect()[0]
    assert spark_loaded_at == duck_loaded_at


def test_every_model_data_test_and_unit_test_passes_on_spark(spark_build):
    _, _, results, _ = spark_build
    by_type: dict[str, list[str]] = {}
    for node_result in results.results:
        by_type.setdefault(node_result.node.resource_type, []).append(str(node_result.status))
    assert set(by_type) == {"model", "test", "unit_test"}
    # none skipped, errored or merely warned (a warn would be an as-of date after the last extract)
    assert len(by_type["model"]) >= 25 and set(by_type["model"]) == {"success"}
    assert len(by_type["unit_test"]) >= 5 and set(by_type["unit_test"]) == {"pass"}
    assert len(by_type["test"]) >= 100 and set(by_type["test"]) == {"pass"}


def test_spark_builds_marts_equal_to_duckdbs(spark_build, simulated_warehouse):
    spark, _, _, _ = spark_build
    for mart in MARTS:
        duck_columns, duck_rows = duckdb_table(simulated_warehouse.path, MARTS_SCHEMA, mart)
        spark_columns, spark_rows = spark_table(spark, MARTS_SCHEMA, mart)
        assert spark_columns == duck_columns, mart
        assert len(spark_rows) == len(duck_rows) > 0, mart
        # decimals compare as text (scale included), dates as dates, booleans as booleans
        assert sorted_rows(spark_rows) == sorted_rows(duck_rows), mart


def test_spark_marts_have_duckdbs_column_types(spark_build, simulated_warehouse):
    spark, _, _, _ = spark_build
    for mart in MARTS:
        duck_types = dict(
            simulated_warehouse.query(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = ? and table_name = ? order by ordinal_position",
                [MARTS_SCHEMA, mart],
            )
        )
        expected = {name: SPARK_TYPE_OF_DUCKDB_TYPE[duck_type] for name, duck_type in duck_types.items()}
        assert spark_column_types(spark, MARTS_SCHEMA, mart) == expected, mart


def test_spark_keeps_its_warehouse_and_metastore_in_the_data_folder(spark_build):
    spark, _, _, data_dir = spark_build
    spark_dir = data_dir / "spark"
    assert (spark_dir / "metastore_db" / "service.properties").exists()
    assert (spark_dir / "derby" / "derby.log").exists()
    location = spark.sql("describe table extended marts.fct_ar_open_items").collect()
    details = {row[0]: row[1] for row in location}
    assert details["Location"].removeprefix("file:") == str(
        spark_dir / "warehouse" / "marts.db" / "fct_ar_open_items"
    )
    assert details["Provider"] == "parquet"
