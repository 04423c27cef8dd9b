"""Driving the dashboard over HTTPS like a browser without scripting: forms, cookies, CSRF."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pyotp

from tests.harness.gateway import PASSWORD, RunningGateway
from voxseal.dashboard.cookies import SESSION_COOKIE
from voxseal.dashboard.forms import CSRF_FIELD
from voxseal.identity.rbac import Role

#: the last TOTP time step used per (gateway, user)
_LAST_STEP: dict[tuple[str, str], int] = {}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_in(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def enrol(gw: RunningGateway, name: str) -> str:
    """Confirm TOTP for ``name`` (also for roles that do not require it); the base32 secret."""
    g = gw.open()
    try:
        enrolment = g.directory.begin_totp_enrolment(name)
        g.directory.confirm_totp_enrolment(
            name, pyotp.TOTP(enrolment.secret_b32).at(time.time() - 30)
        )
    finally:
        g.close()
    gw.totp_secrets[name] = enrolment.secret_b32
    return enrolment.secret_b32


def new_person(gw: RunningGateway, name: str, roles: set[Role]) -> str:
    """A human with a password and confirmed TOTP whatever the roles; returns the name."""
    gw.add_principal(name, roles)
    if name not in gw.totp_secrets:
        enrol(gw, name)
    return name


class Viewer:
    """One browser profile: its own cookie jar, talking to the gateway over TLS 1.3."""

    def __init__(self, gw: RunningGateway) -> None:
        self.gw = gw
        self.http: httpx.Client = gw.client()

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Viewer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def code(self, name: str) -> str:
        """A TOTP code of a time step not used before for ``name`` (the server accepts each
        step once, within ±1 step of now), waiting for the next step if both are spent."""
        key = (self.gw.base_url, name)
        while True:
            now_step = int(time.time() // 30)
            step = max(_LAST_STEP.get(key, now_step - 1) + 1, now_step)
            if step <= now_step + 1:
                break
            time.sleep(30 - time.time() % 30 + 0.05)
        _LAST_STEP[key] = step
        return pyotp.TOTP(self.gw.totp_secrets[name]).at(step * 30)

    def login(
        self,
        name: str,
        *,
        password: str = PASSWORD,
        code: str | None = None,
        csrf: str | bool | None = True,
    ) -> httpx.Response:
        form = self.http.get("/admin/login")
        assert form.status_code == 200, form.text
        data: dict[str, Any] = {
            "username": name,
            "password": password,
            "code": code if code is not None else self.code(name),
        }
        if csrf is True:
            data[CSRF_FIELD] = csrf_in(form.text)
        elif isinstance(csrf, str):
            data[CSRF_FIELD] = csrf
        return self.http.post("/admin/login", data=data)

    def signed_in(self, name: str) -> Viewer:
        r = self.login(name)
        assert r.status_code == 303 and r.headers["location"] == "/admin", r.text
        return self

    @property
    def session_cookie(self) -> str | None:
        return self.http.cookies.get(SESSION_COOKIE)

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.get(path, **kw)

    def post(
        self,
        path: str,
        data: dict[str, Any] | None = None,
        *,
        csrf: str | bool | None = True,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        body = dict(data or {})
        if csrf is True:
            body[CSRF_FIELD] = csrf_in(self.get("/admin").text)
        elif isinstance(csrf, str):
            body[CSRF_FIELD] = csrf
        return self.http.post(path, data=body, headers=headers)


def to_login(r: httpx.Response) -> bool:
    """The answer sent a viewer without a live session to the login page."""
    return r.status_code == 303 and r.headers["location"].startswith("/admin/login")
