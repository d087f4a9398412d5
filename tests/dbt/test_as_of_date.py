"""How the as-of date reaches the dbt project: the daily run's environment variable, a person's var."""

from __future__ import annotations

from pathlib import Path

from tests.dbt.helpers import dbt_failure_message, run_dbt

COMPILED = Path("target/compiled/openar/models/intermediate/ar/int_ar_as_of_date.sql")


def _compile(warehouse, work_dir: Path, env: dict[str, str], args: tuple[str, ...] = ()) -> tuple[str, str]:
    """(compiled SQL of int_ar_as_of_date, dbt.log of this invocation)."""
    log = work_dir / "logs" / "dbt.log"
    log.unlink(missing_ok=True)
    result = run_dbt(["compile", "--select", "int_ar_as_of_date", *args], {**warehouse.env, **env}, work_dir)
    assert result.returncode == 0, dbt_failure_message(result)
    return (work_dir / COMPILED).read_text(encoding="utf-8"), log.read_text(encoding="utf-8")


def test_a_new_as_of_date_each_day_costs_no_full_parse(handmade_warehouse, tmp_path):
    """The date changes every run; as a var it is part of the state dbt checks before partial
    parsing and made every run's first build parse the whole project again."""
    sql, _ = _compile(handmade_warehouse, tmp_path, {"OPENAR_AS_OF_DATE": "2026-01-30"})
    assert "cast('2026-01-30' as date) as as_of_date" in sql

    sql, log = _compile(handmade_warehouse, tmp_path, {"OPENAR_AS_OF_DATE": "2026-01-31"})
    assert "cast('2026-01-31' as date) as as_of_date" in sql
    assert "Unable to do partial parsing" not in log
    assert "Partial parsing enabled" in log


def test_the_var_wins_over_the_environment_and_neither_means_the_latest_extract(handmade_warehouse, tmp_path):
    sql, _ = _compile(
        handmade_warehouse,
        tmp_path,
        {"OPENAR_AS_OF_DATE": "2026-01-31"},
        ("--vars", "{as_of_date: '2026-02-15'}"),
    )
    assert "cast('2026-02-15' as date) as as_of_date" in sql

    sql, _ = _compile(handmade_warehouse, tmp_path, {"OPENAR_AS_OF_DATE": ""})
    assert "latest_extract_date as as_of_date" in sql and "cast('2026" not in sql


def test_a_malformed_as_of_date_is_refused_with_its_value(handmade_warehouse, tmp_path):
    result = run_dbt(
        ["compile", "--select", "int_ar_as_of_date"],
        {**handmade_warehouse.env, "OPENAR_AS_OF_DATE": "31/01/2026"},
        tmp_path,
    )
    assert result.returncode != 0
    assert "must be YYYY-MM-DD, got '31/01/2026'" in result.stdout + result.stderr
