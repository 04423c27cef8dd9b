"""Typed refusals of the end-to-end encryption core.

Every error names *what* was wrong with the input (a stable ``reason`` code the gateway can put
in an audit event) and never *what the secret was*: constructors take identifiers such as a KID,
an epoch or a DID, never key material, plaintext or tags. Receivers of network input catch
:class:`CryptoError` (or :class:`voxseal.errors.VoxsealError`) and drop the frame or bundle with
an audit event; they never need to parse messages.
"""

from __future__ import annotations

from voxseal.errors import CryptoError

__all__ = [
    "AuthenticationFailed",
    "BadSignature",
    "BundleError",
    "BundleExpired",
    "CounterExhausted",
    "CryptoError",
    "FrameError",
    "InvalidKey",
    "KeyIdConflict",
    "MalformedBundle",
    "MalformedFrame",
    "MalformedHeader",
    "MalformedIdentity",
    "ReplayDetected",
    "StaleEpoch",
    "UnknownKey",
    "UnknownSender",
    "UnsupportedCipherSuite",
    "UnsupportedVersion",
    "WrongRecipient",
    "WrongRoom",
]


# --- configuration / misuse ----------------------------------------------------------------


class UnsupportedCipherSuite(CryptoError):
    """A cipher suite id that RFC 9605 does not define (or that this build refuses)."""

    reason = "unsupported_cipher_suite"

    def __init__(self, suite: object) -> None:
        self.suite = suite
        super().__init__(f"unsupported SFrame cipher suite {suite!r}")


class InvalidKey(CryptoError):
    """Key material of the wrong type or length was supplied (the message gives the length only)."""

    reason = "invalid_key"


# --- SFrame frames ---------------------------------------------------------------------------


class FrameError(CryptoError):
    """Base of every refusal of an SFrame frame on the media path."""

    reason = "sframe_rejected"


class MalformedHeader(FrameError):
    """The SFrame header (RFC 9605 §4.3) is truncated or not minimally encoded."""

    reason = "sframe_malformed_header"


class MalformedFrame(FrameError):
    """The frame is too short to hold the header plus an authentication tag."""

    reason = "sframe_malformed_frame"


class UnknownKey(FrameError):
    """No key is installed for the frame's KID (never installed, retired or evicted)."""

    reason = "sframe_unknown_key"

    def __init__(self, kid: int) -> None:
        self.kid = kid
        super().__init__(f"no SFrame key for KID {kid}")


class AuthenticationFailed(FrameError):
    """The AEAD tag did not verify: forged, corrupted, wrong key or wrong metadata."""

    reason = "sframe_auth_failed"


class ReplayDetected(FrameError):
    """The counter was already accepted, or is older than the replay window allows."""

    reason = "sframe_replay"

    def __init__(self, kid: int, ctr: int, *, too_old: bool = False) -> None:
        self.kid = kid
        self.ctr = ctr
        self.too_old = too_old
        what = "too old for the replay window" if too_old else "a duplicate"
        super().__init__(f"frame KID {kid} CTR {ctr} is {what}")


class CounterExhausted(FrameError):
    """The sender's counter would wrap; the sender must move to a new key (rekey/ratchet)."""

    reason = "sframe_counter_exhausted"


# --- identities ------------------------------------------------------------------------------


class MalformedIdentity(CryptoError):
    """A did:key, public identity document or secret identity blob could not be decoded."""

    reason = "malformed_identity"


class BadSignature(CryptoError):
    """A signature (Ed25519, or either half of a hybrid Ed25519 + ML-DSA-65) did not verify."""

    reason = "bad_signature"


# --- sealed sender-key bundles ---------------------------------------------------------------


class BundleError(CryptoError):
    """Base of every refusal of a sealed sender-key bundle."""

    reason = "bundle_rejected"


class MalformedBundle(BundleError):
    """Truncated, oversized, trailing bytes, or a field out of range."""

    reason = "bundle_malformed"


class UnsupportedVersion(BundleError):
    """A wire-format version this implementation does not speak."""

    reason = "bundle_unsupported_version"

    def __init__(self, version: int) -> None:
        self.version = version
        super().__init__(f"unsupported bundle version {version}")


class WrongRecipient(BundleError):
    """The bundle was sealed to someone else."""

    reason = "bundle_wrong_recipient"


class WrongRoom(BundleError):
    """The bundle belongs to another room."""

    reason = "bundle_wrong_room"


class UnknownSender(BundleError):
    """The bundle names a sender other than the identity it is being checked against."""

    reason = "bundle_unknown_sender"


class KeyIdConflict(BundleError):
    """A sender key names a KID that already belongs to another sender in this room.

    Accepting it would let one participant replace another's key and speak with their KID.
    """

    reason = "bundle_kid_conflict"


class StaleEpoch(BundleError):
    """The bundle's epoch is older than one already accepted (rollback refused)."""

    reason = "bundle_stale_epoch"

    def __init__(self, epoch: int, current: int) -> None:
        self.epoch = epoch
        self.current = current
        super().__init__(f"bundle epoch {epoch} is older than accepted epoch {current}")


class BundleExpired(BundleError):
    """The bundle's expiry time has passed."""

    reason = "bundle_expired"
