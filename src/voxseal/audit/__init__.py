"""Tamper-evident, append-only audit log.

* :class:`AuditLog` appends events (group commit, hash chain, signed checkpoints);
* :func:`verify_chain` proves the stored log intact or names the first broken record;
* :func:`query_records` / :meth:`AuditLog.query` read it back, filtered and keyset-paged;
* :func:`export` writes it as JSON Lines, ArcSight CEF or RFC 5424 syslog;
* :class:`AuditAction` (``actions.py``) is the catalogue of every action, what SIEM users read
  (``docs/audit-actions.md`` is generated from it).

Components that only *emit* events depend on :class:`AuditSink` and write through an
:class:`AuditContext` (``events.py``), not on the log itself.
"""

from voxseal.audit.actions import AuditAction
from voxseal.audit.chain import GENESIS_HASH, VerifyReport, key_id
from voxseal.audit.events import (
    AuditContext,
    AuditEvent,
    AuditEventRejected,
    AuditSink,
    Outcome,
    UnknownAuditAction,
)
from voxseal.audit.export import FORMATS, export
from voxseal.audit.log import AuditLog
from voxseal.audit.query import AuditRecord, query_records
from voxseal.audit.verify import verify_chain

__all__ = [
    "FORMATS",
    "GENESIS_HASH",
    "AuditAction",
    "AuditContext",
    "AuditEvent",
    "AuditEventRejected",
    "AuditLog",
    "AuditRecord",
    "AuditSink",
    "Outcome",
    "UnknownAuditAction",
    "VerifyReport",
    "export",
    "key_id",
    "query_records",
    "verify_chain",
]
