"""The dashboard's refusals: what a page raises when it will not serve a request.

They are :class:`~voxseal.errors.VoxsealError` like every refusal in voxseal, carrying the
status and the stable ``reason`` the audit event records, plus the sentence the refusal page
shows (our own text, never the submitted values). :mod:`.render` turns them into HTML.
"""

from __future__ import annotations

from voxseal.dashboard.sessions import SessionEnd
from voxseal.errors import VoxsealError


class PageRefused(VoxsealError):
    """Answered with the refusal page at ``http_status`` and audited as ``http.refused``."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message, reason=reason)
        self.http_status = status
        self.message = message


class LoginRequired(PageRefused):
    """No live session: a redirect to the login page rather than a refusal page.

    ``why`` is the reason a presented session ended (the login page then says so); None when
    the browser sent no session cookie at all.
    """

    def __init__(self, why: SessionEnd | None) -> None:
        self.why = why
        super().__init__(303, why.value if why else "no_session", "sign in to continue")
