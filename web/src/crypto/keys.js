// Endpoint identities, a port of voxseal.crypto.keys (+ the X-Wing key of crypto/xwing.py).
//
// An identity is an Ed25519 signing key (named by did:key, multicodec ed25519-pub), optionally
// paired with ML-DSA-65 (a hybrid signature is Ed25519 sig || ML-DSA-65 sig and verifies only
// if both halves do), and an X-Wing KEM key to which SFrame sender keys are sealed. The public
// identity document is byte-identical to Python's and self-signed, so the gateway cannot swap
// the KEM key under a genuine signing key.
//
// Ed25519 is @noble/curves with strict RFC 8032 verification (zip215: false): like OpenSSL under
// Python's `cryptography` it refuses S >= L, and unlike it also small-order and non-canonical
// public keys (never an honest key); ML-DSA-65 is @noble/post-quantum (FIPS 204, empty context, the
// 32-byte seed form Python stores); X-Wing keys come from @hpke/hybridkem-x-wing (seed ->
// SHAKE-256 -> ML-KEM-768 d||z and X25519 scalar, as in the X-Wing draft Python implements).

import { ed25519 } from "@noble/curves/ed25519";
import { sha256 } from "@noble/hashes/sha2";
import { ml_dsa65 } from "@noble/post-quantum/ml-dsa.js";
import { XWing } from "@hpke/hybridkem-x-wing";
import { BadSignature, InvalidKey, MalformedIdentity } from "./errors.js";
import { b64encode, concat, equalBytes, randomBytes, te, toBytes } from "./bytes.js";

export const ED25519_SIGNATURE_SIZE = 64;
export const MLDSA65_SIGNATURE_SIZE = 3309;
export const MLDSA65_PUBLIC_KEY_SIZE = 1952;
export const HYBRID_SIGNATURE_SIZE = ED25519_SIGNATURE_SIZE + MLDSA65_SIGNATURE_SIZE;
export const KEM_PUBLIC_KEY_SIZE = 1184 + 32;
export const KEM_SEED_SIZE = 32;

const ED25519_MULTICODEC = Uint8Array.of(0xed, 0x01);
const DID_PREFIX = "did:key:z";
const SIG_DOMAIN = te.encode("voxseal signature v1\x00");
const IDENTITY_CONTEXT = te.encode("voxseal public identity v1");
const PUBLIC_VERSION = 1;
const SECRET_VERSION = 1;
const FLAG_MLDSA = 0x01;

export const xwing = new XWing();

// --- base58btc (an encoding, not cryptography) -------------------------------------------------

const B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

export function b58encode(data) {
  let zeros = 0;
  while (zeros < data.length && data[zeros] === 0) zeros++;
  let n = 0n;
  for (const b of data) n = (n << 8n) | BigInt(b);
  let out = "";
  while (n > 0n) {
    out = B58[Number(n % 58n)] + out;
    n /= 58n;
  }
  return "1".repeat(zeros) + out;
}

export function b58decode(text) {
  let n = 0n;
  for (const ch of text) {
    const i = B58.indexOf(ch);
    if (i < 0) throw new MalformedIdentity("invalid base58btc character");
    n = n * 58n + BigInt(i);
  }
  let zeros = 0;
  while (zeros < text.length && text[zeros] === "1") zeros++;
  const body = [];
  while (n > 0n) {
    body.unshift(Number(n & 0xffn));
    n >>= 8n;
  }
  return concat(new Uint8Array(zeros), Uint8Array.from(body));
}

export function didFromEd25519(publicKey) {
  if (publicKey.length !== 32) throw new InvalidKey("Ed25519 public key must be 32 bytes");
  return DID_PREFIX + b58encode(concat(ED25519_MULTICODEC, publicKey));
}

/** The raw Ed25519 key a did:key names; strict (method, multibase, codec, length, canonical). */
export function ed25519FromDid(did) {
  if (typeof did !== "string" || !did.startsWith(DID_PREFIX) || did.length > 128) {
    throw new MalformedIdentity("not a base58btc did:key");
  }
  const raw = b58decode(did.slice(DID_PREFIX.length));
  if (raw.length !== 34 || raw[0] !== 0xed || raw[1] !== 0x01) {
    throw new MalformedIdentity("did:key is not an ed25519-pub key");
  }
  const key = raw.subarray(2);
  if (didFromEd25519(key) !== did) throw new MalformedIdentity("did:key is not canonical");
  return key;
}

function signedMessage(context, message) {
  const ctx = typeof context === "string" ? te.encode(context) : toBytes(context);
  if (ctx.length > 255) throw new RangeError("signature context too long");
  return concat(SIG_DOMAIN, Uint8Array.of(ctx.length), ctx, toBytes(message));
}

