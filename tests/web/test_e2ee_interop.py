# ruff: noqa: E501 -- the JavaScript run in the page is embedded as strings; its lines stay whole
"""Cross-implementation tests: the browser E2EE library (web/src/crypto) against the Python core.

The library is bundled with esbuild at test time and run twice: under Node.js (harness.node_page,
in the default suite: Node 20 has the browser's WebCrypto) and, marked ``browser``, served
from http://127.0.0.1 (a secure context) in headless Debian chromium. Each test moves real
bytes between the two implementations (bundles, frames, identity documents, session messages)
and, for every refusal, checks that the JavaScript side refuses with the same reason code as
Python for the same bytes — so a drift in either implementation fails here.
"""

from __future__ import annotations

import base64
import json
import os
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness.browser import WEB_DIR, build_bundle, serve_directory
from tests.harness.environment import load_vectors
from tests.harness.node_page import NodePage
from voxseal.crypto import sframe
from voxseal.crypto.bundle import (
    _SIGNATURE_CONTEXT,
    HPKE_SUITE,
    SenderKeyBundle,
    _hpke_info,
    _long,
    open_bundle,
    seal_bundle,
)
from voxseal.crypto.errors import CryptoError
from voxseal.crypto.keys import Identity, PublicIdentity
from voxseal.crypto.sas import key_transcript, safety_number
from voxseal.sdk.client import DATA_METADATA
from voxseal.sdk.key_agreement import KeyAgreement

ROOM = "room-interop"

