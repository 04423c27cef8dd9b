"""Find PII (and, in HIPAA mode, PHI) in a transcript and replace it with typed placeholders.

Why rules and not a model: redaction sits between on-prem ASR and everything that leaves the
agent zone, runs on every utterance, and must be explainable to an auditor. Rules over tokens
are pure, fast (a 200-word utterance takes well under a millisecond or two) and fail in ways
that can be listed (see ``docs`` in :mod:`voxseal.privacy` and the corpus in
``tests/privacy``).

How it works: the text is split into tokens with their offsets; runs of digits and spoken
number words ("four one one one", "double five", "nineteen eighty five") become digit strings;
each run is classified by its shape (Luhn, NANP/UK/E.164 phone plans, SSN 3-2-4 grouping) and
by the nearest context cue before it ("card", "social", "account", "born", "order", "dollars").
Emails (typed and spoken), dates of birth, IBANs, street addresses and names (from context such
as "my name is", "this is … speaking", titles) have their own detectors. Overlapping findings
are resolved longest-first, and every span is reported in offsets of the ORIGINAL text.

``phi=True`` (HIPAA mode) also redacts medical record / health plan / member numbers
(:attr:`PiiKind.MRN`) and every calendar date with a day or month (:attr:`PiiKind.DATE`), as the
Safe Harbor method requires for dates tied to an individual; years alone stay.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from voxseal.privacy.lexicon import (
    AMBIGUOUS_NAMES,
    CUES,
    FILLER,
    FILLER_AFTER,
    FIRST_NAMES,
    MAX_CUE,
    MONTHS,
    STOP,
    STREET_SUFFIXES,
    TITLES,
    TLDS,
    UNIT_WORDS,
    UNITS_AFTER,
    UNITS_BEFORE,
    Cue,
)
from voxseal.privacy.numbers import (
    NUMBER_WORDS,
    WEAK_ZERO,
    cardinal_at,
    iban_valid,
    luhn_valid,
    ordinal_value,
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


class PiiKind(StrEnum):
    """What was found; the placeholder written in its place is ``f"[{kind}]"``."""

    CARD = "CARD"
    SSN = "SSN"
    PHONE = "PHONE"
    EMAIL = "EMAIL"
    DOB = "DOB"
    ACCOUNT = "ACCOUNT"
    ADDRESS = "ADDRESS"
    NAME = "NAME"
    #: HIPAA mode only: medical record, health plan member/beneficiary, policy numbers
    MRN = "MRN"
    #: HIPAA mode only: a date other than a date of birth (admission, appointment, ...)
    DATE = "DATE"

    @property
    def placeholder(self) -> str:
        return f"[{self.value}]"


@dataclass(frozen=True)
class Span:
    """A finding, in character offsets of the ORIGINAL text (``text[start:end]``)."""

    start: int
    end: int
    kind: PiiKind


@dataclass(frozen=True)
class RedactedText:
    """The text with each span replaced by its placeholder; only :func:`redact` builds these.

    ``repr`` shows the redacted text only, so logging one never leaks the original.
    """

    text: str
    spans: tuple[Span, ...]

    def __str__(self) -> str:
        return self.text

    @property
    def kinds(self) -> frozenset[PiiKind]:
        return frozenset(s.kind for s in self.spans)


@dataclass(frozen=True)
class TimedWord:
    """One ASR word with its time in the audio, in seconds."""

    text: str
    start: float
    end: float


@dataclass(frozen=True)
class WordRedaction:
    """The redacted transcript of ``words`` joined by spaces, and the audio spans to silence."""

    redacted: RedactedText
    silence: tuple[tuple[float, float], ...]


# --- tokens --------------------------------------------------------------------------------

_TOKEN = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?|\d+(?:st|nd|rd|th)?|[^\sA-Za-z\d]")


@dataclass(slots=True)
class _Tok:
    text: str
    low: str
    start: int
    end: int


@dataclass(slots=True)
class _Run:
    """Consecutive numeric tokens (digits or number words), possibly joined by - . / ( ) ,"""

    first: int  # token index
    last: int  # token index, inclusive
    digits: str
    groups: list[int]  # digit count of each element
    seps: str  # joiner characters seen between elements
    plus: bool
    spoken: bool


_JOINERS = frozenset({"-", ".", "/", "(", ")", ",", "dash", "hyphen"})


#: cues that may follow the number they name ("4111 … is my card"); a "code" or "pin" cue
#: always comes first
_AFTER_KINDS = frozenset({Cue.CARD, Cue.SSN, Cue.PHONE, Cue.ACCOUNT, Cue.DOB, Cue.MRN})


class _Doc:
    """The tokens of one text, plus per-token lookups the detectors share."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = [
            _Tok(m.group(), m.group().lower(), m.start(), m.end()) for m in _TOKEN.finditer(text)
        ]
        self.lows = [t.low for t in self.toks]
        self.starts = [t.start for t in self.toks]
        self.cue_end: list[tuple[Cue, int] | None] = [None] * len(self.toks)
        for i in range(len(self.toks)):
            for n in range(min(MAX_CUE, i + 1), 0, -1):
                kind = CUES.get(tuple(self.lows[i - n + 1 : i + 1]))
                if kind is not None:
                    self.cue_end[i] = (kind, i - n + 1)
                    break

    def gap(self, i: int) -> str:
        """Text between token ``i`` and token ``i + 1``."""
        return self.text[self.toks[i].end : self.toks[i + 1].start]

    def adjacent(self, i: int) -> bool:
        return self.toks[i].end == self.toks[i + 1].start

    def cue_before(self, i: int, window: int = 8) -> Cue | None:
        """The nearest cue ending before token ``i`` (within ``window`` tokens) that introduces
        it: only filler words ("number", "is", "my" …) may stand between them. A negative cue
        (money, orders, times) counts from anywhere in the window."""
        for j in range(i - 1, max(-1, i - 1 - window), -1):
            found = self.cue_end[j]
            if found is None or found[0] is Cue.GENERIC:
                continue
            if found[0] is Cue.NEGATIVE:
                return Cue.NEGATIVE
            if all(self._filler(k) for k in range(j + 1, i)):
                return found[0]
            return None
        return None

    def _filler(self, k: int) -> bool:
        w = self.lows[k]
        return w in FILLER or (w == "in" and k > 0 and self.lows[k - 1] in ("ends", "ending"))

    def cue_after(self, i: int, window: int = 4) -> Cue | None:
        """A cue just after token ``i`` with only "is my"-like words between: "… is my card"."""
        for j in range(i + 1, min(len(self.toks), i + 1 + window + MAX_CUE)):
            found = self.cue_end[j]
            if found is None or found[0] not in _AFTER_KINDS or found[1] > i + window:
                continue
            if all(self.lows[k] in FILLER_AFTER for k in range(i + 1, found[1])):
                return found[0]
        return None

    def mentions(self, kind: Cue, before: int) -> bool:
        return any(c is not None and c[0] is kind for c in self.cue_end[:before])

    def has_cue(self, i: int, kind: Cue, window: int) -> bool:
        for j in range(i - 1, max(-1, i - 1 - window), -1):
            found = self.cue_end[j]
            if found is not None and found[0] is kind:
                return True
        return False

    def span(self, first: int, last: int) -> tuple[int, int]:
        return self.toks[first].start, self.toks[last].end

    def tok_at(self, offset: int) -> int:
        return max(0, bisect.bisect_right(self.starts, offset) - 1)


