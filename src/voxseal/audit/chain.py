"""The hash chain and the checkpoint signatures, as pure functions over rows (sans-I/O).

Nothing here touches a database, a clock or a file: the writer (:mod:`voxseal.audit.log`) and
the verifier (:mod:`voxseal.audit.verify`) feed it rows, so the security-critical logic can be
read and tested alone, and an independent tool can re-implement it from this page.

Canonical encoding of a record (version 1)
------------------------------------------
The bytes hashed for a record are the UTF-8 encoding of the JSON array::

    ["voxseal.audit.v1", seq, time_us, actor, action, target, outcome, source,
     correlation_id, details, prev_hash_hex]

written with no whitespace (separators ``,`` and ``:``), non-ASCII characters literal (not
``\\u`` escaped), and JSON string escaping exactly as Python's ``json`` module does it
(``\\"``, ``\\\\``, ``\\n``, ``\\r``, ``\\t``, ``\\b``, ``\\f`` and ``\\u00XX`` for the other
control characters). ``seq`` and ``time_us`` (microseconds since the Unix epoch, UTC) are JSON
integers; a missing actor/target/source/correlation id is ``null`` (distinct from ``""``);
``details`` is the record's canonical details JSON *as a string* (an object with sorted keys,
same separators); ``prev_hash_hex`` is the lowercase hex of the previous record's hash.

Why JSON: it is unambiguous (every value is delimited and typed, so no two different records
share an encoding), every SIEM language can reproduce it, and CPython encodes it in C, which is
what lets verification run at several hundred thousand records per second.

The record hash is ``SHA-256(encoding)``; record 1's ``prev_hash`` is :data:`GENESIS_HASH`
(32 zero bytes), and record *n*'s ``prev_hash`` is record *n-1*'s hash.

Checkpoints
-----------
A checkpoint signs, with Ed25519, :func:`checkpoint_payload`: the ASCII tag
``voxseal.audit.checkpoint.v1`` and a NUL, then big-endian unsigned 64-bit checkpoint id, record
count (= head seq, since seqs are gap-free from 1) and time_us, then the 32-byte head hash and
the signer's 32-byte raw public key. Checkpoint ids run 1, 2, 3, ... so a deleted checkpoint
leaves a gap the verifier sees.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from voxseal.errors import AuditChainBroken

#: ``prev_hash`` of the first record
GENESIS_HASH = bytes(32)
RECORD_TAG = "voxseal.audit.v1"
CHECKPOINT_TAG = b"voxseal.audit.checkpoint.v1\x00"

#: column order of a stored record, as the writer inserts and the verifier reads it
RECORD_COLUMNS = (
    "seq",
    "time_us",
    "actor",
    "action",
    "target",
    "outcome",
    "source",
    "correlation_id",
    "details",
    "prev_hash",
    "hash",
)
CHECKPOINT_COLUMNS = ("id", "seq", "head_hash", "time_us", "key_id", "public_key", "signature")

Row = Sequence[Any]


def _no_default(o: object) -> Any:
    raise TypeError(f"{type(o).__name__} is not JSON-serialisable in an audit record")


def _make_array_encoder() -> Callable[[list[Any]], str]:
    """The fastest exact encoder available: the C one if CPython has it, else the pure one.

    Both produce identical text; the C path skips building a ``JSONEncoder`` per call.
    """
    from json import encoder as _enc

    c_make = getattr(_enc, "c_make_encoder", None)
    c_str = getattr(_enc, "c_encode_basestring", None)
    if c_make is not None and c_str is not None:
        c = c_make(None, _no_default, c_str, None, ":", ",", False, False, False)

        def encode(values: list[Any]) -> str:
            return "".join(c(values, 0))

        return encode
    py = json.JSONEncoder(
        ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_no_default
    )
    return py.encode


encode_array = _make_array_encoder()
_details_encoder = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False, default=_no_default
)


def canonical_details(details: Mapping[str, Any]) -> str:
    """Details as canonical JSON text: sorted keys, no whitespace, no NaN/Infinity."""
    if not details:
        return "{}"
    return _details_encoder.encode(details)


def encode_record(
    seq: int,
    time_us: int,
    actor: str | None,
    action: str,
    target: str | None,
    outcome: str,
    source: str | None,
    correlation_id: str | None,
    details: str,
    prev_hash: bytes,
) -> bytes:
    """The canonical bytes of one record (see the module docstring)."""
    return encode_array(
        [
            RECORD_TAG,
            seq,
            time_us,
            actor,
            action,
            target,
            outcome,
            source,
            correlation_id,
            details,
            prev_hash.hex(),
        ]
    ).encode()


def record_hash(*fields: Any) -> bytes:
    """SHA-256 of :func:`encode_record` over the same arguments."""
    return hashlib.sha256(encode_record(*fields)).digest()


def chain_rows(
    first_seq: int, prev_hash: bytes, events: Iterable[tuple[Any, ...]]
) -> list[tuple[Any, ...]]:
    """Link prepared events into stored rows.

    ``events`` are ``(time_us, actor, action, target, outcome, source, correlation_id,
    details_json)``; the result rows are in :data:`RECORD_COLUMNS` order.
    """
    rows = []
    seq = first_seq
    prev = prev_hash
    sha = hashlib.sha256
    enc = encode_array
    tag = RECORD_TAG
    for t, actor, action, target, outcome, source, cid, details in events:
        digest = sha(
            enc(
                [tag, seq, t, actor, action, target, outcome, source, cid, details, prev.hex()]
            ).encode()
        ).digest()
        rows.append((seq, t, actor, action, target, outcome, source, cid, details, prev, digest))
        prev = digest
        seq += 1
    return rows


# --- checkpoints ---------------------------------------------------------------------------


def raw_public_key(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(public_key: Ed25519PublicKey | bytes) -> str:
    """A short stable name for a signing key: hex of the first 16 bytes of SHA-256(raw key)."""
    raw = public_key if isinstance(public_key, bytes) else raw_public_key(public_key)
    return hashlib.sha256(raw).hexdigest()[:32]


def checkpoint_payload(
    checkpoint_id: int, seq: int, time_us: int, head_hash: bytes, public_key_raw: bytes
) -> bytes:
    """The exact bytes a checkpoint signature covers (see the module docstring)."""
    if len(head_hash) != 32 or len(public_key_raw) != 32:
        raise ValueError("head hash and public key must be 32 bytes")
    return (
        CHECKPOINT_TAG
        + struct.pack(">QQQ", checkpoint_id, seq, time_us)
        + head_hash
        + (public_key_raw)
    )


# --- verification --------------------------------------------------------------------------


@dataclass
class VerifyReport:
    """What a verification found. ``ok`` is False exactly when ``broken_seq`` is set.

    ``unanchored`` counts the records after the last checkpoint: a chain alone cannot show
    that records were cut off its end, so those records (and only those) could have been
    truncated without detection. Frequent checkpoints, and copying the latest checkpoint
    somewhere the database's owner cannot write, bound that window.
    """

    records_checked: int = 0
    checkpoints_checked: int = 0
    head_seq: int = 0
    head_hash: bytes = GENESIS_HASH
    last_checkpoint_seq: int = 0
    broken_seq: int | None = None
    problem: str | None = None
    key_ids: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.broken_seq is None

    @property
    def unanchored(self) -> int:
        return max(0, self.head_seq - self.last_checkpoint_seq)

    @property
    def error(self) -> AuditChainBroken | None:
        if self.broken_seq is None:
            return None
        return AuditChainBroken(self.broken_seq, self.problem or "broken")

    def raise_if_broken(self) -> None:
        err = self.error
        if err is not None:
            raise err

    def summary(self) -> dict[str, Any]:
        """The verdict as ``GET /v1/audit/verify`` and the dashboard's audit page show it."""
        return {
            "ok": self.ok,
            "records_checked": self.records_checked,
            "checkpoints_checked": self.checkpoints_checked,
            "head_seq": self.head_seq,
            "unanchored": self.unanchored,
            "broken_seq": self.broken_seq,
            "problem": self.problem,
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "records_checked": self.records_checked,
            "checkpoints_checked": self.checkpoints_checked,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash.hex(),
            "last_checkpoint_seq": self.last_checkpoint_seq,
            "unanchored_records": self.unanchored,
            "broken_seq": self.broken_seq,
            "problem": self.problem,
        }


