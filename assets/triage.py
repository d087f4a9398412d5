"""triage/message_triage: every customer message read, with its intent and the quick action it asks for.

Thin wrapper of ``ml.triage``: reads the raw ERP inbox (``erp_customer_messages``, latest version of
each message received up to the as-of day, within the settings' ``triage_lookback_days``) and the customer master, triages the messages the current
model has not read yet, and writes schema ``triage``, which the ``collections`` dbt stage reads
(``stg_triage__message_triage`` → ``rpt_message_triage``).
"""

import datetime as dt

import dagster as dg
from dagster_duckdb import DuckDBResource

from assets.config import AsOfConfig
from assets.erp import erp_asset_key
from orchestration.resources import OpenARSettings

TRIAGE_KEY = dg.AssetKey(["triage", "message_triage"])


@dg.asset(
    key=TRIAGE_KEY,
    deps=[erp_asset_key("customer_messages"), erp_asset_key("customers")],
    group_name="collections",
    kinds={"python", "scikitlearn", "duckdb"},
    metadata={"grain": "message_id"},
)
def message_triage(
    config: AsOfConfig, openar: OpenARSettings, duckdb: DuckDBResource
) -> dg.MaterializeResult:
    """One row per customer message received up to the as-of day: intent, confidence, promise date and
    amount, dispute reason, new contact, return date, quick action, extractive summary, model version
    (and a generative reply draft when an endpoint is configured)."""
    from assets.predictions import resolve_as_of
    from ml.triage.data import messages_from_warehouse
    from ml.triage.generative import Endpoint, draft_replies
    from ml.triage.triage import train_pipeline_model, triage_messages
    from ml.triage.warehouse import triaged_ids, write_triage

    model, trained_on = train_pipeline_model(openar.get().data_dir)
    with duckdb.get_connection() as con:
        as_of = resolve_as_of(con, config.as_of_date)
        lookback = openar.get().triage_lookback_days
        since = as_of - dt.timedelta(days=lookback) if lookback > 0 else None
        messages = messages_from_warehouse(con, as_of, since)
        todo = messages[~messages["message_id"].isin(triaged_ids(con, model.version))]
        triaged = triage_messages(todo, model, workers=openar.get().worker_processes)
        endpoint = Endpoint.from_settings(openar.get())  # None unless OPENAR_LLM_BASE_URL is set
        triaged["reply_draft"] = draft_replies(endpoint, todo, triaged)
        rows = write_triage(con, triaged, model.version, as_of)
    counts = triaged["intent"].value_counts().to_dict()
    return dg.MaterializeResult(
        metadata={
            "as_of_date": as_of.isoformat(),
            "model_version": model.version,
            "trained_on": trained_on,
            "messages_in_lookback": len(messages),
            "lookback_days": lookback,
            "rows_written": rows,
            "needs_review": int(triaged["needs_review"].sum()) if rows else 0,
            "reply_drafts": int(triaged["reply_draft"].notna().sum()),
            **{f"intent_{k}": int(v) for k, v in counts.items()},
        }
    )
