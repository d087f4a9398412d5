"""The optional generative reply draft against a local fake OpenAI-compatible server (no model, no
network): what is sent, how the answer is read, and that failures and the default (off) never break
triage."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest

from ml.triage.generative import Endpoint, draft_replies, draft_reply
from orchestration.settings import load_settings


class _FakeChat(BaseHTTPRequestHandler):
    requests: list = []
    status = 200

    def do_POST(self):  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append((self.path, self.headers.get("Authorization"), body))
        text = "Dear Dana, thank you: we note $4,870.00 on 13 March.\nSUMMARY: Promise of $4,870.00 for 13 March."
        out = json.dumps({"choices": [{"message": {"role": "assistant", "content": text}}]}).encode()
        self.send_response(type(self).status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    _FakeChat.requests, _FakeChat.status = [], 200
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _FakeChat)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()


def test_a_reply_is_drafted_through_the_chat_completions_endpoint(server):
    d = draft_reply(
        Endpoint(server, "local-model", api_key="k-123"),
        "RE: overdue",
        "We'll cut a check for $4,870.00 on 13 March.",
        "promise_to_pay",
        "log promise: USD 4870.00 by 2026-03-13",
    )
    assert d.reply == "Dear Dana, thank you: we note $4,870.00 on 13 March."
    assert d.summary == "Promise of $4,870.00 for 13 March."
    ((path, auth, body),) = _FakeChat.requests
    assert path == "/v1/chat/completions" and auth == "Bearer k-123"
    assert body["model"] == "local-model" and [m["role"] for m in body["messages"]] == ["system", "user"]
    assert "log promise: USD 4870.00 by 2026-03-13" in body["messages"][1]["content"]


def test_an_http_error_names_the_endpoint(server):
    _FakeChat.status = 500
    with pytest.raises(
        RuntimeError, match=r"127\.0\.0\.1:\d+/v1/chat/completions: no usable chat completion"
    ):
        draft_reply(Endpoint(server, "m"), "s", "b", "other", None)


def test_only_answerable_intents_are_drafted_and_failures_leave_none(server):
    messages = pd.DataFrame(
        {"message_id": ["M1", "M2", "M3"], "subject": ["a", "b", "c"], "body": ["x", "y", "z"]}
    )
    triaged = pd.DataFrame(
        {
            "message_id": ["M1", "M2", "M3"],
            "intent": ["promise_to_pay", "remittance_advice", "dispute"],
            "action_detail": [None, None, None],
        }
    )
    drafts = draft_replies(Endpoint(server, "m"), messages, triaged)
    assert drafts[1] is None and drafts[0] == drafts[2] and drafts[0].startswith("Dear Dana")
    assert len(_FakeChat.requests) == 2
    _FakeChat.status = 503
    assert draft_replies(Endpoint(server, "m"), messages, triaged) == [None, None, None]


def test_off_by_default(monkeypatch):
    monkeypatch.delenv("OPENAR_LLM_BASE_URL", raising=False)
    assert Endpoint.from_settings(load_settings()) is None
    assert draft_replies(None, pd.DataFrame(), pd.DataFrame({"intent": ["other"]})) == [None]
    monkeypatch.setenv("OPENAR_LLM_BASE_URL", "http://127.0.0.1:9/v1/")
    monkeypatch.setenv("OPENAR_LLM_MODEL", "llama3")
    e = Endpoint.from_settings(load_settings())
    assert (e.base_url, e.model) == ("http://127.0.0.1:9/v1", "llama3")