# The page's globals, one ES module for both runtimes (a browser page and node_page.mjs):
# the library, hex helpers, refusal capture, and calls into a module worker made by the
# runtime's ``window.newWorker()``.
PRELUDE = """
import * as E2EE from "./e2ee.js";
window.E2EE = E2EE;
window.H = E2EE.fromHex;
window.X = E2EE.toHex;
// Run fn; return {ok} or the refusal's reason code (what the tests compare with Python).
window.attempt = async (fn) => {
  try { return { ok: await fn() }; }
  catch (e) { return { error: e.name, reason: e.reason ?? null, message: String(e.message) }; }
};
window.reasonOf = async (fn) => {
  try { await fn(); return "ok"; } catch (e) { return e.reason ?? ("js:" + e.name); }
};
let seq = 0;
const pending = new Map();
window.startWorker = () => {
  window.worker = window.newWorker();
  window.worker.onmessage = (e) => {
    const p = pending.get(e.data.id); pending.delete(e.data.id);
    if ("error" in e.data) p.reject(Object.assign(new Error(e.data.message), { reason: e.data.error }));
    else p.resolve(e.data.ok);
  };
};
window.workerCall = (op, arg) => new Promise((resolve, reject) => {
  const id = ++seq; pending.set(id, { resolve, reject });
  window.worker.postMessage({ id, op, arg });
});
window.ready = window.isSecureContext ?? true;
"""

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>voxseal e2ee interop</title></head>
<body>
<script>
window.newWorker = () => new Worker("./worker_entry.js", { type: "module" });
</script>
<script type="module" src="./prelude.js"></script>
</body></html>
"""

# A real module worker holding the keys, as an RTCRtpScriptTransform worker would: key updates
# arrive by postMessage (structured clone of BigInt and Uint8Array), frames are hex for the test.
# (Under node it is a worker_threads worker with the same globals, see node_page.mjs.)
WORKER = """
import { WorkerKeys, fromHex, toHex } from "./e2ee_worker.js";
const keys = new WorkerKeys();
onmessage = async (e) => {
  const { id, op, arg } = e.data;
  try {
    let ok = null;
    if (op === "keys") await keys.apply(arg);
    else if (op === "protect") ok = toHex(await keys.protect(fromHex(arg)));
    else if (op === "sealData") ok = await keys.sealData(arg);
    else if (op === "unprotect") {
      const r = await keys.unprotect(fromHex(arg));
      ok = { pid: r.pid, plaintext: toHex(r.plaintext) };
    } else if (op === "stats") ok = keys.stats;
    postMessage({ id, ok });
  } catch (err) {
    postMessage({ id, error: err.reason ?? err.name, message: String(err.message) });
  }
};
"""

PAGE_LIB = """
export * from "./src/crypto/index.js";
export { xwing } from "./src/crypto/keys.js";
"""

WORKER_LIB = """
export { WorkerKeys } from "./src/crypto/worker_keys.js";
export { fromHex, toHex } from "./src/crypto/bytes.js";
"""


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("e2ee-site")
    # The page gets the public API (plus the X-Wing KEM object, for the draft's vectors); the
    # worker its own small bundle (worker_keys.js imports no HPKE / signature code). The entries are
    # written into web/ so esbuild resolves web/node_modules, and removed right after.
    for name, source in (("e2ee.js", PAGE_LIB), ("e2ee_worker.js", WORKER_LIB)):
        entry = WEB_DIR / f".test-entry-{os.getpid()}-{name}"
        entry.write_text(source)
        try:
            build_bundle(entry, out, name=name)
        finally:
            entry.unlink()
    (out / "worker_entry.js").write_text(WORKER)
    (out / "prelude.js").write_text(PRELUDE)
    (out / "index.html").write_text(PAGE)
    return out


def _chromium_page(request: pytest.FixtureRequest, bundles: Path) -> Iterator[Any]:
    browser = request.getfixturevalue("browser")
    with serve_directory(bundles) as site:
        context = browser.new_context()
        pg = context.new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda exc: errors.append(str(exc)))
        pg.goto(site + "/index.html")
        pg.wait_for_function("window.ready === true", timeout=20_000)
        assert not errors, errors
        yield pg
        context.close()


@pytest.fixture(
    scope="module", params=["node", pytest.param("chromium", marks=pytest.mark.browser)]
)
def page(request: pytest.FixtureRequest, bundles: Path) -> Iterator[Any]:
    """Where the JavaScript side runs: Node.js (the default suite) or headless chromium.

    Both load the same bundles and offer ``evaluate(expression, arg)``; the tests cannot tell
    them apart, so each interop check runs in both.
    """
    if request.param == "chromium":
        yield from _chromium_page(request, bundles)
        return
    with NodePage(bundles) as pg:
        assert pg.evaluate("async () => window.ready") is True
        yield pg


def js(page: Any, body: str, arg: Any = None) -> Any:
    """Evaluate ``async (a) => { body }`` in the page."""
    return page.evaluate(f"async (a) => {{ {body} }}", arg)


@pytest.fixture(scope="module")
def browser_ids(page: Any) -> dict[str, PublicIdentity]:
    """Two browser identities (Ed25519 and hybrid), their public documents parsed by Python."""
    docs = js(
        page,
        """
        window.ids = {
          js: await E2EE.Identity.generate(),
          jsPq: await E2EE.Identity.generate({ postQuantumSignatures: true }),
          other: await E2EE.Identity.generate(),
        };
        const out = {};
        for (const [k, v] of Object.entries(window.ids)) out[k] = X(v.public.encode());
        return out;
        """,
    )
    return {k: PublicIdentity.decode(bytes.fromhex(v)) for k, v in docs.items()}


@pytest.fixture(scope="module")
def py_ids() -> dict[str, Identity]:
    return {
        "py": Identity.generate(),
        "pyPq": Identity.generate(post_quantum_signatures=True),
        "pyOther": Identity.generate(),
    }


def py_reason(fn: Any) -> str:
    try:
        fn()
    except CryptoError as exc:
        return str(exc.reason)
    return "ok"


# --- identities ----------------------------------------------------------------------------------


def test_identity_documents_cross(
    page: Any, browser_ids: dict[str, PublicIdentity], py_ids: dict[str, Identity]
) -> None:
    # Python parsed (and verified the self-signatures of) the browser documents in the fixture.
    assert not browser_ids["js"].hybrid and browser_ids["jsPq"].hybrid
    docs = {k: v.public.encode().hex() for k, v in py_ids.items()}
    got = js(
        page,
        """
        const out = {};
        for (const [k, doc] of Object.entries(a)) {
          const p = E2EE.PublicIdentity.decode(H(doc));
          out[k] = { did: p.did, hybrid: p.hybrid, fp: X(p.fingerprint()) };
        }
        return out;
        """,
        docs,
    )
    for k, ident in py_ids.items():
        assert got[k]["did"] == ident.did
        assert got[k]["hybrid"] == ident.hybrid
        assert got[k]["fp"] == ident.public.fingerprint().hex()
    # the same secret gives the same keys in both (Python's export format)
    secret = py_ids["pyPq"].export_secret().hex()
    doc = js(page, "return X((await E2EE.Identity.fromSecret(H(a))).public.encode());", secret)
    mine = PublicIdentity.decode(bytes.fromhex(doc))
    assert mine == py_ids["pyPq"].public
    # a flipped bit anywhere in a Python document is refused by the browser as by Python
    raw = py_ids["pyPq"].public.encode()
    offsets = [0, 1, 2, 40, 1300, 34 + 1216 + 5, len(raw) - 3300, len(raw) - 1]
    reasons = js(
        page,
        """
        const out = [];
        for (const off of a.offsets) {
          const d = H(a.doc); d[off] ^= 1;
          out.push(await reasonOf(() => E2EE.PublicIdentity.decode(d)));
        }
        return out;
        """,
        {"doc": raw.hex(), "offsets": offsets},
    )
    for off, reason in zip(offsets, reasons, strict=True):
        d = bytearray(raw)
        d[off] ^= 1
        assert reason == py_reason(lambda d=d: PublicIdentity.decode(bytes(d))) != "ok", off


def test_degenerate_ed25519_identity_refused(page: Any, py_ids: dict[str, Identity]) -> None:
    """A document whose Ed25519 key is the small-order identity point, "self-signed" with
    R = identity, S = 0 (valid for every message under a cofactorless check that accepts such
    keys): both implementations refuse it, so no one can pose as a key nobody holds."""
    kem = py_ids["py"].public.kem_public_key.public_bytes()
    identity_point = (1).to_bytes(32, "little")
    doc = bytes((1, 0)) + identity_point + kem + identity_point + bytes(32)
    reason = js(page, "return reasonOf(() => E2EE.PublicIdentity.decode(H(a)));", doc.hex())
    assert reason == "bad_signature"
    assert py_reason(lambda: PublicIdentity.decode(doc)) != "ok"


def test_browser_xwing_is_the_drafts_xwing(page: Any) -> None:
    """The official X-Wing vectors in the browser's KEM, including the encapsulation side that
    Python's ``cryptography`` cannot run derandomised (tests/crypto/test_xwing.py): key
    generation from the seed, EncapsulateDerand(pk, eseed) -> (ct, ss), Decapsulate -> ss."""
    vectors = load_vectors("xwing-draft-connolly-cfrg-xwing-kem.json")
    assert len(vectors) >= 3
    got = js(
        page,
        """
        const out = [];
        for (const v of a) {
          const kp = await E2EE.xwing.generateKeyPairDerand(H(v.seed));
          const pk = X(new Uint8Array(await E2EE.xwing.serializePublicKey(kp.publicKey)));
          const e = await E2EE.xwing.encap({ recipientPublicKey: kp.publicKey, ekm: H(v.eseed) });
          const ss = await E2EE.xwing.decap({ enc: H(v.ct), recipientKey: kp.privateKey });
          out.push({ pk, ct: X(new Uint8Array(e.enc)), ssEnc: X(new Uint8Array(e.sharedSecret)),
                     ssDec: X(new Uint8Array(ss)), id: E2EE.xwing.id });
        }
        return out;
        """,
        vectors,
    )
    for v, g in zip(vectors, got, strict=True):
        assert g == {"pk": v["pk"], "ct": v["ct"], "ssEnc": v["ss"], "ssDec": v["ss"], "id": 0x647A}


# --- (a) bundles both ways -------------------------------------------------------------------


@pytest.mark.parametrize("suite", [4, 5, 1])
def test_bundles_cross_both_ways(
    page: Any, browser_ids: dict[str, PublicIdentity], py_ids: dict[str, Identity], suite: int
) -> None:
    now = int(time.time())
    for py_name in ("py", "pyPq"):
        for js_name in ("js", "jsPq"):
            py = py_ids[py_name]
            key = os.urandom(32 if suite != 5 else 64)
            epoch = random.randrange(1, 1 << 40)
            kid = (epoch << 16) | 7
            # Python seals -> browser opens
            sealed = seal_bundle(
                py,
                browser_ids[js_name],
                room_id=ROOM,
                epoch=epoch,
                kid=kid,
                cipher_suite=suite,
                base_key=key,
                expires_at=now + 60,
            )
            got = js(
                page,
                """
                const k = await E2EE.openBundle(H(a.bundle), {
                  recipient: ids[a.me], sender: E2EE.PublicIdentity.decode(H(a.sender)),
                  roomId: a.room, now: Date.now() / 1000 });
                return { key: X(k.baseKey), epoch: k.epoch, kid: String(k.kid), suite: k.cipherSuite,
                         sender: k.sender, room: k.roomId, exp: k.expiresAt };
                """,
                {
                    "bundle": sealed.hex(),
                    "me": js_name,
                    "sender": py.public.encode().hex(),
                    "room": ROOM,
                },
            )
            assert got == {
                "key": key.hex(),
                "epoch": epoch,
                "kid": str(kid),
                "suite": suite,
                "sender": py.did,
                "room": ROOM,
                "exp": now + 60,
            }
            # browser seals -> Python opens
            blob = js(
                page,
                """
                return X(await E2EE.sealBundle(ids[a.me], E2EE.PublicIdentity.decode(H(a.to)), {
                  roomId: a.room, epoch: a.epoch, kid: BigInt(a.kid), cipherSuite: a.suite,
                  baseKey: H(a.key), expiresAt: a.exp }));
                """,
                {
                    "me": js_name,
                    "to": py.public.encode().hex(),
                    "room": ROOM,
                    "epoch": epoch,
                    "kid": str(kid),
                    "suite": suite,
                    "key": key.hex(),
                    "exp": now + 60,
                },
            )
            opened = open_bundle(
                bytes.fromhex(blob),
                recipient=py,
                sender=browser_ids[js_name],
                room_id=ROOM,
                now=time.time(),
            )
            assert (opened.base_key, opened.epoch, opened.kid, opened.cipher_suite) == (
                key,
                epoch,
                kid,
                suite,
            )
            assert opened.sender == browser_ids[js_name].did


# --- (b) refusals: same reason in the browser as in Python ----------------------------------------


def _forge(
    signer: Identity,
    claimed_sender: str,
    recipient_did: str,
    kem_public: PublicIdentity,
    *,
    now: int,
) -> bytes:
    """A bundle built by hand: signed by ``signer``, claiming ``claimed_sender``, addressed to
    ``recipient_did`` but sealed to ``kem_public``'s KEM key (for the unseal/signature cases)."""
    unsigned = SenderKeyBundle(
        1, 4, 3, (3 << 16) | 1, now + 60, ROOM, claimed_sender, recipient_did, b"", b""
    )
    ctx = unsigned.context_bytes()
    sealed = HPKE_SUITE.encrypt(
        os.urandom(32), kem_public.kem_public_key.hpke_public_key(), info=_hpke_info(ctx)
    )
    signed = ctx + _long(sealed)
    return signed + _long(signer.sign(signed, context=_SIGNATURE_CONTEXT))


