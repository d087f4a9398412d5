"""published/openar_marts: the marts copied to a read-only file for the app and BI tools."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from orchestration.publishing import publish_marts
from orchestration.resources import OpenARSettings


def build_publishing_asset(upstream: list[dg.AssetKey]) -> dg.AssetsDefinition:
    @dg.asset(key=["published", "openar_marts"], deps=upstream, group_name="publishing", kinds={"duckdb"})
    def published_marts(openar: OpenARSettings, duckdb: DuckDBResource) -> dg.MaterializeResult:
        """Copy of every mart in a separate DuckDB file, swapped in atomically, so readers never wait on a run."""
        settings = openar.get()
        with duckdb.get_connection() as con:
            summary = publish_marts(con, settings.published_path)
        return dg.MaterializeResult(
            metadata={
                "path": str(settings.published_path),
                **{k: v for k, v in summary.items() if isinstance(v, (int, str))},
            }
        )

    return published_marts
