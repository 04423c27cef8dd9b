"""Tamper-evident, append-only audit log.

* :class:`AuditLog` appends events (group commit, hash chain, signed checkpoints);
* :func:`verify_chain` proves the stored log intact or names the first broken record;
* :func:`query_records` / :meth:`AuditLog.query` read it back, filtered and keyset-paged;
* :func:`export` writes it as JSON Lines, ArcSight CEF or RFC 5424 syslog.

Components that only *emit* events depend on :class:`AuditSink` (``events.py``), not on this.
"""

from voxseal.audit.chain import GENESIS_HASH, VerifyReport, key_id
from voxseal.audit.events import AuditEvent, AuditSink, Outcome
from voxseal.audit.export import FORMATS, export
from voxseal.audit.guard import AuditEventRejected
from voxseal.audit.log import AuditLog
from voxseal.audit.query import AuditRecord, query_records
from voxseal.audit.verify import verify_chain

__all__ = [
    "FORMATS",
    "GENESIS_HASH",
    "AuditEvent",
    "AuditEventRejected",
    "AuditLog",
    "AuditRecord",
    "AuditSink",
    "Outcome",
    "VerifyReport",
    "export",
    "key_id",
    "query_records",
    "verify_chain",
]
