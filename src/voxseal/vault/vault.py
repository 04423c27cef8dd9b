"""The vault: recordings, transcripts and voiceprints, encrypted at rest, read only when allowed.

What it guarantees, and how:

* **Never in the clear at rest.** ``put`` encrypts before anything touches the database; the
  store holds a wrapped data key and AES-256-GCM ciphertext per object (see
  :mod:`voxseal.vault.keys` for the hierarchy and the envelope format).
* **Every read is decided and recorded.** ``get`` checks the caller's roles against the object's
  kind (recordings and voiceprints need ``recordings:read``; transcripts ``transcripts:read``;
  unredacted transcripts additionally need the vault's ``allow_unredacted`` policy) and writes
  an audit event for every attempt — success, refusal or failure — holding only the object id,
  subject id and kind. The success event is durable *before* the plaintext is returned, so a
  read the audit log cannot record does not happen (fail closed).
* **Erasure that reaches backups.** ``shred_subject`` destroys the subject's key; every object of
  that subject is unreadable from then on, wherever its ciphertext lives. The database may still
  hold an old copy of the *wrapped* subject key (SQLite free pages and WAL, PostgreSQL dead
  tuples, backups); that copy is useless once the master key that wrapped it is rotated away,
  so a periodic :meth:`Vault.rotate_master_key` bounds how long a shredded key survives anywhere.
* **No key caching.** Subject and data keys are unwrapped per operation into mutable buffers and
  overwritten afterwards, so a shred on one node takes effect on every node at once and no
  process keeps a subject key in memory after a shred. (Overwriting is best effort in Python:
  the ``cryptography`` calls may hold transient copies.)

Metadata is stored in the clear for listing, so it must hold **no raw PII**: the agent stores
identifiers, durations, codecs and redaction counts of *redacted* transcripts there, never text,
names, numbers or addresses. Keys and value sizes are limited to make that the easy path, and the
metadata is authenticated with the payload so it cannot be altered unnoticed. Subject ids must be
pseudonymous identifiers (as the consent ledger issues them), never an email or a phone number;
they appear in audit events.
"""

from __future__ import annotations

import builtins
import json
import math
import os
import re
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from voxseal.at_rest import Purpose, new_key, seal, wipe
from voxseal.audit.actions import AuditAction
from voxseal.audit.events import AuditContext, AuditSink, Outcome
from voxseal.errors import InvalidInput, NotFound, PermissionDenied
from voxseal.identity.rbac import Permission, Role, has_permission
from voxseal.store import Database
from voxseal.vault.keys import (
    KeyProvider,
    LocalKeyFileProvider,
    ObjectShredded,
    VaultError,
    VaultIntegrityError,
    WrongMasterKey,
    context,
    next_key_path,
    open_provider,
    open_sealed,
    subject_key_context,
)
from voxseal.vault.schema import MIGRATIONS

Roles = Iterable[Role | str]


class ObjectKind(StrEnum):
    RECORDING = "recording"
    TRANSCRIPT = "transcript"
    TRANSCRIPT_UNREDACTED = "transcript_unredacted"
    VOICEPRINT = "voiceprint"


#: who may read each kind (a voiceprint is biometric voice data: as sensitive as a recording)
READ_PERMISSION: dict[ObjectKind, Permission] = {
    ObjectKind.RECORDING: Permission.RECORDINGS_READ,
    ObjectKind.VOICEPRINT: Permission.RECORDINGS_READ,
    ObjectKind.TRANSCRIPT: Permission.TRANSCRIPTS_READ,
    ObjectKind.TRANSCRIPT_UNREDACTED: Permission.TRANSCRIPTS_READ,
}
WRITE_PERMISSION: dict[ObjectKind, Permission] = {
    ObjectKind.RECORDING: Permission.RECORDINGS_WRITE,
    ObjectKind.VOICEPRINT: Permission.RECORDINGS_WRITE,
    ObjectKind.TRANSCRIPT: Permission.TRANSCRIPTS_WRITE,
    ObjectKind.TRANSCRIPT_UNREDACTED: Permission.TRANSCRIPTS_WRITE,
}
#: the table has one delete permission for stored voice data; it covers every kind
DELETE_PERMISSION = Permission.RECORDINGS_DELETE
SHRED_PERMISSION = Permission.DSAR_EXECUTE

