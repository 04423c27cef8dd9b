"""The redaction API others code against: shapes, offsets, placeholders, word timings."""

from __future__ import annotations

import time

from voxseal.privacy.redact import (
    PiiKind,
    RedactedText,
    Span,
    TimedWord,
    WordRedaction,
    redact,
    redact_words,
)


def test_placeholders_and_offsets_refer_to_the_original() -> None:
    text = "my card number is 4111 1111 1111 1111 and my email is jane.doe@example.org"
    out = redact(text)
    assert isinstance(out, RedactedText)
    assert out.text == "my card number is [CARD] and my email is [EMAIL]"
    assert [s.kind for s in out.spans] == [PiiKind.CARD, PiiKind.EMAIL]
    assert text[out.spans[0].start : out.spans[0].end] == "4111 1111 1111 1111"
    assert text[out.spans[1].start : out.spans[1].end] == "jane.doe@example.org"
    assert all(isinstance(s, Span) for s in out.spans)


def test_kind_values_and_placeholders() -> None:
    for name in ("CARD", "SSN", "PHONE", "EMAIL", "DOB", "ACCOUNT", "ADDRESS", "NAME"):
        assert PiiKind(name).value == name
        assert f"[{PiiKind(name)}]" == f"[{name}]" == PiiKind(name).placeholder


def test_spoken_card_number_is_found() -> None:
    text = "my card number is four one one one " + "one " * 11 + "one"
    assert redact(text).text == "my card number is [CARD]"


def test_no_pii_text_is_unchanged() -> None:
    text = "i ordered 3 items for 42 dollars at 10:30 am in 2019"
    out = redact(text)
    assert out.text == text
    assert out.spans == ()


def test_phi_mode_adds_medical_record_numbers() -> None:
    text = "the patient's mrn is 00123456"
    assert redact(text).text == text
    assert redact(text, phi=True).text == "the patient's mrn is [MRN]"


def test_redact_words_silences_the_spoken_number() -> None:
    said = "my card is four one one one one one one one one one one one one one one one thanks"
    words = []
    t = 0.0
    for w in said.split():
        words.append(TimedWord(w, t, t + 0.3))
        t += 0.4
    out = redact_words(words)
    assert isinstance(out, WordRedaction)
    assert out.redacted.text == "my card is [CARD] thanks"
    # one stretch: from the first digit word to the last, short pauses included
    assert out.silence == ((words[3].start, words[18].end),)


def test_redact_words_empty() -> None:
    out = redact_words([])
    assert out.redacted.text == ""
    assert out.silence == ()


def test_fast_enough_for_real_time() -> None:
    text = " ".join(
        ["so my card number is 4111 1111 1111 1111 and i paid 42 dollars for 3 items"] * 12
    )
    assert len(text.split()) >= 200
    redact(text)
    t0 = time.perf_counter()
    for _ in range(20):
        redact(text)
    per_call = (time.perf_counter() - t0) / 20
    assert per_call < 0.010, per_call
