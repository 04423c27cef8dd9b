// SFrame (RFC 9605), a port of voxseal.crypto.sframe with the same wire format and refusals.
//
// Functional layer (encodeHeader / decodeHeader / deriveKeySalt / encrypt / decrypt) follows the
// RFC line by line and is tested on every official vector; the stateful layer (SFrameSender,
// SFrameReceiver) is what streams use: a counter that never wraps, keys by KID in a bounded
// store, and a per-KID replay window updated only after a frame authenticates.
//
// Crypto is WebCrypto only (AES-GCM, AES-CTR, HMAC, HKDF), so it runs in a page, in an
// RTCRtpScriptTransform worker and in node. KIDs and counters are BigInt (u64 on the wire).

import {
  AuthenticationFailed,
  CounterExhausted,
  InvalidKey,
  MalformedFrame,
  MalformedHeader,
  ReplayDetected,
  UnknownKey,
  UnsupportedCipherSuite,
} from "./errors.js";
import { bytesToBigInt, concat, equalBytes, te, toBytes, uintBytes, wipe, subtle } from "./bytes.js";

export const MAX_KID = (1n << 64n) - 1n;
export const MAX_COUNTER = (1n << 64n) - 1n;
export const DEFAULT_REPLAY_WINDOW = 128;
export const DEFAULT_MAX_KEYS = 256;

export const CipherSuite = Object.freeze({
  AES_128_CTR_HMAC_SHA256_80: 1,
  AES_128_CTR_HMAC_SHA256_64: 2,
  AES_128_CTR_HMAC_SHA256_32: 3,
  AES_128_GCM_SHA256_128: 4,
  AES_256_GCM_SHA512_128: 5,
});

const SUITES = new Map([
  [1, { suite: 1, hash: "SHA-256", nh: 32, nk: 48, nn: 12, nt: 10, nka: 16, gcm: false }],
  [2, { suite: 2, hash: "SHA-256", nh: 32, nk: 48, nn: 12, nt: 8, nka: 16, gcm: false }],
  [3, { suite: 3, hash: "SHA-256", nh: 32, nk: 48, nn: 12, nt: 4, nka: 16, gcm: false }],
  [4, { suite: 4, hash: "SHA-256", nh: 32, nk: 16, nn: 12, nt: 16, nka: 16, gcm: true }],
  [5, { suite: 5, hash: "SHA-512", nh: 64, nk: 32, nn: 12, nt: 16, nka: 32, gcm: true }],
]);

/** Sizes of one suite (RFC 9605 §4.5); refuses ids the RFC does not define. */
export function suiteParams(cipherSuite) {
  const p = SUITES.get(typeof cipherSuite === "number" ? cipherSuite : NaN);
  if (!p) throw new UnsupportedCipherSuite(cipherSuite);
  return p;
}

function u64(value, what) {
  let v;
  try {
    v = BigInt(value);
  } catch {
    throw new RangeError(`${what} must be an integer`);
  }
  if (v < 0n || v > MAX_KID) throw new RangeError(`${what} out of range 0..2**64-1`);
  return v;
}

// --- header (RFC 9605 §4.3) ------------------------------------------------------------------

function minLen(v) {
  let n = 1;
  while (v >> BigInt(8 * n) !== 0n) n++;
  return n;
}

/** Config byte `X K(3) Y C(3)`, then KID, then CTR; minimal encodings only. */
export function encodeHeader(kid, ctr) {
  const k = u64(kid, "KID");
  const c = u64(ctr, "CTR");
  let config;
  let kidBytes = new Uint8Array(0);
  let ctrBytes = new Uint8Array(0);
  if (k < 8n) {
    config = Number(k) << 4;
  } else {
    const n = minLen(k);
    config = 0x80 | ((n - 1) << 4);
    kidBytes = uintBytes(k, n);
  }
  if (c < 8n) {
    config |= Number(c);
  } else {
    const n = minLen(c);
    config |= 0x08 | (n - 1);
    ctrBytes = uintBytes(c, n);
  }
  return concat(Uint8Array.of(config), kidBytes, ctrBytes);
}

