"""The login flows end to end on the real store, with every refusal and its audit trail."""

from __future__ import annotations

import dataclasses
import json
import statistics
import time

import pyotp
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.harness.audit import ListSink
from tests.identity.helpers import PASSWORD
from voxseal.audit.events import AuditEvent, Outcome
from voxseal.errors import (
    AccountLocked,
    InvalidCredentials,
    InvalidInput,
    InvalidMFACode,
    MFAError,
    MFANotEnrolled,
    MFAReplay,
    PermissionDenied,
    TokenExpired,
    TokenInvalid,
    TokenRevoked,
    TokenScopeError,
)
from voxseal.identity.auth import Authenticator, AuthPolicy, LoginResult
from voxseal.identity.directory import Directory
from voxseal.identity.passwords import PasswordHasher, PasswordParams
from voxseal.identity.rbac import Permission, Role
from voxseal.identity.tokens import JoinGrants

IP = "192.0.2.10"


@pytest.fixture
def admin(directory: Directory, clock) -> tuple[pyotp.TOTP, list[str]]:
    """An admin with confirmed TOTP: (authenticator client, recovery codes)."""
    directory.create_user("root", ["admin"], PASSWORD)
    enrolment = directory.begin_totp_enrolment("root")
    client = pyotp.parse_uri(enrolment.uri)
    codes = directory.confirm_totp_enrolment("root", client.at(clock.now))
    clock.advance(30)  # the confirming code is spent; start on a fresh step
    return client, codes


def all_text(events: list[AuditEvent]) -> str:
    return "\n".join(json.dumps(dataclasses.asdict(e), default=str) for e in events)


# -- password only --------------------------------------------------------------------------


def test_caller_logs_in_with_password(auth: Authenticator, directory, sink: ListSink) -> None:
    directory.create_user("carol", ["caller"], PASSWORD)
    result = auth.login("carol", PASSWORD, IP, correlation_id="req-1")
    assert not result.mfa_required and result.access_token is not None
    claims = auth.tokens.verify_access(result.access_token.token)
    assert claims.subject == "carol" and claims.roles == {Role.CALLER}
    body = result.as_response()
    assert body["access_token"] == result.access_token.token and body["token_type"] == "Bearer"
    event = sink.last("auth.login")
    assert event.outcome is Outcome.SUCCESS and event.actor == "carol"
    assert event.source == IP and event.correlation_id == "req-1"
    assert event.details["jti"] == claims.jti and event.details["mfa"] is False
    assert result.access_token.token not in repr(result)


def test_unknown_user_and_wrong_password_look_identical(auth, directory, sink) -> None:
    directory.create_user("carol", ["caller"], PASSWORD)
    directory.create_service("svc", ["backend"])
    directory.create_user("nopass", ["caller"])
    errors = []
    for username in ("carol", "nobody", "svc", "nopass"):
        with pytest.raises(InvalidCredentials) as exc:
            auth.login(username, "wrong password!!", IP)
        errors.append((type(exc.value), str(exc.value), exc.value.reason, exc.value.http_status))
    assert len(set(errors)) == 1, errors
    assert errors[0][2:] == ("invalid_credentials", 401)
    reasons = [e.details["reason"] for e in sink.events if e.action == "auth.login"]
    assert reasons == [
        "invalid_credentials",
        "unknown_principal",
        "invalid_credentials",
        "invalid_credentials",
    ]
    # names typed for unknown accounts are not recorded
    assert "nobody" not in all_text(sink.events)


def test_unknown_user_takes_as_long_as_wrong_password(db, sealer, tokens, sink, clock):
    from voxseal.identity.lockout import BruteForceLockout, LockoutPolicy

    slow = PasswordHasher(PasswordParams(time_cost=2, memory_cost=4096, parallelism=1))
    directory = Directory(db, slow, sealer, clock=clock)
    lockout = BruteForceLockout(db, LockoutPolicy(threshold=100, ip_threshold=100), clock=clock)
    directory.create_user("carol", ["caller"], PASSWORD)
    auth = Authenticator(directory, tokens, lockout, sink, clock=clock)

    def timed(username: str) -> float:
        samples = []
        for _ in range(7):
            t = time.perf_counter()
            with pytest.raises(InvalidCredentials):
                auth.login(username, "wrong password!!", IP)
            samples.append(time.perf_counter() - t)
        return statistics.median(samples)

    known, unknown = timed("carol"), timed("nobody-at-all")
    assert 0.5 < unknown / known < 2.0, (known, unknown)


