"""``/admin/consents``: one data subject's consent records, read through the API."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from voxseal.dashboard.guard import Viewer, page
from voxseal.dashboard.navigation import CONSENTS_READ, PREFIX
from voxseal.dashboard.render import render
from voxseal.privacy.consent import SUBJECT_ID
from voxseal.signaling.routes import consents as consents_api

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.get("/consents")
async def consents_page(
    request: Request,
    viewer: Viewer = Depends(page(CONSENTS_READ)),  # noqa: B008
) -> Response:
    subject = (request.query_params.get("subject") or "").strip()
    data = None
    problem = None
    if subject:
        if not SUBJECT_ID.fullmatch(subject):
            problem = "A subject id is 1-128 of letters, digits and . _ : - (never a name)."
        else:
            data = await run_in_threadpool(
                consents_api.read_consents, subject, request, viewer.caller
            )
    return render(
        request,
        viewer,
        "consents.html",
        422 if problem else 200,
        title="Consent records",
        subject=subject if not problem else "",
        data=data,
        problem=problem,
    )
