"""``/v1/subjects/{subject_id}/consents``: record and read a data subject's consent decisions.

The ledger is append-only, so there is no PUT or DELETE: a withdrawal is a POST with
``"granted": false``. Every decision is audited by the ledger itself (with the caller as actor
and the request's source and correlation id); reads are audited here.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from voxseal.audit.actions import AuditAction
from voxseal.identity.rbac import Permission
from voxseal.privacy.consent import SOURCE, SUBJECT_ID, ConsentLedger, LegalBasis, Purpose
from voxseal.signaling.deps import Caller, allowed, audit_context, gateway, source_ip
from voxseal.signaling.headers import correlation_id

router = APIRouter(tags=["privacy"])

SubjectId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=128,
        pattern=f"^{SUBJECT_ID.pattern}$",
        description="opaque subject identifier (letters, digits, . _ : -); never a name or email",
    ),
]


class RecordConsent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purpose: Purpose
    granted: StrictBool
    source: Annotated[str, Field(min_length=1, max_length=64, pattern=f"^{SOURCE.pattern}$")]
    legal_basis: LegalBasis


def ledger_for(request: Request) -> ConsentLedger:
    """The application's ledger (so in-process listeners hear every decision), else one built
    on the gateway's store and audit log."""
    ledger: ConsentLedger | None = getattr(request.app.state, "consents", None)
    if ledger is None:
        gw = gateway(request)
        ledger = ConsentLedger(gw.db, gw.audit)
    return ledger


@router.post("/v1/subjects/{subject_id}/consents", status_code=201)
def record_consent(
    subject_id: SubjectId,
    body: RecordConsent,
    request: Request,
    who: Caller = Depends(allowed(Permission.CONSENTS_WRITE)),  # noqa: B008
) -> dict[str, Any]:
    rec = ledger_for(request).record(
        subject_id,
        body.purpose,
        body.granted,
        source=body.source,
        legal_basis=body.legal_basis,
        actor=who.name,
        request_source=source_ip(request),
        correlation_id=correlation_id(request.scope),
    )
    return rec.as_dict()


@router.get("/v1/subjects/{subject_id}/consents")
def read_consents(
    subject_id: SubjectId,
    request: Request,
    who: Caller = Depends(allowed(Permission.CONSENTS_READ)),  # noqa: B008
) -> dict[str, Any]:
    ledger = ledger_for(request)
    history = ledger.history(subject_id)
    current = ledger.current(subject_id)
    audit_context(request, who.name).record(
        AuditAction.CONSENT_READ, target=subject_id, count=len(history)
    )
    return {
        "subject_id": subject_id,
        "current": {p.value: (r.as_dict() if r else None) for p, r in current.items()},
        "history": [r.as_dict() for r in history],
    }
