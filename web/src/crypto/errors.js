// Typed refusals, mirroring voxseal.crypto.errors: every error carries the same stable
// `reason` code as its Python twin so the page, the gateway and the audit log speak one
// vocabulary. Constructors take identifiers (KID, epoch, DID), never key material.

export class CryptoError extends Error {
  static reason = "crypto_error";
  constructor(message) {
    super(message);
    this.name = new.target.name;
    this.reason = new.target.reason;
  }
}

export class UnsupportedCipherSuite extends CryptoError {
  static reason = "unsupported_cipher_suite";
  constructor(suite) {
    super(`unsupported SFrame cipher suite ${String(suite)}`);
    this.suite = suite;
  }
}

export class InvalidKey extends CryptoError {
  static reason = "invalid_key";
}

export class FrameError extends CryptoError {
  static reason = "sframe_rejected";
}

export class MalformedHeader extends FrameError {
  static reason = "sframe_malformed_header";
}

export class MalformedFrame extends FrameError {
  static reason = "sframe_malformed_frame";
}

export class UnknownKey extends FrameError {
  static reason = "sframe_unknown_key";
  constructor(kid) {
    super(`no SFrame key for KID ${String(kid)}`);
    this.kid = kid;
  }
}

export class AuthenticationFailed extends FrameError {
  static reason = "sframe_auth_failed";
}

export class ReplayDetected extends FrameError {
  static reason = "sframe_replay";
  constructor(kid, ctr, { tooOld = false } = {}) {
    const what = tooOld ? "too old for the replay window" : "a duplicate";
    super(`frame KID ${String(kid)} CTR ${String(ctr)} is ${what}`);
    this.kid = kid;
    this.ctr = ctr;
    this.tooOld = tooOld;
  }
}

export class CounterExhausted extends FrameError {
  static reason = "sframe_counter_exhausted";
}

export class MalformedIdentity extends CryptoError {
  static reason = "malformed_identity";
}

export class BadSignature extends CryptoError {
  static reason = "bad_signature";
}

export class BundleError extends CryptoError {
  static reason = "bundle_rejected";
}

export class MalformedBundle extends BundleError {
  static reason = "bundle_malformed";
}

export class UnsupportedVersion extends BundleError {
  static reason = "bundle_unsupported_version";
  constructor(version) {
    super(`unsupported bundle version ${version}`);
    this.version = version;
  }
}

export class WrongRecipient extends BundleError {
  static reason = "bundle_wrong_recipient";
}

export class WrongRoom extends BundleError {
  static reason = "bundle_wrong_room";
}

export class UnknownSender extends BundleError {
  static reason = "bundle_unknown_sender";
}

export class KeyIdConflict extends BundleError {
  static reason = "bundle_kid_conflict";
}

export class StaleEpoch extends BundleError {
  static reason = "bundle_stale_epoch";
  constructor(epoch, current) {
    super(`bundle epoch ${String(epoch)} is older than accepted epoch ${String(current)}`);
    this.epoch = epoch;
    this.current = current;
  }
}

export class BundleExpired extends BundleError {
  static reason = "bundle_expired";
}

export class UnsealFailed extends BundleError {
  static reason = "bundle_unseal_failed";
}

/** End-to-end encryption could not be established or kept with a participant (sdk/key_agreement.py). */
export class E2EEError extends CryptoError {
  static reason = "e2ee_failed";
}
