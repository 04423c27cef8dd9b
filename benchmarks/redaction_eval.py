"""Redaction precision and recall per PII type on the labelled corpus (tests/privacy/corpus.txt).

    python benchmarks/redaction_eval.py [--errors]

Matching is span-level and one-to-one: same kind, and the overlap covers at least half of the
longer of the predicted and gold spans. Also printed: the share of gold PII characters that no
prediction covers at all (what would actually leak), and the time per 200-word utterance.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from voxseal.privacy.evaluation import format_report, load_corpus, score
from voxseal.privacy.redact import redact

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "privacy" / "corpus.txt"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--errors", action="store_true", help="list every FP and FN")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args()
    examples = load_corpus(args.corpus)
    report = score(examples)
    print(format_report(report, len(examples)))
    if args.errors:
        for line, text, kind, what, span in report.errors:
            print(f"  {what} {kind.value:<8} line {line}: {span!r}  <- {text}")
    words = " ".join(e.text for e in examples).split()[:200]
    text = " ".join(words)
    t0 = time.perf_counter()
    for _ in range(50):
        redact(text)
    per = (time.perf_counter() - t0) / 50
    print(f"redact(): {per * 1000:.2f} ms per 200-word utterance")


if __name__ == "__main__":
    main()
