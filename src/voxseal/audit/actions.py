"""The catalogue of audit actions: every ``action`` voxseal writes, what it means, what it holds.

This is the vocabulary SIEM users filter and alert on, so it is closed: an
:class:`~voxseal.audit.events.AuditEvent` whose action is not a member is refused before it
reaches the log (:class:`~voxseal.audit.events.UnknownAuditAction`). A member's value is the
exact string stored and exported; values never change once shipped (stored logs and SIEM
rules depend on them). Add a member here, with when it is emitted, its target and its
details, before emitting a new action; ``docs/audit-actions.md`` is generated from this
module by :func:`catalogue_markdown` (a test keeps the two equal).

Every event also carries ``outcome`` (success, failure, denied), ``actor`` (who acted: a
principal name, ``cli:<os user>``, ``system``, a service account), ``source`` (the network
address, when there is one) and ``correlation_id`` (the request id, when there is one).
``details`` hold identifiers, counts and reason codes only, never secrets or raw PII.
"""

from __future__ import annotations

from enum import StrEnum


class AuditAction(StrEnum):
    """One audit action: ``value`` (the stored string), ``when``, ``target``, ``details``."""

    when: str
    target: str
    details: str

    def __new__(cls, value: str, when: str, target: str, details: str) -> AuditAction:
        member = str.__new__(cls, value)
        member._value_ = value
        member.when = when
        member.target = target
        member.details = details
        return member

    # -- authentication ------------------------------------------------------------------------
    AUTH_LOGIN = (
        "auth.login",
        "The password step of a login (REST `/v1/auth/login`, the dashboard): success with a "
        "token or an MFA challenge, failure (wrong or unknown credentials, disabled account, "
        "bad input), denied (locked out, MFA required but not enrolled).",
        "the principal's name; none for an unknown account (names typed for unknown accounts "
        "are never recorded)",
        "`reason`; `stage` (`password`, `complete`); `mfa` (`challenge_issued` or false); "
        "`jti` of the issued token; `scope` of a lockout",
    )
    AUTH_MFA = (
        "auth.mfa",
        "The second login step with a TOTP or recovery code (REST, dashboard, and the vault "
        "CLI's own check, which adds `channel: cli`).",
        "the principal's name; none when the challenge itself was invalid",
        "`method` (`totp`, `recovery_code`); `jti`; `recovery_codes_remaining`; `reason`; "
        "`scope` of a lockout; `channel`",
    )
    AUTH_APIKEY = (
        "auth.apikey",
        "An API key presented as a bearer credential: accepted, unknown or revoked, or "
        "refused because the address is locked out.",
        "the service account's name; none when the key was not valid",
        "`key_id` (the public half, when the key parsed); `reason`; `scope`",
    )
    AUTH_LOCKOUT = (
        "auth.lockout",
        "Repeated failures locked an account or an address (always `denied`).",
        "the account's name for an account lock; none for an address lock (the address is "
        "the event's source)",
        "`scope` (`account`, `ip`); `failures`; `retry_after` (seconds)",
    )
    # -- tokens --------------------------------------------------------------------------------
    TOKEN_ISSUE = (
        "token.issue",
        "A join token was minted (REST `/v1/rooms/{room}/tokens`, `voxseal token issue`), or "
        "the minting was refused.",
        "the participant identity the token names (none when refused)",
        "`kind` (`join`); `room`; `grants`; `jti`; `ttl` (seconds); `reason` when refused",
    )
    TOKEN_REFUSED = (
        "token.refused",
        "A bearer access token was refused: expired, revoked, malformed, wrong audience, or "
        "its principal is unknown or disabled (always `denied`).",
        "none",
        "`reason`; `kind` (`access`)",
    )
    TOKEN_REVOKE = (
        "token.revoke",
        "A token was revoked on every node: the presented access token at logout, or any "
        "token handed to `voxseal token revoke`.",
        "the token's subject (a principal, or a join token's participant identity)",
        "`jti`; `kind` (`access`, `join`); `room` for a join token",
    )
    # -- principals, MFA enrolment, API keys -------------------------------------------------
    USER_CREATE = (
        "user.create",
        "A principal was created (REST, CLI, and the service accounts the agent worker, the "
        "telephony ingress and the demo create for themselves).",
        "the new principal's name",
        "`kind` (`human`, `service`); `roles`",
    )
    USER_LIST = (
        "user.list",
        "The principals were listed (REST, CLI).",
        "`users`",
        "`count`",
    )
    USER_READ = (
        "user.read",
        "One principal was read (REST).",
        "the principal's name",
        "none",
    )
    USER_ROLES = (
        "user.roles",
        "A principal's roles were replaced (REST, CLI).",
        "the principal's name",
        "`before`, `after` (role names)",
    )
    USER_DISABLE = (
        "user.disable",
        "A principal was disabled (REST, `voxseal user disable`); its sessions end with it.",
        "the principal's name",
        "none",
    )
    USER_ENABLE = (
        "user.enable",
        "A principal was enabled again (REST, `voxseal user enable`).",
        "the principal's name",
        "none",
    )
    USER_PASSWORD = (
        "user.password",
        "A person's password was replaced (`voxseal user passwd`, account recovery). The "
        "password itself is never recorded.",
        "the principal's name",
        "none",
    )
    MFA_RESET = (
        "mfa.reset",
        "A principal's TOTP secret and recovery codes were removed (`voxseal user mfa-reset`); "
        "it must enrol again before it can sign in where MFA is required.",
        "the principal's name",
        "none",
    )
    MFA_ENROL_BEGIN = (
        "mfa.enrol.begin",
        "A TOTP enrolment was started (CLI); it stays pending until confirmed.",
        "the principal's name",
        "none",
    )
    MFA_ENROL_CONFIRM = (
        "mfa.enrol.confirm",
        "A pending TOTP enrolment was confirmed with its first code (CLI, demo), or the code "
        "was wrong (`failure`).",
        "the principal's name",
        "`reason` on failure",
    )
    APIKEY_CREATE = (
        "apikey.create",
        "An API key was created for a service account (REST, CLI, agent worker, telephony "
        "ingress, demo). The key itself is never recorded.",
        "the service account's name",
        "`key_id`",
    )
    APIKEY_LIST = (
        "apikey.list",
        "API keys were listed (REST, `voxseal apikey list`).",
        "`apikeys`",
        "`count`",
    )
    APIKEY_REVOKE = (
        "apikey.revoke",
        "An API key was revoked (REST, `voxseal apikey revoke`).",
        "the key id",
        "none",
    )
    # -- the audit log itself ------------------------------------------------------------------
    AUDIT_READ = (
        "audit.read",
        "The audit log was read (REST `/v1/audit`, the dashboard): reading it is itself an "
        "audited read of protected data.",
        "`audit_log`",
        "`count`; `view` (`dashboard`)",
    )
    AUDIT_VERIFY = (
        "audit.verify",
        "The hash chain and signed checkpoints were verified (REST, CLI, dashboard); "
        "`failure` when the log did not verify (CLI).",
        "`audit_log`",
        "`ok`; `records` (checked); `mode`, `view` (dashboard)",
    )
    AUDIT_EXPORT = (
        "audit.export",
        "The log was exported for a SIEM (`voxseal audit export`).",
        "`audit_log`",
        "`format` (`jsonl`, `cef`, `syslog`); `count`",
    )
    # -- refusals at the HTTP edge -------------------------------------------------------------
    HTTP_REFUSED = (
        "http.refused",
        "A REST or dashboard request was refused with an error status (`denied` for 401, 403 "
        "and 429, `failure` otherwise; 404s are not recorded).",
        "`<METHOD> <path>` (`WS <path>` for a WebSocket)",
        "`status` (HTTP status); `reason`",
    )
    # -- consent ledger ------------------------------------------------------------------------
    CONSENT_GRANT = (
        "consent.grant",
        "A data subject granted consent for a purpose (REST, IVR, agent, demo).",
        "the subject id (pseudonymous)",
        "`consent_id`; `purpose`; `granted`; `legal_basis`; `via` (where the decision came from)",
    )
    CONSENT_WITHDRAW = (
        "consent.withdraw",
        "A data subject withdrew consent for a purpose; live calls stop what it covered.",
        "the subject id (pseudonymous)",
        "`consent_id`; `purpose`; `granted`; `legal_basis`; `via`",
    )
    CONSENT_READ = (
        "consent.read",
        "A subject's consent history was read (REST).",
        "the subject id",
        "`count`",
    )
    # -- vault ---------------------------------------------------------------------------------
    VAULT_WRITE = (
        "vault.write",
        "An object (recording, transcript, voiceprint) was encrypted and stored, or the write "
        "was refused.",
        "the new object's id",
        "`subject_id`; `kind`; `size` (bytes); `reason` when refused or failed",
    )
    VAULT_READ = (
        "vault.read",
        "An object was decrypted for a reader, or the read was refused; a successful read is "
        "durable before the plaintext is returned.",
        "the object id",
        "`subject_id`; `kind`; `reason` when refused or failed",
    )
    VAULT_LIST = (
        "vault.list",
        "A subject's objects were listed (metadata only).",
        "the subject id",
        "`count`; `reason` when refused",
    )
    VAULT_DELETE = (
        "vault.delete",
        "One object was deleted.",
        "the object id",
        "`subject_id`; `kind`; `reason` when refused or failed",
    )
    VAULT_SHRED = (
        "vault.shred",
        "A subject was crypto-shredded: every key destroyed, every object unreadable.",
        "the subject id",
        "`keys_destroyed`; `objects`; `reason` when refused",
    )
    VAULT_ROTATE_MASTER = (
        "vault.rotate_master",
        "Every live subject key was re-wrapped under a new master key; `failure` when some "
        "rows did not unwrap (the old key must be kept).",
        "`vault`",
        "`old_key_id`, `new_key_id`; `rewrapped`; `failed`; `reason`",
    )
    VAULT_CLI = (
        "vault.cli",
        "A `voxseal vault` command was refused for lack of permission (always `denied`).",
        "the vault command",
        "`reason`",
    )
    # -- rooms and live media ------------------------------------------------------------------
    ROOMS_LIST = (
        "rooms.list",
        "The live rooms were listed (REST).",
        "`rooms`",
        "`count`",
    )
    ROOMS_STATS = (
        "rooms.stats",
        "A room's per-participant media statistics were read (REST).",
        "the room name",
        "none",
    )
    STATS_STREAM = (
        "stats.stream",
        "The live media statistics stream was opened (REST).",
        "`stats`",
        "none",
    )
    RTC_JOIN = (
        "rtc.join",
        "A participant joined a room over `/v1/rtc` with a valid join token.",
        "the room name (the actor is the participant identity)",
        "`participant`; `grants`",
    )
    RTC_LEAVE = (
        "rtc.leave",
        "A participant left a room, or was replaced by a new connection of the same identity.",
        "the room name",
        "`participant`; `reason`",
    )
    RTC_REMOVE = (
        "rtc.remove",
        "A participant was removed from a room (by a room admin over `/v1/rtc`, or over REST); "
        "`failure` when they were not in the room.",
        "the removed participant's identity",
        "`room`; `participant`; `reason` on failure",
    )
    RTC_REKEY = (
        "rtc.rekey",
        "A participant announced a new sender-key epoch (the gateway never sees the key).",
        "the room name",
        "`epoch`",
    )
    RTC_MEDIA = (
        "rtc.media",
        "A participant's WebRTC media session (DTLS-SRTP to the SFU) was set up.",
        "the room name",
        "`participant`; `publish`; `subscribe`",
    )
    RTC_REFUSED = (
        "rtc.refused",
        "A `/v1/rtc` connection or message was refused (always `denied`).",
        "the room name, when known",
        "`reason`",
    )
    # -- AI agent dispatch and calls -----------------------------------------------------------
    AGENT_REQUEST = (
        "agent.request",
        "An AI agent was requested for a room (REST, the demo call page).",
        "the room name",
        "`job`; `demo`",
    )
    AGENT_LIST = (
        "agent.list",
        "The connected agent workers were listed (REST).",
        "`agents`",
        "none",
    )
    AGENT_REGISTER = (
        "agent.register",
        "An agent worker connected to `/v1/agents` and registered.",
        "the worker id",
        "`capacity`",
    )
    AGENT_UNREGISTER = (
        "agent.unregister",
        "An agent worker disconnected.",
        "the worker id",
        "none",
    )
    AGENT_REFUSED = (
        "agent.refused",
        "An agent worker's connection was refused (always `denied`).",
        "none",
        "`reason`",
    )
    AGENT_DISPATCH = (
        "agent.dispatch",
        "A job was assigned to a worker, with a join token minted for it.",
        "the room name",
        "`job`; `worker`; `attempt`; `jti`",
    )
    AGENT_JOB = (
        "agent.job",
        "A dispatched job changed state (accepted and running, rejected, ended).",
        "the room name",
        "`job`; `state`; `reason`",
    )
    AGENT_CALL_START = (
        "agent.call.start",
        "The agent runtime began serving a call.",
        "the room name",
        "`job`; `subject`; `policy`",
    )
    AGENT_CALL_END = (
        "agent.call.end",
        "The agent runtime finished a call.",
        "the room name",
        "`job`; `subject`; `reason`; `utterances`; `transcript`, `recording` (vault object ids)",
    )
    # -- telephony ingress ---------------------------------------------------------------------
    TELEPHONY_WEBHOOK = (
        "telephony.webhook",
        "A carrier webhook (Twilio, Vonage, SignalWire) was answered, or refused (`denied` "
        "for a bad signature).",
        "the carrier's call id; the webhook path when refused",
        "`provider`; `subject`; `reason`",
    )
    TELEPHONY_STREAM_START = (
        "telephony.stream.start",
        "A carrier media stream was admitted and bridged into a room.",
        "the carrier's call id",
        "`provider`; `room`; `job`",
    )
    TELEPHONY_STREAM_END = (
        "telephony.stream.end",
        "A bridged carrier media stream ended.",
        "the carrier's call id",
        "`provider`; `room`; the bridge's summary counters",
    )
    TELEPHONY_STREAM_REFUSED = (
        "telephony.stream.refused",
        "A carrier media stream was refused (`denied` for a policy violation).",
        "the carrier's call id",
        "`provider`; `reason`",
    )
    TELEPHONY_START = (
        "telephony.start",
        "The telephony ingress started.",
        "`telephony`",
        "`version`; `providers`",
    )
    TELEPHONY_STOP = (
        "telephony.stop",
        "The telephony ingress stopped.",
        "`telephony`",
        "none",
    )
    # -- dashboard -----------------------------------------------------------------------------
    DASHBOARD_LOGIN = (
        "dashboard.login",
        "A dashboard sign-in (both factors) opened a session, or failed (bad form, CSRF, "
        "credentials; the underlying `auth.login` / `auth.mfa` are recorded too).",
        "the principal's name",
        "`session_id` (a handle, not the cookie); `jti`; `roles`; `reason`",
    )
    DASHBOARD_LOGOUT = (
        "dashboard.logout",
        "A dashboard session was signed out.",
        "the principal's name",
        "`session_id`",
    )
    DASHBOARD_SESSION = (
        "dashboard.session",
        "A dashboard session cookie was refused: expired, revoked or unknown (`denied`).",
        "none",
        "`reason`; `session_id`",
    )
    DASHBOARD_SESSION_REVOKE = (
        "dashboard.session.revoke",
        "A principal's dashboard sessions were ended because it was disabled.",
        "the principal's name",
        "`count`; `reason`",
    )
    # -- the server ----------------------------------------------------------------------------
    SERVER_START = (
        "server.start",
        "The gateway's HTTPS server started.",
        "none (actor `system`)",
        "`version`",
    )
    SERVER_STOP = (
        "server.stop",
        "The gateway's HTTPS server stopped.",
        "none (actor `system`)",
        "none",
    )


