"""Reply generation: the language model only ever sees redacted text.

Why the type is the privacy boundary: a language model is often a third-party service outside
the agent zone. A reviewer cannot check every call site for "was this redacted?", but they can
check that every :class:`Responder` takes a :class:`~voxseal.privacy.RedactedText` — which only
:func:`voxseal.privacy.redact` creates — and refuses anything else at run time with a
``TypeError`` (a ``str`` slipped through an ``Any`` is caught, not sent). History is built of
:class:`Exchange` objects, whose caller side is a ``RedactedText`` too, checked the same way.

Two responders:

* :class:`RuleBasedResponder` — deterministic, offline, the default and the one tests use. It
  acknowledges sensitive details by *kind* (from the redaction spans) and never repeats them.
* :class:`OpenAICompatibleResponder` — ``POST {base_url}/chat/completions`` with httpx, for
  OpenAI, vLLM, llama.cpp server, Ollama and the like. Errors are typed; the API key lives in a
  private attribute, is sent only in the ``Authorization`` header, and appears in no repr,
  exception or log line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol, runtime_checkable

import httpx

from voxseal.agent.errors import (
    ResponderHTTPError,
    ResponderProtocolError,
    ResponderTimeout,
    ResponderUnreachable,
)
from voxseal.privacy import PiiKind, RedactedText

__all__ = [
    "DEFAULT_SYSTEM_PROMPT",
    "Exchange",
    "OpenAICompatibleResponder",
    "Responder",
    "RuleBasedResponder",
    "require_redacted",
]


def require_redacted(text: object, what: str = "text") -> RedactedText:
    """The privacy boundary: anything but a RedactedText is a programming error."""
    if not isinstance(text, RedactedText):
        raise TypeError(
            f"{what} must be a voxseal.privacy.RedactedText (from redact()), not"
            f" {type(text).__name__}: unredacted text never reaches a language model"
        )
    return text


@dataclass(frozen=True)
class Exchange:
    """One turn of the conversation: what the caller said (redacted) and what the agent said."""

    caller: RedactedText
    agent: str

    def __post_init__(self) -> None:
        require_redacted(self.caller, "Exchange.caller")


@runtime_checkable
class Responder(Protocol):
    """Produces the agent's next utterance from redacted input only."""

    async def respond(self, history: Sequence[Exchange], text: RedactedText) -> str: ...


def _check(history: Sequence[Exchange], text: object) -> RedactedText:
    redacted = require_redacted(text)
    for item in history:
        if not isinstance(item, Exchange):
            raise TypeError(f"history items must be Exchange, not {type(item).__name__}")
    return redacted


# --- the built-in, deterministic responder --------------------------------------------------

_KIND_WORDS: Final = {
    PiiKind.CARD: "card details",
    PiiKind.ACCOUNT: "account details",
    PiiKind.SSN: "social security number",
    PiiKind.PHONE: "phone number",
    PiiKind.EMAIL: "email address",
    PiiKind.DOB: "date of birth",
    PiiKind.ADDRESS: "address",
    PiiKind.NAME: "name",
}

#: (intent, keywords, reply) — first match wins; matched on whole words of the redacted text
_INTENTS: Final[tuple[tuple[str, tuple[str, ...], str], ...]] = (
    (
        "goodbye",
        ("bye", "goodbye", "that's all", "hang up"),
        "Thank you for calling. Goodbye!",
    ),
    (
        "human",
        ("human", "person", "agent", "representative", "operator", "someone"),
        "I will connect you with a member of our team. Please hold.",
    ),
    (
        "balance",
        ("balance", "statement", "owe"),
        "I can help with your balance. Please say your account number when you are ready.",
    ),
    (
        "hours",
        ("hours", "open", "opening", "close", "closing"),
        "We are open Monday to Friday, nine in the morning to six in the evening.",
    ),
    (
        "payment",
        ("pay", "payment", "bill"),
        "I can take a payment. Please read me your card number.",
    ),
    (
        "greeting",
        ("hello", "hi", "hey", "morning", "afternoon", "evening"),
        "Hello! You are speaking with the voxseal assistant. How can I help you today?",
    ),
    ("thanks", ("thanks", "thank"), "You are welcome. Is there anything else I can do?"),
)

_WORD = re.compile(r"[a-z']+")