class ChainVerifier:
    """Checks a stream of stored records and the signed checkpoints against each other.

    Feed records in ascending ``seq`` order (in as many chunks as you like) with
    :meth:`feed`, then call :meth:`finish`. The first problem raises
    :class:`~voxseal.errors.AuditChainBroken` naming the lowest broken seq; checkpoint
    problems found up front are held back until the record stream passes their position, so
    the report always names the *first* broken place.
    """

    def __init__(self, checkpoints: Sequence[Row], public_keys: Iterable[Ed25519PublicKey]) -> None:
        self._trusted = {key_id(k): k for k in public_keys}
        self.report = VerifyReport()
        self._next_seq = 1
        self._prev = GENESIS_HASH
        # seq -> (checkpoint id, signed head hash); checked when the stream reaches seq
        self._anchors: dict[int, tuple[int, bytes]] = {}
        # the lowest-seq problem among the checkpoints themselves
        self._cp_problem: tuple[int, str] | None = None
        self._last_anchor = 0  # seq of the last intact checkpoint passed in the stream
        self._cp_last = (0, 0)  # id and seq of the last checkpoint taken, for continuity
        self._check_checkpoints(checkpoints)
        self._cp_seqs = sorted(self._anchors)
        self._cp_index = 0

    def add_checkpoints(self, checkpoints: Sequence[Row]) -> bool:
        """Take checkpoints signed since this verifier was built, without starting over.

        Only when they all lie ahead of the records already checked (the stream will check
        them as it gets there) and they are intact and continue the ones taken (next ids,
        trusted key, good signature). Otherwise nothing changes and the answer is False: only
        a fresh verifier from record 1 can judge them.
        """
        if self.report.broken_seq is not None or self._cp_problem is not None:
            return False
        head = self._next_seq - 1
        if any(int(row[1]) <= head for row in checkpoints):
            return False
        saved = (
            dict(self._anchors),
            self._cp_last,
            self.report.checkpoints_checked,
            list(self.report.key_ids),
        )
        self._check_checkpoints(checkpoints)
        if self._cp_problem is not None:
            self._anchors, self._cp_last = saved[0], saved[1]
            self.report.checkpoints_checked, self.report.key_ids = saved[2], saved[3]
            self._cp_problem = None
            return False
        self._cp_seqs = sorted(self._anchors)
        self._cp_index = bisect.bisect_right(self._cp_seqs, head)
        return True

    # -- checkpoints ---------------------------------------------------------------------

    def hold(self, seq: int, problem: str) -> None:
        """Note a problem at ``seq`` found outside the record stream (reported in order)."""
        if self._cp_problem is None or seq < self._cp_problem[0]:
            self._cp_problem = (max(seq, 1), problem)

    def _check_checkpoints(self, checkpoints: Sequence[Row]) -> None:
        prev_id, prev_seq = self._cp_last
        for cp_id, seq, head_hash, time_us, kid, public_raw, signature in checkpoints:
            head_hash, public_raw, signature = bytes(head_hash), bytes(public_raw), bytes(signature)
            if cp_id != prev_id + 1:
                self.hold(
                    prev_seq + 1,
                    f"checkpoint #{prev_id + 1} is missing (deleted); the next is #{cp_id}",
                )
            if seq < prev_seq:
                self.hold(seq, f"checkpoint #{cp_id} (seq {seq}) goes back before seq {prev_seq}")
            prev_id, prev_seq = cp_id, max(seq, prev_seq)
            key = self._trusted.get(kid)
            if key is None:
                self.hold(seq, f"checkpoint #{cp_id} is signed by an untrusted key {kid}")
                continue
            if public_raw != raw_public_key(key):
                self.hold(seq, f"checkpoint #{cp_id} records a public key that is not {kid}")
                continue
            try:
                key.verify(
                    signature, checkpoint_payload(cp_id, seq, time_us, head_hash, public_raw)
                )
            except (InvalidSignature, ValueError):
                self.hold(seq, f"checkpoint #{cp_id} has a bad signature")
                continue
            self.report.checkpoints_checked += 1
            if kid not in self.report.key_ids:
                self.report.key_ids.append(kid)
            if seq == 0:
                if head_hash != GENESIS_HASH:
                    self.hold(1, f"checkpoint #{cp_id} of the empty log does not sign genesis")
                continue
            # two checkpoints at the same seq must agree; keep the first to compare with
            if seq in self._anchors and self._anchors[seq][1] != head_hash:
                self.hold(seq, f"checkpoints disagree about the hash of record {seq}")
            self._anchors.setdefault(seq, (cp_id, head_hash))
        self._cp_last = (prev_id, prev_seq)

    # -- records -------------------------------------------------------------------------

    def _broken(self, seq: int, problem: str) -> AuditChainBroken:
        if self._cp_problem is not None and self._cp_problem[0] <= seq:
            seq, problem = self._cp_problem
        self.report.broken_seq = seq
        self.report.problem = problem
        return AuditChainBroken(seq, problem)

    def feed(self, rows: Iterable[Row]) -> None:
        """Check the next records (ascending seq). Raises on the first broken one."""
        if self.report.broken_seq is not None:
            raise self.report.error  # type: ignore[misc]
        expected = self._next_seq
        prev = self._prev
        sha = hashlib.sha256
        enc = encode_array
        tag = RECORD_TAG
        cp_seqs = self._cp_seqs
        ci = self._cp_index
        next_cp = cp_seqs[ci] if ci < len(cp_seqs) else -1
        hold = self._cp_problem[0] if self._cp_problem is not None else -1
        count = 0
        try:
            for seq, t, actor, action, target, outcome, source, cid, details, prev_hash, h in rows:
                if seq != expected or prev_hash != prev:
                    self._diagnose(expected, prev, seq, t, actor, action, target, outcome,
                                   source, cid, details, prev_hash, h)  # fmt: skip
                digest = sha(
                    enc(
                        [
                            tag,
                            seq,
                            t,
                            actor,
                            action,
                            target,
                            outcome,
                            source,
                            cid,
                            details,
                            prev.hex(),
                        ]
                    ).encode()
                ).digest()
                if digest != h:
                    raise self._broken(
                        seq, f"record {seq} was changed: its contents do not match its hash"
                    )
                if seq == next_cp:
                    self._check_anchor(seq, digest)
                    ci += 1
                    next_cp = cp_seqs[ci] if ci < len(cp_seqs) else -1
                if seq == hold:
                    seq_, problem = self._cp_problem  # type: ignore[misc]
                    raise self._broken(seq_, problem)
                prev = digest
                expected += 1
                count += 1
        finally:
            self._next_seq = expected
            self._prev = prev
            self._cp_index = ci
            self.report.records_checked += count
            self.report.head_seq = expected - 1
            self.report.head_hash = prev

    def _diagnose(self, expected: int, prev: bytes, seq: int, *fields: Any) -> None:
        """Name the first broken record when ``seq`` or ``prev_hash`` is not what follows."""
        t, actor, action, target, outcome, source, cid, details, prev_hash, h = fields
        if seq > expected:
            missing = f"{expected}" if seq == expected + 1 else f"{expected}..{seq - 1}"
            raise self._broken(expected, f"record(s) {missing} missing (deleted)")
        if seq < expected:
            raise self._broken(seq, f"record {seq} appears out of order after {expected - 1}")
        # seq is right but prev_hash is not the previous record's hash. If this record is
        # internally consistent, it was written after the true predecessor, which was then
        # rewritten with a recomputed hash: the predecessor is the first broken record.
        own = record_hash(seq, t, actor, action, target, outcome, source, cid, details,
                          bytes(prev_hash))  # fmt: skip
        if own == h and seq > 1:
            raise self._broken(
                seq - 1,
                f"record {seq - 1} was rewritten: record {seq} was chained to a different hash",
            )
        raise self._broken(seq, f"record {seq} does not chain to record {seq - 1} (changed)")

    def _check_anchor(self, seq: int, digest: bytes) -> None:
        cp_id, signed = self._anchors[seq]
        if digest != signed:
            first = self._last_anchor + 1
            raise self._broken(
                first,
                f"records {first}..{seq} were rewritten (chain re-hashed): checkpoint "
                f"#{cp_id} signed a different hash for record {seq}",
            )
        self._last_anchor = seq
        self.report.last_checkpoint_seq = seq

    def finish(self) -> VerifyReport:
        """End of the stream: checkpoints beyond the last record mean the tail was cut."""
        if self.report.broken_seq is not None:
            return self.report
        head = self._next_seq - 1
        beyond = [s for s in self._cp_seqs if s > head]
        if beyond:
            cp_id = self._anchors[beyond[-1]][0]
            try:
                raise self._broken(
                    head + 1,
                    f"records {head + 1}..{beyond[-1]} missing (tail truncated): "
                    f"checkpoint #{cp_id} signed a log of {beyond[-1]} records",
                )
            except AuditChainBroken:
                return self.report
        if self._cp_problem is not None:
            seq, problem = self._cp_problem
            self.report.broken_seq, self.report.problem = seq, problem
        return self.report
