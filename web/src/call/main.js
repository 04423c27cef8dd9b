// The call page: join a voxseal room with a join token, end to end encrypted.
//
// Order matters, and is the security argument:
// 1. Without WebRTC Encoded Transforms (RTCRtpScriptTransform, or Chromium's encoded
//    insertable streams) the page refuses to start: it could not encrypt frames.
// 2. The SFrame transforms are attached to the sender and every receiver BEFORE the offer is
//    made, so no frame is ever sent or decoded outside them; the worker drops outgoing frames
//    until the KeyAgreement has handed it a sender key.
// 3. Keys are agreed with each participant exactly as the Python SDK does (web/src/crypto is its
//    port): sealed sender-key bundles relayed opaquely by the gateway over wss://…/v1/rtc.
// The page then shows what it can prove: whether E2EE is on and why, a safety number per participant
// to compare out of band, the agent's redacted transcript (E2EE data messages) and link quality.

import { KeyAgreement, Identity } from "../crypto/index.js";
import { Close, MessageType, PROTOCOL_VERSION } from "../protocol.js";
import { connectionQuality, lossPercent } from "./quality.js";
import { $, clearProblems, e2ee, element, ms, problem, setText, show } from "./ui.js";

const RECEIVE_SLOTS = 4;
const POLL_SECONDS = 1;
const QUALITY_SECONDS = 2;
const REPORT_EVERY = 5; // polls between E2EE counter reports to the gateway
const TRANSCRIPT_MAX = 500;

const CLOSE_REASONS = {
  [Close.NORMAL]: "the call ended",
  [Close.GOING_AWAY]: "the gateway is shutting down",
  [Close.INTERNAL_ERROR]: "the gateway had an internal error",
  [Close.PROTOCOL_ERROR]: "protocol error",
  [Close.UNAUTHENTICATED]: "the join token is missing, invalid, expired or revoked",
  [Close.JOIN_TIMEOUT]: "the gateway did not get our join in time",
  [Close.REPLACED]: "this identity joined again from somewhere else",
  [Close.REMOVED]: "a room admin removed you from the call",
  [Close.TOO_LARGE]: "a message was too large",
  [Close.RATE_LIMITED]: "too many messages",
  [Close.ROOM_FULL]: "the room is full",
};

/** Gateway messages the E2EE session handles (key agreement and data messages). */
const SESSION_MESSAGES = [
  MessageType.PARTICIPANT_JOINED,
  MessageType.PARTICIPANT_LEFT,
  MessageType.E2EE,
  MessageType.DATA,
  MessageType.KEY_EPOCH,
];

const root = $("call");
const demoMode = root.dataset.demo === "true";

/** What this browser offers for encrypting encoded frames, or why it cannot. */
function encodedTransformSupport() {
  if (!window.isSecureContext || !window.crypto || !window.crypto.subtle) {
    return { ok: false, why: "this page is not in a secure context (https), so it has no WebCrypto" };
  }
  if (typeof RTCPeerConnection === "undefined") {
    return { ok: false, why: "this browser has no WebRTC" };
  }
  if (typeof RTCRtpScriptTransform !== "undefined") return { ok: true, api: "RTCRtpScriptTransform" };
  if (typeof RTCRtpSender !== "undefined" && RTCRtpSender.prototype.createEncodedStreams) {
    return { ok: true, api: "encoded insertable streams" };
  }
  return {
    ok: false,
    why:
      "this browser cannot encrypt audio frames end to end (no WebRTC Encoded Transform): " +
      "the call was not started and no audio was sent",
  };
}

/** The worker's URL from the page, through the page's one Trusted Types policy. */
function workerScriptUrl() {
  const url = root.dataset.worker || "";
  if (!/^\/static\/call\/worker-[A-Za-z0-9_-]+\.js$/.test(url)) {
    throw new Error("the page names no valid worker script");
  }
  if (window.trustedTypes && window.trustedTypes.createPolicy) {
    const policy = window.trustedTypes.createPolicy("voxseal-call", {
      createScriptURL: (u) => {
        if (u !== url) throw new TypeError("only the call worker may be loaded");
        return u;
      },
    });
    return policy.createScriptURL(url);
  }
  return url;
}

function rtcUrl() {
  return `wss://${location.host}/v1/rtc`;
}

const now = () => Date.now() / 1000;

