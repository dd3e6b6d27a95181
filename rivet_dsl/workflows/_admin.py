"""Runtime-level workflow operations: history as plain data, ``recover``, replay from a step.

These take the runtime and an actor id (the inspector routes call them).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from .._errors import ActorAbortedError, WorkflowError
from ..runtime._codec import decode_builtins, encode
from ..runtime._instance import Status
from ..runtime._run_handler import restart_workflow
from ..storage import QueueRow
from ._history import ENTRY_PREFIX, META_KEY, PREFIX, Entry, History, split_key

if TYPE_CHECKING:
    from ..runtime._instance import LiveActor
    from ..runtime._runtime import Runtime

__all__ = ["WorkflowInFlightError", "recover", "replay_from_step", "workflow_history"]


class WorkflowInFlightError(WorkflowError):
    """The workflow is running; it can only be replayed or recovered once it has settled."""

    default_group = "actor"
    default_code = "workflow_in_flight"
    default_status = 409

    def __init__(self) -> None:
        super().__init__("Workflow is in flight; wait until it is waiting, completed or failed")


def _output(blob: bytes | None) -> Any:
    return None if blob is None else decode_builtins(blob)


async def workflow_history(runtime: Runtime, actor_id: str) -> dict[str, Any]:
    """The stored history: ``nameRegistry``, ``entries``, ``entryMetadata``, ``state``, output, error."""
    await runtime.storage.commit()  # what is staged becomes visible
    rows = await runtime.storage.load_kv(actor_id, PREFIX)
    history = History.from_rows(rows)
    entries: list[dict[str, Any]] = []
    metadata: dict[str, dict[str, Any]] = {}
    live = runtime._live.get(actor_id)
    engine = None if live is None else live.workflow
    live_loops = {} if engine is None or engine.done else engine.live_loops
    ordered = sorted(history.entries.items(), key=lambda item: (item[1].seq, item[0]))
    for location, entry in ordered:
        entry_id = str(entry.seq)
        data: dict[str, Any] = {}
        if entry.kind == "step":
            data = {"output": _output(entry.output), "error": entry.error}
        elif entry.kind == "loop":
            data = {"iteration": entry.iteration, "state": _output(entry.state), "output": _output(entry.output)}
            if location in live_loops:  # awake: the stored entry is only rewritten at checkpoints
                iteration, state = live_loops[location]
                data["iteration"] = iteration
                data["state"] = _output(encode(state)) if entry.state is not None else None
        elif entry.kind == "sleep":
            data = {"deadline": entry.deadline, "state": entry.status}
        elif entry.kind == "message":
            data = {
                "messages": [
                    {"id": m[0], "name": m[1], "body": decode_builtins(m[2]), "createdAt": m[3], "completed": m[4]}
                    for m in entry.messages or []
                ],
                "deadline": entry.deadline,
            }
        elif entry.kind in ("join", "race"):
            data = {
                "branches": {
                    b: {"status": r.status, "output": _output(r.output), "error": r.error}
                    for b, r in (entry.branches or {}).items()
                },
                "winner": entry.winner,
            }
        elif entry.kind == "removed":
            data = {"originalType": entry.original_type}
        elif entry.kind == "version_check":
            data = {"resolved": entry.resolved}
        entries.append(
            {"id": entry_id, "location": history.readable(location), "kind": entry.kind, "data": data}
        )
        metadata[entry_id] = {
            "status": entry.status,
            "attempts": entry.attempts,
            "lastAttemptAt": entry.last_attempt_at,
            "createdAt": entry.created_at,
            "completedAt": entry.completed_at,
            "error": entry.error,
            "rollbackCompleted": entry.rollback_done,
            "rollbackError": entry.rollback_error,
        }
    meta = history.meta
    return {
        "nameRegistry": list(history.names),
        "entries": entries,
        "entryMetadata": metadata,
        "state": meta.status,
        "output": _output(meta.output),
        "error": meta.error,
    }


@contextlib.asynccontextmanager
async def _held(runtime: Runtime, actor_id: str) -> AsyncIterator[LiveActor]:
    """The awake actor, held awake while an operation rewrites its history: it counts as a
    call in flight, so it cannot idle-sleep between the operation's awaits (a workflow
    restarted on an incarnation that went to sleep meanwhile would run detached from it)."""
    actor = await runtime.acquire(actor_id)
    actor._enter()
    try:
        yield actor
    finally:
        actor._exit()


def _check_awake(actor: LiveActor) -> None:
    """After an await: the actor may have been stopped (shutdown, destroy) meanwhile."""
    if actor.status is not Status.AWAKE:
        raise ActorAbortedError("The actor is stopping")


def _settled(actor: LiveActor) -> bool:
    engine = actor.workflow
    return engine is None or engine.done or engine.active == 0


async def recover(runtime: Runtime, actor_id: str) -> None:
    """Restart a failed workflow: failed/exhausted steps get their attempts back and run again.

    A step whose compensation ran (a rolled-back saga) runs again too: its effect was undone,
    so it cannot count as done. Steps never compensated keep their result and their effect.
    """
    async with _held(runtime, actor_id) as actor:
        await _recover(runtime, actor)


async def _recover(runtime: Runtime, actor: LiveActor) -> None:
    actor_id = actor.actor_id
    engine = actor.workflow
    if engine is not None and not engine.done:
        raise WorkflowInFlightError()
    await runtime.storage.commit()
    history = History.from_rows(await runtime.storage.load_kv(actor_id, PREFIX))
    _check_awake(actor)
    if history.meta.status not in ("failed", "rolling_back"):
        return
    entries = history.entries
    changed: set[bytes] = set()
    redone: list[bytes] = []
    for location, entry in entries.items():
        if entry.status in ("failed", "exhausted"):
            if entry.kind == "step":
                # It runs again: a finished join around it (whose branch caught its error)
                # must run as unfinished, else the branch replays sealed and the path the step
                # now takes is new code there (a divergence).
                redone.append(location)
            entry.status = "pending"
            entry.attempts = 0
            entry.error = None
            entry.last_attempt_at = None
            for branch in (entry.branches or {}).values():
                if branch.status == "failed":
                    branch.status = "pending"
                    branch.error = None
            changed.add(location)
        if entry.kind == "step" and entry.rollback_done:
            # Compensated: its effect was undone, so it runs again (and is compensated again
            # if the workflow fails again).
            entry.status = "pending"
            entry.output = None
            entry.error = None
            entry.attempts = 0
            entry.last_attempt_at = None
            entry.completed_at = None
            entry.rollback_done = False
            entry.rollback_error = None
            changed.add(location)
            redone.append(location)
        elif entry.rollback_error is not None:
            # Its compensation failed, so its effect stands: it stays done (and is compensated
            # if the workflow fails again).
            entry.rollback_error = None
            changed.add(location)
    # A join around a step that runs again (failed, exhausted or compensated) records its
    # branches' new results (a completed join would keep the old ones, and replay its branches
    # sealed). A race keeps its recorded winner, which runs again unsealed (its losers do not
    # run) and records its new value: the race is reopened but keeps ``winner``.
    for location in redone:
        segments = split_key(location)
        for depth in range(1, len(segments)):
            parent = b"".join(segments[:depth])
            enclosing = entries.get(parent)
            if enclosing is None or enclosing.status != "completed":
                continue
            if enclosing.kind == "join" or (enclosing.kind == "race" and enclosing.winner is not None):
                enclosing.status = "pending"
                changed.add(parent)
    batch = runtime.storage.batch
    for location in changed:
        batch.kv_put(actor_id, ENTRY_PREFIX + location, encode(entries[location]))
    history.meta.status = "pending"
    history.meta.error = None
    history.meta.reported = False
    batch.kv_put(actor_id, META_KEY, encode(history.meta))
    actor.persist_wake()  # a crash before the rerun's first commit still resumes it on restart
    await actor.commit()
    restart_workflow(actor)


#: Entries whose finished record short-circuits a replay of what they enclose.
_CONTAINERS = ("loop", "join", "race")


def _find(history: History, target: str) -> tuple[bytes, Entry] | None:
    for location, entry in history.entries.items():
        if history.readable(location) == target:
            return location, entry
    return None


async def replay_from_step(runtime: Runtime, actor_id: str, step: str | None = None) -> None:
    """Delete the step at path ``step`` and everything recorded after it, then rerun the workflow.

    A step inside a loop, join or race rewinds from the outermost of them: that entry and
    everything recorded after it are deleted, so it runs again as a whole. Without ``step`` the
    whole history is deleted and the workflow runs from the beginning. The messages the deleted
    entries took go back to the queue in their places, for the rerun. Refused while the workflow
    is running (it must be waiting, completed or failed).
    """
    async with _held(runtime, actor_id) as actor:
        await _replay_from_step(runtime, actor, step)


async def _replay_from_step(runtime: Runtime, actor: LiveActor, step: str | None) -> None:
    actor_id = actor.actor_id
    if not _settled(actor):
        raise WorkflowInFlightError()
    await runtime.storage.commit()
    history = History.from_rows(await runtime.storage.load_kv(actor_id, PREFIX))
    if step is None:
        cut = -1
    else:
        found = _find(history, step)
        if found is None or found[1].kind != "step":
            raise WorkflowError(f"No step at {step!r} in the workflow history", code="step_not_found", status=404)
        location, entry = found
        cut = entry.seq
        # Rewind from the outermost enclosing loop, join or race, if any: a finished one
        # short-circuits on replay (a completed loop returns its value, a join keeps its
        # branches' recorded statuses, a race replays only its recorded winner), so the step
        # would not run again, or would run under an entry describing a run that is gone.
        segments = split_key(location)
        for depth in range(1, len(segments)):
            parent_entry = history.entries.get(b"".join(segments[:depth]))
            if parent_entry is not None and parent_entry.kind in _CONTAINERS:
                cut = parent_entry.seq
                break
    if not _settled(actor):
        raise WorkflowInFlightError()  # a message woke it while the history loaded
    task = actor._run_task
    if task is not None and not task.done():
        # Waiting: stop the suspended coroutine; it resumes from the rewritten history.
        if actor.workflow is not None:
            actor.workflow.done = True
        task.cancel()
        await asyncio.wait([task])
    _check_awake(actor)
    # From here on nothing awaits until the commit: the deletes, the messages given back and
    # the wake-up are staged together and land in one transaction (another actor's commit
    # cannot carry half of them).
    batch = runtime.storage.batch
    forgotten = [(loc, e) for loc, e in history.entries.items() if e.seq >= cut]
    for location, entry in forgotten:
        batch.kv_delete(actor_id, ENTRY_PREFIX + location)
    history.meta.status = "pending"
    history.meta.output = None
    history.meta.error = None
    history.meta.reported = False
    batch.kv_put(actor_id, META_KEY, encode(history.meta))
    # The messages the forgotten entries took are the rerun's again, in their original places
    # (same seq, so FIFO by arrival): consumed ones go back to the queue, and completable ones
    # held and never completed become visible again (their senders still get the answer).
    queue = actor.queue if actor.definition.queues else None
    if queue is not None:
        for _, entry in forgotten:
            if entry.kind != "message":
                continue
            for seq, name, body, created_at, completed in entry.messages or []:
                if entry.completable and completed:
                    continue  # answered: stays taken
                queue.restore(QueueRow(actor_id, seq, name, body, created_at))  # no-op if still queued
                queue.release(seq, name)  # no-op unless held
    actor.persist_wake()  # a crash before the rerun's first commit still resumes it on restart
    await actor.commit()
    restart_workflow(actor)
