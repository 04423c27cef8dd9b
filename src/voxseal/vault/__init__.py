"""Encryption at rest for voice data: envelope encryption, per-subject keys, crypto-shredding.

:class:`Vault` stores recordings, transcripts and voiceprints as AES-256-GCM ciphertext under a
data key per object, wrapped by a key per data subject, wrapped by a master key from a
:class:`KeyProvider` (a 0600 key file by default, a KMS/HSM by plug-in). Reading needs a
permission and is always audited; destroying a subject's key makes all of their objects
unreadable (crypto-shredding).
"""

from voxseal.vault.keys import (
    KeyProvider,
    LocalKeyFileProvider,
    ObjectShredded,
    VaultError,
    VaultIntegrityError,
    VaultUnavailable,
    WrongMasterKey,
    open_provider,
    register_provider,
)
from voxseal.vault.vault import (
    ObjectKind,
    RotationResult,
    ShredResult,
    Vault,
    VaultObject,
    VaultObjectInfo,
    open_vault,
    rotate_local_master_key,
)

__all__ = [
    "KeyProvider",
    "LocalKeyFileProvider",
    "ObjectKind",
    "ObjectShredded",
    "RotationResult",
    "ShredResult",
    "Vault",
    "VaultError",
    "VaultIntegrityError",
    "VaultObject",
    "VaultObjectInfo",
    "VaultUnavailable",
    "WrongMasterKey",
    "open_provider",
    "open_vault",
    "register_provider",
    "rotate_local_master_key",
]
