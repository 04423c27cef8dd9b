"""Runs the gateway's ASGI app on uvicorn behind a TLS 1.3-only context.

Certificates come from the operator's settings or, when none are configured, from the local
development CA created in the data dir on first start.
"""

from __future__ import annotations

import contextlib
import logging
import re
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from voxseal.config import Settings
from voxseal.signaling.devca import ensure_dev_certificates
from voxseal.signaling.tls import server_context

_SECRET_QUERY = re.compile(r"((?:^|[?&])(?:token|access_token)=)[^&\s\"]*")


class RedactSecrets(logging.Filter):
    """Masks credentials that clients put in URLs (``/v1/rtc?token=…``) in uvicorn's logs.

    uvicorn logs each request's path with its query string (access log) and each WebSocket
    handshake (error log); a join token there would be a bearer secret in the logs.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(
                _SECRET_QUERY.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args
            )
        if isinstance(record.msg, str) and "token=" in record.msg:
            record.msg = _SECRET_QUERY.sub(r"\1***", record.msg)
        return True


def install_log_redaction() -> None:
    for name in ("uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())


@dataclass(frozen=True)
class ServerCertificates:
    cert_file: Path
    key_file: Path
    #: the dev CA certificate clients must trust, or None for operator certificates
    dev_ca: Path | None
    created: bool = False


def resolve_certificates(settings: Settings) -> ServerCertificates:
    if settings.tls_cert_file and settings.tls_key_file:
        return ServerCertificates(settings.tls_cert_file, settings.tls_key_file, None)
    dev = ensure_dev_certificates(settings.dev_ca_dir)
    return ServerCertificates(dev.server_cert, dev.server_key, dev.ca_cert, dev.created)


def uvicorn_config(app: Any, settings: Settings, certs: ServerCertificates) -> uvicorn.Config:
    context = server_context(certs.cert_file, certs.key_file)

    def factory(_config: uvicorn.Config, _default: Any) -> ssl.SSLContext:
        return context

    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        ssl_certfile=str(certs.cert_file),
        ssl_keyfile=str(certs.key_file),
        ssl_context_factory=factory,
        log_level=settings.log_level,
        # zero trust: the peer address is what the socket says, not what a header claims
        proxy_headers=False,
        server_header=False,
        ws="websockets-sansio",
        ws_max_size=1 << 20,
        timeout_graceful_shutdown=5,
    )


def serve(app: Any, settings: Settings, certs: ServerCertificates) -> None:
    """Serve until SIGINT/SIGTERM; the lifespan's shutdown (audit checkpoint) runs first.

    uvicorn re-raises the interrupt once it has shut down gracefully; by then everything is
    closed, so Ctrl-C is a normal, successful stop.
    """
    config = uvicorn_config(app, settings, certs)  # configures uvicorn's loggers
    install_log_redaction()
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(config).run()