#: value -> member (``AuditAction(value)`` does the same at run time; this one type-checks)
BY_VALUE: dict[str, AuditAction] = {a.value: a for a in AuditAction}


def catalogue_markdown() -> str:
    """``docs/audit-actions.md``: the catalogue as SIEM users read it, one row per action."""
    lines = [
        "# Audit actions",
        "",
        "Generated from `voxseal.audit.actions.AuditAction` by `catalogue_markdown()`; do not",
        "edit by hand (a test fails when this page and the code disagree).",
        "",
        "Every audit record has `seq`, `time`, `actor`, `action`, `target`, `outcome`",
        "(`success`, `failure`, `denied`), `source` (network address, when there is one),",
        "`correlation_id` (the request id, when there is one) and `details` (identifiers,",
        "counts and reason codes only; never secrets or raw PII). The log refuses any action",
        "not listed here, so this list is complete. Action names never change once shipped.",
        "",
        "Where the action appears in each export (`voxseal audit export --format …`):",
        "`jsonl` has it as `action`; `cef` as the Signature ID (the name is",
        "`<action> <outcome>`) and as `act`; `syslog` (RFC 5424) as MSGID and as the",
        "`action` SD-PARAM. Every action fits a syslog MSGID (32 characters).",
        "",
        "| action | emitted when | target | details |",
        "|---|---|---|---|",
    ]
    for action in AuditAction:
        cells = (f"`{action.value}`", action.when, action.target, action.details)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"
