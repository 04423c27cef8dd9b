"""Scoring the redactor against a labelled corpus (used by the test and the benchmark).

The corpus marks PII inline — ``my card is <CARD>4111 …</CARD>`` — because offsets typed by
hand are wrong more often than tags are. Lines starting ``phi: `` are scored with
``phi=True``; ``#`` lines are comments.

Matching is span-level and one-to-one: a predicted span and a gold span match when they have
the same kind and their overlap covers at least half of the longer of the two (so "john" does
not count for "john smith", and a span swallowing half the sentence does not count either).
Unmatched predictions are false positives; unmatched gold spans are false negatives. Because
what matters for privacy is what leaks, :func:`score` also reports ``leaked_chars``: the share
of gold PII characters (spaces excluded) that no prediction of any kind covers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from voxseal.privacy.redact import PiiKind, Span, detect

_TAG = re.compile(r"<([A-Z]+)>(.*?)</\1>")


@dataclass(frozen=True)
class Example:
    text: str
    spans: tuple[Span, ...]
    phi: bool
    line: int


def parse_marked(marked: str) -> tuple[str, tuple[Span, ...]]:
    """``"call <PHONE>555-0134</PHONE>"`` -> ``("call 555-0134", (Span(5, 13, PHONE),))``."""
    out: list[str] = []
    spans: list[Span] = []
    pos = 0
    length = 0
    for m in _TAG.finditer(marked):
        before = marked[pos : m.start()]
        out.append(before)
        length += len(before)
        inner = m.group(2)
        spans.append(Span(length, length + len(inner), PiiKind(m.group(1))))
        out.append(inner)
        length += len(inner)
        pos = m.end()
    out.append(marked[pos:])
    text = "".join(out)
    if "<" in text and re.search(r"</?[A-Z]+>", text):
        raise ValueError(f"unbalanced tag in {marked!r}")
    return text, tuple(spans)


def load_corpus(path: Path) -> list[Example]:
    examples = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        phi = line.startswith("phi: ")
        if phi:
            line = line[len("phi: ") :]
        text, spans = parse_marked(line)
        examples.append(Example(text, spans, phi, number))
    return examples


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


@dataclass
class Report:
    per_kind: dict[PiiKind, Counts] = field(default_factory=dict)
    overall: Counts = field(default_factory=Counts)
    gold_chars: int = 0
    leaked_chars: int = 0
    #: (line, text, kind, "FP"/"FN", the span's text) for every miss, to read the failures
    errors: list[tuple[int, str, PiiKind, str, str]] = field(default_factory=list)

    @property
    def leak_rate(self) -> float:
        return self.leaked_chars / self.gold_chars if self.gold_chars else 0.0


def _matches(a: Span, b: Span) -> bool:
    if a.kind is not b.kind:
        return False
    overlap = min(a.end, b.end) - max(a.start, b.start)
    return overlap > 0 and overlap >= 0.5 * max(a.end - a.start, b.end - b.start)


def score(examples: Iterable[Example]) -> Report:
    report = Report()
    for ex in examples:
        predicted = list(detect(ex.text, phi=ex.phi))
        unmatched = list(predicted)
        for g in ex.spans:
            counts = report.per_kind.setdefault(g.kind, Counts())
            hit = next((p for p in unmatched if _matches(g, p)), None)
            if hit is not None:
                unmatched.remove(hit)
                counts.tp += 1
                report.overall.tp += 1
            else:
                counts.fn += 1
                report.overall.fn += 1
                report.errors.append((ex.line, ex.text, g.kind, "FN", ex.text[g.start : g.end]))
            for i in range(g.start, g.end):
                if ex.text[i].isspace():
                    continue
                report.gold_chars += 1
                if not any(p.start <= i < p.end for p in predicted):
                    report.leaked_chars += 1
        for p in unmatched:
            report.per_kind.setdefault(p.kind, Counts()).fp += 1
            report.overall.fp += 1
            report.errors.append((ex.line, ex.text, p.kind, "FP", ex.text[p.start : p.end]))
    return report


def format_report(report: Report, n_examples: int) -> str:
    lines = [
        f"{n_examples} utterances; span-level, same kind, overlap >= 50% of the longer span",
        f"{'kind':<8} {'gold':>5} {'tp':>5} {'fp':>5} {'fn':>5} {'precision':>10} {'recall':>8}",
    ]
    for kind in PiiKind:
        c = report.per_kind.get(kind)
        if c is None:
            continue
        lines.append(
            f"{kind.value:<8} {c.tp + c.fn:>5} {c.tp:>5} {c.fp:>5} {c.fn:>5} "
            f"{c.precision:>10.3f} {c.recall:>8.3f}"
        )
    o = report.overall
    lines.append(
        f"{'overall':<8} {o.tp + o.fn:>5} {o.tp:>5} {o.fp:>5} {o.fn:>5} "
        f"{o.precision:>10.3f} {o.recall:>8.3f}"
    )
    lines.append(
        f"gold PII characters left unredacted (any kind): {report.leaked_chars}/"
        f"{report.gold_chars} = {report.leak_rate:.3%}"
    )
    return "\n".join(lines)