/** Parse a header at the start of `data`: `{kid, ctr, length}`; strict (minimal, complete). */
export function decodeHeader(data) {
  const view = toBytes(data);
  if (view.length < 1) throw new MalformedHeader("empty SFrame header");
  const config = view[0];
  let pos = 1;
  let kid;
  let ctr;
  if (config & 0x80) {
    const n = ((config >> 4) & 0x07) + 1;
    if (view.length < pos + n) throw new MalformedHeader("truncated SFrame KID");
    kid = bytesToBigInt(view.subarray(pos, pos + n));
    if (kid < 8n || minLen(kid) !== n) throw new MalformedHeader("SFrame KID not minimally encoded");
    pos += n;
  } else {
    kid = BigInt((config >> 4) & 0x07);
  }
  if (config & 0x08) {
    const n = (config & 0x07) + 1;
    if (view.length < pos + n) throw new MalformedHeader("truncated SFrame CTR");
    ctr = bytesToBigInt(view.subarray(pos, pos + n));
    if (ctr < 8n || minLen(ctr) !== n) throw new MalformedHeader("SFrame CTR not minimally encoded");
    pos += n;
  } else {
    ctr = BigInt(config & 0x07);
  }
  return { kid, ctr, length: pos };
}

// --- key schedule (RFC 9605 §4.4.2, §5.1) ----------------------------------------------------

const KEY_LABEL = te.encode("SFrame 1.0 Secret key ");
const SALT_LABEL = te.encode("SFrame 1.0 Secret salt ");
const RATCHET_LABEL = te.encode("SFrame 1.0 Ratchet");
const EMPTY = new Uint8Array(0);

function checkBaseKey(baseKey) {
  // RFC 9605 does not fix the base key length; refuse keys too short to be a secret.
  if (toBytes(baseKey, "base key").length < 16) {
    throw new InvalidKey("SFrame base key must be at least 16 bytes");
  }
}

async function hkdf(hash, ikm, info, length) {
  // WebCrypto's HKDF is Extract(salt="", ikm) then Expand(info, L): exactly the RFC's schedule.
  const key = await subtle.importKey("raw", ikm, "HKDF", false, ["deriveBits"]);
  const bits = await subtle.deriveBits({ name: "HKDF", hash, salt: EMPTY, info }, key, 8 * length);
  return new Uint8Array(bits);
}

/** `sframe_secret = HKDF-Extract("", base_key)` (HMAC with an all-zero salt of Nh bytes). */
export async function deriveSecret(cipherSuite, baseKey) {
  const p = suiteParams(cipherSuite);
  checkBaseKey(baseKey);
  const key = await subtle.importKey("raw", new Uint8Array(p.nh), { name: "HMAC", hash: p.hash }, false, ["sign"]);
  return new Uint8Array(await subtle.sign("HMAC", key, toBytes(baseKey)));
}

function labels(suite, kid) {
  const tail = concat(uintBytes(kid, 8), uintBytes(suite, 2));
  return [concat(KEY_LABEL, tail), concat(SALT_LABEL, tail)];
}

/** `{key, salt}` for one KID: labels bind the KID and the suite (RFC 9605 §4.4.2). */
export async function deriveKeySalt(cipherSuite, baseKey, kid) {
  const p = suiteParams(cipherSuite);
  const k = u64(kid, "KID");
  checkBaseKey(baseKey);
  const [keyLabel, saltLabel] = labels(p.suite, k);
  const ikm = toBytes(baseKey);
  const key = await hkdf(p.hash, ikm, keyLabel, p.nk);
  const salt = await hkdf(p.hash, ikm, saltLabel, p.nn);
  return { key, salt };
}

/** One forward ratchet step (RFC 9605 §5.1). */
export async function ratchetBaseKey(cipherSuite, baseKey) {
  const p = suiteParams(cipherSuite);
  checkBaseKey(baseKey);
  return hkdf(p.hash, toBytes(baseKey), RATCHET_LABEL, p.nh);
}

// --- AEADs (RFC 9605 §4.5) ---------------------------------------------------------------------

class AeadFailure extends Error {}

/** AES-GCM with a 128-bit tag (suites 4 and 5). */
async function gcmAead(key) {
  const k = await subtle.importKey("raw", key, "AES-GCM", false, ["encrypt", "decrypt"]);
  return {
    async encrypt(nonce, pt, aad) {
      return new Uint8Array(await subtle.encrypt({ name: "AES-GCM", iv: nonce, additionalData: aad, tagLength: 128 }, k, pt));
    },
    async decrypt(nonce, ct, aad) {
      try {
        return new Uint8Array(await subtle.decrypt({ name: "AES-GCM", iv: nonce, additionalData: aad, tagLength: 128 }, k, ct));
      } catch {
        throw new AeadFailure();
      }
    },
  };
}

