"""Every query the dashboard runs, against the published marts file, read-only.

The app never opens the warehouse: the pipeline holds it read-write during a run, which locks
every other process out (see ``orchestration/publishing.py``). It reads ``settings.published_path``,
which the pipeline replaces atomically after each run. A :class:`MartsSource` names that file
*and its version* (inode, mtime, size): the connection and every query result are cached per
version, so a republished file is picked up on the next page run and a page run reads one
version throughout.

Pages call these functions and render what they return; they hold no SQL.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import streamlit as st

from orchestration.settings import load_settings

# Alias under which the published file is attached, and the marts schema (dbt_project uses its
# folder schemas verbatim: macros/generate_schema_name.sql).
MARTS_CATALOG = "published"
MARTS_SCHEMA = "marts"
META_TABLE = "openar_meta.publish_info"

# The rename that publishes is atomic, so a failed open is rare (the file vanished between stat
# and open, or a stray writer holds it); a few short retries ride over that without a blank page.
OPEN_ATTEMPTS = 5
OPEN_RETRY_SECONDS = 0.2
QUERY_TTL_SECONDS = 600
QUERY_CACHE_ENTRIES = 256

# Aging buckets in display order: (label, column stem in rpt_ar_aging).
AGING_BUCKETS: tuple[tuple[str, str], ...] = (
    ("current", "bucket_current"),
    ("1-30", "bucket_1_30"),
    ("31-60", "bucket_31_60"),
    ("61-90", "bucket_61_90"),
    ("91-120", "bucket_91_120"),
    ("120+", "bucket_over_120"),
)
OVER_90_BUCKETS = ("91-120", "120+")


class MartsUnavailable(RuntimeError):
    """The published marts file cannot be opened (missing, or not a readable DuckDB file)."""


@dataclass(frozen=True)
class MartsSource:
    """The published file and the version of it that this page run reads."""

    path: str
    version: tuple[int, int, int]  # (inode, mtime_ns, size): os.replace changes the inode


@dataclass(frozen=True)
class Filters:
    """Sidebar filters; an empty tuple means no filter on that column."""

    collectors: tuple = ()
    currencies: tuple[str, ...] = ()
    top_parents: tuple = ()

    @property
    def active(self) -> bool:
        return bool(self.collectors or self.currencies or self.top_parents)


@dataclass(frozen=True)
class AgingSummary:
    as_of_date: dt.date
    buckets: dict[str, Decimal]  # label -> open amount in functional currency
    total: Decimal
    # Set when exactly one currency is selected: the same total in that document currency.
    document_currency: str | None = None
    document_total: Decimal | None = None
    customers: int = 0

    @property
    def current(self) -> Decimal:
        return self.buckets["current"]

    @property
    def past_due(self) -> Decimal:
        return self.total - self.current

    @property
    def over_90(self) -> Decimal:
        return sum((self.buckets[b] for b in OVER_90_BUCKETS), Decimal("0.00"))


@dataclass(frozen=True)
class OpenItemsSummary:
    items: int
    disputed_items: int
    disputed_functional: Decimal


@dataclass(frozen=True)
class Options:
    as_of_dates: tuple[dt.date, ...]
    collectors: dict = field(default_factory=dict)  # id -> name
    currencies: tuple[str, ...] = ()
    top_parents: dict = field(default_factory=dict)  # id -> name


def marts_source(published_path: Path | None = None) -> MartsSource | None:
    """The published file as it is now, or None when the pipeline has not published yet."""
    path = Path(published_path) if published_path is not None else load_settings().published_path
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    return MartsSource(str(path), (info.st_ino, info.st_mtime_ns, info.st_size))


def _open_read_only(path: str) -> duckdb.DuckDBPyConnection:
    last_error: Exception | None = None
    for attempt in range(OPEN_ATTEMPTS):
        # A fresh in-memory database that ATTACHes the file, not duckdb.connect(path): duckdb's
        # instance cache hands back the already-open database for a path it has seen, which after
        # a republish is the *old* inode, so the app would never see new data.
        con = duckdb.connect(":memory:")
        try:
            con.execute(f"attach '{path.replace(chr(39), chr(39) * 2)}' as {MARTS_CATALOG} (read_only)")
            return con
        except duckdb.Error as exc:
            con.close()
            last_error = exc
            time.sleep(OPEN_RETRY_SECONDS * (attempt + 1))
    raise MartsUnavailable(f"cannot open the published marts {path}: {last_error}")


# Old versions are not closed explicitly: a page run still reading one holds a reference, and
# DuckDB closes the file when the last reference goes. Two entries cover "current + the one a
# slow run still uses".
@st.cache_resource(max_entries=2, show_spinner=False)
def _connection(path: str, version: tuple[int, int, int]) -> duckdb.DuckDBPyConnection:
    return _open_read_only(path)


def _rows(source: MartsSource, sql: str, params: dict | None = None) -> tuple[list[str], list[tuple]]:
    # One cursor per query: a DuckDB connection is not safe to share between Streamlit's session
    # threads, its cursors are.
    with _connection(source.path, source.version).cursor() as cur:
        cur.execute(sql, params or {})
        columns = [d[0] for d in cur.description]
        return columns, cur.fetchall()


def _frame(source: MartsSource, sql: str, params: dict | None = None) -> pd.DataFrame:
    # fetchall, not .df(): .df() turns decimal(18,2) into float64; rows keep Decimal.
    columns, rows = _rows(source, sql, params)
    return pd.DataFrame.from_records(rows, columns=columns)


def _mart(name: str) -> str:
    return f"{MARTS_CATALOG}.{MARTS_SCHEMA}.{name}"


_FILTER_SQL = """
    as_of_date = $as_of
    and ($collectors is null or list_contains($collectors, collector_id))
    and ($currencies is null or list_contains($currencies, currency))
    and ($top_parents is null or list_contains($top_parents, top_parent_customer_id))
