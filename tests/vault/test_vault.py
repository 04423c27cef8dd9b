"""The vault on SQLite and PostgreSQL: round trips, tampering, crypto-shredding, RBAC, audit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.harness.audit import ListSink
from voxseal.audit.events import Outcome
from voxseal.errors import InvalidInput, NotFound, PermissionDenied
from voxseal.identity.rbac import Role
from voxseal.store import Database
from voxseal.vault import (
    LocalKeyFileProvider,
    ObjectKind,
    ObjectShredded,
    Vault,
    VaultIntegrityError,
    WrongMasterKey,
)

SUP = {Role.SUPERVISOR}
AUDIO = b"RIFF\x00\x00\x00\x00WAVEfmt " + bytes(range(256)) * 4
TEXT = json.dumps({"text": "my card is [CARD]", "words": 4}).encode()


def put(vault: Vault, subject: str = "subj-alice", kind: str = "recording", **kw) -> str:
    data = kw.pop("data", AUDIO if kind in ("recording", "voiceprint") else TEXT)
    ctype = kw.pop("content_type", "audio/wav" if kind == "recording" else "application/json")
    return vault.put(subject, kind, data, content_type=ctype, actor="agent-1", **kw)


def raw(db: Database, sql: str, *params: object) -> list[tuple]:
    return db.execute(sql, params)


# -- round trips --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [k.value for k in ObjectKind])
def test_round_trip_every_kind(db: Database, provider, sink: ListSink, kind: str) -> None:
    vault = Vault(db, provider, sink, allow_unredacted=True)
    oid = put(vault, kind=kind, metadata={"call_id": "call-7", "duration_s": 12.5})
    obj = vault.get(oid, actor="sup", roles=SUP)
    assert obj.id == oid and obj.subject_id == "subj-alice" and obj.kind.value == kind
    assert obj.data == (AUDIO if kind in ("recording", "voiceprint") else TEXT)
    assert obj.metadata == {"call_id": "call-7", "duration_s": 12.5}
    assert obj.created_at > 0
    assert repr(AUDIO[:20])[2:-1] not in repr(obj)  # data stays out of reprs
    write = sink.of("vault.write")[-1]
    assert write.target == oid and write.details["kind"] == kind
    read = sink.of("vault.read", Outcome.SUCCESS)[-1]
    assert read.target == oid and read.actor == "sup"
    assert read.details == {"subject_id": "subj-alice", "kind": kind}


def test_empty_and_large_payloads(vault: Vault) -> None:
    for data in (b"", bytes(3_000_000)):
        oid = put(vault, data=data)
        assert vault.get(oid, actor="sup", roles=SUP).data == data


def test_one_subject_key_many_data_keys(vault: Vault, db: Database) -> None:
    a, b = put(vault), put(vault)
    put(vault, subject="subj-bob")
    keys = raw(db, "SELECT subject_id, version FROM vault_subject_keys ORDER BY 1")
    assert keys == [("subj-alice", 1), ("subj-bob", 1)]
    rows = raw(db, "SELECT wrapped_data_key FROM vault_objects WHERE id IN (?, ?)", a, b)
    assert rows[0][0] != rows[1][0]


def test_list_shows_metadata_only_and_only_readable_kinds(vault: Vault, sink: ListSink) -> None:
    rec = put(vault, metadata={"duration_s": 3})
    tr = put(vault, kind="transcript")
    put(vault, subject="subj-bob")
    listed = vault.objects("subj-alice", actor="sup", roles=SUP)
    assert [o.id for o in listed] == [rec, tr]
    assert listed[0].metadata == {"duration_s": 3} and listed[0].size == len(AUDIO)
    assert not hasattr(listed[0], "data") and listed[0].shredded is False
    assert "data" not in listed[0].as_dict()
    only_recordings = vault.objects(
        "subj-alice", actor="sup", roles=SUP, kinds={ObjectKind.RECORDING}
    )
    assert [o.id for o in only_recordings] == [rec]
    ev = sink.of("vault.list")[-1]
    assert ev.target == "subj-alice" and ev.details == {"count": 1}


def test_input_is_validated(
    vault: Vault, db: Database, provider: LocalKeyFileProvider, sink: ListSink
) -> None:
    with pytest.raises(InvalidInput, match="kind"):
        put(vault, kind="photo")
    for bad in ("", "alice@example.com", "+15551234567", "a" * 129, "x y"):
        with pytest.raises(InvalidInput, match="subject id"):
            put(vault, subject=bad)
    with pytest.raises(InvalidInput, match="MIME"):
        put(vault, content_type="audio/wav\r\nX-Evil: 1")
    with pytest.raises(InvalidInput, match="never content"):
        put(vault, metadata={"transcript": "x" * 500})
    with pytest.raises(InvalidInput):
        put(vault, metadata={"nested": {"a": 1}})
    with pytest.raises(InvalidInput):
        put(vault, metadata={"Bad-Key": 1})
    small = Vault(db, provider, sink, max_object_bytes=10)
    with pytest.raises(InvalidInput, match="exceeds"):
        put(small, data=b"x" * 11)
    assert put(vault, content_type="audio/ogg; codecs=opus")


# -- tampering ----------------------------------------------------------------------------------


def _flip(db: Database, table: str, column: str, where: str, *params: object) -> None:
    (blob,) = raw(db, f"SELECT {column} FROM {table} WHERE {where}", *params)[0]
    blob = bytearray(bytes(blob))
    blob[len(blob) // 2] ^= 0x01
    raw(db, f"UPDATE {table} SET {column} = ? WHERE {where}", bytes(blob), *params)


def _refused(vault: Vault, sink: ListSink, oid: str, exc: type[Exception] = VaultIntegrityError):
    with pytest.raises(exc):
        vault.get(oid, actor="sup", roles=SUP)
    ev = sink.last()
    assert ev.action == "vault.read" and ev.outcome is Outcome.FAILURE and ev.target == oid
    return ev


def test_tampered_ciphertext_is_refused(vault: Vault, db: Database, sink: ListSink) -> None:
    oid = put(vault)
    _flip(db, "vault_objects", "ciphertext", "id = ?", oid)
    ev = _refused(vault, sink, oid)
    assert ev.details["reason"] == "vault_integrity_failed"


def test_tampered_wrapped_data_key_is_refused(vault: Vault, db: Database, sink: ListSink) -> None:
    oid = put(vault)
    _flip(db, "vault_objects", "wrapped_data_key", "id = ?", oid)
    _refused(vault, sink, oid)


def test_tampered_subject_key_is_refused(vault: Vault, db: Database, sink: ListSink) -> None:
    oid = put(vault)
    _flip(db, "vault_subject_keys", "wrapped_key", "subject_id = ?", "subj-alice")
    _refused(vault, sink, oid)


def test_object_moved_to_another_subject_is_refused(
    vault: Vault, db: Database, sink: ListSink
) -> None:
    oid = put(vault, subject="subj-alice")
    put(vault, subject="subj-mallory")  # mallory has a key (version 1) too
    raw(db, "UPDATE vault_objects SET subject_id = 'subj-mallory' WHERE id = ?", oid)
    _refused(vault, sink, oid)


def test_subject_key_copied_to_another_subject_is_refused(
    vault: Vault, db: Database, sink: ListSink
) -> None:
    """An attacker with DB write access replaces bob's wrapped key with alice's: no use."""
    put(vault, subject="subj-alice")
    bob_obj = put(vault, subject="subj-bob")
    (alice_key,) = raw(
        db, "SELECT wrapped_key FROM vault_subject_keys WHERE subject_id = ?", "subj-alice"
    )[0]
    raw(
        db,
        "UPDATE vault_subject_keys SET wrapped_key = ? WHERE subject_id = ?",
        alice_key,
        "subj-bob",
    )
    _refused(vault, sink, bob_obj)


def test_data_key_swapped_between_objects_is_refused(
    vault: Vault, db: Database, sink: ListSink
) -> None:
    a, b = put(vault), put(vault)
    (wdk,) = raw(db, "SELECT wrapped_data_key FROM vault_objects WHERE id = ?", a)[0]
    raw(db, "UPDATE vault_objects SET wrapped_data_key = ? WHERE id = ?", wdk, b)
    _refused(vault, sink, b)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("kind", "transcript"),  # downgrade unredacted -> redacted to dodge the policy
        ("content_type", "text/html"),
        ("metadata", '{"call_id":"other"}'),
        ("created_at", 1.0),
    ],
)
def test_authenticated_columns_cannot_be_changed(
    db: Database, provider, sink: ListSink, column: str, value: object
) -> None:
    vault = Vault(db, provider, sink)  # allow_unredacted is False
    oid = put(
        vault, kind="transcript_unredacted", content_type="text/plain", metadata={"call_id": "c1"}
    )
    raw(db, f"UPDATE vault_objects SET {column} = ? WHERE id = ?", value, oid)
    if column == "kind":
        _refused(vault, sink, oid)  # now readable by policy, but the AAD says otherwise
    else:
        with pytest.raises(PermissionDenied):  # the policy still applies first
            vault.get(oid, actor="sup", roles=SUP)
        permissive = Vault(db, provider, sink, allow_unredacted=True)
        _refused(permissive, sink, oid)


# -- crypto-shredding ---------------------------------------------------------------------------


def test_shredding_makes_a_subject_unreadable_forever(
    vault: Vault, db: Database, provider: LocalKeyFileProvider, sink: ListSink
) -> None:
    alice = [put(vault), put(vault, kind="transcript"), put(vault, kind="voiceprint")]
    bob = put(vault, subject="subj-bob")
    before = raw(
        db, "SELECT id, ciphertext FROM vault_objects WHERE subject_id = 'subj-alice' ORDER BY id"
    )

    result = vault.shred_subject("subj-alice", actor="dpo")
    assert (result.keys_destroyed, result.objects) == (1, 3)
    ev = sink.last()
    assert ev.action == "vault.shred" and ev.outcome is Outcome.SUCCESS
    assert ev.target == "subj-alice" and ev.details == {"keys_destroyed": 1, "objects": 3}

    # the ciphertext is still there, byte for byte ...
    after = raw(
        db, "SELECT id, ciphertext FROM vault_objects WHERE subject_id = 'subj-alice' ORDER BY id"
    )
    assert [(i, bytes(c)) for i, c in after] == [(i, bytes(c)) for i, c in before]
    # ... but the only thing that could open it is gone
    assert raw(
        db,
        "SELECT wrapped_key, master_key_id FROM vault_subject_keys WHERE subject_id = 'subj-alice'",
    ) == [(None, None)]
    for oid in alice:
        ev = _refused(vault, sink, oid, ObjectShredded)
        assert ev.details["reason"] == "vault_object_shredded"
    # a fresh vault (another node, a restart) cannot read them either
    with pytest.raises(ObjectShredded):
        Vault(db, provider, sink).get(alice[0], actor="sup", roles=SUP)
    # other subjects are unaffected
    assert vault.get(bob, actor="sup", roles=SUP).data == AUDIO
    listed = vault.objects("subj-alice", actor="sup", roles=SUP)
    assert {o.id for o in listed} == set(alice) and all(o.shredded for o in listed)
    # idempotent
    assert vault.shred_subject("subj-alice", actor="dpo").keys_destroyed == 0


def test_new_data_after_a_shred_gets_a_new_key(vault: Vault, db: Database) -> None:
    old = put(vault)
    vault.shred_subject("subj-alice", actor="dpo")
    new = put(vault)
    assert vault.get(new, actor="sup", roles=SUP).data == AUDIO
    with pytest.raises(ObjectShredded):
        vault.get(old, actor="sup", roles=SUP)
    versions = raw(
        db,
        "SELECT version, wrapped_key IS NULL FROM vault_subject_keys"
        " WHERE subject_id = 'subj-alice' ORDER BY version",
    )
    assert [(int(v), bool(n)) for v, n in versions] == [(1, True), (2, False)]
    # pointing the old object at the new key does not bring it back
    raw(db, "UPDATE vault_objects SET key_version = 2 WHERE id = ?", old)
    with pytest.raises(VaultIntegrityError):
        vault.get(old, actor="sup", roles=SUP)


def test_a_backup_of_a_shredded_key_dies_with_the_old_master_key(
    vault: Vault, db: Database, data_dir: Path, key_path: Path
) -> None:
    """The wrapped key may survive in a backup; rotating the master key makes it useless."""
    oid = put(vault)
    (backup,) = raw(
        db, "SELECT wrapped_key FROM vault_subject_keys WHERE subject_id = 'subj-alice'"
    )[0]
    vault.shred_subject("subj-alice", actor="dpo")
    from voxseal.vault import rotate_local_master_key

    rotate_local_master_key(vault, key_path, actor="ops")
    current = LocalKeyFileProvider(key_path)
    from voxseal.vault.keys import subject_key_context

    with pytest.raises(WrongMasterKey):
        current.unwrap(bytes(backup), context=subject_key_context("subj-alice", 1))
    # even restoring the backup row into the database does not help
    raw(
        db,
        "UPDATE vault_subject_keys SET wrapped_key = ?, shredded_at = NULL"
        " WHERE subject_id = 'subj-alice'",
        bytes(backup),
    )
    with pytest.raises(WrongMasterKey):
        Vault(db, current, ListSink()).get(oid, actor="sup", roles=SUP)


# -- master key ---------------------------------------------------------------------------------


def test_master_key_rotation_rewraps_subject_keys_only(
    vault: Vault, db: Database, sink: ListSink, key_path: Path
) -> None:
    from voxseal.vault import rotate_local_master_key

    ids = [put(vault, subject=f"subj-{i}") for i in range(5)]
    vault.shred_subject("subj-4", actor="dpo")
    old_id = vault.master_key_id
    objects_before = raw(
        db, "SELECT id, wrapped_data_key, ciphertext FROM vault_objects ORDER BY id"
    )
    keys_before = dict(
        ((s, v), bytes(w))
        for s, v, w in raw(
            db,
            "SELECT subject_id, version, wrapped_key FROM vault_subject_keys"
            " WHERE wrapped_key IS NOT NULL",
        )
    )

    result = rotate_local_master_key(vault, key_path, actor="ops")
    assert result.rewrapped == 4 and result.failed == () and result.old_key_id == old_id
    assert vault.master_key_id == result.new_key_id != old_id
    assert not key_path.with_name(key_path.name + ".next").exists()
    ev = sink.last()
    assert ev.action == "vault.rotate_master" and ev.outcome is Outcome.SUCCESS
    assert ev.details == {"old_key_id": old_id, "new_key_id": result.new_key_id, "rewrapped": 4}

    # objects untouched, byte for byte
    assert (
        raw(db, "SELECT id, wrapped_data_key, ciphertext FROM vault_objects ORDER BY id")
        == objects_before
    )
    rows = raw(
        db,
        "SELECT subject_id, version, wrapped_key, master_key_id FROM vault_subject_keys"
        " WHERE wrapped_key IS NOT NULL",
    )
    for s, v, w, kid in rows:
        assert kid == result.new_key_id and bytes(w) != keys_before[(s, v)]
    # readable through the rotated vault and through a fresh one loading the new file
    fresh = Vault(db, LocalKeyFileProvider(key_path), sink)
    for oid in ids[:4]:
        assert vault.get(oid, actor="sup", roles=SUP).data == AUDIO
        assert fresh.get(oid, actor="sup", roles=SUP).data == AUDIO
    with pytest.raises(ObjectShredded):
        fresh.get(ids[4], actor="sup", roles=SUP)
    # new subjects are wrapped by the new key
    put(vault, subject="subj-new")
    (kid,) = raw(db, "SELECT master_key_id FROM vault_subject_keys WHERE subject_id = 'subj-new'")[
        0
    ]
    assert kid == result.new_key_id


def test_rotation_to_any_provider_and_the_old_key_no_longer_opens(
    vault: Vault, db: Database, sink: ListSink, data_dir: Path, provider
) -> None:
    oid = put(vault)
    new = LocalKeyFileProvider(data_dir / "keys" / "kms-stand-in.key")
    result = vault.rotate_master_key(new, actor="ops")
    assert result.rewrapped == 1
    assert vault.get(oid, actor="sup", roles=SUP).data == AUDIO
    with pytest.raises(WrongMasterKey):
        Vault(db, provider, sink).get(oid, actor="sup", roles=SUP)


def test_rotation_skips_and_reports_a_corrupt_row(
    vault: Vault, db: Database, sink: ListSink, key_path: Path
) -> None:
    from voxseal.vault import VaultError, rotate_local_master_key

    good, bad = put(vault, subject="subj-good"), put(vault, subject="subj-bad")
    _flip(db, "vault_subject_keys", "wrapped_key", "subject_id = ?", "subj-bad")
    with pytest.raises(VaultError, match="1 subject keys could not be unwrapped"):
        rotate_local_master_key(vault, key_path, actor="ops")
    assert sink.last().outcome is Outcome.FAILURE
    # the old key is kept (the .next file holds the new one); everything still reads
    assert key_path.with_name(key_path.name + ".next").exists()
    assert Vault(db, LocalKeyFileProvider(key_path), sink).get(good, actor="s", roles=SUP)
    with pytest.raises(VaultIntegrityError):
        vault.get(bad, actor="sup", roles=SUP)


def test_wrong_master_key_is_refused(vault: Vault, db: Database, data_dir: Path) -> None:
    oid = put(vault)
    sink = ListSink()
    other = Vault(db, LocalKeyFileProvider(data_dir / "other.key"), sink)
    with pytest.raises(WrongMasterKey, match="wrapped by master key local:"):
        other.get(oid, actor="sup", roles=SUP)
    assert sink.last().details["reason"] == "vault_wrong_master_key"


# -- RBAC and audit -----------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.ADMIN, Role.AUDITOR, Role.AGENT, Role.CALLER, Role.BACKEND])
def test_roles_without_read_permission_are_refused_and_audited(
    vault: Vault, sink: ListSink, role: Role
) -> None:
    oid = put(vault)
    with pytest.raises(PermissionDenied):
        vault.get(oid, actor="someone", roles={role})
    ev = sink.last()
    assert (ev.action, ev.outcome, ev.actor, ev.target) == (
        "vault.read",
        Outcome.DENIED,
        "someone",
        oid,
    )
    assert ev.details == {"reason": "permission_denied"}  # no lookup happened: no oracle
    with pytest.raises(PermissionDenied):
        vault.objects("subj-alice", actor="someone", roles={role})
    assert sink.last().outcome is Outcome.DENIED


def test_unredacted_transcripts_need_the_policy_flag(
    db: Database, provider, sink: ListSink
) -> None:
    vault = Vault(db, provider, sink)
    oid = put(vault, kind="transcript_unredacted", data=b"my card is 4111 1111 1111 1111")
    with pytest.raises(PermissionDenied) as exc:
        vault.get(oid, actor="sup", roles=SUP)
    assert exc.value.reason == "unredacted_not_allowed"
    ev = sink.last()
    assert ev.outcome is Outcome.DENIED
    assert ev.details == {
        "subject_id": "subj-alice",
        "kind": "transcript_unredacted",
        "reason": "unredacted_not_allowed",
    }
    allowed = Vault(db, provider, sink, allow_unredacted=True)
    assert allowed.get(oid, actor="sup", roles=SUP).data.startswith(b"my card")


def test_kinds_filter_answers_other_kinds_as_not_found(vault: Vault, sink: ListSink) -> None:
    oid = put(vault, kind="transcript")
    with pytest.raises(NotFound):
        vault.get(oid, actor="sup", roles=SUP, kinds={ObjectKind.RECORDING})
    assert sink.last().details == {"reason": "not_found"}
    for missing in ("00000000-0000-4000-8000-000000000000", "not-a-uuid", "'; DROP TABLE x"):
        with pytest.raises(NotFound):
            vault.get(missing, actor="sup", roles=SUP)
        assert sink.last().outcome is Outcome.FAILURE


def test_write_permission_when_roles_are_given(vault: Vault, sink: ListSink) -> None:
    assert put(vault, roles={Role.AGENT})
    with pytest.raises(PermissionDenied):
        put(vault, roles={Role.SUPERVISOR})
    ev = sink.last()
    assert (ev.action, ev.outcome) == ("vault.write", Outcome.DENIED)


def test_delete_needs_recordings_delete(vault: Vault, db: Database, sink: ListSink) -> None:
    oid = put(vault)
    with pytest.raises(PermissionDenied):
        vault.delete(oid, actor="agent-1", roles={Role.AGENT})
    assert sink.last().outcome is Outcome.DENIED
    vault.delete(oid, actor="sup", roles=SUP)
    assert sink.last().action == "vault.delete" and sink.last().outcome is Outcome.SUCCESS
    assert raw(db, "SELECT COUNT(*) FROM vault_objects") == [(0,)]
    with pytest.raises(NotFound):
        vault.delete(oid, actor="sup", roles=SUP)


def test_shred_checks_dsar_permission_when_roles_are_given(vault: Vault, sink: ListSink) -> None:
    oid = put(vault)
    with pytest.raises(PermissionDenied):
        vault.shred_subject("subj-alice", actor="admin", roles={Role.ADMIN})
    assert sink.last().outcome is Outcome.DENIED
    assert vault.get(oid, actor="sup", roles=SUP).data == AUDIO
    vault.shred_subject("subj-alice", actor="sup", roles=SUP)
    with pytest.raises(ObjectShredded):
        vault.get(oid, actor="sup", roles=SUP)


def test_audit_events_carry_no_content(vault: Vault, sink: ListSink) -> None:
    secret = b"4111111111111111 SECRET-MARKER"
    oid = put(vault, kind="transcript", data=secret, content_type="text/plain")
    vault.get(oid, actor="sup", roles=SUP)
    vault.objects("subj-alice", actor="sup", roles=SUP)
    blob = repr(sink.events)
    assert "SECRET-MARKER" not in blob and "4111111111111111" not in blob


def test_a_read_that_cannot_be_audited_does_not_happen(db: Database, provider) -> None:
    class FailingSink(ListSink):
        def record(self, event):  # type: ignore[no-untyped-def]
            if event.action == "vault.read":
                raise RuntimeError("audit store down")
            return super().record(event)

    vault = Vault(db, provider, FailingSink())
    oid = put(vault)
    with pytest.raises(RuntimeError):
        vault.get(oid, actor="sup", roles=SUP)


def test_a_rotation_interrupted_before_the_rename_loses_nothing(
    vault: Vault, db: Database, sink: ListSink, key_path: Path
) -> None:
    """Crash after the database commit, before ``<key>.next`` replaced ``<key>``: restart."""
    from voxseal.vault import rotate_local_master_key

    oid = put(vault)
    pending = LocalKeyFileProvider(key_path.with_name(key_path.name + ".next"))
    vault.rotate_master_key(pending, actor="ops")  # committed; the process "dies" here
    restarted = Vault(db, LocalKeyFileProvider(key_path), sink)  # old primary + .next
    assert restarted.get(oid, actor="sup", roles=SUP).data == AUDIO
    later = put(restarted, subject="subj-later")  # wrapped by the old primary again
    result = rotate_local_master_key(restarted, key_path, actor="ops")  # re-run completes it
    assert result.new_key_id == pending.key_id and result.rewrapped == 1
    fresh = Vault(db, LocalKeyFileProvider(key_path), sink)
    assert fresh.master_key_id == pending.key_id
    for o in (oid, later):
        assert fresh.get(o, actor="sup", roles=SUP).data == AUDIO


def test_rotation_in_small_batches(vault: Vault, data_dir: Path) -> None:
    ids = [put(vault, subject=f"subj-{i}") for i in range(7)]
    result = vault.rotate_master_key(LocalKeyFileProvider(data_dir / "n.key"), actor="o", batch=2)
    assert result.rewrapped == 7
    assert all(vault.get(i, actor="sup", roles=SUP).data == AUDIO for i in ids)
