// The media worker: SFrame on every encoded audio frame, in both directions.
//
// The page hands the worker key updates from its KeyAgreement (`{keys: update}` messages) and
// the encoded-frame streams, either through RTCRtpScriptTransform (`rtctransform` events, the
// standard) or, where Chromium only offers encoded insertable streams, as transferred
// `{stream: {readable, writable, side}}` messages. Either way the same pumps run:
//
// * send: the whole Opus frame is SFrame-protected with empty metadata, as the Python SDK and
//   agent do (voxseal.media.sframe_tracks: the SFU rewrites RTP headers, so nothing there can be bound).
//   Without a sender key the frame is DROPPED: audio never leaves this browser in clear.
// * receive: the frame is unprotected with the sending participant's key; a frame that does not
//   authenticate (forged, replayed, unknown key, not SFrame) is dropped and counted, never
//   handed to the decoder as if it were audio.
//
// Counters go back to the page once a second (`{stats}`): the page shows them and reports the
// receive side to the gateway (only receivers can see SFrame failures).

import { WorkerKeys } from "../crypto/worker_keys.js";

const keys = new WorkerKeys();
// key updates apply in order, and every frame waits for the updates posted before it
let applying = Promise.resolve();

const stats = {
  send: { frames: 0, encrypted: 0, heldBack: 0, errors: 0, kid: null, epoch: 0 },
  receive: {
    frames: 0,
    decrypted: 0,
    auth_failures: 0,
    replays: 0,
    unknown_key: 0,
    malformed: 0,
    byParticipant: {},
  },
  transforms: { send: 0, receive: 0 },
};

function bufferOf(bytes) {
  // encoded frames take an ArrayBuffer: copy when the view does not span its whole buffer
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    ? bytes.buffer
    : bytes.slice().buffer;
}

async function protectFrame(frame, controller) {
  stats.send.frames += 1;
  await applying;
  let sealed;
  try {
    sealed = await keys.protect(new Uint8Array(frame.data));
  } catch (err) {
    // no sender key yet (or it was retired): hold the frame back rather than send it clear
    if (err && err.reason === "sframe_unknown_key") stats.send.heldBack += 1;
    else stats.send.errors += 1;
    return;
  }
  frame.data = bufferOf(sealed);
  stats.send.encrypted += 1;
  controller.enqueue(frame);
}

function countRefusal(reason) {
  const r = stats.receive;
  if (reason === "sframe_auth_failed") r.auth_failures += 1;
  else if (reason === "sframe_replay") r.replays += 1;
  else if (reason === "sframe_unknown_key") r.unknown_key += 1;
  else r.malformed += 1;
}

async function unprotectFrame(frame, controller) {
  stats.receive.frames += 1;
  await applying;
  let opened;
  try {
    opened = await keys.unprotect(new Uint8Array(frame.data));
  } catch (err) {
    countRefusal(err && err.reason);
    return;
  }
  stats.receive.decrypted += 1;
  const pid = String(opened.pid);
  stats.receive.byParticipant[pid] = (stats.receive.byParticipant[pid] || 0) + 1;
  frame.data = bufferOf(opened.plaintext);
  controller.enqueue(frame);
}

function pump(readable, writable, side) {
  const transform = side === "send" ? protectFrame : unprotectFrame;
  stats.transforms[side === "send" ? "send" : "receive"] += 1;
  readable
    .pipeThrough(new TransformStream({ transform }))
    .pipeTo(writable)
    .catch(() => {
      // the track or peer connection ended; nothing to clean up
    });
}

self.addEventListener("rtctransform", (event) => {
  const { readable, writable, options } = event.transformer;
  pump(readable, writable, options && options.side);
});

self.addEventListener("message", (event) => {
  const msg = event.data || {};
  if (msg.keys) {
    const update = msg.keys;
    applying = applying
      .then(() => keys.apply(update))
      .then(() => {
        if (update.type === "sender") {
          stats.send.kid = String(update.kid);
          stats.send.epoch = update.epoch;
        }
      })
      .catch((err) => {
        self.postMessage({ error: `key update refused: ${(err && err.reason) || err}` });
      });
  } else if (msg.stream) {
    pump(msg.stream.readable, msg.stream.writable, msg.stream.side);
  }
});

setInterval(() => self.postMessage({ stats }), 1000);