class Call {
  constructor(token, support) {
    this.token = token;
    this.support = support;
    this.participants = new Map(); // id -> participant (from the gateway)
    this.safety = new Map(); // id -> safety number
    this.safetyPending = new Set();
    this.workerStats = null;
    this.fatal = null;
    this.ended = false;
    this.chain = Promise.resolve();
    this.ticks = 0;
    this.mic = null;
    this.timers = [];
  }

  // -- start -------------------------------------------------------------------------------

  async start() {
    show("start", false);
    show("in-call");
    setText("connection", "getting the microphone…");
    try {
      this.mic = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
        video: false,
      });
      const track = this.mic.getAudioTracks()[0];
      setText("microphone", track ? `on (${track.label || "microphone"})` : "none");
    } catch (err) {
      this.mic = null;
      setText("microphone", "off");
      problem(`No microphone (${err.name || err}): you can listen, but the others cannot hear you.`);
    }

    this.worker = new Worker(workerScriptUrl(), { name: "voxseal-sframe" });
    this.worker.addEventListener("message", (e) => this.onWorkerMessage(e.data));
    this.worker.addEventListener("error", () => this.fail("the encryption worker failed to start"));

    setText("connection", "creating your identity key…");
    this.identity = await Identity.generate();

    setText("connection", "connecting to the gateway…");
    this.ws = new WebSocket(rtcUrl());
    this.ws.addEventListener("open", () => {
      this.ws.send(
        JSON.stringify({
          type: MessageType.JOIN,
          protocol: PROTOCOL_VERSION,
          token: this.token,
          identity_key: this.identity.joinKey(),
        }),
      );
    });
    // one ordered queue for every message: key agreement is a state machine
    this.ws.addEventListener("message", (e) => {
      this.chain = this.chain.then(() => this.onMessage(e.data)).catch((err) => {
        problem(`A message could not be handled: ${err && err.message ? err.message : err}`);
      });
    });
    this.ws.addEventListener("close", (e) => this.onClose(e));
    this.ws.addEventListener("error", () => {
      if (!this.joined) setText("connection", "could not reach the gateway");
    });
  }

  send(messages) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
    for (const m of messages) this.ws.send(JSON.stringify(m));
  }

  // -- signaling ---------------------------------------------------------------------------

  async onMessage(raw) {
    const msg = JSON.parse(raw);
    if (!this.joined) {
      if (msg.type === MessageType.JOINED) return this.onJoined(msg);
      if (msg.type === MessageType.ERROR) {
        this.refusedJoin = `${msg.detail || msg.reason} (${msg.reason})`;
        return;
      }
      return;
    }
    switch (msg.type) {
      case MessageType.PARTICIPANT_JOINED:
        this.participants.set(msg.participant.id, msg.participant);
        break;
      case MessageType.PARTICIPANT_LEFT:
        this.participants.delete(msg.id);
        this.safety.delete(msg.id);
        break;
      case MessageType.ANSWER:
        await this.pc.setRemoteDescription({ type: "answer", sdp: String(msg.sdp || "") });
        return this.render();
      case MessageType.ERROR:
        problem(`The gateway refused a message: ${msg.detail || ""} (${msg.reason})`);
        return;
      case MessageType.PONG:
        return;
      default:
        break;
    }
    if (SESSION_MESSAGES.includes(msg.type)) {
      const { out, event } = await this.session.handle(msg, { now: now() });
      this.send(out || []);
      if (event) this.onSessionEvent(event);
    }
    this.render();
  }

  async onJoined(joined) {
    this.joined = joined;
    this.me = joined.participant;
    for (const p of joined.participants) this.participants.set(p.id, p);
    setText("room", joined.room);
    setText("connection", "joined; setting up encrypted media…");
    // the worker holds our sender key and is the only place that encrypts with it: one
    // counter per key, so AES-GCM nonces can never repeat between page and worker
    this.session = new KeyAgreement({
      identity: this.identity,
      room: joined.room,
      senderInWorker: true,
    });
    this.session.onKeyUpdate = (update) => this.worker.postMessage({ keys: update });
    // media first (transforms attached, nothing negotiated yet), then keys, then the offer
    this.setUpMedia();
    try {
      this.send(await this.session.joined(joined.participant, joined.participants, { now: now() }));
    } catch (err) {
      // e.g. a participant announced an unusable or copied identity key: no call without E2EE
      this.fail(`End-to-end encryption could not start: ${err.message || err}. The call was ended.`);
      this.hangUp();
      return;
    }
    this.negotiate().catch((err) => this.fail(`media negotiation failed: ${err.message || err}`));
    this.timers.push(setInterval(() => this.tick(), POLL_SECONDS * 1000));
    this.timers.push(setInterval(() => this.updateQuality(), QUALITY_SECONDS * 1000));
    show("peers-section");
    show("transcript-section");
    show("quality-section");
    this.render();
  }

  onSessionEvent(event) {
    if (event.type === "data") {
      const data = event.data || {};
      if (data.kind === "transcript" && typeof data.text === "string") {
        this.addTranscript(String(data.speaker || "?"), data.text, event.from);
      }
    } else if (event.type === "e2ee_error") {
      const who = this.participants.get(event.participant);
      problem(
        `Encryption refused something from ${who ? who.identity : "a participant"}: ` +
          `${event.detail || event.reason}`,
      );
    }
  }

  onClose(e) {
    const why = CLOSE_REASONS[e.code] || `closed (${e.code})`;
    if (!this.joined) {
      const detail = this.refusedJoin ? `: ${this.refusedJoin}` : "";
      setText("connection", `not admitted: ${why}${detail}`);
      problem(`The gateway did not admit you: ${why}${detail}.`);
    } else if (!this.ended) {
      setText("connection", `disconnected: ${why}`);
      if (e.code !== Close.NORMAL) problem(`The call was cut off: ${why}.`);
    }
    this.stop();
  }

  // -- media -------------------------------------------------------------------------------

  setUpMedia() {
    const legacy = this.support.api === "encoded insertable streams";
    this.pc = new RTCPeerConnection({ iceServers: [], ...(legacy ? { encodedInsertableStreams: true } : {}) });
    const transceivers = [];
    if (this.mic && this.mic.getAudioTracks().length) {
      if (!this.me.grants.includes("publish")) {
        problem("Your join token does not allow you to speak (no publish grant): listening only.");
      } else {
        const t = this.pc.addTransceiver(this.mic.getAudioTracks()[0], { direction: "sendonly" });
        this.attachTransform(t.sender, "send");
        transceivers.push(t);
      }
    }
    for (let i = 0; i < RECEIVE_SLOTS; i++) {
      const t = this.pc.addTransceiver("audio", { direction: "recvonly" });
      this.attachTransform(t.receiver, "receive");
      transceivers.push(t);
    }
    // Opus only: the SFU and the Python endpoints carry nothing else (no RED, no DTMF events)
    const caps = RTCRtpReceiver.getCapabilities && RTCRtpReceiver.getCapabilities("audio");
    const opus = caps ? caps.codecs.filter((c) => c.mimeType.toLowerCase() === "audio/opus") : [];
    if (opus.length) for (const t of transceivers) t.setCodecPreferences(opus);

    this.pc.addEventListener("track", (e) => {
      const audio = element("audio");
      audio.autoplay = true;
      audio.srcObject = new MediaStream([e.track]);
      $("remote-audio").append(audio);
      audio.play().catch(() => {
        problem("Press anywhere on the page to hear the call (the browser blocked autoplay).");
        document.addEventListener("click", () => audio.play().catch(() => {}), { once: true });
      });
    });
    this.pc.addEventListener("connectionstatechange", () => {
      const s = this.pc.connectionState;
      setText("connection", s === "connected" ? "connected (DTLS-SRTP to the gateway)" : s);
      if (s === "failed") problem("The media connection to the gateway failed.");
      this.render();
    });
  }

  attachTransform(senderOrReceiver, side) {
    if (this.support.api === "RTCRtpScriptTransform") {
      senderOrReceiver.transform = new RTCRtpScriptTransform(this.worker, { side });
    } else {
      const { readable, writable } = senderOrReceiver.createEncodedStreams();
      this.worker.postMessage({ stream: { readable, writable, side } }, [readable, writable]);
    }
  }

  async negotiate() {
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    // no trickle ICE: the gateway takes one SDP with every candidate in it
    if (this.pc.iceGatheringState !== "complete") {
      await new Promise((resolve) => {
        const done = () => {
          if (this.pc.iceGatheringState === "complete") {
            this.pc.removeEventListener("icegatheringstatechange", done);
            resolve();
          }
        };
        this.pc.addEventListener("icegatheringstatechange", done);
        setTimeout(resolve, 5000); // send what we have; host candidates come first
      });
    }
    this.send([{ type: MessageType.OFFER, sdp: this.pc.localDescription.sdp }]);
  }

  onWorkerMessage(data) {
    if (!data) return;
    if (data.stats) {
      this.workerStats = data.stats;
      this.renderCounters();
    } else if (data.error) {
      problem(data.error);
    }
  }

  // -- timers ------------------------------------------------------------------------------

  tick() {
    if (!this.session || this.ended) return;
    this.chain = this.chain
      .then(async () => {
        this.send(await this.session.poll({ now: now() }));
        this.ticks += 1;
        if (this.ticks % REPORT_EVERY === 0) this.reportCounters();
        this.render();
      })
      .catch((err) => problem(`Rekeying failed: ${err.message || err}`));
  }

  reportCounters() {
    const r = this.workerStats && this.workerStats.receive;
    if (!r) return;
    this.send([
      {
        type: MessageType.STATS,
        e2ee: {
          frames_received: r.frames,
          frames_decrypted: r.decrypted,
          auth_failures: r.auth_failures,
          replays: r.replays,
          unknown_key: r.unknown_key,
          malformed: r.malformed,
          decode_errors: 0,
        },
      },
    ]);
  }

  async updateQuality() {
    if (!this.pc || this.ended) return;
    try {
      const q = await connectionQuality(this.pc);
      setText("q-rtt", ms(q.rtt));
      setText("q-jitter", ms(q.jitter));
      setText(
        "q-loss",
        `${q.packetsLost} of ${q.packetsLost + q.packetsReceived} (${lossPercent(q).toFixed(1)} %)`,
      );
      setText("q-srtp", q.srtpCipher ? `${q.srtpCipher}${q.dtlsCipher ? `, DTLS ${q.dtlsCipher}` : ""}` : "–");
      $("q-rtt").dataset.value = q.rtt ?? "";
      const heard = $("q-audio");
      heard.textContent =
        q.audioEnergy > 0 ? `yes (level now ${(q.audioLevel * 100).toFixed(0)} %)` : "nothing yet";
      heard.dataset.energy = q.audioEnergy;
    } catch {
      // the connection closed between two samples
    }
  }

  // -- rendering ---------------------------------------------------------------------------

  renderCounters() {
    const s = this.workerStats;
    if (!s) return;
    const sent = $("q-sent");
    sent.textContent = `${s.send.encrypted} / ${s.send.heldBack}`;
    sent.dataset.encrypted = s.send.encrypted;
    sent.dataset.heldBack = s.send.heldBack;
    const r = s.receive;
    const refused = r.auth_failures + r.replays + r.unknown_key + r.malformed;
    const received = $("q-received");
    received.textContent = `${r.decrypted} / ${refused}`;
    received.dataset.decrypted = r.decrypted;
    received.dataset.refused = refused;
    received.dataset.authFailures = r.auth_failures;
    received.dataset.unknownKey = r.unknown_key;
    received.dataset.malformed = r.malformed;
    this.render();
  }

  e2eeStatus() {
    if (this.fatal) return ["failed", this.fatal];
    if (!this.session) return ["off", "joining…"];
    const st = this.session.state();
    if (st.reason === "failed") return ["failed", st.detail || "end-to-end encryption failed"];
    const others = Object.entries(st.participants);
    const ws = this.workerStats;
    if (!ws || ws.transforms.receive + ws.transforms.send === 0) {
      return ["off", "the encryption worker is not running yet: nothing is sent or played"];
    }
    if (this.mic && ws.transforms.send === 0 && this.me.grants.includes("publish")) {
      return ["off", "waiting for the send transform: your audio is held back"];
    }
    if (this.me.grants.includes("publish") && this.mic && !ws.send.kid) {
      return ["off", "no sender key yet: your audio is held back, never sent in clear"];
    }
    if (!others.length) return ["off", "you are alone in the room: waiting for someone to join"];
    const waiting = others.filter(([, p]) => !p.keyed).map(([who]) => who);
    if (waiting.length) {
      return ["off", `waiting for keys with ${waiting.join(", ")}: their audio cannot be played yet`];
    }
    const names = others.map(([who]) => who).join(", ");
    return [
      "on",
      `SFrame (AES-128-GCM) in this browser, ${this.support.api}; keys agreed with ${names} ` +
        `(HPKE X-Wing, signed Ed25519); your key epoch ${st.epoch}`,
    ];
  }

  render() {
    // after the call, late worker reports or queued messages must not paint it "on" again
    if (!this.session || this.stopped) return;
    const [state, why] = this.e2eeStatus();
    e2ee(state, why);
    const list = $("peers");
    const st = this.session.state();
    const items = [];
    for (const [id, p] of this.participants) {
      const info = st.participants[p.identity] || {};
      const li = element("li");
      li.dataset.participant = id;
      li.append(element("strong", p.identity, "peer-name"), " ");
      li.append(element("span", info.keyed ? "keyed" : "waiting for keys", "peer-keyed"));
      const sn = this.safety.get(id);
      if (sn) {
        const digits = element("p", sn.digits, "safety-digits");
        digits.setAttribute("aria-label", `safety number ${sn.digits}`);
        const emoji = element("p", sn.emojiString, "safety-emoji");
        if (Array.isArray(sn.emojiNames)) emoji.setAttribute("aria-label", sn.emojiNames.join(", "));
        li.append(digits, emoji);
      } else if (info.keyed && !this.safetyPending.has(id)) {
        this.safetyPending.add(id);
        // sync today, async in the README: accept either
        Promise.resolve()
          .then(() => this.session.safetyNumber(id))
          .then((n) => {
            this.safety.set(id, n);
            this.render();
          })
          .catch((err) => problem(`No safety number for ${p.identity}: ${err.message || err}`))
          .finally(() => this.safetyPending.delete(id));
      }
      items.push(li);
    }
    list.replaceChildren(...items);
    if (!items.length) list.append(element("li", "nobody else yet"));
  }

  addTranscript(speaker, text, from) {
    const list = $("transcript");
    const li = element("li");
    li.dataset.speaker = speaker;
    li.append(element("span", speaker, "speaker"), " ", element("span", text, "text"));
    li.title = `sent end to end encrypted by ${this.participants.get(from)?.identity || "a participant"}`;
    list.append(li);
    while (list.children.length > TRANSCRIPT_MAX) list.firstElementChild.remove();
  }

  // -- end ---------------------------------------------------------------------------------

  fail(why) {
    this.fatal = why;
    problem(why);
    e2ee("failed", why);
    this.render();
  }

  hangUp() {
    this.ended = true;
    this.send([{ type: MessageType.LEAVE }]);
    if (this.ws) this.ws.close(Close.NORMAL);
    setText("connection", this.fatal ? "ended: end-to-end encryption failed" : "you left the call");
    this.stop();
  }

  stop() {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    if (this.mic) for (const t of this.mic.getTracks()) t.stop();
    if (this.pc) this.pc.close();
    if (this.session && !this.fatal) e2ee("off", "the call is over");
    if (this.worker) setTimeout(() => this.worker.terminate(), 1500);
  }
}

