"""The admin dashboard: server-rendered HTML pages under ``/admin`` on the gateway.

The package is deliberately thin: logins go through the same
:class:`~voxseal.identity.auth.Authenticator` as ``/v1/auth``, every page is authorised with
the permission of the REST endpoint it presents (read from the API's own routes), and every
action calls the API's endpoint function, so the dashboard can never allow more, audit less or
behave differently than the API. What is its own: the browser session (:mod:`.sessions`),
the guard in front of every page with its CSRF check (:mod:`.guard`), reading forms
(:mod:`.forms`), rendering (:mod:`.render`) and one module per page (:mod:`.pages`).
:func:`install` (:mod:`.site`) serves it all on an app.

Importing this package pulls in nothing heavy (``install`` is loaded on first use), so the
store can load :mod:`.schema` alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from voxseal.dashboard.site import install

__all__ = ["install"]


def __getattr__(name: str) -> object:
    if name == "install":
        from voxseal.dashboard.site import install

        return install
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
