"""The dispatch board's timing rules, on a fake clock (sans-I/O: no sockets needed)."""

from __future__ import annotations

from tests.clock import Clock

from voxseal.signaling.dispatch import ACCEPT_TIMEOUT, KEEP_ENDED, DispatchBoard, JobState


def test_an_unaccepted_job_moves_to_another_worker() -> None:
    clock = Clock(100.0)
    board = DispatchBoard(clock=clock)
    hung = board.register("agent-a", "a", 4)
    job, [first] = board.request("room", None, "backend")
    assert first.worker == hung.id
    healthy = board.register("agent-b", "b", 4)
    clock.now += ACCEPT_TIMEOUT - 1
    assert board.sweep() == []
    clock.now += 2
    [again] = board.sweep()
    assert again.worker == healthy.id and job.attempts == 2 and job.id not in hung.jobs


def test_ended_jobs_are_forgotten_later_and_a_room_can_ask_again() -> None:
    clock = Clock(100.0)
    board = DispatchBoard(clock=clock)
    w = board.register("agent-a", "a", 1)
    job, _ = board.request("room", None, "backend")
    board.accepted(w.id, job.id)
    board.ended(w.id, job.id, "room_empty")
    again, _ = board.request("room", None, "backend")
    assert again.id != job.id and again.state is JobState.ASSIGNED
    clock.now += KEEP_ENDED + 1
    board.sweep()
    assert job.id not in board.jobs and again.id in board.jobs


def test_a_dead_workers_running_call_is_rescued_only_while_its_caller_is_there() -> None:
    """A worker dies mid-call: a live call moves on; a call whose caller hung up ends; a call
    whose caller has not joined yet (agents are asked for first) waits for another worker."""
    board = DispatchBoard(clock=Clock(100.0))
    dead = board.register("agent-a", "a", 4)
    live, _ = board.request("live-room", None, "backend")
    over, _ = board.request("hung-up-room", None, "backend")
    early, _ = board.request("caller-not-yet-here", None, "backend")
    waiting, _ = board.request("not-accepted-room", None, "backend")
    for job in (live, over, early):
        board.accepted(dead.id, job.id)
    board.caller_joined("live-room")
    board.caller_joined("hung-up-room")
    assert waiting.state is JobState.ASSIGNED and not early.caller_seen
    spare = board.register("agent-b", "b", 3)
    moved, ended = board.worker_gone(dead.id, caller_present=lambda room: room == "live-room")
    assert {a.job.id for a in moved} == {live.id, early.id, waiting.id}
    assert all(a.worker == spare.id for a in moved)
    assert ended == [over] and over.state is JobState.ENDED and over.end_reason == "caller_gone"
    # the spare's capacity went to calls that exist or are coming, none to the empty room
    assert spare.jobs == {live.id, early.id, waiting.id}


def test_without_room_knowledge_every_unfinished_job_is_requeued() -> None:
    board = DispatchBoard(clock=Clock(100.0))
    dead = board.register("agent-a", "a", 1)
    job, _ = board.request("room", None, "backend")
    board.accepted(dead.id, job.id)
    board.caller_joined("room")
    assert board.worker_gone(dead.id) == ([], []) and job.state is JobState.PENDING
