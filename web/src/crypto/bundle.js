// Sealed sender-key bundles v1, a port of voxseal.crypto.bundle (same bytes, same refusals).
//
// HPKE (RFC 9180) base mode, single shot, suite KEM X-Wing (0x647a, = Python cryptography's
// MLKEM768_X25519) / HKDF-SHA256 / AES-256-GCM, from @hpke/core + @hpke/hybridkem-x-wing. That
// package implements the same X-Wing as Python: 32-byte seed expanded with SHAKE-256 into the
// ML-KEM-768 d||z and the X25519 scalar, pk 1216 / enc 1120 bytes, shared secret
// SHA3-256(ss_M || ss_X || ct_X || pk_X || "\.//^\"); the browser interop test proves it in
// both directions against the Python implementation.
//
// Wire format (big-endian, length-prefixed, nothing optional):
//   version u8 = 1 | cipher_suite u8 | epoch u64 | kid u64 | expires_at u64 (unix seconds)
//   room u8-len || UTF-8 | sender u8-len || did:key | recipient u8-len || did:key
//   sealed u16-len || HPKE enc (1120) || AEAD(base key)
//   signature u16-len || Ed25519 (64) or Ed25519 + ML-DSA-65 (3373)
// HPKE info = "voxseal sender key v1\0" || every byte before `sealed`; the signature (context
// "voxseal sender-key bundle v1") covers every byte before `signature`.

import { Aes256Gcm, CipherSuite, HkdfSha256 } from "@hpke/core";
import {
  BundleExpired,
  KeyIdConflict,
  MalformedBundle,
  StaleEpoch,
  UnknownSender,
  UnsealFailed,
  UnsupportedCipherSuite,
  UnsupportedVersion,
  WrongRecipient,
  WrongRoom,
} from "./errors.js";
import { HYBRID_SIGNATURE_SIZE, xwing } from "./keys.js";
import { suiteParams } from "./sframe.js";
import { bytesToBigInt, concat, equalBytes, td, te, toBytes, uintBytes } from "./bytes.js";

export const BUNDLE_VERSION = 1;
export const HPKE_SUITE = new CipherSuite({ kem: xwing, kdf: new HkdfSha256(), aead: new Aes256Gcm() });
const INFO_LABEL = te.encode("voxseal sender key v1\x00");
const SIGNATURE_CONTEXT = te.encode("voxseal sender-key bundle v1");
const FIXED_SIZE = 1 + 1 + 8 + 8 + 8;
const CIPHERTEXT_SIZE = 1120;
export const MIN_BASE_KEY = 16;
export const MAX_BASE_KEY = 64;
const AEAD_TAG = 16;
const U64_MAX = (1n << 64n) - 1n;
export const MAX_BUNDLE_SIZE = FIXED_SIZE + 3 * 256 + 2 + CIPHERTEXT_SIZE + MAX_BASE_KEY + AEAD_TAG + 2 + HYBRID_SIGNATURE_SIZE;

function short(b) {
  if (b.length > 255) throw new RangeError("field longer than 255 bytes");
  return concat(Uint8Array.of(b.length), b);
}

function long(b) {
  if (b.length > 0xffff) throw new RangeError("field longer than 65535 bytes");
  return concat(uintBytes(b.length, 2), b);
}

function u64(v, what) {
  let x;
  try {
    x = BigInt(v);
  } catch {
    throw new RangeError(`${what} must be an integer`);
  }
  if (x < 0n || x > U64_MAX) throw new RangeError("epoch, KID or expiry out of range");
  return x;
}

function contextBytes(b) {
  return concat(
    Uint8Array.of(b.version, b.cipherSuite),
    uintBytes(b.epoch, 8),
    uintBytes(b.kid, 8),
    uintBytes(b.expiresAt, 8),
    short(te.encode(b.roomId)),
    short(te.encode(b.sender)),
    short(te.encode(b.recipient)),
  );
}

