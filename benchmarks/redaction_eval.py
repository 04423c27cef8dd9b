"""Redaction precision and recall per PII type on the labelled corpora in tests/privacy/.

    python benchmarks/redaction_eval.py [--errors] [--corpus FILE ...]

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

HERE = Path(__file__).resolve().parents[1] / "tests" / "privacy"
#: the development corpus, and the held-out one written after the detector was tuned
CORPORA = (HERE / "corpus.txt", HERE / "corpus_holdout.txt")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--errors", action="store_true", help="list every FP and FN")
    parser.add_argument("--corpus", type=Path, action="append", help="default: both corpora")
    args = parser.parse_args()
    examples = []
    for path in args.corpus or CORPORA:
        part = load_corpus(path)
        examples += part
        report = score(part)
        print(f"== {path.name}")
        print(format_report(report, len(part)))
        if args.errors:
            for line, text, kind, what, span in report.errors:
                print(f"  {what} {kind.value:<8} line {line}: {span!r}  <- {text}")
        print()
    words = " ".join(e.text for e in examples).split()[:200]
    text = " ".join(words)
    t0 = time.perf_counter()
    for _ in range(50):
        redact(text)
    per = (time.perf_counter() - t0) / 50
    print(f"redact(): {per * 1000:.2f} ms per 200-word utterance")


if __name__ == "__main__":
    main()