def _runs(doc: _Doc) -> list[_Run]:
    runs: list[_Run] = []
    lows = doc.lows
    n = len(lows)
    i = 0
    while i < n:
        got = cardinal_at(lows, i)
        if got is None or (lows[i] in WEAK_ZERO and not _numeric_next(lows, i + 1)):
            i += 1
            continue
        first = i
        plus = i > 0 and lows[i - 1] == "+" and doc.adjacent(i - 1)
        if i > 0 and lows[i - 1] == "(" and doc.adjacent(i - 1):
            first = i - 1
        digits, groups, seps, spoken = "", [], "", False
        last = i
        while True:
            d, used = got
            digits += d
            groups.append(len(d))
            spoken = spoken or not lows[i].isdigit()
            last = i + used - 1
            i += used
            # joiners: only when a numeric element follows directly
            j = i
            sep = ""
            while j < n and lows[j] in _JOINERS and j - i < 2:
                sep += lows[j] if len(lows[j]) == 1 else "-"
                j += 1
            if j < n and lows[j] == ")" and sep == "":
                j += 1
                sep = ")"
            nxt = cardinal_at(lows, j) if j < n else None
            if nxt is None:
                if j > i and lows[j - 1] == ")":
                    last = j - 1
                break
            if sep and "," in sep and len(nxt[0]) != 3:
                break
            # a decimal point (12.50) ends the run; 555.123.4567 has longer groups after dots
            if (
                lows[j].isdigit()
                and j > i
                and lows[i] == "."
                and doc.adjacent(i - 1)
                and len(lows[j]) <= 2
            ):
                break
            seps += sep or " "
            i = j
            got = nxt
        if last > first or len(digits) >= 1:
            runs.append(_Run(first, last, digits, groups, seps, plus, spoken))
        i = last + 1
    return runs


