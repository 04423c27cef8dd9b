"""The ingress's state and its two outside dependencies: the audit log and the gateway.

``voxseal telephony`` runs in the agent zone next to the agent workers. It opens the same data
dir as ``serve`` (for the audit log, its key files and, when no API key is configured, to
provision its own ``backend`` service account) and talks to the gateway over HTTPS like any
application backend: it mints a join token for the phone caller and asks for an agent, then
joins the room through the SDK with E2EE. The gateway therefore treats a phone call exactly
like a browser call, and still sees only SFrame ciphertext.

The caller's phone number is personal data. It is never stored, logged or audited: it becomes
a *pseudonymous data subject id*, ``tel-`` + HMAC-SHA256 under a per-deployment key kept in
``keys/telephony-subject.key``. Keyed, because phone numbers are few enough that a plain hash
is reversed by enumerating them; stable, so consents granted for that subject (over the REST
API, by an IVR or a CRM that derives the same id with ``voxseal telephony subject NUMBER``)
govern what the agent may transcribe or record.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from pathlib import Path
from typing import Any, Final

import httpx

from voxseal.audit.actions import AuditAction
from voxseal.audit.events import AuditContext, Outcome
from voxseal.config import Settings
from voxseal.errors import ConfigError
from voxseal.gateway import Gateway
from voxseal.keyfiles import check_private_file, load_or_create_ed25519, write_private_file
from voxseal.signaling.tls import client_context
from voxseal.telephony.errors import TelephonyError
from voxseal.telephony.schema import MIGRATIONS as TELEPHONY_SCHEMA
from voxseal.telephony.shared_state import (
    PendingCall,
    StorePendingCalls,
    StoreUsedTokens,
)
from voxseal.telephony.signatures import (
    SignalWireWebhookVerifier,
    TwilioWebhookVerifier,
    VonageWebhookVerifier,
)
from voxseal.telephony.stream_tokens import StreamTokenIssuer

log = logging.getLogger("voxseal.telephony")

SUBJECT_KEY: Final = "telephony-subject.key"
STREAM_KEY: Final = "telephony-stream.key"
SERVICE_ACCOUNT: Final = "telephony-ingress"
_CALL_ID: Final = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_NUMBER_CHARS: Final = re.compile(r"[\s().-]")


class GatewayUnavailable(TelephonyError):
    """The gateway refused or did not answer: the call cannot be put into a room."""

    reason = "gateway_unavailable"
    http_status = 502
    close_code = 1011


def check_call_id(call_id: object) -> str:
    """A provider's call id (Twilio ``CallSid``, Vonage ``uuid``): it names the room."""
    if not isinstance(call_id, str) or not _CALL_ID.match(call_id):
        raise TelephonyError("the webhook carries no valid call id", reason="bad_call_id")
    return call_id


def room_for(provider: str, call_id: str) -> str:
    """One room per call; the name carries the provider's call id, never the number."""
    return f"tel-{provider}-{call_id}"


