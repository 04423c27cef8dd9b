"""Long-lived private keys kept as files in the data dir (audit checkpoints, token signing).

Created atomically with mode 0600 so no other user ever sees a partially written or
world-readable key; an existing file with looser permissions is refused rather than used.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from voxseal.errors import ConfigError


def write_private_file(path: Path, data: bytes) -> None:
    """Write ``data`` to a new owner-only file, atomically (temp file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def check_private_file(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(str(path), f"private key file is accessible by others (mode {mode:o})")


def load_or_create_ed25519(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 key at ``path`` (PKCS#8 PEM), generated on first use."""
    if not path.exists():
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        write_private_file(path, pem)
        return key
    check_private_file(path)
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise ConfigError(str(path), "expected an Ed25519 private key")
    return loaded
