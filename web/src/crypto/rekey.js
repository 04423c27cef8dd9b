// When sender keys change and who gets which: a port of voxseal.crypto.rekey (sans-I/O).
//
// SenderKeySchedule (one local sender in one room): a participant leaving starts a new epoch
// with a fresh random key for those who remain; the timer or the frame limit starts a new epoch; a
// joiner gets the *current* key only (or a new epoch with rekeyOnJoin). Superseded keys are
// wiped. ParticipantKeyRing (receive side): installs opened sender keys into one SFrameReceiver,
// retires a participant's older epoch after a grace period and all of a leaver's keys at once.
// Nothing reads a clock: `now` (seconds) is passed in.

import { KeyIdConflict } from "./errors.js";
import { MAX_KID, SFrameSender, suiteParams } from "./sframe.js";
import { randomBytes, wipe } from "./bytes.js";

export const RekeyReason = Object.freeze({
  INITIAL: "initial",
  PARTICIPANT_LEFT: "participant_left",
  PARTICIPANT_JOINED: "participant_joined",
  TIMER: "timer",
  FRAME_LIMIT: "frame_limit",
  MANUAL: "manual",
});

/** Every 10 minutes, or after 2**24 frames, and always when a participant leaves (Python defaults). */
export class RekeyPolicy {
  constructor({ interval = 600, maxFrames = 1 << 24, rekeyOnJoin = false } = {}) {
    if (!(interval > 0) || !(maxFrames >= 1)) throw new RangeError("interval and max_frames must be positive");
    this.interval = interval;
    this.maxFrames = maxFrames;
    this.rekeyOnJoin = rekeyOnJoin;
    Object.freeze(this);
  }
}

/** KID = epoch << indexBits | senderIndex (BigInt): one KID per sender per epoch. */
export class KidLayout {
  constructor(indexBits = 16) {
    this.indexBits = indexBits;
    this._shift = BigInt(indexBits);
    this._mask = (1n << this._shift) - 1n;
    Object.freeze(this);
  }

  compose(epoch, senderIndex) {
    const idx = BigInt(senderIndex);
    if (idx < 0n || idx > this._mask) throw new RangeError("sender index out of range for the KID layout");
    const kid = (BigInt(epoch) << this._shift) | idx;
    if (kid < 0n || kid > MAX_KID) throw new RangeError("epoch out of range for the KID layout");
    return kid;
  }

  epochOf(kid) {
    return Number(BigInt(kid) >> this._shift);
  }

  indexOf(kid) {
    return Number(BigInt(kid) & this._mask);
  }
}

/**
 * Epochs of one local sender in one room. Create with `await SenderKeySchedule.create(...)`;
 * every event returns a KeyDistribution `{epoch, kid, cipherSuite, reason, recipients: Set,
 * baseKey}` (or null): seal `baseKey` to `recipients` and send the bundles.
 */
export class SenderKeySchedule {
  #policy;
  #suite;
  #layout;
  #index;
  #random;
  #participants;
  #epoch;
  #sender = null;
  #baseKey = null;
  #started;
  #pendingInitial = null;

  constructor(policy, { cipherSuite, senderIndex, now, participants = [], firstEpoch = 1, layout = new KidLayout(), random = randomBytes }) {
    this.#policy = policy;
    this.#suite = cipherSuite;
    suiteParams(cipherSuite);
    this.#layout = layout;
    this.#index = senderIndex;
    layout.compose(firstEpoch, senderIndex); // refuse a bad index before any key exists
    this.#random = random;
    this.#participants = new Set(participants);
    this.#epoch = firstEpoch - 1;
    this.#started = now;
  }

  static async create(policy, options) {
    const s = new SenderKeySchedule(policy, options);
    s.#pendingInitial = await s.#newEpoch(options.now, RekeyReason.INITIAL);
    return s;
  }

  get epoch() {
    return this.#epoch;
  }

  get kid() {
    return this.#layout.compose(this.#epoch, this.#index);
  }

