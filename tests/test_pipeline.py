"""The whole asset graph on a small simulated world: materialized for real, tied to the simulator's truth."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from tests.conftest import settings_for

pytestmark = pytest.mark.slow

MARTS_COMPARED = ("fct_ar_open_items", "rpt_ar_aging", "rpt_ar_kpis", "fct_ar_balance_daily")


def _install_world(world: Path, data_dir: Path) -> None:
    shutil.copytree(world / "landing", data_dir / "landing")


def _run_daily_job(settings) -> dg.ExecuteInProcessResult:
    from orchestration.definitions import DAILY_JOB, build_definitions
    from orchestration.resources import ensure_dbt_manifest

    settings.ensure_dirs()
    ensure_dbt_manifest(settings)
    job = build_definitions(settings).resolve_job_def(DAILY_JOB)
    with dg.DagsterInstance.ephemeral() as instance:
        return job.execute_in_process(instance=instance, raise_on_error=False)


def _marts_schema(con) -> str:
    return con.execute(
        "select table_schema from information_schema.tables where table_name = 'rpt_ar_aging'"
    ).fetchone()[0]


def _table_rows(path: Path, table: str) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        schema = _marts_schema(con)
        return con.execute(f'select * from "{schema}".{table} order by all').fetchall()
    finally:
        con.close()


def _row_counts(path: Path) -> dict[str, int]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE'"
        ).fetchall()
        return {f"{s}.{t}": con.execute(f'select count(*) from "{s}"."{t}"').fetchone()[0] for s, t in tables}
    finally:
        con.close()


@pytest.fixture(scope="module")
def built_world(small_world_dir, tmp_path_factory):
    """The daily job run once on the small world; returns its settings."""
    data_dir = tmp_path_factory.mktemp("pipeline") / "data"
    _install_world(small_world_dir, data_dir)
    settings = settings_for(data_dir)
    saved = dict(os.environ)
    try:
        result = _run_daily_job(settings)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    return settings, result


def test_every_asset_is_materialized_and_checks_pass(built_world):
    settings, result = built_world
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert {
        "raw/erp_invoices",
        "raw/erp_customers",
        "marts/fct_ar_open_items",
        "marts/rpt_ar_aging",
        "marts/rpt_ar_kpis",
        "marts/fct_ar_balance_daily",
        "published/openar_marts",
        "cashapp/payments",
        "marts/fct_cash_applications",
        "exports/cashapp_reconciliation",
        "triage/message_triage",
        "marts/rpt_message_triage",
    } <= materialized
    failed = [
        e.event_specific_data.check_name
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.event_specific_data.passed
    ]
    assert failed == []
    assert settings.published_path.exists()
    # every bank credit applied is split to the cent: applied + suggested + unapplied = amount
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        payments, off, received = con.execute(
            "select count(*), count(*) filter (where applied_amount + suggested_amount + unapplied_amount <> amount),"
            " sum(amount) from cashapp.payments"
        ).fetchone()
        applied = con.execute(
            "select (select sum(applied_amount) from cashapp.payments),"
            " (select sum(applied_amount) from cashapp.applications)"
        ).fetchone()
    finally:
        con.close()
    assert payments > 20 and off == 0 and received > 0
    assert applied[0] == applied[1] > 0


def _with_bank_cash(settings, truth_items: list[dict]) -> list[dict]:
    """The ERP's open items (the simulator's truth) as the ledger states them once cash applied from
    bank files that the ERP has not posted yet is counted (intermediate.int_cashapp_bank_item_events):
    the invoice and the ERP's unapplied receipt both fall by it, functional amounts re-rounded per item."""
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        moves = con.execute(
            "select item_id, sum(amount) from intermediate.int_cashapp_bank_item_events group by item_id"
        ).fetchall()
    finally:
        con.close()
    delta = dict(moves)
    out = []
    for row in truth_items:
        if row["item_id"] not in delta:
            out.append(row)
            continue
        amount = Decimal(row["open_amount"]) + delta[row["item_id"]]
        if amount:
            functional = (amount * Decimal(row["fx_rate"])).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            out.append({**row, "open_amount": str(amount), "open_amount_functional": str(functional)})
    return out


