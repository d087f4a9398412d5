"""A warehouse with the small world's ERP extracts and bank files, built by dbt's base stage: what the
cash-application asset reads. Built once per session (about a minute), copied per test that writes."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from ingestion.bank_loader import ingest_files
from ingestion.ddl import create_raw_tables
from tests.dbt.helpers import dbt_failure_message, load_landing_csvs, run_dbt

STAGES = ("cash_applied", "predicted", "collections")


@dataclass(frozen=True)
class Warehouse:
    data_dir: Path
    work_dir: Path

    @property
    def path(self) -> Path:
        return self.data_dir / "warehouse" / "openar.duckdb"

    @property
    def env(self) -> dict[str, str]:
        return {
            "OPENAR_DUCKDB_PATH": str(self.path),
            "OPENAR_DBT_TARGET": "duckdb",
            "OPENAR_DATA_DIR": str(self.data_dir),
        }

    def dbt(self, *args: str) -> None:
        result = run_dbt(list(args), self.env, self.work_dir)
        assert result.returncode == 0, dbt_failure_message(result)

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        con = duckdb.connect(str(self.path), read_only=True)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()


def build_base(small_world_dir: Path, root: Path) -> Warehouse:
    data_dir = root / "data"
    shutil.copytree(small_world_dir / "landing", data_dir / "landing")
    wh = Warehouse(data_dir, root / "dbt")
    wh.work_dir.mkdir(parents=True)
    wh.path.parent.mkdir(parents=True)
    con = duckdb.connect(str(wh.path))
    try:
        create_raw_tables(con)
        load_landing_csvs(con, data_dir / "landing" / "erp")
        ingest_files(
            con,
            [data_dir / "landing" / "bank", data_dir / "landing" / "remittance"],
            "test",
            root=data_dir / "landing",
        )
    finally:
        con.close()
    wh.dbt("build", "--exclude", *(f"tag:{s}" for s in STAGES))
    return wh


@pytest.fixture(scope="session")
def base_warehouse(small_world_dir, tmp_path_factory) -> Warehouse:
    return build_base(small_world_dir, tmp_path_factory.mktemp("cashapp_base"))


@pytest.fixture
def warehouse(base_warehouse, tmp_path) -> Warehouse:
    """A private copy of the base warehouse (tests write to it)."""
    wh = Warehouse(tmp_path / "data", tmp_path / "dbt")
    wh.work_dir.mkdir()
    wh.path.parent.mkdir(parents=True)
    shutil.copyfile(base_warehouse.path, wh.path)
    return wh
