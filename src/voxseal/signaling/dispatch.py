"""Agent dispatch, sans-I/O: which worker takes which room's call, and what happens if it dies.

Workers (``voxseal agent`` processes, ``agent`` service accounts) register with a capacity; a
room asks for an agent (``POST /v1/rooms/{room}/agent``); the board picks the least-loaded live
worker and hands it a job (room, a fresh join token minted by the gateway, the data subject).
A worker that disconnects loses its jobs to the others — unless they already ended — so a
crashed worker costs a call a few seconds, not the call. As in LiveKit's agent dispatch, the
gateway never runs agent code and never sees what the agent hears.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from voxseal.errors import InvalidInput, VoxsealError


class NoAgentAvailable(VoxsealError):
    reason = "no_agent_available"
    http_status = 503


class JobState(StrEnum):
    PENDING = "pending"  # waiting for a worker with capacity
    ASSIGNED = "assigned"
    RUNNING = "running"
    ENDED = "ended"


@dataclass
class Job:
    id: str
    room: str
    subject_id: str | None
    requested_by: str
    state: JobState = JobState.PENDING
    worker: str | None = None
    attempts: int = 0
    end_reason: str | None = None
    #: someone other than an agent has joined the room since the job was created
    caller_seen: bool = False
    #: monotonic time of the last assignment (accept deadline) or of the end (pruning)
    since: float = 0.0

    def public(self) -> dict[str, object]:
        return {
            "id": self.id,
            "room": self.room,
            "subject_id": self.subject_id,
            "state": self.state.value,
            "worker": self.worker,
            "attempts": self.attempts,
            "end_reason": self.end_reason,
        }


@dataclass
class Worker:
    id: str
    principal: str
    name: str
    capacity: int
    jobs: set[str] = field(default_factory=set)

    @property
    def load(self) -> float:
        return len(self.jobs) / self.capacity


@dataclass(frozen=True)
class Assignment:
    """Tell ``worker`` to take ``job`` (the I/O layer mints the join token and sends it)."""

    worker: str
    job: Job


#: the identity a dispatched agent joins rooms as is this prefix and the worker's name
AGENT_IDENTITY_PREFIX = "agent:"
MAX_ATTEMPTS = 3
#: a worker that has not accepted a job this long after it was sent loses it
ACCEPT_TIMEOUT = 30.0
#: ended jobs are forgotten after this long (the audit log keeps their story)
KEEP_ENDED = 3600.0


class DispatchBoard:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.workers: dict[str, Worker] = {}
        self.jobs: dict[str, Job] = {}
        self._ids = itertools.count(1)
        self._clock = clock

    def sweep(self) -> list[Assignment]:
        """Requeue jobs not accepted in time (a hung worker must not hold calls); forget old
        ended jobs. Call periodically."""
        now = self._clock()
        stale: list[tuple[str, Job]] = []
        for job in list(self.jobs.values()):
            if job.state is JobState.ENDED and now - job.since > KEEP_ENDED:
                del self.jobs[job.id]
            elif job.state is JobState.ASSIGNED and now - job.since > ACCEPT_TIMEOUT:
                stale.append((job.worker or "", job))
        out: list[Assignment] = []
        for worker_id, job in stale:
            if worker_id in self.workers:
                self.workers[worker_id].jobs.discard(job.id)
            job.state, job.worker = JobState.PENDING, None
            out += self._assign_pending(exclude={worker_id})
        return out

    def register(self, principal: str, name: str, capacity: int) -> Worker:
        if not isinstance(capacity, int) or isinstance(capacity, bool) or not 1 <= capacity <= 256:
            raise InvalidInput("capacity must be 1..256 concurrent calls", reason="bad_message")
        if not isinstance(name, str) or not 1 <= len(name) <= 64 or not name.isprintable():
            raise InvalidInput("name must be 1..64 printable characters", reason="bad_message")
        wid = f"AW_{next(self._ids)}_{secrets.token_hex(3)}"
        worker = Worker(wid, principal, name, capacity)
        self.workers[wid] = worker
        return worker

    def request(
        self, room: str, subject_id: str | None, requested_by: str
    ) -> tuple[Job, list[Assignment]]:
        """A room asks for an agent; one active job per room (asking twice returns it)."""
        for job in self.jobs.values():
            if job.room == room and job.state is not JobState.ENDED:
                return job, []
        job = Job(f"AJ_{next(self._ids)}_{secrets.token_hex(3)}", room, subject_id, requested_by)
        self.jobs[job.id] = job
        return job, self._assign_pending()

    def accepted(self, worker_id: str, job_id: str) -> Job:
        job = self._job_of(worker_id, job_id)
        job.state = JobState.RUNNING
        return job

    def ended(self, worker_id: str, job_id: str, reason: str) -> tuple[Job, list[Assignment]]:
        job = self._job_of(worker_id, job_id)
        self.workers[worker_id].jobs.discard(job_id)
        job.state, job.end_reason = JobState.ENDED, str(reason)[:64]
        job.since = self._clock()
        return job, self._assign_pending()

    def rejected(self, worker_id: str, job_id: str) -> list[Assignment]:
        """A worker declined (full, or the call failed to start): try someone else."""
        job = self._job_of(worker_id, job_id)
        self.workers[worker_id].jobs.discard(job_id)
        job.state, job.worker = JobState.PENDING, None
        return self._assign_pending(exclude={worker_id})

    def caller_joined(self, room: str) -> None:
        """A participant other than an agent joined ``room``: its live job has a caller."""
        for job in self.jobs.values():
            if job.room == room and job.state is not JobState.ENDED:
                job.caller_seen = True

    def worker_gone(
        self, worker_id: str, *, caller_present: Callable[[str], bool] = lambda room: True
    ) -> tuple[list[Assignment], list[Job]]:
        """A worker disconnected or died: its live jobs go back to the queue.

        Returns the new assignments and the jobs that ended instead. A running job whose
        caller has come *and gone* (``caller_seen`` and not ``caller_present(room)``) ends as
        ``caller_gone``: there is no call left to rescue, and handing it to the next worker
        would spend that worker's capacity on an empty room while new calls wait. A job whose
        caller has not joined yet is requeued, since the agent is usually asked for first.
        """
        worker = self.workers.pop(worker_id, None)
        if worker is None:
            return [], []
        ended: list[Job] = []
        for job_id in worker.jobs:
            job = self.jobs[job_id]
            if job.state is JobState.ENDED:
                continue
            if job.state is JobState.RUNNING and job.caller_seen and not caller_present(job.room):
                job.state, job.end_reason = JobState.ENDED, "caller_gone"
                job.since = self._clock()
                ended.append(job)
            else:
                job.state, job.worker = JobState.PENDING, None
        return self._assign_pending(), ended

    def _job_of(self, worker_id: str, job_id: object) -> Job:
        job = self.jobs.get(job_id) if isinstance(job_id, str) else None
        if job is None or job.worker != worker_id:
            raise InvalidInput("no such job for this worker", reason="unknown_job")
        return job

    def _assign_pending(self, exclude: set[str] | frozenset[str] = frozenset()) -> list[Assignment]:
        out = []
        for job in self.jobs.values():
            if job.state is not JobState.PENDING:
                continue
            if job.attempts >= MAX_ATTEMPTS:
                job.state, job.end_reason = JobState.ENDED, "no_worker_could_take_it"
                job.since = self._clock()
                continue
            free = [
                w for w in self.workers.values() if len(w.jobs) < w.capacity and w.id not in exclude
            ]
            if not free:
                continue
            worker = min(free, key=lambda w: (w.load, w.id))
            worker.jobs.add(job.id)
            job.state, job.worker = JobState.ASSIGNED, worker.id
            job.attempts += 1
            job.since = self._clock()
            out.append(Assignment(worker.id, job))
        return out
