"""The optional generative reply draft and summary, through any OpenAI-compatible chat endpoint.

Off unless ``OPENAR_LLM_BASE_URL`` is set (``orchestration.settings``): everything else in triage works
offline, and no test needs a model. When on, the daily run drafts a reply to the messages a collector
answers by hand (promises, disputes, copy requests, contact changes, other), a few per run
(``MAX_PER_RUN``), and stores it beside the extractive summary; a failed call leaves the draft empty
and never fails the run. The API key, when the endpoint needs one, comes from ``OPENAR_LLM_API_KEY``.

httpx rather than the ``openai`` client: one POST of a documented JSON shape (``/chat/completions``)
works against OpenAI, vLLM, llama.cpp's server and Ollama alike, without another dependency.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import httpx

log = logging.getLogger(__name__)

MAX_PER_RUN = 50
DRAFTED_INTENTS = ("promise_to_pay", "dispute", "invoice_copy_request", "contact_change", "other")
SYSTEM_PROMPT = (
    "You are an accounts-receivable assistant. Draft a short, polite reply (at most 120 words) from the "
    "collector to the customer's e-mail, in the customer's language. Confirm facts only as they are given "
    "(dates, amounts, invoice numbers); never invent any. Then a line 'SUMMARY:' with one sentence."
)


@dataclass(frozen=True)
class Endpoint:
    base_url: str
    model: str
    api_key: str | None = None
    timeout_s: float = 30.0

    @classmethod
    def from_settings(cls, settings) -> Endpoint | None:
        if not settings.llm_base_url:
            return None
        return cls(
            settings.llm_base_url.rstrip("/"), settings.llm_model, os.environ.get("OPENAR_LLM_API_KEY")
        )


@dataclass(frozen=True)
class Draft:
    reply: str
    summary: str | None


def draft_reply(endpoint: Endpoint, subject: str, body: str, intent: str, action_detail: str | None) -> Draft:
    """One chat completion; raises ``RuntimeError`` naming the endpoint on an HTTP or format error."""
    headers = {"Authorization": f"Bearer {endpoint.api_key}"} if endpoint.api_key else {}
    payload = {
        "model": endpoint.model,
        "temperature": 0.2,
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {
                "role": "user",
                "content": f"Intent: {intent}\nSuggested action: {action_detail or '-'}\n"
                f"Subject: {subject}\n\n{body}",
            },
        ],
    }
    url = f"{endpoint.base_url}/chat/completions"
    try:
        r = httpx.post(url, json=payload, headers=headers, timeout=endpoint.timeout_s)
        r.raise_for_status()
        text = r.json()["choices"][0]["message"]["content"]
    except (httpx.HTTPError, KeyError, IndexError, TypeError, ValueError) as e:
        raise RuntimeError(f"{url}: no usable chat completion ({e})") from e
    reply, _, summary = str(text).partition("SUMMARY:")
    return Draft(reply.strip(), summary.strip() or None)


def draft_replies(endpoint: Endpoint | None, messages, triaged, limit: int = MAX_PER_RUN) -> list[str | None]:
    """A reply draft per triaged row (``None`` when off, not drafted, or the call failed)."""
    out: list[str | None] = [None] * len(triaged)
    if endpoint is None:
        return out
    by_id = messages.set_index("message_id")
    done = 0
    for i, row in enumerate(triaged.itertuples()):
        if done >= limit:
            break
        if row.intent not in DRAFTED_INTENTS:
            continue
        m = by_id.loc[row.message_id]
        try:
            out[i] = draft_reply(
                endpoint, str(m["subject"]), str(m["body"]), row.intent, row.action_detail
            ).reply
        except RuntimeError as e:
            log.warning("reply draft for %s skipped: %s", row.message_id, e)
        done += 1
    return out
