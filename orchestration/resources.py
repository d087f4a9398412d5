"""Resources and the dbt project, defined once for the code location, the CLI and the tests."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from dagster_dbt import DbtCliResource, DbtProject
from dagster_duckdb import DuckDBResource
from packaging.version import Version

from orchestration.settings import DBT_PROJECT_DIR, Settings, load_settings


class OpenARSettings(dg.ConfigurableResource):
    """Gives assets the folder layout of one openar installation (see orchestration/settings.py)."""

    data_dir: str
    dbt_target: str = "duckdb"

    def get(self) -> Settings:
        return replace(load_settings(), data_dir=Path(self.data_dir), dbt_target=self.dbt_target)


class WarehouseResource(DuckDBResource):
    """DuckDB's warehouse, closed on every way out of the block.

    dagster-duckdb's ``get_connection`` closes only when the block ends normally. When an asset
    raises, the open connection stays referenced from the stored exception and keeps the file's
    lock, so the next dbt (a separate process) of an in-process run (the CLI, the bench, the tests)
    fails with "Could not set lock on file" instead of the run reporting the one real failure.
    """

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with super().get_connection() as con:
            try:
                yield con
            finally:
                con.close()


class OpenARDbtCliResource(DbtCliResource):
    """dagster-dbt's dbt resource without two fixed costs of every dbt step (the daily run has four):

    - the version: dagster-dbt starts ``dbt --version`` once per resource instance (3.9 s here; per
      run in process, per dbt step under the multiprocess executor). The dbt beside this Python is
      the dbt-core installed with it, whose version the package metadata gives for free; any other
      executable is still asked;
    - the adapter: dagster-dbt loads dbt's profile and project into this process before every
      invocation (1.1-1.3 s each, 2.6 s the first with dbt's imports), only to serve
      ``fetch_row_counts()`` and ``fetch_column_metadata()``, which the ledger's assets never call.
      Without it the invocation is dagster-dbt's adapter-less one (as under the Fusion engine).
    """

    @cached_property
    def _cli_version(self) -> Version:
        if Path(self.dbt_executable) == Path(sys.executable).with_name("dbt"):
            return Version(importlib.metadata.version("dbt-core"))
        return super()._cli_version

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> Any:
        return None


def dbt_executable() -> str:
    """dagster-dbt needs the dbt of this environment, which is not on PATH unless the venv is active."""
    beside_python = Path(sys.executable).with_name("dbt")
    return str(beside_python) if beside_python.exists() else (shutil.which("dbt") or "dbt")


def dbt_project(settings: Settings) -> DbtProject:
    return DbtProject(
        project_dir=DBT_PROJECT_DIR, profiles_dir=settings.dbt_profiles_dir, target=settings.dbt_target
    )


def ensure_dbt_manifest(settings: Settings) -> Path:
    """Parse the dbt project when its manifest is missing or older than a file of the project.

    The code location needs the manifest to build the dbt assets; we parse here (called by the CLI,
    the Makefile and tests), never at import time.
    """
    if not (DBT_PROJECT_DIR / "dbt_project.yml").exists():
        raise FileNotFoundError(f"no dbt project at {DBT_PROJECT_DIR}")
    project = dbt_project(settings)
    manifest = project.manifest_path
    sources = [
        p
        for pattern in ("*.yml", "*.sql", "*.md")
        for p in DBT_PROJECT_DIR.rglob(pattern)
        if "target" not in p.parts and "logs" not in p.parts
    ]
    newest = max((p.stat().st_mtime for p in sources), default=0)
    if not manifest.exists() or manifest.stat().st_mtime < newest:
        os.environ.update(settings.dbt_env())
        OpenARDbtCliResource(project_dir=project, dbt_executable=dbt_executable()).cli(
            ["parse", "--quiet"], target_path=project.target_path, raise_on_error=True
        ).wait()
    return manifest


def build_resources(settings: Settings) -> dict:
    # dbt reads its paths from the environment (profiles.yml); set them for this installation.
    os.environ.update(settings.dbt_env())
    return {
        "openar": OpenARSettings(data_dir=str(settings.data_dir), dbt_target=settings.dbt_target),
        "duckdb": WarehouseResource(database=str(settings.warehouse_path)),
        "dbt": OpenARDbtCliResource(
            project_dir=dbt_project(settings), dbt_executable=dbt_executable(), target=settings.dbt_target
        ),
    }