/** FIPS 203 encapsulation-key check on the ML-KEM-768 half: every coefficient < q. */
function checkKemPublic(pk) {
  if (pk.length !== KEM_PUBLIC_KEY_SIZE) {
    throw new MalformedIdentity(`X-Wing public key must be ${KEM_PUBLIC_KEY_SIZE} bytes`);
  }
  for (let i = 0; i < 1152; i += 3) {
    const d1 = pk[i] | ((pk[i + 1] & 0x0f) << 8);
    const d2 = (pk[i + 1] >> 4) | (pk[i + 2] << 4);
    if (d1 >= 3329 || d2 >= 3329) throw new MalformedIdentity("invalid X-Wing public key");
  }
}

// --- public identity -------------------------------------------------------------------------

/**
 * A participant's public keys. Wire form: version(1) flags(1) ed25519(32) xwing(1216) [mldsa65(1952)]
 * then the self-signature over those bytes; `decode` refuses a document that does not verify.
 */
export class PublicIdentity {
  #body;
  #sig;
  #ed;
  #kem;
  #mldsa;
  #did;

  constructor(ed25519Public, kemPublic, mldsaPublic = null, selfSignature = new Uint8Array(0)) {
    const ed = toBytes(ed25519Public);
    if (ed.length !== 32) throw new MalformedIdentity("invalid public signing key");
    if (mldsaPublic !== null && toBytes(mldsaPublic).length !== MLDSA65_PUBLIC_KEY_SIZE) {
      throw new MalformedIdentity("invalid public signing key");
    }
    checkKemPublic(toBytes(kemPublic));
    this.#ed = new Uint8Array(ed);
    this.#kem = new Uint8Array(toBytes(kemPublic));
    this.#mldsa = mldsaPublic === null ? null : new Uint8Array(toBytes(mldsaPublic));
    this.#did = didFromEd25519(this.#ed);
    const flags = this.#mldsa ? FLAG_MLDSA : 0;
    this.#body = concat(Uint8Array.of(PUBLIC_VERSION, flags), this.#ed, this.#kem, this.#mldsa ?? new Uint8Array(0));
    this.#sig = new Uint8Array(toBytes(selfSignature));
  }

  get did() {
    return this.#did;
  }

  get hybrid() {
    return this.#mldsa !== null;
  }

  get signatureSize() {
    return this.hybrid ? HYBRID_SIGNATURE_SIZE : ED25519_SIGNATURE_SIZE;
  }

  get ed25519PublicBytes() {
    return this.#ed;
  }

  get mldsa65PublicBytes() {
    return this.#mldsa;
  }

  get kemPublicBytes() {
    return this.#kem;
  }

  /** The canonical public keys (what the self-signature covers). */
  get body() {
    return this.#body;
  }

