"""Privacy in the agent zone: what may leave it, and what the data subject agreed to.

* :mod:`voxseal.privacy.redact` finds PII/PHI in transcripts and replaces it with typed
  placeholders (``[CARD]``, ``[SSN]`` …), with offsets into the original text and, for ASR word
  lists, the audio time spans to silence.
* :mod:`voxseal.privacy.audio` silences those spans (or covers them with a tone) in PCM.
* :mod:`voxseal.privacy.consent` is the append-only consent ledger per subject and purpose.
* :mod:`voxseal.privacy.policy` says what HIPAA mode requires of the agent.
"""

from voxseal.privacy.redact import (
    PiiKind,
    RedactedText,
    Span,
    TimedWord,
    WordRedaction,
    redact,
    redact_words,
)

__all__ = [
    "PiiKind",
    "RedactedText",
    "Span",
    "TimedWord",
    "WordRedaction",
    "redact",
    "redact_words",
]
