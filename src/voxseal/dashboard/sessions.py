"""Browser sessions for the dashboard, kept server-side in the store.

Why a session table rather than the API's access token in a cookie: a bearer JWT proves
itself and lives for ``access_ttl`` from issue, so it can express neither an *idle* timeout
(it would have to be re-issued on every click) nor an *absolute* one across re-issues, and a
stolen copy stays valid until its expiry unless every node consults the revocation list. A row
keyed by the hash of a random cookie value is checked on every request anyway, so idle and
absolute deadlines, logout and "account disabled" take effect at once on every node sharing
the store, and the cookie carries no claim at all (roles are read from the directory on each
request, as :meth:`~voxseal.identity.auth.Authenticator.authenticate_token` does).

The login itself is not re-implemented: the dashboard calls ``Authenticator.login`` and
``complete_mfa`` (lockout, TOTP replay protection, audit) and revokes the access token those
return at once, since a browser session never needs a bearer token.

CSRF: the token in every form is ``HMAC-SHA256(cookie value, label)`` — a synchronizer token
derived from the session secret instead of stored next to it. Only someone who can read the
``HttpOnly`` cookie can compute it, the server recomputes it on each POST and compares in
constant time, and it changes with every login (so it cannot be planted before one).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from voxseal.identity.rbac import Role
from voxseal.store import Database

#: no request for this long ends the session
IDLE_TIMEOUT = 15 * 60.0
#: however active, a session ends this long after its login
ABSOLUTE_TIMEOUT = 8 * 3600.0
#: ``last_seen_at`` is written at most this often (a page view is then a read, not a write)
TOUCH_EVERY = 30.0
#: ended sessions are purged this long after they could last have been valid
RETAIN_ENDED = 24 * 3600.0

_CSRF_LABEL = b"voxseal-dashboard-csrf-v1"
_LOGIN_CSRF_LABEL = b"voxseal-dashboard-login-csrf-v1"
_COOKIE_BYTES = 32
_MAX_COOKIE_CHARS = 128


class SessionEnd(StrEnum):
    """Why a cookie no longer names a live session (audit reason codes)."""

    UNKNOWN = "session_unknown"
    REVOKED = "session_revoked"
    IDLE = "session_idle_timeout"
    ABSOLUTE = "session_absolute_timeout"
    PRINCIPAL = "principal_disabled"
    #: the second factor the session was opened with was reset (lost or stolen device)
    MFA_RESET = "mfa_reset"


class SessionRefused(Exception):
    """The presented cookie names no live session."""

    def __init__(self, why: SessionEnd, handle: str | None = None) -> None:
        self.why = why
        self.handle = handle
        super().__init__(why.value)


@dataclass(frozen=True, slots=True)
class DashboardSession:
    """A live session. ``csrf`` is derived from the cookie and is never stored."""

    handle: str
    principal: str
    roles: frozenset[Role]
    created_at: float
    last_seen_at: float
    csrf: str

    @property
    def expires_at(self) -> float:
        return min(self.last_seen_at + IDLE_TIMEOUT, self.created_at + ABSOLUTE_TIMEOUT)

    def __repr__(self) -> str:
        return f"DashboardSession(handle={self.handle!r}, principal={self.principal!r})"


def _hash(cookie: str) -> bytes:
    return hashlib.sha256(b"voxseal-dashboard-session\x00" + cookie.encode()).digest()


def _mac(secret: str, label: bytes) -> str:
    digest = hmac.new(secret.encode(), label, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def csrf_for(cookie: str) -> str:
    """The form token that goes with a session cookie."""
    return _mac(cookie, _CSRF_LABEL)


def login_csrf_for(cookie: str) -> str:
    """The login form's token, bound to the pre-login cookie (against login CSRF)."""
    return _mac(cookie, _LOGIN_CSRF_LABEL)


def tokens_match(expected: str, presented: str | None) -> bool:
    """Constant-time comparison; a missing or non-ASCII token simply does not match."""
    if not presented or not presented.isascii() or len(presented) > _MAX_COOKIE_CHARS:
        return False
    return hmac.compare_digest(expected.encode(), presented.encode())


def new_cookie_value() -> str:
    return secrets.token_urlsafe(_COOKIE_BYTES)


