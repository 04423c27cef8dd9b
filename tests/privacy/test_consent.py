"""The consent ledger on SQLite and PostgreSQL: default deny, history, validation, audit,
append-only enforcement and in-process listeners."""

from __future__ import annotations

import json
import time

import pytest

from voxseal.audit import AuditLog
from voxseal.errors import Conflict, InvalidInput, StoreError
from voxseal.privacy.consent import ConsentLedger, ConsentRecord, LegalBasis, Purpose
from voxseal.store import Database


def grant(
    ledger: ConsentLedger, subject: str, purpose: Purpose, ok: bool = True, **kw: object
) -> ConsentRecord:
    args: dict[str, object] = {"source": "ivr", "legal_basis": "consent", "actor": "agent-1"}
    args.update(kw)
    return ledger.record(subject, purpose, ok, **args)  # type: ignore[arg-type]


def test_default_is_not_granted(ledger: ConsentLedger) -> None:
    assert not ledger.is_granted("subj-1", Purpose.RECORDING)
    assert ledger.current("subj-1") == dict.fromkeys(Purpose)
    assert ledger.history("subj-1") == []


def test_grant_then_withdraw_keeps_history(ledger: ConsentLedger) -> None:
    t0 = time.time() - 10
    first = grant(ledger, "subj-1", Purpose.RECORDING, True, at=t0)
    assert isinstance(first, ConsentRecord)
    assert first.granted and first.purpose is Purpose.RECORDING
    assert first.legal_basis is LegalBasis.CONSENT
    assert abs(first.at - t0) < 1e-5
    assert ledger.is_granted("subj-1", "recording")
    second = grant(ledger, "subj-1", Purpose.RECORDING, False, at=t0 + 5)
    assert not ledger.is_granted("subj-1", Purpose.RECORDING)
    history = ledger.history("subj-1")
    assert [r.id for r in history] == [first.id, second.id]
    assert [r.granted for r in history] == [True, False]
    current = ledger.current("subj-1")
    assert current[Purpose.RECORDING] == second
    assert current[Purpose.TRANSCRIPTION] is None


def test_purposes_and_subjects_are_independent(ledger: ConsentLedger) -> None:
    grant(ledger, "subj-1", Purpose.TRANSCRIPTION)
    grant(ledger, "subj-2", Purpose.RECORDING, legal_basis="legitimate-interests")
    assert ledger.is_granted("subj-1", Purpose.TRANSCRIPTION)
    assert not ledger.is_granted("subj-1", Purpose.RECORDING)
    assert ledger.is_granted("subj-2", Purpose.RECORDING)
    assert not ledger.is_granted("subj-2", Purpose.TRANSCRIPTION)
    rec = ledger.current("subj-2")[Purpose.RECORDING]
    assert rec is not None and rec.legal_basis is LegalBasis.LEGITIMATE_INTERESTS


def test_current_follows_effective_time_not_insertion_order(ledger: ConsentLedger) -> None:
    now = time.time()
    grant(ledger, "subj-1", Purpose.SHARING, False, at=now - 1)
    grant(ledger, "subj-1", Purpose.SHARING, True, at=now - 100)  # a late-entered old grant
    assert not ledger.is_granted("subj-1", Purpose.SHARING)
    assert [r.granted for r in ledger.history("subj-1")] == [True, False]


