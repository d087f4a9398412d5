"""openar's Streamlit app: ``streamlit run dashboards/app.py``.

Pages read the published marts file only (``dashboards/data.py``); the pipeline's warehouse is
never opened here. To add a page: a module in ``dashboards/views/`` with a ``render()`` function,
and one ``st.Page`` line in :data:`sections` below.
"""

from __future__ import annotations

import streamlit as st

from dashboards.views import ar_overview, cash_application, collector, ingestion, manager, risk


def main() -> None:
    st.set_page_config(page_title="openar", page_icon=":material/account_balance:", layout="wide")
    sections = {
        "Receivables": [
            st.Page(
                ar_overview.render,
                title=ar_overview.TITLE,
                icon=":material/account_balance:",
                url_path="ar-overview",
                default=True,
            ),
            st.Page(risk.render, title=risk.TITLE, icon=":material/warning:", url_path="risk"),
            st.Page(
                cash_application.render,
                title=cash_application.TITLE,
                icon=":material/payments:",
                url_path="cash-application",
            ),
            st.Page(collector.render, title=collector.TITLE, icon=":material/call:", url_path="collector"),
            st.Page(
                manager.render,
                title=manager.TITLE,
                icon=":material/query_stats:",
                url_path="collections-manager",
            ),
        ],
        "Data": [
            st.Page(
                ingestion.render, title=ingestion.TITLE, icon=":material/move_to_inbox:", url_path="ingestion"
            )
        ],
    }
    st.navigation(sections).run()


main()
