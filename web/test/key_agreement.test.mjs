// Fast node checks of the page-side key agreement (two JS parties through a fake gateway) and of
// the refusals a hostile gateway or peer can trigger. The Python<->browser checks live in
// tests/web/test_e2ee_interop.py; these run in node's WebCrypto in well under a second.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as E from "../src/crypto/index.js";

const ROOM = "room-node";
const enc = new TextEncoder();

function participant(id, index, name, identity) {
  return { id, index, identity: name, ...{ did: identity.did, identity_doc: E.b64encode(identity.public.encode()) } };
}

async function pair({ aOpts = {}, bOpts = {} } = {}) {
  const ia = await E.Identity.generate();
  const ib = await E.Identity.generate({ postQuantumSignatures: true });
  const pa = participant("pa", 1, "alice", ia);
  const pb = participant("pb", 2, "bob", ib);
  const a = new E.KeyAgreement({ identity: ia, room: ROOM, ...aOpts });
  const b = new E.KeyAgreement({ identity: ib, room: ROOM, ...bOpts });
  const now = 1_000_000;
  assert.deepEqual((await a.joined(pa, [], { now })).map((m) => m.type), ["key_epoch"]);
  const fromB = await b.joined(pb, [pa], { now });
  const fromA = await a.participantJoined(pb, { now });
  for (const m of fromB.filter((m) => m.type === "e2ee")) await a.received("pb", m.payload, { now });
  for (const m of fromA.filter((m) => m.type === "e2ee")) await b.received("pa", m.payload, { now });
  return { a, b, ia, ib, pa, pb, now, fromA, fromB };
}

test("two browser sessions key each other and agree on the safety number", async () => {
  const { a, b } = await pair();
  assert.ok(a.readyWith("pb") && b.readyWith("pa"));
  assert.equal(a.state().reason, "keyed");
  assert.equal(a.safetyNumber("pb").digits, b.safetyNumber("pa").digits);
  const f = await a.protect(enc.encode("hello"));
  const r = await b.unprotect(f);
  assert.equal(r.pid, "pa");
  assert.equal(new TextDecoder().decode(r.plaintext), "hello");
  const [msg] = await b.sendData({ x: 1 }, "pa");
  assert.deepEqual(await a.openData(msg.payload), { pid: "pb", data: { x: 1 } });
  // data and audio cannot be swapped: metadata is authenticated
  await assert.rejects(a.unprotect(E.b64decode((await b.sendData({ y: 2 }))[0].payload)), { reason: "sframe_auth_failed" });
});

test("a key for another sender's KID, a reused index or identity are refused", async () => {
  const { a, b, ia, ib, pa, now } = await pair();
  // bob seals a key whose KID carries alice's index 1: alice refuses it
  const forged = await E.sealBundle(ib, ia.public, { roomId: ROOM, epoch: 5, kid: (5n << 16n) | 1n, cipherSuite: 4, baseKey: new Uint8Array(32), expiresAt: now + 60 });
  await assert.rejects(a.received("pb", E.b64encode(forged), { now }), (e) => e.reason === "e2ee_failed" && e.refusal === "bundle_kid_conflict");
  // ... without a trace: bob's own key for that epoch is still accepted afterwards
  const right = await E.sealBundle(ib, ia.public, { roomId: ROOM, epoch: 5, kid: (5n << 16n) | 2n, cipherSuite: 4, baseKey: new Uint8Array(32).fill(9), expiresAt: now + 60 });
  await a.received("pb", E.b64encode(right), { now });
  // the gateway announces a second participant with bob's index, then one with our own key
  const ic = await E.Identity.generate();
  await assert.rejects(a.participantJoined(participant("pc", 2, "carol", ic), { now }), { reason: "e2ee_failed" });
  await assert.rejects(a.participantJoined(participant("pd", 9, "mallory", ia), { now }), { reason: "e2ee_failed" });
  // a document whose did does not match, and a tampered document
  const bad = { ...participant("pe", 7, "eve", ic), did: ia.did };
  await assert.rejects(a.participantJoined(bad, { now }), { reason: "e2ee_failed" });
  const doc = E.b64decode(participant("pf", 8, "f", ic).identity_doc);
  doc[40] ^= 1;
  await assert.rejects(a.participantJoined({ ...participant("pf", 8, "f", ic), identity_doc: E.b64encode(doc) }, { now }), { reason: "e2ee_failed" });
  // handle() turns every refusal into an event instead of throwing
  const ev = await a.handle({ type: "e2ee", from: "pb", payload: "not base64!" }, { now });
  assert.equal(ev.event.type, "e2ee_error");
  assert.equal(ev.event.reason, "malformed");
  assert.equal((await a.handle({ type: "data", from: "pb", payload: 7 }, { now })).event.type, "e2ee_error");
  assert.ok(b.readyWith("pa"));
});