  get participants() {
    return new Set(this.#participants);
  }

  /** The current epoch's SFrameSender (replaced on every rekey: re-read after one). */
  get sender() {
    return this.#sender;
  }

  initialDistribution() {
    return this.#pendingInitial;
  }

  async participantJoined(participant, { now }) {
    this.#participants.add(participant);
    if (this.#policy.rekeyOnJoin) return this.#newEpoch(now, RekeyReason.PARTICIPANT_JOINED);
    return this.#distribution(RekeyReason.PARTICIPANT_JOINED, new Set([participant]));
  }

  async participantLeft(participant, { now }) {
    if (!this.#participants.has(participant)) return null;
    this.#participants.delete(participant);
    return this.#newEpoch(now, RekeyReason.PARTICIPANT_LEFT);
  }

  async poll({ now }) {
    if (this.#sender.counter >= BigInt(this.#policy.maxFrames)) return this.#newEpoch(now, RekeyReason.FRAME_LIMIT);
    if (now - this.#started >= this.#policy.interval) return this.#newEpoch(now, RekeyReason.TIMER);
    return null;
  }

  async rotate({ now }) {
    return this.#newEpoch(now, RekeyReason.MANUAL);
  }

  nextDeadline() {
    return this.#started + this.#policy.interval;
  }

  async #newEpoch(now, reason) {
    const epoch = this.#epoch + 1;
    const kid = this.#layout.compose(epoch, this.#index);
    const baseKey = this.#random(Math.max(32, suiteParams(this.#suite).nh));
    const sender = await SFrameSender.create(this.#suite, kid, baseKey);
    // Commit only after the await, so a failure leaves the previous epoch intact.
    if (this.#sender) this.#sender.close(); // wipe the superseded key: nothing old to hand out
    if (this.#baseKey) wipe(this.#baseKey);
    this.#epoch = epoch;
    this.#sender = sender;
    this.#baseKey = baseKey;
    this.#started = now;
    return this.#distribution(reason, new Set(this.#participants));
  }

  #distribution(reason, recipients) {
    return {
      epoch: this.#epoch,
      kid: this.kid,
      cipherSuite: this.#suite,
      reason,
      recipients,
      baseKey: new Uint8Array(this.#baseKey),
    };
  }
}

/** Receive-side key lifecycle over one SFrameReceiver (all other participants of one room). */
export class ParticipantKeyRing {
  #receiver;
  #grace;
  #kids = new Map(); // sender DID -> Map(epoch -> kid)
  #retireAt = new Map(); // kid -> deadline

  constructor(receiver, { grace = 2.0 } = {}) {
    if (grace < 0) throw new RangeError("grace must be >= 0");
    this.#receiver = receiver;
    this.#grace = grace;
  }

  /**
   * Install an opened sender key; schedule that sender's older epochs for retirement. Refuses
   * (KeyIdConflict) a KID that belongs to another sender, or a second KID for one epoch.
   */
  async install(key, { now }) {
    if (key.cipherSuite !== this.#receiver.cipherSuite) throw new RangeError("sender key suite differs from the receiver's suite");
    for (const [sender, epochs] of this.#kids) {
      if (sender !== key.sender && [...epochs.values()].includes(key.kid)) {
        throw new KeyIdConflict(`KID ${key.kid} already belongs to ${sender}`);
      }
    }
    const known = this.#kids.get(key.sender)?.get(key.epoch);
    if (known !== undefined && known !== key.kid) throw new KeyIdConflict(`${key.sender} sent two KIDs for epoch ${key.epoch}`);
    await this.#receiver.addKey(key.kid, key.baseKey);
    let epochs = this.#kids.get(key.sender);
    if (!epochs) this.#kids.set(key.sender, (epochs = new Map()));
    epochs.set(key.epoch, key.kid);
    for (const [epoch, kid] of epochs) {
      if (epoch < key.epoch && !this.#retireAt.has(kid)) this.#retireAt.set(kid, now + this.#grace);
    }
  }

  /** Retire every key of a participant that left, now; returns the KIDs retired. */
  participantLeft(sender) {
    const kids = [...(this.#kids.get(sender)?.values() ?? [])];
    this.#kids.delete(sender);
    for (const kid of kids) {
      this.#receiver.removeKey(kid);
      this.#retireAt.delete(kid);
    }
    return kids;
  }

  /** Retire keys whose grace period is over; returns their KIDs. */
  poll({ now }) {
    const due = [...this.#retireAt].filter(([, at]) => at <= now).map(([kid]) => kid);
    for (const kid of due) {
      this.#retireAt.delete(kid);
      this.#receiver.removeKey(kid);
      for (const epochs of this.#kids.values()) {
        for (const [epoch, k] of [...epochs]) if (k === kid) epochs.delete(epoch);
      }
    }
    return due;
  }

  kidsOf(sender) {
    return [...(this.#kids.get(sender)?.values() ?? [])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }
}
