"""The dashboard over real HTTPS against a ``voxseal serve`` child process: login, sessions,
CSRF, role views and user changes — each check shown refusing."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from html.parser import HTMLParser

import pyotp
import pytest

from tests.dashboard.helpers import Viewer, csrf_in, new_person, to_login
from tests.harness.gateway import PASSWORD, RunningGateway, start_gateway
from voxseal.dashboard.cookies import LOGIN_COOKIE, SESSION_COOKIE
from voxseal.dashboard.pages.login import GENERIC_LOGIN_FAILURE
from voxseal.dashboard.site import page_permissions
from voxseal.identity.rbac import Role


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    # every failed login below comes from 127.0.0.1: keep the per-address lockout out of the way
    g = start_gateway(
        tmp_path_factory.mktemp("dash") / "data",
        extra_env={"VOXSEAL_LOCKOUT_IP_THRESHOLD": "1000"},
    )
    try:
        yield g
    finally:
        g.stop()


def audit_rows(gw: RunningGateway, action: str) -> list[dict]:
    g = gw.open()
    try:
        return [r.as_dict() for r in g.audit.query(action=action, limit=1000)]
    finally:
        g.close()


def all_audit_text(gw: RunningGateway) -> str:
    g = gw.open()
    try:
        rows = g.db.execute("SELECT actor, action, target, details FROM audit_log")
    finally:
        g.close()
    return "\n".join(" ".join(str(c) for c in row) for row in rows)


class _Form(HTMLParser):
    """Collects inputs, their labels, scripts and inline styles of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[dict[str, str | None]] = []
        self.label_for: set[str] = set()
        self.open_labels = 0
        self.wrapped: set[int] = set()
        self.scripts = 0
        self.inline_styles = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if "style" in a:
            self.inline_styles += 1
        if tag in ("script", "style"):
            self.scripts += 1
        if tag == "label":
            self.open_labels += 1
            if a.get("for"):
                self.label_for.add(str(a["for"]))
        if tag in ("input", "select", "textarea") and a.get("type") != "hidden":
            if self.open_labels:
                self.wrapped.add(len(self.inputs))
            self.inputs.append(a)

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.open_labels -= 1


def assert_accessible_and_scriptless(html: str) -> None:
    parser = _Form()
    parser.feed(html)
    assert parser.scripts == 0 and parser.inline_styles == 0
    for n, field in enumerate(parser.inputs):
        assert n in parser.wrapped or field.get("id") in parser.label_for, field
    assert '<html lang="en">' in html and "<main" in html


def test_unauthenticated_pages_redirect_to_login(gw: RunningGateway) -> None:
    with Viewer(gw) as v:
        for path in ("/admin", "/admin/rooms", "/admin/audit", "/admin/users", "/admin/consents"):
            r = v.get(path)
            assert to_login(r), path
        assert to_login(v.post("/admin/users", {"name": "x"}, csrf=False))
        page = v.get("/admin/login")
        assert page.status_code == 200
        assert_accessible_and_scriptless(page.text)


def test_login_sets_a_host_only_strict_session_cookie(gw: RunningGateway) -> None:
    name = new_person(gw, "dash-admin-cookie", {Role.ADMIN})
    with Viewer(gw) as v:
        r = v.login(name)
        assert r.status_code == 303 and r.headers["location"] == "/admin"
        cookie = next(
            c for c in r.headers.get_list("set-cookie") if c.startswith(f"{SESSION_COOKIE}=")
        )
        attrs = dict(([*a.strip().split("=", 1), ""])[:2] for a in cookie.lower().split(";")[1:])
        assert attrs["samesite"] == "strict" and attrs["path"] == "/"
        assert "secure" in attrs and "httponly" in attrs
        assert "domain" not in attrs and "max-age" not in attrs and "expires" not in attrs
        home = v.get("/admin")
        assert v.session_cookie and v.session_cookie not in home.text  # the page never has it
        assert home.status_code == 200 and "Signed in as <strong>dash-admin-cookie</strong>" in (
            home.text
        )
        csp = home.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert "unsafe-eval" not in csp
        directives = {d.split()[0]: d.split()[1:] for d in csp.split("; ")}
        assert directives["default-src"] == ["'none'"] and "script-src" not in directives
        assert directives["style-src"] == ["'self'"] and directives["form-action"] == ["'self'"]
        # the API keeps its own policy
        assert v.get("/healthz").headers["content-security-policy"] != csp
        for path in ("/admin", "/admin/rooms", "/admin/audit", "/admin/users", "/admin/consents"):
            assert_accessible_and_scriptless(v.get(path).text)
    rows = audit_rows(gw, "dashboard.login")
    mine = [r for r in rows if r["actor"] == name and r["outcome"] == "success"]
    assert mine and mine[-1]["details"]["session_id"]
    # the access token the Authenticator issued for the login was revoked at once
    g = gw.open()
    try:
        assert g.tokens.revocations is not None
        assert g.tokens.revocations.is_revoked(mine[-1]["details"]["jti"])
    finally:
        g.close()


