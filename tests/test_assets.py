"""Assets invoked with test resources, the Definitions load, and the pure helpers behind them."""

from __future__ import annotations

import os
import shutil
from functools import cached_property
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster_duckdb import DuckDBResource

from assets.config import as_of_run_config
from assets.erp import raw_erp_extracts
from assets.ledger import AS_OF_ENV, as_of_environment, share_parse_cache
from orchestration.resources import OpenARSettings
from orchestration.sensors import landing_fingerprint
from tests.conftest import settings_for
from tests.ingestion.test_erp_loader import INVOICES_HEADER, write


def _materialize_erp(data_dir: Path) -> dg.ExecuteInProcessResult:
    settings = settings_for(data_dir)
    settings.ensure_dirs()
    return dg.materialize(
        [raw_erp_extracts],
        resources={
            "openar": OpenARSettings(data_dir=str(data_dir)),
            "duckdb": DuckDBResource(database=str(settings.warehouse_path)),
        },
        raise_on_error=False,
    )


def _checks(result) -> dict[tuple[str, str], dg.AssetCheckEvaluation]:
    return {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}


def test_malformed_rows_fail_the_warning_check_and_the_rest_loads(small_world_dir: Path, tmp_path: Path):
    data_dir = tmp_path / "data"
    shutil.copytree(small_world_dir / "landing", data_dir / "landing")
    customer = (
        next((data_dir / "landing/erp/customers").glob("*.csv")).read_text().splitlines()[1].split(",")[0]
    )
    write(
        data_dir / "landing",
        "invoices",
        "2026-11-21",
        [
            INVOICES_HEADER,
            f"BAD-DATE,{customer},2026-13-01,2026-12-21,USD,10.00,NET30,0,,",
            f"BAD-AMOUNT,{customer},2026-11-21,2026-12-21,USD,ten,NET30,0,,",
            "BAD-CUSTOMER,NOBODY,2026-11-21,2026-12-21,USD,10.00,NET30,0,,",
        ],
    )
    result = _materialize_erp(data_dir)
    assert result.success
    checks = _checks(result)
    rows_valid = checks[("raw/erp_invoices", "rows_valid")]
    assert not rows_valid.passed and rows_valid.severity == dg.AssetCheckSeverity.WARN
    assert "invoices_2026-11-21.csv row 3: customer_id 'NOBODY' is unknown" in rows_valid.description
    assert "row 1: column invoice_date value '2026-13-01' is not a date" in rows_valid.description
    assert "row 2: column amount value 'ten' is not an amount" in rows_valid.description
    # three bad rows among a year of invoices: within tolerance, the ledger may go on
    assert checks[("raw/erp_invoices", "quarantine_within_tolerance")].passed
    assert checks[("raw/erp_customers", "rows_valid")].passed
    con = duckdb.connect(str(settings_for(data_dir).warehouse_path), read_only=True)
    assert con.execute("select count(*) from raw.quarantine").fetchone()[0] == 3
    assert (
        con.execute("select count(*) from raw.erp_invoices where invoice_id like 'BAD-%'").fetchone()[0] == 0
    )
    assert con.execute("select count(*) from raw.erp_invoices").fetchone()[0] > 100
    con.close()


def test_a_broken_export_fails_the_blocking_check(tmp_path: Path):
    data_dir = tmp_path / "data"
    write(data_dir / "landing", "invoices", "2026-11-21", ["this is not, the invoice header", "1,2"])
    result = _materialize_erp(data_dir)
    check = _checks(result)[("raw/erp_invoices", "quarantine_within_tolerance")]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert "missing column(s) invoice_id" in check.description


def test_the_as_of_date_reaches_dbt_through_its_environment_and_is_put_back(monkeypatch):
    monkeypatch.setenv(AS_OF_ENV, "2020-01-01")
    with as_of_environment("2026-03-31"):
        assert os.environ[AS_OF_ENV] == "2026-03-31"
    assert os.environ[AS_OF_ENV] == "2020-01-01"
    with as_of_environment(None):  # no as-of day: dbt takes the latest extract date, not a stale one
        assert AS_OF_ENV not in os.environ
    assert os.environ[AS_OF_ENV] == "2020-01-01"
    monkeypatch.delenv(AS_OF_ENV)
    with pytest.raises(RuntimeError), as_of_environment("2026-03-31"):
        raise RuntimeError("dbt failed")
    assert AS_OF_ENV not in os.environ


