"""Reading the dashboard's forms: URL-encoded, small, and only the fields we expect.

Every dashboard form is urlencoded and small (the largest, creating a principal, has a name, a
kind, six role boxes, a 1024-character password and the token); anything else is not from our
pages, and Starlette's own limits (1000 fields of 1 MiB, files spooled to disk without bound)
would let anyone who can reach the login form make the server buffer gigabytes.
"""

from __future__ import annotations

import re

from fastapi import Request
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException

from voxseal.dashboard.errors import PageRefused
from voxseal.identity.rbac import Role

#: the synchronizer token's field in every form (see :mod:`.guard`)
CSRF_FIELD = "csrf_token"
FORM_TYPE = "application/x-www-form-urlencoded"
MAX_FORM_BYTES = 16 * 1024
MAX_FORM_FIELDS = 32

#: ASCII digits only, and few enough for a 64-bit SQL parameter: ``str.isdigit`` also accepts
#: "²" (which ``int`` refuses) and other scripts' digits
DECIMAL = re.compile(r"^[0-9]{1,18}\Z")


async def read_form(request: Request) -> FormData:
    """The request's form, refused unless urlencoded and within the limits above."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type not in (FORM_TYPE, ""):  # no type: an empty form, the body is not read
        raise PageRefused(
            415, "unsupported_media_type", "Dashboard forms are sent URL-encoded; nothing else."
        )
    length = request.headers.get("content-length")
    too_long = PageRefused(413, "body_too_large", "That form is larger than any dashboard form.")
    if length is not None and (not DECIMAL.match(length) or int(length) > MAX_FORM_BYTES):
        raise too_long
    try:
        # a body without Content-Length is bounded by the per-field and field-count limits
        return await request.form(
            max_files=0, max_fields=MAX_FORM_FIELDS, max_part_size=MAX_FORM_BYTES
        )
    except StarletteHTTPException:  # what Starlette raises for a form over the limits
        raise too_long from None


def text_field(form: FormData, name: str, max_len: int) -> str | None:
    """A non-empty text value of at most ``max_len`` characters, else None."""
    value = form.get(name)
    if not isinstance(value, str) or not value or len(value) > max_len:
        return None
    return value


def roles_of(form: FormData) -> list[str]:
    """The ticked role boxes (at most one per role; the directory checks each name)."""
    return [v for v in form.getlist("roles") if isinstance(v, str)][: len(Role)]
