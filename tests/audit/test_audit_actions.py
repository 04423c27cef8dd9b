"""The action catalogue: closed, documented, used everywhere, and what the log accepts."""

from __future__ import annotations

import ast
import asyncio
import dataclasses
from pathlib import Path

import pytest

from tests.harness.audit import ListSink
from voxseal.audit import (
    AuditAction,
    AuditContext,
    AuditEvent,
    AuditEventRejected,
    AuditLog,
    Outcome,
    UnknownAuditAction,
)
from voxseal.audit.actions import catalogue_markdown
from voxseal.audit.guard import ACTION_SHAPE, prepare

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "voxseal"

#: functions whose positional string arguments (or ``action=``) are audit actions
AUDIT_CALLS = frozenset(
    {"record", "arecord", "audit", "_audit", "_emit", "event", "AuditEvent", "_Audit"}
)
#: the one module that may spell an action as a string: the catalogue itself
CATALOGUE = SRC / "audit" / "actions.py"


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _strings(node: ast.expr) -> list[str]:
    """String constants in an argument, through ``a if cond else b``."""
    return [
        n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    ]


def _literals_in(source: str, where: str) -> dict[str, list[str]]:
    """The string literals passed as audit actions in one module's ``source``: value -> places."""
    found: dict[str, list[str]] = {}
    for node in ast.walk(ast.parse(source, filename=where)):
        if not isinstance(node, ast.Call):
            continue
        # ctx.record("x", …), and run_in_threadpool(ctx.record, "x", …)
        audit_call = _name(node.func) in AUDIT_CALLS or any(
            _name(a) in {"record", "arecord"} for a in node.args
        )
        if not audit_call:
            continue
        candidates = [s for a in node.args for s in _strings(a)]
        candidates += [s for k in node.keywords if k.arg == "action" for s in _strings(k.value)]
        for value in candidates:
            if "." in value and ACTION_SHAPE.fullmatch(value):
                found.setdefault(value, []).append(f"{where}:{node.lineno}")
    return found


