"""Run config shared by every asset that computes "as of" a day (dbt stages, cash application, scoring)."""

import dagster as dg


class AsOfConfig(dg.Config):
    """Run config of an asset computed as of a day."""

    as_of_date: str | None = None  # YYYY-MM-DD: compute as of a past day; default the latest extract


def as_of_run_config(job: dg.JobDefinition, as_of_date: str) -> dict:
    """The ``ops`` run config that gives every as-of step of ``job`` the same day."""
    ops = {}
    for node_def in job.graph.node_defs:
        schema = node_def.config_schema
        fields = getattr(schema.config_type, "fields", {}) if schema is not None else {}
        if "as_of_date" in fields:
            ops[node_def.name] = {"config": {"as_of_date": as_of_date}}
    return ops


def as_of_node_names(assets_defs) -> list[str]:
    """Names of the ops among ``assets_defs`` that take an as-of day in their config."""
    names = []
    for assets_def in assets_defs:
        node_def = getattr(assets_def, "node_def", None)
        schema = getattr(node_def, "config_schema", None)
        fields = getattr(getattr(schema, "config_type", None), "fields", {}) if schema is not None else {}
        if "as_of_date" in fields:
            names.append(node_def.name)
    return names


def daily_as_of_partitions(assets_defs, start_date: str) -> dg.PartitionedConfig:
    """Daily partitions whose key is the as-of day of every as-of step: a backfill of a past month
    recomputes each day as it was known then (predictions, worklists, forecasts keep one set of rows
    per as-of day, so the forecast-vs-actual history fills in)."""
    names = as_of_node_names(assets_defs)

    @dg.daily_partitioned_config(start_date=start_date, timezone="UTC")
    def as_of_partitions(start, _end):
        return {"ops": {name: {"config": {"as_of_date": start.date().isoformat()}} for name in names}}

    return as_of_partitions
