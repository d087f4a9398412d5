"""Static checks of the dbt project: it agrees with the extract contracts and keeps its own rules
(portable SQL, layers, docs). No dbt run needed: these take milliseconds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from ingestion.erp_contracts import EXTRACTS, FUNCTIONAL_CURRENCY, LOAD_METADATA_COLUMNS
from tests.dbt.helpers import DBT_PROJECT_DIR

MODELS = DBT_PROJECT_DIR / "models"
SQL_FILES = sorted(MODELS.rglob("*.sql"))


def _yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def _documented_models() -> dict[str, dict]:
    models = {}
    for path in MODELS.rglob("*.yml"):
        for model in _yaml(path).get("models", []):
            models[model["name"]] = model
    return models


def test_sources_list_exactly_the_contract_columns_with_their_types():
    sources = _yaml(MODELS / "staging" / "erp" / "_erp__sources.yml")["sources"]
    (erp,) = sources
    tables = {t["name"]: t for t in erp["tables"]}
    assert set(tables) == {e.table for e in EXTRACTS.values()}
    for extract in EXTRACTS.values():
        declared = [(c["name"], c["data_type"]) for c in tables[extract.table]["columns"]]
        expected = [(c.name, c.sql_type.replace(" ", "")) for c in extract.columns]
        expected += [(name, sql_type) for name, sql_type, _ in LOAD_METADATA_COLUMNS]
        assert declared == expected, extract.table
    assert erp["config"]["loaded_at_field"] == "_loaded_at"
    assert erp["config"]["freshness"]["error_after"] == {"count": 8, "period": "day"}


def test_one_staging_model_per_source_table_reading_only_its_source():
    staging = sorted(p.stem for p in (MODELS / "staging" / "erp").glob("*.sql"))
    assert staging == sorted(f"stg_erp__{name}" for name in EXTRACTS)
    for name in EXTRACTS:
        sql = (MODELS / "staging" / "erp" / f"stg_erp__{name}.sql").read_text()
        assert re.findall(r"source\('erp', '(\w+)'\)", sql) == [f"erp_{name}"]
        assert "ref(" not in sql


def test_marts_and_intermediate_never_read_sources():
    for path in SQL_FILES:
        if "staging" not in path.parts:
            assert "source(" not in path.read_text(), path.name


@pytest.mark.parametrize("path", SQL_FILES, ids=lambda p: p.name)
def test_sql_is_portable_and_money_is_never_float(path):
    sql = re.sub(r"\{#.*?#\}|--[^\n]*", "", path.read_text(), flags=re.S).lower()
    assert not re.search(r"\bqualify\b", sql), "QUALIFY is not PostgreSQL"
    assert not re.search(r"\b(float|double|real)\b", sql), "money is decimal(18,2), never float"
    assert not re.search(r"\b(raw|staging|intermediate|marts|main)\.\w+", sql), "no hard-coded schema"
    assert "::" not in sql, "cast(... as ...), not PostgreSQL's ::"


def test_sql_is_lowercase():
    for path in SQL_FILES:
        code = re.sub(r"\{#.*?#\}|\{\{.*?\}\}|\{%.*?%\}|--[^\n]*|'[^']*'", "", path.read_text(), flags=re.S)
        assert code == code.lower(), path.name


def test_every_model_is_documented_with_every_column():
    documented = _documented_models()
    assert sorted(documented) == sorted(p.stem for p in SQL_FILES)
    for name, model in documented.items():
        assert model.get("description", "").strip(), name
        assert model.get("columns"), name
        for column in model["columns"]:
            assert column.get("description", "").strip(), f"{name}.{column['name']}"


def test_public_marts_have_enforced_contracts_with_types():
    documented = _documented_models()
    for name in ("fct_ar_open_items", "rpt_ar_aging", "rpt_ar_kpis"):
        model = documented[name]
        assert model["config"]["contract"] == {"enforced": True}
        assert all(c.get("data_type") for c in model["columns"]), name


def test_functional_currency_var_is_the_contracts():
    project = _yaml(DBT_PROJECT_DIR / "dbt_project.yml")
    assert project["vars"]["functional_currency"] == FUNCTIONAL_CURRENCY
    assert project["vars"]["as_of_date"] is None
    assert project["name"] == "openar"
    folders = project["models"]["openar"]
    assert (folders["staging"]["+materialized"], folders["marts"]["+materialized"]) == ("view", "table")


def test_profiles_read_connection_settings_from_the_environment():
    profiles = (DBT_PROJECT_DIR / "profiles.yml").read_text()
    outputs = yaml.safe_load(profiles)["openar"]["outputs"]
    assert set(outputs) == {"duckdb", "postgres", "spark"}
    assert outputs["duckdb"]["path"] == "{{ env_var('OPENAR_DUCKDB_PATH') }}"
    for var in ("OPENAR_PG_HOST", "OPENAR_PG_PORT", "OPENAR_PG_USER", "OPENAR_PG_DATABASE"):
        assert var in profiles
    assert "env_var('OPENAR_DBT_TARGET', 'duckdb')" in yaml.safe_load(profiles)["openar"]["target"]


def test_spark_profile_pins_warehouse_and_metastore_under_the_data_folder():
    """Left relative, Spark's warehouse and Derby metastore land in dbt's working directory and the
    tables vanish when dbt runs from elsewhere (shared/STACK.md); the data folder is absolute
    (orchestration/settings.py resolves it) and has no default here, so a missing variable fails
    loudly instead of falling back to a relative path."""
    spark = yaml.safe_load((DBT_PROJECT_DIR / "profiles.yml").read_text())["openar"]["outputs"]["spark"]
    assert (spark["type"], spark["method"]) == ("spark", "session")
    params = spark["server_side_parameters"]
    data_dir = "{{ env_var('OPENAR_DATA_DIR') }}"
    assert params["spark.sql.warehouse.dir"] == f"{data_dir}/spark/warehouse"
    assert params["javax.jdo.option.ConnectionURL"] == (
        f"jdbc:derby:;databaseName={data_dir}/spark/metastore_db;create=true"
    )
    assert params["spark.driver.extraJavaOptions"] == f"-Dderby.system.home={data_dir}/spark/derby"
    assert 2 <= int(params["spark.sql.shuffle.partitions"]) <= 4
    assert params["spark.sql.session.timeZone"] == "UTC"


def test_contract_types_exist_on_every_engine():
    """dbt checks a contract by casting null to each declared type on the target: `text` is not a
    Spark type, `string` not a PostgreSQL one, so string columns use the per-target anchor."""
    text = (MODELS / "marts" / "ar" / "_ar__models.yml").read_text()
    assert not re.search(r"data_type:\s*(text|string|varchar)\b", text)
    for name in ("fct_ar_open_items", "rpt_ar_aging"):
        types = {c["data_type"] for c in _documented_models()[name]["columns"]}
        assert "{{ 'string' if target.type == 'spark' else 'text' }}" in types


def test_every_relation_name_fits_postgresql_identifiers():
    # PostgreSQL cuts identifiers at 63 bytes and dbt refuses longer relation names there; unit tests
    # run as relations named after the test, so their names count too.
    names = [p.stem for p in SQL_FILES]
    for path in MODELS.rglob("*.yml"):
        names += [t["name"] for t in _yaml(path).get("unit_tests", []) or []]
    too_long = [n for n in names if len(n.encode()) > 63]
    assert names and too_long == []
