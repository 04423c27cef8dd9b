"""What is on disk: the SQLite files (database, WAL, shared memory) never hold a plaintext.

The real audit log shares the database, so the events written for the writes and reads are
checked too.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from voxseal.audit.log import AuditLog
from voxseal.audit.schema import MIGRATIONS as AUDIT_MIGRATIONS
from voxseal.identity.rbac import Role
from voxseal.store import open_store
from voxseal.vault import LocalKeyFileProvider, Vault
from voxseal.vault.schema import MIGRATIONS


def _disk_bytes(data_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(data_dir.glob("voxseal.db*")))


def test_plaintext_never_reaches_the_sqlite_files(data_dir: Path) -> None:
    db = open_store(f"sqlite:///{data_dir / 'voxseal.db'}", [AUDIT_MIGRATIONS, MIGRATIONS])
    audit = AuditLog(db, Ed25519PrivateKey.generate(), checkpoint_every=5)
    provider = LocalKeyFileProvider(data_dir / "keys" / "vault-master.key")
    vault = Vault(db, provider, audit, allow_unredacted=True)
    marker = f"VOXSEAL-PLAINTEXT-MARKER-{uuid.uuid4().hex}".encode()
    card = b"4111 1111 1111 1111"
    payloads = {
        "recording": b"RIFF" + marker + bytes(4096) + marker,
        "transcript": b'{"text": "card [CARD] ' + marker + b'"}',
        "transcript_unredacted": b'{"text": "card ' + card + b" " + marker + b'"}',
        "voiceprint": marker * 8,
    }
    ids = {
        kind: vault.put(
            "subj-disk",
            kind,
            data,
            content_type="application/octet-stream",
            actor="agent-1",
            metadata={"call_id": "call-1", "duration_s": 4.2},
        )
        for kind, data in payloads.items()
    }
    for kind, oid in ids.items():
        assert vault.get(oid, actor="sup", roles={Role.SUPERVISOR}).data == payloads[kind]
    vault.objects("subj-disk", actor="sup", roles={Role.SUPERVISOR})
    audit.close()
    db.close()

    disk = _disk_bytes(data_dir)
    assert b"vault_objects" in disk and b"call-1" in disk  # we are looking at the right file
    assert marker not in disk
    assert marker.hex().encode() not in disk
    assert card not in disk and card.replace(b" ", b"") not in disk
    assert provider.path.read_bytes() not in disk  # nor the master key
    for data in payloads.values():
        assert data not in disk
