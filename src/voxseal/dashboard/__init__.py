"""The admin dashboard: server-rendered HTML pages under ``/admin`` on the gateway.

The package is deliberately thin: logins go through the same
:class:`~voxseal.identity.auth.Authenticator` as ``/v1/auth``, every page is authorised with
the permission of the REST endpoint it presents (read from the API's own routes), and every
action calls the API's endpoint function, so the dashboard can never allow more, audit less or
behave differently than the API. What is its own: the browser session (:mod:`.sessions`),
CSRF protection and the templates.

Importing this package pulls in nothing heavy, so the store can load :mod:`.schema` alone.
"""
