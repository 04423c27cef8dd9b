// The end-to-end key agreement of one participant in one room, sans-I/O: a port of
// voxseal.sdk.key_agreement.KeyAgreement exchanging exactly the same messages with the gateway.
//
// Signaling events go in (joined, participant_joined/left, an opaque `e2ee` payload from a
// participant), out come the messages to send ({type:"e2ee", to, payload} sealed sender-key bundles,
// {type:"key_epoch", epoch}). No WebSocket inside: the call page drives it. Event methods run
// one at a time (an internal queue), because each awaits WebCrypto and two interleaved rekeys
// must not mix their state. Key changes are reported as postMessage-able plain objects through
// `onKeyUpdate`, so an RTCRtpScriptTransform worker (worker_keys.js) can hold its own copies.

import { sealBundle, SenderKeyInbox } from "./bundle.js";
import { DATA_METADATA } from "./constants.js";
import { CryptoError, E2EEError } from "./errors.js";
import { PublicIdentity } from "./keys.js";
import { KidLayout, ParticipantKeyRing, RekeyPolicy, SenderKeySchedule } from "./rekey.js";
import { keyTranscript, safetyNumber } from "./sas.js";
import { SFrameReceiver, decodeHeader } from "./sframe.js";
import { b64decode, b64encode, td, te, toBytes } from "./bytes.js";
import { MessageType } from "../protocol.js";

/** How long a sealed sender key may wait in transit before the recipient refuses it. */
export const BUNDLE_LIFETIME = 300;
export const DEFAULT_SUITE = 4; // AES_128_GCM_SHA256_128, as the Python SDK
export { DATA_METADATA };

/** A participant announced by the gateway: check its self-signed identity and its did. */
export function decodeIdentity(participant) {
  let pub;
  try {
    pub = PublicIdentity.decode(b64decode(participant.identity_doc));
  } catch (e) {
    throw new E2EEError(`participant ${JSON.stringify(participant?.identity)} announced an unusable identity key`, { cause: e });
  }
  if (pub.did !== participant.did) {
    throw new E2EEError(`participant ${JSON.stringify(participant.identity)}: did does not match its key`);
  }
  return pub;
}

function reasonOf(e) {
  return e instanceof CryptoError ? e.reason : "malformed";
}

export class KeyAgreement {
  /**
   * `senderInWorker`: our sender key is handed to a worker (onKeyUpdate {type:"sender"}) and
   * *only* the worker encrypts (media and data, WorkerKeys.sealData); the session's protect()
   * then refuses. Two independent counters under one key would reuse AES-GCM nonces, so the
   * sender key is never live in two places. Without it (default) nothing sender-side leaves
   * the session and protect()/sealData() work here, as in the Python SDK.
   */
  constructor({ identity, room, cipherSuite = DEFAULT_SUITE, policy = new RekeyPolicy(), layout = new KidLayout(), senderInWorker = false }) {
    this.senderInWorker = senderInWorker;
    this.identity = identity;
    this.room = room;
    this.cipherSuite = cipherSuite;
    this.policy = policy;
    this.layout = layout;
    this.me = null;
    this.participants = new Map(); // participant id -> what we know of its keys
    this.receiver = new SFrameReceiver(cipherSuite);
    this.ring = new ParticipantKeyRing(this.receiver);
    this.inbox = new SenderKeyInbox(identity, room);
    this.schedule = null;
    this.failures = [];
    this.error = null; // set when E2EE could not be set up at all
    this._announced = 0;
    this._queue = Promise.resolve();
    this._senderKey = null; // {type:"sender", ...} for keySnapshot
    this._keysOfOthers = new Map(); // kid -> {type:"receiver_add", ...}
    /** Called with {type:"sender"|"receiver_add"|"receiver_remove", ...} (plain objects). */
    this.onKeyUpdate = null;
  }

