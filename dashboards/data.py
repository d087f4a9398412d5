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


# --- Ingestion page ------------------------------------------------------------------------------
# What the loaders recorded: raw.load_log (one row per file), raw.quarantine, raw.bank_statement_balances
# and the per-file summary of the bank and remittance tables (ingestion_summary.source_files), all
# published next to the marts by orchestration/publishing.py. Days are UTC days of the load time,
# the same in every reader whatever its machine's time zone.

INGESTION_STATUSES = ("loaded", "skipped", "quarantined")
# load_log.status -> what the page shows. A replaced_day file (a corrected re-export of a day) was
# loaded; a superseded one was loaded and later replaced: both count as loaded.
_STATUS_GROUP_SQL = (
    "case l.status when 'quarantined' then 'quarantined' when 'skipped' then 'skipped' else 'loaded' end"
)
# The bank loader writes the kind of file as extract_name (bank_or_remittance when it could not tell,
# i.e. the file was rejected); every other extract_name is an ERP extract.
_BANK_KINDS = {
    "bank_statement": "Bank",
    "remittance": "Remittance",
    "bank_or_remittance": "Bank or remittance",
}
_SOURCE_SQL = (
    "case l.extract_name "
    + " ".join(f"when '{kind}' then '{label}'" for kind, label in _BANK_KINDS.items())
    + " else 'ERP' end"
)
LOAD_LOG = "raw.load_log"
QUARANTINE = "raw.quarantine"
BALANCES = "raw.bank_statement_balances"
SOURCE_FILES = "ingestion_summary.source_files"
# Stand-in for a summary a warehouse without bank or remittance files does not publish.
_NO_SOURCE_FILES = (
    "select null::varchar as source_file, null::varchar as content_hash, null::varchar as source_format, "
    "null::date as load_date, 0::bigint as statements, 0::bigint as unreconciled_statements, "
    "0::bigint as transactions, 0::bigint as credits, 0::bigint as debits, 0::bigint as remittance_documents, "
    "0::bigint as remittance_lines where false"
)
FILE_LIST_LIMIT = 500
QUARANTINE_LIST_LIMIT = 1000


@dataclass(frozen=True)
class IngestionFilters:
    """UTC load days ``start``..``end`` (inclusive) and file statuses (empty: all)."""

    start: dt.date
    end: dt.date
    statuses: tuple[str, ...] = ()

    @property
    def includes_loaded(self) -> bool:
        # Statements, transactions and remittance lines only come from loaded files.
        return not self.statuses or "loaded" in self.statuses


@dataclass(frozen=True)
class IngestionTotals:
    files: int
    by_status: dict[str, int]  # every status of INGESTION_STATUSES, zeros included
    rows_loaded: int
    rows_quarantined: int  # rows set aside from files that were otherwise loaded


def _published(name: str) -> str:
    return f"{MARTS_CATALOG}.{name}"


@st.cache_data(ttl=QUERY_TTL_SECONDS, max_entries=QUERY_CACHE_ENTRIES, show_spinner=False)
def published_tables(source: MartsSource) -> frozenset[str]:
    """``schema.table`` of every table in the published file."""
    _, rows = _rows(
        source,
        "select table_schema || '.' || table_name from information_schema.tables where table_catalog = $c",
        {"c": MARTS_CATALOG},
    )
    return frozenset(r[0] for r in rows)


def _files_sql(source: MartsSource) -> str:
    """CTE ``files``: load_log rows of the filter's days and statuses, with source and format."""
    summary = (
        f"select * from {_published(SOURCE_FILES)}"
        if SOURCE_FILES in published_tables(source)
        else _NO_SOURCE_FILES
    )
    return f"""
        with summary as ({summary}),
        formats as (
            -- A zip or an e-mail can hold documents of several formats.
            select source_file, content_hash,
                string_agg(distinct source_format, ', ' order by source_format) as source_format
            from summary
            group by source_file, content_hash
        ),
        files as (
            select
                l.loaded_at,
                (l.loaded_at at time zone 'UTC')::date as load_date,
                l.source_file,
                {_SOURCE_SQL} as source,
                coalesce(
                    f.source_format,
                    case when l.extract_name in ({", ".join(f"'{k}'" for k in _BANK_KINDS)})
                        then 'unknown' else l.extract_name end
                ) as format,
                l.status,
                {_STATUS_GROUP_SQL} as status_group,
                l.rows_loaded,
                l.rows_quarantined,
                l.message
            from {_published(LOAD_LOG)} l
            left join formats f on f.source_file = l.source_file and f.content_hash = l.content_hash
            where (l.loaded_at at time zone 'UTC')::date between $start and $end
                and ($statuses is null or list_contains($statuses, {_STATUS_GROUP_SQL}))
        )
    """


