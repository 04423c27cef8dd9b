"""What an audit event is, and the one recorder every component emits events through.

Events carry identifiers, never secrets or raw PII: ``details`` holds small, non-sensitive
facts (a reason code, a role name, a count). Components depend on :class:`AuditSink`, not on
the log's implementation, so identity and signaling can be tested with the real log or any
other sink. They write through an :class:`AuditContext` (who is acting, from where, for which
request), so the who/where of an event is stated once per request instead of at every call.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from voxseal.audit.actions import BY_VALUE, AuditAction
from voxseal.errors import AuditError


class Outcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    DENIED = "denied"


class AuditEventRejected(AuditError):
    """The event would put a secret, or malformed data, into the permanent log."""

    reason = "audit_event_rejected"


class UnknownAuditAction(AuditEventRejected):
    """The action is not in the catalogue (:class:`~voxseal.audit.actions.AuditAction`).

    SIEM rules are written against the catalogue; an action outside it would be an event no
    one has documented or is looking for, so it is refused at the call site.
    """

    reason = "audit_action_unknown"


def parse_action(action: AuditAction | str) -> AuditAction:
    """The catalogue member for ``action`` (a member or its exact string)."""
    if type(action) is AuditAction:
        return action
    member = BY_VALUE.get(action) if isinstance(action, str) else None
    if member is None:
        raise UnknownAuditAction(
            f"action {str(action)[:64]!r} is not in the audit action catalogue "
            "(voxseal.audit.actions.AuditAction); add it there first"
        )
    return member


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One security-relevant fact: who did what to which target, from where, and how it ended.

    ``action`` is a member of the catalogue (:class:`~voxseal.audit.actions.AuditAction`, which
    says what each one means); its exact string is accepted too and turned into the member, so
    an action outside the catalogue fails here, where it is written.
    """

    action: AuditAction
    outcome: Outcome = Outcome.SUCCESS
    actor: str | None = None
    target: str | None = None
    source: str | None = None
    correlation_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if type(self.action) is not AuditAction:
            object.__setattr__(self, "action", parse_action(self.action))


class AuditSink(Protocol):
    def record(self, event: AuditEvent) -> int:
        """Append ``event`` durably; returns its sequence number once it is on disk."""
        ...


@runtime_checkable
class AsyncAuditSink(Protocol):
    """A sink that can also wait for the commit without blocking the event loop."""

    def record(self, event: AuditEvent) -> int: ...

    async def arecord(self, event: AuditEvent) -> int: ...


@dataclass(frozen=True, slots=True)
class AuditContext:
    """Who is acting, from where, in which request: the part of an event a caller knows once.

    ``AuditContext(sink, actor, source, correlation_id).record(action, target=…, **details)``
    is the one way components write events. Use :func:`dataclasses.replace` when the actor
    becomes known later (a login learns who it is for).
    """

    sink: AuditSink = field(repr=False)
    actor: str | None = None
    source: str | None = None
    correlation_id: str | None = None

    def event(
        self,
        action: AuditAction,
        /,
        *,
        target: str | None = None,
        outcome: Outcome = Outcome.SUCCESS,
        **details: Any,
    ) -> AuditEvent:
        return AuditEvent(
            action=action,
            outcome=outcome,
            actor=self.actor,
            target=target,
            source=self.source,
            correlation_id=self.correlation_id,
            details=details,
        )

    def record(
        self,
        action: AuditAction,
        /,
        *,
        target: str | None = None,
        outcome: Outcome = Outcome.SUCCESS,
        **details: Any,
    ) -> int:
        """Append one event durably; its seq once it is on disk."""
        return self.sink.record(self.event(action, target=target, outcome=outcome, **details))

    async def arecord(
        self,
        action: AuditAction,
        /,
        *,
        target: str | None = None,
        outcome: Outcome = Outcome.SUCCESS,
        **details: Any,
    ) -> int:
        """:meth:`record` for async code: the event loop keeps running during the commit."""
        event = self.event(action, target=target, outcome=outcome, **details)
        if isinstance(self.sink, AsyncAuditSink):
            return await self.sink.arecord(event)
        return await asyncio.to_thread(self.sink.record, event)