def test_definitions_load_with_every_asset_job_schedule_and_sensor(isolated_env):
    from orchestration.definitions import DAILY_JOB, build_definitions
    from orchestration.resources import ensure_dbt_manifest
    from orchestration.settings import load_settings

    ensure_dbt_manifest(load_settings())
    defs = build_definitions()
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"raw/erp_invoices", "marts/rpt_ar_aging", "published/openar_marts"} <= keys
    assert defs.resolve_job_def(DAILY_JOB).name == DAILY_JOB
    # every as-of step of the daily job (each dbt stage and the Python assets between them) gets the day
    as_of_ops = as_of_run_config(defs.resolve_job_def(DAILY_JOB), "2026-03-31")
    assert as_of_ops["openar_dbt_models"] == {"config": {"as_of_date": "2026-03-31"}}
    assert [s.name for s in defs.schedules] and sorted(s.name for s in defs.sensors) == [
        "bank_landing_sensor",
        "erp_landing_sensor",
        "remittance_landing_sensor",
    ]


def test_backfill_job_gives_each_partition_day_to_every_as_of_step(isolated_env):
    from orchestration.definitions import BACKFILL_JOB, DAILY_JOB, WAREHOUSE_WRITER_TAG, build_definitions
    from orchestration.resources import ensure_dbt_manifest
    from orchestration.settings import load_settings

    ensure_dbt_manifest(load_settings())
    defs = build_definitions()
    backfill = defs.resolve_job_def(BACKFILL_JOB)
    run_config = backfill.partitioned_config.get_run_config_for_partition_key("2026-10-15")
    assert run_config["ops"] == as_of_run_config(backfill, "2026-10-15")
    assert run_config["ops"]["openar_dbt_models"] == {"config": {"as_of_date": "2026-10-15"}}
    assert backfill.partitions_def.get_first_partition_key() == "2024-01-01"
    # both jobs write the warehouse: the instance's run queue lets one such run go at a time
    assert backfill.tags.items() >= WAREHOUSE_WRITER_TAG.items()
    assert defs.resolve_job_def(DAILY_JOB).tags.items() >= WAREHOUSE_WRITER_TAG.items()
    load_settings().ensure_dirs()
    dagster_yaml = (load_settings().dagster_home / "dagster.yaml").read_text()
    assert "QueuedRunCoordinator" in dagster_yaml and "openar/warehouse" in dagster_yaml


def test_dbt_stages_split_the_project_by_tag():
    from assets.ledger import DBT_STAGES, _stage_selection

    select, exclude = _stage_selection(None)
    assert select == "fqn:*" and exclude is not None and all(f"tag:{t}" in exclude for t in DBT_STAGES)
    assert _stage_selection("predicted") == ("tag:predicted", None)


def test_landing_fingerprint_changes_when_a_file_arrives(tmp_path: Path):
    before = landing_fingerprint(tmp_path)
    (tmp_path / "erp").mkdir()
    (tmp_path / "erp" / "x.csv").write_text("a")
    assert landing_fingerprint(tmp_path) != before


def test_share_parse_cache_replaces_the_projects_cache(tmp_path: Path):
    invocation, project = tmp_path / "target" / "openar_dbt_models-abc", tmp_path / "target"
    assert share_parse_cache(invocation, project) is False  # the stage wrote none: nothing handed on
    invocation.mkdir(parents=True)
    (project / "partial_parse.msgpack").write_bytes(b"old")
    (invocation / "partial_parse.msgpack").write_bytes(b"new")
    assert share_parse_cache(invocation, project) is True
    assert (project / "partial_parse.msgpack").read_bytes() == b"new"
    assert [p.name for p in project.iterdir() if p.is_file()] == ["partial_parse.msgpack"]  # no temp left


def test_the_dbt_resource_starts_neither_dbt_nor_its_adapter_before_a_build(monkeypatch):
    """dagster-dbt ran ``dbt --version`` (a whole dbt start, ~4 s) per resource and loaded dbt's
    adapter before every build (~1.2 s); ours reads the installed package and loads none. If
    dagster-dbt renames either, this fails instead of the costs silently coming back."""
    from importlib.metadata import version

    import dagster_dbt.core.resource as dbt_resource_module
    from dagster_dbt import DbtCliResource

    from orchestration.resources import OpenARDbtCliResource, dbt_executable

    assert isinstance(DbtCliResource.__dict__.get("_cli_version"), cached_property)

    def no_process(*args, **kwargs):
        raise AssertionError(f"started a process: {args}")

    monkeypatch.setattr(dbt_resource_module, "check_output", no_process)  # what dagster-dbt calls
    resource = OpenARDbtCliResource(
        project_dir=str(Path("dbt_project").resolve()), dbt_executable=dbt_executable()
    )
    assert str(resource._cli_version) == version("dbt-core")
    assert callable(DbtCliResource.__dict__.get("_initialize_dbt_core_adapter"))
    assert resource._initialize_dbt_core_adapter(["build"]) is None
