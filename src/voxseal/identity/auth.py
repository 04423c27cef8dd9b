"""The authentication flows the REST API and the RTC endpoint expose, with their audit trail.

:class:`Authenticator` composes the directory (who), the lockout (how often), the token
authority (what a success yields) and an audit sink (what happened). Rules it enforces:

* an unknown user, a service account, a user without a password and a wrong password are one
  and the same ``invalid_credentials`` answer, after the same argon2 work;
* a disabled account gets that same answer even with the right password (the audit log records
  the real reason), so probing cannot tell a disabled account from a wrong password;
* a user with confirmed TOTP always gets an MFA challenge, never a token, from the password
  step; a user whose roles require MFA but who has not enrolled is refused with
  ``mfa_not_enrolled`` (the CLI enrols people; there is no way around it over the network);
* the account's failure count is reset only after a *complete* login, so knowing the password
  does not buy unlimited TOTP guesses;
* every success, failure, lockout and refusal is an audit event holding identifiers and
  reason codes only. Names typed for unknown accounts are not recorded (people type passwords
  into the username field); the source address is.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from voxseal.audit.actions import AuditAction
from voxseal.audit.events import AuditContext, AuditSink, Outcome
from voxseal.errors import (
    AccountLocked,
    InvalidCredentials,
    InvalidInput,
    InvalidMFACode,
    MFAError,
    MFANotEnrolled,
    VoxsealError,
)
from voxseal.identity import rbac
from voxseal.identity.apikeys import parse_key
from voxseal.identity.challenges import MAX_CHALLENGE_TTL, MFAChallenge, MFAChallenges
from voxseal.identity.directory import Directory, Principal, PrincipalKind, normalise_name
from voxseal.identity.lockout import BruteForceLockout, address_key
from voxseal.identity.rbac import Permission
from voxseal.identity.recovery import looks_like_recovery_code
from voxseal.identity.tokens import AccessClaims, IssuedToken, JoinGrants, TokenAuthority


@dataclass(frozen=True, slots=True)
class AuthPolicy:
    mfa_challenge_ttl: float = MAX_CHALLENGE_TTL
    mfa_challenge_attempts: int = 3

    def __post_init__(self) -> None:
        if not 0 < self.mfa_challenge_ttl <= MAX_CHALLENGE_TTL:
            raise InvalidInput("mfa_challenge_ttl must be within (0, 300] s", reason="mfa_ttl")
        if self.mfa_challenge_attempts < 1:
            raise InvalidInput("mfa_challenge_attempts must be >= 1", reason="mfa_attempts")


@dataclass(frozen=True, slots=True)
class LoginResult:
    """Either ``access_token`` or ``mfa_challenge`` is set, never both."""

    principal: Principal
    access_token: IssuedToken | None = None
    mfa_challenge: MFAChallenge | None = None

    @property
    def mfa_required(self) -> bool:
        return self.mfa_challenge is not None

    def as_response(self) -> dict[str, Any]:
        """The body of ``POST /v1/auth/login``."""
        if self.mfa_challenge is not None:
            return {
                "mfa_required": True,
                "challenge": self.mfa_challenge.value,
                "expires_at": self.mfa_challenge.expires_at,
            }
        assert self.access_token is not None
        return token_response(self.access_token)


def token_response(token: IssuedToken) -> dict[str, Any]:
    """The body answering a successful login or MFA step."""
    return {"access_token": token.token, "token_type": "Bearer", "expires_at": token.expires_at}


def _unknown_account_key(username: str) -> str:
    digest = hashlib.sha256(f"voxseal-unknown-account\x00{username}".encode()).hexdigest()
    return f"?{digest[:24]}"


class Authenticator:
    def __init__(
        self,
        directory: Directory,
        tokens: TokenAuthority,
        lockout: BruteForceLockout,
        audit: AuditSink,
        policy: AuthPolicy | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = directory
        self.tokens = tokens
        self.lockout = lockout
        self._audit = audit
        self.policy = policy or AuthPolicy()
        self.challenges = MFAChallenges(
            directory.db,
            ttl=self.policy.mfa_challenge_ttl,
            max_attempts=self.policy.mfa_challenge_attempts,
            clock=clock,
        )

    def __repr__(self) -> str:
        return f"Authenticator({self.directory!r}, {self.tokens!r})"

    # -- password + TOTP ------------------------------------------------------------------

    def login(
        self,
        username: str,
        password: str,
        source_ip: str | None,
        *,
        correlation_id: str | None = None,
    ) -> LoginResult:
        """Check a password; answer with a token or an MFA challenge (see module doc)."""
        known = self.directory.find(username) if isinstance(username, str) else None
        account = known.name if known is not None else _unknown_account_key(str(username)[:256])
        target = known.name if known is not None else None

        audit = AuditContext(self._audit, target, source_ip, correlation_id)

        def event(outcome: Outcome, **details: Any) -> None:
            audit.record(AuditAction.AUTH_LOGIN, target=target, outcome=outcome, **details)

        try:
            self.lockout.check(account=account, source_ip=source_ip)
        except AccountLocked as exc:
            event(Outcome.DENIED, reason=exc.reason, scope=exc.scope)
            raise
        try:
            principal = self.directory.check_password(str(username)[:256], password)
        except InvalidInput as exc:
            event(Outcome.FAILURE, reason=exc.reason)
            raise
        if principal is None:
            self.lockout.record_failure(
                account=account, source_ip=source_ip, correlation_id=correlation_id
            )
            event(
                Outcome.FAILURE,
                reason="invalid_credentials" if known is not None else "unknown_principal",
            )
            raise InvalidCredentials("invalid username or password")
        if principal.disabled:
            event(Outcome.FAILURE, reason="principal_disabled")
            raise InvalidCredentials("invalid username or password")
        if principal.mfa_enrolled:
            challenge = self.challenges.create(principal.id)
            event(Outcome.SUCCESS, stage="password", mfa="challenge_issued")
            return LoginResult(principal, mfa_challenge=challenge)
        if principal.mfa_required:
            event(Outcome.DENIED, reason="mfa_not_enrolled")
            raise MFANotEnrolled(
                "your roles require MFA; ask an administrator to enrol TOTP "
                "(voxseal user mfa-enroll)"
            )
        token = self.tokens.issue_access(principal.name, principal.roles)
        self.lockout.record_success(account=account)
        event(Outcome.SUCCESS, stage="complete", mfa=False, jti=token.jti)
        return LoginResult(principal, access_token=token)

    def complete_mfa(
        self,
        challenge: str,
        code: str,
        source_ip: str | None,
        *,
        correlation_id: str | None = None,
    ) -> IssuedToken:
        """Second step: a TOTP code or a recovery code for a live challenge → access token."""

        def event(outcome: Outcome, who: str | None, **details: Any) -> None:
            AuditContext(self._audit, who, source_ip, correlation_id).record(
                AuditAction.AUTH_MFA, target=who, outcome=outcome, **details
            )

        try:
            self.lockout.check(source_ip=source_ip)
        except AccountLocked as exc:
            event(Outcome.DENIED, None, reason=exc.reason, scope=exc.scope)
            raise
        try:
            principal_id = self.challenges.begin_attempt(challenge)
        except MFAError as exc:
            self.lockout.record_failure(source_ip=source_ip, correlation_id=correlation_id)
            event(Outcome.FAILURE, None, reason=exc.reason)
            raise
        principal = self.directory.get_by_id(principal_id)
        try:
            self.lockout.check(account=principal.name)
        except AccountLocked as exc:
            event(Outcome.DENIED, principal.name, reason=exc.reason, scope=exc.scope)
            raise
        if principal.disabled:
            event(Outcome.FAILURE, principal.name, reason="principal_disabled")
            raise InvalidCredentials("invalid username or password")
        method = "recovery_code" if looks_like_recovery_code(code) else "totp"
        try:
            if method == "recovery_code":
                if not self.directory.use_recovery_code(principal.id, code):
                    raise InvalidMFACode("invalid recovery code")
            else:
                self.directory.verify_totp(principal.id, code)
        except MFAError as exc:
            self.lockout.record_failure(
                account=principal.name, source_ip=source_ip, correlation_id=correlation_id
            )
            event(Outcome.FAILURE, principal.name, reason=exc.reason, method=method)
            raise
        if not self.challenges.consume(challenge):
            event(Outcome.FAILURE, principal.name, reason="mfa_challenge_invalid")
            raise MFAError("MFA challenge is invalid", reason="mfa_challenge_invalid")
        token = self.tokens.issue_access(principal.name, principal.roles)
        self.lockout.record_success(account=principal.name)
        details: dict[str, Any] = {"method": method, "jti": token.jti}
        if method == "recovery_code":
            details["recovery_codes_remaining"] = self.directory.recovery.remaining(principal.id)
        event(Outcome.SUCCESS, principal.name, **details)
        return token

    # -- machines -------------------------------------------------------------------------

    def authenticate_api_key(
        self, key: str, source_ip: str | None, *, correlation_id: str | None = None
    ) -> Principal:
        """The enabled service account owning ``key``; InvalidCredentials otherwise."""
        parsed = parse_key(key) if isinstance(key, str) else None
        key_id = parsed[0] if parsed else None

        def event(outcome: Outcome, who: str | None, **details: Any) -> None:
            if key_id is not None:
                details["key_id"] = key_id
            AuditContext(self._audit, who, source_ip, correlation_id).record(
                AuditAction.AUTH_APIKEY, target=who, outcome=outcome, **details
            )

        try:
            self.lockout.check(source_ip=source_ip)
        except AccountLocked as exc:
            event(Outcome.DENIED, None, reason=exc.reason, scope=exc.scope)
            raise
        try:
            principal, _ = self.directory.authenticate_api_key(key)
        except InvalidCredentials as exc:
            self.lockout.record_failure(source_ip=source_ip, correlation_id=correlation_id)
            event(Outcome.FAILURE, None, reason=exc.reason)
            raise
        event(Outcome.SUCCESS, principal.name)
        return principal

    def authenticate_token(
        self,
        token: str,
        source_ip: str | None,
        *,
        scope: Permission | str | None = None,
        correlation_id: str | None = None,
    ) -> AccessClaims:
        """Verify a bearer access token *and* that its principal still exists and is enabled.

        Roles are narrowed to those the principal holds now, so removing a role takes effect
        before the token expires. Refusals are audited as ``token.refused``.
        """
        try:
            claims = self.tokens.verify_access(token, scope=scope)
            principal = self.directory.find(claims.subject)
            if principal is None or principal.disabled:
                raise InvalidCredentials("principal is unknown or disabled", reason="token_invalid")
        except VoxsealError as exc:  # token errors, unknown/disabled principal
            AuditContext(self._audit, None, source_ip, correlation_id).record(
                AuditAction.TOKEN_REFUSED, outcome=Outcome.DENIED, reason=exc.reason, kind="access"
            )
            raise
        return AccessClaims(
            subject=claims.subject,
            roles=claims.roles & principal.roles,
            scope=claims.scope,
            jti=claims.jti,
            issued_at=claims.issued_at,
            expires_at=claims.expires_at,
            issuer=claims.issuer,
        )

    def logout(
        self,
        claims: AccessClaims,
        source_ip: str | None,
        *,
        correlation_id: str | None = None,
    ) -> None:
        """Revoke the presented access token on every node."""
        self.tokens.revoke(claims)
        AuditContext(self._audit, claims.subject, source_ip, correlation_id).record(
            AuditAction.TOKEN_REVOKE, target=claims.subject, jti=claims.jti, kind="access"
        )

    def mint_join_token(
        self,
        actor: Principal | AccessClaims,
        room: str,
        identity: str,
        grants: JoinGrants,
        *,
        ttl: float | None = None,
        source_ip: str | None = None,
        correlation_id: str | None = None,
    ) -> IssuedToken:
        """``POST /v1/rooms/{room}/tokens``: requires ``tokens:join:mint``; audited."""
        actor_name = actor.name if isinstance(actor, Principal) else actor.subject
        audit = AuditContext(self._audit, actor_name, source_ip, correlation_id)
        try:
            if isinstance(actor, Principal):
                if actor.disabled:
                    raise InvalidCredentials("principal is disabled", reason="principal_disabled")
                rbac.require(actor.roles, Permission.TOKENS_JOIN_MINT)
            else:
                actor.require(Permission.TOKENS_JOIN_MINT)
            issued = self.tokens.issue_join(room, identity, grants, ttl=ttl)
        except VoxsealError as exc:
            audit.record(
                AuditAction.TOKEN_ISSUE, outcome=Outcome.DENIED, reason=exc.reason, kind="join"
            )
            raise
        audit.record(
            AuditAction.TOKEN_ISSUE,
            target=identity,
            kind="join",
            room=room,
            grants=issued.claims.grants.names(),  # type: ignore[union-attr]
            jti=issued.jti,
            ttl=int(issued.expires_at - issued.claims.issued_at),
        )
        return issued

    # -- maintenance ----------------------------------------------------------------------

    def purge_expired(self) -> dict[str, int]:
        """Delete rows that no longer matter (expired revocations, challenges, counters).

        Safe to run from any node at any time, e.g. hourly; returns how many rows went.
        """
        purged = {
            "challenges": self.challenges.purge(),
            "lockouts": self.lockout.purge(),
            "revocations": 0,
        }
        if self.tokens.revocations is not None:
            purged["revocations"] = self.tokens.revocations.purge()
        return purged


__all__ = [
    "AuthPolicy",
    "Authenticator",
    "LoginResult",
    "PrincipalKind",
    "address_key",
    "normalise_name",
    "token_response",
]