def _numeric_next(lows: list[str], i: int) -> bool:
    return i < len(lows) and (lows[i].isdigit() or lows[i] in NUMBER_WORDS)


# --- classification of digit runs ----------------------------------------------------------


def _nanp(d: str) -> bool:
    return len(d) == 10 and d[0] in "23456789" and d[3] in "23456789"


def _ssn_valid(d: str) -> bool:
    return (
        len(d) == 9
        and d[:3] not in ("000", "666")
        and d[0] != "9"
        and d[3:5] != "00"
        and d[5:] != "0000"
    )


def _amount_or_time(doc: _Doc, run: _Run) -> bool:
    lows = doc.lows
    before = lows[run.first - 1] if run.first > 0 else ""
    after = lows[run.last + 1] if run.last + 1 < len(lows) else ""
    if before in UNITS_BEFORE or after in UNITS_AFTER:
        return True
    return after == ":" or (before == ":" and run.first > 1 and lows[run.first - 2].isdigit())


def _classify(doc: _Doc, run: _Run, phi: bool) -> PiiKind | None:
    d = run.digits
    n = len(d)
    if n < 3 or _amount_or_time(doc, run):
        return None
    cue = doc.cue_before(run.first)
    if cue is None:
        cue = doc.cue_after(run.last)
    card_like = 13 <= n <= 19 and d[0] in "23456" and luhn_valid(d)
    if cue is Cue.CVV and n in (3, 4):
        return PiiKind.CARD
    if cue is Cue.CODE and n in (3, 4) and doc.mentions(Cue.CARD, run.first):
        return PiiKind.CARD
    if cue is Cue.PIN and 4 <= n <= 8:
        return PiiKind.CARD
    if cue is Cue.CARD and 12 <= n <= 19:
        return PiiKind.CARD
    if cue is Cue.SSN and (n == 9 or (n == 4 and _last_four(doc, run))):
        return PiiKind.SSN
    if cue is Cue.ACCOUNT and n >= 4:
        return PiiKind.ACCOUNT
    if cue is Cue.MRN and n >= 4:
        return PiiKind.MRN if phi else None
    if cue is Cue.ZIP and n in (5, 9):
        return PiiKind.ADDRESS
    if cue is Cue.DOB and 4 <= n <= 8:
        return PiiKind.DOB
    if cue is Cue.PHONE and 7 <= n <= 15:
        return PiiKind.PHONE
    if card_like and cue is not Cue.MRN:
        # a Luhn-valid number with a card prefix is a card even after "charge"/"pay"
        return PiiKind.CARD
    if cue is Cue.NEGATIVE:
        return None
    # shape alone
    if (
        n == 9
        and run.groups == [3, 2, 4]
        and not run.spoken
        and set(run.seps) <= {"-", " "}
        and _ssn_valid(d)
    ):
        return PiiKind.SSN
    if run.plus and 8 <= n <= 15:
        return PiiKind.PHONE
    if _nanp(d) or (n == 11 and d[0] == "1" and _nanp(d[1:])):
        return PiiKind.PHONE
    if n == 11 and d[0] == "0" and d[1] in "123578":
        return PiiKind.PHONE
    if n == 12 and d.startswith("44") and d[2] in "123578":
        return PiiKind.PHONE
    if n == 7 and not run.spoken and run.groups == [3, 4] and run.seps == "-":
        return PiiKind.PHONE
    if n >= 9:
        return PiiKind.MRN if phi and cue is Cue.MRN else PiiKind.ACCOUNT
    return None


