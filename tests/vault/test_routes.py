"""The vault's REST endpoints in the real application (in process, real store and audit log)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from voxseal.app import create_app
from voxseal.config import load_settings
from voxseal.gateway import Gateway
from voxseal.identity.rbac import Role
from voxseal.signaling.routes import ROUTERS
from voxseal.signaling.routes import vault as vault_routes
from voxseal.vault import Vault, open_vault

CHEAP = {
    "VOXSEAL_PASSWORDS_TIME_COST": "1",
    "VOXSEAL_PASSWORDS_MEMORY_COST_KIB": "1024",
    "VOXSEAL_PASSWORDS_PARALLELISM": "1",
}
AUDIO = b"RIFF....WAVEfmt " + bytes(range(200))


@dataclass
class App:
    gw: Gateway
    vault: Vault
    client: TestClient

    def token(self, name: str, roles: set[Role], scope: tuple[str, ...] | None = None) -> str:
        if self.gw.directory.find(name) is None:
            if roles <= {Role.AGENT, Role.BACKEND}:
                self.gw.directory.create_service(name, roles)
            else:
                self.gw.directory.create_user(name, roles, "correct horse battery staple")
        kw = {"scope": scope} if scope else {}
        return self.gw.tokens.issue_access(name, roles, **kw).token

    def get(self, path: str, token: str) -> object:
        return self.client.get(path, headers={"authorization": f"Bearer {token}"})

    def delete(self, path: str, token: str) -> object:
        return self.client.delete(path, headers={"authorization": f"Bearer {token}"})

    def events(self, action: str) -> list:
        return self.gw.audit.query(action=action, limit=1000)


@pytest.fixture
def app(data_dir: Path) -> Iterator[App]:
    settings = load_settings(env=CHEAP, overrides={"data_dir": str(data_dir)})
    gw = Gateway.open(settings)
    try:
        vault = open_vault(gw.db, gw.audit, data_dir)
        application = create_app(gw, close_on_shutdown=False)
        if vault_routes.router not in ROUTERS:  # until the lead registers the router
            application.include_router(vault_routes.router)
        application.state.vault = vault
        yield App(gw, vault, TestClient(application))
    finally:
        gw.close()


def _objects(app: App) -> dict[str, str]:
    put = app.vault.put
    return {
        "rec": put("subj-a", "recording", AUDIO, content_type="audio/wav", actor="agent"),
        "tr": put(
            "subj-a",
            "transcript",
            json.dumps({"text": "card [CARD]"}).encode(),
            content_type="application/json",
            actor="agent",
            metadata={"call_id": "c1"},
        ),
        "raw": put(
            "subj-a", "transcript_unredacted", b"card 4111", content_type="text/plain", actor="a"
        ),
        "vp": put("subj-a", "voiceprint", b"\x01\x02", content_type="application/x-vp", actor="a"),
        "bob": put("subj-b", "recording", AUDIO, content_type="audio/wav", actor="agent"),
    }


def test_recording_download(app: App) -> None:
    ids = _objects(app)
    sup = app.token("sup", {Role.SUPERVISOR})
    r = app.get(f"/v1/recordings/{ids['rec']}", sup)
    assert r.status_code == 200, r.text
    assert r.content == AUDIO
    assert r.headers["content-type"] == "audio/wav"
    assert r.headers["cache-control"] == "no-store"
    ev = app.events("vault.read")[-1]
    assert (ev.actor, ev.target, ev.outcome) == ("sup", ids["rec"], "success")
    assert ev.source == "testclient" and ev.correlation_id
    assert ev.details == {"subject_id": "subj-a", "kind": "recording"}
    # a transcript id on the recordings endpoint is not a recording
    r = app.get(f"/v1/recordings/{ids['tr']}", sup)
    assert (r.status_code, r.json()["error"]) == (404, "vault_object_not_found")
    r = app.get("/v1/recordings/nope", sup)
    assert r.status_code == 404


@pytest.mark.parametrize("role", [Role.ADMIN, Role.AUDITOR, Role.CALLER])
def test_refusals_are_typed_and_audited(app: App, role: Role) -> None:
    ids = _objects(app)
    tok = app.token(f"u-{role.value}", {role})
    for path in (
        f"/v1/recordings/{ids['rec']}",
        f"/v1/transcripts/{ids['tr']}",
        "/v1/subjects/subj-a/objects",
    ):
        r = app.get(path, tok)
        assert r.status_code == 403 and r.json()["error"] in ("permission_denied", "forbidden")
    r = app.delete("/v1/subjects/subj-a/vault", tok)
    assert r.status_code == 403
    refused = [e for e in app.events("http.refused") if e.actor == f"u-{role.value}"]
    assert len(refused) == 4 and {e.details["status"] for e in refused} == {403}


def test_agent_service_key_cannot_read_back(app: App) -> None:
    ids = _objects(app)
    app.gw.directory.create_service("agent-svc", {Role.AGENT})
    key = app.gw.directory.create_api_key("agent-svc").key
    assert app.get(f"/v1/recordings/{ids['rec']}", key).status_code == 403


def test_transcripts_as_json(app: App) -> None:
    ids = _objects(app)
    sup = app.token("sup", {Role.SUPERVISOR})
    r = app.get(f"/v1/transcripts/{ids['tr']}", sup)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["transcript"] == {"text": "card [CARD]"} and body["metadata"] == {"call_id": "c1"}
    assert body["kind"] == "transcript" and r.headers["cache-control"] == "no-store"
    r = app.get(f"/v1/transcripts/{ids['raw']}", sup)
    assert (r.status_code, r.json()["error"]) == (403, "unredacted_not_allowed")
    ev = app.events("vault.read")[-1]
    assert ev.outcome == "denied" and ev.details["reason"] == "unredacted_not_allowed"
    app.vault.allow_unredacted = True
    r = app.get(f"/v1/transcripts/{ids['raw']}", sup)
    assert r.status_code == 200 and r.json()["text"] == "card 4111"
    assert app.get(f"/v1/transcripts/{ids['rec']}", sup).status_code == 404


def test_listing_follows_roles_and_token_scope(app: App) -> None:
    ids = _objects(app)
    sup = app.token("sup", {Role.SUPERVISOR})
    r = app.get("/v1/subjects/subj-a/objects", sup)
    assert r.status_code == 200, r.text
    listed = r.json()["objects"]
    assert {o["id"] for o in listed} == {ids["rec"], ids["tr"], ids["raw"], ids["vp"]}
    assert all("data" not in o for o in listed)
    narrow = app.token("sup", {Role.SUPERVISOR}, scope=("recordings:read",))
    r = app.get("/v1/subjects/subj-a/objects", narrow)
    assert {o["kind"] for o in r.json()["objects"]} == {"recording", "voiceprint"}
    r = app.get("/v1/subjects/bad%20id/objects", sup)
    assert (r.status_code, r.json()["error"]) == (422, "bad_subject_id")


def test_shred_over_http(app: App) -> None:
    ids = _objects(app)
    sup = app.token("sup", {Role.SUPERVISOR})
    r = app.delete("/v1/subjects/subj-a/vault", sup)
    assert r.status_code == 204 and r.content == b""
    ev = app.events("vault.shred")[-1]
    assert (ev.actor, ev.target, ev.outcome) == ("sup", "subj-a", "success")
    assert ev.details == {"keys_destroyed": 1, "objects": 4}
    r = app.get(f"/v1/recordings/{ids['rec']}", sup)
    assert (r.status_code, r.json()["error"]) == (410, "vault_object_shredded")
    assert app.get(f"/v1/recordings/{ids['bob']}", sup).content == AUDIO
    listed = app.get("/v1/subjects/subj-a/objects", sup).json()["objects"]
    assert listed and all(o["shredded"] for o in listed)


def test_no_vault_configured_is_503(app: App) -> None:
    app.client.app.state.vault = None  # type: ignore[attr-defined]
    sup = app.token("sup", {Role.SUPERVISOR})
    r = app.get("/v1/subjects/subj-a/objects", sup)
    assert (r.status_code, r.json()["error"]) == (503, "vault_unavailable")