@pytest.mark.parametrize("basis", [b.value for b in LegalBasis] + ["Legal Obligation"])
def test_every_article_6_basis_is_accepted(ledger: ConsentLedger, basis: str) -> None:
    rec = grant(ledger, "subj-9", Purpose.AI_TRAINING, legal_basis=basis)
    assert rec.legal_basis.value == basis.lower().replace(" ", "_")


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("subject_id", "", "invalid_subject_id"),
        ("subject_id", "john.smith@example.com", "invalid_subject_id"),
        ("subject_id", "has space", "invalid_subject_id"),
        ("subject_id", "x" * 129, "invalid_subject_id"),
        ("purpose", "marketing", "invalid_purpose"),
        ("granted", "yes", "invalid_granted"),
        ("legal_basis", "because", "invalid_legal_basis"),
        ("source", "", "invalid_source"),
        ("source", "said so on the phone", "invalid_source"),
        ("actor", "", "invalid_actor"),
        ("at", float("nan"), "invalid_time"),
        ("at", time.time() + 3600, "invalid_time"),
        ("at", -1.0, "invalid_time"),
    ],
)
def test_invalid_input_is_refused(
    ledger: ConsentLedger, privacy_db: Database, field: str, value: object, reason: str
) -> None:
    args: dict[str, object] = {
        "subject_id": "subj-1",
        "purpose": "recording",
        "granted": True,
        "source": "web",
        "legal_basis": "consent",
        "actor": "admin",
    }
    args[field] = value
    with pytest.raises(InvalidInput) as err:
        ledger.record(
            args.pop("subject_id"),  # type: ignore[arg-type]
            args.pop("purpose"),  # type: ignore[arg-type]
            args.pop("granted"),  # type: ignore[arg-type]
            **args,  # type: ignore[arg-type]
        )
    assert err.value.reason == reason
    assert privacy_db.query_one("SELECT COUNT(*) FROM privacy_consents") == (0,)


def test_reads_validate_too(ledger: ConsentLedger) -> None:
    with pytest.raises(InvalidInput):
        ledger.history("bad id")
    with pytest.raises(InvalidInput):
        ledger.is_granted("subj-1", "marketing")


def test_the_table_is_append_only(ledger: ConsentLedger, privacy_db: Database) -> None:
    grant(ledger, "subj-1", Purpose.RECORDING)
    # the triggers' refusal: SQLite reports RAISE(ABORT) as a constraint violation, PostgreSQL
    # a raised exception (a store error)
    refusal = Conflict if privacy_db.dialect == "sqlite" else StoreError
    with pytest.raises(refusal, match="append-only"):
        privacy_db.execute("UPDATE privacy_consents SET granted = 0")
    with pytest.raises(refusal, match="append-only"):
        privacy_db.execute("DELETE FROM privacy_consents")
    if privacy_db.dialect == "postgresql":
        with pytest.raises(refusal, match="append-only"):
            privacy_db.execute("TRUNCATE privacy_consents")
    assert ledger.is_granted("subj-1", Purpose.RECORDING)
    assert len(ledger.history("subj-1")) == 1


def test_every_decision_is_audited(
    ledger: ConsentLedger, audit_log: AuditLog, privacy_db: Database
) -> None:
    rec = grant(ledger, "subj-7", Purpose.BIOMETRICS, True, source="web")
    grant(ledger, "subj-7", Purpose.BIOMETRICS, False, source="agent:call-1", actor="agent-7")
    rows = privacy_db.execute(
        "SELECT action, actor, target, details FROM audit_log WHERE target = ? ORDER BY seq",
        ("subj-7",),
    )
    assert [r[0] for r in rows] == ["consent.grant", "consent.withdraw"]
    assert [r[1] for r in rows] == ["agent-1", "agent-7"]
    details = json.loads(rows[0][3])
    assert details == {
        "consent_id": rec.id,
        "purpose": "biometrics",
        "granted": True,
        "legal_basis": "consent",
        "via": "web",
    }


def test_listeners_hear_withdrawal_at_once(ledger: ConsentLedger) -> None:
    heard: list[ConsentRecord] = []
    remove = ledger.add_listener(heard.append)
    ledger.add_listener(lambda rec: 1 / 0)  # a broken listener must not undo the decision
    t0 = time.monotonic()
    grant(ledger, "subj-3", Purpose.RECORDING, False)
    assert time.monotonic() - t0 < 1.0
    assert [(r.subject_id, r.purpose, r.granted) for r in heard] == [
        ("subj-3", Purpose.RECORDING, False)
    ]
    remove()
    grant(ledger, "subj-3", Purpose.RECORDING, True)
    assert len(heard) == 1
