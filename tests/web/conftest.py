"""Fixtures of the web tests (Playwright and chromium), registered from the harness."""

from tests.harness.browser import browser, playwright_session

__all__ = ["browser", "playwright_session"]