def _last_four(doc: _Doc, run: _Run) -> bool:
    lo = max(0, run.first - 10)
    window = " ".join(doc.lows[lo : run.first])
    return any(p in window for p in ("last four", "last 4", "ends in", "ending in"))


# --- emails --------------------------------------------------------------------------------

_EMAIL = re.compile(
    r"\b[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"
)
_LOCAL_JOIN = frozenset({"dot", ".", "underscore", "_", "dash", "-", "hyphen", "plus"})


def _emails(doc: _Doc) -> list[tuple[int, int, PiiKind]]:
    found = [(m.start(), m.end(), PiiKind.EMAIL) for m in _EMAIL.finditer(doc.text)]
    lows = doc.lows
    n = len(lows)
    for i, w in enumerate(lows):
        if w not in ("at", "@") or i == 0 or i + 1 >= n:
            continue
        j = i + 1
        if j < n and lows[j] in ("sign", "symbol"):
            j += 1
        # domain: label (dot label)+ ending in a known TLD
        end = None
        k = j
        if k < n and _label(lows[k]):
            k += 1
            while k + 1 < n and lows[k] in ("dot", ".") and _label(lows[k + 1]):
                if lows[k + 1] in TLDS:
                    end = k + 1
                k += 2
        if end is None:
            continue
        # local part: digits said last ("mike eighty seven"), before them a word or spelled
        # letters, joined backwards by dot/underscore/dash ("john dot smith")
        k = i - 1
        while k >= 0 and (lows[k].isdigit() or lows[k] in NUMBER_WORDS):
            k -= 1
        if k >= 0 and (
            (_label(lows[k]) and lows[k] not in STOP) or (len(lows[k]) == 1 and lows[k].isalpha())
        ):
            s = k
        elif k < i - 1:
            s = k + 1
        else:
            continue
        while s - 2 >= 0 and lows[s - 1] in _LOCAL_JOIN and _label(lows[s - 2]):
            s -= 2
        while s - 1 >= 0 and (
            len(lows[s - 1]) == 1 and lows[s - 1].isalpha() and lows[s - 1] not in ("a", "i")
        ):
            s -= 1
        found.append((doc.toks[s].start, doc.toks[end].end, PiiKind.EMAIL))
    return found


def _label(w: str) -> bool:
    return w.isalnum()


# --- dates ---------------------------------------------------------------------------------

_NUM_DATE = re.compile(
    r"\b(?:(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2})|(\d{4})-(\d{1,2})-(\d{1,2}))\b"
)


def _plausible(a: int, b: int) -> bool:
    """Either month/day or day/month."""
    return (1 <= a <= 12 and 1 <= b <= 31) or (1 <= b <= 12 and 1 <= a <= 31)


def _date_kind(doc: _Doc, first: int, last: int, phi: bool) -> PiiKind | None:
    if doc.has_cue(first, Cue.DOB, 12) or doc.cue_after(last, 4) is Cue.DOB:
        return PiiKind.DOB
    return PiiKind.DATE if phi else None


