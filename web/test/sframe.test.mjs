// Fast node checks of the SFrame port on every RFC 9605 vector (read at test time).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as sf from "../src/crypto/sframe.js";
import { fromHex, toHex } from "../src/crypto/bytes.js";
import { MalformedHeader } from "../src/crypto/errors.js";

const dir = process.env.VOXSEAL_VECTORS_DIR || new URL("../../tests/vectors/", import.meta.url).pathname;
// u64 KIDs/CTRs exceed 2**53: read every integer field as a string, then BigInt.
const V = JSON.parse(readFileSync(`${dir}/sframe-rfc9605.json`, "utf8").replace(/("(?:kid|ctr)"\s*:\s*)(\d+)/g, '$1"$2"'));

test("header vectors", () => {
  assert.ok(V.header.length > 100);
  for (const v of V.header) {
    const enc = fromHex(v.encoded);
    assert.equal(toHex(sf.encodeHeader(BigInt(v.kid), BigInt(v.ctr))), v.encoded);
    const d = sf.decodeHeader(enc);
    assert.equal(d.kid, BigInt(v.kid));
    assert.equal(d.ctr, BigInt(v.ctr));
    assert.equal(d.length, enc.length);
    for (let cut = 0; cut < enc.length; cut++) {
      if (cut === 0 || enc[0] & 0x88) assert.throws(() => sf.decodeHeader(enc.subarray(0, cut)), MalformedHeader);
    }
  }
});

test("aes ctr hmac vectors", async () => {
  for (const v of V.aes_ctr_hmac) {
    const aead = await sf.suiteAead(v.cipher_suite, fromHex(v.key));
    const ct = await aead.encrypt(fromHex(v.nonce), fromHex(v.pt), fromHex(v.aad));
    assert.equal(toHex(ct), v.ct);
    assert.equal(toHex(await aead.decrypt(fromHex(v.nonce), ct, fromHex(v.aad))), v.pt);
  }
});

test("sframe vectors", async () => {
  for (const v of V.sframe) {
    const base = fromHex(v.base_key);
    assert.equal(toHex(await sf.deriveSecret(v.cipher_suite, base)), v.sframe_secret);
    const { key, salt } = await sf.deriveKeySalt(v.cipher_suite, base, BigInt(v.kid));
    assert.equal(toHex(key), v.sframe_key);
    assert.equal(toHex(salt), v.sframe_salt);
    const ct = await sf.encrypt(v.cipher_suite, base, BigInt(v.kid), BigInt(v.ctr), fromHex(v.metadata), fromHex(v.pt));
    assert.equal(toHex(ct), v.ct);
    const d = await sf.decrypt(v.cipher_suite, base, fromHex(v.metadata), ct);
    assert.equal(toHex(d.plaintext), v.pt);
    const s = await sf.SFrameSender.create(v.cipher_suite, BigInt(v.kid), base, { initialCounter: BigInt(v.ctr) });
    assert.equal(toHex(await s.protect(fromHex(v.pt), fromHex(v.metadata))), v.ct);
    const r = new sf.SFrameReceiver(v.cipher_suite);
    await r.addKey(BigInt(v.kid), base);
    assert.equal(toHex(await r.unprotect(fromHex(v.ct), fromHex(v.metadata))), v.pt);
    await assert.rejects(r.unprotect(fromHex(v.ct), fromHex(v.metadata)), { reason: "sframe_replay" });
  }
});