class RuleBasedResponder:
    """A small deterministic agent: same input, same reply; used by default and in tests."""

    async def respond(self, history: Sequence[Exchange], text: RedactedText) -> str:
        redacted = _check(history, text)
        return self.reply(redacted)

    def reply(self, text: RedactedText) -> str:
        """The reply, synchronously (the rules need no I/O)."""
        if not require_redacted(text).text.strip():
            return "Sorry, I did not catch that. Could you say it again?"
        kinds = [k for k in _KIND_WORDS if k in text.kinds]
        if kinds:
            what = [_KIND_WORDS[k] for k in kinds]
            listed = what[0] if len(what) == 1 else ", ".join(what[:-1]) + " and " + what[-1]
            return f"Thank you, I have received your {listed}. Is there anything else?"
        spoken = text.text.lower()
        words = set(_WORD.findall(spoken))
        for _, keys, answer in _INTENTS:
            if any((k in spoken) if " " in k else (k in words) for k in keys):
                return answer
        return (
            "I am sorry, I can help with balances, payments and opening hours."
            " Could you repeat that?"
        )


# --- OpenAI-compatible chat completions ------------------------------------------------------

DEFAULT_SYSTEM_PROMPT: Final = (
    "You are a helpful voice assistant on a phone call. Answer in one or two short spoken "
    "sentences, without lists or markup. Sensitive details in the caller's words have been "
    "replaced by placeholders such as [CARD], [ACCOUNT], [SSN], [PHONE], [EMAIL], [DOB], "
    "[ADDRESS] and [NAME]: treat them as received, never ask the caller to repeat them aloud, "
    "and never invent values for them."
)


class OpenAICompatibleResponder:
    """Chat completions over HTTP(S); ``api_key`` may be None for local servers without auth."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        model: str,
        timeout: float = 15.0,
        *,
        system_prompt: str = DEFAULT_SYSTEM_PROMPT,
        max_history: int = 12,
        temperature: float | None = 0.3,
        max_tokens: int | None = 200,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must be an http(s) URL")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.timeout = timeout
        self.system_prompt = system_prompt
        self.max_history = max_history
        self.temperature = temperature
        self.max_tokens = max_tokens
        # the key is kept only inside the HTTP client's default headers: no attribute of ours
        # holds it, so no repr, vars() dump or debugger view of this object shows it
        self._has_key = bool(api_key)
        headers = {"Accept": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout), headers=headers, transport=transport
        )

    def __repr__(self) -> str:
        key = "set" if self._has_key else "none"
        return (
            f"OpenAICompatibleResponder(base_url={self.base_url!r}, model={self.model!r},"
            f" api_key=<{key}>)"
        )

    def messages(self, history: Sequence[Exchange], text: RedactedText) -> list[dict[str, str]]:
        """The request's message list (built only from redacted text)."""
        redacted = _check(history, text)
        msgs = [{"role": "system", "content": self.system_prompt}]
        for ex in list(history)[-self.max_history :] if self.max_history else []:
            msgs.append({"role": "user", "content": ex.caller.text})
            if ex.agent:
                msgs.append({"role": "assistant", "content": ex.agent})
        msgs.append({"role": "user", "content": redacted.text})
        return msgs

    async def respond(self, history: Sequence[Exchange], text: RedactedText) -> str:
        body: dict[str, Any] = {"model": self.model, "messages": self.messages(history, text)}
        if self.temperature is not None:
            body["temperature"] = self.temperature
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        url = f"{self.base_url}/chat/completions"
        try:
            resp = await self._client.post(url, json=body)
        except httpx.TimeoutException:
            raise ResponderTimeout(
                f"LLM endpoint {self.base_url} did not answer within {self.timeout:g} s"
            ) from None
        except httpx.HTTPError as exc:
            raise ResponderUnreachable(
                f"cannot reach LLM endpoint {self.base_url}: {type(exc).__name__}"
            ) from None
        if not resp.is_success:
            raise ResponderHTTPError(resp.status_code, _error_type(resp))
        try:
            data = resp.json()
            content = data["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise ResponderProtocolError(
                "LLM endpoint answered 2xx without choices[0].message.content"
            ) from None
        if not isinstance(content, str):
            raise ResponderProtocolError("LLM reply content is not a string")
        return content.strip()

    async def aclose(self) -> None:
        await self._client.aclose()


def _error_type(resp: httpx.Response) -> str:
    """Only the error *type/code* from the body: its message may quote our request back."""
    try:
        err = resp.json().get("error")
    except (ValueError, AttributeError):
        return ""
    if isinstance(err, dict):
        for key in ("type", "code"):
            value = err.get(key)
            if isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9_.\-]{1,64}", value):
                return value
    return ""
