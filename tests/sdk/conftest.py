"""Fixtures of the SDK tests, registered from the harness."""

from tests.harness.gateway import gateway_server

__all__ = ["gateway_server"]