def test_wrong_totp_and_wrong_password_fail_alike(gw: RunningGateway) -> None:
    name = new_person(gw, "dash-admin-wrong", {Role.ADMIN})
    secret = gw.totp_secrets[name]
    good = pyotp.TOTP(secret).now()
    wrong_code = f"{(int(good) + 1) % 1_000_000:06d}"
    with Viewer(gw) as v:
        bad_totp = v.login(name, code=wrong_code)
        bad_password = v.login(name, password="not the password at all", code=good)
        unknown = v.login("nobody-here", code=good)
        for r in (bad_totp, bad_password, unknown):
            assert r.status_code == 401
            assert GENERIC_LOGIN_FAILURE in r.text
            assert v.session_cookie is None

        def strip(html: str) -> str:
            return re.sub(r'value="[^"]*"', "", html)

        # the same page whichever factor was wrong, or whether the account exists at all;
        # what was typed is not echoed (passwords end up in the username field too)
        assert strip(bad_totp.text) == strip(bad_password.text) == strip(unknown.text)
        assert name not in bad_totp.text and "nobody-here" not in unknown.text
        for r in (bad_totp, bad_password, unknown):
            assert good not in r.text and wrong_code not in r.text and PASSWORD not in r.text
        assert to_login(v.get("/admin"))
    reasons = {
        r["details"].get("reason")
        for r in audit_rows(gw, "dashboard.login")
        if r["outcome"] == "failure"
    }
    assert {"invalid_mfa_code", "invalid_credentials"} <= reasons
    text = all_audit_text(gw)
    for secret_value in (PASSWORD, "not the password at all", f'"{wrong_code}"', secret):
        assert secret_value not in text
    log = gw.log()
    assert PASSWORD not in log and wrong_code not in log and secret not in log


def test_login_without_a_valid_csrf_token_is_refused(gw: RunningGateway) -> None:
    name = new_person(gw, "dash-admin-csrf", {Role.ADMIN})
    with Viewer(gw) as v:
        # refused before any factor is checked, so the code does not matter
        missing = v.login(name, csrf=None, code="000000")
        forged = v.login(name, csrf="A" * 43, code="000000")
        for r in (missing, forged):
            assert r.status_code == 403 and v.session_cookie is None
        # a valid token from another browser's login form does not fit this browser's cookie
        with Viewer(gw) as other:
            theirs = csrf_in(other.get("/admin/login").text)
        assert v.login(name, csrf=theirs, code="000000").status_code == 403
        # a cross-site form post is refused even with the right token
        form = v.get("/admin/login")
        r = v.http.post(
            "/admin/login",
            data={
                "username": name,
                "password": PASSWORD,
                "code": "000000",
                "csrf_token": csrf_in(form.text),
            },
            headers={"sec-fetch-site": "cross-site", "origin": "https://evil.example"},
        )
        assert r.status_code == 403 and v.session_cookie is None
        assert v.login(name).status_code == 303  # and the real form works
    denied = [r for r in audit_rows(gw, "dashboard.login") if r["outcome"] == "denied"]
    assert any(r["details"]["reason"] == "csrf_failed" for r in denied)