def test_disabled_user_is_refused_like_a_wrong_password(auth, directory, sink) -> None:
    directory.create_user("carol", ["caller"], PASSWORD)
    directory.disable("carol")
    with pytest.raises(InvalidCredentials) as exc:
        auth.login("carol", PASSWORD, IP)
    assert str(exc.value) == "invalid username or password"
    assert sink.last("auth.login").details["reason"] == "principal_disabled"


def test_empty_and_oversized_passwords_are_invalid_input(auth, directory, sink) -> None:
    directory.create_user("carol", ["caller"], PASSWORD)
    for bad in ("", "x" * 5000):
        with pytest.raises(InvalidInput):
            auth.login("carol", bad, IP)
    assert sink.last("auth.login").outcome is Outcome.FAILURE


def test_mfa_role_without_enrolment_is_refused(auth, directory, sink) -> None:
    directory.create_user("sup", ["supervisor"], PASSWORD)
    with pytest.raises(MFANotEnrolled) as exc:
        auth.login("sup", PASSWORD, IP)
    assert exc.value.http_status == 403 and exc.value.reason == "mfa_not_enrolled"
    event = sink.last("auth.login")
    assert event.outcome is Outcome.DENIED and event.details["reason"] == "mfa_not_enrolled"
    directory.begin_totp_enrolment("sup")  # pending is not enough either
    with pytest.raises(MFANotEnrolled):
        auth.login("sup", PASSWORD, IP)


# -- password + TOTP ------------------------------------------------------------------------


def test_admin_login_with_totp(auth, admin, clock, sink) -> None:
    client, _ = admin
    result = auth.login("root", PASSWORD, IP)
    assert result.mfa_required and result.access_token is None
    body = result.as_response()
    assert body["mfa_required"] is True and len(body["challenge"]) >= 40
    assert body["expires_at"] <= clock.now + 300
    assert body["challenge"] not in repr(result)
    token = auth.complete_mfa(body["challenge"], client.at(clock.now), IP)
    claims = auth.tokens.verify_access(token.token)
    assert claims.subject == "root" and Role.ADMIN in claims.roles
    event = sink.last("auth.mfa")
    assert event.outcome is Outcome.SUCCESS and event.details["method"] == "totp"


def test_totp_code_cannot_be_replayed(auth, admin, clock) -> None:
    client, _ = admin
    code = client.at(clock.now)
    auth.complete_mfa(auth.login("root", PASSWORD, IP).mfa_challenge.value, code, IP)
    challenge = auth.login("root", PASSWORD, IP).mfa_challenge.value
    with pytest.raises(MFAReplay):
        auth.complete_mfa(challenge, code, IP)
    clock.advance(30)
    auth.complete_mfa(challenge, client.at(clock.now), IP)  # same challenge, next code


def test_wrong_code_and_outside_window(auth, admin, clock, sink) -> None:
    client, _ = admin
    challenge = auth.login("root", PASSWORD, IP).mfa_challenge.value
    stale = client.at(clock.now - 90)
    if stale not in {client.at(clock.now + d) for d in (-30, 0, 30)}:
        with pytest.raises(InvalidMFACode):
            auth.complete_mfa(challenge, stale, IP)
    with pytest.raises(InvalidMFACode):
        auth.complete_mfa(challenge, "12345", IP)
    assert sink.last("auth.mfa").outcome is Outcome.FAILURE
    assert sink.last("auth.mfa").details["reason"] == "invalid_mfa_code"