def _ingestion_params(filters: IngestionFilters) -> dict:
    return {"start": filters.start, "end": filters.end, "statuses": list(filters.statuses) or None}


@st.cache_data(ttl=QUERY_TTL_SECONDS, max_entries=QUERY_CACHE_ENTRIES, show_spinner=False)
def ingestion_period(source: MartsSource) -> tuple[dt.date, dt.date] | None:
    """First and last UTC load day in the log; None when nothing was ever loaded (or logged)."""
    if LOAD_LOG not in published_tables(source):
        return None
    _, rows = _rows(
        source,
        f"select min((loaded_at at time zone 'UTC')::date), max((loaded_at at time zone 'UTC')::date) "
        f"from {_published(LOAD_LOG)}",
    )
    first, last = rows[0]
    return None if first is None else (first, last)


@st.cache_data(ttl=QUERY_TTL_SECONDS, max_entries=QUERY_CACHE_ENTRIES, show_spinner=False)
def ingestion_totals(source: MartsSource, filters: IngestionFilters) -> IngestionTotals:
    _, rows = _rows(
        source,
        _files_sql(source)
        + """
        select status_group, count(*), coalesce(sum(rows_loaded), 0), coalesce(sum(rows_quarantined), 0)
        from files group by status_group
        """,
        _ingestion_params(filters),
    )
    by_status = dict.fromkeys(INGESTION_STATUSES, 0) | {r[0]: r[1] for r in rows}
    return IngestionTotals(
        files=sum(by_status.values()),
        by_status=by_status,
        rows_loaded=sum(r[2] for r in rows),
        rows_quarantined=sum(r[3] for r in rows),
    )


@st.cache_data(ttl=QUERY_TTL_SECONDS, max_entries=QUERY_CACHE_ENTRIES, show_spinner=False)
def files_by_day(source: MartsSource, filters: IngestionFilters) -> pd.DataFrame:
    """Files per UTC load day: a row per day, a column per status of INGESTION_STATUSES."""
    counts = ", ".join(f"count(*) filter (where status_group = '{s}') as {s}" for s in INGESTION_STATUSES)
    return _frame(
        source,
        _files_sql(source) + f"select load_date, {counts} from files group by load_date order by load_date",
        _ingestion_params(filters),
    )


@st.cache_data(ttl=QUERY_TTL_SECONDS, max_entries=QUERY_CACHE_ENTRIES, show_spinner=False)
def files_by_format(source: MartsSource, filters: IngestionFilters) -> pd.DataFrame:
    """Files per source and format (ERP: the extract), a column per status and the total."""
    counts = ", ".join(f"count(*) filter (where status_group = '{s}') as {s}" for s in INGESTION_STATUSES)
    return _frame(
        source,
        _files_sql(source)
        + f"select source, format, {counts}, count(*) as files from files group by source, format "
        "order by source, format",
        _ingestion_params(filters),
    )


@st.cache_data(ttl=QUERY_TTL_SECONDS, max_entries=QUERY_CACHE_ENTRIES, show_spinner=False)
def ingestion_files(
    source: MartsSource, filters: IngestionFilters, limit: int = FILE_LIST_LIMIT
) -> pd.DataFrame:
    """The newest ``limit`` files of the selection; ``total`` is the selection's size."""
    return _frame(
        source,
        _files_sql(source)
        + """
        select loaded_at, source_file, source, format, status, rows_loaded, rows_quarantined, message,
            count(*) over () as total
        from files
        order by loaded_at desc, source_file
        limit $limit
        """,
        {**_ingestion_params(filters), "limit": limit},
    )


