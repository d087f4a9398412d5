"""The dbt ledger: staging → intermediate → marts, built by dbt inside Dagster; dbt tests become asset checks."""

import json
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)


class LedgerConfig(dg.Config):
    """Run config of the dbt build."""

    as_of_date: str | None = (
        None  # YYYY-MM-DD: rebuild the ledger as of a past day; default the latest extract
    )


def dbt_build_args(as_of_date: str | None) -> list[str]:
    """The dbt command for a run (a pure function, tested on its own)."""
    args = ["build"]
    if as_of_date:
        args += ["--vars", json.dumps({"as_of_date": as_of_date})]
    return args


class OpenARDbtTranslator(DagsterDbtTranslator):
    """dbt sources are the raw tables the ERP assets write; models are grouped by layer."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "source":
            return "ingestion"
        return "ledger"


def build_ledger_assets(project: DbtProject) -> dg.AssetsDefinition:
    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        dagster_dbt_translator=OpenARDbtTranslator(
            settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)
        ),
    )
    def openar_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, config: LedgerConfig):
        """Every dbt model of the ledger, with its tests as asset checks."""
        yield from dbt.cli(dbt_build_args(config.as_of_date), context=context).stream()

    return openar_dbt_models
