"""Every file the simulator writes conforms to the ERP extract contracts, value by value."""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections import Counter
from decimal import Decimal

import pytest

from ingestion.erp_contracts import EXTRACTS

_PATTERNS = {
    "int": re.compile(r"-?\d+"),
    "date": re.compile(r"\d{4}-\d{2}-\d{2}"),
    "timestamp": re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}"),
    "amount": re.compile(r"-?\d+\.\d{2}"),
    "rate": re.compile(r"\d+\.\d{1,8}"),
    "pct": re.compile(r"\d{1,3}\.\d{1,4}"),
}
# The column whose day a delta row belongs to: the file of that day carries it.
_EVENT_DATE = {
    "invoices": "invoice_date",
    "credit_memos": "credit_date",
    "payments": "payment_date",
    "payment_applications": "applied_date",
    "fx_rates": "rate_date",
}


def _check_value(extract, col, value, where):
    if value == "":
        assert not col.required, f"{where}: {col.name} is required"
        return
    if col.kind in _PATTERNS:
        assert _PATTERNS[col.kind].fullmatch(value), f"{where}: {col.name}={value!r} is not a {col.kind}"
    if col.kind == "date":
        dt.date.fromisoformat(value)
    if col.kind == "timestamp":
        assert dt.datetime.fromisoformat(value).tzinfo is not None, f"{where}: {col.name} lacks an offset"
    if col.allowed is not None:
        assert value in col.allowed, f"{where}: {col.name}={value!r} not in {col.allowed}"
    if col.min_value is not None:
        assert Decimal(value) >= Decimal(col.min_value), f"{where}: {col.name}={value} < {col.min_value}"


def test_every_extract_has_files_with_exactly_the_contract_header(tiny_world):
    for name, extract in EXTRACTS.items():
        files = tiny_world.files(name)
        assert files, f"no files for {name}"
        for path in files:
            with path.open(encoding="utf-8", newline="") as fh:
                header = next(csv.reader(fh))
            assert header == [c.name for c in extract.columns], path.name
            assert re.fullmatch(rf"{name}_\d{{4}}-\d{{2}}-\d{{2}}\.csv", path.name)


def test_snapshots_are_one_file_dated_as_of(tiny_world):
    for name in ("customers", "collectors"):
        assert [p.name for p in tiny_world.files(name)] == [f"{name}_2026-11-20.csv"]
    assert len(tiny_world.rows("customers")) == 20
    assert 5 <= len(tiny_world.rows("collectors")) <= 10


@pytest.mark.parametrize("name", list(EXTRACTS))
def test_values_types_allowed_and_minimums(tiny_world, name):
    extract = EXTRACTS[name]
    rows = tiny_world.rows(name)
    assert rows, name
    for file_date, row in rows:
        for col in extract.columns:
            _check_value(extract, col, row[col.name], f"{name}_{file_date}.csv")
        for order in extract.date_orders:
            early, late = row[order.earlier], row[order.later]
            if early and late:
                assert early <= late, f"{name}: {order.earlier} {early} after {order.later} {late}"


@pytest.mark.parametrize("name", list(EXTRACTS))
def test_references_resolve(tiny_world, name):
    keys: dict[str, set] = {}
    for col in EXTRACTS[name].columns:
        if col.references:
            ref_extract, ref_col = col.references.split(".")
            if col.references not in keys:
                keys[col.references] = {r[ref_col] for _, r in tiny_world.rows(ref_extract)}
            for file_date, row in tiny_world.rows(name):
                if row[col.name]:
                    assert row[col.name] in keys[col.references], (
                        f"{name}_{file_date}: {col.name}={row[col.name]}"
                    )


@pytest.mark.parametrize("name", list(EXTRACTS))
def test_keys_unique_per_file_and_versions_only_for_status_extracts(tiny_world, name):
    extract = EXTRACTS[name]
    per_file = Counter()
    overall = Counter()
    for file_date, row in tiny_world.rows(name):
        key = tuple(row[k] for k in extract.key)
        per_file[(file_date, key)] += 1
        overall[key] += 1
    assert max(per_file.values()) == 1
    if name in ("promises_to_pay", "disputes"):
        assert max(overall.values()) == 2  # created, then resolved: and both happen in a 20-customer year
    else:
        assert max(overall.values()) == 1


@pytest.mark.parametrize("name", sorted(_EVENT_DATE))
def test_delta_rows_sit_in_the_file_of_their_date(tiny_world, name):
    for file_date, row in tiny_world.rows(name):
        assert row[_EVENT_DATE[name]] == file_date


def test_status_rows_sit_in_the_file_of_their_creation_or_resolution(tiny_world):
    for file_date, row in tiny_world.rows("disputes"):
        assert file_date == (row["resolved_date"] or row["opened_date"])
        assert (row["status"] == "open") == (row["resolved_date"] == "")
    first_seen = {}
    for file_date, row in tiny_world.rows("promises_to_pay"):
        pid = row["promise_id"]
        if pid not in first_seen:
            assert row["status"] == "open" and file_date == row["promise_date"]
            first_seen[pid] = file_date
        else:
            assert row["status"] in ("kept", "broken") and file_date > row["promised_pay_date"]
    for file_date, row in tiny_world.rows("collection_activities"):
        assert row["activity_at"][:10] == file_date
    for file_date, row in tiny_world.rows("customer_messages"):
        assert row["received_at"][:10] == file_date


def test_fx_rates_every_calendar_day_for_eur_and_gbp(tiny_world):
    by_day = Counter(file_date for file_date, _ in tiny_world.rows("fx_rates"))
    start, end = dt.date(2025, 11, 1), dt.date(2026, 11, 20)
    assert len(by_day) == (end - start).days + 1
    assert set(by_day.values()) == {2}
    assert {r["currency"] for _, r in tiny_world.rows("fx_rates")} == {"EUR", "GBP"}


def test_invoices_dated_on_business_days_of_the_customer_country(tiny_world):
    import holidays

    country = {r["customer_id"]: r["country"] for _, r in tiny_world.rows("customers")}
    cal = {}
    for _, row in tiny_world.rows("invoices"):
        day = dt.date.fromisoformat(row["invoice_date"])
        c = country[row["customer_id"]]
        if c not in cal:
            cal[c] = holidays.country_holidays(c, subdiv={"GB": "ENG", "CA": "ON"}.get(c), years=[2025, 2026])
        assert day.weekday() < 5 and day not in cal[c], (row["invoice_id"], c, day)


def test_payments_land_on_bank_business_days(tiny_world):
    import holidays

    cals = {
        "USD": holidays.financial_holidays("XFED", years=[2025, 2026]),
        "EUR": holidays.financial_holidays("XECB", years=[2025, 2026]),
        "GBP": holidays.country_holidays("GB", subdiv="ENG", years=[2025, 2026]),
    }
    for _, row in tiny_world.rows("payments"):
        day = dt.date.fromisoformat(row["payment_date"])
        assert day.weekday() < 5 and day not in cals[row["currency"]], row["payment_id"]
