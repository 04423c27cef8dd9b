"""``voxseal call``: a command-line participant on the SDK (what ``lk room join`` is to LiveKit).

    voxseal call https://localhost:8443 --token "$T" --ca dev-ca.pem \\
        --play hello.wav --record heard.wav --expect-peer agent-1

It exists so that a person (or a CI job) can check a deployment end to end without writing
code: join with E2EE, speak a WAV into the room, record what comes back, and read the safety
numbers aloud to the other side. Everything it prints is something you would want to verify —
who is there, which keys are in place, whether any frame was refused — and every way it can
fail ends in one line on stderr and a distinct exit status:

====  ======================================================================================
 0    the call ran; every frame that arrived decrypted
 2    bad input: unreadable/unsupported WAV, bad URL, missing CA file, bad --duration/--record
 3    could not join or was cut off: token refused (the gateway's reason and close code),
      gateway unreachable or untrusted, no publish grant for --play, media did not come up,
      removed from the room
 4    E2EE failed: an --expect-peer never got keys both ways within 15 s (or before the call
      ended), a participant's sealed key was refused, frames failed authentication / replay checks,
      or audio arrived that we could not decrypt at all
====  ======================================================================================

Recording (``--record OUT.wav``): ``OUT.wav`` is the mix of every remote participant and
``OUT-<identity>.wav`` holds each one alone, all 48 kHz mono 16-bit on one timeline that starts
when we join (so the files line up; a participant's file begins with silence until they speak).
Frames are placed back to back per participant and re-anchored to the clock after a gap of more
than 200 ms, so packet jitter does not become clicks and a pause stays a pause.

Playing (``--play FILE.wav``): any PCM WAV (see :mod:`voxseal.audio.wav`) is converted to 48 kHz
mono on the fly. With ``--expect-peer`` playback waits until those peers are keyed, so they
hear it from the start. Without ``--duration`` the call ends about a second after the file; with
it, the call lasts that long from joining (the file plays once, then silence). With neither
``--play`` nor ``--duration`` it stays until interrupted (Ctrl-C / SIGTERM end it cleanly).

The join token is a bearer credential: it is never printed, and it is scrubbed from any message
that might echo it back.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import re
import signal
import ssl
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TextIO

import numpy as np

from voxseal.audio import FRAME_SAMPLES, SAMPLE_RATE, InvalidWav, PcmFramer, WavSource, WavWriter
from voxseal.crypto.sframe import CipherSuite
from voxseal.errors import InvalidInput, PermissionDenied, VoxsealError
from voxseal.sdk.client import E2EE_ERROR, Audio, JoinRefused, RoomClient, RoomClosed, rtc_url
from voxseal.sdk.key_agreement import E2EEError
from voxseal.signaling.protocol import MessageType
from voxseal.signaling.tls import client_context

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_E2EE_FAILED",
    "EXIT_JOIN_REFUSED",
    "EXIT_OK",
    "CallFailed",
    "Recording",
    "cmd_call",
    "run_call",
]

EXIT_OK: Final = 0
EXIT_BAD_INPUT: Final = 2
EXIT_JOIN_REFUSED: Final = 3
EXIT_E2EE_FAILED: Final = 4
#: a failure nobody planned for (a bug): still one line, never a traceback
EXIT_UNEXPECTED: Final = 1

#: how long an --expect-peer may take to be keyed both ways
KEY_TIMEOUT: Final = 15.0
#: how long to stay after the file has played, so its last frames and any reply arrive
TAIL: Final = 1.0
#: joining (WSS + TLS + media negotiation) must finish within this
JOIN_TIMEOUT: Final = 15.0
#: frame-rejection reasons that mean tampering or a broken participant, not a benign race
_HOSTILE: Final = frozenset({"sframe_auth_failed", "sframe_replay", "sframe_malformed"})


def _suite_name(suite: Any) -> str:
    try:
        return f"SFrame {CipherSuite(suite).name}"
    except ValueError:
        return f"SFrame cipher suite {suite}"


class CallFailed(VoxsealError):
    """Why a call ended badly, and the exit status that says so."""

    reason = "call_failed"

    def __init__(self, exit_code: int, message: str) -> None:
        self.exit_code = exit_code
        super().__init__(message)


# -- recording -------------------------------------------------------------------------------


def _file_safe(identity: str) -> str:
    """An identity as a file-name fragment (identities are chosen by token issuers, not us)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", identity).lstrip(".") or "participant"