def test_wrong_expired_and_used_challenges(auth, admin, clock, sink) -> None:
    client, _ = admin
    for bad in ("nope", "x" * 43, "", "y" * 1000):
        with pytest.raises(MFAError) as exc:
            auth.complete_mfa(bad, client.at(clock.now), IP)
        assert exc.value.reason == "mfa_challenge_invalid" and exc.value.http_status == 401
    challenge = auth.login("root", PASSWORD, IP).mfa_challenge.value
    clock.advance(301)
    with pytest.raises(MFAError) as exc:
        auth.complete_mfa(challenge, client.at(clock.now), IP)
    assert exc.value.reason == "mfa_challenge_expired"
    challenge = auth.login("root", PASSWORD, IP).mfa_challenge.value
    auth.complete_mfa(challenge, client.at(clock.now), IP)
    clock.advance(30)
    with pytest.raises(MFAError) as exc:  # single use
        auth.complete_mfa(challenge, client.at(clock.now), IP)
    assert exc.value.reason == "mfa_challenge_invalid"


def test_challenge_is_bound_to_its_user(auth, admin, directory, clock) -> None:
    client, _ = admin
    directory.create_user("sup", ["supervisor"], PASSWORD)
    enrolment = directory.begin_totp_enrolment("sup")
    other = pyotp.parse_uri(enrolment.uri)
    directory.confirm_totp_enrolment("sup", other.at(clock.now - 30))
    challenge = auth.login("sup", PASSWORD, IP).mfa_challenge.value
    root_code = client.at(clock.now)
    if root_code != other.at(clock.now):
        with pytest.raises(InvalidMFACode):
            auth.complete_mfa(challenge, root_code, IP)
    token = auth.complete_mfa(challenge, other.at(clock.now), IP)
    assert auth.tokens.verify_access(token.token).subject == "sup"


def test_challenge_attempts_are_limited(auth, admin, clock) -> None:
    client, _ = admin
    challenge = auth.login("root", PASSWORD, IP).mfa_challenge.value
    good = client.at(clock.now)
    wrong = "000000" if good != "000000" else "111111"
    for _ in range(AuthPolicy().mfa_challenge_attempts):
        with pytest.raises(InvalidMFACode):
            auth.complete_mfa(challenge, wrong, f"198.51.100.{_}")
    auth.lockout.unlock(account="root")
    with pytest.raises(MFAError) as exc:
        auth.complete_mfa(challenge, good, IP)
    assert exc.value.reason == "mfa_challenge_invalid"


def test_recovery_code_login_is_single_use(auth, admin, clock, sink) -> None:
    _, codes = admin
    challenge = auth.login("root", PASSWORD, IP).mfa_challenge.value
    token = auth.complete_mfa(challenge, codes[0].lower(), IP)
    assert auth.tokens.verify_access(token.token).subject == "root"
    event = sink.last("auth.mfa")
    assert event.details["method"] == "recovery_code"
    assert event.details["recovery_codes_remaining"] == 9
    challenge = auth.login("root", PASSWORD, IP).mfa_challenge.value
    with pytest.raises(InvalidMFACode):
        auth.complete_mfa(challenge, codes[0], IP)
    auth.complete_mfa(challenge, codes[1], IP)


def test_disabled_between_password_and_code(auth, admin, directory, clock) -> None:
    client, _ = admin
    challenge = auth.login("root", PASSWORD, IP).mfa_challenge.value
    directory.create_user("deputy", ["admin"], PASSWORD)  # root may not be the last admin
    directory.disable("root")
    with pytest.raises(InvalidCredentials):
        auth.complete_mfa(challenge, client.at(clock.now), IP)


# -- lockout --------------------------------------------------------------------------------


def test_account_lockout_and_reset(auth, directory, clock, sink) -> None:
    directory.create_user("carol", ["caller"], PASSWORD)
    for i in range(3):
        with pytest.raises(InvalidCredentials):
            auth.login("carol", "wrong password!!", f"198.51.100.{i}")
    assert sink.last("auth.lockout").details["scope"] == "account"
    with pytest.raises(AccountLocked) as exc:
        auth.login("carol", PASSWORD, "203.0.113.99")  # right password, other address
    assert exc.value.scope == "account" and exc.value.http_status == 429
    event = sink.last("auth.login")
    assert event.outcome is Outcome.DENIED and event.details["reason"] == "locked_out"
    clock.advance(11)
    assert auth.login("carol", PASSWORD, IP).access_token is not None
    assert auth.lockout.failures(account="carol") == 0