def test_posts_without_the_session_csrf_token_are_refused(gw: RunningGateway) -> None:
    name = new_person(gw, "dash-admin-post", {Role.ADMIN})
    form = {"name": "csrf-victim", "kind": "human", "roles": ["caller"], "password": PASSWORD}
    with Viewer(gw).signed_in(name) as v:
        for csrf in (None, "", "x" * 43):
            r = v.post("/admin/users", form, csrf=csrf)
            assert r.status_code == 403 and "Not allowed" in r.text, csrf
        # right token, but the browser says the form came from another site
        r = v.post("/admin/users", form, headers={"sec-fetch-site": "cross-site"})
        assert r.status_code == 403
        r = v.post("/admin/users", form, headers={"origin": "https://evil.example"})
        assert r.status_code == 403
        assert "csrf-victim" not in v.get("/admin/users").text
        # a token from another session of the same user does not work here
        with Viewer(gw).signed_in(name) as other:
            theirs = csrf_in(other.get("/admin").text)
        assert v.post("/admin/users", form, csrf=theirs).status_code == 403
        ok = v.post("/admin/users", form, headers={"sec-fetch-site": "same-origin"})
        assert ok.status_code == 303 and ok.headers["location"] == "/admin/users"
        assert "csrf-victim" in v.get("/admin/users").text
    refusals = audit_rows(gw, "http.refused")
    assert any(r["details"]["reason"] == "csrf_failed" and r["actor"] == name for r in refusals)


def test_each_role_sees_its_views_and_gets_403_pages_elsewhere(gw: RunningGateway) -> None:
    sup = new_person(gw, "dash-supervisor", {Role.SUPERVISOR})
    aud = new_person(gw, "dash-auditor", {Role.AUDITOR})
    with Viewer(gw).signed_in(sup) as v:
        home = v.get("/admin").text
        assert 'href="/admin/rooms"' in home and 'href="/admin/consents"' in home
        assert 'href="/admin/audit"' not in home and 'href="/admin/users"' not in home
        for path in ("/admin/audit", "/admin/users"):
            r = v.get(path)
            assert r.status_code == 403 and "Not allowed" in r.text, path
            assert "<main" in r.text
        assert v.post("/admin/users", {"name": "nope", "roles": ["caller"]}).status_code == 403
    with Viewer(gw).signed_in(aud) as v:
        users = v.get("/admin/users")
        assert users.status_code == 200 and "Read-only" in users.text
        assert 'action="/admin/users"' not in users.text  # no create form
        audit = v.get("/admin/audit")
        assert audit.status_code == 200 and "Chain verified" in audit.text
        r = v.post("/admin/rooms/some-room/remove", {"identity": "x"})
        assert r.status_code == 403
    refused = audit_rows(gw, "http.refused")
    assert any(r["actor"] == sup and r["details"]["reason"] == "permission_denied" for r in refused)


def _set_session_times(gw: RunningGateway, name: str, column: str, ago: float) -> None:
    g = gw.open()
    try:
        g.db.execute(
            f"UPDATE dashboard_sessions SET {column} = ? WHERE principal = ?",
            (time.time() - ago, name),
        )
    finally:
        g.close()


@pytest.mark.parametrize(
    ("column", "ago", "reason"),
    [
        ("last_seen_at", 16 * 60, "session_idle_timeout"),
        ("created_at", 8 * 3600 + 1, "session_absolute_timeout"),
    ],
)
def test_expired_sessions_are_refused(
    gw: RunningGateway, column: str, ago: float, reason: str
) -> None:
    name = new_person(gw, f"dash-expiry-{column.split('_')[0]}", {Role.AUDITOR})
    with Viewer(gw).signed_in(name) as v:
        assert v.get("/admin/audit").status_code == 200
        _set_session_times(gw, name, column, ago)
        r = v.get("/admin/audit")
        assert to_login(r) and r.headers["location"] == "/admin/login?ended=1"
        assert v.session_cookie is None  # the answer cleared it
        assert "Your session ended" in v.get("/admin/login?ended=1").text
    events = [r for r in audit_rows(gw, "dashboard.session") if r["details"]["reason"] == reason]
    assert events and events[-1]["outcome"] == "denied"


def test_logout_revokes_the_session_on_the_server(gw: RunningGateway) -> None:
    name = new_person(gw, "dash-logout", {Role.AUDITOR})
    with Viewer(gw).signed_in(name) as v:
        stolen = v.session_cookie
        assert stolen
        assert v.post("/admin/logout", csrf=None).status_code == 403  # logout needs CSRF too
        r = v.post("/admin/logout")
        assert to_login(r) and v.session_cookie is None
    with Viewer(gw) as thief:  # replaying the old cookie
        r = thief.get("/admin/audit", headers={"cookie": f"{SESSION_COOKIE}={stolen}"})
        assert to_login(r) and r.headers["location"] == "/admin/login?ended=1"
    assert any(r["actor"] == name for r in audit_rows(gw, "dashboard.logout"))
    assert any(
        r["details"]["reason"] == "session_revoked" for r in audit_rows(gw, "dashboard.session")
    )