  #serial(fn) {
    const run = this._queue.then(fn);
    this._queue = run.catch(() => {});
    return run;
  }

  #emit(update) {
    if (this.onKeyUpdate) this.onKeyUpdate(update);
  }

  #fail(reason) {
    this.failures.push(reason);
    if (this.failures.length > 100) this.failures.shift();
  }

  // -- state ------------------------------------------------------------------------------

  get epoch() {
    return this.schedule ? this.schedule.epoch : 0;
  }

  /** Both directions keyed with `pid`: our key sent, theirs installed. */
  readyWith(pid) {
    const other = this.participants.get(pid);
    return Boolean(other && other.firstSent && this.ring.kidsOf(other.identity.did).length);
  }

  /** For the UI: whether media is end-to-end encrypted, why (not), epochs, participants. */
  state() {
    const participants = {};
    let allKeyed = true;
    for (const p of this.participants.values()) {
      const keyed = this.readyWith(p.id);
      allKeyed &&= keyed;
      participants[p.name] = { id: p.id, keyed, their_epoch: p.keyEpoch, frames_in: p.framesIn };
    }
    let reason;
    if (this.error) reason = "failed";
    else if (!this.schedule) reason = "not_joined";
    else if (!this.participants.size) reason = "alone";
    else reason = allKeyed ? "keyed" : "waiting_for_keys";
    return {
      enabled: Boolean(this.schedule) && !this.error,
      reason,
      detail: this.error,
      cipher_suite: this.cipherSuite,
      epoch: this.epoch,
      participants,
      failures: this.failures.slice(-10),
    };
  }

  /** The safety number with `pid` (same digits and emoji as the Python side computes). */
  safetyNumber(pid) {
    const other = this.participants.get(pid);
    if (!other || !other.firstSent || !other.firstReceived) throw new E2EEError("no keys exchanged with this participant yet");
    const transcript = keyTranscript(this.room, [other.firstSent, other.firstReceived]);
    return safetyNumber(this.identity.public, other.identity, transcript);
  }

  /** Updates that recreate the current keys in a freshly started worker. */
  keySnapshot() {
    const out = [];
    if (this._senderKey && this.senderInWorker) out.push({ ...this._senderKey, baseKey: new Uint8Array(this._senderKey.baseKey) });
    for (const u of this._keysOfOthers.values()) out.push({ ...u, baseKey: new Uint8Array(u.baseKey) });
    return out;
  }

  // -- signaling events (each returns the messages to send) -------------------------------

  joined(me, others, { now }) {
    return this.#serial(async () => {
      try {
        this.me = me.id;
        for (const p of others) this.#addParticipant(p);
        this.schedule = await SenderKeySchedule.create(this.policy, {
          cipherSuite: this.cipherSuite,
          senderIndex: Number(me.index),
          now,
          participants: [...this.participants.values()].map((p) => p.identity.did),
          layout: this.layout,
        });
      } catch (e) {
        this.error = e instanceof Error ? e.message : String(e);
        throw e instanceof E2EEError ? e : new E2EEError(`end-to-end encryption could not start: ${this.error}`, { cause: e });
      }
      return this.#distribute(this.schedule.initialDistribution(), now);
    });
  }

  participantJoined(p, { now }) {
    return this.#serial(async () => {
      const other = this.#addParticipant(p);
      if (!this.schedule) throw new E2EEError("not joined");
      return this.#distribute(await this.schedule.participantJoined(other.identity.did, { now }), now);
    });
  }

  /** The leaver's keys go at once; a new epoch goes to those who remain. */
  participantLeft(pid, { now }) {
    return this.#serial(async () => {
      const other = this.participants.get(pid);
      if (!other || !this.schedule) return [];
      this.participants.delete(pid);
      const kids = this.ring.participantLeft(other.identity.did);
      this.inbox.forget(other.identity.did); // it may rejoin with the same identity at epoch 1
      this.#retired(kids);
      const dist = await this.schedule.participantLeft(other.identity.did, { now });
      return dist ? this.#distribute(dist, now) : [];
    });
  }

  /** An opaque `e2ee` payload from `sender` (participant id): a sealed sender key for us. */
  received(sender, payload, { now }) {
    return this.#serial(async () => {
      const other = this.participants.get(sender);
      if (!other) throw new E2EEError("sealed key from a participant we do not know");
      let bundle;
      let key;
      try {
        bundle = b64decode(payload);
        key = await this.inbox.open(bundle, other.identity, {
          now,
          kidAllowed: (kid) => this.layout.indexOf(kid) === other.index,
        });
        await this.ring.install(key, { now });
      } catch (e) {
        this.#fail(reasonOf(e));
        const err = new E2EEError(`sealed key from ${JSON.stringify(other.name)} refused: ${e.message}`, { cause: e });
        err.refusal = reasonOf(e);
        throw err;
      }
      other.keyEpoch = key.epoch;
      const update = { type: "receiver_add", suite: this.cipherSuite, pid: other.id, kid: key.kid, baseKey: key.baseKey, epoch: key.epoch };
      this._keysOfOthers.set(key.kid, update);
      this.#emit({ ...update, baseKey: new Uint8Array(key.baseKey) });
      if (!other.firstReceived) other.firstReceived = bundle;
    });
  }

  /** Timer and frame-count rekeys, and retirement of superseded keys of the others. */
  poll({ now }) {
    return this.#serial(async () => {
      this.#retired(this.ring.poll({ now }));
      if (!this.schedule) return [];
      const dist = await this.schedule.poll({ now });
      return dist ? this.#distribute(dist, now) : [];
    });
  }

  /** Start a new epoch now (e.g. on suspicion of compromise). */
  rotate({ now }) {
    return this.#serial(async () => {
      if (!this.schedule) throw new E2EEError("not joined: no sender key yet");
      return this.#distribute(await this.schedule.rotate({ now }), now);
    });
  }

  /**
   * Dispatch one gateway message; returns `{out, event}`. Never throws for a participant's bad input
   * (one hostile message must not end the session): refusals come back as
   * `{type:"e2ee_error", participant, reason, detail}` events, as in the Python client.
   */
  async handle(msg, { now }) {
    const kind = msg?.type;
    try {
      if (kind === MessageType.PARTICIPANT_JOINED) return { out: await this.participantJoined(msg.participant, { now }), event: null };
      if (kind === MessageType.PARTICIPANT_LEFT) return { out: await this.participantLeft(msg.id, { now }), event: null };
      if (kind === MessageType.E2EE) {
        await this.received(msg.from, msg.payload, { now });
        return { out: [], event: { type: "e2ee_key", from: msg.from } };
      }
      if (kind === MessageType.DATA) {
        const { pid, data } = await this.openData(msg.payload);
        const name = this.participants.get(pid)?.name ?? pid;
        return { out: [], event: { type: "data", from: pid, name, data } };
      }
    } catch (e) {
      const participant = kind === MessageType.PARTICIPANT_JOINED ? msg.participant?.id : msg.from ?? msg.id;
      return { out: [], event: { type: "e2ee_error", participant, reason: e.refusal ?? reasonOf(e), detail: String(e?.message ?? e) } };
    }
    return { out: [], event: null };
  }

  // -- media and data ---------------------------------------------------------------------

  async protect(frame, metadata = new Uint8Array(0)) {
    if (!this.schedule) throw new E2EEError("not joined: no sender key yet");
    if (this.senderInWorker) throw new E2EEError("the sender key lives in the worker: protect there");
    return this.schedule.sender.protect(frame, metadata);
  }

  /** Decrypt another participant's frame: `{pid, plaintext}`. Refusals throw (drop the frame). */
  async unprotect(frame, metadata = new Uint8Array(0)) {
    const { kid, plaintext } = await this.receiver.unprotectFrame(frame, metadata);
    const index = this.layout.indexOf(kid);
    for (const other of this.participants.values()) {
      if (other.index === index) {
        other.framesIn += 1;
        return { pid: other.id, plaintext };
      }
    }
    throw new E2EEError("frame from a sender that is no longer in the room");
  }

  /** A JSON message as an SFrame under our sender key (metadata "voxseal/data/v1"), base64. */
  async sealData(message) {
    return b64encode(await this.protect(te.encode(JSON.stringify(message)), DATA_METADATA));
  }

  /** The `{type:"data", to, payload}` messages for `message`, to `to` (a pid) or everyone. */
  async sendData(message, to = null) {
    const payload = await this.sealData(message);
    const targets = to ? [to] : [...this.participants.keys()];
    return targets.map((pid) => ({ type: MessageType.DATA, to: pid, payload }));
  }

  /** Open a `data` payload: `{pid, data}`; throws on anything that does not authenticate. */
  async openData(payload) {
    let blob;
    try {
      blob = b64decode(payload);
    } catch {
      throw new E2EEError("data payload is not base64");
    }
    const { pid, plaintext } = await this.unprotect(blob, DATA_METADATA);
    let data;
    try {
      data = JSON.parse(td.decode(plaintext));
    } catch {
      throw new E2EEError("data message is not UTF-8 JSON");
    }
    return { pid, data };
  }

  // -- internals --------------------------------------------------------------------------

  static kidOf(frame) {
    return decodeHeader(toBytes(frame)).kid;
  }

  #addParticipant(p) {
    if (!p || typeof p !== "object" || typeof p.id !== "string") throw new E2EEError("malformed participant");
    const index = Number(p.index);
    if (!Number.isSafeInteger(index)) throw new E2EEError("malformed participant index");
    const joiner = { id: p.id, name: p.identity, index, identity: decodeIdentity(p), keyEpoch: 0, firstSent: null, firstReceived: null, framesIn: 0 };
    // A copied identity key would let a leaver wipe the real owner's keys; a shared index, KID
    // collisions. Neither is tolerated, whoever sends it (a participant or the gateway).
    if (joiner.identity.did === this.identity.did) throw new E2EEError(`${JSON.stringify(joiner.name)} announced our own identity key`);
    for (const other of this.participants.values()) {
      if (other.identity.did === joiner.identity.did || other.index === joiner.index) {
        throw new E2EEError(`${JSON.stringify(joiner.name)} reuses another participant's key or index`);
      }
    }
    this.participants.set(joiner.id, joiner);
    return joiner;
  }

  #retired(kids) {
    if (!kids.length) return;
    for (const kid of kids) this._keysOfOthers.delete(kid);
    this.#emit({ type: "receiver_remove", kids: [...kids] });
  }

  async #distribute(dist, now) {
    const out = [];
    for (const other of this.participants.values()) {
      if (!dist.recipients.has(other.identity.did)) continue;
      const bundle = await sealBundle(this.identity, other.identity, {
        roomId: this.room,
        epoch: dist.epoch,
        kid: dist.kid,
        cipherSuite: dist.cipherSuite,
        baseKey: dist.baseKey,
        expiresAt: Math.trunc(now) + BUNDLE_LIFETIME,
      });
      if (!other.firstSent) other.firstSent = bundle;
      out.push({ type: MessageType.E2EE, to: other.id, payload: b64encode(bundle) });
    }
    if (dist.epoch > this._announced) {
      // a joiner getting the current key is no new epoch
      this._announced = dist.epoch;
      this._senderKey = { type: "sender", suite: dist.cipherSuite, kid: dist.kid, baseKey: new Uint8Array(dist.baseKey), epoch: dist.epoch };
      if (this.senderInWorker) this.#emit({ ...this._senderKey, baseKey: new Uint8Array(dist.baseKey) });
      out.push({ type: MessageType.KEY_EPOCH, epoch: dist.epoch });
    }
    return out;
  }
}