@dataclass
class _Track:
    writer: WavWriter
    pos: int | None = None  # timeline position (samples) where this participant's next frame goes


class Recording:
    """``OUT.wav`` (everyone mixed) plus ``OUT-<identity>.wav`` per participant, streamed.

    All files share one timeline, sample 0 = :meth:`start`. Each participant's frames are laid
    back to back from where the first one arrived, and re-anchored to the clock when one arrives
    more than ``resync`` seconds late (loss, a pause, a rejoin). The mix is summed in a small
    buffer ``lag`` seconds behind the clock, then written — memory stays flat on long calls.
    """

    def __init__(
        self,
        path: Path,
        *,
        clock: Callable[[], float] = time.monotonic,
        lag: float = 1.0,
        resync: float = 0.2,
    ) -> None:
        self.path = path
        self._clock = clock
        self._lag = round(lag * SAMPLE_RATE)
        self._resync = round(resync * SAMPLE_RATE)
        self._t0: float | None = None
        self._mix: WavWriter | None = None
        self._tracks: dict[str, _Track] = {}
        self._acc = np.zeros(0, dtype=np.int32)  # mix samples [_acc_start, _acc_start + len)
        self._acc_start = 0

    def start(self) -> None:
        self._t0 = self._clock()
        self._mix = WavWriter(self.path)

    def participant_path(self, identity: str) -> Path:
        base = self.path.with_name(f"{self.path.stem}-{_file_safe(identity)}{self.path.suffix}")
        taken = {t.writer.path for t in self._tracks.values()} | {self.path}
        n = 2
        candidate = base
        while candidate in taken:  # two identities that sanitise to the same name
            candidate = base.with_name(f"{base.stem}-{n}{base.suffix}")
            n += 1
        return candidate

    @property
    def files(self) -> list[Path]:
        return [self.path, *(t.writer.path for t in self._tracks.values())]

    def _now(self) -> int:
        assert self._t0 is not None
        return round((self._clock() - self._t0) * SAMPLE_RATE)

    def add(self, identity: str, pcm: np.ndarray) -> None:
        """20 ms (or any length) of one participant's decoded audio, just arrived."""
        if self._mix is None:
            return
        now = self._now()
        track = self._tracks.get(identity)
        if track is None:
            track = self._tracks[identity] = _Track(WavWriter(self.participant_path(identity)))
        n = len(pcm)
        if track.pos is None or now - n - track.pos > self._resync:
            anchor = max(now - n, self._acc_start, track.pos or 0)
            track.writer.silence(anchor - (track.pos or 0))
            track.pos = anchor
        track.writer.write(pcm)
        offset, end = track.pos - self._acc_start, track.pos - self._acc_start + n
        if end > len(self._acc):
            self._acc = np.concatenate((self._acc, np.zeros(end - len(self._acc), np.int32)))
        self._acc[offset:end] += pcm.astype(np.int32)
        track.pos += n
        self._flush(now - self._lag)

    def _flush(self, upto: int) -> None:
        n = upto - self._acc_start
        if n <= 0 or self._mix is None:
            return
        if n > len(self._acc):
            self._acc = np.concatenate((self._acc, np.zeros(n - len(self._acc), np.int32)))
        self._mix.write(np.clip(self._acc[:n], -32768, 32767).astype(np.int16))
        self._acc = self._acc[n:]
        self._acc_start = upto

    def close(self) -> float:
        """Write out the rest (the mix runs to now); returns the mix's length in seconds."""
        if self._mix is None:
            return 0.0
        ends = [t.pos for t in self._tracks.values() if t.pos is not None]
        self._flush(max([self._now(), *ends]))
        seconds = self._mix.seconds
        for w in (self._mix, *(t.writer for t in self._tracks.values())):
            w.close()
        self._mix = None
        return seconds

    def discard(self) -> None:
        """We never got into the room: leave no empty recording behind."""
        self.close()
        for f in self.files:
            with contextlib.suppress(OSError):
                f.unlink()


