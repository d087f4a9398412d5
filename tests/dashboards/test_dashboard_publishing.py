"""publish_marts: what it copies, that it works beside a writer, and that the swap is atomic."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import dashboard_marts_fixture as fx
import duckdb
import pytest

from dashboards.data import _open_read_only
from orchestration.publishing import PublishError, publish_marts

FIXTURE_SCRIPT = Path(fx.__file__)
TOTAL_SQL = "select sum(total_open_functional) from published.marts.rpt_ar_aging where as_of_date = ?"


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return fx.build_warehouse(tmp_path / "warehouse" / "openar.duckdb")


@pytest.fixture
def published(tmp_path: Path) -> Path:
    return tmp_path / "published" / "openar_marts.duckdb"


def _tables(path: Path) -> set[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables"
        ).fetchall()
        return {r[0] for r in rows}
    finally:
        con.close()


def test_publishes_mart_schemas_and_raw_logs_exactly(warehouse: Path, published: Path):
    result = publish_marts(warehouse, published)

    assert result["tables"] == {
        "marts.dim_collectors": 2,
        "marts.dim_customers": 4,
        "marts.fct_ar_open_items": 14,
        "marts.rpt_ar_aging": 5,
        "marts.rpt_ar_kpis": 90,
        "raw.load_log": 1,
        "raw.quarantine": 0,
    }
    # Staging and the raw extract tables stay in the warehouse; the metadata row is added.
    assert _tables(published) == set(result["tables"]) | {"openar_meta.publish_info"}
    con = duckdb.connect(str(published), read_only=True)
    total, column_type = con.execute(
        "select sum(total_open_functional), any_value(typeof(total_open_functional)) "
        "from marts.rpt_ar_aging where as_of_date = ?",
        [fx.AS_OF],
    ).fetchone()
    source, tables = con.execute("select warehouse, tables from openar_meta.publish_info").fetchone()
    con.close()
    assert total == Decimal("1234567.89")
    assert column_type == "DECIMAL(18,2)"
    assert source == str(warehouse)
    assert "marts.rpt_ar_aging" in tables
    # Nothing but the published file is left in its folder (no temp file, no WAL).
    assert os.listdir(published.parent) == [published.name]
    assert result["bytes"] == published.stat().st_size


def test_views_are_materialized_and_schemas_or_tables_can_be_chosen(warehouse: Path, published: Path):
    con = duckdb.connect(str(warehouse))
    con.execute(
        "create view marts.rpt_open_by_collector as select collector_id, sum(total_open_functional) as open "
        "from marts.rpt_ar_aging group by 1"
    )
    con.close()

    publish_marts(warehouse, published)
    reader = duckdb.connect(str(published), read_only=True)
    kind = reader.execute(
        "select table_type from information_schema.tables where table_name = 'rpt_open_by_collector'"
    ).fetchone()[0]
    # A view copied as a view would point at tables the published file does not have.
    rows = reader.execute("select * from marts.rpt_open_by_collector order by 1").fetchall()
    reader.close()
    assert kind == "BASE TABLE"
    assert rows == [("COL1", Decimal("245399.99")), ("COL2", Decimal("990167.89"))]

    publish_marts(warehouse, published, tables=["marts.dim_collectors"])
    assert _tables(published) == {"marts.dim_collectors", "openar_meta.publish_info"}

    publish_marts(warehouse, published, schemas=["staging"], extra_tables=())
    assert _tables(published) == {"staging.stg_scratch", "openar_meta.publish_info"}


def test_publishes_through_the_pipelines_open_write_connection(warehouse: Path, published: Path):
    writer = duckdb.connect(str(warehouse))
    writer.execute("insert into marts.dim_collectors values ('COL3', 'Cleo Diaz')")

    assert publish_marts(writer, published)["tables"]["marts.dim_collectors"] == 3
    # Given the path while this process holds the file read-write, it reuses that database.
    assert publish_marts(warehouse, published)["tables"]["marts.dim_collectors"] == 3
    # The caller's connection is left open and usable, without the publish target attached.
    assert writer.execute("select count(*) from marts.dim_collectors").fetchone()[0] == 3
    assert [r[0] for r in writer.execute("select database_name from duckdb_databases()").fetchall()
            if not r[0].startswith(("system", "temp"))] == ["openar"]  # fmt: skip
    writer.close()


def test_publishing_from_outside_a_writing_process_fails_clearly(warehouse: Path, published: Path, tmp_path):
    publish_marts(warehouse, published)
    before = published.stat().st_ino
    ready, stop = tmp_path / "ready", tmp_path / "stop"
    holder = subprocess.Popen(
        [sys.executable, str(FIXTURE_SCRIPT), "hold", str(warehouse), str(ready), str(stop), "20"]
    )
    try:
        deadline = time.monotonic() + 15
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ready.exists(), "the lock-holding process did not start"
        with pytest.raises(PublishError, match="another process holds it read-write"):
            publish_marts(warehouse, published)
    finally:
        stop.touch()
        holder.wait(timeout=15)
    assert published.stat().st_ino == before
    assert os.listdir(published.parent) == [published.name]


def test_a_reader_of_the_old_file_keeps_reading_it_after_a_republish(warehouse: Path, published: Path):
    publish_marts(warehouse, published)
    old_reader = _open_read_only(str(published))
    old_inode = published.stat().st_ino

    writer = duckdb.connect(str(warehouse))
    fx.set_item_amount(writer, "INV-4001", "750000.00")
    publish_marts(writer, published)
    writer.close()

    assert published.stat().st_ino != old_inode
    # The replaced file's inode lives on for the reader that holds it: same numbers, every table.
    assert old_reader.execute(TOTAL_SQL, [fx.AS_OF]).fetchone()[0] == Decimal("1234567.89")
    assert old_reader.execute("select count(*) from published.marts.rpt_ar_kpis").fetchone()[0] == 90
    new_reader = _open_read_only(str(published))
    assert new_reader.execute(TOTAL_SQL, [fx.AS_OF]).fetchone()[0] == Decimal("1234444.44")
    old_reader.close()
    new_reader.close()


def test_a_failed_publish_leaves_the_old_file_and_no_temporary_files(warehouse: Path, published: Path):
    publish_marts(warehouse, published)
    before = (published.stat().st_ino, published.stat().st_mtime_ns)
    con = duckdb.connect(str(warehouse))
    # Sorted after the good tables, so it fails halfway through filling the new file.
    con.execute("create view marts.zz_broken as select error('upstream model is broken') as x")
    con.close()

    with pytest.raises(duckdb.Error, match="upstream model is broken"):
        publish_marts(warehouse, published)
    with pytest.raises(PublishError, match=r"not in the warehouse: marts\.nope"):
        publish_marts(warehouse, published, tables=["marts.dim_customers", "marts.nope"])

    assert (published.stat().st_ino, published.stat().st_mtime_ns) == before
    assert os.listdir(published.parent) == [published.name]
    reader = _open_read_only(str(published))
    assert reader.execute(TOTAL_SQL, [fx.AS_OF]).fetchone()[0] == Decimal("1234567.89")
    reader.close()


def test_missing_or_empty_warehouse_is_a_clear_error(tmp_path: Path, published: Path):
    with pytest.raises(PublishError, match="no warehouse at .*run the pipeline first"):
        publish_marts(tmp_path / "nowhere.duckdb", published)
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    with pytest.raises(PublishError, match="nothing to publish"):
        publish_marts(empty, published)
    assert not published.exists()
