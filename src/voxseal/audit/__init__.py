"""Tamper-evident, append-only audit log."""

from voxseal.audit.events import AuditEvent, AuditSink, Outcome

__all__ = ["AuditEvent", "AuditSink", "Outcome"]
