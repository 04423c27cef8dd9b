"""``/admin/audit``: the audit log, filtered, newest first, keyset-paged, with each record's
standing in the chain's running verification."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from voxseal.audit.actions import AuditAction
from voxseal.audit.events import Outcome
from voxseal.audit.query import MAX_LIMIT
from voxseal.dashboard.forms import DECIMAL
from voxseal.dashboard.guard import Viewer, page
from voxseal.dashboard.navigation import AUDIT_READ, AUDIT_VERIFY, PREFIX
from voxseal.dashboard.render import render
from voxseal.dashboard.verification import FULL_EVERY, ChainWatch, Verification
from voxseal.signaling.deps import audit_context, gateway

AUDIT_PAGE = 50
_OUTCOMES = tuple(o.value for o in Outcome)

router = APIRouter(prefix=PREFIX, include_in_schema=False)


def _parse_time(value: str | None) -> float | None:
    """``YYYY-MM-DDTHH:MM[:SS]`` (what ``<input type=datetime-local>`` sends), read as UTC."""
    if not value:
        return None
    for fmt in ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=UTC).timestamp()
        except ValueError:
            continue
    raise ValueError(value)


@router.get("/audit")
async def audit_page(
    request: Request,
    viewer: Viewer = Depends(page(AUDIT_READ)),  # noqa: B008
) -> Response:
    """Filtered, newest first, keyset-paged (``before``); each record's verification status."""
    q = request.query_params
    filters = {k: (q.get(k) or "").strip()[:256] for k in ("actor", "action", "outcome", "target")}
    times = {k: (q.get(k) or "")[:32] for k in ("since", "until")}
    # field -> message: the template ties each message to its input (aria-describedby)
    problems: dict[str, str] = {}
    if filters["outcome"] and filters["outcome"] not in _OUTCOMES:
        problems["outcome"] = "Outcome must be one of: " + ", ".join(_OUTCOMES) + "."
    parsed: dict[str, float | None] = {}
    for k, v in times.items():
        try:
            parsed[k] = _parse_time(v)
        except ValueError:
            label = "From" if k == "since" else "Until"
            problems[k] = f"{label} must be a date and time such as 2026-01-31T14:05 (UTC)."
    before_raw = q.get("before")
    before = int(before_raw) if before_raw and DECIMAL.match(before_raw) else None
    if before_raw and before is None:
        problems["before"] = "'before' must be a record number."
    if problems:
        return render(
            request,
            viewer,
            "audit.html",
            422,
            title="Audit log",
            filters=filters,
            times=times,
            outcomes=_OUTCOMES,
            problems=problems,
            records=[],
            report=None,
            next_query=None,
        )
    gw = gateway(request)

    def read() -> list[Any]:
        records = gw.audit.query(
            actor=filters["actor"] or None,
            action=filters["action"] or None,
            outcome=filters["outcome"] or None,
            target=filters["target"] or None,
            since=parsed.get("since"),
            until=parsed.get("until"),
            before_seq=before,
            newest_first=True,
            limit=min(AUDIT_PAGE, MAX_LIMIT),
        )
        # reading the log is itself an audited read, as on GET /v1/audit
        audit_context(request, viewer.name).record(
            AuditAction.AUDIT_READ,
            target="audit_log",
            count=len(records),
            view="dashboard",
        )
        return records

    records = await run_in_threadpool(read)
    report = None
    verification = None
    if viewer.can(AUDIT_VERIFY):
        verification = await run_in_threadpool(_verify, request, viewer)
        report = verification.report
    rows = [
        {
            "seq": r.seq,
            "time": r.isotime,
            "actor": r.actor,
            "action": r.action,
            "target": r.target,
            "outcome": r.outcome,
            "source": r.source,
            "details": json.dumps(r.details, separators=(", ", ": "), sort_keys=True),
            "status": _record_status(r.seq, report),
        }
        for r in records
    ]
    next_query = None
    if len(records) == AUDIT_PAGE:
        kept = {k: v for k, v in {**filters, **times}.items() if v}
        next_query = urlencode({**kept, "before": records[-1].seq})
    return render(
        request,
        viewer,
        "audit.html",
        title="Audit log",
        filters=filters,
        times=times,
        outcomes=_OUTCOMES,
        problems={},
        records=rows,
        report=report,
        verification=verification,
        full_every_minutes=int(FULL_EVERY // 60),
        next_query=next_query,
    )


def chain_watch(request: Request) -> ChainWatch:
    """This app's running verification, made on first use."""
    watch = getattr(request.app.state, "dashboard_chain", None)
    if watch is None:
        gw = gateway(request)
        watch = ChainWatch(gw.db, [gw.audit_public_key()])
        request.app.state.dashboard_chain = watch
    assert isinstance(watch, ChainWatch)
    return watch


def _verify(request: Request, viewer: Viewer) -> Verification:
    """The chain's status for this view (see :mod:`voxseal.dashboard.verification`), audited
    like ``GET /v1/audit/verify`` with how much was checked."""
    result = chain_watch(request).verify()
    audit_context(request, viewer.name).record(
        AuditAction.AUDIT_VERIFY,
        target="audit_log",
        ok=bool(result.report["ok"]),
        records=result.checked,
        mode=result.mode,
        view="dashboard",
    )
    return result


def _record_status(seq: int, report: dict[str, Any] | None) -> tuple[str, str]:
    """``(label, explanation)`` for one record given the whole-chain verification."""
    if report is None:
        return "not checked", "verifying needs the audit:verify permission"
    anchored_to = int(report["head_seq"]) - int(report["unanchored"])
    broken = report["broken_seq"]
    if broken is not None and seq >= int(broken):
        return "broken", f"the chain breaks at record {broken}: {report['problem']}"
    if seq > int(report["head_seq"]):
        return "pending", "written after the verification ran"
    if seq <= anchored_to:
        return "verified", "hash chain intact and covered by a signed checkpoint"
    return "verified", "hash chain intact; not yet covered by a signed checkpoint"