test("same epoch with a different key is refused; leave rekeys and retires at once", async () => {
  const { a, b, ia, ib, now } = await pair();
  const kid = (1n << 16n) | 2n;
  const other = await E.sealBundle(ib, ia.public, { roomId: ROOM, epoch: 1, kid, cipherSuite: 4, baseKey: new Uint8Array(32).fill(3), expiresAt: now + 60 });
  await assert.rejects(a.received("pb", E.b64encode(other), { now }), (e) => e.refusal === "bundle_stale_epoch");
  const updates = [];
  b.onKeyUpdate = (u) => updates.push(u);
  const out = await b.participantLeft("pa", { now });
  assert.deepEqual(out, [{ type: "key_epoch", epoch: 2 }]); // nobody left to send the new key to
  assert.deepEqual(updates, [{ type: "receiver_remove", kids: [(1n << 16n) | 1n] }]);
  await assert.rejects(b.unprotect(await a.protect(new Uint8Array(3))), { reason: "sframe_unknown_key" });
  assert.equal(b.state().reason, "alone");
});

test("senderInWorker: one live sender, WorkerKeys encrypts media and data", async () => {
  const { a, b } = await pair({ aOpts: { senderInWorker: true } });
  const keys = new E.WorkerKeys();
  await keys.apply(structuredClone(a.keySnapshot())); // what postMessage would deliver
  await assert.rejects(a.protect(new Uint8Array(1)), { reason: "e2ee_failed" });
  const frame = await keys.protect(enc.encode("audio"));
  assert.equal((await b.unprotect(frame)).pid, "pa");
  const payload = await keys.sealData({ hi: true });
  assert.deepEqual(await b.openData(payload), { pid: "pa", data: { hi: true } });
  // the worker decrypts bob's frames with the receiver keys the session handed over
  const back = await keys.unprotect(await b.protect(enc.encode("reply")));
  assert.equal(back.pid, "pb");
  await assert.rejects(keys.unprotect(new Uint8Array([0x10])), { reason: "sframe_malformed_frame" });
  assert.equal(keys.stats.rejected, 1);
  // rotation reaches the worker through onKeyUpdate
  const seen = [];
  a.onKeyUpdate = (u) => seen.push(u);
  const out = await a.rotate({ now: 1_000_100 });
  assert.equal(seen[0].type, "sender");
  assert.equal(seen[0].epoch, 2);
  await keys.apply(structuredClone(seen[0]));
  for (const m of out.filter((m) => m.type === "e2ee")) await b.received("pa", m.payload, { now: 1_000_100 });
  assert.equal((await b.unprotect(await keys.protect(new Uint8Array(2)))).pid, "pa");
});

test("timer and frame-limit rekeys", async () => {
  const { a } = await pair({ aOpts: { policy: new E.RekeyPolicy({ interval: 10, maxFrames: 3 }) } });
  for (let i = 0; i < 3; i++) await a.protect(new Uint8Array(1));
  const out = await a.poll({ now: 1_000_001 });
  assert.deepEqual(out.map((m) => m.type), ["e2ee", "key_epoch"]);
  assert.equal(a.epoch, 2);
  assert.deepEqual((await a.poll({ now: 1_000_005 })).length, 0);
  assert.equal((await a.poll({ now: 1_000_011 })).at(-1).epoch, 3);
});