"""


def _filter_params(as_of: dt.date, filters: Filters) -> dict:
    return {
        "as_of": as_of,
        "collectors": list(filters.collectors) or None,
        "currencies": list(filters.currencies) or None,
        "top_parents": list(filters.top_parents) or None,
    }


@st.cache_data(ttl=QUERY_TTL_SECONDS, max_entries=QUERY_CACHE_ENTRIES, show_spinner=False)
def published_at(source: MartsSource) -> dt.datetime | None:
    try:
        _, rows = _rows(source, f"select published_at from {MARTS_CATALOG}.{META_TABLE}")
    except duckdb.CatalogException:
        return None  # a file published by something other than publish_marts
    return rows[0][0] if rows else None


@st.cache_data(ttl=QUERY_TTL_SECONDS, max_entries=QUERY_CACHE_ENTRIES, show_spinner=False)
def options(source: MartsSource, as_of: dt.date | None = None) -> Options:
    """As-of dates (newest first) and, for ``as_of`` (default newest), the filter choices."""
    _, date_rows = _rows(source, f"select distinct as_of_date from {_mart('rpt_ar_aging')} order by 1 desc")
    dates = tuple(r[0] for r in date_rows)
    if not dates:
        return Options(as_of_dates=())
    params = {"as_of": as_of or dates[0]}
    aging = _mart("rpt_ar_aging")
    _, collectors = _rows(
        source,
        f"select distinct collector_id, coalesce(collector_name, collector_id::varchar) from {aging} "
        "where as_of_date = $as_of order by 2",
        params,
    )
    _, currencies = _rows(
        source, f"select distinct currency from {aging} where as_of_date = $as_of order by 1", params
    )
    _, parents = _rows(
        source,
        f"select distinct top_parent_customer_id, coalesce(top_parent_customer_name, top_parent_customer_id::varchar) "
        f"from {aging} where as_of_date = $as_of order by 2",
        params,
    )
    return Options(
        as_of_dates=dates,
        collectors={r[0]: r[1] for r in collectors},
        currencies=tuple(r[0] for r in currencies),
        top_parents={r[0]: r[1] for r in parents},
    )


@st.cache_data(ttl=QUERY_TTL_SECONDS, max_entries=QUERY_CACHE_ENTRIES, show_spinner=False)
def aging_summary(source: MartsSource, as_of: dt.date, filters: Filters) -> AgingSummary:
    """Open AR by aging bucket in the functional currency, summed exactly in DuckDB."""
    sums = ",\n".join(f"coalesce(sum({col}_functional), 0) as {col}" for _, col in AGING_BUCKETS)
    columns, rows = _rows(
        source,
        f"""
        select {sums},
            coalesce(sum(total_open_functional), 0) as total_open_functional,
            coalesce(sum(total_open), 0) as total_open_document,
            count(distinct customer_id) as customers
        from {_mart("rpt_ar_aging")}
        where {_FILTER_SQL}
        """,
        _filter_params(as_of, filters),
    )
    row = dict(zip(columns, rows[0], strict=True))
    single_currency = filters.currencies[0] if len(filters.currencies) == 1 else None
    return AgingSummary(
        as_of_date=as_of,
        buckets={label: row[col] for label, col in AGING_BUCKETS},
        total=row["total_open_functional"],
        document_currency=single_currency,
        document_total=row["total_open_document"] if single_currency else None,
        customers=row["customers"],
    )


@st.cache_data(ttl=QUERY_TTL_SECONDS, max_entries=QUERY_CACHE_ENTRIES, show_spinner=False)
def open_items_summary(source: MartsSource, as_of: dt.date, filters: Filters) -> OpenItemsSummary:
    _, rows = _rows(
        source,
        f"""
        select count(*),
            count(*) filter (where is_disputed),
            coalesce(sum(open_amount_functional) filter (where is_disputed), 0)
        from {_mart("fct_ar_open_items")}
        where {_FILTER_SQL}
        """,
        _filter_params(as_of, filters),
    )
    items, disputed, disputed_amount = rows[0]
    return OpenItemsSummary(items=items, disputed_items=disputed, disputed_functional=disputed_amount)


@st.cache_data(ttl=QUERY_TTL_SECONDS, max_entries=QUERY_CACHE_ENTRIES, show_spinner=False)
def kpis(source: MartsSource, as_of: dt.date) -> dict | None:
    """The company-wide KPI row of the latest kpi_date on or before ``as_of``."""
    columns, rows = _rows(
        source,
        f"select * from {_mart('rpt_ar_kpis')} where kpi_date <= $as_of order by kpi_date desc limit 1",
        {"as_of": as_of},
    )
    return dict(zip(columns, rows[0], strict=True)) if rows else None


@st.cache_data(ttl=QUERY_TTL_SECONDS, max_entries=QUERY_CACHE_ENTRIES, show_spinner=False)
def kpi_trend(source: MartsSource, as_of: dt.date, days: int = 365) -> pd.DataFrame:
    """Daily DSO and CEI for the ``days`` up to ``as_of``, indexed by kpi_date."""
    frame = _frame(
        source,
        f"""
        select kpi_date, dso_standard, dso_countback, best_possible_dso, cei_pct
        from {_mart("rpt_ar_kpis")}
        where kpi_date <= $as_of and kpi_date > $start
        order by kpi_date
        """,
        {"as_of": as_of, "start": as_of - dt.timedelta(days=days)},
    )
    return frame.set_index("kpi_date")


@st.cache_data(ttl=QUERY_TTL_SECONDS, max_entries=QUERY_CACHE_ENTRIES, show_spinner=False)
def top_overdue_customers(
    source: MartsSource, as_of: dt.date, filters: Filters, limit: int = 15
) -> pd.DataFrame:
    """Customers with the most past-due AR (functional currency), all their currencies together."""
    return _frame(
        source,
        f"""
        select
            customer_id,
            any_value(customer_name) as customer_name,
            any_value(top_parent_customer_name) as top_parent_customer_name,
            any_value(collector_name) as collector_name,
            string_agg(distinct currency, ', ' order by currency) as currencies,
            sum(total_open_functional) as open_functional,
            sum(total_open_functional - bucket_current_functional) as past_due_functional,
            sum(bucket_91_120_functional + bucket_over_120_functional) as over_90_functional
        from {_mart("rpt_ar_aging")}
        where {_FILTER_SQL}
        group by customer_id
        having sum(total_open_functional - bucket_current_functional) > 0
        order by past_due_functional desc, customer_id
        limit $limit
        """,
        {**_filter_params(as_of, filters), "limit": limit},
    )