# -- playing ---------------------------------------------------------------------------------


class Playback:
    """The published audio: silence while held, then the file once, then silence."""

    def __init__(
        self,
        source: WavSource,
        hold: asyncio.Event | None,
        on_error: Callable[[InvalidWav], None],
    ) -> None:
        self.source = source
        self._hold = hold
        self._on_error = on_error
        self.finished = asyncio.Event()

    async def frames(self) -> AsyncIterator[np.ndarray]:
        silence = np.zeros(FRAME_SAMPLES, dtype=np.int16)
        # the track pulls one frame per 20 ms, so each yield is a 20 ms tick of the hold
        while self._hold is not None and not self._hold.is_set():
            yield silence
        framer = PcmFramer()
        try:
            for chunk in self.source.chunks():
                for frame in framer.push(chunk):
                    yield frame
            last = framer.flush()
            if last is not None:
                yield last
        except InvalidWav as exc:  # the header was fine but reading the data failed
            self._on_error(exc)
        finally:
            self.finished.set()
        while True:
            yield silence


# -- the call --------------------------------------------------------------------------------


@dataclass
class _Plan:
    """Everything checked before we touch the network."""

    ssl_context: ssl.SSLContext
    source: WavSource | None
    recording: Recording | None


def _check_inputs(
    url: str,
    token: str,
    play: Path | None,
    record: Path | None,
    duration: float | None,
    ca_file: Path | None,
) -> _Plan:
    rtc_url(url)  # https:// or wss:// only; raises VoxsealError(bad_url)
    if not token.strip():
        raise InvalidInput("the join token is empty", reason="bad_token")
    if duration is not None and not (math.isfinite(duration) and duration > 0):
        raise InvalidInput("--duration must be a positive number of seconds")
    if ca_file is not None:
        if not ca_file.is_file():
            raise InvalidInput(f"CA file {ca_file} does not exist", reason="bad_ca_file")
        try:
            ctx = client_context(ca_file)
        except (ssl.SSLError, OSError, ValueError):
            raise InvalidInput(
                f"CA file {ca_file} is not a PEM certificate", reason="bad_ca_file"
            ) from None
    else:
        ctx = client_context(None)
    recording = None
    if record is not None:
        folder = record.parent if str(record.parent) else Path(".")
        if not folder.is_dir() or not os.access(folder, os.W_OK):
            raise InvalidInput(
                f"cannot write {record}: no such writable folder", reason="bad_record"
            )
        if record.is_dir():
            raise InvalidInput(f"cannot write {record}: it is a folder", reason="bad_record")
        recording = Recording(record)
    source = WavSource(play) if play is not None else None
    return _Plan(ctx, source, recording)


