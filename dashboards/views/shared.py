"""Pieces every page uses: the published-marts gate and the sidebar filters."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator

import duckdb
import streamlit as st

from dashboards import data
from orchestration.settings import load_settings

NO_DATA_TITLE = "No data yet"


def require_source() -> data.MartsSource:
    """The published marts of this run, or a friendly page (and stop) when there are none."""
    source = data.marts_source()
    if source is None:
        st.title(NO_DATA_TITLE)
        st.info(
            "The pipeline has not published any marts yet. Run `make run` to build and publish them, "
            "then reload this page."
        )
        st.caption(
            f"Looking for `{load_settings().published_path}` (set `OPENAR_DATA_DIR` to read another data folder)."
        )
        st.stop()
    return source


@contextlib.contextmanager
def friendly_errors() -> Iterator[None]:
    """Turn a file that cannot be read, or marts older than this app, into a message, not a traceback."""
    try:
        yield
    except data.MartsUnavailable as exc:
        st.warning(f"The published marts cannot be opened right now: {exc}. Reload in a moment.")
        st.stop()
    except (duckdb.CatalogException, duckdb.BinderException) as exc:
        # A table (catalog) or column (binder) this page needs is missing: the published file
        # predates the current marts.
        st.warning(
            f"The published marts lack something this page needs ({exc}). Run `make run` to rebuild them."
        )
        st.stop()


def sidebar_filters(source: data.MartsSource) -> tuple[dt.date, data.Filters] | None:
    """As-of date and collector / currency / top-parent filters; None when the marts hold no AR."""
    options = data.options(source)
    if not options.as_of_dates:
        return None
    with st.sidebar:
        as_of = st.selectbox(
            "As of", options.as_of_dates, format_func=lambda d: d.isoformat(), key="filter_as_of"
        )
        if as_of != options.as_of_dates[0]:
            options = data.options(source, as_of)
        collectors = st.multiselect(
            "Collector",
            list(options.collectors),
            format_func=options.collectors.get,
            key="filter_collectors",
            placeholder="All collectors",
        )
        currencies = st.multiselect(
            "Currency", list(options.currencies), key="filter_currencies", placeholder="All currencies"
        )
        top_parents = st.multiselect(
            "Top parent",
            list(options.top_parents),
            format_func=options.top_parents.get,
            key="filter_top_parents",
            placeholder="All customers",
        )
    return as_of, data.Filters(tuple(collectors), tuple(currencies), tuple(top_parents))