class Reader {
  constructor(data) {
    this.data = data;
    this.pos = 0;
  }
  take(n) {
    const end = this.pos + n;
    if (end > this.data.length) throw new MalformedBundle("truncated bundle");
    const out = this.data.subarray(this.pos, end);
    this.pos = end;
    return out;
  }
  chunk(lenBytes) {
    return this.take(Number(bytesToBigInt(this.take(lenBytes))));
  }
  text(lenBytes) {
    const raw = this.chunk(lenBytes);
    try {
      return td.decode(raw);
    } catch {
      throw new MalformedBundle("bundle text field is not UTF-8");
    }
  }
  end() {
    if (this.pos !== this.data.length) throw new MalformedBundle("trailing bytes after bundle");
  }
}

/**
 * Strictly parse one bundle (not verified, not opened): epoch, kid and expiresAt are BigInt.
 * Refuses oversized, truncated, trailing, unknown version or suite, bad key length, empty text.
 */
export function decodeBundle(data) {
  const d = toBytes(data);
  if (d.length > MAX_BUNDLE_SIZE) throw new MalformedBundle("bundle larger than the size limit");
  if (!d.length) throw new MalformedBundle("empty bundle");
  if (d[0] !== BUNDLE_VERSION) throw new UnsupportedVersion(d[0]);
  const r = new Reader(d);
  const fixed = r.take(FIXED_SIZE);
  const bundle = {
    version: fixed[0],
    cipherSuite: fixed[1],
    epoch: bytesToBigInt(fixed.subarray(2, 10)),
    kid: bytesToBigInt(fixed.subarray(10, 18)),
    expiresAt: bytesToBigInt(fixed.subarray(18, 26)),
    roomId: r.text(1),
    sender: r.text(1),
    recipient: r.text(1),
    contextEnd: r.pos,
    sealed: r.chunk(2),
    signature: r.chunk(2),
  };
  r.end();
  try {
    suiteParams(bundle.cipherSuite);
  } catch (e) {
    if (e instanceof UnsupportedCipherSuite) throw new MalformedBundle("bundle names an unknown SFrame cipher suite");
    throw e;
  }
  const keyLen = bundle.sealed.length - CIPHERTEXT_SIZE - AEAD_TAG;
  if (keyLen < MIN_BASE_KEY || keyLen > MAX_BASE_KEY) throw new MalformedBundle("sealed key has the wrong length");
  if (!bundle.roomId || !bundle.sender || !bundle.recipient) throw new MalformedBundle("empty room or participant");
  // what HPKE info binds (every byte before `sealed`) and what the signature covers (every
  // byte before `signature`), taken from the input itself
  bundle.contextBytes = d.slice(0, bundle.contextEnd);
  bundle.signedBytes = d.slice(0, d.length - 2 - bundle.signature.length);
  delete bundle.contextEnd;
  return bundle;
}

/** Seal `baseKey` to one recipient, bound to room/epoch/KID/expiry, and sign it. */
export async function sealBundle(sender, recipient, { roomId, epoch, kid, cipherSuite, baseKey, expiresAt }) {
  suiteParams(cipherSuite);
  const key = toBytes(baseKey, "base key");
  if (key.length < MIN_BASE_KEY || key.length > MAX_BASE_KEY) {
    throw new RangeError(`base key must be ${MIN_BASE_KEY}..${MAX_BASE_KEY} bytes`);
  }
  const context = contextBytes({
    version: BUNDLE_VERSION,
    cipherSuite,
    epoch: u64(epoch, "epoch"),
    kid: u64(kid, "KID"),
    expiresAt: u64(typeof expiresAt === "number" ? Math.trunc(expiresAt) : expiresAt, "expiry"),
    roomId,
    sender: sender.did,
    recipient: recipient.did,
  });
  const pk = await xwing.deserializePublicKey(recipient.kemPublicBytes);
  const { ct, enc } = await HPKE_SUITE.seal({ recipientPublicKey: pk, info: concat(INFO_LABEL, context) }, key);
  const signed = concat(context, long(concat(new Uint8Array(enc), new Uint8Array(ct))));
  return concat(signed, long(sender.sign(signed, { context: SIGNATURE_CONTEXT })));
}

/** One bundle per recipient (never to the sender itself), keyed by recipient DID. */
export async function sealForParticipants(sender, recipients, params) {
  const out = new Map();
  for (const r of recipients) if (r.did !== sender.did) out.set(r.did, await sealBundle(sender, r, params));
  return out;
}