def test_admin_manages_users_and_changes_bite_at_once(gw: RunningGateway) -> None:
    admin = new_person(gw, "dash-admin-users", {Role.ADMIN})
    target = new_person(gw, "dash-target", {Role.SUPERVISOR})
    with Viewer(gw).signed_in(admin) as a, Viewer(gw).signed_in(target) as t:
        assert t.get("/admin/rooms").status_code == 200
        # weak password: refused with a message, nothing created, the password never echoed
        r = a.post(
            "/admin/users",
            {"name": "dash-new", "kind": "human", "roles": ["auditor"], "password": "Zq9-weak"},
        )
        assert r.status_code == 303
        page = a.get("/admin/users").text
        assert "Not changed" in page and "Zq9-weak" not in page
        assert '<th scope="row">dash-new</th>' not in page
        r = a.post(
            "/admin/users",
            {"name": "dash-new", "kind": "human", "roles": ["auditor"], "password": PASSWORD},
        )
        page = a.get("/admin/users").text
        assert '<th scope="row">dash-new</th>' in page and "Created dash-new" in page
        assert PASSWORD not in page
        # a role change narrows the live session at once
        r = a.post(f"/admin/users/{target}/roles", {"roles": ["caller"]})
        assert r.status_code == 303
        assert t.get("/admin/rooms").status_code == 403
        # disabling ends the session
        r = a.post(f"/admin/users/{target}/disabled", {"disabled": "true"})
        assert r.status_code == 303
        assert to_login(t.get("/admin"))
        assert "Disabled dash-target" in a.get("/admin/users").text
    for action in ("user.create", "user.roles", "user.disable", "dashboard.session.revoke"):
        assert any(r["actor"] == admin for r in audit_rows(gw, action)), action
    text = all_audit_text(gw)
    assert PASSWORD not in text and "Zq9-weak" not in text


def test_audit_view_filters_and_pages(gw: RunningGateway) -> None:
    name = new_person(gw, "dash-auditor-filter", {Role.AUDITOR})
    with Viewer(gw).signed_in(name) as v:
        r = v.get("/admin/audit", params={"action": "dashboard.login", "outcome": "success"})
        assert r.status_code == 200
        actions = re.findall(r'<td class="mono">([a-z_.]+)</td>', r.text)
        assert actions and set(actions) == {"dashboard.login"}
        assert "verified" in r.text and "broken" not in r.text
        # filtered by actor, and by a time window that ends before anything happened
        mine = v.get("/admin/audit", params={"actor": name})
        assert f"<td>{name}</td>" in mine.text
        empty = v.get("/admin/audit", params={"until": "2000-01-01T00:00"})
        assert "No record matches" in empty.text
        bad = v.get("/admin/audit", params={"outcome": "maybe", "since": "yesterday"})
        assert bad.status_code == 422 and "could not be used" in bad.text
        # paging: 50 per page, "Older records" continues below the last one shown
        first = v.get("/admin/audit")
        seqs = [int(s) for s in re.findall(r'<td class="num">(\d+)</td>', first.text)]
        assert len(seqs) == 50 and seqs == sorted(seqs, reverse=True)
        older = re.search(r'href="(/admin/audit\?[^"]+)" rel="next"', first.text)
        assert older
        second = v.get(older.group(1).replace("&amp;", "&"))
        seqs2 = [int(s) for s in re.findall(r'<td class="num">(\d+)</td>', second.text)]
        assert seqs2 and max(seqs2) < min(seqs)
    reads = [r for r in audit_rows(gw, "audit.read") if r["actor"] == name]
    assert reads and all(r["details"]["view"] == "dashboard" for r in reads)


def test_consent_records_view(gw: RunningGateway) -> None:
    key = gw.api_key("dash-backend")
    with gw.client(key) as api:
        r = api.post(
            "/v1/subjects/subj-77/consents",
            json={
                "purpose": "recording",
                "granted": True,
                "source": "web",
                "legal_basis": "consent",
            },
        )
        assert r.status_code == 201, r.text
    name = new_person(gw, "dash-supervisor-consent", {Role.SUPERVISOR})
    with Viewer(gw).signed_in(name) as v:
        page = v.get("/admin/consents", params={"subject": "subj-77"})
        assert page.status_code == 200
        assert "recording" in page.text and "granted" in page.text
        assert "no (never granted)" in page.text  # the other purposes
        bad = v.get("/admin/consents", params={"subject": "alice@example.com <x>"})
        assert bad.status_code == 422 and "&lt;x&gt;" not in bad.text
    assert any(
        r["actor"] == name and r["target"] == "subj-77" for r in audit_rows(gw, "consent.read")
    )


