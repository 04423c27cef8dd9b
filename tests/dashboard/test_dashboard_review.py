"""Findings of the adversarial review of the dashboard, each shown refusing over real HTTPS.

Every test here failed against the dashboard as first written; the docstrings say what an
attacker (or an unlucky administrator) could do before the fix.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from html.parser import HTMLParser

import pytest

from tests.dashboard.helpers import Viewer, csrf_in, enrol, new_person, to_login
from tests.harness.gateway import RunningGateway, start_gateway
from tests.harness.rooms import join
from voxseal.audit.events import Outcome
from voxseal.identity.rbac import Role


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    g = start_gateway(
        tmp_path_factory.mktemp("dash-review") / "data",
        # no checkpoint mid-module: a new one makes the audit page's next check a full one
        extra_env={
            "VOXSEAL_LOCKOUT_IP_THRESHOLD": "1000",
            "VOXSEAL_AUDIT_CHECKPOINT_EVERY": "100000",
        },
    )
    try:
        yield g
    finally:
        g.stop()


def _principal(gw: RunningGateway, name: str) -> tuple[frozenset[Role], bool]:
    g = gw.open()
    try:
        p = g.directory.get(name)
        return p.roles, p.disabled
    finally:
        g.close()


def _disable(gw: RunningGateway, name: str) -> None:
    g = gw.open()
    try:
        g.directory.set_disabled(name, True)
    finally:
        g.close()


def test_the_last_enabled_admin_cannot_demote_or_disable_themselves(gw: RunningGateway) -> None:
    """Before: the only administrator could untick their own ``admin`` box (or press "Disable"
    on their own row) and nobody could manage users any more, short of editing the database."""
    first = new_person(gw, "review-admin-one", {Role.ADMIN})
    second = new_person(gw, "review-admin-two", {Role.ADMIN})
    with Viewer(gw).signed_in(first) as a:
        # while another admin is enabled, stepping down is allowed
        r = a.post(f"/admin/users/{second}/roles", {"roles": ["auditor"]})
        assert r.status_code == 303
        assert _principal(gw, second)[0] == {Role.AUDITOR}
        # now `first` is the last enabled admin: neither change is made
        r = a.post(f"/admin/users/{first}/roles", {"roles": ["auditor"]})
        assert r.status_code == 303
        page = a.get("/admin/users").text
        assert "Not changed" in page and "no enabled administrator" in page
        assert _principal(gw, first)[0] == {Role.ADMIN}
        r = a.post(f"/admin/users/{first}/disabled", {"disabled": "true"})
        assert r.status_code == 303
        assert "no enabled administrator" in a.get("/admin/users").text
        assert _principal(gw, first) == ({Role.ADMIN}, False)
        # a disabled admin does not count as one who can still manage users
        r = a.post(f"/admin/users/{second}/roles", {"roles": ["admin"]})
        assert _principal(gw, second)[0] == {Role.ADMIN}
        _disable(gw, second)
        r = a.post(f"/admin/users/{first}/roles", {"roles": ["supervisor"]})
        assert _principal(gw, first)[0] == {Role.ADMIN}
        # the session still works: nothing was changed
        assert a.get("/admin/users").status_code == 200
    refusals = [
        r
        for r in _audit(gw, "http.refused")
        if r["actor"] == first and r["details"]["reason"] == "last_admin"
    ]
    assert len(refusals) == 3


def _audit(gw: RunningGateway, action: str) -> list[dict]:
    g = gw.open()
    try:
        return [r.as_dict() for r in g.audit.query(action=action, limit=1000)]
    finally:
        g.close()


def test_audit_paging_refuses_odd_record_numbers(gw: RunningGateway) -> None:
    """Before: ``str.isdigit`` accepts "²" and "٣" (then ``int`` raises or reads a digit the
    user never typed), and digit strings too long for ``int`` or for a 64-bit SQL parameter
    went through, so a crafted link answered 500."""
    name = new_person(gw, "review-auditor-paging", {Role.AUDITOR})
    with Viewer(gw).signed_in(name) as v:
        for before in ("²", "٣", "9" * 5000, "9" * 25, "-1", " 12"):
            r = v.get("/admin/audit", params={"before": before})
            assert r.status_code == 422, (before[:30], r.status_code)
            assert "must be a record number" in r.text
        assert v.get("/admin/audit", params={"before": "3"}).status_code == 200


def test_methods_other_than_the_intended_ones_are_refused(gw: RunningGateway) -> None:
    name = new_person(gw, "review-admin-methods", {Role.ADMIN})
    with Viewer(gw).signed_in(name) as v:
        for method, path in (
            ("PUT", "/admin/users"),
            ("DELETE", "/admin/users/review-admin-methods/roles"),
            ("HEAD", "/admin/users/review-admin-methods/disabled"),
            ("GET", "/admin/logout"),
            ("PATCH", "/admin/login"),
        ):
            r = v.http.request(method, path)
            assert r.status_code == 405, (method, path, r.status_code)
        assert v.get("/admin").status_code == 200  # GET /admin/logout did not sign out
        assert not to_login(v.get("/admin"))


def test_forms_are_small_and_urlencoded_or_refused(gw: RunningGateway) -> None:
    """Before: the login form, reachable by anyone, took multipart bodies with files of any
    size (Starlette spools them to disk) and up to 1000 fields of 1 MiB each; now only our
    own forms' encoding and size are read, and the refusal is a page plus an audit event."""
    name = new_person(gw, "review-admin-forms", {Role.ADMIN})
    with Viewer(gw) as v:
        form = v.get("/admin/login")
        token = csrf_in(form.text)
        fields = {"username": name, "password": "x" * 20, "code": "000000", "csrf_token": token}
        r = v.http.post(
            "/admin/login", data=fields, files={"f": ("a.bin", b"\0" * 2_000_000, "x/y")}
        )
        assert r.status_code == 415 and "URL-encoded" in r.text
        r = v.http.post("/admin/login", data={**fields, "username": "u" * 100_000})
        assert r.status_code == 413
        r = v.http.post(
            "/admin/login",
            content=b"&".join([b"a=b"] * 40) + b"&csrf_token=" + token.encode(),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert r.status_code == 413
        # no Content-Length (chunked): the per-field limit still holds
        r = v.http.post(
            "/admin/login",
            content=iter([b"username=", b"u" * 10_000, b"u" * 10_000]),
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert r.status_code == 413
    with Viewer(gw).signed_in(name) as a:
        token = csrf_in(a.get("/admin").text)
        r = a.http.post(
            "/admin/users",
            data={"name": "review-multipart", "roles": "caller", "csrf_token": token},
            files={"password": ("p", b"long-enough-password", "text/plain")},
        )
        assert r.status_code == 415
        assert "review-multipart" not in a.get("/admin/users").text
        assert a.post("/admin/users", {"name": "review-json"}, csrf=True).status_code == 303
    reasons = {r["details"]["reason"] for r in _audit(gw, "http.refused")}
    assert {"unsupported_media_type", "body_too_large"} <= reasons


def test_resetting_the_second_factor_ends_open_sessions(gw: RunningGateway) -> None:
    """Before: after an administrator reset someone's TOTP (``Directory.reset_mfa``: the phone
    was lost or stolen) the sessions opened with it stayed valid for up to eight hours."""
    name = new_person(gw, "review-auditor-mfa", {Role.AUDITOR})
    with Viewer(gw).signed_in(name) as v:
        assert v.get("/admin/audit").status_code == 200
        g = gw.open()
        try:
            g.directory.reset_mfa(name)
        finally:
            g.close()
        r = v.get("/admin/audit")
        assert to_login(r) and r.headers["location"] == "/admin/login?ended=1"
        # and it stays ended once TOTP is enrolled again
        gw.totp_secrets.pop(name)
        enrol(gw, name)
        cookie = r.request.headers["cookie"]
        with Viewer(gw) as thief:
            assert to_login(thief.get("/admin", headers={"cookie": cookie}))
    ended = [
        r
        for r in _audit(gw, "dashboard.session")
        if r["details"]["reason"] == "mfa_reset" and r["outcome"] == "denied"
    ]
    assert ended


def test_audit_page_views_do_not_re_hash_the_whole_log(gw: RunningGateway) -> None:
    """Before: every view of the audit page re-read and re-hashed every record (seconds per
    view on a log of a million records, one worker thread each); now a view hashes only the
    records written since the previous one, and says when the last full check ran."""
    name = new_person(gw, "review-auditor-verify", {Role.AUDITOR})
    with Viewer(gw).signed_in(name) as v:
        first = v.get("/admin/audit")
        second = v.get("/admin/audit", params={"action": "audit.verify"})
        for page in (first, second):
            assert page.status_code == 200 and "Chain verified" in page.text
            assert "re-checked from the first at" in page.text
    mine = [r for r in _audit(gw, "audit.verify") if r["actor"] == name]
    assert [r["details"]["view"] for r in mine] == ["dashboard", "dashboard"]
    total = mine[-1]["seq"]
    # the first view of this gateway's page may be full or incremental (other tests looked
    # before); the second one hashed only the handful of records the first view wrote
    assert mine[-1]["details"]["mode"] == "incremental"
    assert 0 < mine[-1]["details"]["records"] < 10 < total


class _Fields(HTMLParser):
    """Visible form controls with their attributes, and the text of every element with an id."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: dict[str, dict[str, str | None]] = {}
        self.text_of: dict[str, str] = {}
        self._open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in ("input", "select") and a.get("type") != "hidden":
            self.controls[str(a.get("name"))] = a
        if a.get("id") and tag not in ("input", "select"):
            self._open.append(str(a["id"]))
            self.text_of[str(a["id"])] = ""

    def handle_data(self, data: str) -> None:
        for ident in self._open:
            self.text_of[ident] += data

    def handle_endtag(self, tag: str) -> None:
        if self._open and tag in ("p", "li", "span", "div"):
            self._open.pop()


def _described(html: str, name: str) -> tuple[str | None, str]:
    """``aria-invalid`` of the control named ``name`` and the text its description points to."""
    page = _Fields()
    page.feed(html)
    control = page.controls[name]
    ids = str(control.get("aria-describedby") or "").split()
    return control.get("aria-invalid"), " ".join(page.text_of.get(i, "") for i in ids)


def test_form_errors_are_tied_to_the_fields_they_are_about(gw: RunningGateway) -> None:
    """Before: the sign-in error hung off the <form> (screen readers do not read a form's
    description when a field gets focus) and the audit filter and consent errors were not
    tied to any field; now each field in error says so (aria-invalid) and points to it."""
    name = new_person(gw, "review-auditor-a11y", {Role.AUDITOR})
    with Viewer(gw) as v:
        failed = v.login(name, code="000000")
        assert failed.status_code == 401
        for field in ("username", "password", "code"):
            invalid, text = _described(failed.text, field)
            assert invalid == "true" and "Sign-in failed" in text, field
        assert "authenticator" in _described(failed.text, "code")[1]  # the hint stays
        fresh = v.get("/admin/login").text
        assert _described(fresh, "username") == (None, "")
    with Viewer(gw).signed_in(name) as v:
        bad = v.get("/admin/audit", params={"outcome": "maybe", "since": "yesterday"})
        assert bad.status_code == 422
        outcomes = ", ".join(o.value for o in Outcome)
        assert _described(bad.text, "outcome") == ("true", f"Outcome must be one of: {outcomes}.")
        invalid, text = _described(bad.text, "since")
        assert invalid == "true" and text.startswith("From must be a date and time")
        assert _described(bad.text, "until") == (None, "")
        bad = v.get("/admin/consents", params={"subject": "Jane Doe <jane@example.com>"})
        invalid, text = _described(bad.text, "subject")
        assert bad.status_code == 422 and invalid == "true" and "never a name" in text


HOSTILE = "\"'><script>alert(1)</script><img src=x onerror=alert(2)>"


def test_attacker_chosen_identities_render_as_text_and_can_be_removed(
    gw: RunningGateway,
) -> None:
    """Regression (held before the review too): a participant identity is whatever the
    backend that minted the join token put there (any printable text), and it reaches the
    rooms page, the room page (also inside a hidden form field), the flash message after a
    removal and, as ``actor`` of ``rtc.join``, the audit page. Autoescaping keeps it text."""
    sup = new_person(gw, "review-supervisor-xss", {Role.SUPERVISOR})
    admin = new_person(gw, "review-admin-xss", {Role.ADMIN})

    def inert(html: str) -> None:
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html

    async def scenario() -> None:
        peer = await join(gw, "xss-room", HOSTILE)
        try:
            with Viewer(gw).signed_in(sup) as s:
                inert(s.get("/admin/rooms").text)
                room = s.get("/admin/rooms/xss-room")
                inert(room.text)
                assert 'value="&#34;&#39;&gt;&lt;script&gt;' in room.text  # the hidden field
                r = s.post("/admin/rooms/xss-room/remove", {"identity": HOSTILE})
                assert r.status_code == 303
                after = s.get("/admin/rooms/xss-room")
                inert(after.text)
                assert "Removed &#34;&#39;&gt;&lt;script&gt;" in after.text
            with Viewer(gw).signed_in(admin) as a:
                trail = a.get("/admin/audit", params={"target": "xss-room"})
                inert(trail.text)
                assert trail.headers["cache-control"] == "no-store"
        finally:
            await peer.ws.close()

    asyncio.run(asyncio.wait_for(scenario(), 60))


def test_role_changes_cannot_escalate(gw: RunningGateway) -> None:
    """Regression: roles that do not exist, service roles for people, and role or user
    changes by anyone but an administrator are refused server-side, whatever the page shows."""
    admin = new_person(gw, "review-admin-roles", {Role.ADMIN})
    aud = new_person(gw, "review-auditor-roles", {Role.AUDITOR})
    sup = new_person(gw, "review-supervisor-roles", {Role.SUPERVISOR})
    with Viewer(gw).signed_in(admin) as a:
        for roles in (["root"], ["admin", "superuser"], ["backend"], []):
            assert a.post(f"/admin/users/{aud}/roles", {"roles": roles}).status_code == 303
            assert "Not changed" in a.get("/admin/users").text, roles
            assert _principal(gw, aud)[0] == {Role.AUDITOR}
    for who in (aud, sup):
        with Viewer(gw).signed_in(who) as v:
            for path, data in (
                (f"/admin/users/{who}/roles", {"roles": ["admin"]}),
                (f"/admin/users/{admin}/disabled", {"disabled": "true"}),
                ("/admin/users", {"name": "review-sneaky", "roles": ["admin"]}),
            ):
                r = v.post(path, data)
                assert r.status_code == 403 and "Not allowed" in r.text, (who, path)
    assert Role.ADMIN not in _principal(gw, aud)[0] | _principal(gw, sup)[0]
    assert _principal(gw, admin) == ({Role.ADMIN}, False)


def test_a_totp_code_signs_in_once(gw: RunningGateway) -> None:
    """Regression: the login goes through the Authenticator's replay protection."""
    name = new_person(gw, "review-auditor-replay", {Role.AUDITOR})
    with Viewer(gw) as v:
        code = v.code(name)
        assert v.login(name, code=code).status_code == 303
        assert v.post("/admin/logout").status_code == 303
    with Viewer(gw) as v:
        again = v.login(name, code=code)
        assert again.status_code == 401 and v.session_cookie is None
    replays = [r for r in _audit(gw, "auth.mfa") if r["target"] == name]
    assert replays[-1]["outcome"] == "failure"
    assert replays[-1]["details"]["reason"] == "mfa_code_reused"
