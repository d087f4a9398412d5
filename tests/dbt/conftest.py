"""Fixtures of the dbt tests: warehouses built by a real ``dbt build``, once per session.

Each warehouse is a DuckDB file in its own temp folder with its own dbt target/ and logs/, so the
tests never touch the developer's ``data/`` or ``dbt_project/target``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from ingestion.ddl import create_raw_tables
from tests.dbt import handmade_world
from tests.dbt.helpers import dbt_failure_message, load_landing_csvs, run_dbt


@dataclass(frozen=True)
class BuiltWarehouse:
    path: Path
    work_dir: Path

    @property
    def env(self) -> dict[str, str]:
        return {"OPENAR_DUCKDB_PATH": str(self.path), "OPENAR_DBT_TARGET": "duckdb"}

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        con = duckdb.connect(str(self.path), read_only=True)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()


def _build(work_dir: Path, fill, dbt_args: list[str], env: dict[str, str] | None = None) -> BuiltWarehouse:
    work_dir.mkdir(parents=True, exist_ok=True)
    path = work_dir / "openar.duckdb"
    con = duckdb.connect(str(path))
    try:
        create_raw_tables(con)
        fill(con)
    finally:
        con.close()
    built = BuiltWarehouse(path, work_dir)
    result = run_dbt(["build", *dbt_args], {**built.env, **(env or {})}, work_dir)
    if result.returncode != 0:
        pytest.fail(f"dbt build failed on DuckDB:\n{dbt_failure_message(result)}")
    return built


@pytest.fixture(scope="session")
def handmade_warehouse(tmp_path_factory) -> BuiltWarehouse:
    """The hand-made world loaded today, built with the default as-of (its last extract date)."""
    return _build(tmp_path_factory.mktemp("dbt_handmade"), handmade_world.load, [])


@pytest.fixture(scope="session")
def handmade_warehouse_earlier(tmp_path_factory) -> BuiltWarehouse:
    """The same world loaded 30 days ago (stale for freshness), built as of 2026-02-28: the date
    given as the daily run gives it, in ``OPENAR_AS_OF_DATE`` (the ``as_of_date`` var, which a
    person running dbt by hand would use, is tested in test_project_files.py)."""
    return _build(
        tmp_path_factory.mktemp("dbt_handmade_earlier"),
        lambda con: handmade_world.load(con, loaded_on=dt.date.today() - dt.timedelta(days=30)),
        [],
        env={"OPENAR_AS_OF_DATE": handmade_world.EARLIER_AS_OF.isoformat()},
    )


@pytest.fixture(scope="session")
def simulated_warehouse(small_world_dir, tmp_path_factory) -> BuiltWarehouse:
    """The session's small simulated world (tests/conftest.py), its CSVs loaded and built."""
    return _build(
        tmp_path_factory.mktemp("dbt_simulated"),
        lambda con: load_landing_csvs(con, small_world_dir / "landing" / "erp"),
        [],
    )


@pytest.fixture(scope="session")
def postgres_server():
    """A throwaway PostgreSQL 15 (tests/postgres_server.py), stopped and deleted at teardown."""
    from tests.postgres_server import DEFAULT_BIN_DIR, PostgresServer, postgres_bin_dir

    if postgres_bin_dir() is None:
        pytest.skip(
            f"PostgreSQL binaries not found in {DEFAULT_BIN_DIR} (install postgresql-15 or set "
            "OPENAR_PG_BIN): the portability test needs a real server"
        )
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()
