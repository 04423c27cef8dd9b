"""One exception hierarchy for the whole gateway.

Every rejection carries a short, stable ``reason`` code that is safe to show to a client and to
write to the audit log. Messages never contain secrets: callers pass identifiers, never key
material, passwords, codes or tokens.
"""

from __future__ import annotations


class VoxsealError(Exception):
    """Root of every error voxseal raises on purpose."""

    #: stable machine-readable code, safe for clients and audit events
    reason: str = "error"
    #: HTTP status the signaling layer answers with when this reaches it
    http_status: int = 400

    def __init__(self, message: str | None = None, *, reason: str | None = None) -> None:
        if reason is not None:
            self.reason = reason
        super().__init__(message or self.reason.replace("_", " "))


# --- configuration -------------------------------------------------------------------------


class ConfigError(VoxsealError):
    """A setting is missing or invalid; the message names the setting."""

    reason = "invalid_config"

    def __init__(self, setting: str, problem: str) -> None:
        self.setting = setting
        super().__init__(f"setting {setting!r}: {problem}")


# --- persistence ---------------------------------------------------------------------------


class StoreError(VoxsealError):
    reason = "store_error"
    http_status = 503


class StoreUnavailable(StoreError):
    reason = "store_unavailable"


class MigrationError(StoreError):
    reason = "migration_failed"


class NotFound(VoxsealError):
    reason = "not_found"
    http_status = 404


class Conflict(VoxsealError):
    reason = "conflict"
    http_status = 409


class InvalidInput(VoxsealError):
    """Bad input from a user or the network that is not about authentication."""

    reason = "invalid_input"
    http_status = 422


# --- authentication and authorisation ------------------------------------------------------


class AuthError(VoxsealError):
    """The caller could not be authenticated (HTTP 401)."""

    reason = "unauthenticated"
    http_status = 401


class InvalidCredentials(AuthError):
    reason = "invalid_credentials"


class AccountLocked(AuthError):
    """Too many failures for an account or a source address; retry after a back-off."""

    reason = "locked_out"
    http_status = 429

    def __init__(self, retry_after: float, *, scope: str = "account") -> None:
        self.retry_after = max(0.0, retry_after)
        self.scope = scope
        super().__init__(f"too many failed attempts ({scope}); retry in {self.retry_after:.0f}s")


class MFAError(AuthError):
    reason = "mfa_failed"


class InvalidMFACode(MFAError):
    reason = "invalid_mfa_code"


class MFAReplay(MFAError):
    reason = "mfa_code_reused"


class MFANotEnrolled(MFAError):
    reason = "mfa_not_enrolled"
    http_status = 403


class TokenError(AuthError):
    reason = "invalid_token"


class TokenExpired(TokenError):
    reason = "token_expired"


class TokenRevoked(TokenError):
    reason = "token_revoked"


class TokenInvalid(TokenError):
    """Malformed, wrongly signed, wrong issuer/audience, or of the wrong kind."""

    reason = "token_invalid"


class PermissionDenied(VoxsealError):
    """Authenticated, but not allowed (HTTP 403)."""

    reason = "forbidden"
    http_status = 403


class TokenScopeError(PermissionDenied):
    reason = "token_scope"


# --- audit ---------------------------------------------------------------------------------


class AuditError(VoxsealError):
    reason = "audit_error"
    http_status = 500


class AuditChainBroken(AuditError):
    """Verification found a record that was changed, deleted, reordered or inserted."""

    reason = "audit_chain_broken"

    def __init__(self, seq: int, problem: str) -> None:
        self.seq = seq
        self.problem = problem
        super().__init__(f"audit chain broken at record {seq}: {problem}")


# --- cryptography (subclassed in voxseal.crypto.errors) -------------------------------------


class CryptoError(VoxsealError):
    reason = "crypto_error"