def _dates(doc: _Doc, phi: bool) -> list[tuple[int, int, PiiKind]]:
    found: list[tuple[int, int, PiiKind]] = []
    for m in _NUM_DATE.finditer(doc.text):
        if m.group(1):
            ok = _plausible(int(m.group(1)), int(m.group(2)))
        else:
            ok = 1 <= int(m.group(5)) <= 12 and 1 <= int(m.group(6)) <= 31
        if not ok:
            continue
        first, last = doc.tok_at(m.start()), doc.tok_at(m.end() - 1)
        kind = _date_kind(doc, first, last, phi)
        if kind is not None:
            found.append((m.start(), m.end(), kind))
    lows = doc.lows
    n = len(lows)
    for i, w in enumerate(lows):
        month = MONTHS.get(w)
        if month is None:
            continue
        if w in ("may", "mar", "dec", "sep", "jan") and doc.toks[i].text.islower():
            # "may" is a verb, "mar"/"dec"/"jan" words or names: need a day next to it
            strict = True
        else:
            strict = False
        first, last = i, i
        day = False
        # DAY [of] MONTH: "the fourteenth of march", "14 march", "14th of march"
        b = i - 1
        if b >= 0 and lows[b] == "of":
            b -= 1
        if b >= 0:
            for back in (2, 1, 3):
                s = b - back + 1
                if s < 0:
                    continue
                got = ordinal_value(lows, s) or _day_cardinal(lows, s)
                if got and got[1] == back and 1 <= got[0] <= 31:
                    first, day = s, True
                    if s > 0 and lows[s - 1] == "the":
                        first = s - 1
                    break
        # MONTH [the] DAY
        j = i + 1
        if not day:
            if j < n and lows[j] == "the":
                j += 1
            got = (ordinal_value(lows, j) or _day_cardinal(lows, j)) if j < n else None
            if got and 1 <= got[0] <= 31 and not _is_year_start(lows, j):
                day = True
                last = j + got[1] - 1
                j = last + 1
            else:
                j = i + 1
        # [,] YEAR
        k = j
        if k < n and lows[k] == ",":
            k += 1
        year = _year_at(lows, k) if k < n else None
        if year is not None:
            last = k + year - 1
        if strict and not day:
            continue
        if not day and year is None:
            continue
        kind = _date_kind(doc, first, last, phi)
        if kind is not None:
            found.append((*doc.span(first, last), kind))
    return found


def _day_cardinal(lows: list[str], i: int) -> tuple[int, int] | None:
    if i >= len(lows):
        return None
    if lows[i].isdigit() and len(lows[i]) <= 2:
        return int(lows[i]), 1
    got = cardinal_at(lows, i)
    if got and lows[i] not in WEAK_ZERO and len(got[0]) <= 2:
        return int(got[0]), got[1]
    return None


def _is_year_start(lows: list[str], i: int) -> bool:
    """ "march nineteen eighty five": the "nineteen" starts a year, not a day."""
    got = _year_at(lows, i)
    return got is not None and got >= 2


def _year_at(lows: list[str], i: int) -> int | None:
    """Tokens consumed by a year at ``i`` ("1985", "nineteen eighty five", "two thousand and
    three", "twenty twenty"), or None."""
    if i >= len(lows):
        return None
    w = lows[i]
    if w.isdigit():
        return 1 if len(w) == 4 and w[:2] in ("19", "20") else None
    first = cardinal_at(lows, i)
    if first is None:
        return None
    digits, used = first
    if len(digits) == 4 and digits[:2] in ("19", "20"):
        return used
    if digits in ("19", "20") and i + used < len(lows):
        second = cardinal_at(lows, i + used)
        if second is not None and len(second[0]) == 2:
            return used + second[1]
    return None


# --- addresses -----------------------------------------------------------------------------

_UK_POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]? ?\d[ABD-HJLNP-UW-Z]{2}\b")
_US_STATE_ZIP = re.compile(r"\b(?:[A-Z]{2}),? (\d{5}(?:-\d{4})?)\b")
_PO_BOX = re.compile(r"\bP\.? ?O\.? box \d+\b", re.IGNORECASE)


def _addresses(doc: _Doc, runs: list[_Run]) -> list[tuple[int, int, PiiKind]]:
    found: list[tuple[int, int, PiiKind]] = []
    lows = doc.lows
    n = len(lows)
    for run in runs:
        if len(run.digits) > 6:
            continue
        j = run.last + 1
        # an optional letter glued to the house number ("221b")
        if j < n and len(lows[j]) == 1 and lows[j].isalpha() and doc.adjacent(j - 1):
            j += 1
        k = j
        while k < n and k - j < 4 and lows[k] not in STREET_SUFFIXES:
            if lows[k] in STOP - {"one", "two", "three"} and lows[k] not in ("north", "south"):
                break
            if not lows[k].isalnum():
                break
            k += 1
        if k == j or k >= n or lows[k] not in STREET_SUFFIXES:
            continue
        if _amount_or_time(doc, run):
            continue
        last = k
        if last + 1 < n and lows[last + 1] == "." and lows[k] != "street":
            last += 1
        # optional unit: ", apartment 4b", "suite 200", "apt. 3"
        u = last + 1
        if u < n and lows[u] == ",":
            u += 1
        if u < n and lows[u] in UNIT_WORDS:
            v = u + 1
            if v < n and lows[v] in (".", "number", "#"):
                v += 1
            if v < n and (lows[v].isalnum()):
                w = v
                got = cardinal_at(lows, v)
                if got:
                    w = v + got[1] - 1
                if w + 1 < n and len(lows[w + 1]) == 1 and lows[w + 1].isalpha():
                    w += 1
                last = w
        first = run.first
        found.append((*doc.span(first, last), PiiKind.ADDRESS))
    for m in _UK_POSTCODE.finditer(doc.text):
        found.append((m.start(), m.end(), PiiKind.ADDRESS))
    for m in _US_STATE_ZIP.finditer(doc.text):
        found.append((m.start(1), m.end(1), PiiKind.ADDRESS))
    for m in _PO_BOX.finditer(doc.text):
        found.append((m.start(), m.end(), PiiKind.ADDRESS))
    return found


