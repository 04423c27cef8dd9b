"""Responders: the RedactedText boundary, the rule-based agent, and the OpenAI-compatible
client against a real HTTP server on loopback."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.agent.helpers import run
from voxseal.agent import (
    Exchange,
    OpenAICompatibleResponder,
    ResponderHTTPError,
    ResponderProtocolError,
    ResponderTimeout,
    ResponderUnreachable,
    RuleBasedResponder,
)
from voxseal.privacy import redact

API_KEY = "sk-test-0123456789abcdef-SECRET"
CARD_TEXT = "my card number is four one one one one one one one one one one one one one one one"


# --- the boundary ---------------------------------------------------------------------------


@pytest.mark.parametrize("responder", [RuleBasedResponder(), None])
def test_responders_refuse_plain_strings(responder: RuleBasedResponder | None) -> None:
    r = responder or OpenAICompatibleResponder("http://127.0.0.1:9/v1", API_KEY, "m")
    with pytest.raises(TypeError, match="RedactedText"):
        run(r.respond([], CARD_TEXT))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Exchange"):
        run(r.respond(["hello"], redact("hi")))  # type: ignore[list-item]


def test_history_cannot_carry_unredacted_caller_text() -> None:
    with pytest.raises(TypeError, match="RedactedText"):
        Exchange(CARD_TEXT, "ok")  # type: ignore[arg-type]


# --- the rule-based responder ---------------------------------------------------------------


def test_rule_based_acknowledges_card_without_repeating_it() -> None:
    text = redact(CARD_TEXT)
    reply = run(RuleBasedResponder().respond([], text))
    assert "card details" in reply
    assert "one" not in reply.lower().split() and "4111" not in reply


@pytest.mark.parametrize(
    ("said", "expect"),
    [
        ("", "say it again"),
        ("   ", "say it again"),
        ("hello there", "How can I help"),
        ("what are your opening hours", "Monday to Friday"),
        ("i want to check my balance", "balance"),
        ("can i talk to a person", "connect you"),
        ("thank you goodbye", "Goodbye"),
        ("the weather is nice", "repeat"),
    ],
)
def test_rule_based_intents(said: str, expect: str) -> None:
    assert expect in run(RuleBasedResponder().respond([], redact(said)))


def test_rule_based_is_deterministic() -> None:
    r = RuleBasedResponder()
    text = redact("my account number is 12345678 and my email is a@b.example")
    replies = {run(r.respond([], text)) for _ in range(3)}
    assert len(replies) == 1
    assert "@" not in replies.pop()


# --- the OpenAI-compatible client on a real loopback server ----------------------------------


class _Server:
    """A tiny chat-completions endpoint: records each request, answers per ``mode``."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.mode = "ok"
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                if outer.mode == "slow":
                    time.sleep(1.5)
                status, payload = {
                    "ok": (
                        200,
                        {"choices": [{"message": {"role": "assistant", "content": " Got it. "}}]},
                    ),
                    "slow": (200, {"choices": [{"message": {"content": "late"}}]}),
                    "401": (
                        401,
                        {"error": {"type": "invalid_api_key", "message": f"bad key {API_KEY}"}},
                    ),
                    "garbage": (200, {"nothing": True}),
                }[outer.mode]
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[_Server]:
    s = _Server()
    yield s
    s.close()


def _ask(url: str, *texts: str, timeout: float = 5.0) -> str:
    async def go() -> str:
        llm = OpenAICompatibleResponder(url, API_KEY, "local-model", timeout)
        try:
            history = [Exchange(redact(t), "Noted.") for t in texts[:-1]]
            return await llm.respond(history, redact(texts[-1]))
        finally:
            await llm.aclose()

    return run(go())


def test_openai_client_sends_only_redacted_text(server: _Server) -> None:
    reply = _ask(server.url, "hello, my phone number is 415 555 0123", CARD_TEXT)
    assert reply == "Got it."
    (req,) = server.requests
    assert req["path"] == "/v1/chat/completions"
    assert req["headers"]["Authorization"] == f"Bearer {API_KEY}"
    body = json.loads(req["body"])
    assert body["model"] == "local-model"
    roles = [m["role"] for m in body["messages"]]
    assert roles == ["system", "user", "assistant", "user"]
    sent = " ".join(m["content"] for m in body["messages"])
    assert "[CARD]" in sent and "[PHONE]" in sent
    raw = req["body"].decode()
    for leak in ("one one", "415", "0123", "555"):
        assert leak not in raw


def test_openai_client_errors_are_typed_and_keep_the_key_secret(
    server: _Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.mode = "401"
    with pytest.raises(ResponderHTTPError) as info:
        _ask(server.url, "hello")
    assert info.value.status == 401 and "invalid_api_key" in str(info.value)
    errors: list[BaseException] = [info.value]
    server.mode = "garbage"
    with pytest.raises(ResponderProtocolError) as info2:
        _ask(server.url, "hello")
    errors.append(info2.value)
    server.mode = "slow"
    with pytest.raises(ResponderTimeout) as info3:
        _ask(server.url, "hello", timeout=0.3)
    errors.append(info3.value)
    llm = OpenAICompatibleResponder(server.url, API_KEY, "m")
    for text in [repr(llm), str(vars(llm)), caplog.text, *(repr(e) for e in errors)]:
        assert API_KEY not in text
    for e in errors:
        assert (e.__cause__ is None and e.__context__ is None) or API_KEY not in repr(e.__context__)
    run(llm.aclose())


def test_openai_client_unreachable_endpoint() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ResponderUnreachable) as info:
        _ask(f"http://127.0.0.1:{port}/v1", "hello")
    assert API_KEY not in str(info.value)
