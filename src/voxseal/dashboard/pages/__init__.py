"""One module per page of the dashboard, each a thin view over the REST endpoint it presents.

Each page is authorised with its endpoint's permission and calls that endpoint's function, so
it audits and behaves exactly as the API. Two deliberate differences: the audit page's chain
status comes from a running verification (:mod:`voxseal.dashboard.verification`; still
audited as ``audit.verify``), and the users page turns the directory's refusals (such as
``last_admin``) into a message on the page. Refusals are HTML pages with the right status
(303 to the login page without a session, 403 for a missing permission or a bad CSRF token,
413/415 for a form that is not one of ours) and audit events.

No JavaScript at all: plain forms and links, so the pages work with scripting off and the
content security policy can forbid scripts outright.
"""
