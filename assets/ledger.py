"""The dbt ledger: staging → intermediate → marts, built by dbt inside Dagster; dbt tests become asset checks."""

import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from assets.config import AsOfConfig
from orchestration.settings import DBT_AS_OF_ENV as AS_OF_ENV

LedgerConfig = AsOfConfig  # the dbt build is as of a day like every other as-of step


@contextmanager
def as_of_environment(as_of_date: str | None) -> Iterator[None]:
    """``OPENAR_AS_OF_DATE`` set to the run's as-of date (removed without one) while dbt starts,
    and put back as it was: dagster-dbt hands dbt a copy of this process's environment."""
    before = os.environ.get(AS_OF_ENV)
    if as_of_date:
        os.environ[AS_OF_ENV] = as_of_date
    else:
        os.environ.pop(AS_OF_ENV, None)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(AS_OF_ENV, None)
        else:
            os.environ[AS_OF_ENV] = before


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


# dbt models that read what a Python asset wrote (cash applications, predictions, worklists) carry the
# tag of that stage, so they build after it. Each stage is its own dbt multi-asset: one dbt project,
# several `dbt build --select` runs in graph order, and no cycle between dbt and the Python assets
# that sit in the middle of the warehouse (ledger → cash application → ledger after cash → ...).
DBT_STAGES: tuple[str, ...] = ("cash_applied", "predicted", "collections")


def _stage_selection(stage: str | None) -> tuple[str, str | None]:
    """(select, exclude) of one stage; ``None`` is the base ledger: every model without a stage tag."""
    if stage is None:
        return "fqn:*", " ".join(f"tag:{tag}" for tag in DBT_STAGES)
    return f"tag:{stage}", None


def build_ledger_assets(project: DbtProject) -> list[dg.AssetsDefinition]:
    """One dbt multi-asset for the base ledger and one per stage that has models in the manifest."""
    manifest = json.loads(project.manifest_path.read_text(encoding="utf-8"))
    tags_in_use = {tag for node in manifest["nodes"].values() for tag in node.get("tags", [])}
    stages: list[str | None] = [None] + [stage for stage in DBT_STAGES if stage in tags_in_use]
    return [_dbt_stage_assets(project, stage) for stage in stages]


def _dbt_stage_assets(project: DbtProject, stage: str | None) -> dg.AssetsDefinition:
    select, exclude = _stage_selection(stage)
    name = "openar_dbt_models" if stage is None else f"openar_dbt_{stage}_models"

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        select=select,
        exclude=exclude,
        name=name,
        dagster_dbt_translator=OpenARDbtTranslator(
            settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)
        ),
    )
    def dbt_stage(context: dg.AssetExecutionContext, dbt: DbtCliResource, config: LedgerConfig):
        """The dbt models of one stage, with their tests as asset checks."""
        with as_of_environment(config.as_of_date):
            # the as-of date in the environment, not --vars: see macros/dates.sql
            invocation = dbt.cli(["build"], context=context)
            yield from invocation.stream()
        share_parse_cache(invocation.target_path, project.project_dir / project.target_path)

    return dbt_stage


PARTIAL_PARSE_FILE = "partial_parse.msgpack"


def share_parse_cache(invocation_target: Path, project_target: Path) -> bool:
    """Hand this invocation's parse cache to the next dbt stage.

    dagster-dbt gives each invocation its own target folder and seeds it with the project folder's
    ``partial_parse.msgpack``. That file is written by ``dbt parse`` without the run's ``--vars`` (and,
    for a bench world, with another profile), so dbt threw it away and parsed the whole project again
    in every stage (3.7 s of ~15 s at 1M invoices, five stages a run). Putting back the cache the first
    stage wrote lets the later stages, which have the same vars and profile, parse only what changed.
    dbt still checks vars, profile and files itself, so a stale cache costs a full parse, never a wrong
    build. Replaced atomically: another process may be copying it at the same moment.
    """
    source = Path(invocation_target) / PARTIAL_PARSE_FILE
    if not source.exists():
        return False
    project_target.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=project_target, prefix=".partial_parse.", suffix=".tmp")
    os.close(fd)
    try:
        shutil.copyfile(source, tmp)
        os.replace(tmp, project_target / PARTIAL_PARSE_FILE)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return True
