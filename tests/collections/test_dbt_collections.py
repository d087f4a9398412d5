"""The dbt sources of schema collections list exactly the columns and types the assets write."""

from __future__ import annotations

from pathlib import Path

import yaml

from ml.collections.warehouse import FORECAST_TYPES, WORKLIST_TYPES

SOURCES = (
    Path(__file__).resolve().parents[2] / "dbt_project/models/staging/collections/_collections__sources.yml"
)


def test_sources_match_the_written_tables():
    doc = yaml.safe_load(SOURCES.read_text(encoding="utf-8"))
    (source,) = doc["sources"]
    assert source["schema"] == "collections"
    declared = {t["name"]: {c["name"]: c["data_type"] for c in t["columns"]} for t in source["tables"]}
    assert declared == {"collector_worklist": WORKLIST_TYPES, **FORECAST_TYPES}
    assert all(c.get("description") for t in source["tables"] for c in t["columns"])