def test_bundle_refusals_match_python(
    page: Any, browser_ids: dict[str, PublicIdentity], py_ids: dict[str, Identity]
) -> None:
    """Every refusal case, each checked for the exact reason in the browser and in Python."""
    py, other = py_ids["py"], py_ids["pyOther"]
    me = browser_ids["js"]
    now = int(time.time())

    def seal(to: PublicIdentity, epoch: int = 3, expires: int = now + 60) -> bytes:
        return seal_bundle(
            py,
            to,
            room_id=ROOM,
            epoch=epoch,
            kid=(epoch << 16) | 1,
            cipher_suite=4,
            base_key=os.urandom(32),
            expires_at=expires,
        )

    good = seal(me)
    trailing = good + b"\x00"
    oversized = good + bytes(8000)
    cases: list[tuple[str, bytes, dict[str, Any], str]] = [
        ("ok", good, {}, "ok"),
        ("wrong recipient", seal(browser_ids["other"]), {}, "bundle_wrong_recipient"),
        ("wrong room", good, {"room": "another-room"}, "bundle_wrong_room"),
        ("stale epoch", good, {"min_epoch": 4}, "bundle_stale_epoch"),
        ("expired", seal(me, expires=now - 1), {}, "bundle_expired"),
        ("expires now", good, {"now": now + 60}, "bundle_expired"),
        ("unknown sender", good, {"sender": "pyOther"}, "bundle_unknown_sender"),
        ("bad signature", _forge(other, py.did, me.did, me, now=now), {}, "bad_signature"),
        (
            "unseal failed",
            _forge(py, py.did, me.did, browser_ids["other"], now=now),
            {},
            "bundle_unseal_failed",
        ),
        ("unknown version", bytes([2]) + good[1:], {}, "bundle_unsupported_version"),
        ("trailing byte", trailing, {}, "bundle_malformed"),
        ("oversized", oversized, {}, "bundle_malformed"),
        ("empty", b"", {}, "bundle_malformed"),
    ]
    senders = {"py": py, "pyOther": other}
    payload = [
        {
            "bundle": blob.hex(),
            "room": opt.get("room", ROOM),
            "min": opt.get("min_epoch", 0),
            "now": opt.get("now", now),
            "sender": senders[opt.get("sender", "py")].public.encode().hex(),
        }
        for _, blob, opt, _ in cases
    ]
    got = js(
        page,
        """
        const out = [];
        for (const c of a) out.push(await reasonOf(() => E2EE.openBundle(H(c.bundle), {
          recipient: ids.js, sender: E2EE.PublicIdentity.decode(H(c.sender)), roomId: c.room,
          now: c.now, minEpoch: c.min })));
        return out;
        """,
        payload,
    )
    for (name, _, _, expected), browser_reason in zip(cases, got, strict=True):
        assert browser_reason == expected, name
    # Python twins (Python cannot open as the browser identity): the same cases addressed to a
    # Python recipient give Python the same reasons. Byte-exact parity on one blob is in
    # test_every_truncation_and_bit_flip_refused_like_python.
    rec = py_ids["pyPq"]
    twin = seal(rec.public)
    twins: list[tuple[bytes, dict[str, Any], str]] = [
        (twin, {}, "ok"),
        (seal(other.public), {}, "bundle_wrong_recipient"),
        (twin, {"room": "another-room"}, "bundle_wrong_room"),
        (twin, {"min_epoch": 4}, "bundle_stale_epoch"),
        (seal(rec.public, expires=now - 1), {}, "bundle_expired"),
        (twin, {"sender": other}, "bundle_unknown_sender"),
        (_forge(other, py.did, rec.did, rec.public, now=now), {}, "bad_signature"),
        (_forge(py, py.did, rec.did, other.public, now=now), {}, "bundle_unseal_failed"),
        (bytes([2]) + twin[1:], {}, "bundle_unsupported_version"),
        (twin + b"\x00", {}, "bundle_malformed"),
        (b"", {}, "bundle_malformed"),
    ]
    for blob, opt, expected in twins:
        reason = py_reason(
            lambda blob=blob, opt=opt: open_bundle(
                blob,
                recipient=rec,
                sender=opt.get("sender", py).public,
                room_id=opt.get("room", ROOM),
                now=now,
                min_epoch=opt.get("min_epoch", 0),
            )
        )
        assert reason == expected


