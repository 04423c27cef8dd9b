"""One typed settings object, read from a TOML file and ``VOXSEAL_*`` environment variables.

Precedence, lowest first: built-in defaults, the TOML file (``<data dir>/voxseal.toml`` or the
file named by ``--config`` / ``VOXSEAL_CONFIG``), environment variables, explicit overrides
(CLI flags). Every value is validated at start-up; a bad one is a :class:`ConfigError` naming
the setting, so a misconfigured gateway never starts half-secured.

Nested sections map to environment variables by joining with ``_``: ``[lockout] threshold`` is
``VOXSEAL_LOCKOUT_THRESHOLD``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from voxseal.errors import ConfigError

ENV_PREFIX = "VOXSEAL_"
CONFIG_FILE_NAME = "voxseal.toml"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def redact_url(url: str) -> str:
    """A database URL fit for logs and reprs: the password, if any, is replaced."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def parse_duration(value: str | float | int, *, setting: str = "duration") -> float:
    """Seconds from ``90``, ``"90s"``, ``"10m"``, ``"1h"``, ``"7d"``; refuses negatives."""
    if isinstance(value, bool):
        raise ConfigError(setting, "expected a duration such as 30s, 10m or 1h")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        m = _DURATION.match(value)
        if not m:
            raise ConfigError(setting, f"{value!r} is not a duration such as 30s, 10m or 1h")
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if seconds <= 0:
        raise ConfigError(setting, "must be positive")
    return seconds


def default_data_dir() -> Path:
    env = os.environ.get(f"{ENV_PREFIX}DATA_DIR")
    return Path(env).expanduser() if env else Path.home() / ".voxseal"


Duration = typing.NewType("Duration", float)


@dataclass(frozen=True)
class PasswordSettings:
    """argon2id cost; raising any value makes existing hashes rehash at next login."""

    time_cost: int = 3
    memory_cost_kib: int = 65536
    parallelism: int = 4
    min_length: int = 12

    def validate(self) -> None:
        _at_least("passwords.time_cost", self.time_cost, 1)
        _at_least("passwords.memory_cost_kib", self.memory_cost_kib, 8 * self.parallelism)
        _at_least("passwords.parallelism", self.parallelism, 1)
        _at_least("passwords.min_length", self.min_length, 8)


@dataclass(frozen=True)
class LockoutSettings:
    """Failed attempts allowed in ``window`` before back-off starts, per account and per IP."""

    threshold: int = 5
    ip_threshold: int = 20
    window: Duration = Duration(900.0)
    base_delay: Duration = Duration(30.0)
    max_delay: Duration = Duration(3600.0)

    def validate(self) -> None:
        _at_least("lockout.threshold", self.threshold, 1)
        _at_least("lockout.ip_threshold", self.ip_threshold, 1)
        if self.max_delay < self.base_delay:
            raise ConfigError("lockout.max_delay", "must be at least lockout.base_delay")


@dataclass(frozen=True)
class TokenSettings:
    access_ttl: Duration = Duration(900.0)
    join_ttl: Duration = Duration(600.0)
    max_join_ttl: Duration = Duration(6 * 3600.0)
    mfa_challenge_ttl: Duration = Duration(300.0)
    issuer: str = "voxseal"

    def validate(self) -> None:
        if self.join_ttl > self.max_join_ttl:
            raise ConfigError("tokens.join_ttl", "must not exceed tokens.max_join_ttl")
        if self.access_ttl > 86400:
            raise ConfigError("tokens.access_ttl", "access tokens are short-lived: at most 1d")
        if not self.issuer:
            raise ConfigError("tokens.issuer", "must not be empty")
        if self.mfa_challenge_ttl > 300:
            raise ConfigError("tokens.mfa_challenge_ttl", "at most 5m")


@dataclass(frozen=True)
class VaultSettings:
    """Where the vault's master key comes from (``local`` = a 0600 key file in the data dir)."""

    key_provider: str = "local"
    #: let authorised readers open unredacted transcripts (never kept in HIPAA mode anyway)
    allow_unredacted: bool = False


@dataclass(frozen=True)
class PrivacySettings:
    """HIPAA mode: PHI redaction mandatory, recordings off unless explicitly allowed."""

    hipaa: bool = False
    #: recordings in HIPAA mode (outside it they are on, consent permitting)
    allow_recordings_in_hipaa: bool = False


