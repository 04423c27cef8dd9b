"""The REST API over real TLS: login with TOTP (codes from pyotp, an independent client), join
tokens minted with an API key, refusals with typed reasons, and the audit trail they leave."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
import pyotp
import pytest
from tests.harness.gateway import PASSWORD, RunningGateway, start_gateway

from voxseal.identity.rbac import Role


def test_login_with_mfa_then_admin_actions(gateway_server: RunningGateway) -> None:
    gateway_server.add_principal("alice", {Role.ADMIN})
    secret = gateway_server.totp_secrets["alice"]
    with gateway_server.client() as c:
        first = c.post("/v1/auth/login", json={"username": "alice", "password": PASSWORD})
        assert first.status_code == 200
        body = first.json()
        assert body["mfa_required"] is True and "access_token" not in body
        wrong = c.post("/v1/auth/mfa", json={"challenge": body["challenge"], "code": "000000"})
        assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_mfa_code"
        code = pyotp.TOTP(secret).now()
        ok = c.post("/v1/auth/mfa", json={"challenge": body["challenge"], "code": code})
        assert ok.status_code == 200, ok.text
        token = ok.json()["access_token"]
        # the same code again, on a fresh challenge, is refused: no code accepted twice
        again = c.post("/v1/auth/login", json={"username": "alice", "password": PASSWORD}).json()
        replay = c.post("/v1/auth/mfa", json={"challenge": again["challenge"], "code": code})
        assert replay.status_code == 401 and replay.json()["error"] == "mfa_code_reused"

    with gateway_server.client(token) as c:
        me = c.get("/v1/auth/me").json()
        assert me["name"] == "alice" and me["roles"] == ["admin"]
        created = c.post(
            "/v1/users",
            json={"name": "bob", "roles": ["caller"], "password": "another long passphrase"},
        )
        assert created.status_code == 201, created.text
        assert created.json()["roles"] == ["caller"]
        dup = c.post("/v1/users", json={"name": "bob", "roles": ["caller"], "password": PASSWORD})
        assert dup.status_code == 409
        bad_role = c.post("/v1/users", json={"name": "carol", "roles": ["root"]})
        assert bad_role.status_code == 422 and bad_role.json()["error"] == "invalid_input"
        assert "root" not in bad_role.text or "field" in bad_role.text
        changed = c.put("/v1/users/bob/roles", json={"roles": ["supervisor"]})
        assert changed.status_code == 200 and changed.json()["roles"] == ["supervisor"]
        names = {u["name"] for u in c.get("/v1/users").json()["users"]}
        assert {"alice", "bob"} <= names
        assert c.post("/v1/auth/logout").status_code == 204
        after = c.get("/v1/auth/me")
        assert after.status_code == 401 and after.json()["error"] == "token_revoked"


def test_password_login_without_mfa_role_gets_token(gateway_server: RunningGateway) -> None:
    gateway_server.add_principal("cal", {Role.CALLER})
    with gateway_server.client() as c:
        r = c.post("/v1/auth/login", json={"username": "cal", "password": PASSWORD})
    assert r.status_code == 200 and r.json()["token_type"] == "Bearer"


def test_role_needing_mfa_without_enrolment_is_refused(gateway_server: RunningGateway) -> None:
    gw = gateway_server.open()
    try:
        gw.directory.create_user("noenrol", {Role.AUDITOR}, PASSWORD)
    finally:
        gw.close()
    with gateway_server.client() as c:
        r = c.post("/v1/auth/login", json={"username": "noenrol", "password": PASSWORD})
    assert r.status_code == 403 and r.json()["error"] == "mfa_not_enrolled"


def test_wrong_password_and_unknown_user_look_the_same(gateway_server: RunningGateway) -> None:
    gateway_server.add_principal("dora", {Role.CALLER})
    with gateway_server.client() as c:
        wrong = c.post("/v1/auth/login", json={"username": "dora", "password": "x" * 20})
        unknown = c.post("/v1/auth/login", json={"username": "nobody", "password": "x" * 20})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.headers["www-authenticate"].startswith("Bearer")


def test_account_lockout_with_backoff(tmp_path: Path) -> None:
    gw = start_gateway(
        tmp_path / "data",
        extra_env={"VOXSEAL_LOCKOUT_THRESHOLD": "3", "VOXSEAL_LOCKOUT_BASE_DELAY": "60s"},
    )
    try:
        gw.add_principal("erin", {Role.CALLER})
        with gw.client() as c:
            statuses = [
                c.post("/v1/auth/login", json={"username": "erin", "password": "wrong" * 4})
                for _ in range(4)
            ]
            locked = c.post("/v1/auth/login", json={"username": "erin", "password": PASSWORD})
        assert [r.status_code for r in statuses[:3]] == [401, 401, 401]
        assert statuses[3].status_code == 429
        # even the right password is refused while locked, with a Retry-After
        assert locked.status_code == 429 and locked.json()["error"] == "locked_out"
        assert int(locked.headers["retry-after"]) > 0
        g = gw.open()
        try:
            lockouts = g.audit.query(action="auth.lockout")
        finally:
            g.close()
        assert lockouts, "a lockout is an audit event"
    finally:
        gw.stop()


def test_join_token_minted_with_api_key(gateway_server: RunningGateway) -> None:
    key = gateway_server.api_key("app-backend")
    wrong_secret = key[: -len("x")] + ("B" if key[-1] != "B" else "C")
    with gateway_server.client(wrong_secret) as c:
        r = c.post("/v1/rooms/r/tokens", json={"identity": "x", "grants": ["publish"]})
        assert r.status_code == 401 and r.json()["error"] == "invalid_api_key"
    with gateway_server.client(key) as c:
        r = c.post(
            "/v1/rooms/support-42/tokens",
            json={"identity": "caller-7", "grants": ["publish", "subscribe"], "ttl": 300},
        )
        assert r.status_code == 201, r.text
        body = r.json()
        claims = jwt.decode(body["token"], options={"verify_signature": False})
        assert claims["room"] == "support-42" and claims["sub"] == "caller-7"
        assert claims["grants"] == {"publish": True, "subscribe": True, "admin": False}
        assert claims["exp"] - claims["iat"] == 300
        assert claims["aud"] == "voxseal:rtc"
        too_long = c.post(
            "/v1/rooms/r/tokens", json={"identity": "x", "grants": ["publish"], "ttl": 10**7}
        )
        assert too_long.status_code == 422 and too_long.json()["error"] == "token_ttl"
        bad_room = c.post(
            "/v1/rooms/bad room!/tokens", json={"identity": "x", "grants": ["publish"]}
        )
        assert bad_room.status_code == 422
        no_grant = c.post("/v1/rooms/r/tokens", json={"identity": "x", "grants": []})
        assert no_grant.status_code == 422
    gw = gateway_server.open()
    try:
        verified = gw.tokens.verify_join(body["token"], room="support-42")
        assert verified.identity == "caller-7"
    finally:
        gw.close()


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing_credentials"),
        ("Bearer not-a-jwt", "token_invalid"),
        ("Bearer vxk_0123456789abcdef_" + "A" * 43, "invalid_api_key"),
        ("Basic YWxpY2U6cGFzcw==", "missing_credentials"),
    ],
)
def test_bad_credentials_are_refused_with_reason(
    gateway_server: RunningGateway, header: str | None, reason: str
) -> None:
    headers = {"authorization": header} if header else {}
    with gateway_server.client() as c:
        r = c.get("/v1/users", headers=headers)
    assert r.status_code == 401
    assert r.json()["error"] == reason


def test_tokens_from_another_key_or_expired_are_refused(gateway_server: RunningGateway) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from voxseal.identity.tokens import JoinGrants, TokenAuthority

    gateway_server.add_principal("frank", {Role.CALLER})
    forger = TokenAuthority(Ed25519PrivateKey.generate(), "voxseal")
    forged = forger.issue_access("frank", {Role.CALLER}).token
    gw = gateway_server.open()
    try:
        expired = (
            TokenAuthority(
                gw.tokens._key,  # the real key, a clock in the past
                "voxseal",
                clock=lambda: time.time() - 3600,
            )
            .issue_access("frank", {Role.CALLER}, ttl=60)
            .token
        )
        join = gw.tokens.issue_join("room1", "frank", JoinGrants(publish=True)).token
    finally:
        gw.close()
    with gateway_server.client() as c:
        for token, reason in ((forged, "token_invalid"), (expired, "token_expired")):
            r = c.get("/v1/auth/me", headers={"authorization": f"Bearer {token}"})
            assert r.status_code == 401 and r.json()["error"] == reason
        # a join token is not an access token
        r = c.get("/v1/auth/me", headers={"authorization": f"Bearer {join}"})
        assert r.status_code == 401 and r.json()["error"] == "token_invalid"


def test_refusals_are_audited_and_audit_is_readable(gateway_server: RunningGateway) -> None:
    auditor = gateway_server.token_for("audra", {Role.AUDITOR})
    with gateway_server.client() as c:
        c.get("/v1/users", headers={"authorization": "Bearer garbage"})
    with gateway_server.client(auditor) as c:
        r = c.get("/v1/audit", params={"action": "http.refused", "limit": 1000})
        assert r.status_code == 200
        refused = r.json()["records"]
        assert any(
            rec["details"].get("reason") == "token_invalid" and rec["target"] == "GET /v1/users"
            for rec in refused
        )
        logins = c.get("/v1/audit", params={"action": "auth.mfa", "actor": "audra"}).json()
        assert logins["records"] and logins["records"][-1]["outcome"] == "success"
        page = c.get("/v1/audit", params={"limit": 2}).json()
        assert len(page["records"]) == 2 and page["next_after"] == page["records"][-1]["seq"]
        nxt = c.get("/v1/audit", params={"limit": 2, "after": page["next_after"]}).json()
        assert nxt["records"][0]["seq"] > page["next_after"]
        verify = c.get("/v1/audit/verify").json()
        assert verify["ok"] is True and verify["records_checked"] > 0
        bad = c.get("/v1/audit", params={"limit": 5000})
        assert bad.status_code == 422
    # no secret ever reaches the log
    gw = gateway_server.open()
    try:
        dump = str([r.as_dict() for r in gw.audit.query(limit=1000)])
    finally:
        gw.close()
    assert PASSWORD not in dump and auditor not in dump
