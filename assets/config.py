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
