"""Export the log for a SIEM: JSON Lines, ArcSight CEF, or RFC 5424 syslog.

Each formatter is a pure function from an :class:`AuditRecord` to one line, so the escaping
rules — the part SIEM parsers are strict about — are tested on their own. :func:`export`
streams records out of the database in seq order and writes one line per record.

* ``jsonl``: :meth:`AuditRecord.as_dict` per line, lossless (includes both hashes, so an
  external tool can re-verify the chain from the export).
* ``cef``: ``CEF:0|voxseal|voxseal|<version>|<action>|<name>|<severity>|<extension>``. Header
  fields escape ``\\`` and ``|``; extension values escape ``\\``, ``=`` and line breaks
  (``\\n``, ``\\r``), as the CEF specification requires.
* ``syslog``: ``<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG`` (RFC 5424), facility
  ``authpriv`` (10). Every field is in one SD-ELEMENT ``voxseal@<enterprise number>``;
  PARAM-VALUEs escape ``"``, ``\\`` and ``]``. Control characters, which RFC 5424 has no escape
  for and which would break line framing, are replaced by U+FFFD in this format only (jsonl is
  the lossless one). MSG is ASCII, so no BOM is needed.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import socket
from collections.abc import Callable
from typing import Any, TextIO

from voxseal.audit.query import AuditRecord, iter_records, to_time_us
from voxseal.errors import InvalidInput
from voxseal.store import Database

FORMATS = ("jsonl", "cef", "syslog")

#: RFC 5612 documentation enterprise number; set your own PEN with ``enterprise_number``
DEFAULT_ENTERPRISE_NUMBER = 32473
SYSLOG_FACILITY_AUTHPRIV = 10
#: RFC 5424 severities per outcome: informational, warning, notice
SYSLOG_SEVERITY = {"success": 6, "failure": 4, "denied": 5}
#: CEF severities (0-10) per outcome
CEF_SEVERITY = {"success": 3, "failure": 6, "denied": 7}


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("voxseal")
    except Exception:  # running from a source tree that was never installed
        from voxseal import __version__

        return __version__


# --- JSON Lines ----------------------------------------------------------------------------


def format_jsonl(record: AuditRecord) -> str:
    return json.dumps(record.as_dict(), ensure_ascii=False, separators=(",", ":"))


# --- CEF -----------------------------------------------------------------------------------

_CEF_HEADER = str.maketrans({"\\": "\\\\", "|": "\\|", "\n": " ", "\r": " "})
_CEF_EXT = str.maketrans({"\\": "\\\\", "=": "\\=", "\n": "\\n", "\r": "\\r"})


def cef_header_escape(value: str) -> str:
    """Header fields: backslash and pipe escaped; a header cannot span lines."""
    return value.translate(_CEF_HEADER)


def cef_ext_escape(value: str) -> str:
    """Extension values: backslash, equals sign and line breaks escaped."""
    return value.translate(_CEF_EXT)


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def format_cef(record: AuditRecord, *, version: str | None = None) -> str:
    """One CEF line. Keys are CEF's own where one fits, custom strings (cs1..cs6) otherwise."""
    ext: list[tuple[str, str]] = [
        ("rt", str(record.time_us // 1000)),
        ("act", record.action),
        ("outcome", record.outcome),
        ("externalId", str(record.seq)),
    ]
    if record.actor is not None:
        ext.append(("suser", record.actor))
    if record.source is not None:
        if _is_ip(record.source):
            ext.append(("src", record.source))
        else:
            ext += [("cs2Label", "source"), ("cs2", record.source)]
    if record.target is not None:
        ext += [("cs1Label", "target"), ("cs1", record.target)]
    if record.correlation_id is not None:
        ext += [("cs3Label", "correlationId"), ("cs3", record.correlation_id)]
    ext += [
        ("cs4Label", "details"),
        ("cs4", record.details_json),
        ("cs5Label", "hash"),
        ("cs5", record.hash.hex()),
        ("cs6Label", "prevHash"),
        ("cs6", record.prev_hash.hex()),
    ]
    header = [
        "CEF:0",
        "voxseal",
        "voxseal",
        cef_header_escape(version or _version()),
        cef_header_escape(record.action),
        cef_header_escape(f"{record.action} {record.outcome}"),
        str(CEF_SEVERITY.get(record.outcome, 5)),
    ]
    extension = " ".join(f"{k}={cef_ext_escape(v)}" for k, v in ext)
    return "|".join(header) + "|" + extension


# --- RFC 5424 syslog -----------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SD_ESCAPE = str.maketrans({"\\": "\\\\", '"': '\\"', "]": "\\]"})
_PRINTUSASCII = re.compile(r"[^\x21-\x7e]")


def sd_param_escape(value: str) -> str:
    """An RFC 5424 PARAM-VALUE: ``"``, ``\\`` and ``]`` escaped; control chars replaced."""
    return _CONTROL.sub("\ufffd", value).translate(_SD_ESCAPE)


def _header_token(value: str | None, limit: int) -> str:
    """HOSTNAME/APP-NAME/PROCID/MSGID: 1..limit printable US-ASCII, or the NILVALUE."""
    if not value:
        return "-"
    return _PRINTUSASCII.sub("_", value)[:limit]


def format_syslog(
    record: AuditRecord,
    *,
    hostname: str | None = None,
    app_name: str = "voxseal",
    procid: str | None = None,
    enterprise_number: int = DEFAULT_ENTERPRISE_NUMBER,
) -> str:
    """One RFC 5424 message (without the trailing newline used for framing)."""
    pri = SYSLOG_FACILITY_AUTHPRIV * 8 + SYSLOG_SEVERITY.get(record.outcome, 5)
    params: list[tuple[str, str]] = [
        ("seq", str(record.seq)),
        ("action", record.action),
        ("outcome", record.outcome),
    ]
    for name, value in (
        ("actor", record.actor),
        ("target", record.target),
        ("source", record.source),
        ("correlationId", record.correlation_id),
    ):
        if value is not None:
            params.append((name, value))
    params += [
        ("details", record.details_json),
        ("hash", record.hash.hex()),
        ("prevHash", record.prev_hash.hex()),
    ]
    sd = (
        f"[voxseal@{enterprise_number} "
        + " ".join(f'{k}="{sd_param_escape(v)}"' for k, v in params)
        + "]"
    )
    msg = f"{record.action} {record.outcome}"
    return " ".join(
        [
            f"<{pri}>1",
            record.isotime,
            _header_token(hostname, 255),
            _header_token(app_name, 48),
            _header_token(procid, 128),
            _header_token(record.action, 32),
            sd,
            msg,
        ]
    )


# --- streaming -----------------------------------------------------------------------------


def formatter(
    fmt: str,
    *,
    hostname: str | None = None,
    app_name: str = "voxseal",
    procid: str | None = None,
    enterprise_number: int = DEFAULT_ENTERPRISE_NUMBER,
) -> Callable[[AuditRecord], str]:
    """The line formatter for ``fmt`` with its options bound."""
    if fmt == "jsonl":
        return format_jsonl
    if fmt == "cef":
        version = _version()
        return lambda r: format_cef(r, version=version)
    if fmt == "syslog":
        host = hostname if hostname is not None else socket.gethostname()
        pid = procid if procid is not None else str(os.getpid())
        return lambda r: format_syslog(
            r, hostname=host, app_name=app_name, procid=pid, enterprise_number=enterprise_number
        )
    raise InvalidInput(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")


def export(
    db: Database,
    fmt: str,
    out: TextIO,
    *,
    after_seq: int = 0,
    since: Any = None,
    until: Any = None,
    hostname: str | None = None,
    app_name: str = "voxseal",
    procid: str | None = None,
    enterprise_number: int = DEFAULT_ENTERPRISE_NUMBER,
) -> int:
    """Write every record after ``after_seq`` (within [since, until)) as ``fmt`` lines.

    Returns how many records were written; pass the last exported seq as ``after_seq`` next
    time to ship only what is new.
    """
    line = formatter(
        fmt, hostname=hostname, app_name=app_name, procid=procid,
        enterprise_number=enterprise_number,
    )  # fmt: skip
    lo = to_time_us(since) if since is not None else None
    hi = to_time_us(until) if until is not None else None
    count = 0
    for rows in iter_records(db, after_seq=after_seq):
        lines = []
        for row in rows:
            record = AuditRecord.from_row(row)
            if (lo is not None and record.time_us < lo) or (
                hi is not None and record.time_us >= hi
            ):
                continue
            lines.append(line(record))
        if lines:
            out.write("\n".join(lines) + "\n")
            count += len(lines)
    return count