# --- account identifiers with letters, IBAN ------------------------------------------------

_IBAN = re.compile(r"\b[A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]{4}){2,7}(?: ?[A-Za-z0-9]{1,3})?\b")
_UK_NINO = re.compile(r"\b[A-CEGHJ-PR-TW-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b", re.IGNORECASE)
_ID_FILLER = frozenset(
    {"is", "it's", "its", "number", "no", "id", ":", "#", "my", "the", "um", "uh"}
)


_ID_KINDS = {Cue.ACCOUNT: PiiKind.ACCOUNT, Cue.MRN: PiiKind.MRN, Cue.SSN: PiiKind.SSN}


def _id_token(doc: _Doc, k: int) -> bool:
    w = doc.lows[k]
    return w.isdigit() or (len(w) == 1 and w.isalpha()) or w in NUMBER_WORDS


def _alnum_ids(doc: _Doc, phi: bool) -> list[tuple[int, int, PiiKind]]:
    """Identifiers with letters after an account or MRN cue ("member id xyz 123456789")."""
    found: list[tuple[int, int, PiiKind]] = []
    lows = doc.lows
    n = len(lows)
    for m in _IBAN.finditer(doc.text):
        if iban_valid(m.group()):
            found.append((m.start(), m.end(), PiiKind.ACCOUNT))
    for m in _UK_NINO.finditer(doc.text):
        if any(c.isdigit() for c in m.group()):
            found.append((m.start(), m.end(), PiiKind.SSN))
    for i, cue in enumerate(doc.cue_end):
        if cue is None or cue[0] not in _ID_KINDS:
            continue
        kind = _ID_KINDS[cue[0]]
        if kind is PiiKind.MRN and not phi:
            continue
        j = i + 1
        while j < n and j - i <= 4 and lows[j] in _ID_FILLER:
            j += 1
        if j < n and not _id_token(doc, j):
            # "member id on the card is …": skip a short aside that ends in "is"
            for k in range(j, min(n, j + 5)):
                if lows[k] in ("is", "are", ":"):
                    j = k + 1
                    break
        k = j
        digits = 0
        letters = 0
        while k < n:
            w = lows[k]
            if w.isdigit():
                digits += len(w)
            elif (
                w.isalpha()
                and (len(w) <= 3 or (k + 1 < n and doc.adjacent(k) and lows[k + 1].isdigit()))
                and w not in STOP
                and w not in NUMBER_WORDS
            ):
                letters += 1
            elif w in NUMBER_WORDS and not (w in WEAK_ZERO and letters == 0 and digits == 0):
                got = cardinal_at(lows, k)
                if got is None:
                    break
                digits += len(got[0])
                k += got[1]
                continue
            elif w == "-" and digits + letters > 0:
                pass
            else:
                break
            k += 1
        if letters and digits >= 4:
            found.append((*doc.span(j, k - 1), kind))
    return found


# --- names ---------------------------------------------------------------------------------