def test_every_truncation_and_bit_flip_refused_like_python(
    page: Any, browser_ids: dict[str, PublicIdentity], py_ids: dict[str, Identity]
) -> None:
    """Byte-exact parity: truncated at every length and one bit flipped at every offset.

    The bundle is sealed by the browser to a Python identity, so Python can run the very
    same mutated bytes through ``open_bundle`` and the browser through ``openBundle``.
    """
    rec = py_ids["py"]
    now = int(time.time())
    blob = bytes.fromhex(
        js(
            page,
            """
            return X(await E2EE.sealBundle(ids.js, E2EE.PublicIdentity.decode(H(a.to)), {
              roomId: a.room, epoch: 9, kid: (9n << 16n) | 2n, cipherSuite: 4,
              baseKey: crypto.getRandomValues(new Uint8Array(32)), expiresAt: a.exp }));
            """,
            {"to": rec.public.encode().hex(), "room": ROOM, "exp": now + 60},
        )
    )

    def py_open(data: bytes) -> str:
        return py_reason(
            lambda: open_bundle(
                data, recipient=rec, sender=browser_ids["js"], room_id=ROOM, now=now
            )
        )

    assert py_open(blob) == "ok"
    # The browser cannot open as `rec`, so it checks up to (and including) the signature: give
    # it a recipient whose DID is rec's (refusals before unsealing depend only on the DID).
    got = js(
        page,
        """
        const blob = H(a.blob);
        const sender = ids.js.public;
        const rec = { did: a.recDid, kemPrivateKey: () => { throw new Error("unreachable"); } };
        const open = (d) => reasonOf(() => E2EE.openBundle(d, {
          recipient: rec, sender, roomId: a.room, now: a.now }));
        const cut = [], flip = [];
        for (let n = 0; n < blob.length; n++) cut.push(await open(blob.slice(0, n)));
        for (let i = 0; i < blob.length; i++) {
          const d = blob.slice(); d[i] ^= 0x01; flip.push(await open(d));
        }
        return { cut, flip };
        """,
        {"blob": blob.hex(), "recDid": rec.did, "room": ROOM, "now": now},
    )
    assert len(got["cut"]) == len(blob) == len(got["flip"])
    for n, reason in enumerate(got["cut"]):
        expected = py_open(blob[:n])
        assert expected != "ok"
        assert reason == expected, f"truncated to {n}"
    for i, reason in enumerate(got["flip"]):
        d = bytearray(blob)
        d[i] ^= 0x01
        expected = py_open(bytes(d))
        assert expected != "ok"
        assert reason == expected, f"bit flipped at {i}"


# --- (c) SFrame ----------------------------------------------------------------------------------


