"""``/v1/recordings``, ``/v1/transcripts`` and ``/v1/subjects/{id}/…``: the vault over HTTPS.

The route checks the endpoint's permission (with the token's scope); the :class:`Vault` then
checks the object's kind against the caller's roles and the unredacted-transcript policy, and
writes the ``vault.*`` audit event with the request's source address and correlation id.
Refusals are typed (403 ``permission_denied`` / ``unredacted_not_allowed``, 404
``vault_object_not_found``, 410 ``vault_object_shredded``) and, like every refusal, also
recorded as ``http.refused``.

Listing a subject's objects (``GET /v1/subjects/{id}/objects``) is gated by
``recordings:read``. The data behind it is the union of two permissions, but a route names
one: ``recordings:read`` is the permission for the rawest data the vault holds (voice and
voiceprints), it is held by exactly the roles that hold ``transcripts:read`` today (so no one
is locked out), and the vault filters the list by kind, so the gate never widens what a caller
sees — a role with ``recordings:read`` alone would see recordings and voiceprints, never
transcripts. A future transcripts-only role would need its own listing route.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from voxseal.errors import PermissionDenied
from voxseal.identity.rbac import Permission
from voxseal.signaling.deps import Caller, allowed, source_ip
from voxseal.signaling.headers import correlation_id
from voxseal.vault import ObjectKind, Vault, VaultUnavailable
from voxseal.vault.vault import READ_PERMISSION

router = APIRouter(tags=["vault"])

#: vault responses must never be kept by a browser, proxy or CDN
NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}

_TRANSCRIPT_KINDS = frozenset({ObjectKind.TRANSCRIPT, ObjectKind.TRANSCRIPT_UNREDACTED})


def vault_of(request: Request) -> Vault:
    vault = getattr(request.app.state, "vault", None)
    if vault is None:
        raise VaultUnavailable("the vault is not configured on this gateway")
    return vault  # type: ignore[no-any-return]


def _context(request: Request) -> dict[str, Any]:
    return {"source": source_ip(request), "correlation_id": correlation_id(request.scope)}


def _permits(who: Caller, permission: Permission) -> bool:
    """Roles *and* token scope: what :meth:`Caller.require` would let through."""
    try:
        who.require(permission)
    except PermissionDenied:
        return False
    return True


@router.get("/v1/recordings/{object_id}", response_class=Response)
def get_recording(
    object_id: str,
    request: Request,
    who: Caller = Depends(allowed(Permission.RECORDINGS_READ)),  # noqa: B008
) -> Response:
    """The recording's audio bytes with their stored content type (audited read)."""
    obj = vault_of(request).get(
        object_id,
        actor=who.name,
        roles=who.roles,
        kinds={ObjectKind.RECORDING},
        **_context(request),
    )
    return Response(
        obj.data,
        media_type=obj.content_type,
        headers={**NO_STORE, "content-disposition": f'attachment; filename="{obj.id}"'},
    )


@router.get("/v1/transcripts/{object_id}")
def get_transcript(
    object_id: str,
    request: Request,
    who: Caller = Depends(allowed(Permission.TRANSCRIPTS_READ)),  # noqa: B008
) -> JSONResponse:
    """A transcript as JSON: ``transcript`` if stored as JSON, else ``text`` (audited read)."""
    obj = vault_of(request).get(
        object_id,
        actor=who.name,
        roles=who.roles,
        kinds=_TRANSCRIPT_KINDS,
        **_context(request),
    )
    body: dict[str, Any] = {
        "id": obj.id,
        "subject_id": obj.subject_id,
        "kind": obj.kind.value,
        "content_type": obj.content_type,
        "created_at": obj.created_at,
        "metadata": obj.metadata,
    }
    media = obj.content_type.split(";")[0].strip()
    if media == "application/json" or media.endswith("+json"):
        try:
            body["transcript"] = json.loads(obj.data)
        except ValueError:
            body["text"] = obj.data.decode("utf-8", errors="replace")
    else:
        body["text"] = obj.data.decode("utf-8", errors="replace")
    return JSONResponse(body, headers=NO_STORE)


@router.get("/v1/subjects/{subject_id}/objects")
def list_subject_objects(
    subject_id: str,
    request: Request,
    who: Caller = Depends(allowed(Permission.RECORDINGS_READ)),  # noqa: B008
) -> JSONResponse:
    """Metadata of the subject's objects the caller may read; never content (audited)."""
    kinds = {kind for kind, perm in READ_PERMISSION.items() if _permits(who, perm)}
    objects = vault_of(request).objects(
        subject_id, actor=who.name, roles=who.roles, kinds=kinds, **_context(request)
    )
    return JSONResponse(
        {"subject_id": subject_id, "objects": [o.as_dict() for o in objects]}, headers=NO_STORE
    )


@router.delete("/v1/subjects/{subject_id}/vault", status_code=204, response_class=Response)
def shred_subject(
    subject_id: str,
    request: Request,
    who: Caller = Depends(allowed(Permission.DSAR_EXECUTE)),  # noqa: B008
) -> Response:
    """Crypto-shred the subject: every object of theirs becomes unreadable, now and forever."""
    vault_of(request).shred_subject(
        subject_id, actor=who.name, roles=who.roles, **_context(request)
    )
    return Response(status_code=204)
