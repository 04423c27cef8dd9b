"""The gateway's browser side: the call page and its built assets, and demo-mode call minting.

``web/src`` holds the JavaScript sources (built by ``web/build.mjs`` into ``static/``, which is
committed so that ``pip install`` needs no npm); this package serves them.
"""

from __future__ import annotations

from voxseal.web.demo_calls import DEMO_CALL_PATH, enable_demo_calls
from voxseal.web.pages import router

__all__ = ["DEMO_CALL_PATH", "enable_demo_calls", "router"]
