"""TLS 1.3 and nothing older, for every signaling connection (HTTPS and WSS).

The stdlib ``ssl`` module is what uvicorn and the websockets client speak; pinning both the
minimum and the maximum version to TLS 1.3 means a downgrade is not a configuration away.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from voxseal.errors import ConfigError


def server_context(cert_file: Path, key_file: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    # no session tickets: resumption would outlive a revoked certificate and adds 0-RTT risk
    ctx.options |= ssl.OP_NO_TICKET
    ctx.set_alpn_protocols(["http/1.1"])
    try:
        ctx.load_cert_chain(str(cert_file), str(key_file))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError("tls_cert_file", f"cannot load certificate/key: {exc}") from None
    return ctx


def client_context(ca_file: Path | None = None) -> ssl.SSLContext:
    """A verifying TLS 1.3 client; trusts ``ca_file`` (the dev CA) or the system store."""
    ctx = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    return ctx
