"""What an audit event is, and the one method every component needs to emit one.

Events carry identifiers, never secrets or raw PII: ``details`` holds small, non-sensitive
facts (a reason code, a role name, a count). Components depend on :class:`AuditSink`, not on
the log's implementation, so identity and signaling can be tested with the real log or any
other sink.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class Outcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    DENIED = "denied"


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One security-relevant fact: who did what to which target, from where, and how it ended.

    ``action`` is a dotted verb such as ``auth.login``, ``auth.mfa``, ``auth.lockout``,
    ``token.issue``, ``token.refused``, ``user.create``, ``user.roles``, ``apikey.create``,
    ``audit.read``, ``http.refused``.
    """

    action: str
    outcome: Outcome = Outcome.SUCCESS
    actor: str | None = None
    target: str | None = None
    source: str | None = None
    correlation_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


class AuditSink(Protocol):
    def record(self, event: AuditEvent) -> int:
        """Append ``event`` durably; returns its sequence number once it is on disk."""
        ...