@st.cache_data(ttl=QUERY_TTL_SECONDS, max_entries=QUERY_CACHE_ENTRIES, show_spinner=False)
def quarantine_entries(
    source: MartsSource, filters: IngestionFilters, limit: int = QUARANTINE_LIST_LIMIT
) -> pd.DataFrame:
    """Quarantined files and rows of the selected days, newest first.

    The status filter picks the files the entries belong to: "quarantined" shows files rejected
    whole, "loaded" the rows set aside from files that were otherwise loaded.
    """
    if QUARANTINE not in published_tables(source):
        return pd.DataFrame(
            columns=["quarantined_at", "source_file", "extract_name", "row_number", "rule", "reason", "total"]
        )
    return _frame(
        source,
        f"""
        with file_status as (
            select source_file, content_hash, arg_max({_STATUS_GROUP_SQL}, l.loaded_at) as status_group
            from {_published(LOAD_LOG)} l
            group by source_file, content_hash
        )
        select q.quarantined_at, q.source_file, q.extract_name, q.row_number, q.rule, q.reason,
            count(*) over () as total
        from {_published(QUARANTINE)} q
        left join file_status s on s.source_file = q.source_file and s.content_hash = q.content_hash
        where (q.quarantined_at at time zone 'UTC')::date between $start and $end
            -- an entry without its log row is a rejection (both are written in one transaction).
            and ($statuses is null or list_contains($statuses, coalesce(s.status_group, 'quarantined')))
        order by q.quarantined_at desc, q.source_file, q.row_number nulls first, q.rule
        limit $limit
        """,
        {**_ingestion_params(filters), "limit": limit},
    )


@st.cache_data(ttl=QUERY_TTL_SECONDS, max_entries=QUERY_CACHE_ENTRIES, show_spinner=False)
def statement_balances(source: MartsSource, filters: IngestionFilters) -> pd.DataFrame:
    """Statement balance checks of files loaded in the selected days, problems first.

    ``check`` is "reconciles", "not stated" (the file gives no opening or closing balance) or the
    loader's reconciliation problem, in which case ``off_balance`` is true.
    """
    columns = [
        "load_date", "source_format", "account", "statement_id", "currency", "opening_date",
        "opening_balance", "movements_total", "closing_date", "closing_balance", "check", "off_balance",
        "source_file",
    ]  # fmt: skip
    if BALANCES not in published_tables(source) or not filters.includes_loaded:
        return pd.DataFrame(columns=columns)
    return _frame(
        source,
        f"""
        select (_loaded_at at time zone 'UTC')::date as load_date, source_format, account, statement_id,
            currency, opening_date, opening_balance, movements_total, closing_date, closing_balance,
            case
                when reconciliation_problem is not null then reconciliation_problem
                when opening_balance is null or closing_balance is null then 'not stated'
                else 'reconciles'
            end as "check",
            reconciliation_problem is not null as off_balance,
            _source_file as source_file
        from {_published(BALANCES)}
        where (_loaded_at at time zone 'UTC')::date between $start and $end
        order by reconciliation_problem is null, load_date desc, account, closing_date desc, statement_id
        """,
        {"start": filters.start, "end": filters.end},
    )


@st.cache_data(ttl=QUERY_TTL_SECONDS, max_entries=QUERY_CACHE_ENTRIES, show_spinner=False)
def records_by_day(source: MartsSource, filters: IngestionFilters) -> pd.DataFrame:
    """Bank transactions and remittance documents/lines per UTC load day and format."""
    columns = [
        "load_date", "source_format", "files", "statements", "unreconciled_statements", "transactions",
        "credits", "debits", "remittance_documents", "remittance_lines",
    ]  # fmt: skip
    if SOURCE_FILES not in published_tables(source) or not filters.includes_loaded:
        return pd.DataFrame(columns=columns)
    return _frame(
        source,
        f"""
        select load_date, source_format, count(distinct (source_file, content_hash)) as files,
            sum(statements)::bigint as statements,
            sum(unreconciled_statements)::bigint as unreconciled_statements,
            sum(transactions)::bigint as transactions, sum(credits)::bigint as credits,
            sum(debits)::bigint as debits, sum(remittance_documents)::bigint as remittance_documents,
            sum(remittance_lines)::bigint as remittance_lines
        from {_published(SOURCE_FILES)}
        where load_date between $start and $end
        group by load_date, source_format
        order by load_date, source_format
        """,
        {"start": filters.start, "end": filters.end},
    )