def test_every_rfc9605_vector_in_the_browser(page: Any) -> None:
    vectors = load_vectors("sframe-rfc9605.json")

    def stringify(v: dict[str, Any]) -> dict[str, Any]:
        # u64 KIDs/CTRs do not fit a JS number: send them as strings, parsed with BigInt
        return {k: (str(x) if k in ("kid", "ctr") else x) for k, x in v.items()}

    data = {k: [stringify(v) for v in vectors[k]] for k in ("header", "aes_ctr_hmac", "sframe")}
    result = js(
        page,
        """
        const fail = [];
        const check = (cond, what) => { if (!cond) fail.push(what); };
        let n = 0;
        for (const v of a.header) {
          n++;
          const enc = H(v.encoded);
          check(X(E2EE.encodeHeader(BigInt(v.kid), BigInt(v.ctr))) === v.encoded, "encode " + v.encoded);
          const d = E2EE.decodeHeader(enc);
          check(d.kid === BigInt(v.kid) && d.ctr === BigInt(v.ctr) && d.length === enc.length, "decode " + v.encoded);
          for (let cut = 0; cut < enc.length; cut++) {
            if (cut === 0 || enc[0] & 0x88) {
              check(await reasonOf(() => E2EE.decodeHeader(enc.slice(0, cut))) === "sframe_malformed_header", "cut " + v.encoded);
            }
          }
        }
        for (const v of a.aes_ctr_hmac) {
          n++;
          const aead = await E2EE.suiteAead(v.cipher_suite, H(v.key));
          const ct = await aead.encrypt(H(v.nonce), H(v.pt), H(v.aad));
          check(X(ct) === v.ct, "ctr-hmac " + v.cipher_suite);
          check(X(await aead.decrypt(H(v.nonce), ct, H(v.aad))) === v.pt, "ctr-hmac open " + v.cipher_suite);
          const bad = ct.slice(); bad[0] ^= 1;
          check(await reasonOf(() => aead.decrypt(H(v.nonce), bad, H(v.aad))) === "sframe_auth_failed", "ctr-hmac forged");
        }
        const suites = new Set();
        for (const v of a.sframe) {
          n++;
          suites.add(v.cipher_suite);
          const base = H(v.base_key), kid = BigInt(v.kid), ctr = BigInt(v.ctr), md = H(v.metadata);
          check(X(await E2EE.deriveSecret(v.cipher_suite, base)) === v.sframe_secret, "secret " + v.cipher_suite);
          const ks = await E2EE.deriveKeySalt(v.cipher_suite, base, kid);
          check(X(ks.key) === v.sframe_key && X(ks.salt) === v.sframe_salt, "key/salt " + v.cipher_suite);
          check(X(E2EE.encodeHeader(kid, ctr)) + v.metadata === v.aad, "aad " + v.cipher_suite);
          const ct = await E2EE.encrypt(v.cipher_suite, base, kid, ctr, md, H(v.pt));
          check(X(ct) === v.ct, "encrypt " + v.cipher_suite);
          const d = await E2EE.decrypt(v.cipher_suite, base, md, H(v.ct));
          check(X(d.plaintext) === v.pt && d.kid === kid && d.ctr === ctr, "decrypt " + v.cipher_suite);
          const s = await E2EE.SFrameSender.create(v.cipher_suite, kid, base, { initialCounter: ctr });
          check(X(await s.protect(H(v.pt), md)) === v.ct, "sender " + v.cipher_suite);
          const r = new E2EE.SFrameReceiver(v.cipher_suite);
          await r.addKey(kid, base);
          check(X(await r.unprotect(H(v.ct), md)) === v.pt, "receiver " + v.cipher_suite);
          check(await reasonOf(() => r.unprotect(H(v.ct), md)) === "sframe_replay", "replay " + v.cipher_suite);
        }
        return { fail, n, suites: [...suites].sort() };
        """,
        data,
    )
    assert result["fail"] == []
    assert result["n"] == sum(len(v) for v in data.values())
    assert result["suites"] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("suite", [1, 2, 3, 4, 5])
