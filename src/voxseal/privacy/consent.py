"""The consent ledger: per data subject and purpose, what was agreed, when, how and why.

The agent may record or transcribe only while the purpose is granted, and a withdrawal during
a call must stop that processing within a second. So the ledger is:

* append-only: every decision is a new row (the schema refuses UPDATE/DELETE); the history is
  the evidence a controller needs under GDPR art. 7(1), and ``current`` is derived from it;
* default-deny: no row means not granted;
* observable in-process: listeners are called synchronously after each decision, so an agent
  in the same process stops a recording at once instead of polling;
* audited: every decision is an :class:`~voxseal.audit.events.AuditEvent` carrying the subject
  id, the purpose and the basis — identifiers, never anything the subject said.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from voxseal.audit.actions import AuditAction
from voxseal.audit.events import AuditContext, AuditSink
from voxseal.errors import InvalidInput
from voxseal.store import Database


class Purpose(StrEnum):
    RECORDING = "recording"
    TRANSCRIPTION = "transcription"
    BIOMETRICS = "biometrics"
    AI_TRAINING = "ai_training"
    SHARING = "sharing"


class LegalBasis(StrEnum):
    """GDPR art. 6(1) (a)-(f)."""

    CONSENT = "consent"
    CONTRACT = "contract"
    LEGAL_OBLIGATION = "legal_obligation"
    VITAL_INTERESTS = "vital_interests"
    PUBLIC_TASK = "public_task"
    LEGITIMATE_INTERESTS = "legitimate_interests"


#: opaque operator-chosen ids; no "@" or spaces, which keeps emails and names out
SUBJECT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
#: where the decision came from: "ivr", "web", "agent:call-42", "crm/import"
SOURCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}")
_ACTOR_MAX = 128


@dataclass(frozen=True)
class ConsentRecord:
    id: int
    subject_id: str
    purpose: Purpose
    granted: bool
    #: when the decision took effect (seconds since the epoch)
    at: float
    source: str
    legal_basis: LegalBasis
    actor: str | None
    #: when the row was written
    recorded_at: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "subject_id": self.subject_id,
            "purpose": self.purpose.value,
            "granted": self.granted,
            "at": self.at,
            "source": self.source,
            "legal_basis": self.legal_basis.value,
            "actor": self.actor,
            "recorded_at": self.recorded_at,
        }


def check_subject_id(subject_id: str) -> str:
    if not isinstance(subject_id, str) or not SUBJECT_ID.fullmatch(subject_id):
        raise InvalidInput(
            "subject id must be 1-128 characters of letters, digits and . _ : -",
            reason="invalid_subject_id",
        )
    return subject_id


def parse_purpose(purpose: str | Purpose) -> Purpose:
    try:
        return Purpose(purpose)
    except ValueError:
        raise InvalidInput(
            f"purpose must be one of {', '.join(p.value for p in Purpose)}",
            reason="invalid_purpose",
        ) from None


def parse_legal_basis(basis: str | LegalBasis) -> LegalBasis:
    """Accepts the art. 6 names, case-insensitively, with "-" or " " for "_"."""
    if isinstance(basis, str):
        basis = basis.strip().lower().replace("-", "_").replace(" ", "_")
    try:
        return LegalBasis(basis)
    except ValueError:
        raise InvalidInput(
            f"legal basis must be one of {', '.join(b.value for b in LegalBasis)}",
            reason="invalid_legal_basis",
        ) from None


_COLUMNS = "id, subject_id, purpose, granted, time_us, source, legal_basis, actor, recorded_us"


def _row(row: tuple[Any, ...]) -> ConsentRecord:
    id_, subject, purpose, granted, time_us, source, basis, actor, recorded_us = row
    return ConsentRecord(
        id=int(id_),
        subject_id=subject,
        purpose=Purpose(purpose),
        granted=bool(granted),
        at=int(time_us) / 1e6,
        source=source,
        legal_basis=LegalBasis(basis),
        actor=actor,
        recorded_at=int(recorded_us) / 1e6,
    )


ConsentListener = Callable[[ConsentRecord], None]


class ConsentLedger:
    def __init__(self, db: Database, audit: AuditSink) -> None:
        self._db = db
        self._audit = audit
        self._listeners: list[ConsentListener] = []
        self._lock = threading.Lock()

    def add_listener(self, listener: ConsentListener) -> Callable[[], None]:
        """Call ``listener(record)`` after every decision; returns a function that removes it.

        Listeners run synchronously in the recording thread, so they must be quick (set a flag,
        cancel a task); an exception in one is swallowed so it cannot undo a recorded decision.
        """
        with self._lock:
            self._listeners.append(listener)

        def remove() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return remove

    def record(
        self,
        subject_id: str,
        purpose: Purpose | str,
        granted: bool,
        *,
        source: str,
        legal_basis: LegalBasis | str,
        actor: str | None,
        at: float | None = None,
        request_source: str | None = None,
        correlation_id: str | None = None,
    ) -> ConsentRecord:
        """Append one decision (grant or withdrawal) and audit it.

        ``source`` says where the decision came from ("ivr", "web", "agent:call-42");
        ``request_source``/``correlation_id`` are the network source and request id for the
        audit event when the decision arrives over HTTP.
        """
        check_subject_id(subject_id)
        purpose = parse_purpose(purpose)
        basis = parse_legal_basis(legal_basis)
        if not isinstance(granted, bool):
            raise InvalidInput("granted must be true or false", reason="invalid_granted")
        if not isinstance(source, str) or not SOURCE.fullmatch(source):
            raise InvalidInput(
                "source must be 1-64 characters of letters, digits and . _ : / -",
                reason="invalid_source",
            )
        if actor is not None and (not isinstance(actor, str) or not 0 < len(actor) <= _ACTOR_MAX):
            raise InvalidInput("actor must be 1-128 characters", reason="invalid_actor")
        now = time.time()
        if at is None:
            at = now
        if isinstance(at, bool) or not isinstance(at, int | float) or not math.isfinite(at):
            raise InvalidInput("at must be a finite timestamp", reason="invalid_time")
        if at < 0 or at > now + 300:
            raise InvalidInput("at must not be before 1970 or in the future", reason="invalid_time")
        row = self._db.query_one(
            "INSERT INTO privacy_consents"
            " (subject_id, purpose, granted, time_us, source, legal_basis, actor, recorded_us)"
            f" VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING {_COLUMNS}",
            (
                subject_id,
                purpose.value,
                1 if granted else 0,
                round(at * 1e6),
                source,
                basis.value,
                actor,
                round(now * 1e6),
            ),
        )
        assert row is not None
        rec = _row(row)
        AuditContext(self._audit, actor, request_source, correlation_id).record(
            AuditAction.CONSENT_GRANT if granted else AuditAction.CONSENT_WITHDRAW,
            target=subject_id,
            consent_id=rec.id,
            purpose=purpose.value,
            granted=granted,
            legal_basis=basis.value,
            via=source,
        )
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(rec)
            except Exception:  # noqa: S112 - a listener must not undo a recorded decision
                continue
        return rec

    def history(self, subject_id: str) -> list[ConsentRecord]:
        """Every decision for the subject, oldest first (by effective time, then by row)."""
        check_subject_id(subject_id)
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM privacy_consents WHERE subject_id = ? ORDER BY time_us, id",
            (subject_id,),
        )
        return [_row(r) for r in rows]

    def current(self, subject_id: str) -> dict[Purpose, ConsentRecord | None]:
        """The decision in force for each purpose (the latest by effective time), or None."""
        state: dict[Purpose, ConsentRecord | None] = dict.fromkeys(Purpose)
        for rec in self.history(subject_id):
            state[rec.purpose] = rec
        return state

    def is_granted(self, subject_id: str, purpose: Purpose | str) -> bool:
        """Default deny: True only if the latest decision for the purpose is a grant."""
        check_subject_id(subject_id)
        purpose = parse_purpose(purpose)
        row = self._db.query_one(
            "SELECT granted FROM privacy_consents WHERE subject_id = ? AND purpose = ?"
            " ORDER BY time_us DESC, id DESC LIMIT 1",
            (subject_id, purpose.value),
        )
        return row is not None and bool(row[0])
