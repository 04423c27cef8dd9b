// Safety numbers, a port of voxseal.crypto.sas: the same digits and emoji as Python for the
// same identities and transcript, so two people on different clients can compare them.
//
//   lo, hi = sorted(fingerprint(A), fingerprint(B))
//   digest = SHA-512("voxseal safety number v1" || lo || hi || len(t) u32 || t), then 5199 x
//            SHA-512(digest || lo || hi)
//   digits = 12 groups of 5 decimal digits (5 bytes each, mod 100000)
//   emoji  = 7 x 6 bits of SHA-512("emoji" || digest)
// SHA-512 is @noble/hashes (synchronous: 5200 WebCrypto round trips would be far slower).

import { sha256, sha512 } from "@noble/hashes/sha2";
import { bytesToBigInt, compareBytes, concat, equalBytes, te, toBytes, uintBytes } from "./bytes.js";

export const ITERATIONS = 5200;
const LABEL = te.encode("voxseal safety number v1");
const TRANSCRIPT_LABEL = te.encode("voxseal key transcript v1");

/** 64 pictures that are easy to tell apart and to name aloud (index = 6-bit value). */
export const EMOJI = Object.freeze([
  ["\ud83d\udc36", "dog"],
  ["\ud83d\udc31", "cat"],
  ["\ud83e\udd81", "lion"],
  ["\ud83d\udc0e", "horse"],
  ["\ud83e\udd84", "unicorn"],
  ["\ud83d\udc37", "pig"],
  ["\ud83d\udc18", "elephant"],
  ["\ud83d\udc30", "rabbit"],
  ["\ud83d\udc3c", "panda"],
  ["\ud83d\udc13", "rooster"],
  ["\ud83d\udc27", "penguin"],
  ["\ud83d\udc22", "turtle"],
  ["\ud83d\udc1f", "fish"],
  ["\ud83d\udc19", "octopus"],
  ["\ud83e\udd8b", "butterfly"],
  ["\ud83c\udf37", "flower"],
  ["\ud83c\udf33", "tree"],
  ["\ud83c\udf35", "cactus"],
  ["\ud83c\udf44", "mushroom"],
  ["\ud83c\udf0f", "globe"],
  ["\ud83c\udf19", "moon"],
  ["\u2601\ufe0f", "cloud"],
  ["\ud83d\udd25", "fire"],
  ["\ud83c\udf4c", "banana"],
  ["\ud83c\udf4e", "apple"],
  ["\ud83c\udf53", "strawberry"],
  ["\ud83c\udf3d", "corn"],
  ["\ud83c\udf55", "pizza"],
  ["\ud83c\udf82", "cake"],
  ["\u2764\ufe0f", "heart"],
  ["\ud83d\ude00", "smiley"],
  ["\ud83e\udd16", "robot"],
  ["\ud83c\udfa9", "hat"],
  ["\ud83d\udc53", "glasses"],
  ["\ud83d\udd27", "spanner"],
  ["\ud83c\udf85", "santa"],
  ["\ud83d\udc4d", "thumbs up"],
  ["\u2602\ufe0f", "umbrella"],
  ["\u231b", "hourglass"],
  ["\u23f0", "clock"],
  ["\ud83c\udf81", "gift"],
  ["\ud83d\udca1", "light bulb"],
  ["\ud83d\udcd5", "book"],
  ["\u270f\ufe0f", "pencil"],
  ["\ud83d\udcce", "paperclip"],
  ["\u2702\ufe0f", "scissors"],
  ["\ud83d\udd12", "lock"],
  ["\ud83d\udd11", "key"],
  ["\ud83d\udd28", "hammer"],
  ["\u260e\ufe0f", "telephone"],
  ["\ud83c\udfc1", "flag"],
  ["\ud83d\ude82", "train"],
  ["\ud83d\udeb2", "bicycle"],
  ["\u2708\ufe0f", "aeroplane"],
  ["\ud83d\ude80", "rocket"],
  ["\ud83c\udfc6", "trophy"],
  ["\u26bd", "ball"],
  ["\ud83c\udfb8", "guitar"],
  ["\ud83c\udfba", "trumpet"],
  ["\ud83d\udd14", "bell"],
  ["\u2693", "anchor"],
  ["\ud83c\udfa7", "headphones"],
  ["\ud83d\udcc1", "folder"],
  ["\ud83d\udccc", "pin"],
].map((e) => Object.freeze(e)));

/**
 * A 32-byte, order-independent digest of the room and the bundles two parties exchanged
 * (both hold the same two), so a gateway that substituted either makes the numbers differ.
 */
export function keyTranscript(roomId, bundles) {
  const room = te.encode(roomId);
  const digests = [...bundles].map((b) => sha512(toBytes(b)).slice(0, 32)).sort(compareBytes);
  return sha256(concat(TRANSCRIPT_LABEL, uintBytes(room.length, 2), room, uintBytes(digests.length, 4), ...digests));
}

/** What two people compare: `digits` (60, in groups of 5) and `emoji` (7 pictures). */
export class SafetyNumber {
  constructor(digits, emoji, emojiNames) {
    this.digits = digits;
    this.emoji = Object.freeze(emoji);
    this.emojiNames = Object.freeze(emojiNames);
    Object.freeze(this);
  }

  get emojiString() {
    return this.emoji.join(" ");
  }

  toString() {
    return this.digits;
  }

  /** Compare with what the other side read out (digits; spaces ignored), in constant time. */
  matches(other) {
    const theirs = other instanceof SafetyNumber ? other.digits : String(other);
    return equalBytes(te.encode(this.digits.replaceAll(" ", "")), te.encode(theirs.replaceAll(" ", "")));
  }
}

/** The safety number of the pair {a, b} (argument order does not matter). */
export function safetyNumber(a, b, transcript = new Uint8Array(0), { iterations = ITERATIONS } = {}) {
  const t = toBytes(transcript);
  const [lo, hi] = [a.fingerprint(), b.fingerprint()].sort(compareBytes);
  let digest = sha512(concat(LABEL, lo, hi, uintBytes(t.length, 4), t));
  for (let i = 0; i < iterations - 1; i++) digest = sha512(concat(digest, lo, hi));
  const groups = [];
  for (let i = 0; i < 60; i += 5) {
    groups.push(String(Number(bytesToBigInt(digest.subarray(i, i + 5)) % 100000n)).padStart(5, "0"));
  }
  const bits = bytesToBigInt(sha512(concat(te.encode("emoji"), digest)).subarray(0, 6));
  const picks = [];
  for (let i = 0; i < 7; i++) picks.push(EMOJI[Number((bits >> BigInt(42 - 6 * (i + 1))) & 0x3fn)]);
  return new SafetyNumber(groups.join(" "), picks.map((p) => p[0]), picks.map((p) => p[1]));
}
