"""Telephony ingress: Twilio, Vonage and SignalWire media streams, sans-I/O.

The phone leg cannot be end-to-end encrypted (the carrier decodes the audio), so the ingress
runs in the agent zone: it authenticates the provider's webhook and media stream, converts
the audio to 48 kHz, and joins the room like any endpoint. This package holds only the
protocol core — codecs, signature checks, stream tokens and per-provider serializers — which
takes bytes and returns events or bytes; sockets and servers live at the edge.
"""
