"""Ingestion: which files arrived, in which format, what was loaded, skipped or quarantined and why,
and whether the bank statements' balances add up."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from dashboards import data
from dashboards import formatting as fmt
from dashboards.views import shared
from orchestration.settings import load_settings

TITLE = "Ingestion"
# The default window: long enough for a month-end cycle, short enough for a readable daily chart.
DEFAULT_DAYS = 31
DATES_KEY = "ingestion_dates"
DEFAULT_DATES_KEY = "_ingestion_default_dates"
STATUS_LABELS = {"loaded": "Loaded", "skipped": "Skipped", "quarantined": "Quarantined"}
# Green / grey / red, in INGESTION_STATUSES order: a quarantined file must stand out.
STATUS_COLORS = ["#2e7d32", "#9e9e9e", "#c62828"]
_RIGHT = st.column_config.TextColumn(alignment="right")
# Unreconciled statements named in the alert above the table; the table lists them all.
MAX_PROBLEMS_LISTED = 5


def _date_range_state(first: dt.date, last: dt.date) -> None:
    """Keep the range widget following the data until the user picks a range of their own.

    A keyed widget keeps its value across reruns even when its default changes, so after a publish
    that brings a new day an untouched range would go on hiding it.
    """
    default = (max(first, last - dt.timedelta(days=DEFAULT_DAYS - 1)), last)
    state = st.session_state
    current = tuple(state.get(DATES_KEY) or ())
    untouched = not current or current == state.get(DEFAULT_DATES_KEY)
    out_of_bounds = any(not first <= d <= last for d in current)
    if untouched or out_of_bounds:
        state[DATES_KEY] = default
    state[DEFAULT_DATES_KEY] = default


def _sidebar(period: tuple[dt.date, dt.date]) -> data.IngestionFilters:
    first, last = period
    _date_range_state(first, last)
    with st.sidebar:
        picked = st.date_input(
            "Loaded between (UTC days)",
            min_value=first,
            max_value=last,
            key=DATES_KEY,
        )
        statuses = st.multiselect(
            "Status",
            list(data.INGESTION_STATUSES),
            format_func=STATUS_LABELS.get,
            key="ingestion_status",
            placeholder="All statuses",
        )
    # While a range is being picked the widget holds only its first day.
    start, end = (picked[0], picked[-1]) if isinstance(picked, tuple | list) and picked else (picked, picked)
    return data.IngestionFilters(start, end, tuple(s for s in data.INGESTION_STATUSES if s in statuses))


def _empty_state() -> None:
    landing = load_settings().landing_dir
    st.info(
        "No files have been ingested yet. Put ERP extracts in `landing/erp/`, bank statements and lockbox "
        "files in `landing/bank/` and remittance advices in `landing/remittance/`, then run `make run` "
        "(it loads them and publishes what this page reads) and reload this page."
    )
    st.caption(f"Landing folder: `{landing}`.")


def _tiles(totals: data.IngestionTotals, balances: pd.DataFrame) -> None:
    # The last two labels are the longest: wider tiles keep them whole beside the sidebar.
    tiles = st.columns([1, 1, 1, 1, 1.4, 1.4])
    tiles[0].metric("Files", f"{totals.files:,}", border=True)
    for tile, status in zip(tiles[1:4], data.INGESTION_STATUSES, strict=True):
        tile.metric(STATUS_LABELS[status], f"{totals.by_status[status]:,}", border=True)
    tiles[4].metric(
        "Rows quarantined",
        f"{totals.rows_quarantined:,}",
        help=f"Rows set aside from files that were otherwise loaded ({totals.rows_loaded:,} rows loaded).",
        border=True,
    )
    off = int(balances["off_balance"].sum()) if len(balances) else 0
    tiles[5].metric(
        "Off balance",
        f"{off:,}",
        help="Statements whose opening balance plus movements is not their closing balance.",
        border=True,
    )


def _files_per_day(by_day: pd.DataFrame) -> None:
    st.subheader("Files per day")
    chart = by_day.assign(load_date=by_day["load_date"].astype(str)).rename(
        columns={"load_date": "Day (UTC)", **STATUS_LABELS}
    )
    st.bar_chart(
        chart,
        x="Day (UTC)",
        y=list(STATUS_LABELS.values()),
        color=STATUS_COLORS,
        stack=True,
        y_label="files",
        height=280,
    )


def _files_by_format(by_format: pd.DataFrame) -> None:
    st.subheader("Files by format and status")
    st.dataframe(
        by_format.rename(
            columns={"source": "Source", "format": "Format / extract", **STATUS_LABELS, "files": "Files"}
        ),
        hide_index=True,
    )


def _quarantine(entries: pd.DataFrame) -> None:
    st.subheader("Quarantine")
    if entries.empty:
        st.success("Nothing was quarantined in this selection.")
        return
    total = int(entries["total"].iat[0])
    st.caption(
        "Files rejected whole (row –) and rows set aside from loaded files, newest first"
        + (f"; the newest {len(entries):,} of {total:,}." if total > len(entries) else ".")
    )
    # The reason comes before the file: it is what a person reads, and it names the file anyway.
    shown = pd.DataFrame(
        {
            "Quarantined (UTC)": entries["quarantined_at"].map(_utc_minute),
            "Rule": entries["rule"],
            # Row numbers as text: a whole-file rejection has none, and a float column would show 7.0.
            "Row": entries["row_number"].map(lambda n: fmt.EMPTY if pd.isna(n) else str(int(n))),
            "Reason": entries["reason"],
            "File": entries["source_file"],
            "Extract": entries["extract_name"],
        }
    )
    st.dataframe(
        shown,
        hide_index=True,
        column_config={"Row": _RIGHT, "Reason": st.column_config.TextColumn(width="large")},
    )


def _balances(balances: pd.DataFrame) -> None:
    st.subheader("Statement balance checks")
    if balances.empty:
        st.info("No statement balances in this selection.")
        return
    off = balances[balances["off_balance"].astype(bool)]
    if off.empty:
        st.success(f"All {len(balances):,} statements with balances reconcile (or state none).")
    else:
        shown_problems = off.head(MAX_PROBLEMS_LISTED)
        st.error(
            f"{len(off):,} of {len(balances):,} statements do not reconcile: opening + movements ≠ closing.\n"
            + "".join(
                f"\n- {r.account} {r.statement_id} ({r.source_file}): {r.check}"
                for r in shown_problems.itertuples()
            )
            + (
                f"\n- … and {len(off) - len(shown_problems):,} more below."
                if len(off) > len(shown_problems)
                else ""
            )
        )
    money = {
        "opening_balance": "Opening",
        "movements_total": "Movements",
        "closing_balance": "Closing",
    }
    shown = pd.DataFrame(
        {
            "Account": balances["account"],
            "Statement": balances["statement_id"],
            "Check": balances["check"],
            "Format": balances["source_format"],
            "Currency": balances["currency"],
            "Opening date": balances["opening_date"],
            **{
                label: [fmt.money(v, c) for v, c in zip(balances[col], balances["currency"], strict=True)]
                for col, label in money.items()
            },
            "Closing date": balances["closing_date"],
            "File": balances["source_file"],
        }
    )
    st.dataframe(
        shown,
        hide_index=True,
        column_config={
            "Check": st.column_config.TextColumn(width="large"),
            **{label: _RIGHT for label in money.values()},
        },
    )


def _records(records: pd.DataFrame) -> None:
    st.subheader("Bank transactions and remittance lines")
    if records.empty:
        st.info("No bank statements or remittance advices were loaded in this selection.")
        return
    st.caption(
        "New records per load day and format; a movement already loaded from another file is not counted again."
    )
    st.dataframe(
        records.rename(
            columns={
                "load_date": "Day (UTC)",
                "source_format": "Format",
                "files": "Files",
                "statements": "Statements",
                "unreconciled_statements": "Off balance",
                "transactions": "Transactions",
                "credits": "Credits",
                "debits": "Debits",
                "remittance_documents": "Remittance documents",
                "remittance_lines": "Remittance lines",
            }
        ),
        hide_index=True,
    )


def _file_list(files: pd.DataFrame) -> None:
    st.subheader("Files")
    total = int(files["total"].iat[0])
    if total > len(files):
        st.caption(f"The newest {len(files):,} of {total:,} files.")
    st.dataframe(
        pd.DataFrame(
            {
                "Loaded (UTC)": files["loaded_at"].map(_utc_minute),
                "File": files["source_file"],
                "Source": files["source"],
                "Format / extract": files["format"],
                "Status": files["status"],
                "Rows loaded": files["rows_loaded"],
                "Rows quarantined": files["rows_quarantined"],
                "Message": files["message"].fillna(""),
            }
        ),
        hide_index=True,
    )


def _utc_minute(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M")


def render() -> None:
    source = shared.require_source()
    with shared.friendly_errors():
        period = data.ingestion_period(source)
        st.title(TITLE)
        if period is None:
            _empty_state()
            return
        filters = _sidebar(period)
        published = data.published_at(source)
        st.caption(
            f"Files loaded {filters.start.isoformat()} to {filters.end.isoformat()} (UTC days)"
            + (f" · {', '.join(filters.statuses)} only" if filters.statuses else "")
            + (f" · published {published:%Y-%m-%d %H:%M %Z}" if published else "")
        )
        totals = data.ingestion_totals(source, filters)
        balances = data.statement_balances(source, filters)
        _tiles(totals, balances)
        if totals.files == 0:
            st.info("No files match these filters: widen the days or clear the status filter.")
            return
        _files_per_day(data.files_by_day(source, filters))
        _files_by_format(data.files_by_format(source, filters))
        _quarantine(data.quarantine_entries(source, filters))
        _balances(balances)
        _records(data.records_by_day(source, filters))
        _file_list(data.ingestion_files(source, filters))
