"""The audit events the dashboard writes itself (sign-ins, sessions, reads the API does not
record for it), each with the request's source address and correlation id."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from voxseal.signaling.deps import gateway, source_ip
from voxseal.signaling.headers import correlation_id


def record(request: Request, action: str, **kw: Any) -> int:
    """Append ``action`` to the audit log (blocking: call from a worker thread)."""
    return gateway(request).record(
        action, source=source_ip(request), correlation_id=correlation_id(request.scope), **kw
    )