MAX_OBJECT_BYTES = 256 * 1024 * 1024
MAX_METADATA_BYTES = 4096
MAX_METADATA_KEYS = 32
MAX_METADATA_STRING = 200

_SUBJECT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_OBJECT_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
_MIME_NAME = r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}"
_CONTENT_TYPE_RE = re.compile(
    rf"^{_MIME_NAME}/{_MIME_NAME}(\s*;\s*[a-z0-9_-]{{1,32}}=[A-Za-z0-9_.-]{{1,64}}){{0,4}}$"
)
_META_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")

_OBJECT_COLUMNS = (
    "o.id, o.subject_id, o.key_version, o.kind, o.content_type, o.metadata, o.size,"
    " o.created_at, o.wrapped_data_key, o.ciphertext"
)


@dataclass(frozen=True, slots=True)
class VaultObjectInfo:
    """What :meth:`Vault.objects` shows: metadata only, never content."""

    id: str
    subject_id: str
    kind: ObjectKind
    content_type: str
    created_at: float
    size: int
    metadata: dict[str, Any]
    shredded: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "subject_id": self.subject_id,
            "kind": self.kind.value,
            "content_type": self.content_type,
            "created_at": self.created_at,
            "size": self.size,
            "metadata": self.metadata,
            "shredded": self.shredded,
        }


@dataclass(frozen=True, slots=True)
class VaultObject:
    """A decrypted object; ``data`` is kept out of the repr so it never reaches a log."""

    id: str
    subject_id: str
    kind: ObjectKind
    content_type: str
    created_at: float
    metadata: dict[str, Any]
    data: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class ShredResult:
    subject_id: str
    #: subject key versions destroyed now (0 if the subject had none or was already shredded)
    keys_destroyed: int
    #: objects of the subject that are now unreadable (ciphertext may remain)
    objects: int


@dataclass(frozen=True, slots=True)
class RotationResult:
    old_key_id: str
    new_key_id: str
    rewrapped: int
    #: (subject id, key version) of rows that failed to unwrap and were left as they were
    failed: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class _Row:
    id: str
    subject_id: str
    key_version: int
    kind: ObjectKind
    content_type: str
    metadata_json: str
    size: int
    created_at: float
    wrapped_data_key: bytes
    ciphertext: bytes

    @classmethod
    def of(cls, r: tuple[Any, ...]) -> _Row:
        return cls(
            str(r[0]),
            str(r[1]),
            int(r[2]),
            ObjectKind(r[3]),
            str(r[4]),
            str(r[5]),
            int(r[6]),
            float(r[7]),
            bytes(r[8]),
            bytes(r[9]),
        )


def data_key_aad(object_id: str, subject_id: str, key_version: int, kind: str) -> bytes:
    return context("data-key", object_id, subject_id, key_version, kind)


def payload_aad(
    object_id: str,
    subject_id: str,
    key_version: int,
    kind: str,
    content_type: str,
    created_at: float,
    metadata_json: str,
) -> bytes:
    return context(
        "object",
        object_id,
        subject_id,
        key_version,
        kind,
        content_type,
        repr(float(created_at)),
        metadata_json,
    )


