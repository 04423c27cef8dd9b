"""HIPAA mode: PHI redaction mandatory, recordings off unless explicitly allowed."""

from __future__ import annotations

from voxseal.privacy.policy import PrivacyPolicy
from voxseal.privacy.redact import TimedWord


def test_default_mode() -> None:
    p = PrivacyPolicy()
    assert not p.phi_redaction
    assert p.recordings_enabled
    assert p.may_record(consent_granted=True)
    assert not p.may_record(consent_granted=False)
    assert p.redact("my mrn is 00123456").text == "my mrn is 00123456"
    assert p.redact("card 4111 1111 1111 1111").text == "card [CARD]"


def test_hipaa_mode_redacts_phi_and_turns_recordings_off() -> None:
    p = PrivacyPolicy(hipaa=True)
    assert p.phi_redaction
    assert not p.recordings_enabled
    assert not p.may_record(consent_granted=True)
    assert p.redact("my mrn is 00123456").text == "my mrn is [MRN]"
    words = [TimedWord(w, i * 0.5, i * 0.5 + 0.4) for i, w in enumerate(["mrn", "00123456"])]
    assert p.redact_words(words).redacted.text == "mrn [MRN]"


def test_hipaa_recordings_only_when_explicitly_allowed_and_consented() -> None:
    p = PrivacyPolicy(hipaa=True, allow_recordings=True)
    assert p.may_record(consent_granted=True)
    assert not p.may_record(consent_granted=False)
    assert not PrivacyPolicy(allow_recordings=False).may_record(consent_granted=True)


def test_unredacted_transcripts_never_in_hipaa_mode() -> None:
    assert PrivacyPolicy(allow_unredacted_transcripts=True).unredacted_transcripts
    assert not PrivacyPolicy(hipaa=True, allow_unredacted_transcripts=True).unredacted_transcripts
    assert PrivacyPolicy(hipaa=True).as_dict() == {
        "hipaa": True,
        "phi_redaction": True,
        "recordings": False,
        "unredacted_transcripts": False,
    }
