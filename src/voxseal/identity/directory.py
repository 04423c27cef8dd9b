"""The directory of principals: people and services, their roles and their credentials.

A :class:`Principal` is what the rest of voxseal sees: identifiers, kind, roles, flags. It never
carries a password hash, TOTP secret or key, so it can be logged, audited and returned by the
API as is. Credentials are only ever *checked* through the directory's methods:

* passwords: argon2id (:mod:`voxseal.identity.passwords`), upgraded on a successful check when
  the configured parameters changed;
* TOTP: the secret is sealed at rest (:mod:`voxseal.identity.sealing`); enrolment is *pending*
  until the first code is confirmed, so a mistyped QR scan can never lock anyone out; the last
  accepted time step is stored and advanced atomically, which makes every code single-use even
  across nodes;
* recovery codes (:mod:`voxseal.identity.recovery`) and API keys (:mod:`voxseal.identity.apikeys`).

Humans hold only human roles and service accounts only service roles (see
:mod:`voxseal.identity.rbac` for why); API keys exist only for service accounts.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from voxseal.errors import (
    Conflict,
    InvalidCredentials,
    InvalidInput,
    MFANotEnrolled,
    MFAReplay,
    NotFound,
)
from voxseal.identity import rbac
from voxseal.identity.apikeys import ApiKeyInfo, ApiKeyStore, NewApiKey
from voxseal.identity.passwords import PasswordHasher
from voxseal.identity.rbac import Role
from voxseal.identity.recovery import RecoveryCodes
from voxseal.identity.sealing import SecretSealer
from voxseal.identity.totp import TOTP, Algorithm, b32encode_secret, generate_secret, terminal_qr
from voxseal.store import Database, Transaction

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")

#: PostgreSQL advisory lock id that serialises role and disable changes across nodes ("vxADMN")
ADMIN_LOCK_ID = 0x7678_4144_4D4E


class PrincipalKind(StrEnum):
    HUMAN = "human"
    SERVICE = "service"


class MFAState(StrEnum):
    NONE = "none"
    PENDING = "pending"
    CONFIRMED = "confirmed"


@dataclass(frozen=True, slots=True)
class Principal:
    """A person or service as the gateway sees it: no credential material inside."""

    id: str
    name: str
    kind: PrincipalKind
    roles: frozenset[Role]
    disabled: bool
    mfa_state: MFAState
    has_password: bool
    created_at: float

    @property
    def mfa_required(self) -> bool:
        """Humans holding a role in :data:`rbac.MFA_REQUIRED` must complete TOTP."""
        return self.kind is PrincipalKind.HUMAN and rbac.mfa_required(self.roles)

    @property
    def mfa_enrolled(self) -> bool:
        return self.mfa_state is MFAState.CONFIRMED

    def as_dict(self) -> dict[str, object]:
        """JSON-ready view for the REST API and CLI."""
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind.value,
            "roles": sorted(r.value for r in self.roles),
            "disabled": self.disabled,
            "mfa": self.mfa_state.value,
            "mfa_required": self.mfa_required,
            "created_at": self.created_at,
        }


@dataclass(frozen=True, slots=True)
class TOTPEnrolment:
    """What an enrolling user needs once: the URI (it embeds the secret) and its QR code."""

    principal: str
    algorithm: Algorithm
    digits: int
    period: int
    uri: str = field(repr=False)
    secret_b32: str = field(repr=False)

    def qr(self) -> str:
        return terminal_qr(self.uri)


def normalise_name(name: str) -> str:
    if not isinstance(name, str):
        raise InvalidInput("name must be text", reason="invalid_name")
    normalised = name.strip().lower()
    if not _NAME_RE.match(normalised):
        raise InvalidInput(
            "name must be 1-64 of [a-z0-9._@-], starting with a letter or digit",
            reason="invalid_name",
        )
    return normalised


_COLUMNS = "id, name, kind, roles, disabled, mfa_state, password_hash IS NOT NULL, created_at"


def _principal(row: tuple[Any, ...]) -> Principal:
    return Principal(
        id=row[0],
        name=row[1],
        kind=PrincipalKind(row[2]),
        roles=frozenset(Role(r) for r in row[3].split(",") if r),
        disabled=bool(row[4]),
        mfa_state=MFAState(row[5]),
        has_password=bool(row[6]),
        created_at=float(row[7]),
    )


class Directory:
    """Principals and their credentials in the store."""

    def __init__(
        self,
        db: Database,
        hasher: PasswordHasher,
        sealer: SecretSealer,
        *,
        issuer: str = "voxseal",
        totp_window: int = 1,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self.hasher = hasher
        self._sealer = sealer
        self.issuer = issuer
        self._totp_window = totp_window
        self._clock = clock
        self.recovery = RecoveryCodes(db, clock=clock)
        self.api_keys = ApiKeyStore(db, clock=clock)

    def __repr__(self) -> str:
        return f"Directory({self._db!r})"

    @property
    def db(self) -> Database:
        return self._db

    # -- principals -----------------------------------------------------------------------

    def create_user(
        self, name: str, roles: Iterable[Role | str], password: str | None = None
    ) -> Principal:
        """A human principal; ``password`` (checked against the policy) may be set later."""
        role_set = self._check_roles(PrincipalKind.HUMAN, roles)
        password_hash = self.hasher.hash(password) if password is not None else None
        return self._insert(name, PrincipalKind.HUMAN, role_set, password_hash)

    def create_service(self, name: str, roles: Iterable[Role | str]) -> Principal:
        """A service account (agent, backend): it authenticates with API keys, never a password."""
        role_set = self._check_roles(PrincipalKind.SERVICE, roles)
        return self._insert(name, PrincipalKind.SERVICE, role_set, None)

    def _insert(
        self, name: str, kind: PrincipalKind, roles: frozenset[Role], password_hash: str | None
    ) -> Principal:
        name = normalise_name(name)
        now = self._clock()
        pid = str(uuid.uuid4())
        with self._db.transaction() as tx:
            if tx.query_one("SELECT 1 FROM identity_principals WHERE name = ?", (name,)):
                raise Conflict(f"principal {name!r} already exists", reason="principal_exists")
            tx.execute(
                "INSERT INTO identity_principals (id, name, kind, roles, disabled, password_hash,"
                " mfa_state, created_at, updated_at) VALUES (?, ?, ?, ?, 0, ?, 'none', ?, ?)",
                (pid, name, kind.value, _roles_text(roles), password_hash, now, now),
            )
        return self.get_by_id(pid)

    @staticmethod
    def _check_roles(kind: PrincipalKind, roles: Iterable[Role | str]) -> frozenset[Role]:
        role_set = rbac.parse_roles(roles)
        if not role_set:
            raise InvalidInput("a principal needs at least one role", reason="no_role")
        allowed = rbac.SERVICE_ROLES if kind is PrincipalKind.SERVICE else rbac.HUMAN_ROLES
        wrong = role_set - allowed
        if wrong:
            raise InvalidInput(
                f"role(s) {sorted(r.value for r in wrong)} are not for {kind.value} principals",
                reason="role_kind_mismatch",
            )
        return role_set

    def find(self, name: str) -> Principal | None:
        try:
            name = normalise_name(name)
        except InvalidInput:
            return None
        row = self._db.query_one(
            f"SELECT {_COLUMNS} FROM identity_principals WHERE name = ?", (name,)
        )
        return _principal(row) if row else None

    def get(self, name: str) -> Principal:
        found = self.find(name)
        if found is None:
            raise NotFound(f"no principal named {str(name)[:64]!r}", reason="principal_not_found")
        return found

    def get_by_id(self, principal_id: str) -> Principal:
        row = self._db.query_one(
            f"SELECT {_COLUMNS} FROM identity_principals WHERE id = ?", (principal_id,)
        )
        if row is None:
            raise NotFound("no such principal", reason="principal_not_found")
        return _principal(row)

    def principals(self, kind: PrincipalKind | None = None) -> list[Principal]:
        if kind is None:
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM identity_principals ORDER BY name")
        else:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM identity_principals WHERE kind = ? ORDER BY name",
                (PrincipalKind(kind).value,),
            )
        return [_principal(r) for r in rows]

    def set_roles(self, name: str, roles: Iterable[Role | str]) -> Principal:
        with self._admin_change():
            principal = self.get(name)
            role_set = self._check_roles(principal.kind, roles)
            self._keep_an_admin(principal, role_set, principal.disabled)
            self._update(principal.id, "roles = ?", (_roles_text(role_set),))
        return self.get_by_id(principal.id)

    def set_disabled(self, name: str, disabled: bool = True) -> Principal:
        with self._admin_change():
            principal = self.get(name)
            self._keep_an_admin(principal, principal.roles, disabled)
            self._update(principal.id, "disabled = ?", (1 if disabled else 0,))
        return self.get_by_id(principal.id)

    @contextmanager
    def _admin_change(self) -> Iterator[Transaction]:
        """One transaction around the last-administrator check and the change it guards.

        Two administrators demoting each other at once must not both see the other one still
        enabled: on SQLite the transaction begins IMMEDIATE (it holds the database's write lock
        from its first statement), on PostgreSQL it takes an advisory lock first (under READ
        COMMITTED both would otherwise read the same two admins). Within one process the
        store's connection lock serialises the transaction too. Every read and write the
        caller makes inside joins this transaction.
        """
        with self._db.transaction() as tx:
            if self._db.dialect == "postgresql":
                tx.execute("SELECT pg_advisory_xact_lock(?)", (ADMIN_LOCK_ID,))
            yield tx

    def _keep_an_admin(
        self, principal: Principal, roles: frozenset[Role] | set[Role], disabled: bool
    ) -> None:
        """Refuse the change that would leave no enabled administrator.

        Only ``admin`` may manage principals and roles, so without one the deployment can be
        repaired only by editing its database; every path (API, CLI, dashboard) goes through
        here, inside :meth:`_admin_change`. Only humans can hold ``admin``, so only humans
        are counted.
        """
        if Role.ADMIN not in principal.roles or principal.disabled:
            return  # not an enabled admin now: the count cannot go down
        if Role.ADMIN in roles and not disabled:
            return
        if not any(
            p.id != principal.id and Role.ADMIN in p.roles and not p.disabled
            for p in self.principals(PrincipalKind.HUMAN)
        ):
            raise Conflict(
                f"{principal.name} is the last enabled administrator; the change would leave "
                "no enabled administrator (make someone else an administrator first)",
                reason="last_admin",
            )

    def disable(self, name: str) -> Principal:
        return self.set_disabled(name, True)

    def enable(self, name: str) -> Principal:
        return self.set_disabled(name, False)

    def _update(self, principal_id: str, assignment: str, params: tuple[Any, ...]) -> None:
        self._db.execute(
            f"UPDATE identity_principals SET {assignment}, updated_at = ? WHERE id = ?",
            (*params, self._clock(), principal_id),
        )

    # -- passwords ------------------------------------------------------------------------

    def set_password(self, name: str, password: str) -> None:
        principal = self.get(name)
        if principal.kind is not PrincipalKind.HUMAN:
            raise InvalidInput("service accounts have no password", reason="service_password")
        self._update(principal.id, "password_hash = ?", (self.hasher.hash(password),))

    def check_password(self, name: str, password: str) -> Principal | None:
        """The principal when ``password`` is right, else None — with the same work either way.

        Unknown names, service accounts and users without a password are verified against a
        dummy hash so the answer takes as long as a real check. A correct password stored with
        outdated argon2 parameters is re-hashed with the current ones.
        """
        principal = self.find(name)
        stored = None
        if principal is not None and principal.kind is PrincipalKind.HUMAN:
            row = self._db.query_one(
                "SELECT password_hash FROM identity_principals WHERE id = ?", (principal.id,)
            )
            stored = row[0] if row else None
        if not self.hasher.verify(stored, password) or principal is None or stored is None:
            return None
        if self.hasher.needs_rehash(stored):
            self._db.execute(
                "UPDATE identity_principals SET password_hash = ?"
                " WHERE id = ? AND password_hash = ?",
                (self.hasher.rehash(password), principal.id, stored),
            )
        return principal

    # -- TOTP -----------------------------------------------------------------------------

    def begin_totp_enrolment(
        self,
        name: str,
        *,
        algorithm: Algorithm | str = Algorithm.SHA1,
        digits: int = 6,
        period: int = 30,
        replace: bool = False,
    ) -> TOTPEnrolment:
        """Create a new secret in *pending* state; confirm it with the first code.

        A confirmed enrolment is only replaced when ``replace`` is true (an admin reset),
        so a stolen session cannot silently swap someone's second factor.
        """
        principal = self.get(name)
        if principal.kind is not PrincipalKind.HUMAN:
            raise InvalidInput("service accounts do not use TOTP", reason="service_mfa")
        if principal.mfa_state is MFAState.CONFIRMED and not replace:
            raise Conflict("TOTP is already enrolled; reset it first", reason="mfa_enrolled")
        algorithm = Algorithm(str(algorithm).upper())
        secret = generate_secret(algorithm)
        totp = TOTP(secret, algorithm=algorithm, digits=digits, period=period)
        sealed = self._sealer.seal(secret, context=f"totp:{principal.id}")
        self._update(
            principal.id,
            "totp_secret = ?, totp_algorithm = ?, totp_digits = ?, totp_period = ?,"
            " mfa_state = 'pending', totp_last_step = NULL",
            (sealed, algorithm.value, digits, period),
        )
        return TOTPEnrolment(
            principal=principal.name,
            algorithm=algorithm,
            digits=digits,
            period=period,
            uri=totp.provisioning_uri(principal.name, self.issuer),
            secret_b32=b32encode_secret(secret),
        )

    def confirm_totp_enrolment(self, name: str, code: str, *, at: float | None = None) -> list[str]:
        """Check the first code of a pending enrolment; returns 10 fresh recovery codes."""
        principal = self.get(name)
        if principal.mfa_state is not MFAState.PENDING:
            raise MFANotEnrolled("no pending TOTP enrolment to confirm")
        totp, last_step = self._totp_of(principal.id)
        step = totp.verify(code, at=self._clock() if at is None else at, last_step=last_step)
        rows = self._db.execute(
            "UPDATE identity_principals SET mfa_state = 'confirmed', totp_last_step = ?,"
            " updated_at = ? WHERE id = ? AND mfa_state = 'pending' RETURNING id",
            (step, self._clock(), principal.id),
        )
        if not rows:
            raise MFANotEnrolled("no pending TOTP enrolment to confirm")
        return self.recovery.replace(principal.id)

    def verify_totp(self, principal_id: str, code: str, *, at: float | None = None) -> int:
        """Accept a code once: InvalidMFACode, MFAReplay or MFANotEnrolled otherwise.

        The matched step is stored with a compare-and-set (``last_step < step``) so two
        requests racing with the same code cannot both pass, whichever node they reach.
        """
        principal = self.get_by_id(principal_id)
        if principal.mfa_state is not MFAState.CONFIRMED:
            raise MFANotEnrolled("TOTP is not enrolled")
        totp, last_step = self._totp_of(principal_id)
        step = totp.verify(code, at=self._clock() if at is None else at, last_step=last_step)
        rows = self._db.execute(
            "UPDATE identity_principals SET totp_last_step = ?"
            " WHERE id = ? AND (totp_last_step IS NULL OR totp_last_step < ?) RETURNING id",
            (step, principal_id, step),
        )
        if not rows:
            raise MFAReplay("one-time code already used")
        return step

    def _totp_of(self, principal_id: str) -> tuple[TOTP, int | None]:
        row = self._db.query_one(
            "SELECT totp_secret, totp_algorithm, totp_digits, totp_period, totp_last_step"
            " FROM identity_principals WHERE id = ?",
            (principal_id,),
        )
        if row is None or row[0] is None:
            raise MFANotEnrolled("TOTP is not enrolled")
        secret = self._sealer.open(bytes(row[0]), context=f"totp:{principal_id}")
        totp = TOTP(
            secret,
            algorithm=row[1],
            digits=int(row[2]),
            period=int(row[3]),
            window=self._totp_window,
        )
        return totp, (int(row[4]) if row[4] is not None else None)

    def reset_mfa(self, name: str) -> Principal:
        """Remove TOTP and recovery codes (admin action; the user must enrol again)."""
        principal = self.get(name)
        self._update(
            principal.id,
            "totp_secret = NULL, totp_algorithm = NULL, totp_digits = NULL,"
            " totp_period = NULL, mfa_state = 'none', totp_last_step = NULL",
            (),
        )
        self.recovery.clear(principal.id)
        return self.get_by_id(principal.id)

    # -- recovery codes -------------------------------------------------------------------

    def use_recovery_code(self, principal_id: str, code: str) -> bool:
        principal = self.get_by_id(principal_id)
        if principal.mfa_state is not MFAState.CONFIRMED:
            return False
        return self.recovery.consume(principal_id, code)

    def regenerate_recovery_codes(self, name: str) -> list[str]:
        principal = self.get(name)
        if principal.mfa_state is not MFAState.CONFIRMED:
            raise MFANotEnrolled("enrol TOTP before creating recovery codes")
        return self.recovery.replace(principal.id)

    def recovery_codes_remaining(self, name: str) -> int:
        return self.recovery.remaining(self.get(name).id)

    # -- API keys -------------------------------------------------------------------------

    def create_api_key(self, name: str, label: str | None = None) -> NewApiKey:
        """A new key for a service account; the returned ``key`` is the only copy."""
        principal = self.get(name)
        if principal.kind is not PrincipalKind.SERVICE:
            raise InvalidInput("API keys are for service accounts", reason="apikey_human")
        if principal.disabled:
            raise InvalidInput("principal is disabled", reason="principal_disabled")
        return self.api_keys.create(principal.id, label)

    def list_api_keys(self, name: str | None = None) -> list[ApiKeyInfo]:
        return self.api_keys.keys(self.get(name).id if name is not None else None)

    def revoke_api_key(self, key_id: str) -> None:
        self.api_keys.revoke(key_id)

    def authenticate_api_key(self, key: str) -> tuple[Principal, str]:
        """``(principal, key_id)`` for a valid key of an enabled service account."""
        principal_id, key_id = self.api_keys.verify(key)
        principal = self.get_by_id(principal_id)
        if principal.disabled or principal.kind is not PrincipalKind.SERVICE:
            raise InvalidCredentials("invalid API key", reason="invalid_api_key")
        return principal, key_id


def _roles_text(roles: Iterable[Role]) -> str:
    return ",".join(sorted(r.value for r in roles))