def canonical_metadata(metadata: Mapping[str, Any] | None) -> str:
    """Validate and serialise metadata: flat, small, scalar values, canonical JSON."""
    metadata = dict(metadata or {})
    if len(metadata) > MAX_METADATA_KEYS:
        raise InvalidInput(
            f"metadata has more than {MAX_METADATA_KEYS} keys", reason="bad_metadata"
        )
    for key, value in metadata.items():
        if not isinstance(key, str) or not _META_KEY_RE.match(key):
            raise InvalidInput(
                "metadata keys are lower_snake_case names up to 40 characters",
                reason="bad_metadata",
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidInput(f"metadata {key!r} is not a finite number", reason="bad_metadata")
        if isinstance(value, str):
            if len(value) > MAX_METADATA_STRING:
                raise InvalidInput(
                    f"metadata {key!r} is longer than {MAX_METADATA_STRING} characters"
                    " (metadata is for ids and figures, never content)",
                    reason="bad_metadata",
                )
        elif value is not None and not isinstance(value, bool | int | float):
            raise InvalidInput(
                f"metadata {key!r} must be a string, number, boolean or null",
                reason="bad_metadata",
            )
    text = json.dumps(metadata, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if len(text.encode()) > MAX_METADATA_BYTES:
        raise InvalidInput(f"metadata exceeds {MAX_METADATA_BYTES} bytes", reason="bad_metadata")
    return text


def check_subject_id(subject_id: str) -> str:
    if not isinstance(subject_id, str) or not _SUBJECT_RE.match(subject_id):
        raise InvalidInput(
            "subject id must be 1-128 characters of letters, digits and . _ : -"
            " (a pseudonymous id, never an email or phone number)",
            reason="bad_subject_id",
        )
    return subject_id


def is_object_id(object_id: str) -> bool:
    return isinstance(object_id, str) and bool(_OBJECT_RE.match(object_id))


def _kind(kind: ObjectKind | str) -> ObjectKind:
    try:
        return ObjectKind(kind)
    except ValueError:
        raise InvalidInput(
            f"unknown vault object kind; known: {', '.join(k.value for k in ObjectKind)}",
            reason="bad_kind",
        ) from None


class Vault:
    """Envelope-encrypted objects per data subject, with RBAC and an audit event per access.

    ``provider`` holds the master key; ``audit`` receives every event (the gateway's
    :class:`~voxseal.audit.log.AuditLog`). ``allow_unredacted`` is the policy switch for reading
    ``transcript_unredacted`` objects: off by default, so unredacted text stays write-only
    unless the operator decides otherwise.
    """

    def __init__(
        self,
        db: Database,
        provider: KeyProvider,
        audit: AuditSink,
        *,
        allow_unredacted: bool = False,
        max_object_bytes: int = MAX_OBJECT_BYTES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._provider = provider
        self._retiring: builtins.list[KeyProvider] = []
        self._audit = audit
        self.allow_unredacted = allow_unredacted
        self.max_object_bytes = max_object_bytes
        self._clock = clock

    def __repr__(self) -> str:
        return f"<Vault master_key={self._provider.key_id!r} db={self._db!r}>"

    @property
    def master_key_id(self) -> str:
        return self._provider.key_id

    # -- writing ------------------------------------------------------------------------------

    def put(
        self,
        subject_id: str,
        kind: ObjectKind | str,
        data: bytes,
        *,
        content_type: str,
        actor: str,
        metadata: Mapping[str, Any] | None = None,
        roles: Roles | None = None,
        source: str | None = None,
        correlation_id: str | None = None,
    ) -> str:
        """Encrypt and store ``data``; returns the new object id.

        ``roles``, when given, must hold the kind's write permission (the agent's
        ``recordings:write`` / ``transcripts:write``); in-process callers that already
        authorised the write may omit it.
        """
        subject_id = check_subject_id(subject_id)
        kind = _kind(kind)
        if not isinstance(content_type, str) or not _CONTENT_TYPE_RE.match(content_type):
            raise InvalidInput("content type must be a MIME type", reason="bad_content_type")
        data = bytes(data)
        if len(data) > self.max_object_bytes:
            raise InvalidInput(
                f"object exceeds {self.max_object_bytes} bytes", reason="object_too_large"
            )
        meta_json = canonical_metadata(metadata)
        audit = _Audit(
            AuditContext(self._audit, actor, source, correlation_id), AuditAction.VAULT_WRITE
        )
        audit.details = {"subject_id": subject_id, "kind": kind.value}
        if roles is not None:
            audit.require(roles, WRITE_PERMISSION[kind])

        object_id = str(uuid.uuid4())
        created_at = float(self._clock())
        audit.target = object_id
        for _ in range(3):
            version, wrapped = self._active_subject_key(subject_id)
            subject_key = self._unwrap_subject_key(subject_id, version, wrapped)
            data_key = new_key()
            try:
                wrapped_data_key = seal(
                    subject_key,
                    Purpose.VAULT_SUBJECT_WRAP,
                    bytes(data_key),
                    data_key_aad(object_id, subject_id, version, kind.value),
                )
                ciphertext = seal(
                    data_key,
                    Purpose.VAULT_DATA,
                    data,
                    payload_aad(
                        object_id,
                        subject_id,
                        version,
                        kind.value,
                        content_type,
                        created_at,
                        meta_json,
                    ),
                )
            finally:
                wipe(data_key)
                wipe(subject_key)
            # conditional insert: a shred committed since we read the key makes this a no-op
            # and we start again with a fresh key, never storing under a destroyed one
            inserted = self._db.execute(
                "INSERT INTO vault_objects (id, subject_id, key_version, kind, content_type,"
                " metadata, size, created_at, created_by, wrapped_data_key, ciphertext)"
                " SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM"
                " vault_subject_keys WHERE subject_id = ? AND version = ?"
                " AND wrapped_key IS NOT NULL) RETURNING id",
                (
                    object_id,
                    subject_id,
                    version,
                    kind.value,
                    content_type,
                    meta_json,
                    len(data),
                    created_at,
                    actor,
                    wrapped_data_key,
                    ciphertext,
                    subject_id,
                    version,
                ),
            )
            if inserted:
                break
        else:
            audit.fail("subject_key_unstable")
            raise VaultError("the subject's key kept being shredded during the write")
        audit.success(size=len(data))
        return object_id

    def _active_subject_key(self, subject_id: str) -> tuple[int, bytes]:
        """The subject's live key (version, wrapped), created on first use."""
        for _ in range(5):
            row = self._db.query_one(
                "SELECT version, wrapped_key FROM vault_subject_keys"
                " WHERE subject_id = ? AND wrapped_key IS NOT NULL ORDER BY version DESC LIMIT 1",
                (subject_id,),
            )
            if row is not None:
                return int(row[0]), bytes(row[1])
            top = self._db.query_one(
                "SELECT MAX(version) FROM vault_subject_keys WHERE subject_id = ?", (subject_id,)
            )
            # after a shred the next key gets a new version: never reuse a destroyed one's
            version = int(top[0] or 0) + 1 if top is not None else 1
            key = new_key()
            try:
                wrapped = self._provider.wrap(
                    bytes(key), context=subject_key_context(subject_id, version)
                )
            finally:
                wipe(key)
            created = self._db.execute(
                "INSERT INTO vault_subject_keys"
                " (subject_id, version, master_key_id, wrapped_key, created_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING version",
                (subject_id, version, self._provider.key_id, wrapped, float(self._clock())),
            )
            if created:
                return version, wrapped
            # another writer created it first: read theirs
        raise VaultError("could not establish a key for the subject")

    def _unwrap_subject_key(self, subject_id: str, version: int, wrapped: bytes) -> bytearray:
        ctx = subject_key_context(subject_id, version)
        try:
            return bytearray(self._provider.unwrap(wrapped, context=ctx))
        except WrongMasterKey:
            for provider in self._retiring:
                try:
                    return bytearray(provider.unwrap(wrapped, context=ctx))
                except WrongMasterKey:
                    continue
            raise

    # -- reading ------------------------------------------------------------------------------

    def get(
        self,
        object_id: str,
        *,
        actor: str,
        roles: Roles,
        kinds: Collection[ObjectKind] | None = None,
        source: str | None = None,
        correlation_id: str | None = None,
    ) -> VaultObject:
        """Decrypt one object for ``actor`` holding ``roles``; every attempt is audited.

        ``kinds`` narrows what this call may return (``GET /v1/recordings/{id}`` passes
        ``{recording}``): any other kind is answered as not found.
        """
        roles = frozenset(roles)
        audit = _Audit(
            AuditContext(self._audit, actor, source, correlation_id),
            AuditAction.VAULT_READ,
            str(object_id)[:64],
        )
        # no lookup at all for callers who may read nothing: no existence oracle for them
        if not any(has_permission(roles, p) for p in set(READ_PERMISSION.values())):
            audit.deny("permission_denied")
            raise PermissionDenied(
                "reading vault objects needs recordings:read or transcripts:read",
                reason="permission_denied",
            )
        row = self._row(object_id)
        if row is None or (kinds is not None and row.kind not in kinds):
            audit.fail("not_found")
            raise NotFound("no such vault object", reason="vault_object_not_found")
        audit.details = {"subject_id": row.subject_id, "kind": row.kind.value}
        audit.require(roles, READ_PERMISSION[row.kind])
        if row.kind is ObjectKind.TRANSCRIPT_UNREDACTED and not self.allow_unredacted:
            audit.deny("unredacted_not_allowed")
            raise PermissionDenied(
                "policy does not allow reading unredacted transcripts",
                reason="unredacted_not_allowed",
            )
        try:
            data = self._decrypt(row)
        except (ObjectShredded, VaultIntegrityError) as exc:
            audit.fail(exc.reason)
            raise
        audit.success()  # durable before the plaintext leaves: an unrecorded read never happens
        return VaultObject(
            row.id,
            row.subject_id,
            row.kind,
            row.content_type,
            row.created_at,
            json.loads(row.metadata_json),
            data,
        )

    def _row(self, object_id: str) -> _Row | None:
        if not is_object_id(object_id):
            return None
        r = self._db.query_one(
            f"SELECT {_OBJECT_COLUMNS} FROM vault_objects o WHERE o.id = ?", (object_id,)
        )
        return None if r is None else _Row.of(r)

    def _decrypt(self, row: _Row) -> bytes:
        key_row = self._db.query_one(
            "SELECT wrapped_key FROM vault_subject_keys WHERE subject_id = ? AND version = ?",
            (row.subject_id, row.key_version),
        )
        if key_row is None:
            raise VaultIntegrityError("the object names a subject key that does not exist")
        if key_row[0] is None:
            raise ObjectShredded("the subject's key was destroyed; the object is unreadable")
        subject_key = self._unwrap_subject_key(row.subject_id, row.key_version, bytes(key_row[0]))
        try:
            data_key = bytearray(
                open_sealed(
                    subject_key,
                    Purpose.VAULT_SUBJECT_WRAP,
                    row.wrapped_data_key,
                    data_key_aad(row.id, row.subject_id, row.key_version, row.kind.value),
                )
            )
        finally:
            wipe(subject_key)
        try:
            return open_sealed(
                data_key,
                Purpose.VAULT_DATA,
                row.ciphertext,
                payload_aad(
                    row.id,
                    row.subject_id,
                    row.key_version,
                    row.kind.value,
                    row.content_type,
                    row.created_at,
                    row.metadata_json,
                ),
            )
        finally:
            wipe(data_key)

    def objects(
        self,
        subject_id: str,
        *,
        actor: str,
        roles: Roles,
        kinds: Collection[ObjectKind] | None = None,
        source: str | None = None,
        correlation_id: str | None = None,
    ) -> builtins.list[VaultObjectInfo]:
        """Metadata of the subject's objects whose kind ``roles`` may read (audited)."""
        roles = frozenset(roles)
        audit = _Audit(
            AuditContext(self._audit, actor, source, correlation_id), AuditAction.VAULT_LIST
        )
        subject_id = check_subject_id(subject_id)
        audit.target = subject_id
        readable = {k for k, p in READ_PERMISSION.items() if has_permission(roles, p)}
        if kinds is not None:
            readable &= set(kinds)
        if not readable:
            audit.deny("permission_denied")
            raise PermissionDenied(
                "listing vault objects needs recordings:read or transcripts:read",
                reason="permission_denied",
            )
        rows = self._db.execute(
            "SELECT o.id, o.subject_id, o.kind, o.content_type, o.created_at, o.size, o.metadata,"
            " k.wrapped_key IS NULL FROM vault_objects o JOIN vault_subject_keys k"
            " ON k.subject_id = o.subject_id AND k.version = o.key_version"
            " WHERE o.subject_id = ? ORDER BY o.created_at, o.id",
            (subject_id,),
        )
        out = [
            VaultObjectInfo(
                str(r[0]),
                str(r[1]),
                ObjectKind(r[2]),
                str(r[3]),
                float(r[4]),
                int(r[5]),
                json.loads(r[6]),
                bool(r[7]),
            )
            for r in rows
            if ObjectKind(r[2]) in readable
        ]
        audit.success(count=len(out))
        return out

    # -- deleting -----------------------------------------------------------------------------

    def delete(
        self,
        object_id: str,
        *,
        actor: str,
        roles: Roles,
        source: str | None = None,
        correlation_id: str | None = None,
    ) -> None:
        """Remove one object (its wrapped data key goes with it, so nothing can open it)."""
        roles = frozenset(roles)
        audit = _Audit(
            AuditContext(self._audit, actor, source, correlation_id),
            AuditAction.VAULT_DELETE,
            str(object_id)[:64],
        )
        audit.require(roles, DELETE_PERMISSION)
        row = self._row(object_id)
        if row is None:
            audit.fail("not_found")
            raise NotFound("no such vault object", reason="vault_object_not_found")
        audit.details = {"subject_id": row.subject_id, "kind": row.kind.value}
        self._db.execute("DELETE FROM vault_objects WHERE id = ?", (row.id,))
        audit.success()

    def shred_subject(
        self,
        subject_id: str,
        *,
        actor: str,
        roles: Roles | None = None,
        source: str | None = None,
        correlation_id: str | None = None,
    ) -> ShredResult:
        """Crypto-shred: destroy every key of the subject; their objects are unreadable forever.

        Ciphertext rows stay (they are noise without the key) and are listed as ``shredded``;
        a retention job may delete them later. Idempotent. ``roles``, when given, must hold
        ``dsar:execute`` (the HTTP and CLI paths pass them; the DSAR workflow in-process may
        have authorised already).
        """
        audit = _Audit(
            AuditContext(self._audit, actor, source, correlation_id), AuditAction.VAULT_SHRED
        )
        subject_id = check_subject_id(subject_id)
        audit.target = subject_id
        if roles is not None:
            audit.require(frozenset(roles), SHRED_PERMISSION)
        with self._db.transaction() as tx:
            destroyed = tx.execute(
                "UPDATE vault_subject_keys SET wrapped_key = NULL, master_key_id = NULL,"
                " shredded_at = ? WHERE subject_id = ? AND wrapped_key IS NOT NULL"
                " RETURNING version",
                (float(self._clock()), subject_id),
            )
            count = tx.query_one(
                "SELECT COUNT(*) FROM vault_objects WHERE subject_id = ?", (subject_id,)
            )
        result = ShredResult(subject_id, len(destroyed), int(count[0]) if count else 0)
        audit.success(keys_destroyed=result.keys_destroyed, objects=result.objects)
        return result

    # -- master key rotation ------------------------------------------------------------------

    def rotate_master_key(
        self, new_provider: KeyProvider, *, actor: str, batch: int = 500
    ) -> RotationResult:
        """Re-wrap every live subject key under ``new_provider``; objects are not touched.

        Works in batches (a KMS call per row must not hold the database for minutes), each
        row updated only if it is still what was read (compare-and-set), so a concurrent shred
        always wins. From the first batch on, new subject keys are wrapped by the new provider
        and the old one is kept for unwrapping until every row has moved. Rows that fail to
        unwrap are left alone and reported: the old master key must then be kept until an
        operator has looked at them.
        """
        old = self._provider
        if new_provider.key_id == old.key_id:
            raise VaultError("the new master key is the current one", reason="same_master_key")
        audit = _Audit(AuditContext(self._audit, actor), AuditAction.VAULT_ROTATE_MASTER, "vault")
        audit.details = {"old_key_id": old.key_id, "new_key_id": new_provider.key_id}
        self._retiring = [old, *self._retiring]
        self._provider = new_provider
        rewrapped = 0
        failed: builtins.list[tuple[str, int]] = []
        while True:
            rows = self._db.execute(
                "SELECT subject_id, version, wrapped_key FROM vault_subject_keys"
                " WHERE wrapped_key IS NOT NULL AND (master_key_id IS NULL OR master_key_id <> ?)"
                " ORDER BY subject_id, version LIMIT ?",
                (new_provider.key_id, batch + len(failed)),
            )
            todo = [r for r in rows if (str(r[0]), int(r[1])) not in failed][:batch]
            if not todo:
                break
            updates = []
            for subject_id, version, wrapped in todo:
                subject_id, version, wrapped = str(subject_id), int(version), bytes(wrapped)
                try:
                    key = self._unwrap_subject_key(subject_id, version, wrapped)
                except VaultIntegrityError:
                    failed.append((subject_id, version))
                    continue
                try:
                    new_blob = new_provider.wrap(
                        bytes(key), context=subject_key_context(subject_id, version)
                    )
                finally:
                    wipe(key)
                updates.append((new_blob, new_provider.key_id, subject_id, version, wrapped))
            with self._db.transaction() as tx:
                for params in updates:
                    done = tx.execute(
                        "UPDATE vault_subject_keys SET wrapped_key = ?, master_key_id = ?"
                        " WHERE subject_id = ? AND version = ? AND wrapped_key = ?"
                        " RETURNING version",
                        params,
                    )
                    rewrapped += len(done)
        result = RotationResult(old.key_id, new_provider.key_id, rewrapped, tuple(failed))
        if failed:
            audit.fail("unwrap_failed", rewrapped=rewrapped, failed=len(failed))
        else:
            self._retiring = []
            audit.success(rewrapped=rewrapped)
        return result


# -- audit plumbing -----------------------------------------------------------------------------


@dataclass
class _Audit:
    """One audited operation: identifiers only (object id, subject id, kind, reason codes).

    The target and details fill in as the operation learns them; whichever way it ends
    (success, failure, refusal) is recorded once through the caller's :class:`AuditContext`.
    """

    context: AuditContext
    action: AuditAction
    target: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def _emit(self, outcome: Outcome, **extra: Any) -> None:
        self.context.record(
            self.action, target=self.target, outcome=outcome, **{**self.details, **extra}
        )

    def success(self, **extra: Any) -> None:
        self._emit(Outcome.SUCCESS, **extra)

    def fail(self, reason: str, **extra: Any) -> None:
        self._emit(Outcome.FAILURE, reason=reason, **extra)

    def deny(self, reason: str) -> None:
        self._emit(Outcome.DENIED, reason=reason)

    def require(self, roles: Roles, permission: Permission) -> None:
        if not has_permission(roles, permission):
            self.deny("permission_denied")
            raise PermissionDenied(
                f"permission {permission.value!r} is required", reason="permission_denied"
            )


# -- wiring -------------------------------------------------------------------------------------


def open_vault(
    db: Database,
    audit: AuditSink,
    data_dir: Path,
    *,
    key_provider: str = "local",
    allow_unredacted: bool = False,
) -> Vault:
    """The gateway's vault: migrate its tables (idempotent) and load the master key provider."""
    db.migrate([MIGRATIONS])
    provider = open_provider(key_provider, data_dir)
    return Vault(db, provider, audit, allow_unredacted=allow_unredacted)


def rotate_local_master_key(vault: Vault, path: Path, *, actor: str) -> RotationResult:
    """Rotate a :class:`LocalKeyFileProvider` master key file in place.

    Steps, each safe to crash after: (1) the new key is written to ``<path>.next`` (0600; an
    existing one from an interrupted run is reused); (2) every subject key is re-wrapped; (3)
    ``<path>.next`` replaces ``<path>``, which destroys the old key. Until (3), the provider
    opens blobs of either key, so no crash can lock data out. If some rows failed to unwrap,
    the old key is kept and the error is raised after the rows that could move have moved.
    """
    path = Path(path)
    pending = next_key_path(path)
    new = LocalKeyFileProvider(pending, create=True)
    result = vault.rotate_master_key(new, actor=actor)
    if result.failed:
        raise VaultError(
            f"{len(result.failed)} subject keys could not be unwrapped; the old master key is"
            " kept until they are resolved",
            reason="rotation_incomplete",
        )
    os.replace(pending, path)
    vault._provider = LocalKeyFileProvider(path, create=False)
    vault._retiring = []
    return result
