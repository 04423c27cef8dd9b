"""End-to-end encryption core, sans-I/O.

* :mod:`voxseal.crypto.sframe` — SFrame (RFC 9605) frame protection, sender/receiver state.
* :mod:`voxseal.crypto.errors` — typed refusals (all subclasses of ``voxseal.errors.CryptoError``).

Nothing in this package opens a socket, starts a task or reads a clock: time and randomness
that matter for a decision are passed in, so the gateway, the SDK, the agent and the telephony
ingress reuse one tested core.
"""