class PhoneSubjects:
    """Phone number → pseudonymous data subject id (see the module docstring)."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the subject key needs at least 32 bytes")
        self._key = key

    def __repr__(self) -> str:
        return "PhoneSubjects()"

    @classmethod
    def open(cls, keys_dir: Path) -> PhoneSubjects:
        path = keys_dir / SUBJECT_KEY
        if not path.exists():
            write_private_file(path, secrets.token_bytes(32))
        check_private_file(path)
        return cls(path.read_bytes())

    def subject_id(self, number: str | None) -> str | None:
        """None for a withheld or unusable caller id (such a caller has no consents)."""
        if not number:
            return None
        normal = _NUMBER_CHARS.sub("", number.strip())
        if (
            normal.lower() in ("anonymous", "restricted", "unknown", "private", "")
            or len(normal) > 64
        ):
            return None
        digest = hmac.new(self._key, normal.encode(), hashlib.sha256).hexdigest()
        return f"tel-{digest[:40]}"


class GatewayAccess:
    """The ingress's backend credential at work: join tokens and agent requests over HTTPS.

    The API key is a bearer secret: it lives in a private attribute, is sent only in the
    Authorization header over TLS 1.3, and no message or repr carries it.
    """

    def __init__(self, url: str, api_key: str, *, ca_file: Path | None) -> None:
        self.url = url.rstrip("/")
        self.ca_file = ca_file
        self._http = httpx.AsyncClient(
            base_url=self.url,
            verify=client_context(ca_file),
            headers={"authorization": f"Bearer {api_key}"},
            timeout=10.0,
        )

    def __repr__(self) -> str:
        return f"GatewayAccess(url={self.url!r})"

    async def _post(self, path: str, body: dict[str, Any], expect: int) -> dict[str, Any]:
        try:
            r = await self._http.post(path, json=body)
        except httpx.HTTPError as exc:
            raise GatewayUnavailable(
                f"gateway unreachable ({type(exc).__name__})", reason="gateway_unreachable"
            ) from None
        if r.status_code != expect:
            try:
                reason = str(r.json().get("error", "refused"))[:64]
            except ValueError:
                reason = "refused"
            raise GatewayUnavailable(f"gateway answered {r.status_code} ({reason}) to {path}")
        return r.json()  # type: ignore[no-any-return]

    async def join_token(self, room: str, identity: str) -> str:
        body = await self._post(
            f"/v1/rooms/{room}/tokens",
            {"identity": identity, "grants": ["publish", "subscribe"]},
            201,
        )
        return str(body["token"])

    async def request_agent(self, room: str, subject_id: str | None) -> str:
        body = await self._post(
            f"/v1/rooms/{room}/agent", {"subject_id": subject_id} if subject_id else {}, 202
        )
        return str(body["job"]["id"])

    async def aclose(self) -> None:
        await self._http.aclose()


def provision_api_key(gw: Gateway) -> str:
    """The ingress's ``backend`` service account and a fresh API key (older ones revoked),
    as the agent worker does for itself: nothing to configure on one host, nothing printed."""
    from voxseal.identity.rbac import Role

    audit = AuditContext(gw.audit, SERVICE_ACCOUNT)
    if gw.directory.find(SERVICE_ACCOUNT) is None:
        gw.directory.create_service(SERVICE_ACCOUNT, {Role.BACKEND})
        audit.record(
            AuditAction.USER_CREATE, target=SERVICE_ACCOUNT, kind="service", roles=["backend"]
        )
    for old in gw.directory.list_api_keys(SERVICE_ACCOUNT):
        if old.active:
            gw.directory.revoke_api_key(old.key_id)
    key = gw.directory.create_api_key(SERVICE_ACCOUNT, "telephony ingress")
    audit.record(AuditAction.APIKEY_CREATE, target=SERVICE_ACCOUNT, key_id=key.key_id)
    return key.key


class Ingress:
    """Everything one ``voxseal telephony`` process shares between its calls."""

    def __init__(
        self,
        gw: Gateway,
        settings: Settings,
        access: GatewayAccess,
        *,
        ssl_ca: Path | None,
    ) -> None:
        t = settings.telephony
        self.gw = gw
        self.settings = settings
        self.access = access
        self.ca_file = ssl_ca
        self.public_base_url = (t.public_base_url or f"https://localhost:{t.port}").rstrip("/")
        self.stream_token_ttl = int(t.stream_token_ttl)
        # redemptions and pending calls live in the store, so ingress nodes share them; the
        # ingress hands the store its schema once, at start-up
        gw.db.migrate([TELEPHONY_SCHEMA])
        self.tokens = StreamTokenIssuer(
            load_or_create_ed25519(gw.keys_dir / STREAM_KEY), used=StoreUsedTokens(gw.db)
        )
        self.subjects = PhoneSubjects.open(gw.keys_dir)
        self.pending = StorePendingCalls(gw.db)
        #: media sockets open whose stream token is not redeemed yet (event loop only)
        self.unadmitted = 0
        #: sockets refused over the cap since the last audit event about them, and when that was
        self.overflow_refused = 0
        self.overflow_audited_at = float("-inf")
        self.twilio = (
            TwilioWebhookVerifier(t.twilio_auth_token, public_base_url=self.public_base_url)
            if t.twilio_auth_token
            else None
        )
        self.signalwire = (
            SignalWireWebhookVerifier(
                t.signalwire_signing_key, public_base_url=self.public_base_url
            )
            if t.signalwire_signing_key
            else None
        )
        self.vonage = (
            VonageWebhookVerifier(t.vonage_signature_secret, api_key=t.vonage_api_key or None)
            if t.vonage_signature_secret
            else None
        )
        #: live calls by (provider, call id); the bridges register themselves here
        self.calls: dict[tuple[str, str], Any] = {}

    def __repr__(self) -> str:
        return f"Ingress(public_base_url={self.public_base_url!r})"

    @property
    def providers(self) -> list[str]:
        return [p for p in ("twilio", "vonage", "signalwire") if getattr(self, p) is not None]

    def stream_url(self, provider: str) -> str:
        base = "wss://" + self.public_base_url.removeprefix("https://")
        path = "ws" if provider == "vonage" else "stream"
        return f"{base}/v1/telephony/{provider}/{path}"

    async def audit(
        self,
        action: AuditAction,
        /,
        *,
        target: str | None = None,
        outcome: Outcome = Outcome.SUCCESS,
        source: str | None = None,
        correlation_id: str | None = None,
        **details: object,
    ) -> None:
        """Write an event acted by the ingress's service account; a failing audit log is
        logged, never turned into a crash (one broken write must not drop a live call)."""
        try:
            await AuditContext(self.gw.audit, SERVICE_ACCOUNT, source, correlation_id).arecord(
                action, target=target, outcome=outcome, **details
            )
        except Exception:
            log.exception("could not write the audit event %s", action)


def open_ingress(settings: Settings) -> tuple[Gateway, Ingress]:
    """Open the data dir's services and wire the ingress (blocking: run it before serving)."""
    t = settings.telephony
    if not (t.twilio_auth_token or t.vonage_signature_secret or t.signalwire_signing_key):
        raise ConfigError(
            "telephony",
            "no provider is configured: set VOXSEAL_TWILIO_AUTH_TOKEN, "
            "VOXSEAL_VONAGE_SIGNATURE_SECRET or VOXSEAL_SIGNALWIRE_SIGNING_KEY (or [telephony])",
        )
    gw = Gateway.open(settings)
    try:
        api_key = t.api_key or provision_api_key(gw)
        ca = settings.dev_ca_dir / "dev-ca.pem"
        ca_file = ca if ca.exists() else None
        access = GatewayAccess(t.gateway_url or settings.public_base_url, api_key, ca_file=ca_file)
        return gw, Ingress(gw, settings, access, ssl_ca=ca_file)
    except BaseException:
        gw.close()
        raise


__all__ = [
    "GatewayAccess",
    "GatewayUnavailable",
    "Ingress",
    "PendingCall",
    "PhoneSubjects",
    "check_call_id",
    "open_ingress",
    "provision_api_key",
    "room_for",
]
