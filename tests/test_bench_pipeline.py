"""`openar bench pipeline`'s own logic: which files belong to the last day, and the growth exponent."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from orchestration.bench import file_day, growth_exponent, hold_back_day, restore, step_breakdown

DAY = dt.date(2026, 11, 20)


@pytest.mark.parametrize(
    ("name", "day"),
    [
        ("invoices_2026-11-20.csv", DAY),
        ("BAI2_9441_20261120.bai", DAY),
        ("MT940_6861722595_20261119.sta", dt.date(2026, 11, 19)),
        ("camt053_GB18NWBK88795311501760_20261120.xml", DAY),
        ("20261120_MT940.txt", DAY),
        ("LBX0622881_261120.txt", DAY),
        ("RA-20261120-000123.eml", DAY),
        ("EDI820-C000182-20261120-000751.edi", DAY),
        ("notes.txt", None),
    ],
)
def test_the_day_of_a_landing_file_comes_from_its_name(name, day):
    assert file_day(Path(name)) == day


def test_holding_back_a_day_moves_its_files_and_leaves_a_snapshot_for_the_day_before(tmp_path):
    landing, holding = tmp_path / "landing", tmp_path / "held"
    files = [
        "erp/invoices/invoices_2026-11-19.csv",
        "erp/invoices/invoices_2026-11-20.csv",
        "erp/customers/customers_2026-11-20.csv",
        "bank/first-continental/LBX0622881_261120.txt",
        "remittance/RA-20261119-000001.eml",
    ]
    for rel in files:
        (landing / rel).parent.mkdir(parents=True, exist_ok=True)
        (landing / rel).write_text(rel)
    moved = hold_back_day(landing, DAY, holding)
    assert sorted(map(str, moved)) == [
        "bank/first-continental/LBX0622881_261120.txt",
        "erp/customers/customers_2026-11-20.csv",
        "erp/invoices/invoices_2026-11-20.csv",
    ]
    left = sorted(str(p.relative_to(landing)) for p in landing.rglob("*") if p.is_file())
    assert left == [
        "erp/customers/customers_2026-11-19.csv",
        "erp/invoices/invoices_2026-11-19.csv",
        "remittance/RA-20261119-000001.eml",
    ]
    assert (
        landing / "erp/customers/customers_2026-11-19.csv"
    ).read_text() == "erp/customers/customers_2026-11-20.csv"
    restore(moved, landing, holding)
    assert all((landing / rel).read_text() == rel for rel in files)


def test_growth_exponent_is_the_slope_of_log_time_on_log_size():
    assert growth_exponent([(1e5, 10.0), (1e6, 100.0)]) == pytest.approx(1.0)
    assert growth_exponent([(1e5, 10.0), (1e6, 10.0), (1e7, 10.0)]) == pytest.approx(0.0)
    assert growth_exponent([(1e5, 10.0)]) is None


def test_a_steps_breakdown_is_the_timings_its_asset_reports():
    import dagster as dg

    metadata = {
        "rows": dg.MetadataValue.int(1_000),
        "timing_history_s": dg.MetadataValue.float(12.345),
        "timing_blocks": dg.MetadataValue.int(2),
        "timing_note": dg.MetadataValue.text("not a number"),
        "model_version": "3",
    }
    assert step_breakdown(metadata) == {"history": 12.35}  # blocks is a count, not seconds
    assert step_breakdown({}) == {}