class SessionStore:
    """Create, check, touch and end dashboard sessions (sync: call from a thread pool)."""

    def __init__(
        self,
        db: Database,
        *,
        idle_timeout: float = IDLE_TIMEOUT,
        absolute_timeout: float = ABSOLUTE_TIMEOUT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self.idle_timeout = idle_timeout
        self.absolute_timeout = absolute_timeout
        self._clock = clock

    def __repr__(self) -> str:
        return f"SessionStore(idle={self.idle_timeout:.0f}s, absolute={self.absolute_timeout:.0f}s)"

    def create(
        self, principal: str, roles: Iterable[Role], source: str | None
    ) -> tuple[str, DashboardSession]:
        """A fresh session: ``(cookie value, session)``. The cookie value is shown only here."""
        cookie = new_cookie_value()
        handle = secrets.token_hex(8)
        now = self._clock()
        role_set = frozenset(roles)
        self._db.execute(
            "INSERT INTO dashboard_sessions (id_hash, handle, principal, roles, created_at,"
            " last_seen_at, revoked_at, source) VALUES (?, ?, ?, ?, ?, ?, NULL, ?)",
            (
                _hash(cookie),
                handle,
                principal,
                ",".join(sorted(r.value for r in role_set)),
                now,
                now,
                source,
            ),
        )
        session = DashboardSession(handle, principal, role_set, now, now, csrf_for(cookie))
        return cookie, session

    def check(self, cookie: str | None) -> DashboardSession:
        """The live session a cookie names, touched; :class:`SessionRefused` otherwise."""
        if not cookie or len(cookie) > _MAX_COOKIE_CHARS or not cookie.isascii():
            raise SessionRefused(SessionEnd.UNKNOWN)
        id_hash = _hash(cookie)
        row = self._db.query_one(
            "SELECT handle, principal, roles, created_at, last_seen_at, revoked_at"
            " FROM dashboard_sessions WHERE id_hash = ?",
            (id_hash,),
        )
        if row is None:
            raise SessionRefused(SessionEnd.UNKNOWN)
        handle, principal, roles_text, created, seen, revoked = row
        now = self._clock()
        if revoked is not None:
            raise SessionRefused(SessionEnd.REVOKED, handle)
        why = None
        if now - float(created) >= self.absolute_timeout:
            why = SessionEnd.ABSOLUTE
        elif now - float(seen) >= self.idle_timeout:
            why = SessionEnd.IDLE
        if why is not None:
            self._end(id_hash, now)
            raise SessionRefused(why, handle)
        if now - float(seen) >= TOUCH_EVERY:
            self._db.execute(
                "UPDATE dashboard_sessions SET last_seen_at = ? WHERE id_hash = ? AND revoked_at"
                " IS NULL",
                (now, id_hash),
            )
            seen = now
        roles = frozenset(Role(r) for r in str(roles_text).split(",") if r)
        return DashboardSession(
            handle, principal, roles, float(created), float(seen), csrf_for(cookie)
        )

    def revoke(self, cookie: str) -> bool:
        """End the session a cookie names (logout); False if it was not live."""
        if not cookie or len(cookie) > _MAX_COOKIE_CHARS:
            return False
        return self._end(_hash(cookie), self._clock())

    def revoke_principal(self, principal: str) -> int:
        """End every live session of ``principal`` (disabled account); how many ended."""
        rows = self._db.execute(
            "UPDATE dashboard_sessions SET revoked_at = ? WHERE principal = ? AND revoked_at IS"
            " NULL RETURNING handle",
            (self._clock(), principal),
        )
        return len(rows)

    def _end(self, id_hash: bytes, now: float) -> bool:
        rows = self._db.execute(
            "UPDATE dashboard_sessions SET revoked_at = ? WHERE id_hash = ? AND revoked_at IS NULL"
            " RETURNING handle",
            (now, id_hash),
        )
        return bool(rows)

    def purge(self) -> int:
        """Forget sessions that ended (or must have) more than :data:`RETAIN_ENDED` ago."""
        cutoff = self._clock() - RETAIN_ENDED
        rows = self._db.execute(
            "DELETE FROM dashboard_sessions WHERE (revoked_at IS NOT NULL AND revoked_at < ?)"
            " OR last_seen_at < ? OR created_at < ? RETURNING handle",
            (cutoff, cutoff - self.idle_timeout, cutoff - self.absolute_timeout),
        )
        return len(rows)
