"""Errors of the agent pipeline, rooted in :class:`voxseal.errors.VoxsealError`.

Why a hierarchy of its own: an operator who starts an agent on a machine without a model, the
``espeak-ng`` binary, or a reachable LLM must get one line that names what is missing and how
to get it — never an ``ImportError`` from deep inside an engine, and never a silent download.
Messages name packages, paths and HTTP statuses; they never carry API keys or caller speech.
"""

from __future__ import annotations

from voxseal.errors import VoxsealError

__all__ = [
    "AgentError",
    "EngineUnavailable",
    "ModelNotFound",
    "ResponderError",
    "ResponderHTTPError",
    "ResponderProtocolError",
    "ResponderTimeout",
    "ResponderUnreachable",
    "TTSError",
    "TTSUnavailable",
]


class AgentError(VoxsealError):
    """Root of the agent pipeline's errors."""

    reason = "agent_error"
    http_status = 503


class EngineUnavailable(AgentError):
    """An ASR engine's Python package is not installed (we never install or download it)."""

    reason = "asr_engine_unavailable"

    def __init__(self, engine: str, package: str) -> None:
        self.engine, self.package = engine, package
        super().__init__(
            f"ASR engine {engine} needs the Python package {package!r}, which is not installed"
            f" (pip install {package})"
        )


class ModelNotFound(AgentError):
    """A local model path does not exist or is not a model; voxseal never downloads one."""

    reason = "asr_model_not_found"

    def __init__(self, engine: str, path: str, problem: str = "does not exist") -> None:
        self.engine, self.path = engine, path
        super().__init__(
            f"{engine} model at {path!r} {problem}; voxseal does not download models:"
            " put the model there and pass its local path"
        )


class TTSError(AgentError):
    """Speech synthesis failed."""

    reason = "tts_failed"


class TTSUnavailable(TTSError):
    """The TTS engine's binary is not installed."""

    reason = "tts_unavailable"

    def __init__(self, binary: str) -> None:
        self.binary = binary
        super().__init__(
            f"text-to-speech needs the {binary!r} program, which is not on PATH"
            " (Debian/Ubuntu: apt-get install espeak-ng)"
        )


class ResponderError(AgentError):
    """The language model could not produce a reply."""

    reason = "llm_failed"


class ResponderTimeout(ResponderError):
    reason = "llm_timeout"


class ResponderUnreachable(ResponderError):
    """No HTTP exchange happened at all (connection refused, DNS, TLS)."""

    reason = "llm_unreachable"


class ResponderHTTPError(ResponderError):
    """The endpoint answered with a non-2xx status (the body is not echoed: it may quote us)."""

    reason = "llm_http_error"

    def __init__(self, status: int, detail: str = "") -> None:
        self.status = status
        super().__init__(f"LLM endpoint answered HTTP {status}" + (f": {detail}" if detail else ""))


class ResponderProtocolError(ResponderError):
    """A 2xx answer that is not a chat-completions response."""

    reason = "llm_bad_response"