def _action_literals() -> dict[str, list[str]]:
    """Every string literal passed as an audit action in src, outside the catalogue."""
    found: dict[str, list[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        if path == CATALOGUE:
            continue
        for value, places in _literals_in(path.read_text(), str(path.relative_to(ROOT))).items():
            found.setdefault(value, []).extend(places)
    return found


def _member_references() -> dict[str, list[str]]:
    """Every ``AuditAction.NAME`` in src: name -> places."""
    found: dict[str, list[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "AuditAction"
            ):
                found.setdefault(node.attr, []).append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_no_action_is_spelled_as_a_string_in_src() -> None:
    """Call sites name ``AuditAction`` members, so a misspelt or undocumented action fails
    mypy and the first run of that line, not a SIEM rule months later."""
    literals = _action_literals()
    assert not literals, (
        f"audit actions written as strings (use voxseal.audit.actions.AuditAction): {literals}"
    )


def test_the_literal_scan_sees_every_way_of_passing_an_action() -> None:
    """The scan above cannot pass by finding nothing: each form here is caught."""
    source = """
ctx.record("foo.bar", target="x")
await ctx.arecord("foo.arecord")
gw.audit.record(AuditEvent("foo.event"))
AuditEvent(action="foo.keyword", outcome=Outcome.DENIED)
await run_in_threadpool(ctx.record, "foo.threadpool")
ingress.audit("foo.yes" if ok else "foo.no", target="t")
self._audit("foo.job", job)
_Audit(context, "foo.vault")
ctx.record(AuditAction.RTC_JOIN, target="room.name", reason="not_an_action")
ledger.query(action="foo.query")
"""
    found = _literals_in(source, "example.py")
    assert set(found) == {
        "foo.bar",
        "foo.arecord",
        "foo.event",
        "foo.keyword",
        "foo.threadpool",
        "foo.yes",
        "foo.no",
        "foo.job",
        "foo.vault",
    }  # keyword arguments other than ``action=`` (targets, reasons) are not actions
    assert found["foo.bar"] == ["example.py:2"]


def test_every_member_reference_in_src_exists() -> None:
    refs = _member_references()
    members = set(AuditAction.__members__)
    helpers = {"_value2member_map_", "__members__"}
    missing = {n: w for n, w in refs.items() if n not in members and n not in helpers}
    assert not missing, missing
    assert len(refs) >= 30  # the converted call sites are seen


def test_every_member_is_emitted_somewhere() -> None:
    """No dead entries: SIEM users should not write rules for actions nothing writes."""
    used = set(_action_literals()) | {AuditAction[n].value for n in _member_references()}
    assert {a.value for a in AuditAction} - used == set()


def test_members_are_well_formed_unique_and_documented() -> None:
    assert len(AuditAction.__members__) == len(AuditAction)  # no value is an alias of another
    for action in AuditAction:
        assert ACTION_SHAPE.fullmatch(action.value), action
        assert len(action.value) <= 32, action  # an RFC 5424 MSGID holds it whole
        assert action.name == action.value.upper().replace(".", "_"), action
        assert action.when.strip() and action.target.strip() and action.details.strip(), action
        assert AuditAction(action.value) is action
        assert str(action) == action.value


def test_the_doc_is_generated_from_the_enum() -> None:
    doc = ROOT / "docs" / "audit-actions.md"
    assert doc.read_text() == catalogue_markdown(), (
        "docs/audit-actions.md is stale: write voxseal.audit.actions.catalogue_markdown() to it"
    )
    rows = [line for line in catalogue_markdown().splitlines() if line.startswith("| `")]
    assert [r.split("`")[1] for r in rows] == [a.value for a in AuditAction]


def test_events_take_members_or_their_exact_strings_only() -> None:
    assert AuditEvent("auth.login").action is AuditAction.AUTH_LOGIN
    assert AuditEvent(AuditAction.RTC_JOIN).action is AuditAction.RTC_JOIN
    for bad in ("auth.logon", "Auth.Login", "auth.login ", "", "x" * 100):
        with pytest.raises(UnknownAuditAction, match="catalogue") as exc:
            AuditEvent(bad)  # type: ignore[arg-type]
        assert isinstance(exc.value, AuditEventRejected)
        assert exc.value.reason == "audit_action_unknown"


def test_the_log_refuses_an_action_outside_the_catalogue(audit_log: AuditLog) -> None:
    forged = AuditEvent(AuditAction.AUTH_LOGIN)
    object.__setattr__(forged, "action", "made.up")  # past the constructor's check
    with pytest.raises(UnknownAuditAction):
        audit_log.record(forged)
    with pytest.raises(UnknownAuditAction):
        prepare(forged)
    seq = audit_log.record(AuditEvent(AuditAction.USER_ROLES, actor="admin"))
    (record,) = audit_log.query(after_seq=seq - 1)
    assert record.action == "user.roles" and type(record.action) is str


def test_audit_context_fills_who_and_where() -> None:
    sink = ListSink()
    ctx = AuditContext(sink, "alice", "192.0.2.1", "req-1")
    assert ctx.record(AuditAction.USER_READ, target="bob") == 1
    ctx.record(
        AuditAction.USER_ROLES, target="bob", outcome=Outcome.DENIED, before=[], after=["admin"]
    )
    later = dataclasses.replace(ctx, actor=None)
    later.record(AuditAction.TOKEN_REFUSED, outcome=Outcome.DENIED, reason="token_expired")
    first, second, third = sink.events
    assert first == AuditEvent(
        AuditAction.USER_READ, Outcome.SUCCESS, "alice", "bob", "192.0.2.1", "req-1", {}
    )
    assert second.action is AuditAction.USER_ROLES and second.details == {
        "before": [],
        "after": ["admin"],
    }
    assert third.actor is None and third.source == "192.0.2.1"
    assert "ListSink" not in repr(ctx)
    with pytest.raises(UnknownAuditAction):
        ctx.record("user.reed", target="bob")
    assert len(sink.events) == 3


def test_audit_context_records_from_async_code(audit_log: AuditLog) -> None:
    async def scenario() -> tuple[int, int]:
        on_log = AuditContext(audit_log, "alice", None, "req-2")
        plain = AuditContext(ListSink(), "alice")
        return (
            await on_log.arecord(AuditAction.ROOMS_LIST, target="rooms", count=0),
            await plain.arecord(AuditAction.AGENT_LIST, target="agents"),
        )

    seq, listed = asyncio.run(scenario())
    assert listed == 1
    (record,) = audit_log.query(after_seq=seq - 1)
    assert (record.action, record.actor, record.correlation_id) == ("rooms.list", "alice", "req-2")
