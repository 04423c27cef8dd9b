// The media side of the keys, for an RTCRtpScriptTransform worker (or any other thread).
//
// KeyAgreement (on the page) reports key changes as plain objects; a WorkerKeys in the worker
// applies them to its own SFrameSender / SFrameReceiver. Nothing here falls back to clear
// media: with no sender key `protect` throws UnknownKey and the caller drops the frame, and a
// frame that does not authenticate throws (counted in `stats`), never passing ciphertext on.

import { CryptoError, UnknownKey } from "./errors.js";
import { DATA_METADATA } from "./constants.js";
import { b64encode, te } from "./bytes.js";
import { KidLayout } from "./rekey.js";
import { SFrameReceiver, SFrameSender } from "./sframe.js";

export class WorkerKeys {
  constructor({ layout = new KidLayout(), replayWindow, maxKeys } = {}) {
    this.layout = layout;
    this.sender = null;
    this.senderEpoch = 0;
    this.receiver = null;
    this._receiverOptions = { replayWindow, maxKeys };
    this._pids = new Map(); // kid -> pid
    this._queue = Promise.resolve();
    this.stats = { protected: 0, decrypted: 0, rejected: 0, reasons: {} };
  }

  #receiverFor(suite) {
    if (!this.receiver || this.receiver.cipherSuite !== suite) {
      if (this.receiver) this.receiver.clear();
      const opts = Object.fromEntries(Object.entries(this._receiverOptions).filter(([, v]) => v !== undefined));
      this.receiver = new SFrameReceiver(suite, opts);
      this._pids.clear();
    }
    return this.receiver;
  }

  /** Apply one update from KeyAgreement.onKeyUpdate (or an array from keySnapshot()), in order. */
  apply(update) {
    const run = this._queue.then(() => (Array.isArray(update) ? this.#applyAll(update) : this.#apply(update)));
    this._queue = run.catch(() => {});
    return run;
  }

  async #applyAll(updates) {
    for (const u of updates) await this.#apply(u);
  }

  async #apply(u) {
    if (u.type === "sender") {
      const next = await SFrameSender.create(u.suite, u.kid, u.baseKey);
      const old = this.sender;
      this.sender = next;
      this.senderEpoch = u.epoch;
      if (old) old.close();
    } else if (u.type === "receiver_add") {
      await this.#receiverFor(u.suite).addKey(u.kid, u.baseKey);
      this._pids.set(BigInt(u.kid), u.pid);
    } else if (u.type === "receiver_remove") {
      for (const kid of u.kids) {
        this.receiver?.removeKey(kid);
        this._pids.delete(BigInt(kid));
      }
    } else {
      throw new TypeError(`unknown key update ${String(u.type)}`);
    }
  }

  /** Encrypt one encoded frame with our current sender key. */
  async protect(frame, metadata) {
    await this._queue; // a key update posted before this frame applies first
    if (!this.sender) throw new UnknownKey(-1);
    const out = await this.sender.protect(frame, metadata);
    this.stats.protected++;
    return out;
  }

  /**
   * A JSON data message sealed with the same sender (and counter) as the media, as the
   * `payload` of `{type:"data", to, payload}` (what KeyAgreement.sealData does without a worker).
   */
  async sealData(message) {
    return b64encode(await this.protect(te.encode(JSON.stringify(message)), DATA_METADATA));
  }

  /** Decrypt one frame from a participant: `{pid, kid, plaintext}`; throws CryptoError on refusal. */
  async unprotect(frame, metadata) {
    try {
      await this._queue;
      if (!this.receiver) throw new UnknownKey(-1);
      const { kid, plaintext } = await this.receiver.unprotectFrame(frame, metadata);
      this.stats.decrypted++;
      return { pid: this._pids.get(kid) ?? null, kid, plaintext };
    } catch (e) {
      this.stats.rejected++;
      const reason = e instanceof CryptoError ? e.reason : "malformed";
      this.stats.reasons[reason] = (this.stats.reasons[reason] ?? 0) + 1;
      throw e;
    }
  }
}