// -- page wiring -------------------------------------------------------------------------

let current = null;

async function begin(token) {
  clearProblems();
  const support = encodedTransformSupport();
  if (!support.ok) {
    show("in-call");
    e2ee("off", support.why);
    problem(`Not started: ${support.why}.`);
    return;
  }
  current = new Call(token, support);
  try {
    await current.start();
  } catch (err) {
    current.fail(`Could not start the call: ${err.message || err}`);
  }
}

function tokenFromFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get("token");
  if (token) {
    // keep it out of the address bar and history; it never reached the server anyway
    history.replaceState(null, "", location.pathname + location.search);
  }
  return token;
}

$("token-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const token = $("token").value.trim();
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token)) {
    problem("That is not a join token (expected a JWT: three base64url parts separated by dots).");
    return;
  }
  begin(token);
});

if (demoMode) {
  $("demo-call").addEventListener("click", async () => {
    clearProblems();
    const support = encodedTransformSupport();
    if (!support.ok) {
      // not even a token is minted (nor an agent sent) for a call this browser cannot encrypt
      show("in-call");
      e2ee("off", support.why);
      problem(`Not started: ${support.why}.`);
      return;
    }
    $("demo-call").disabled = true;
    try {
      const r = await fetch("/v1/demo/call", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
        credentials: "same-origin",
      });
      const body = await r.json().catch(() => ({}));
      if (!r.ok) throw new Error(`${body.detail || r.statusText} (${body.error || r.status})`);
      await begin(body.token);
    } catch (err) {
      problem(`Could not start a demo call: ${err.message || err}`);
      $("demo-call").disabled = false;
    }
  });
}

$("hangup").addEventListener("click", () => current && current.hangUp());

const fragmentToken = tokenFromFragment();
if (fragmentToken) $("token").value = fragmentToken;
const support = encodedTransformSupport();
if (!support.ok) {
  e2ee("off", support.why);
  problem(`This browser cannot make an end-to-end encrypted call: ${support.why}.`);
}