def test_frames_cross_both_ways_with_same_refusals(page: Any, suite: int) -> None:
    base_key = os.urandom(64 if suite == 5 else 32)
    kid = (12 << 16) | 3
    rnd = random.Random(suite)
    payloads = [rnd.randbytes(rnd.choice([0, 1, 60, 160, 1200])) for _ in range(40)]
    metadata = [b"" if i % 3 else DATA_METADATA for i in range(len(payloads))]

    # browser -> Python
    frames = js(
        page,
        """
        const s = await E2EE.SFrameSender.create(a.suite, BigInt(a.kid), H(a.key));
        const out = [];
        for (let i = 0; i < a.pts.length; i++) out.push(X(await s.protect(H(a.pts[i]), H(a.mds[i]))));
        return out;
        """,
        {
            "suite": suite,
            "kid": str(kid),
            "key": base_key.hex(),
            "pts": [p.hex() for p in payloads],
            "mds": [m.hex() for m in metadata],
        },
    )
    rx = sframe.Receiver(suite)
    rx.add_key(kid, base_key)
    for frame, pt, md in zip(frames, payloads, metadata, strict=True):
        assert rx.unprotect(bytes.fromhex(frame), md) == pt

    # Python -> browser: reordered within the window, then duplicates, too old, forged, wrong
    # metadata, truncated, unknown KID. Both receivers see the same sequence; outcomes agree.
    tx = sframe.Sender(suite, kid, base_key)
    sent = [(tx.protect(p, m), m) for p, m in zip(payloads * 5, metadata * 5, strict=True)]
    order = list(range(len(sent)))
    for i in range(0, len(order) - 8, 8):  # local shuffles: reordering below the window
        chunk = order[i : i + 8]
        rnd.shuffle(chunk)
        order[i : i + 8] = chunk
    # two frames held back to the window's edge: CTR top-127 is still accepted, top-128 is not
    top = len(sent) - 1
    edge_in, edge_out = top - 127, top - 128
    order = [i for i in order if i not in (edge_in, edge_out)]
    assert order[-1] == top  # the newest frame arrives before the held-back ones
    seq: list[tuple[bytes, bytes]] = [sent[i] for i in order]
    seq += [sent[edge_in], sent[edge_out]]
    fresh1 = tx.protect(b"fresh one")
    fresh2 = tx.protect(b"fresh two")
    forged = bytearray(fresh1)
    forged[-1] ^= 1
    seq += [
        sent[order[-1]],  # duplicate
        sent[0],  # far too old
        (bytes(forged), b""),  # forged tag
        (fresh2, b"other metadata"),  # metadata is authenticated
        (fresh2, b""),  # ... and a refused attempt did not burn the counter
        (fresh1, b""),
        (sent[6][0][:3], b""),  # truncated inside the KID
        (sframe.encode_header(kid + 1, 5) + bytes(32), b""),  # unknown KID
        (b"", b""),
    ]

    def py_run() -> list[str]:
        r = sframe.Receiver(suite)
        r.add_key(kid, base_key)
        out = []
        for frame, md in seq:
            try:
                out.append(r.unprotect(frame, md).hex())
            except CryptoError as exc:
                out.append(str(exc.reason))
        return out

    got = js(
        page,
        """
        const r = new E2EE.SFrameReceiver(a.suite);
        await r.addKey(BigInt(a.kid), H(a.key));
        const out = [];
        for (const [f, md] of a.seq) {
          try { out.push(X(await r.unprotect(H(f), H(md)))); }
          catch (e) { out.push(e.reason ?? "js:" + e.name); }
        }
        return out;
        """,
        {
            "suite": suite,
            "kid": str(kid),
            "key": base_key.hex(),
            "seq": [[f.hex(), m.hex()] for f, m in seq],
        },
    )
    expected = py_run()
    assert got == expected
    all_payloads = payloads * 5
    assert expected[: len(order)] == [all_payloads[i].hex() for i in order]
    assert expected[len(order) :] == [
        all_payloads[edge_in].hex(),
        "sframe_replay",  # too old: exactly one past the 128-frame window
        "sframe_replay",
        "sframe_replay",
        "sframe_auth_failed",
        "sframe_auth_failed",
        b"fresh two".hex(),
        b"fresh one".hex(),
        "sframe_malformed_header",
        "sframe_unknown_key",
        "sframe_malformed_header",
    ]


def test_sender_refuses_to_wrap_and_receiver_bounds_keys(page: Any) -> None:
    got = js(
        page,
        """
        const s = await E2EE.SFrameSender.create(4, 5n, new Uint8Array(32).fill(7), { maxCounter: 2n });
        const okFrames = [];
        for (let i = 0; i < 3; i++) okFrames.push(X(await s.protect(new Uint8Array([i]))));
        const wrap = await reasonOf(() => s.protect(new Uint8Array([9])));
        // concurrent protect calls never share a counter
        const c = await E2EE.SFrameSender.create(4, 6n, new Uint8Array(32).fill(8));
        const many = await Promise.all(Array.from({ length: 50 }, () => c.protect(new Uint8Array(4))));
        const ctrs = new Set(many.map((f) => String(E2EE.decodeHeader(f).ctr)));
        const r = new E2EE.SFrameReceiver(4, { maxKeys: 3 });
        for (let k = 1n; k <= 5n; k++) await r.addKey(k, new Uint8Array(32).fill(Number(k)));
        return { okFrames, wrap, distinct: ctrs.size, kids: r.kids().map(String) };
        """,
    )
    assert got["wrap"] == "sframe_counter_exhausted"
    assert got["distinct"] == 50
    assert got["kids"] == ["3", "4", "5"]
    rx = sframe.Receiver(4)
    rx.add_key(5, bytes([7]) * 32)
    assert [rx.unprotect(bytes.fromhex(f)) for f in got["okFrames"]] == [b"\x00", b"\x01", b"\x02"]


# --- (d) safety numbers --------------------------------------------------------------------------


def test_safety_numbers_equal(
    page: Any, browser_ids: dict[str, PublicIdentity], py_ids: dict[str, Identity]
) -> None:
    bundles = [os.urandom(1300), os.urandom(1400)]
    transcript = key_transcript(ROOM, bundles)
    for py_name, js_name in (("py", "js"), ("pyPq", "jsPq"), ("pyPq", "js")):
        py = py_ids[py_name].public
        got = js(
            page,
            """
            const peer = E2EE.PublicIdentity.decode(H(a.peer));
            const t = E2EE.keyTranscript(a.room, a.bundles.map(H));
            const plain = E2EE.safetyNumber(ids[a.me].public, peer);
            const bound = E2EE.safetyNumber(peer, ids[a.me].public, t);
            return { t: X(t), plain: [plain.digits, plain.emoji, plain.emojiNames],
                     bound: [bound.digits, bound.emoji, bound.emojiNames],
                     match: bound.matches(a.expect), other: bound.matches(plain) };
            """,
            {
                "peer": py.encode().hex(),
                "room": ROOM,
                "bundles": [b.hex() for b in reversed(bundles)],
                "me": js_name,
                "expect": safety_number(py, browser_ids[js_name], transcript).digits,
            },
        )
        assert got["t"] == transcript.hex()
        for key, t in (("plain", b""), ("bound", transcript)):
            sn = safety_number(browser_ids[js_name], py, t)
            assert got[key] == [sn.digits, list(sn.emoji), list(sn.emoji_names)], key
        assert got["match"] is True and got["other"] is False


# --- (e) a two-party session, Python <-> browser --------------------------------------------------


def _participant(pid: str, index: int, name: str, public: PublicIdentity) -> dict[str, Any]:
    return {
        "id": pid,
        "index": index,
        "identity": name,
        "did": public.did,
        "identity_doc": base64.b64encode(public.encode()).decode(),
        "grants": ["publish", "subscribe"],
        "key_epoch": 0,
    }


