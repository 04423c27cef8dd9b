"""Who is calling and what they may do: principals, passwords, TOTP MFA, RBAC, tokens.

Everything here is synchronous and I/O-light (one store round trip per step) so the HTTP layer
can call it from a threadpool. Modules, one idea each:

* :mod:`~voxseal.identity.rbac` — roles, permissions, the one table, MFA policy
* :mod:`~voxseal.identity.passwords` — argon2id hashing and the password policy
* :mod:`~voxseal.identity.totp` — RFC 4226 HOTP / RFC 6238 TOTP, otpauth URIs, terminal QR
* :mod:`~voxseal.identity.recovery` — single-use recovery codes
* :mod:`~voxseal.identity.sealing` — encryption at rest of TOTP secrets
* :mod:`~voxseal.identity.upgrades` — one-time data upgrades (re-sealing stored secrets)
* :mod:`~voxseal.identity.apikeys` — ``vxk_…`` API keys for service accounts
* :mod:`~voxseal.identity.directory` — principals and their credentials
* :mod:`~voxseal.identity.lockout` — per-account and per-address brute-force lockout
* :mod:`~voxseal.identity.challenges` — single-use MFA challenges
* :mod:`~voxseal.identity.tokens` — EdDSA access and join tokens, revocation list
* :mod:`~voxseal.identity.auth` — the login / MFA / API-key / bearer flows, audited
* :mod:`~voxseal.identity.schema` — the tables
"""
