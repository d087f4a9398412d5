"""The triage asset on a small simulated world loaded into a throwaway DuckDB: it reads the raw inbox as
of the run day, writes triage.message_triage once per message and model version, and a later run adds
only what arrived since."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster_duckdb import DuckDBResource

from assets.erp import raw_erp_extracts
from assets.triage import message_triage
from ml.triage.model import INTENTS
from ml.triage.triage import ACTIONS
from orchestration.resources import OpenARSettings
from tests.conftest import settings_for

EARLY = "2026-06-30"


def _materialize(data_dir: Path, as_of: str | None = None) -> dg.ExecuteInProcessResult:
    settings = settings_for(data_dir)
    config = {"ops": {"triage__message_triage": {"config": {"as_of_date": as_of}}}} if as_of else None
    return dg.materialize(
        [raw_erp_extracts, message_triage],
        resources={
            "openar": OpenARSettings(data_dir=str(data_dir)),
            "duckdb": DuckDBResource(database=str(settings.warehouse_path)),
        },
        run_config=config,
    )


def _written(result) -> dict:
    (mat,) = [m for m in result.asset_materializations_for_node("triage__message_triage")]
    return {k: v.value for k, v in mat.metadata.items()}


@pytest.fixture(scope="module")
def data_dir(small_world_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("triage_asset") / "data"
    for folder in ("landing", "ground_truth"):
        shutil.copytree(small_world_dir / folder, out / folder)
    settings_for(out).ensure_dirs()
    return out


def test_the_asset_triages_up_to_the_run_day_then_only_what_is_new(data_dir, monkeypatch):
    monkeypatch.setenv("OPENAR_TRIAGE_LOOKBACK_DAYS", "0")  # every message (the lookback: next test)
    first = _written(_materialize(data_dir, EARLY))
    warehouse = settings_for(data_dir).warehouse_path
    with duckdb.connect(str(warehouse), read_only=True) as con:
        known = con.execute(
            """select count(distinct message_id) from raw.erp_customer_messages
               where _extract_date <= ? and cast(received_at as date) <= ?""",
            [EARLY, EARLY],
        ).fetchone()[0]
        rows = con.execute(
            "select count(*), count(distinct message_id), max(received_date) from triage.message_triage"
        ).fetchone()
    assert first["as_of_date"] == EARLY and first["rows_written"] == known == rows[0] == rows[1] > 50
    assert str(rows[2]) <= EARLY

    later = _written(_materialize(data_dir))
    with duckdb.connect(str(warehouse), read_only=True) as con:
        total = con.execute("select count(distinct message_id) from raw.erp_customer_messages").fetchone()[0]
        t = con.execute("select * from triage.message_triage").df()
    assert later["rows_written"] == total - known > 0  # only the messages received after EARLY
    assert len(t) == t["message_id"].nunique() == total
    assert set(t["intent"]) <= set(INTENTS) and t["model_version"].nunique() == 1
    assert (t["quick_action"] == t["intent"].map(ACTIONS)).all()
    promises = t[t["intent"] == "promise_to_pay"]
    assert len(promises) > 5 and promises["promised_date"].notna().mean() > 0.9
    assert (promises["promised_amount_minor"].dropna() > 0).all()

    again = _written(_materialize(data_dir))
    assert again["rows_written"] == 0 and again["model_version"] == later["model_version"]


def test_messages_older_than_the_lookback_are_not_triaged(small_world_dir, tmp_path, monkeypatch):
    data_dir = tmp_path / "data"
    for folder in ("landing", "ground_truth"):
        shutil.copytree(small_world_dir / folder, data_dir / folder)
    settings_for(data_dir).ensure_dirs()
    monkeypatch.setenv("OPENAR_TRIAGE_LOOKBACK_DAYS", "30")
    written = _written(_materialize(data_dir, EARLY))
    with duckdb.connect(str(settings_for(data_dir).warehouse_path), read_only=True) as con:
        window = con.execute(
            """select count(distinct message_id) from raw.erp_customer_messages
               where _extract_date <= ? and cast(received_at as date) <= ?
                 and cast(received_at as date) > cast(? as date) - interval 30 day""",
            [EARLY, EARLY, EARLY],
        ).fetchone()[0]
        older = con.execute(
            "select count(*) from raw.erp_customer_messages where cast(received_at as date) <= cast(? as date) - interval 30 day",
            [EARLY],
        ).fetchone()[0]
        first_day = con.execute("select min(received_date) from triage.message_triage").fetchone()[0]
    assert written["lookback_days"] == 30 and written["rows_written"] == window > 0
    assert older > window  # the world has older messages, and they were left alone
    assert str(first_day) > "2026-05-31"