/**
 * AES-CTR + HMAC-SHA256 with a truncated tag, as RFC 9605 §4.5.1 composes it: key =
 * enc_key(Nka) || auth_key; counter block = nonce || 0x00000000 (the whole 128-bit block counts,
 * like Python's CTR mode); tag = HMAC(auth_key, len(aad)(8) || len(ct)(8) || Nt(8) || nonce ||
 * aad || ct)[:Nt], compared in constant time.
 */
async function ctrHmacAead(key, nt, nka) {
  if (key.length !== nka + 32) throw new InvalidKey(`CTR+HMAC key must be ${nka + 32} bytes`);
  const enc = await subtle.importKey("raw", key.subarray(0, nka), "AES-CTR", false, ["encrypt", "decrypt"]);
  const mac = await subtle.importKey("raw", key.subarray(nka), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const ntBytes = uintBytes(nt, 8);
  const tag = async (nonce, aad, ct) => {
    const msg = concat(uintBytes(aad.length, 8), uintBytes(ct.length, 8), ntBytes, nonce, aad, ct);
    return new Uint8Array(await subtle.sign("HMAC", mac, msg)).subarray(0, nt);
  };
  const ctr = async (nonce, data) =>
    new Uint8Array(await subtle.encrypt({ name: "AES-CTR", counter: concat(nonce, new Uint8Array(4)), length: 128 }, enc, data));
  return {
    async encrypt(nonce, pt, aad) {
      const ct = await ctr(nonce, pt);
      return concat(ct, await tag(nonce, aad, ct));
    },
    async decrypt(nonce, blob, aad) {
      if (blob.length < nt) throw new AeadFailure();
      const ct = blob.subarray(0, blob.length - nt);
      if (!equalBytes(await tag(nonce, aad, ct), blob.subarray(blob.length - nt))) throw new AeadFailure();
      return ctr(nonce, ct);
    },
  };
}

function makeAead(p, key) {
  return p.gcm ? gcmAead(key) : ctrHmacAead(key, p.nt, p.nka);
}

/** The raw AEAD of a suite, for the RFC's AES-CTR+HMAC vectors. */
export async function suiteAead(cipherSuite, key) {
  const p = suiteParams(cipherSuite);
  const aead = await makeAead(p, toBytes(key));
  return {
    encrypt: (nonce, pt, aad) => aead.encrypt(toBytes(nonce), toBytes(pt), toBytes(aad)),
    async decrypt(nonce, ct, aad) {
      try {
        return await aead.decrypt(toBytes(nonce), toBytes(ct), toBytes(aad));
      } catch (e) {
        if (e instanceof AeadFailure) throw new AuthenticationFailed("authentication failed");
        throw e;
      }
    },
  };
}

function nonceFor(salt, ctr) {
  return uintBytes(salt ^ ctr, 12);
}

// --- functional layer ------------------------------------------------------------------------

/** Encrypt one frame: header || AEAD(key, salt XOR ctr, header || metadata, pt). Stateless. */
export async function encrypt(cipherSuite, baseKey, kid, ctr, metadata, plaintext) {
  const p = suiteParams(cipherSuite);
  const { key, salt } = await deriveKeySalt(cipherSuite, baseKey, kid);
  const header = encodeHeader(kid, ctr);
  const aead = await makeAead(p, key);
  const ct = await aead.encrypt(nonceFor(bytesToBigInt(salt), BigInt(ctr)), toBytes(plaintext), concat(header, toBytes(metadata)));
  return concat(header, ct);
}

/** Decrypt one frame with `baseKey`: `{kid, ctr, plaintext}`. Stateless (no replay check). */
export async function decrypt(cipherSuite, baseKey, metadata, frame) {
  const p = suiteParams(cipherSuite);
  const data = toBytes(frame);
  const { kid, ctr, length } = decodeHeader(data);
  if (data.length < length + p.nt) throw new MalformedFrame("SFrame frame shorter than its authentication tag");
  const { key, salt } = await deriveKeySalt(cipherSuite, baseKey, kid);
  const aead = await makeAead(p, key);
  try {
    const plaintext = await aead.decrypt(nonceFor(bytesToBigInt(salt), ctr), data.subarray(length), concat(data.subarray(0, length), toBytes(metadata)));
    return { kid, ctr, plaintext };
  } catch (e) {
    if (e instanceof AeadFailure) throw new AuthenticationFailed("SFrame authentication failed");
    throw e;
  }
}

// --- stateful layer --------------------------------------------------------------------------

async function deriveState(p, baseKey, kid) {
  const [keyLabel, saltLabel] = labels(p.suite, kid);
  const key = await hkdf(p.hash, baseKey, keyLabel, p.nk);
  const salt = await hkdf(p.hash, baseKey, saltLabel, p.nn);
  const aead = await makeAead(p, key);
  wipe(key);
  return { aead, salt: bytesToBigInt(salt) };
}

/**
 * The sending side of one stream: one KID, one base key, a counter that never wraps.
 * `protect` takes the counter synchronously before any await, so concurrent calls (frames
 * overlapping in a worker) never share a nonce. Past `maxCounter` it refuses with
 * CounterExhausted: the owner must rekey.
 */
export class SFrameSender {
  #params;
  #kid;
  #ctr;
  #limit;
  #baseKey;
  #aead;
  #salt;
  #closed = false;

  constructor(token, params, kid, baseKey, ctr, limit, state) {
    if (token !== CREATE) throw new TypeError("use await SFrameSender.create(...)");
    this.#params = params;
    this.#kid = kid;
    this.#baseKey = baseKey;
    this.#ctr = ctr;
    this.#limit = limit;
    this.#aead = state.aead;
    this.#salt = state.salt;
  }

  static async create(cipherSuite, kid, baseKey, { initialCounter = 0n, maxCounter = MAX_COUNTER } = {}) {
    const p = suiteParams(cipherSuite);
    const k = u64(kid, "KID");
    const limit = u64(maxCounter, "max_counter");
    const ctr = BigInt(initialCounter);
    if (ctr < 0n || ctr > limit + 1n) throw new RangeError("initial_counter out of range");
    checkBaseKey(baseKey);
    const base = new Uint8Array(toBytes(baseKey));
    const state = await deriveState(p, base, k);
    return new SFrameSender(CREATE, p, k, base, ctr, limit, state);
  }

  get kid() {
    return this.#kid;
  }

  get cipherSuite() {
    return this.#params.suite;
  }

  /** The CTR the next frame will carry. */
  get counter() {
    return this.#ctr;
  }

  get remaining() {
    if (this.#closed) return 0n;
    const r = this.#limit - this.#ctr + 1n;
    return r > 0n ? r : 0n;
  }

  /** Encrypt one frame; `metadata` is authenticated but not sent (RFC 9605 §4.4.3). */
  async protect(plaintext, metadata = EMPTY) {
    if (this.#closed) throw new UnknownKey(this.#kid);
    const ctr = this.#ctr;
    if (ctr > this.#limit) throw new CounterExhausted(`SFrame counter exhausted for KID ${this.#kid}`);
    this.#ctr = ctr + 1n;
    const header = encodeHeader(this.#kid, ctr);
    const md = toBytes(metadata);
    const ct = await this.#aead.encrypt(nonceFor(this.#salt, ctr), toBytes(plaintext), md.length ? concat(header, md) : header);
    return concat(header, ct);
  }

  /** Retire the key: wipe the base key we hold and refuse further frames. */
  close() {
    wipe(this.#baseKey);
    this.#closed = true;
    this.#aead = null;
  }
}

const CREATE = Symbol("create");

/**
 * The receiving side: keys by KID in a bounded store (oldest installed evicted first), a
 * per-KID replay window (reordering within the window accepted; duplicates and too-old frames
 * refused), updated only after a frame authenticates so forgeries cannot poison it.
 */
export class SFrameReceiver {
  #params;
  #window;
  #ringMask;
  #ringSize;
  #maxKeys;
  #keys = new Map(); // kid (BigInt) -> state

  constructor(cipherSuite, { replayWindow = DEFAULT_REPLAY_WINDOW, maxKeys = DEFAULT_MAX_KEYS } = {}) {
    this.#params = suiteParams(cipherSuite);
    if (!Number.isInteger(replayWindow) || replayWindow < 1 || replayWindow > 1 << 16) {
      throw new RangeError("replay_window must be 1..65536");
    }
    if (!Number.isInteger(maxKeys) || maxKeys < 1) throw new RangeError("max_keys must be at least 1");
    this.#window = BigInt(replayWindow);
    let size = 1;
    while (size < replayWindow) size <<= 1;
    this.#ringSize = size;
    this.#ringMask = BigInt(size - 1);
    this.#maxKeys = maxKeys;
  }

  get cipherSuite() {
    return this.#params.suite;
  }

  get replayWindow() {
    return Number(this.#window);
  }

  get size() {
    return this.#keys.size;
  }

  kids() {
    return [...this.#keys.keys()];
  }

  has(kid) {
    return this.#keys.has(BigInt(kid));
  }

  /**
   * Install (or replace) the key for `kid`. The same key again is a no-op that keeps its
   * replay window (a retransmitted bundle must not make accepted frames replayable).
   */
  async addKey(kid, baseKey) {
    const k = u64(kid, "KID");
    checkBaseKey(baseKey);
    const base = new Uint8Array(toBytes(baseKey));
    const existing = this.#keys.get(k);
    if (existing && equalBytes(existing.baseKey, base)) return;
    const { aead, salt } = await deriveState(this.#params, base, k);
    const again = this.#keys.get(k);
    if (again && again !== existing && equalBytes(again.baseKey, base)) return; // raced
    if (this.#keys.has(k)) this.removeKey(k);
    while (this.#keys.size >= this.#maxKeys) this.removeKey(this.#keys.keys().next().value);
    this.#keys.set(k, { kid: k, aead, salt, baseKey: base, top: -1n, ring: new Array(this.#ringSize).fill(-1n) });
  }

  /** Retire one KID (its base key is wiped); returns whether it was present. */
  removeKey(kid) {
    const k = BigInt(kid);
    const state = this.#keys.get(k);
    if (!state) return false;
    this.#keys.delete(k);
    wipe(state.baseKey);
    state.aead = null;
    return true;
  }

  removeWhere(predicate) {
    const victims = [...this.#keys.keys()].filter((k) => predicate(k));
    for (const k of victims) this.removeKey(k);
    return victims.length;
  }

  clear() {
    for (const k of [...this.#keys.keys()]) this.removeKey(k);
  }

  #isReplay(state, ctr) {
    const top = state.top;
    if (ctr > top) return null;
    if (top - ctr >= this.#window) return new ReplayDetected(state.kid, ctr, { tooOld: true });
    if (state.ring[Number(ctr & this.#ringMask)] === ctr) return new ReplayDetected(state.kid, ctr);
    return null;
  }

  /** Authenticate and decrypt: `{kid, ctr, plaintext}`; refuses forged/truncated/replayed. */
  async unprotectFrame(frame, metadata = EMPTY) {
    const data = toBytes(frame);
    const { kid, ctr, length } = decodeHeader(data);
    if (data.length < length + this.#params.nt) {
      throw new MalformedFrame("SFrame frame shorter than its authentication tag");
    }
    const state = this.#keys.get(kid);
    if (!state) throw new UnknownKey(kid);
    const early = this.#isReplay(state, ctr);
    if (early) throw early;
    const header = data.subarray(0, length);
    const md = toBytes(metadata);
    let plaintext;
    try {
      plaintext = await state.aead.decrypt(nonceFor(state.salt, ctr), data.subarray(length), md.length ? concat(header, md) : header);
    } catch (e) {
      if (e instanceof AeadFailure) throw new AuthenticationFailed(`SFrame authentication failed, KID ${kid}`);
      throw e;
    }
    if (state.aead === null) throw new UnknownKey(kid); // retired while we were decrypting
    // Another copy of this frame may have authenticated while we awaited: check again.
    const late = this.#isReplay(state, ctr);
    if (late) throw late;
    state.ring[Number(ctr & this.#ringMask)] = ctr;
    if (ctr > state.top) state.top = ctr;
    return { kid, ctr, plaintext };
  }

  async unprotect(frame, metadata = EMPTY) {
    return (await this.unprotectFrame(frame, metadata)).plaintext;
  }
}
