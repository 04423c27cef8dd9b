"""Numbers as callers say them, and the checksums that tell an identifier from noise.

ASR writes what it hears: "four one one one", "oh seven seven double oh", "forty two",
"nineteen eighty five". Redaction has to see the digits behind those words, or a card number
read aloud would sail through a regex written for ``\\d``. This module turns such word
sequences into digit strings (keeping which words produced them) and holds the Luhn and
ISO 13616 mod-97 checks used to confirm card numbers and IBANs.
"""

from __future__ import annotations

UNITS: dict[str, int] = {
    "zero": 0,
    "oh": 0,
    "o": 0,
    "nought": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
}
TEENS: dict[str, int] = {
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
TENS: dict[str, int] = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fourty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
REPEAT: dict[str, int] = {"double": 2, "triple": 3}
ORDINALS: dict[str, int] = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "eleventh": 11,
    "twelfth": 12,
    "thirteenth": 13,
    "fourteenth": 14,
    "fifteenth": 15,
    "sixteenth": 16,
    "seventeenth": 17,
    "eighteenth": 18,
    "nineteenth": 19,
    "twentieth": 20,
    "thirtieth": 30,
}
#: "oh"/"o" are digits only next to other number words; alone they are interjections or letters
WEAK_ZERO = frozenset({"oh", "o"})

NUMBER_WORDS = frozenset(UNITS) | frozenset(TEENS) | frozenset(TENS) | frozenset(REPEAT)


def luhn_valid(digits: str) -> bool:
    """ISO/IEC 7812 check digit: catches every single-digit error and most transpositions."""
    if not digits.isdigit() or len(digits) < 2:
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_valid(iban: str) -> bool:
    """ISO 13616: move the first four characters to the end, letters to 10..35, mod 97 == 1."""
    s = "".join(iban.split()).upper()
    if not (15 <= len(s) <= 34) or not s[:2].isalpha() or not s[2:4].isdigit():
        return False
    if not s.isalnum() or not s.isascii():
        return False
    rearranged = s[4:] + s[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1


def ordinal_value(words: list[str], i: int) -> tuple[int, int] | None:
    """A day-of-month said as an ordinal ("fourteenth", "twenty first", "21st") at ``i``.

    Returns ``(value, tokens consumed)``.
    """
    w = words[i]
    if w in ORDINALS:
        return ORDINALS[w], 1
    if w in TENS and i + 1 < len(words) and words[i + 1] in ORDINALS:
        v = TENS[w] + ORDINALS[words[i + 1]]
        if ORDINALS[words[i + 1]] < 10:
            return v, 2
    if (
        w in TENS
        and i + 2 < len(words)
        and words[i + 1] == "-"
        and words[i + 2] in ORDINALS
        and ORDINALS[words[i + 2]] < 10
    ):
        return TENS[w] + ORDINALS[words[i + 2]], 3
    if len(w) >= 3 and w[:-2].isdigit() and w[-2:] in ("st", "nd", "rd", "th"):
        return int(w[:-2]), 1
    return None


def cardinal_at(words: list[str], i: int) -> tuple[str, int] | None:
    """Digits spoken at ``words[i]``: returns ``(digit string, tokens consumed)`` or None.

    Digit-by-digit speech yields one digit per word; "double five" two; teens and tens yield two
    ("forty two" -> "42", "forty" -> "40"); "X hundred [and] Y" and "X thousand ..." yield the
    cardinal's digits ("two thousand and five" -> "2005"). ``words`` are lowercase tokens.
    """
    n = len(words)
    w = words[i]
    if w.isdigit():
        return w, 1
    if w in REPEAT and i + 1 < n:
        nxt = words[i + 1]
        if nxt in UNITS:
            return str(UNITS[nxt]) * REPEAT[w], 2
        if nxt.isdigit() and len(nxt) == 1:
            return nxt * REPEAT[w], 2
        return None
    value, used = _small(words, i)
    if value is None:
        return None
    j = i + used
    # compounds: "<1-99> thousand ...", "<1-9> hundred ..."
    if j < n and words[j] == "thousand" and value < 100:
        total = value * 1000
        j += 1
        rest, k = _hundreds_tail(words, j)
        return str(total + rest), k - i
    if j < n and words[j] == "hundred" and value < 10:
        total = value * 100
        j += 1
        rest, k = _tail_under_100(words, j, allow_bare_unit=False)
        return str(total + rest).zfill(3), k - i
    return _digits_of_small(w, value, used), used


def _digits_of_small(first: str, value: int, used: int) -> str:
    if first in UNITS:
        return str(value)
    return f"{value:02d}"


def _small(words: list[str], i: int) -> tuple[int | None, int]:
    """0-99 said as one word or tens + unit ("forty two", "forty-two")."""
    n = len(words)
    w = words[i]
    if w in UNITS:
        return UNITS[w], 1
    if w in TEENS:
        return TEENS[w], 1
    if w in TENS:
        if i + 1 < n and words[i + 1] in UNITS and UNITS[words[i + 1]] > 0:
            return TENS[w] + UNITS[words[i + 1]], 2
        if i + 2 < n and words[i + 1] == "-" and words[i + 2] in UNITS and UNITS[words[i + 2]] > 0:
            return TENS[w] + UNITS[words[i + 2]], 3
        return TENS[w], 1
    return None, 0


def _tail_under_100(words: list[str], j: int, *, allow_bare_unit: bool) -> tuple[int, int]:
    """After "hundred": "[and] forty two" joins the cardinal; a bare unit ("eight hundred five
    five five") is more often the next digit of a phone number, so it is left alone."""
    n = len(words)
    k = j
    saw_and = False
    if k < n and words[k] == "and":
        saw_and = True
        k += 1
    if k < n:
        w = words[k]
        bare_ok = saw_and or allow_bare_unit
        if w in TEENS or w in TENS or (w in UNITS and w not in WEAK_ZERO and bare_ok):
            v, used = _small(words, k)
            if v is not None:
                return v, k + used
    return 0, j


def _hundreds_tail(words: list[str], j: int) -> tuple[int, int]:
    n = len(words)
    k = j
    if k < n and words[k] == "and":
        v, used = _small(words, k + 1)
        if v is not None:
            return v, k + 1 + used
        return 0, j
    if k < n and words[k] in UNITS and k + 1 < n and words[k + 1] == "hundred":
        rest, k2 = _tail_under_100(words, k + 2, allow_bare_unit=False)
        return UNITS[words[k]] * 100 + rest, k2
    if k < n and (words[k] in TEENS or words[k] in TENS):
        v, used = _small(words, k)
        if v is not None:
            return v, k + used
    return 0, j