def test_unknown_accounts_lock_too(auth) -> None:
    for i in range(3):
        with pytest.raises(InvalidCredentials):
            auth.login("ghost", "wrong password!!", f"198.51.100.{i}")
    with pytest.raises(AccountLocked):
        auth.login("ghost", "wrong password!!", IP)


def test_ip_lockout(auth, directory, sink) -> None:
    directory.create_user("carol", ["caller"], PASSWORD)
    for i in range(6):
        with pytest.raises(InvalidCredentials):
            auth.login(f"user{i}", "wrong password!!", IP)
    with pytest.raises(AccountLocked) as exc:
        auth.login("carol", PASSWORD, IP)
    assert exc.value.scope == "ip"
    assert any(e.details.get("scope") == "ip" for e in sink.events if e.action == "auth.lockout")
    assert auth.login("carol", PASSWORD, "192.0.2.11").access_token is not None


def test_mfa_failures_count_and_only_full_login_resets(auth, admin, clock) -> None:
    client, _ = admin
    good = client.at(clock.now)
    wrong = "000000" if good != "000000" else "111111"
    for i in range(3):
        challenge = auth.login("root", PASSWORD, f"198.51.100.{i}").mfa_challenge.value
        with pytest.raises(InvalidMFACode):
            auth.complete_mfa(challenge, wrong, f"198.51.100.{i}")
    with pytest.raises(AccountLocked):
        auth.login("root", PASSWORD, IP)
    clock.advance(11)
    challenge = auth.login("root", PASSWORD, IP).mfa_challenge.value
    assert auth.lockout.failures(account="root") == 3  # a right password alone resets nothing
    auth.complete_mfa(challenge, client.at(clock.now), IP)
    assert auth.lockout.failures(account="root") == 0


def test_locked_address_cannot_try_challenges(auth, admin, clock) -> None:
    client, _ = admin
    challenge = auth.login("root", PASSWORD, IP).mfa_challenge.value
    for _ in range(6):
        with pytest.raises(MFAError):
            auth.complete_mfa("forged-challenge-value-xxxxxxxx", "123456", "203.0.113.5")
    with pytest.raises(AccountLocked) as exc:
        auth.complete_mfa(challenge, client.at(clock.now), "203.0.113.5")
    assert exc.value.scope == "ip"


# -- API keys and bearer tokens -------------------------------------------------------------


def test_api_key_authentication(auth, directory, sink) -> None:
    directory.create_service("crm", ["backend"])
    new = directory.create_api_key("crm")
    principal = auth.authenticate_api_key(new.key, IP)
    assert principal.name == "crm"
    event = sink.last("auth.apikey")
    assert event.outcome is Outcome.SUCCESS and event.details["key_id"] == new.key_id
    wrong = new.key[:-4] + ("AAAA" if not new.key.endswith("AAAA") else "BBBB")
    with pytest.raises(InvalidCredentials):
        auth.authenticate_api_key(wrong, IP)
    assert sink.last("auth.apikey").outcome is Outcome.FAILURE
    directory.revoke_api_key(new.key_id)
    with pytest.raises(InvalidCredentials):
        auth.authenticate_api_key(new.key, IP)
    for _ in range(4):
        with pytest.raises(InvalidCredentials):
            auth.authenticate_api_key("vxk_garbage", IP)
    with pytest.raises(AccountLocked):
        auth.authenticate_api_key(directory.create_api_key("crm").key, IP)


def test_backend_mints_join_tokens(auth, directory, sink) -> None:
    directory.create_service("crm", ["backend"])
    principal = auth.authenticate_api_key(directory.create_api_key("crm").key, IP)
    issued = auth.mint_join_token(
        principal, "support-1", "caller-9", JoinGrants(publish=True, subscribe=True), ttl=300
    )
    claims = auth.tokens.verify_join(issued.token, room="support-1")
    assert claims.identity == "caller-9" and claims.grants.publish
    event = sink.last("token.issue")
    assert event.actor == "crm" and event.target == "caller-9"
    assert event.details == {
        "kind": "join",
        "room": "support-1",
        "grants": ["publish", "subscribe"],
        "jti": issued.jti,
        "ttl": 300,
    }


