"""Privacy in the agent zone: what may leave it, and what the data subject agreed to.

* :mod:`voxseal.privacy.redact` finds PII/PHI in transcripts and replaces it with typed
  placeholders (``[CARD]``, ``[SSN]`` …), with offsets into the original text and, for ASR word
  lists, the audio time spans to silence.
* :mod:`voxseal.privacy.audio` silences those spans (or covers them with a tone) in PCM.
* :mod:`voxseal.privacy.consent` is the append-only consent ledger per subject and purpose.
* :mod:`voxseal.privacy.policy` says what HIPAA mode requires of the agent.

What redaction covers (typed text and lowercase ASR text, digits and spoken number words:
"oh", "zero", "double five", "triple two", teens/tens "forty two", "X hundred", "X thousand"):

* CARD: 13-19 digits passing Luhn with a card prefix (2-6), anywhere; 12-19 digits after a card
  cue even if Luhn fails (ASR errors must not leak a card); CVV/CVC/security code (3-4 digits),
  "code" after a card was mentioned, PINs/passcodes. Not the last four, not the expiry date.
* SSN: 3-2-4 grouped numbers passing the SSA rules; 9 digits after "social"/"ssn"; the last
  four when said as such; UK National Insurance numbers.
* PHONE: E.164 (+...), NANP 10/11 digits, UK national (0 + 10 digits), 7-digit local numbers
  with a dash or after a phone cue. Extensions are kept.
* EMAIL: RFC-ish typed addresses; spoken "john dot smith at example dot com", spelled letters,
  trailing spoken digits, with a known TLD at the end.
* DOB: numeric and spoken dates ("march fourteenth nineteen eighty five", "the third of
  january two thousand and one", "oh three fourteen eighty five") and birth years, when a DOB
  cue (born, date of birth, dob, birthday) is near. Other dates are kept (except in PHI mode).
* ACCOUNT: IBAN (mod-97 checked), numbers after account/acct/routing/sort code/customer number,
  alphanumeric ids after those cues, and any other digit run of 9+ digits that is not an amount
  or after an order/tracking/confirmation/case cue (fail closed).
* ADDRESS: house number (digits or spoken) + up to four street words + a street suffix, with
  apartment/unit/suite; ZIP codes after a zip cue or a state abbreviation; UK postcodes; PO boxes.
* NAME: after "my name is", "first/last name is", "named", "call me", "this is", "i'm",
  "speak to/with"; after titles (Mr, Mrs, Ms, Dr, doctor); "<name> speaking"; a list of common
  first names anywhere (everyday-word names like "will", "may", "grace" need a cue).
* PHI mode (``phi=True``): MRN for medical record, chart, member/subscriber, policy, group,
  Medicare/Medicaid, insurance and NHS numbers after their cue (digits, letters, spoken); DATE for
  every other date with a day or a month.

Not covered (known gaps): names with no cue and not in the first-name list (most surnames on
their own, lowercase), cities and states, card numbers split by unrelated words, spoken IBANs,
passport/driver's licence numbers, ages over 89, free-text medical conditions, medications and
other PHI that is not a number or a date, non-English speech, numbers said as "X hundred Y" in
phone numbers ("eight hundred five" reads as 800 then 5, which is what callers mean).
Order, tracking, confirmation and case numbers, amounts, times, counts and bare years are kept
on purpose. The figures are in ``benchmarks/redaction_eval.py``.
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
