"""Fixtures of the telephony tests, registered from the harness."""

from tests.harness.ingress import gateway_and_ingress, ingress_alone

__all__ = ["gateway_and_ingress", "ingress_alone"]
