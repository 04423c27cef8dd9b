// Public API of voxseal's browser end-to-end encryption (see README.md in this directory).
export * from "./errors.js";
export {
  CipherSuite,
  DEFAULT_MAX_KEYS,
  DEFAULT_REPLAY_WINDOW,
  MAX_COUNTER,
  MAX_KID,
  SFrameReceiver,
  SFrameSender,
  decodeHeader,
  decrypt,
  deriveKeySalt,
  deriveSecret,
  encodeHeader,
  encrypt,
  ratchetBaseKey,
  suiteAead,
  suiteParams,
} from "./sframe.js";
export {
  ED25519_SIGNATURE_SIZE,
  HYBRID_SIGNATURE_SIZE,
  Identity,
  KEM_PUBLIC_KEY_SIZE,
  MLDSA65_PUBLIC_KEY_SIZE,
  MLDSA65_SIGNATURE_SIZE,
  PublicIdentity,
  b58decode,
  b58encode,
  didFromEd25519,
  ed25519FromDid,
} from "./keys.js";
export {
  BUNDLE_VERSION,
  MAX_BUNDLE_SIZE,
  SenderKeyInbox,
  decodeBundle,
  openBundle,
  sealBundle,
  sealForParticipants,
} from "./bundle.js";
export { EMOJI, ITERATIONS, SafetyNumber, keyTranscript, safetyNumber } from "./sas.js";
export { KidLayout, ParticipantKeyRing, RekeyPolicy, RekeyReason, SenderKeySchedule } from "./rekey.js";
export { BUNDLE_LIFETIME, DATA_METADATA, DEFAULT_SUITE, KeyAgreement, decodeIdentity } from "./key_agreement.js";
export { WorkerKeys } from "./worker_keys.js";
export { b64decode, b64encode, fromHex, toHex } from "./bytes.js";