/**
 * Check and open one bundle addressed to `recipient` from `sender` in `roomId`. Refusals, in
 * Python's order: malformed/oversized/unknown version, wrong recipient, wrong room, unexpected
 * sender, bad signature, expired (`now` in seconds, passed in), older than `minEpoch`, and a
 * sealed key that does not open. Returns `{sender, roomId, epoch: number, kid: BigInt,
 * cipherSuite, expiresAt: number, baseKey}`.
 */
export async function openBundle(data, { recipient, sender, roomId, now, minEpoch = 0 }) {
  const b = decodeBundle(data);
  if (!equalBytes(te.encode(b.recipient), te.encode(recipient.did))) {
    throw new WrongRecipient(`bundle is addressed to ${b.recipient}`);
  }
  if (b.roomId !== roomId) throw new WrongRoom(`bundle belongs to room ${JSON.stringify(b.roomId)}`);
  if (b.sender !== sender.did) throw new UnknownSender(`bundle claims sender ${b.sender}`);
  sender.verify(b.signature, b.signedBytes, { context: SIGNATURE_CONTEXT });
  if (b.expiresAt <= now) throw new BundleExpired(`bundle for epoch ${b.epoch} expired at ${b.expiresAt}`);
  if (b.epoch < BigInt(minEpoch)) throw new StaleEpoch(Number(b.epoch), minEpoch);
  // Epochs are numbers here; a legitimate one is below 2**48 (the KID layout), so refuse
  // rather than round one beyond 2**53.
  if (b.epoch > BigInt(Number.MAX_SAFE_INTEGER)) throw new MalformedBundle("epoch out of range");
  let baseKey;
  try {
    baseKey = new Uint8Array(
      await HPKE_SUITE.open(
        {
          recipientKey: recipient.kemPrivateKey(),
          enc: b.sealed.slice(0, CIPHERTEXT_SIZE),
          info: concat(INFO_LABEL, b.contextBytes),
        },
        b.sealed.slice(CIPHERTEXT_SIZE),
      ),
    );
  } catch {
    throw new UnsealFailed("sealed sender key did not open");
  }
  return {
    sender: b.sender,
    roomId: b.roomId,
    epoch: Number(b.epoch),
    kid: b.kid,
    cipherSuite: b.cipherSuite,
    expiresAt: Number(b.expiresAt),
    baseKey,
  };
}

/**
 * Opens bundles for one recipient in one room and refuses rollback per sender: an older epoch
 * is StaleEpoch; the same epoch again only with the same KID and key (a retransmission).
 */
export class SenderKeyInbox {
  #recipient;
  #room;
  #latest = new Map();

  constructor(recipient, roomId) {
    this.#recipient = recipient;
    this.#room = roomId;
  }

  currentEpoch(senderDid) {
    return this.#latest.get(senderDid)?.epoch ?? null;
  }

  /**
   * Open, check against what this sender sent before, and remember it. `kidAllowed` (the
   * room's KID layout) is checked before the epoch is remembered, so a refused bundle leaves
   * no trace that could make the sender's next, correct bundle look like equivocation.
   */
  async open(data, sender, { now, kidAllowed = null }) {
    const latest = this.#latest.get(sender.did);
    const key = await openBundle(data, {
      recipient: this.#recipient,
      sender,
      roomId: this.#room,
      now,
      minEpoch: latest ? latest.epoch : 0,
    });
    const current = this.#latest.get(sender.did); // another open may have finished meanwhile
    if (current && key.epoch < current.epoch) throw new StaleEpoch(key.epoch, current.epoch);
    if (current && key.epoch === current.epoch) {
      const same = key.kid === current.kid && equalBytes(key.baseKey, current.baseKey);
      if (!same) throw new StaleEpoch(key.epoch, current.epoch + 1);
    }
    if (kidAllowed && !kidAllowed(key.kid)) {
      throw new KeyIdConflict(`KID ${key.kid} is not one this sender may use`);
    }
    this.#latest.set(sender.did, key);
    return key;
  }

  forget(senderDid) {
    this.#latest.delete(senderDid);
  }
}
