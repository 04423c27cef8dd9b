"""``/v1/audit``: the log for auditors, filtered and keyset-paged, and its verification."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from voxseal.audit.actions import AuditAction
from voxseal.identity.rbac import Permission
from voxseal.signaling.deps import Caller, allowed, audit_context, gateway

router = APIRouter(prefix="/v1/audit", tags=["audit"])

Text = Annotated[str | None, Query(max_length=256)]


@router.get("")
def read_audit(
    request: Request,
    actor: Text = None,
    action: Text = None,
    outcome: Text = None,
    target: Text = None,
    since: Annotated[float | None, Query(ge=0)] = None,
    until: Annotated[float | None, Query(ge=0)] = None,
    after: Annotated[int | None, Query(ge=0, description="seq to continue after")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    who: Caller = Depends(allowed(Permission.AUDIT_READ)),  # noqa: B008
) -> dict[str, Any]:
    gw = gateway(request)
    records = gw.audit.query(
        actor=actor,
        action=action,
        outcome=outcome,
        target=target,
        since=since,
        until=until,
        after_seq=after,
        limit=limit,
    )
    # reading the log is itself an audited read of protected data
    audit_context(request, who.name).record(
        AuditAction.AUDIT_READ, target="audit_log", count=len(records)
    )
    items = [r.as_dict() for r in records]
    return {"records": items, "next_after": items[-1]["seq"] if len(items) == limit else None}


@router.get("/verify")
async def verify_audit(
    request: Request,
    who: Caller = Depends(allowed(Permission.AUDIT_VERIFY)),  # noqa: B008
) -> dict[str, Any]:
    gw = gateway(request)
    report = await run_in_threadpool(gw.verify_audit)
    await audit_context(request, who.name).arecord(
        AuditAction.AUDIT_VERIFY,
        target="audit_log",
        ok=report.ok,
        records=report.records_checked,
    )
    return report.summary()
