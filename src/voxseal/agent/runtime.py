"""One dispatched call, end to end, inside the agent zone.

The worker hands a :class:`~voxseal.agent.worker.Dispatch` to :class:`CallRunner`; it joins the
room through the SDK (E2EE: its own identity, sealed keys), feeds the caller's decrypted audio
to an :class:`~voxseal.agent.pipeline.AgentPipeline` and publishes the pipeline's voice. What
leaves the call is governed by the data subject's consents and the privacy policy:

* transcription runs only while the subject's ``transcription`` consent is granted; the
  stored transcript holds redacted text only (the pipeline never emits anything else);
* the recording is kept only if the policy enables recordings and ``recording`` is granted,
  and only with ``transcription`` too — redaction needs the transcript: spans the redactor
  flagged are silenced (PCI-style) before it is stored, on the transcript's own timeline;
* both go to the vault under the subject's key (ciphertext at rest), and every step is audited.

Consents are re-read every ``consent_poll`` seconds (0.5 s): a withdrawal made anywhere (the
REST API in the gateway process) stops transcription and recording within a second, and what
was recorded before the withdrawal is discarded, never stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from voxseal.agent.pipeline import AgentPipeline, TranscriptEvent
from voxseal.agent.worker import Dispatch
from voxseal.audio import SAMPLE_RATE, wav_bytes
from voxseal.audit.actions import AuditAction
from voxseal.audit.events import AuditContext, AuditSink
from voxseal.identity.rbac import Role
from voxseal.privacy.audio import redact_pcm
from voxseal.privacy.consent import ConsentLedger, Purpose
from voxseal.privacy.policy import PrivacyPolicy
from voxseal.sdk import Audio, RoomClient
from voxseal.vault.vault import Vault

log = logging.getLogger("voxseal.agent")

#: how many finished calls' outcomes a runner keeps for inspection
KEEP_OUTCOMES = 256

#: recordings stop growing after an hour (20 ms frames): bounded memory per call
MAX_RECORDING_FRAMES = 3600 * 50

#: what the runtime writes as: the vault checks transcripts:write / recordings:write against it
AGENT_ROLES = frozenset({Role.AGENT})

PipelineFactory = Callable[..., AgentPipeline]
"""``factory(*, phi, on_transcript, may_transcribe) -> AgentPipeline`` (one per call)."""


@dataclass
class ConsentWatch:
    """The subject's current grants, refreshed from the ledger in the background."""

    ledger: ConsentLedger
    subject_id: str | None
    transcription: bool = False
    recording: bool = False
    withdrawn: set[str] = field(default_factory=set)

    def refresh(self) -> None:
        if self.subject_id is None:
            self.transcription = self.recording = False
            return
        t = self.ledger.is_granted(self.subject_id, Purpose.TRANSCRIPTION)
        r = self.ledger.is_granted(self.subject_id, Purpose.RECORDING)
        if self.transcription and not t:
            self.withdrawn.add(Purpose.TRANSCRIPTION.value)
        if self.recording and not r:
            self.withdrawn.add(Purpose.RECORDING.value)
        self.transcription, self.recording = t, r


@dataclass
class CallOutcome:
    """What a call left behind (ids only), for the worker's report and the tests."""

    job: str
    transcript_id: str | None = None
    recording_id: str | None = None
    utterances: int = 0
    turns: int = 0
    latencies: list[float] = field(default_factory=list)