class _Call:
    """One run of ``voxseal call``: joins, watches, plays, records, reports."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        play: Path | None,
        record: Path | None,
        duration: float | None,
        ca_file: Path | None,
        out: TextIO,
        err: TextIO,
        expect_peers: Sequence[str],
        key_timeout: float,
    ) -> None:
        self.url, self._token = url, token
        self.play, self.record, self.duration, self.ca_file = play, record, duration, ca_file
        self.out, self.err = out, err
        self.expect = list(dict.fromkeys(expect_peers))
        self.key_timeout = key_timeout
        self.room: RoomClient | None = None
        self.recording: Recording | None = None
        self.playback: Playback | None = None
        self.failures: list[CallFailed] = []
        self.stop = asyncio.Event()
        self.expected_ready = asyncio.Event()
        self._names: dict[str, str] = {}  # participant id → identity (kept after they leave)
        self._announced: set[str] = set()  # participant ids whose safety number we printed
        self._heard: set[str] = set()
        self._epoch = 0
        self._their_epochs: dict[str, Any] = {}

    # -- output ---------------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "<token>") if self._token else text

    def say(self, line: str) -> None:
        print(self._scrub(line), file=self.out, flush=True)

    def fail(self, code: int, message: str) -> None:
        self.failures.append(CallFailed(code, self._scrub(message)))
        self.stop.set()

    # -- callbacks and watchers -----------------------------------------------------------

    def _on_audio(self, identity: str, pcm: np.ndarray) -> None:
        if identity not in self._heard:
            self._heard.add(identity)
            self.say(f"hearing {identity} (decrypted audio)")
        if self.recording is not None:
            self.recording.add(identity, pcm)

    def _check_keys(self) -> None:
        """Print each participant's safety number once E2EE is up both ways; note our rekeys."""
        room = self.room
        assert room is not None
        for pid, p in list(room.participants.items()):
            if pid == room.me["id"] or pid in self._announced:
                continue
            if room.session.ready_with(pid):
                self._announced.add(pid)
                sn = room.session.safety_number(pid)
                self.say(f"E2EE keyed with {p['identity']}")
                self.say(f"  safety number with {p['identity']}: {sn.digits}")
                self.say(f"  safety emoji with {p['identity']}:  {sn.emoji_string}")
        epoch = room.session.epoch
        if epoch != self._epoch:
            if self._epoch:
                self.say(f"rekeyed: our sender key is now epoch {epoch}")
            self._epoch = epoch

    async def _watch(self) -> None:
        room = self.room
        assert room is not None
        self._check_keys()
        async for ev in room.events():
            kind = ev["type"]
            if kind == MessageType.PARTICIPANT_JOINED:
                p = ev["participant"]
                self._names[p["id"]] = p["identity"]
                self.say(f"+ {p['identity']} joined")
            elif kind == MessageType.PARTICIPANT_LEFT:
                who = self._names.get(ev["id"], ev["id"])
                self.say(f"- {who} left")
            elif kind == E2EE_ERROR:
                who = self._names.get(ev.get("participant", ""), ev.get("participant", "?"))
                self.say(f"! E2EE error with {who}: {ev.get('detail', '')}")
                self.fail(EXIT_E2EE_FAILED, f"E2EE failed with {who}: {ev.get('detail', '')}")
            elif kind == MessageType.KEY_EPOCH:
                pid, epoch = ev.get("id", ""), ev.get("epoch")
                before = self._their_epochs.get(pid)
                self._their_epochs[pid] = epoch
                if before is not None and epoch != before:  # the first announcement is no news
                    self.say(f"{self._names.get(pid, pid)} rotated its key: epoch {epoch}")
            self._check_keys()
        closed = room.closed
        if not self.stop.is_set():
            code = closed.close_code if closed else None
            detail = str(closed) if closed else "connection closed"
            self.fail(
                EXIT_JOIN_REFUSED, f"disconnected by the gateway: {detail} (close code {code})"
            )

    async def _expect(self) -> None:
        room = self.room
        assert room is not None
        try:
            await asyncio.gather(*(room.wait_keyed(n, self.key_timeout) for n in self.expect))
        except E2EEError as exc:
            self.fail(EXIT_E2EE_FAILED, str(exc))
            return
        except RoomClosed:
            return  # _watch reports the disconnect
        self.expected_ready.set()

    async def _until_done(self) -> None:
        if self.duration is not None:
            await asyncio.sleep(self.duration)
        elif self.playback is not None:
            await self.playback.finished.wait()
            await asyncio.sleep(TAIL)
        else:
            await asyncio.Event().wait()  # until Ctrl-C / SIGTERM / a failure

    # -- the run --------------------------------------------------------------------------

    async def run(self) -> int:
        try:
            plan = _check_inputs(
                self.url, self._token, self.play, self.record, self.duration, self.ca_file
            )
        except VoxsealError as exc:
            return self._finish_early(EXIT_BAD_INPUT, str(exc))
        try:
            return await self._run(plan)
        finally:
            if plan.source is not None:
                plan.source.close()

    def _finish_early(self, code: int, message: str) -> int:
        print(f"voxseal call: {self._scrub(message)}", file=self.err, flush=True)
        return code

    async def _join(self, plan: _Plan) -> RoomClient | int:
        if plan.source is not None:
            hold = self.expected_ready if self.expect else None
            self.playback = Playback(
                plan.source, hold, lambda exc: self.fail(EXIT_BAD_INPUT, str(exc))
            )
        self.recording = plan.recording
        if self.recording is not None:
            self.recording.start()
        audio = Audio(
            publish=self.playback.frames() if self.playback else None,
            receive_slots=4,
            on_audio=self._on_audio,
        )
        code, message = EXIT_OK, ""
        try:
            return await RoomClient.connect(
                self.url,
                self._token,
                ssl_context=plan.ssl_context,
                audio=audio,
                timeout=JOIN_TIMEOUT,
            )
        except JoinRefused as exc:
            code = EXIT_JOIN_REFUSED
            message = f"{exc} (close code {exc.close_code})" if exc.close_code else str(exc)
        except PermissionDenied as exc:
            code, message = EXIT_JOIN_REFUSED, f"{exc}; join without --play or get a publish grant"
        except E2EEError as exc:
            code, message = EXIT_E2EE_FAILED, f"E2EE could not be set up: {exc}"
        except RoomClosed as exc:
            code, message = EXIT_JOIN_REFUSED, f"disconnected while joining: {exc}"
        except VoxsealError as exc:  # media negotiation (DTLS-SRTP) did not come up
            code, message = EXIT_JOIN_REFUSED, f"media could not be set up: {exc} [{exc.reason}]"
        except TimeoutError:
            code, message = EXIT_JOIN_REFUSED, "the gateway did not answer the media offer in time"
        if self.recording is not None:
            self.recording.discard()
        return self._finish_early(code, message)

    async def _run(self, plan: _Plan) -> int:
        joined = await self._join(plan)
        if isinstance(joined, int):
            return joined
        room = self.room = joined
        me = room.me
        self._names.update({pid: p["identity"] for pid, p in room.participants.items()})
        self.say(
            f"joined room {room.room} as {me['identity']} (participant {me['id']},"
            f" grants: {', '.join(me.get('grants', [])) or 'none'}), E2EE on"
        )
        others = sorted(p["identity"] for pid, p in room.participants.items() if pid != me["id"])
        self.say(f"in the room: {', '.join(others) if others else 'nobody else yet'}")
        if self.playback is not None:
            info = self.playback.source.info
            when = f", once E2EE is up with {', '.join(self.expect)}" if self.expect else ""
            self.say(f"playing {info.name} ({info.describe()} → 48 kHz mono){when}")
        if self.recording is not None:
            self.say(f"recording to {self.recording.path} (+ per-participant files)")

        loop = asyncio.get_running_loop()
        installed = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self.stop.set)
                installed.append(sig)
        tasks = [asyncio.create_task(self._watch())]
        if self.expect:
            tasks.append(asyncio.create_task(self._expect()))
        done = asyncio.create_task(self._until_done())
        stopped = asyncio.create_task(self.stop.wait())
        try:
            await asyncio.wait({done, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)
            self.stop.set()  # from here on a closing connection is ours, not a failure
            for t in (done, stopped, *tasks):
                t.cancel()
            for t in (done, stopped, *tasks):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
            await self._report_and_leave(room)
        if self.failures:
            first = self.failures[0]
            return self._finish_early(first.exit_code, str(first))
        return EXIT_OK

    async def _report_and_leave(self, room: RoomClient) -> None:
        """Check what E2EE and the media path say, print it, leave, close the recording."""
        stats = None
        with contextlib.suppress(Exception):
            stats = await room.media_stats()
        state = room.e2ee_state
        self._check_expected()
        self._check_frames(room, stats)
        await room.leave()

        decrypted = stats.receive.per_participant if stats is not None else {}
        keyed = [
            f"{self._names.get(pid, pid)} ({decrypted.get(pid, 0)} frames decrypted)"
            for pid in sorted(self._announced, key=lambda p: self._names.get(p, p))
        ]
        rejected = sum(room.rejected_frames.values())
        by_reason = ", ".join(f"{k}: {v}" for k, v in sorted(room.rejected_frames.items()))
        self.say(
            f"E2EE: epoch {state.get('epoch')}, {_suite_name(state.get('cipher_suite'))},"
            f" peers keyed during the call: {', '.join(keyed) or 'none'},"
            f" rejected frames: {rejected}{f' ({by_reason})' if by_reason else ''},"
            f" key failures: {', '.join(state.get('failures', [])) or 'none'}"
        )
        if stats is not None:
            send, recv = stats.send, stats.receive
            sent = f"sent {send.frames_sent} frames" if send else "not publishing"
            self.say(
                f"media: {stats.srtp_profile or 'no SRTP'}"
                f" (SRTP auth failures {stats.srtp_rtp_failures}), {sent},"
                f" received {recv.frames_received}, decrypted {recv.frames_decrypted},"
                f" decoded {recv.frames_decoded}, RTP lost {stats.rtp_packets_lost},"
                f" jitter {stats.rtp_jitter / (SAMPLE_RATE / 1000):.1f} ms"
            )
        if self.recording is not None:
            seconds = self.recording.close()
            files = ", ".join(str(f) for f in self.recording.files)
            self.say(f"recorded {seconds:.1f} s: {files}")

    def _check_expected(self) -> None:
        if any(f.exit_code == EXIT_E2EE_FAILED for f in self.failures):
            return  # already explained (timeout or refused key)
        keyed = {self._names.get(pid) for pid in self._announced}
        for name in self.expect:
            if name not in keyed:
                seen = name in self._names.values()
                self.fail(
                    EXIT_E2EE_FAILED,
                    f"end-to-end encryption with {name!r} was not established before the call"
                    f" ended ({name!r} {'joined but was never keyed' if seen else 'never joined'})",
                )

    def _check_frames(self, room: RoomClient, stats: Any) -> None:
        """Tampered, replayed or undecryptable media fails the call: never silent ciphertext."""
        hostile = {k: v for k, v in room.rejected_frames.items() if k in _HOSTILE}
        if hostile:
            detail = ", ".join(f"{k}: {v}" for k, v in sorted(hostile.items()))
            self.fail(EXIT_E2EE_FAILED, f"media frames failed E2EE checks ({detail})")
        if stats is None:
            return
        if stats.srtp_rtp_failures:
            self.fail(
                EXIT_E2EE_FAILED, f"{stats.srtp_rtp_failures} SRTP packets failed authentication"
            )
        recv = stats.receive
        if recv.unknown_key and not recv.frames_decrypted:
            self.fail(
                EXIT_E2EE_FAILED,
                f"received {recv.unknown_key} media frames and could decrypt none"
                " (no key from their sender)",
            )


async def run_call(
    url: str,
    token: str,
    *,
    play: Path | None,
    record: Path | None,
    duration: float | None,
    ca_file: Path | None,
    out: TextIO,
    expect_peers: Sequence[str] = (),
    err: TextIO | None = None,
    key_timeout: float = KEY_TIMEOUT,
) -> int:
    """Run one call; returns the exit status (see the module docstring). Never raises for a
    failure it can explain: that is a line on ``err`` (default stderr) and a status."""
    call = _Call(
        url,
        token,
        play=play,
        record=record,
        duration=duration,
        ca_file=ca_file,
        out=out,
        err=err or sys.stderr,
        expect_peers=expect_peers,
        key_timeout=key_timeout,
    )
    try:
        return await call.run()
    except Exception as exc:  # a bug, but the user still gets one line, not a traceback
        return call._finish_early(EXIT_UNEXPECTED, f"unexpected error: {type(exc).__name__}: {exc}")


def cmd_call(args: argparse.Namespace, out: TextIO) -> int:
    """``voxseal call`` as registered by :mod:`voxseal.cli` (``--data-dir`` is not used)."""

    def path(value: str | None) -> Path | None:
        return Path(value) if value else None

    # a token on the command line is visible to every local user (ps); prefer the environment
    token = args.token or os.environ.get("VOXSEAL_TOKEN", "")
    if not token:
        print("voxseal call: no join token: pass --token or set VOXSEAL_TOKEN", file=sys.stderr)
        return EXIT_BAD_INPUT
    return asyncio.run(
        run_call(
            args.url,
            token,
            play=path(args.play),
            record=path(args.record),
            duration=args.duration,
            ca_file=path(args.ca),
            out=out,
            expect_peers=getattr(args, "expect_peer", None) or (),
        )
    )