def test_minting_refused_without_permission(auth, directory, sink) -> None:
    directory.create_user("carol", ["caller"], PASSWORD)
    claims = auth.authenticate_token(auth.login("carol", PASSWORD, IP).access_token.token, IP)
    with pytest.raises(PermissionDenied):
        auth.mint_join_token(claims, "r", "x", JoinGrants(publish=True))
    agent = directory.create_service("agent-1", ["agent"])
    with pytest.raises(PermissionDenied):
        auth.mint_join_token(agent, "r", "x", JoinGrants(publish=True))
    assert sink.last("token.issue").outcome is Outcome.DENIED


def test_authenticate_token_checks_the_principal_now(auth, directory, sink, clock) -> None:
    directory.create_user("carol", ["caller", "auditor"], PASSWORD)
    directory.create_user("dave", ["caller"], PASSWORD)
    token = auth.tokens.issue_access("carol", ["caller", "auditor"]).token
    claims = auth.authenticate_token(token, IP, scope=Permission.AUDIT_READ)
    assert claims.roles == {Role.CALLER, Role.AUDITOR}
    directory.set_roles("carol", ["caller"])
    narrowed = auth.authenticate_token(token, IP)
    assert narrowed.roles == {Role.CALLER}
    with pytest.raises(PermissionDenied):
        narrowed.require(Permission.AUDIT_READ)
    directory.disable("carol")
    with pytest.raises(InvalidCredentials):
        auth.authenticate_token(token, IP)
    assert sink.last("token.refused").outcome is Outcome.DENIED
    narrow = auth.tokens.issue_access("dave", ["caller"], scope=[Permission.ROOMS_JOIN]).token
    with pytest.raises(TokenScopeError):
        auth.authenticate_token(narrow, IP, scope=Permission.CONSENTS_WRITE)
    with pytest.raises(TokenInvalid):
        auth.authenticate_token("garbage", IP)
    clock.advance(2000)
    with pytest.raises(TokenExpired):
        auth.authenticate_token(narrow, IP)
    assert sink.last("token.refused").details["reason"] == "token_expired"


def test_logout_revokes(auth, directory, sink) -> None:
    directory.create_user("carol", ["caller"], PASSWORD)
    token = auth.login("carol", PASSWORD, IP).access_token.token
    auth.logout(auth.authenticate_token(token, IP), IP)
    with pytest.raises(TokenRevoked):
        auth.authenticate_token(token, IP)
    assert sink.last("token.revoke").details["kind"] == "access"


# -- no secrets anywhere --------------------------------------------------------------------


def test_no_secret_reaches_events_exceptions_or_reprs(auth, directory, admin, sink, clock):
    client, codes = admin
    directory.create_service("crm", ["backend"])
    key = directory.create_api_key("crm").key
    secrets_seen: list[str] = [PASSWORD, "wrong password!!", client.secret, key, *codes]
    messages: list[str] = []

    def attempt(fn, *args) -> object:
        try:
            return fn(*args)
        except Exception as exc:
            messages.append(f"{exc!r} {exc}")
            return None

    attempt(auth.login, "root", "wrong password!!", IP)
    result = auth.login("root", PASSWORD, IP)
    challenge = result.mfa_challenge.value
    code = client.at(clock.now)
    secrets_seen += [challenge, code]
    attempt(auth.complete_mfa, challenge, "000000" if code != "000000" else "111111", IP)
    token = auth.complete_mfa(challenge, code, IP)
    secrets_seen.append(token.token)
    attempt(auth.complete_mfa, challenge, code, IP)
    attempt(auth.complete_mfa, auth.login("root", PASSWORD, IP).mfa_challenge.value, code, IP)
    attempt(auth.authenticate_api_key, key[:-2] + "zz", IP)
    auth.authenticate_api_key(key, IP)
    attempt(auth.authenticate_token, token.token[:-3] + "abc", IP)
    issued = auth.mint_join_token(
        auth.authenticate_api_key(key, IP), "r", "bob", JoinGrants(subscribe=True)
    )
    secrets_seen.append(issued.token)
    reprs = [repr(o) for o in (auth, result, token, issued, auth.directory, auth.tokens)]
    haystack = all_text(sink.events) + "\n".join(messages) + "\n".join(reprs)
    assert len(sink.events) >= 10 and messages
    for secret in secrets_seen:
        assert secret not in haystack, secret[:6]
    assert "eyJ" not in haystack