class CallRunner:
    """Runs dispatched calls for one worker (a ``CallRunner`` is the worker's ``run_call``)."""

    def __init__(
        self,
        url: str,
        *,
        ca_file: Path | None,
        ledger: ConsentLedger,
        vault: Vault,
        audit: AuditSink,
        policy: PrivacyPolicy,
        make_pipeline: PipelineFactory,
        actor: str,
        consent_poll: float = 0.5,
        empty_room_grace: float = 30.0,
    ) -> None:
        self.url = url
        self.ca_file = ca_file
        self.ledger = ledger
        self.vault = vault
        self.audit = AuditContext(audit, actor)
        self.policy = policy
        self.make_pipeline = make_pipeline
        self.actor = actor
        self.consent_poll = consent_poll
        self.empty_room_grace = empty_room_grace
        #: the most recent calls' outcomes by job id, oldest first; bounded (KEEP_OUTCOMES) so
        #: a long-running agent process does not keep every call's summary forever
        self.outcomes: dict[str, CallOutcome] = {}

    async def __call__(self, job: Dispatch) -> str:
        outcome = self.outcomes[job.job] = CallOutcome(job.job)
        while len(self.outcomes) > KEEP_OUTCOMES:
            del self.outcomes[next(iter(self.outcomes))]
        consent = ConsentWatch(self.ledger, job.subject_id)
        await asyncio.to_thread(consent.refresh)
        events: list[TranscriptEvent] = []
        recorded: list[np.ndarray] = []
        caller: list[str] = []  # the identity this pipeline serves (the first human to speak)

        live: list[RoomClient] = []
        sending: set[asyncio.Task[None]] = set()

        def on_transcript(event: TranscriptEvent) -> None:
            """Keep it for the vault, and show it to the caller live — end to end encrypted."""
            events.append(event)
            if live and caller:
                message = {
                    "kind": "transcript",
                    "speaker": event.speaker,
                    "text": event.redacted.text,
                    "start": round(event.start, 2),
                    "end": round(event.end, 2),
                }
                task = asyncio.create_task(live[0].send_data(message, to=caller[0]))
                sending.add(task)
                task.add_done_callback(sending.discard)

        pipeline = self.make_pipeline(
            phi=self.policy.phi_redaction,
            on_transcript=on_transcript,
            may_transcribe=lambda: self.policy.may_transcribe(
                consent_granted=consent.transcription
            ),
        )

        def on_audio(identity: str, pcm: np.ndarray) -> None:
            if identity.startswith("agent:"):
                return
            if not caller:
                caller.append(identity)
            if identity != caller[0]:
                return
            pipeline.feed(pcm)
            # one timeline with the transcript (its silence spans count from the first frame),
            # and only audio the redactor heard: without transcription nothing gets silenced
            if len(recorded) < MAX_RECORDING_FRAMES:
                ok = self.policy.may_record(consent_granted=consent.recording) and (
                    consent.transcription
                )
                recorded.append(pcm if ok else np.zeros_like(pcm))

        room = await RoomClient.connect(
            self.url,
            job.token,
            ca_file=self.ca_file,
            audio=Audio(publish=pipeline.output(), receive_slots=4, on_audio=on_audio),
        )
        live.append(room)
        self._audit(AuditAction.AGENT_CALL_START, job, policy=self.policy.as_dict())
        try:
            reason = await self._serve(room, consent, recorded)
        finally:
            pipeline.end_of_input()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pipeline.idle(), 15)
            await pipeline.aclose()
            await room.leave()
        outcome.turns = len(pipeline.turns)
        outcome.latencies = [t.latency for t in pipeline.turns if t.latency is not None]
        await asyncio.to_thread(consent.refresh)
        await asyncio.to_thread(self._store, job, consent, events, recorded, outcome)
        self._audit(
            AuditAction.AGENT_CALL_END,
            job,
            reason=reason,
            utterances=outcome.utterances,
            transcript=outcome.transcript_id,
            recording=outcome.recording_id,
        )
        return reason

    async def _serve(
        self, room: RoomClient, consent: ConsentWatch, recorded: list[np.ndarray]
    ) -> str:
        """Until the humans leave (or never come): poll consents, drop withdrawn audio."""
        started = time.monotonic()
        seen_human = False
        while True:
            await asyncio.sleep(self.consent_poll)
            await asyncio.to_thread(consent.refresh)
            if Purpose.RECORDING.value in consent.withdrawn:
                recorded.clear()  # withdrawn: what was captured is not ours to keep
            humans = [
                p for p in room.participants.values() if not p["identity"].startswith("agent:")
            ]
            if humans:
                seen_human = True
            elif seen_human:
                return "room_empty"
            elif time.monotonic() - started > self.empty_room_grace:
                return "nobody_came"
            if room.closed is not None:
                return f"closed:{room.closed.close_code}"

    def _store(
        self,
        job: Dispatch,
        consent: ConsentWatch,
        events: list[TranscriptEvent],
        recorded: list[np.ndarray],
        outcome: CallOutcome,
    ) -> None:
        subject = job.subject_id
        if subject is None:
            return
        outcome.utterances = sum(1 for e in events if e.speaker != "agent")
        if (
            events
            and consent.transcription
            and Purpose.TRANSCRIPTION.value not in consent.withdrawn
        ):
            body = {
                "room": job.room,
                "job": job.job,
                "utterances": [
                    {"speaker": e.speaker, "text": e.redacted.text, "start": e.start, "end": e.end}
                    for e in events
                ],
            }
            outcome.transcript_id = self.vault.put(
                subject,
                "transcript",
                json.dumps(body).encode(),
                content_type="application/json",
                actor=self.actor,
                roles=AGENT_ROLES,
                metadata={"room": job.room, "job": job.job, "utterances": len(events)},
            )
        keep = (
            recorded
            and self.policy.may_record(consent_granted=consent.recording)
            and Purpose.RECORDING.value not in consent.withdrawn
            # a recording is kept only with its PII silenced, which needs the transcript
            and consent.transcription
            and Purpose.TRANSCRIPTION.value not in consent.withdrawn
        )
        if keep:
            pcm = np.concatenate(recorded)
            spans = [span for e in events if e.speaker != "agent" for span in e.silence]
            pcm = redact_pcm(pcm, SAMPLE_RATE, spans, mode="silence")
            outcome.recording_id = self.vault.put(
                subject,
                "recording",
                wav_bytes(pcm),
                content_type="audio/wav",
                actor=self.actor,
                roles=AGENT_ROLES,
                metadata={
                    "room": job.room,
                    "job": job.job,
                    "seconds": round(len(pcm) / SAMPLE_RATE, 2),
                    "silenced_spans": len(spans),
                    "silenced_seconds": round(sum(max(0.0, e - s) for s, e in spans), 2),
                    # where (seconds into the recording) the longest silenced span lies
                    **longest_span(spans),
                },
            )

    def _audit(self, action: AuditAction, job: Dispatch, **details: Any) -> None:
        """One event about ``job``'s call: its room, job id and subject, then ``details``.

        Blocking, and a failing log is logged only: the caller is mid-call.
        """
        try:
            self.audit.record(
                action, target=job.room, **{"job": job.job, "subject": job.subject_id, **details}
            )
        except Exception:
            log.exception("could not audit %s", action)


def longest_span(spans: list[tuple[float, float]]) -> dict[str, float]:
    if not spans:
        return {}
    s, e = max(spans, key=lambda span: span[1] - span[0])
    return {"longest_silenced_start": round(s, 3), "longest_silenced_end": round(e, 3)}