def test_two_party_session_python_and_browser(
    page: Any, browser_ids: dict[str, PublicIdentity], py_ids: dict[str, Identity]
) -> None:
    """The same messages the gateway relays, end to end: keys both ways, frames and data
    messages both ways (page and a real module worker), safety numbers, a rotation and a leave."""
    py = py_ids["pyPq"]  # the agent side with a hybrid identity: the browser verifies ML-DSA too
    agent = _participant("p1", 1, "agent", py.public)
    caller = _participant("p2", 2, "caller", browser_ids["js"])
    now = time.time()
    session = KeyAgreement(py, ROOM)
    first = session.joined(agent, [], now=now)
    assert [o.to_json()["type"] for o in first] == ["key_epoch"]

    out = js(
        page,
        """
        startWorker();
        window.updates = [];
        window.session = new E2EE.KeyAgreement({ identity: ids.js, room: a.room, senderInWorker: true });
        session.onKeyUpdate = (u) => { updates.push(u); workerCall("keys", u); };
        const before = session.state();
        const out = await session.joined(a.me, [a.agent], { now: a.now });
        return { out, before };
        """,
        {"room": ROOM, "me": caller, "agent": agent, "now": now},
    )
    assert out["before"]["enabled"] is False and out["before"]["reason"] == "not_joined"
    msgs = out["out"]
    assert [m["type"] for m in msgs] == ["e2ee", "key_epoch"]
    assert msgs[0]["to"] == "p1" and msgs[1] == {"type": "key_epoch", "epoch": 1}
    state = js(page, "return session.state();")
    assert state["enabled"] is True and state["reason"] == "waiting_for_keys"

    # the gateway tells the agent about the joiner (the agent answers with its current key),
    # then relays the joiner's sealed key, which the agent opens
    reply = [o.to_json() for o in session.participant_joined(caller, now=time.time())]
    session.received("p2", msgs[0]["payload"], now=time.time())
    assert [m["type"] for m in reply] == ["e2ee"] and reply[0]["to"] == "p2"
    handled = js(
        page,
        """
        const r = await session.handle({ type: "e2ee", from: "p1", payload: a.payload }, { now: a.now });
        return { r, state: session.state(), ready: session.readyWith("p1"),
                 sn: (() => { const s = session.safetyNumber("p1"); return [s.digits, s.emoji]; })() };
        """,
        {"payload": reply[0]["payload"], "now": time.time()},
    )
    assert handled["r"] == {"out": [], "event": {"type": "e2ee_key", "from": "p1"}}
    assert handled["ready"] is True and session.ready_with("p2")
    assert handled["state"]["reason"] == "keyed"
    assert handled["state"]["participants"]["agent"]["their_epoch"] == 1
    sn = session.safety_number("p2")
    assert handled["sn"] == [sn.digits, list(sn.emoji)]

    # media: Python frames decrypt in the page and in the worker; worker frames in Python
    audio = [os.urandom(80) for _ in range(5)]
    py_frames = [session.protect(a).hex() for a in audio]
    got = js(
        page,
        """
        const page = [], worker = [];
        for (const f of a.frames) {
          const r = await session.unprotect(H(f)); page.push([r.pid, X(r.plaintext)]);
          const w = await workerCall("unprotect", f); worker.push([w.pid, w.plaintext]);
        }
        const replay = await reasonOf(() => workerCall("unprotect", a.frames[0]));
        const mine = [];
        for (const pt of a.audio) mine.push(await workerCall("protect", pt));
        const refused = await reasonOf(() => session.protect(new Uint8Array(3)));
        return { page, worker, replay, mine, refused };
        """,
        {"frames": py_frames, "audio": [a.hex() for a in audio]},
    )
    assert got["page"] == got["worker"] == [["p1", a.hex()] for a in audio]
    assert got["replay"] == "sframe_replay"
    assert got["refused"] == "e2ee_failed"  # the sender key lives in the worker only
    assert [session.unprotect(bytes.fromhex(f)) for f in got["mine"]] == [("p2", a) for a in audio]

    # data messages both ways (metadata "voxseal/data/v1"), through the same message shapes
    py_data = base64.b64encode(
        session.protect(json.dumps({"transcript": "hello [REDACTED]"}).encode(), DATA_METADATA)
    ).decode()
    got = js(
        page,
        """
        const ev = (await session.handle({ type: "data", from: "p1", payload: a.payload }, { now: 0 })).event;
        const forged = (await session.handle({ type: "data", from: "p1", payload: a.audio }, { now: 0 })).event;
        const payload = await workerCall("sealData", { text: "hi agent", n: 1 });
        return { ev, forged, payload };
        """,
        {
            "payload": py_data,
            "audio": base64.b64encode(session.protect(b"an audio frame")).decode(),
        },
    )
    assert got["ev"] == {
        "type": "data",
        "from": "p1",
        "name": "agent",
        "data": {"transcript": "hello [REDACTED]"},
    }
    # an audio frame replayed as a data message does not authenticate (different metadata)
    assert got["forged"]["type"] == "e2ee_error"
    assert got["forged"]["reason"] == "sframe_auth_failed"
    pid, plain = session.unprotect(base64.b64decode(got["payload"]), DATA_METADATA)
    assert (pid, json.loads(plain)) == ("p2", {"text": "hi agent", "n": 1})

    # the browser rotates: a new epoch reaches Python, and new worker frames decrypt there
    got = js(
        page,
        """
        const out = await session.rotate({ now: a.now });
        const frame = await workerCall("protect", "0102");
        return { out, frame, epoch: session.state().epoch };
        """,
        {"now": time.time()},
    )
    assert [m["type"] for m in got["out"]] == ["e2ee", "key_epoch"] and got["epoch"] == 2
    session.received("p2", got["out"][0]["payload"], now=time.time())
    assert session.unprotect(bytes.fromhex(got["frame"])) == ("p2", b"\x01\x02")
    assert session.participants["p2"].key_epoch == 2

    # Python rotates; the browser follows, old key retired after the grace period
    late_epoch_one = session.protect(b"sent just before the rotation").hex()
    new = [o.to_json() for o in session.rotate(now=time.time())]
    got = js(
        page,
        """
        const r = await session.handle({ type: "e2ee", from: "p1", payload: a.payload }, { now: a.now });
        const frame = await session.unprotect(H(a.frame));
        const polled = await session.poll({ now: a.now + 5 });
        const old = await reasonOf(() => workerCall("unprotect", a.oldFrame));
        return { ev: r.event, pid: frame.pid, pt: X(frame.plaintext), polled, old,
                 removed: updates.filter((u) => u.type === "receiver_remove").map((u) => u.kids.map(String)),
                 state: session.state() };
        """,
        {
            "payload": new[0]["payload"],
            "frame": session.protect(b"epoch two").hex(),
            "oldFrame": late_epoch_one,
            "now": time.time(),
        },
    )
    assert got["ev"]["type"] == "e2ee_key" and (got["pid"], got["pt"]) == ("p1", b"epoch two".hex())
    assert got["polled"] == []
    assert got["removed"] == [[str((1 << 16) | 1)]]
    assert got["old"] == "sframe_unknown_key"  # epoch 1 retired after its grace period
    assert got["state"]["participants"]["agent"]["their_epoch"] == 2

    # the agent's epoch-1 bundle replayed by the gateway is refused (no rollback), and so is
    # the browser's own bundle sent back to it
    got = js(
        page,
        """
        const stale = await session.handle({ type: "e2ee", from: "p1", payload: a.old }, { now: a.now });
        const mine = await session.handle({ type: "e2ee", from: "p1", payload: a.mine }, { now: a.now });
        const nobody = await session.handle({ type: "e2ee", from: "p9", payload: a.old }, { now: a.now });
        return [stale.event, mine.event, nobody.event, session.state().failures];
        """,
        {"old": reply[0]["payload"], "mine": msgs[0]["payload"], "now": time.time()},
    )
    assert [e["reason"] for e in got[:3]] == [
        "bundle_stale_epoch",
        "bundle_wrong_recipient",
        "e2ee_failed",
    ]
    assert got[3][-2:] == ["bundle_stale_epoch", "bundle_wrong_recipient"]

    # the agent leaves: its keys go at once, and the browser starts a new epoch for nobody
    got = js(
        page,
        """
        const out = await session.participantLeft("p1", { now: a.now });
        const late = await reasonOf(() => workerCall("unprotect", a.frame));
        return { out, late, state: session.state(), last: updates[updates.length - 1] };
        """,
        {"frame": session.protect(b"after leave").hex(), "now": time.time()},
    )
    assert got["out"] == [{"type": "key_epoch", "epoch": 3}]
    assert got["late"] == "sframe_unknown_key"
    assert got["state"]["reason"] == "alone" and got["state"]["participants"] == {}


