"""What the suite needs from the machine, and the one rule for when it is missing.

A missing system service or tool (PostgreSQL, node, chromium) skips the tests that need it
on a developer's machine, with the reason, and fails them on CI (``CI=true``), where a skip
would hide that nothing ran. The RFC vectors are not in this class: they are part of the
repository (``tests/vectors/``), and a missing file is a plain failure everywhere.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, NoReturn

import pytest

__all__ = ["ON_CI", "VECTORS_DIR", "load_vectors", "unavailable"]

ON_CI = os.environ.get("CI", "").lower() == "true"
#: the official vectors (tests/vectors/README.md says where each comes from)
VECTORS_DIR = Path(
    os.environ.get("VOXSEAL_VECTORS_DIR") or Path(__file__).resolve().parents[1] / "vectors"
)


def unavailable(message: str) -> NoReturn:
    """Skip (locally) or fail (on CI) the running test for a missing tool or service."""
    if ON_CI:
        pytest.fail(f"{message} (CI=true: this is a failure, not a skip)")
    pytest.skip(f"{message} (skipped outside CI; on CI=true this fails)")


def load_vectors(name: str) -> Any:
    """Load one official vector file by name, e.g. ``"totp-rfc6238.json"``."""
    return json.loads((VECTORS_DIR / name).read_text())