def test_service_accounts_and_totp_less_humans_cannot_sign_in(gw: RunningGateway) -> None:
    gw.add_principal("dash-caller-nototp", {Role.CALLER})  # no MFA required, none enrolled
    with Viewer(gw) as v:
        r = v.login("dash-caller-nototp", code="123456")
        assert r.status_code == 401 and GENERIC_LOGIN_FAILURE in r.text
        assert v.session_cookie is None
    reasons = [r["details"].get("reason") for r in audit_rows(gw, "dashboard.login")]
    assert "mfa_required" in reasons


def test_signing_in_again_replaces_the_session(gw: RunningGateway) -> None:
    name = new_person(gw, "dash-relogin", {Role.AUDITOR})
    with Viewer(gw).signed_in(name) as v, Viewer(gw) as tab:
        first = v.session_cookie
        assert first and to_login(v.get("/admin/login")) is False  # signed in: no login form
        form = tab.get("/admin/login")  # a login form opened elsewhere, submitted signed in
        login_cookie = tab.http.cookies.get(LOGIN_COOKIE)
        r = v.http.post(
            "/admin/login",
            data={
                "username": name,
                "password": PASSWORD,
                "code": v.code(name),
                "csrf_token": csrf_in(form.text),
            },
            headers={"cookie": f"{LOGIN_COOKIE}={login_cookie}; {SESSION_COOKIE}={first}"},
        )
        assert r.status_code == 303
        second = r.cookies.get(SESSION_COOKIE)
        assert second and second != first
        assert to_login(v.get("/admin", headers={"cookie": f"{SESSION_COOKIE}={first}"}))
        assert v.get("/admin", headers={"cookie": f"{SESSION_COOKIE}={second}"}).status_code == 200


def test_repeated_failures_lock_the_account_without_naming_a_factor(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    g = start_gateway(
        tmp_path_factory.mktemp("dash-lock") / "data",
        extra_env={"VOXSEAL_LOCKOUT_THRESHOLD": "2", "VOXSEAL_LOCKOUT_IP_THRESHOLD": "1000"},
    )
    try:
        name = new_person(g, "dash-locked", {Role.ADMIN})
        with Viewer(g) as v:
            for _ in range(2):
                assert v.login(name, code="000000").status_code == 401
            r = v.login(name)  # now even the right password and code wait
            assert r.status_code == 429 and "Too many failed attempts" in r.text
            assert "code" not in r.text.split("Too many failed attempts")[1].split("</p>")[0]
            assert v.session_cookie is None
        locked = [x for x in audit_rows(g, "dashboard.login") if x["outcome"] == "denied"]
        assert locked and locked[-1]["details"]["reason"] == "locked_out"
    finally:
        g.stop()


def test_every_dashboard_post_refuses_a_missing_csrf_token(gw: RunningGateway) -> None:
    name = new_person(gw, "dash-admin-every-post", {Role.ADMIN})
    posts = sorted(path for method, path in page_permissions() if method == "POST")
    assert "/admin/logout" in posts and len(posts) >= 4
    with Viewer(gw).signed_in(name) as v:
        for path in posts:
            url = path.format(room="some-room", name="dash-admin-every-post")
            for csrf in (None, "wrong"):
                r = v.post(
                    url, {"identity": "x", "roles": ["caller"], "disabled": "true"}, csrf=csrf
                )
                assert r.status_code == 403 and "current session" in r.text, (path, csrf)
        assert v.get("/admin").status_code == 200  # still signed in, still enabled


def test_two_sign_in_tabs_of_one_browser_both_work(gw: RunningGateway) -> None:
    name = new_person(gw, "dash-two-tabs", {Role.AUDITOR})
    with Viewer(gw) as v:
        first_tab = csrf_in(v.get("/admin/login").text)
        v.get("/admin/login")  # a second tab opened later
        r = v.http.post(
            "/admin/login",
            data={
                "username": name,
                "password": PASSWORD,
                "code": v.code(name),
                "csrf_token": first_tab,
            },
        )
        assert r.status_code == 303 and v.session_cookie