def test_later_dbt_stages_reuse_the_first_stages_parse(built_world):
    """Each dbt stage runs in its own target folder; the first one's parse cache is handed on, so the
    stages after it parse only what changed instead of the whole project (3.7 s each at 1M invoices)."""
    from orchestration.resources import DBT_PROJECT_DIR

    _, result = built_world
    prefix = result.run_id[:7]
    logs = {
        p.parent.name.split(f"-{prefix}-")[0]: p.read_text(encoding="utf-8")
        for p in (DBT_PROJECT_DIR / "target").glob(f"openar_dbt_*-{prefix}-*/dbt.log")
    }
    assert set(logs) == {
        "openar_dbt_models",
        "openar_dbt_cash_applied_models",
        "openar_dbt_predicted_models",
        "openar_dbt_collections_models",
    }
    later = {stage: log for stage, log in logs.items() if stage != "openar_dbt_models"}
    assert [stage for stage, log in later.items() if "Unable to do partial parsing" in log] == []


def test_aging_ties_to_the_simulators_truth_to_the_cent(built_world, small_world_dir):
    settings, _ = built_world
    truth_items = _with_bank_cash(
        settings, list(csv.DictReader((small_world_dir / "ground_truth" / "open_items.csv").open()))
    )
    truth = defaultdict(Decimal)
    truth_functional = defaultdict(Decimal)
    for row in truth_items:
        truth[(row["customer_id"], row["currency"], row["aging_bucket"])] += Decimal(row["open_amount"])
        truth_functional[row["aging_bucket"]] += Decimal(row["open_amount_functional"])

    con = duckdb.connect(str(settings.published_path), read_only=True)
    schema = _marts_schema(con)
    items = con.execute(
        f'select item_id, open_amount, aging_bucket from "{schema}".fct_ar_open_items'
    ).fetchall()
    assert {i: (a, b) for i, a, b in items} == {
        r["item_id"]: (Decimal(r["open_amount"]), r["aging_bucket"]) for r in truth_items
    }
    buckets = {
        "current": "bucket_current",
        "1-30": "bucket_1_30",
        "31-60": "bucket_31_60",
        "61-90": "bucket_61_90",
        "91-120": "bucket_91_120",
        "120+": "bucket_over_120",
    }
    aging = con.execute(
        f"select customer_id, currency, {', '.join(buckets.values())}, "
        f'{", ".join(c + "_functional" for c in buckets.values())} from "{schema}".rpt_ar_aging'
    ).fetchall()
    got = defaultdict(Decimal)
    got_functional = defaultdict(Decimal)
    for row in aging:
        for i, bucket in enumerate(buckets):
            got[(row[0], row[1], bucket)] += row[2 + i]
            got_functional[bucket] += row[2 + len(buckets) + i]
    assert {k: v for k, v in got.items() if v} == {k: v for k, v in truth.items() if v}
    assert {k: v for k, v in got_functional.items() if v} == {k: v for k, v in truth_functional.items() if v}
    con.close()


def test_running_again_changes_no_row_count(built_world):
    settings, _ = built_world
    before = _row_counts(settings.warehouse_path)
    saved = dict(os.environ)
    try:
        result = _run_daily_job(settings)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert result.success
    assert _row_counts(settings.warehouse_path) == before


def test_a_run_killed_midway_then_rerun_ends_with_the_same_marts(built_world, small_world_dir, tmp_path):
    reference, _ = built_world
    data_dir = tmp_path / "data"
    _install_world(small_world_dir, data_dir)
    env = {**os.environ, "OPENAR_DATA_DIR": str(data_dir), "DAGSTER_HOME": str(data_dir / "dagster_home")}
    env.pop("OPENAR_DUCKDB_PATH", None)
    openar = [sys.executable, "-m", "orchestration.cli"]
    subprocess.run([*openar, "prepare"], env=env, check=True, capture_output=True)
    proc = subprocess.Popen(
        [*openar, "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    # Kill once loading has visibly started (the warehouse exists and holds some raw rows).
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (data_dir / "warehouse" / "openar.duckdb").exists():
        time.sleep(0.2)
    time.sleep(3)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    rerun = subprocess.run([*openar, "run"], env=env, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    published = data_dir / "published" / "openar_marts.duckdb"
    for table in MARTS_COMPARED:
        assert _table_rows(published, table) == _table_rows(reference.published_path, table), table