#: provider secrets are also read from these shorter, provider-documented variable names
ENV_ALIASES: Mapping[str, str] = {
    "telephony.twilio_auth_token": "VOXSEAL_TWILIO_AUTH_TOKEN",
    "telephony.vonage_signature_secret": "VOXSEAL_VONAGE_SIGNATURE_SECRET",
    "telephony.signalwire_signing_key": "VOXSEAL_SIGNALWIRE_SIGNING_KEY",
}


@dataclass(frozen=True)
class TelephonySettings:
    """``voxseal telephony``: the phone ingress (agent zone) and the provider secrets it checks
    webhooks with. Secrets never appear in the repr; empty means the provider is disabled."""

    host: str = "127.0.0.1"
    port: int = 8444
    #: the URL providers call (webhooks and wss streams); defaults to https://localhost:<port>
    public_base_url: str = ""
    #: the gateway the ingress joins rooms through; defaults to the top-level public_base_url
    gateway_url: str = ""
    #: a backend API key for the gateway; empty = provision a service account in the data dir
    api_key: str = ""
    twilio_auth_token: str = ""
    vonage_signature_secret: str = ""
    #: when set, a Vonage webhook signed for another account is refused
    vonage_api_key: str = ""
    signalwire_signing_key: str = ""
    #: how long a stream token in TwiML/NCCO stays redeemable
    stream_token_ttl: Duration = Duration(60.0)
    #: media WebSockets open at once whose stream token is not redeemed yet; more are refused
    #: (1013) so unauthenticated sockets cannot pile up and starve the calls
    max_unadmitted_streams: int = 128

    _SECRETS = ("api_key", "twilio_auth_token", "vonage_signature_secret", "signalwire_signing_key")

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{f.name}={'***' if getattr(self, f.name) else ''!r}"
            if f.name in self._SECRETS
            else f"{f.name}={getattr(self, f.name)!r}"
            for f in dataclasses.fields(self)
        )
        return f"TelephonySettings({shown})"

    def validate(self) -> None:
        if not (0 < self.port < 65536):
            raise ConfigError("telephony.port", f"{self.port} is not a TCP port")
        _check_host(self.host, "telephony.host")
        for name in ("public_base_url", "gateway_url"):
            value = getattr(self, name)
            url = urlsplit(value)
            if value and (url.scheme != "https" or not url.hostname or url.query):
                raise ConfigError(f"telephony.{name}", "must be an https:// URL with a host")
        if self.stream_token_ttl > 300:
            raise ConfigError("telephony.stream_token_ttl", "at most 5m")
        if not 1 <= self.max_unadmitted_streams <= 100_000:
            raise ConfigError("telephony.max_unadmitted_streams", "must be 1..100000")


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=default_data_dir)
    host: str = "127.0.0.1"
    port: int = 8443
    #: the URL clients use; defaults to https://localhost:<port>
    public_base_url: str = ""
    #: ``sqlite:///…`` or ``postgresql://…``; defaults to SQLite in the data dir
    database_url: str = ""
    #: operator-provided certificate chain and key (PEM); both or neither
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    audit_checkpoint_every: int = 1000
    log_level: str = "info"
    passwords: PasswordSettings = field(default_factory=PasswordSettings)
    lockout: LockoutSettings = field(default_factory=LockoutSettings)
    tokens: TokenSettings = field(default_factory=TokenSettings)
    vault: VaultSettings = field(default_factory=VaultSettings)
    privacy: PrivacySettings = field(default_factory=PrivacySettings)
    telephony: TelephonySettings = field(default_factory=TelephonySettings)

    def __post_init__(self) -> None:
        # fill the derived defaults so every reader sees one concrete value
        if not self.public_base_url:
            object.__setattr__(self, "public_base_url", f"https://localhost:{self.port}")
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{self.data_dir / 'voxseal.db'}")

    def __repr__(self) -> str:
        # the database URL may carry a password; nothing else here is secret
        shown = ", ".join(
            f"{f.name}={getattr(self, f.name)!r}"
            if f.name != "database_url"
            else f"database_url={redact_url(self.database_url)!r}"
            for f in dataclasses.fields(self)
        )
        return f"Settings({shown})"

    __str__ = __repr__

    @property
    def dev_ca_dir(self) -> Path:
        return self.data_dir / "tls"

    def validate(self) -> Settings:
        if not (0 < self.port < 65536):
            raise ConfigError("port", f"{self.port} is not a TCP port")
        _check_host(self.host)
        url = urlsplit(self.public_base_url)
        if url.scheme != "https" or not url.hostname:
            raise ConfigError("public_base_url", "must be an https:// URL with a host")
        if not self.database_url.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ConfigError("database_url", "must start with sqlite:/// or postgresql://")
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ConfigError(
                "tls_cert_file", "set both tls_cert_file and tls_key_file, or neither"
            )
        for name in ("tls_cert_file", "tls_key_file"):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                raise ConfigError(name, f"{path} does not exist")
        _at_least("audit_checkpoint_every", self.audit_checkpoint_every, 1)
        if self.log_level not in {"critical", "error", "warning", "info", "debug"}:
            raise ConfigError("log_level", "one of critical, error, warning, info, debug")
        self.passwords.validate()
        self.lockout.validate()
        self.tokens.validate()
        self.telephony.validate()
        return self


