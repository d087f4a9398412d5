"""The openar code location: the one place that builds the Dagster ``Definitions``."""

from __future__ import annotations

import dagster as dg

from assets.bank import raw_bank_and_remittance
from assets.cashapp import cashapp_reconciliation, cashapp_results
from assets.collections import cash_forecast, collector_worklist
from assets.config import daily_as_of_partitions
from assets.erp import raw_erp_extracts
from assets.ledger import build_ledger_assets
from assets.predictions import payment_model, payment_predictions
from assets.publishing import build_publishing_asset
from assets.triage import message_triage
from orchestration.resources import build_resources, dbt_project
from orchestration.sensors import build_landing_sensor
from orchestration.settings import Settings, apply_process_env, load_settings

DAILY_JOB = "daily_ar_job"
BACKFILL_JOB = "daily_ar_backfill_job"
# Runs that write the DuckDB warehouse carry this tag; the instance's run queue allows one at a time.
WAREHOUSE_WRITER_TAG = {"openar/warehouse": "writer"}


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

    all_assets = [
        raw_erp_extracts,
        raw_bank_and_remittance,
        *dbt_stages,
        cashapp_results,
        cashapp_reconciliation,
        payment_model,
        payment_predictions,
        collector_worklist,
        cash_forecast,
        message_triage,
        published,
    ]

    # In-process: DuckDB allows one writer, and steps that each open the warehouse must not overlap.
    daily_job = dg.define_asset_job(
        DAILY_JOB,
        selection=dg.AssetSelection.all(),
        executor_def=dg.in_process_executor,
        description="Load new extracts, build the ledger, publish the marts.",
        tags=WAREHOUSE_WRITER_TAG,
    )
    # The same graph with the as-of day as a daily partition: backfill a past month (predictions,
    # worklists and forecasts as they would have been known each day). Each partition is its own run;
    # the instance's run queue admits one warehouse writer at a time (settings.DAGSTER_YAML).
    backfill_job = dg.define_asset_job(
        BACKFILL_JOB,
        selection=dg.AssetSelection.all(),
        executor_def=dg.in_process_executor,
        config=daily_as_of_partitions(all_assets, settings.partitions_start.isoformat()),
        description="The daily run as of a past day, one partition per day (backfills).",
        tags=WAREHOUSE_WRITER_TAG,
    )
    daily = dg.ScheduleDefinition(
        job=daily_job,
        cron_schedule="0 6 * * *",
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.STOPPED,
    )
    return dg.Definitions(
        assets=all_assets,
        jobs=[daily_job, backfill_job],
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