def test_page_mode_session_with_a_hybrid_browser_identity(
    page: Any, browser_ids: dict[str, PublicIdentity], py_ids: dict[str, Identity]
) -> None:
    """Without a worker the session encrypts itself (as the Python SDK does); here the browser
    signs with Ed25519 + ML-DSA-65 and Python verifies both halves, suite 5 on both sides."""
    py = py_ids["py"]
    agent = _participant("a1", 3, "agent", py.public)
    caller = _participant("c1", 4, "caller", browser_ids["jsPq"])
    session = KeyAgreement(py, "room-page-mode", cipher_suite=5)
    session.joined(agent, [], now=time.time())
    out = js(
        page,
        """
        window.pageSession = new E2EE.KeyAgreement({ identity: ids.jsPq, room: "room-page-mode", cipherSuite: 5 });
        pageSession.onKeyUpdate = (u) => { if (u.type === "sender") throw new Error("sender key left the session"); };
        return await pageSession.joined(a.me, [a.agent], { now: a.now });
        """,
        {"me": caller, "agent": agent, "now": time.time()},
    )
    reply = [o.to_json() for o in session.participant_joined(caller, now=time.time())]
    session.received("c1", out[0]["payload"], now=time.time())
    got = js(
        page,
        """
        await pageSession.handle({ type: "e2ee", from: "a1", payload: a.key }, { now: a.now });
        const data = (await pageSession.handle({ type: "data", from: "a1", payload: a.data }, { now: a.now })).event;
        const sent = await pageSession.sendData({ reply: "ok" });
        const frame = X(await pageSession.protect(H("abcd")));
        const sn = pageSession.safetyNumber("a1");
        return { data, sent, frame, sn: [sn.digits, sn.emojiString], state: pageSession.state() };
        """,
        {
            "key": reply[0]["payload"],
            "data": base64.b64encode(session.protect(b'{"n": 5}', DATA_METADATA)).decode(),
            "now": time.time(),
        },
    )
    assert got["data"]["data"] == {"n": 5} and got["data"]["from"] == "a1"
    assert got["state"]["reason"] == "keyed" and got["state"]["cipher_suite"] == 5
    assert [m["to"] for m in got["sent"]] == ["a1"]
    pid, plain = session.unprotect(base64.b64decode(got["sent"][0]["payload"]), DATA_METADATA)
    assert (pid, json.loads(plain)) == ("c1", {"reply": "ok"})
    assert session.unprotect(bytes.fromhex(got["frame"])) == ("c1", bytes.fromhex("abcd"))
    sn = session.safety_number("c1")
    assert got["sn"] == [sn.digits, sn.emoji_string]