def _at_least(name: str, value: int, minimum: int) -> None:
    if value < minimum:
        raise ConfigError(name, f"must be at least {minimum}")


def _check_host(host: str, setting: str = "host") -> None:
    if host in ("localhost", "") or re.fullmatch(r"[A-Za-z0-9.-]+", host):
        return
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ConfigError(setting, f"{host!r} is not a host name or IP address") from None


# -- loading ---------------------------------------------------------------------------------


def _coerce(setting: str, annotation: Any, raw: Any) -> Any:
    """Turn a TOML or environment value into the field's type, or name the setting."""
    origin = typing.get_origin(annotation)
    if origin in (types.UnionType, typing.Union):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if raw in (None, ""):
            return None
        return _coerce(setting, args[0], raw)
    if annotation is Duration:
        return Duration(parse_duration(raw, setting=setting))
    if annotation is bool:
        if isinstance(raw, bool):
            return raw
        if str(raw).lower() in ("1", "true", "yes", "on"):
            return True
        if str(raw).lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(setting, f"{raw!r} is not a boolean")
    if annotation is int:
        if isinstance(raw, bool):
            raise ConfigError(setting, "expected an integer")
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise ConfigError(setting, f"{raw!r} is not an integer") from None
    if annotation is Path:
        if not isinstance(raw, str | Path) or not str(raw):
            raise ConfigError(setting, "expected a path")
        return Path(raw).expanduser()
    if annotation is str:
        if not isinstance(raw, str):
            raise ConfigError(setting, "expected a string")
        return raw
    raise ConfigError(setting, f"unsupported type {annotation!r}")  # pragma: no cover


def _build(
    cls: type,
    prefix: str,
    values: Mapping[str, Any],
    env: Mapping[str, str],
    forced: frozenset[str] = frozenset(),
) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise ConfigError(f"{prefix}{sorted(unknown)[0]}", "unknown setting")
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        setting = f"{prefix}{f.name}"
        annotation = hints[f.name]
        env_name = ENV_PREFIX + setting.replace(".", "_").upper()
        if env_name not in env and ENV_ALIASES.get(setting, "") in env:
            env_name = ENV_ALIASES[setting]
        if dataclasses.is_dataclass(annotation):
            section = values.get(f.name, {})
            if not isinstance(section, Mapping):
                raise ConfigError(setting, "expected a table")
            kwargs[f.name] = _build(annotation, f"{setting}.", section, env)  # type: ignore[arg-type]
        elif env_name in env and setting not in forced:
            kwargs[f.name] = _coerce(setting, annotation, env[env_name])
        elif f.name in values:
            kwargs[f.name] = _coerce(setting, annotation, values[f.name])
    return cls(**kwargs)


def load_settings(
    config_file: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Defaults ← TOML file ← ``VOXSEAL_*`` environment ← ``overrides`` (CLI flags)."""
    env = os.environ if env is None else env
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    data_dir = Path(
        overrides.get("data_dir") or env.get(f"{ENV_PREFIX}DATA_DIR") or default_data_dir()
    ).expanduser()
    env_config = env.get(f"{ENV_PREFIX}CONFIG")
    explicit = config_file or (Path(env_config) if env_config else None)
    path = explicit or data_dir / CONFIG_FILE_NAME
    values: dict[str, Any] = {}
    if path.is_file():
        try:
            values = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError("config_file", f"{path} is not valid TOML: {exc}") from None
    elif explicit is not None:
        raise ConfigError("config_file", f"{path} does not exist")
    values = {**values, **overrides, "data_dir": str(data_dir)}
    forced = frozenset(overrides) | {"data_dir"}
    settings: Settings = _build(Settings, "", values, env, forced)
    return settings.validate()
