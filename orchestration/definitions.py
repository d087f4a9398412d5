"""The openar code location: the one place that builds the Dagster ``Definitions``."""

from __future__ import annotations

import dagster as dg

from assets.bank import raw_bank_and_remittance
from assets.erp import raw_erp_extracts
from assets.ledger import build_ledger_assets
from assets.publishing import build_publishing_asset
from orchestration.resources import build_resources, dbt_project
from orchestration.sensors import build_landing_sensor
from orchestration.settings import Settings, apply_process_env, load_settings

DAILY_JOB = "daily_ar_job"


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    settings = settings or load_settings()
    apply_process_env(settings)
    project = dbt_project(settings)
    project.prepare_if_dev()  # `dagster dev` re-parses dbt; elsewhere the CLI/Makefile prepared the manifest
    dbt_stages = build_ledger_assets(project)
    marts = [
        key for stage in dbt_stages for key in stage.keys if key.path[-1].startswith(("fct_", "dim_", "rpt_"))
    ]
    published = build_publishing_asset(marts)

    # In-process: DuckDB allows one writer, and steps that each open the warehouse must not overlap.
    daily_job = dg.define_asset_job(
        DAILY_JOB,
        selection=dg.AssetSelection.all(),
        executor_def=dg.in_process_executor,
        description="Load new extracts, build the ledger, publish the marts.",
    )
    daily = dg.ScheduleDefinition(
        job=daily_job,
        cron_schedule="0 6 * * *",
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.STOPPED,
    )
    return dg.Definitions(
        assets=[raw_erp_extracts, raw_bank_and_remittance, *dbt_stages, published],
        jobs=[daily_job],
        schedules=[daily],
        sensors=[
            build_landing_sensor(daily_job, settings.landing_dir / folder, folder)
            for folder in ("erp", "bank", "remittance")
        ],
        resources=build_resources(settings),
    )


@dg.definitions
def defs() -> dg.Definitions:
    """Loaded by `dagster dev -w workspace.yaml`; settings come from the environment at load time."""
    return build_definitions()
