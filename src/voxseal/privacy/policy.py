"""What the privacy settings require of the agent, in one place it can ask.

HIPAA mode exists so an operator cannot half-configure a clinic deployment: when it is on,
PHI redaction is not an option the agent may skip, unredacted transcripts are never kept, and
call recordings are off unless the operator explicitly allowed them (the minimum-necessary
standard). Consent still applies on top: a recording needs the subject's ``recording`` grant
whatever the mode.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from voxseal.privacy.redact import RedactedText, TimedWord, WordRedaction, redact, redact_words


@dataclass(frozen=True)
class PrivacyPolicy:
    hipaa: bool = False
    #: None: the mode's default (allowed normally, off in HIPAA mode); True/False: explicit
    allow_recordings: bool | None = None
    #: keep an unredacted transcript in the vault as well (never in HIPAA mode)
    allow_unredacted_transcripts: bool = False

    @property
    def phi_redaction(self) -> bool:
        """PHI (medical record numbers, dates) is redacted too; mandatory in HIPAA mode."""
        return self.hipaa

    @property
    def recordings_enabled(self) -> bool:
        if self.allow_recordings is None:
            return not self.hipaa
        return self.allow_recordings

    @property
    def unredacted_transcripts(self) -> bool:
        return self.allow_unredacted_transcripts and not self.hipaa

    def may_record(self, *, consent_granted: bool) -> bool:
        """Store the call audio only if the policy enables recordings AND the subject agreed."""
        return self.recordings_enabled and consent_granted

    def may_transcribe(self, *, consent_granted: bool) -> bool:
        return consent_granted

    def redact(self, text: str) -> RedactedText:
        """Redaction as this policy requires it (the agent calls this, not ``redact``)."""
        return redact(text, phi=self.phi_redaction)

    def redact_words(self, words: Sequence[TimedWord]) -> WordRedaction:
        return redact_words(words, phi=self.phi_redaction)

    def as_dict(self) -> dict[str, Any]:
        """For audit details and status pages."""
        return {
            "hipaa": self.hipaa,
            "phi_redaction": self.phi_redaction,
            "recordings": self.recordings_enabled,
            "unredacted_transcripts": self.unredacted_transcripts,
        }