def test_with_the_real_audit_log(database_url, hasher, sealer, clock) -> None:
    """The same flows through voxseal.audit.log.AuditLog: its guard accepts every event and
    the chain verifies afterwards."""
    from voxseal.audit.log import AuditLog
    from voxseal.audit.verify import verify_chain
    from voxseal.gateway import SCHEMAS
    from voxseal.identity.lockout import BruteForceLockout
    from voxseal.identity.tokens import RevocationList, TokenAuthority
    from voxseal.store import open_store

    db = open_store(database_url, SCHEMAS)  # the gateway's components
    key = Ed25519PrivateKey.generate()
    log = AuditLog(db, key, checkpoint_every=5)
    try:
        directory = Directory(db, hasher, sealer, clock=clock)
        tokens = TokenAuthority(
            Ed25519PrivateKey.generate(),
            "voxseal",
            revocations=RevocationList(db, clock=clock),
            clock=clock,
        )
        lockout = BruteForceLockout(db, audit=log, clock=clock)
        auth = Authenticator(directory, tokens, lockout, log, clock=clock)
        directory.create_user("root", ["admin"], PASSWORD)
        enrolment = directory.begin_totp_enrolment("root")
        client = pyotp.parse_uri(enrolment.uri)
        codes = directory.confirm_totp_enrolment("root", client.at(clock.now))
        clock.advance(30)
        for _ in range(5):
            with pytest.raises(InvalidCredentials):
                auth.login("root", "wrong password!!", IP)
        with pytest.raises(AccountLocked):
            auth.login("root", PASSWORD, IP)
        clock.advance(3600)
        challenge = auth.login("root", PASSWORD, IP).mfa_challenge.value
        with pytest.raises(InvalidMFACode):
            auth.complete_mfa(challenge, "1234567", IP)
        token = auth.complete_mfa(challenge, codes[0], IP)
        directory.create_service("crm", ["backend"])
        principal = auth.authenticate_api_key(directory.create_api_key("crm").key, IP)
        auth.mint_join_token(principal, "room-1", "bob", JoinGrants(publish=True))
        auth.logout(auth.authenticate_token(token.token, IP), IP)
        with pytest.raises(TokenRevoked):
            auth.authenticate_token(token.token, IP)
        actions = {r.action for r in log.query(limit=1000)}
        assert {
            "auth.login",
            "auth.lockout",
            "auth.mfa",
            "auth.apikey",
            "token.issue",
            "token.revoke",
            "token.refused",
        } <= actions
    finally:
        log.close()
    report = verify_chain(db, key.public_key())
    assert report.ok, report
    db.close()


def test_login_result_shape() -> None:
    assert LoginResult.__slots__  # frozen, slotted: nothing hidden can be attached


def test_concurrent_use_of_one_challenge_yields_one_token(auth, admin, clock) -> None:
    import threading

    client, codes = admin
    challenge = auth.login("root", PASSWORD, IP).mfa_challenge.value
    # different valid credentials, so only the challenge's single use can stop the second
    attempts = [client.at(clock.now), codes[0], codes[1]]
    results: list[object] = []
    barrier = threading.Barrier(len(attempts))

    def go(code: str) -> None:
        barrier.wait()
        try:
            results.append(auth.complete_mfa(challenge, code, IP))
        except MFAError as exc:
            results.append(exc)

    threads = [threading.Thread(target=go, args=(c,)) for c in attempts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(not isinstance(r, Exception) for r in results) == 1, results


def test_purge_expired(auth, directory, admin, clock) -> None:
    auth.login("root", PASSWORD, IP)
    with pytest.raises(InvalidCredentials):
        auth.login("root", "wrong password!!", IP)
    token = auth.tokens.issue_access("root", ["admin"])
    auth.tokens.revoke(token.claims)
    assert auth.purge_expired() == {"challenges": 0, "lockouts": 0, "revocations": 0}
    clock.advance(3600)
    assert auth.purge_expired() == {"challenges": 1, "lockouts": 2, "revocations": 1}
