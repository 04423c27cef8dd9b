"""Reading the log back: filtered keyset paging, and SIEM exports parsed back strictly."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.audit.helpers import event
from voxseal.audit import AuditEvent, AuditLog, Outcome, export, query_records
from voxseal.audit.export import cef_ext_escape, cef_header_escape, sd_param_escape
from voxseal.errors import InvalidInput
from voxseal.store import Database

T0 = 1_700_000_000.0


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> float:
        self.t += 1.0
        return self.t


@pytest.fixture
def log(audit_db: Database, signing_key: Ed25519PrivateKey) -> AuditLog:
    log = AuditLog(audit_db, signing_key, clock=Clock())
    for i in range(30):
        log.record(event(i))
    yield log
    log.close()


def test_query_filters(log: AuditLog) -> None:
    assert [r.seq for r in log.query(actor="user1")] == [2, 7, 12, 17, 22, 27]
    assert {r.action for r in log.query(action="token.issue")} == {"token.issue"}
    assert len(log.query(action="token.issue")) == 8
    assert all(r.outcome == "denied" for r in log.query(outcome=Outcome.DENIED))
    assert [r.seq for r in log.query(actor="user1", outcome="failure")] == [2, 17]
    assert [r.seq for r in log.query(target="room-3")] == [4, 11, 18, 25]
    # record i was stamped T0 + i + 1 seconds
    assert [r.seq for r in log.query(since=T0 + 5, until=T0 + 8)] == [5, 6, 7]
    since = datetime.fromtimestamp(T0 + 29, UTC)
    assert [r.seq for r in log.query(since=since)] == [29, 30]
    assert log.query(actor="nobody") == []


def test_keyset_paging(log: AuditLog) -> None:
    seen, after = [], None
    while True:
        page = log.query(after_seq=after, limit=7)
        if not page:
            break
        seen += [r.seq for r in page]
        after = page[-1].seq
    assert seen == list(range(1, 31))
    newest = query_records(log.db, newest_first=True, limit=3)
    assert [r.seq for r in newest] == [30, 29, 28]
    older = query_records(log.db, newest_first=True, before_seq=28, limit=3)
    assert [r.seq for r in older] == [27, 26, 25]
    for bad in (0, 1001):
        with pytest.raises(InvalidInput):
            log.query(limit=bad)


def test_record_as_dict(log: AuditLog) -> None:
    (r,) = log.query(limit=1)
    d = r.as_dict()
    assert d["seq"] == 1 and d["time"] == "2023-11-14T22:13:21.000000Z"
    assert d["prev_hash"] == "00" * 32 and len(d["hash"]) == 64
    assert d["details"] == {"n": 0, "reason": "test"}


# --- exports ---------------------------------------------------------------------------------

NASTY = 'pipe|back\\slash=eq "quote" ]bracket\nnewline\rcr'


@pytest.fixture
def nasty_log(audit_db: Database, signing_key: Ed25519PrivateKey) -> AuditLog:
    log = AuditLog(audit_db, signing_key, clock=Clock())
    log.record(AuditEvent("auth.login", Outcome.FAILURE, actor=NASTY, target="zoë",
                          source="2001:db8::1", correlation_id="c=1",
                          details={"note": NASTY, "n": 1}))  # fmt: skip
    log.record(AuditEvent("user.roles", actor="admin", source="gateway-7"))
    yield log
    log.close()


def test_jsonl_is_lossless(nasty_log: AuditLog) -> None:
    out = io.StringIO()
    assert export(nasty_log.db, "jsonl", out) == 2
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first["actor"] == NASTY and first["details"] == {"note": NASTY, "n": 1}
    assert first == nasty_log.query(limit=1)[0].as_dict()


def _cef_unescape_header(field: str) -> str:
    return re.sub(r"\\(.)", lambda m: m.group(1), field)


def parse_cef(line: str) -> tuple[list[str], dict[str, str]]:
    """A strict CEF reader: 7 header fields split on unescaped pipes, then key=value pairs."""
    assert "\n" not in line and "\r" not in line
    header, i, buf = [], 0, []
    while len(header) < 7:
        c = line[i]
        if c == "\\":
            assert line[i + 1] in "\\|", f"bad header escape at {i}"
            buf += [c, line[i + 1]]
            i += 2
            continue
        if c == "|":
            header.append(_cef_unescape_header("".join(buf)))
            buf = []
        else:
            buf.append(c)
        i += 1
    ext_raw = line[i:]
    # split on unescaped '=' ; each middle chunk is "<value> <next key>"
    chunks, buf, j = [], [], 0
    while j < len(ext_raw):
        c = ext_raw[j]
        if c == "\\":
            nxt = ext_raw[j + 1]
            assert nxt in "\\=nr", f"bad extension escape \\{nxt}"
            buf.append({"\\": "\\", "=": "=", "n": "\n", "r": "\r"}[nxt])
            j += 2
            continue
        if c == "=":
            chunks.append("".join(buf))
            buf = []
        else:
            buf.append(c)
        j += 1
    chunks.append("".join(buf))
    ext, key = {}, chunks[0]
    for chunk in chunks[1:-1]:
        value, _, nxt = chunk.rpartition(" ")
        ext[key] = value
        key = nxt
    ext[key] = chunks[-1]
    return header, ext


def test_cef_round_trip(nasty_log: AuditLog) -> None:
    out = io.StringIO()
    export(nasty_log.db, "cef", out)
    lines = out.getvalue().split("\n")
    assert lines[-1] == "" and len(lines) == 3
    header, ext = parse_cef(lines[0])
    assert header[:3] == ["CEF:0", "voxseal", "voxseal"]
    assert header[4] == "auth.login" and header[5] == "auth.login failure" and header[6] == "6"
    rec = nasty_log.query(limit=1)[0]
    assert ext["suser"] == NASTY
    assert ext["src"] == "2001:db8::1"
    assert ext["cs1Label"] == "target" and ext["cs1"] == "zoë"
    assert ext["cs3"] == "c=1"
    assert json.loads(ext["cs4"]) == {"note": NASTY, "n": 1}
    assert ext["cs5"] == rec.hash.hex() and ext["externalId"] == "1"
    assert ext["rt"] == str(rec.time_us // 1000) and ext["act"] == "auth.login"
    _, ext2 = parse_cef(lines[1])
    assert ext2["cs2Label"] == "source" and ext2["cs2"] == "gateway-7" and "src" not in ext2


def test_cef_escaping_rules() -> None:
    assert cef_header_escape("a|b\\c") == "a\\|b\\\\c"
    assert cef_ext_escape("a=b\\c\nd\re|f") == "a\\=b\\\\c\\nd\\re|f"


SYSLOG = re.compile(
    r"<(?P<pri>\d{1,3})>1 (?P<ts>\S+) (?P<host>[\x21-\x7e]{1,255}) (?P<app>[\x21-\x7e]{1,48})"
    r" (?P<procid>[\x21-\x7e]{1,128}) (?P<msgid>[\x21-\x7e]{1,32}) (?P<rest>.*)"
)
TS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})")


def parse_sd(rest: str) -> tuple[str, dict[str, str], str]:
    """One SD-ELEMENT per RFC 5424 section 6.3, then ' MSG'."""
    assert rest[0] == "["
    m = re.match(r"\[([^ =\]\"]{1,32}@\d+)", rest)
    assert m, rest[:40]
    sd_id, i, params = m.group(1), m.end(), {}
    while rest[i] == " ":
        m = re.match(r" ([^ =\]\"]{1,32})=\"", rest[i:])
        assert m, rest[i : i + 40]
        name, i, value = m.group(1), i + m.end(), []
        while rest[i] != '"':
            if rest[i] == "\\" and rest[i + 1] in '"\\]':
                value.append(rest[i + 1])
                i += 2
            else:
                assert rest[i] != "]", "unescaped ] in PARAM-VALUE"
                value.append(rest[i])
                i += 1
        params[name] = "".join(value)
        i += 1
    assert rest[i] == "]"
    msg = rest[i + 1 :]
    assert msg == "" or msg.startswith(" ")
    return sd_id, params, msg[1:]


def test_syslog_round_trip(nasty_log: AuditLog) -> None:
    out = io.StringIO()
    export(nasty_log.db, "syslog", out, hostname="gw1.example", procid="42")
    lines = out.getvalue().split("\n")
    assert lines[-1] == "" and len(lines) == 3
    m = SYSLOG.fullmatch(lines[0])
    assert m, lines[0]
    assert int(m["pri"]) == 10 * 8 + 4  # authpriv.warning for a failure
    assert TS.fullmatch(m["ts"]) and m["ts"] == "2023-11-14T22:13:21.000000Z"
    assert (m["host"], m["app"], m["procid"], m["msgid"]) == (
        "gw1.example", "voxseal", "42", "auth.login",
    )  # fmt: skip
    sd_id, params, msg = parse_sd(m["rest"])
    assert sd_id == "voxseal@32473"
    # control characters are the one lossy spot in syslog (no RFC escape for them)
    assert params["actor"] == NASTY.replace("\n", "\ufffd").replace("\r", "\ufffd")
    assert params["target"] == "zoë" and params["seq"] == "1" and params["outcome"] == "failure"
    assert json.loads(params["details"]) == {"note": NASTY, "n": 1}
    assert msg == "auth.login failure" and msg.isascii()
    m2 = SYSLOG.fullmatch(lines[1])
    assert m2 and int(m2["pri"]) == 86  # authpriv.info
    assert "actor" in parse_sd(m2["rest"])[1] and "target" not in parse_sd(m2["rest"])[1]


def test_sd_param_escaping() -> None:
    assert sd_param_escape('a"b\\c]d') == 'a\\"b\\\\c\\]d'
    assert sd_param_escape("x\ny\x00") == "x\ufffdy\ufffd"


def test_export_after_seq_and_unknown_format(nasty_log: AuditLog) -> None:
    out = io.StringIO()
    assert export(nasty_log.db, "jsonl", out, after_seq=1) == 1
    assert json.loads(out.getvalue())["seq"] == 2
    with pytest.raises(InvalidInput, match="unknown export format"):
        export(nasty_log.db, "xml", io.StringIO())


def test_a_filter_by_target_uses_its_index(tmp_path: object) -> None:
    """The dashboard's room/user filters read the index, not the whole chain (SQLite plan)."""
    from voxseal.audit.query import SELECT_RECORDS
    from voxseal.audit.schema import MIGRATIONS
    from voxseal.store import open_store

    db = open_store(f"sqlite:///{tmp_path}/plan.db", [MIGRATIONS])
    try:
        sql = SELECT_RECORDS + " WHERE target = ? ORDER BY seq DESC LIMIT ?"
        plan = " ".join(str(row[-1]) for row in db.execute("EXPLAIN QUERY PLAN " + sql, ("r", 50)))
        assert "audit_log_target" in plan, plan
        assert "TEMP B-TREE" not in plan  # ordered by seq from the index itself
    finally:
        db.close()
