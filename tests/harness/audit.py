"""An audit sink that keeps what it is given, for tests of the components that audit."""

from __future__ import annotations

from voxseal.audit.events import AuditEvent, Outcome

__all__ = ["ListSink"]


class ListSink:
    """An AuditSink keeping events in memory, in order."""

    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    def record(self, event: AuditEvent) -> int:
        self.events.append(event)
        return len(self.events)

    def actions(self) -> list[str]:
        return [e.action for e in self.events]

    def of(self, action: str, outcome: Outcome | None = None) -> list[AuditEvent]:
        return [
            e
            for e in self.events
            if e.action == action and (outcome is None or e.outcome is outcome)
        ]

    def last(self, action: str | None = None) -> AuditEvent:
        """The latest event (of ``action`` if given)."""
        if action is None:
            return self.events[-1]
        return next(e for e in reversed(self.events) if e.action == action)