_NAME_INTRO: tuple[tuple[str, ...], ...] = (
    ("my", "name", "is"),
    ("my", "name's"),
    ("name", "is"),
    ("the", "name", "is"),
    ("first", "name", "is"),
    ("last", "name", "is"),
    ("surname", "is"),
    ("full", "name", "is"),
    ("patient", "name", "is"),
    ("patient", "is"),
    ("name", "on", "the", "account", "is"),
    ("name", "on", "the", "card", "is"),
    ("account", "holder", "is"),
    ("under", "the", "name"),
    ("my", "name", "is", "actually"),
    ("call", "me"),
    ("named",),
    ("goes", "by"),
)
_SOFT_INTRO: tuple[tuple[str, ...], ...] = (
    ("this", "is"),
    ("i'm",),
    ("i", "am"),
    ("it's",),
    ("speak", "to"),
    ("speak", "with"),
    ("talk", "to"),
    ("talking", "to"),
    ("speaking", "with"),
    ("ask", "for"),
    ("transfer", "me", "to"),
    ("on", "behalf", "of"),
    ("calling", "for"),
)
_AFTER_NAME = frozenset({"speaking", "calling", "here", "from"})


def _is_name_word(doc: _Doc, i: int, *, strong: bool) -> bool:
    t = doc.toks[i]
    w = t.low
    if not w.isalpha() and "'" not in w:
        return False
    if w in STOP or w in NUMBER_WORDS or w in MONTHS or w in TITLES:
        return False
    if strong:
        return True
    if w in FIRST_NAMES and w not in AMBIGUOUS_NAMES:
        return True
    return t.text[0].isupper() and not t.text.isupper() and i > 0


def _surname_like(doc: _Doc, k: int) -> bool:
    w = doc.lows[k]
    return (
        w.isalpha()
        and len(w) >= 2
        and w not in STOP
        and w not in NUMBER_WORDS
        and w not in MONTHS
        and doc.cue_end[k] is None
        and not w.endswith(("ed", "ing", "ly"))
    )


def _names(doc: _Doc) -> list[tuple[int, int, PiiKind]]:
    found: list[tuple[int, int, PiiKind]] = []
    lows = doc.lows
    n = len(lows)

    def extend(j: int, *, strong: bool, max_words: int) -> int:
        """Last token of the name starting at ``j``."""
        last = j
        k = j + 1
        if not strong and lows[j] in FIRST_NAMES and k < n and _surname_like(doc, k):
            # "maria garcia date of birth …": a known first name and a word that cannot be a
            # verb or a function word after it
            last = k
            k += 1
        while k < n and k - j < max_words:
            if lows[k] == "-" and k + 1 < n and doc.adjacent(k - 1) and doc.adjacent(k):
                k += 1
                continue
            if not _is_name_word(doc, k, strong=strong):
                break
            # a lowercase surname after a soft intro: only before "speaking/calling/from" or
            # at the end of the utterance
            if (
                not strong
                and not doc.toks[k].text[0].isupper()
                and not (k + 1 < n and lows[k + 1] in _AFTER_NAME)
                and not (k + 1 == n or not lows[k + 1].isalpha())
            ):
                break
            last = k
            k += 1
        # a spelling that follows: "smith s m i t h"
        k = last + 1
        letters = 0
        while k < n and len(lows[k]) == 1 and lows[k].isalpha():
            letters += 1
            k += 1
        if letters >= 2:
            last = k - 1
        return last

    def intro_end(i: int, table: tuple[tuple[str, ...], ...]) -> int | None:
        best = None
        for p in table:
            if tuple(lows[i : i + len(p)]) == p and (best is None or len(p) > best):
                best = len(p)
        return None if best is None else i + best

    covered = -1
    for i in range(n):
        if i <= covered:
            continue
        j = intro_end(i, _NAME_INTRO)
        if j is not None and j < n:
            while j < n and lows[j] in ("um", "uh", "er", ",", "is", "mr", "mrs", "ms", "dr"):
                j += 1
            if j < n and _is_name_word(doc, j, strong=True):
                last = extend(j, strong=True, max_words=3)
                found.append((*doc.span(j, last), PiiKind.NAME))
                covered = last
                continue
        if lows[i] in TITLES and i + 1 < n:
            j = i + 1
            if lows[j] == ".":
                j += 1
            strong_title = lows[i] not in ("doctor", "nurse", "sir", "madam", "miss")
            if (
                j < n
                and _is_name_word(doc, j, strong=True)
                and (strong_title or doc.toks[i].text[0].isupper() or lows[j] not in STOP)
            ):
                last = extend(j, strong=False, max_words=2)
                found.append((*doc.span(j, last), PiiKind.NAME))
                covered = last
                continue
        j = intro_end(i, _SOFT_INTRO)
        if j is not None and j < n and _is_name_word(doc, j, strong=False):
            last = extend(j, strong=False, max_words=2)
            found.append((*doc.span(j, last), PiiKind.NAME))
            covered = last
            continue
        # "<name> speaking" at the start of a turn, or a known first name anywhere
        t = doc.toks[i]
        if lows[i] in FIRST_NAMES and lows[i] not in AMBIGUOUS_NAMES and lows[i] not in STOP:
            last = extend(i, strong=False, max_words=2)
            found.append((*doc.span(i, last), PiiKind.NAME))
            covered = last
        elif (
            i + 1 < n
            and lows[i + 1] == "speaking"
            and _is_name_word(doc, i, strong=True)
            and (i == 0 or lows[i - 1] in (",", ".", "hi", "hello", "yes", "yeah"))
        ):
            found.append((t.start, t.end, PiiKind.NAME))
            covered = i
    return found