  /** SHA-256 of the canonical public keys (what safety numbers are built from). */
  fingerprint() {
    return sha256(this.#body);
  }

  /** Throws BadSignature unless every half of `signature` verifies. */
  verify(signature, message, { context }) {
    const sig = toBytes(signature);
    if (sig.length !== this.signatureSize) throw new BadSignature(`signature by ${this.#did} has the wrong length`);
    const signed = signedMessage(context, message);
    let ok;
    try {
      ok = ed25519.verify(sig.subarray(0, ED25519_SIGNATURE_SIZE), signed, this.#ed, { zip215: false });
    } catch {
      ok = false;
    }
    if (this.#mldsa) {
      let pq;
      try {
        pq = ml_dsa65.verify(sig.subarray(ED25519_SIGNATURE_SIZE), signed, this.#mldsa);
      } catch {
        pq = false;
      }
      ok = ok && pq;
    }
    if (!ok) throw new BadSignature(`signature by ${this.#did} does not verify`);
  }

  encode() {
    if (!this.#sig.length) throw new Error("public identity has no self-signature");
    return concat(this.#body, this.#sig);
  }

  /** Parse and check a public identity document (strict lengths, self-signature). */
  static decode(data) {
    const d = toBytes(data);
    if (d.length < 2) throw new MalformedIdentity("truncated public identity");
    const [version, flags] = d;
    if (version !== PUBLIC_VERSION) throw new MalformedIdentity(`unsupported public identity version ${version}`);
    if (flags & ~FLAG_MLDSA) throw new MalformedIdentity("unknown public identity flags");
    const hybrid = Boolean(flags & FLAG_MLDSA);
    const bodyLen = 2 + 32 + KEM_PUBLIC_KEY_SIZE + (hybrid ? MLDSA65_PUBLIC_KEY_SIZE : 0);
    const sigLen = hybrid ? HYBRID_SIGNATURE_SIZE : ED25519_SIGNATURE_SIZE;
    if (d.length !== bodyLen + sigLen) throw new MalformedIdentity("public identity has the wrong length");
    const ident = new PublicIdentity(
      d.subarray(2, 34),
      d.subarray(34, 34 + KEM_PUBLIC_KEY_SIZE),
      hybrid ? d.subarray(34 + KEM_PUBLIC_KEY_SIZE, bodyLen) : null,
      d.subarray(bodyLen),
    );
    ident.verify(d.subarray(bodyLen), ident.body, { context: IDENTITY_CONTEXT });
    return ident;
  }

  equals(other) {
    return other instanceof PublicIdentity && equalBytes(other.body, this.#body);
  }

  toString() {
    return `PublicIdentity(${this.#did}, ${this.hybrid ? "ed25519+ml-dsa-65" : "ed25519"})`;
  }
}

// --- private identity ------------------------------------------------------------------------

const CREATE = Symbol("create");

/** An endpoint's own keys. Create with `await Identity.generate()` or `Identity.fromSecret`. */
export class Identity {
  #edSeed;
  #kemSeed;
  #kemPrivate;
  #mldsaSeed;
  #mldsaSecret;
  #public;

  constructor(token, edSeed, kemSeed, kemPrivate, kemPublic, mldsaSeed) {
    if (token !== CREATE) throw new TypeError("use await Identity.generate() or Identity.fromSecret()");
    this.#edSeed = edSeed;
    this.#kemSeed = kemSeed;
    this.#kemPrivate = kemPrivate;
    this.#mldsaSeed = mldsaSeed;
    let mldsaPublic = null;
    if (mldsaSeed) {
      const kp = ml_dsa65.keygen(mldsaSeed);
      this.#mldsaSecret = kp.secretKey;
      mldsaPublic = kp.publicKey;
    }
    const unsigned = new PublicIdentity(ed25519.getPublicKey(edSeed), kemPublic, mldsaPublic);
    const sig = this.sign(unsigned.body, { context: IDENTITY_CONTEXT });
    this.#public = new PublicIdentity(unsigned.ed25519PublicBytes, kemPublic, mldsaPublic, sig);
  }

  static async #create(edSeed, kemSeed, mldsaSeed) {
    const kp = await xwing.generateKeyPairDerand(kemSeed);
    const kemPublic = new Uint8Array(await xwing.serializePublicKey(kp.publicKey));
    return new Identity(CREATE, edSeed, kemSeed, kp.privateKey, kemPublic, mldsaSeed);
  }

  /** A fresh identity; `postQuantumSignatures` pairs an ML-DSA-65 key with Ed25519. */
  static async generate({ postQuantumSignatures = false } = {}) {
    return Identity.#create(randomBytes(32), randomBytes(32), postQuantumSignatures ? randomBytes(32) : null);
  }

  /** Inverse of exportSecret (same encoding as Python's Identity.export_secret). */
  static async fromSecret(data) {
    const d = toBytes(data);
    if (d.length < 2 || d[0] !== SECRET_VERSION || d[1] & ~FLAG_MLDSA) {
      throw new MalformedIdentity("unsupported secret identity encoding");
    }
    const hybrid = Boolean(d[1] & FLAG_MLDSA);
    if (d.length !== 2 + 32 + 32 + (hybrid ? 32 : 0)) throw new MalformedIdentity("secret identity has the wrong length");
    return Identity.#create(d.slice(2, 34), d.slice(34, 66), hybrid ? d.slice(66, 98) : null);
  }

  get did() {
    return this.#public.did;
  }

  get public() {
    return this.#public;
  }

  get hybrid() {
    return this.#mldsaSeed !== null;
  }

  /** Sign for a purpose named by `context` (Ed25519, then ML-DSA-65 if paired). */
  sign(message, { context }) {
    const signed = signedMessage(context, message);
    const sig = ed25519.sign(signed, this.#edSeed);
    return this.#mldsaSeed ? concat(sig, ml_dsa65.sign(signed, this.#mldsaSecret)) : sig;
  }

  /** The X-Wing private key (an @hpke CryptoKey) sealed sender keys are opened with. */
  kemPrivateKey() {
    return this.#kemPrivate;
  }

  /** `version flags ed25519-seed(32) xwing-seed(32) [ml-dsa-65 seed(32)]` — SECRET. */
  exportSecret() {
    const flags = this.#mldsaSeed ? FLAG_MLDSA : 0;
    return concat(Uint8Array.of(SECRET_VERSION, flags), this.#edSeed, this.#kemSeed, this.#mldsaSeed ?? new Uint8Array(0));
  }

  /** What the `join` message carries as `identity_key`: `{did, doc}` (doc = base64). */
  joinKey() {
    return { did: this.did, doc: b64encode(this.#public.encode()) };
  }

  toString() {
    return `Identity(${this.did}, hybrid=${this.hybrid})`;
  }

  toJSON() {
    return { did: this.did, hybrid: this.hybrid };
  }
}