# --- the API -------------------------------------------------------------------------------

_PRIORITY = {
    PiiKind.EMAIL: 0,
    PiiKind.CARD: 1,
    PiiKind.SSN: 2,
    PiiKind.ACCOUNT: 3,
    PiiKind.MRN: 4,
    PiiKind.PHONE: 5,
    PiiKind.DOB: 6,
    PiiKind.ADDRESS: 7,
    PiiKind.DATE: 8,
    PiiKind.NAME: 9,
}


def detect(text: str, *, phi: bool = False) -> tuple[Span, ...]:
    """The non-overlapping PII spans of ``text``, sorted by offset (what :func:`redact` uses)."""
    doc = _Doc(text)
    runs = _runs(doc)
    cands: list[tuple[int, int, PiiKind]] = []
    for run in runs:
        kind = _classify(doc, run, phi)
        if kind is not None:
            s, e = doc.span(run.first, run.last)
            if run.plus:
                s -= 1
            cands.append((s, e, kind))
    cands += _emails(doc)
    cands += _dates(doc, phi)
    cands += _addresses(doc, runs)
    cands += _alnum_ids(doc, phi)
    cands += _names(doc)
    # longest first, then by kind priority; keep what does not overlap what is kept
    cands.sort(key=lambda c: (-(c[1] - c[0]), _PRIORITY[c[2]], c[0]))
    kept: list[tuple[int, int, PiiKind]] = []
    for c in cands:
        if all(c[1] <= k[0] or c[0] >= k[1] for k in kept):
            kept.append(c)
    kept.sort()
    return tuple(Span(s, e, k) for s, e, k in kept)


def redact(text: str, *, phi: bool = False) -> RedactedText:
    """Replace every PII span of ``text`` with ``[KIND]``; ``phi=True`` adds PHI (HIPAA mode)."""
    spans = detect(text, phi=phi)
    out: list[str] = []
    pos = 0
    for s in spans:
        out.append(text[pos : s.start])
        out.append(s.kind.placeholder)
        pos = s.end
    out.append(text[pos:])
    return RedactedText("".join(out), spans)


#: pauses shorter than this between silenced words are silenced with them (seconds)
_JOIN_GAP = 0.25


def redact_words(words: Sequence[TimedWord], *, phi: bool = False) -> WordRedaction:
    """Redact an ASR word list: the text is the words joined by single spaces, and every word a
    span touches is silenced for its whole duration. Times are merged (in order) across pauses
    shorter than a quarter second, so a number read out is one silenced stretch, not a comb."""
    parts: list[str] = []
    offsets: list[tuple[int, int]] = []
    pos = 0
    for w in words:
        if parts:
            pos += 1
        parts.append(w.text)
        offsets.append((pos, pos + len(w.text)))
        pos += len(w.text)
    text = " ".join(parts)
    redacted = redact(text, phi=phi)
    times: list[tuple[float, float]] = []
    for span in redacted.spans:
        for (ws, we), w in zip(offsets, words, strict=True):
            if ws < span.end and we > span.start:
                times.append((min(w.start, w.end), max(w.start, w.end)))
    times.sort()
    merged: list[tuple[float, float]] = []
    for s, e in times:
        # words of one finding are separated by short pauses; silence those too
        if merged and s <= merged[-1][1] + _JOIN_GAP:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return WordRedaction(redacted, tuple(merged))
