"""One live (awake) actor: lifecycle, action dispatch, state persistence, connections, alarms.

A ``LiveActor`` exists only while the actor is awake; sleeping actors cost nothing but their
rows in storage. It implements :class:`rivet_dsl.actor._host.ActorHost` for the user's actor
object. Idle actors hold no tasks and no futures (see ``ARCHITECTURE.md``, "Cheap idle actors").
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import logging
from collections import ChainMap
from collections.abc import Callable, Mapping
from contextvars import ContextVar, Token
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import msgspec

from .._errors import (
    ActionNotFoundError,
    ActionTimedOutError,
    ActorAbortedError,
    ActorNotFoundError,
    ConnHookTimedOutError,
    InternalError,
    RivetError,
    StorageError,
    WorkflowError,
)
from ..actor._definition import ActorDefinition
from ..actor._guard import check_step_access
from ..storage import ActorRecord
from ._clock import within
from ._codec import decode_builtins, decoder_for, encode, to_builtins, validate
from ._connection import Conn
from ._keys import deserialize_key
from ._queue import SEQ_KEY, ActorQueue, reserved_seq
from ._schedule import Schedule

if TYPE_CHECKING:
    from ..client import Client
    from ._runtime import Runtime

__all__ = ["LiveActor", "Status", "wait_durable"]

_log = logging.getLogger("rivet_dsl.actor")

#: The connection of the action being executed (``self.conn``).
current_conn: ContextVar[Conn | None] = ContextVar("rivet_current_conn", default=None)

_EMPTY_CONNS: Mapping[str, Conn] = MappingProxyType({})

#: The actor whose workflow step is running in this context (its user code and what it calls).
_step_of: ContextVar[LiveActor | None] = ContextVar("rivet_step_of", default=None)


class Status(enum.Enum):
    """Lifecycle of a live actor."""

    STARTING = "starting"  #: loading, creating, running on_create/on_wake
    AWAKE = "awake"  #: serving actions
    STOPPING = "stopping"  #: sleeping or being destroyed: hooks and final save in progress
    STOPPED = "stopped"  #: gone from memory; the next call loads a new LiveActor
    CRASHED = "crashed"  #: dropped without hooks or a final save (restart, storage failure)


async def wait_durable(future: asyncio.Future[None] | None) -> None:
    """Await a shared commit future (uncancellable by design: see ``Storage.commit``)."""
    if future is None:
        return
    await future


async def _maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


class LiveActor:
    """The runtime side of one awake actor (``self._rivet`` of the user's actor object)."""

    __slots__ = (
        "_aborted",
        "_conns",
        "_destroy_requested",
        "_destroyed",
        "_destroying",
        "_durable",
        "_inflight",
        "_logger",
        "_lost",
        "_queue",
        "_ready",
        "_request_conns",
        "_run_active",
        "_run_task",
        "_saved",
        "_schedule",
        "_state",
        "_state_reverted",
        "_steps_held",
        "_steps_idle",
        "_steps_reverting",
        "_steps_running",
        "_stopped",
        "actor_id",
        "definition",
        "idle_since",
        "key",
        "name",
        "runtime",
        "status",
        "user",
        "workflow",
        "workflow_alarm",
        "_alarm_staged",
    )

    def __init__(self, runtime: Runtime, definition: ActorDefinition, record: ActorRecord) -> None:
        self.runtime = runtime
        self.definition = definition
        self.actor_id = record.actor_id
        self.name = definition.name
        self.key = deserialize_key(record.key)
        self.status = Status.STARTING
        self.user: Any = object.__new__(definition.cls)
        self.user._rivet = self
        self._state: Any = None
        self._saved: bytes | None = record.state
        self._durable: asyncio.Future[None] | None = None
        #: Workflow step attempts whose user code is running (several in join/race branches).
        #: Until none runs, the state is left out of every commit (see ``begin_step``).
        self._steps_running = 0
        self._steps_idle: asyncio.Future[None] | None = None
        #: Finished join/race-branch steps waiting to record their entries (see
        #: ``record_when_steps_idle``): the recording and whether it happened.
        self._steps_held: list[tuple[Callable[[], None], asyncio.Future[None]]] = []
        #: Set while a workflow tears its branches down (a divergence): a step cancelled then
        #: is reverted like one cancelled by a stop (see ``end_step``).
        self._steps_reverting = 0
        #: A cancelled step's changes were reverted: the calls in flight then, whose changes
        #: went with them, are refused (until none is in flight, for an awake actor).
        self._state_reverted = False
        #: A transaction with writes of this incarnation failed: it was dropped, and every
        #: call still finishing on it fails (see ``Storage._failed``).
        self._lost = False
        self._inflight = 0
        self._conns: dict[str, Conn] | None = None
        #: The connections of stateless calls in flight that no hook sees (see
        #: :meth:`open_request`), as an ordered set: kept apart from ``_conns`` so that they
        #: need no id (a uuid4) unless ``self.conns`` is read while they are open.
        self._request_conns: dict[Conn, None] | None = None
        self._queue: ActorQueue | None = None
        self._schedule: Schedule | None = None
        self._run_task: asyncio.Task[None] | None = None
        self._run_active = False
        self._aborted: asyncio.Event | None = None
        self._destroy_requested = False
        #: A destroy began (``on_destroy`` may still be running; the actor still exists).
        self._destroying = False
        #: The destroy's delete is staged: this incarnation may write nothing any more, and a
        #: call still in flight on it fails with ``actor/not_found`` (see :meth:`check_alive`).
        self._destroyed = False
        self._logger: logging.Logger | None = None
        self._ready: asyncio.Future[None] | None = None
        self._stopped: asyncio.Future[None] | None = None
        self.idle_since = 0.0
        #: The workflow engine's per-actor object (``None`` for other actors).
        self.workflow: Any = None
        #: The earliest workflow timer (sleep deadline, retry backoff), set by the engine.
        self.workflow_alarm: float | None = None
        #: The alarm storage holds once the batches staged so far land (see ``_persist_alarm``).
        self._alarm_staged: float | None = record.alarm_at

    # -- ActorHost ---------------------------------------------------------------------------

    @property
    def log(self) -> logging.Logger:
        if self._logger is None:
            self._logger = logging.getLogger(f"rivet_dsl.actor.{self.name}")
        return self._logger

    def get_state(self) -> Any:
        return self._state

    def set_state(self, value: Any) -> None:
        self._state = value

    def current_conn(self) -> Conn | None:
        return current_conn.get()

    def conns(self) -> Mapping[str, Conn]:
        if self._request_conns:
            # (Rare: only a read of ``self.conns`` during a stateless call pays for their ids;
            # the long-lived connections stay a live view, not a copy of a possibly big room.)
            requests = {conn.id: conn for conn in self._request_conns}
            return MappingProxyType(ChainMap(self._conns, requests) if self._conns else requests)
        return MappingProxyType(self._conns) if self._conns else _EMPTY_CONNS

    @property
    def schedule(self) -> Schedule:
        if self._schedule is None:
            self._schedule = Schedule(self, [])
        return self._schedule

    @property
    def queue(self) -> ActorQueue:
        if self._queue is None:
            self._queue = ActorQueue(self, [])
        return self._queue

    @property
    def aborted(self) -> asyncio.Event:
        if self._aborted is None:
            self._aborted = asyncio.Event()
            if self.status in (Status.STOPPING, Status.STOPPED, Status.CRASHED):
                self._aborted.set()
        return self._aborted

    def client(self) -> Client:
        return self.runtime.client()

    def request_destroy(self) -> None:
        self._destroy_requested = True
        if self._inflight == 0:
            self.runtime.spawn(self.runtime.destroy_live(self))

    async def enqueue(self, name: str, body: Any) -> None:
        check_step_access("queue send")
        queue = self.queue
        queue.push(queue.prepare(name, body))
        await self.commit()

    def broadcast(self, name: str, payload: Any) -> None:
        check_step_access("broadcast")
        if not self._conns:
            return
        args = [to_builtins(payload)]
        for conn in self._conns.values():
            if name in conn.subscriptions:
                conn.deliver(name, args)

    def send_event(self, conn: Conn, name: str, payload: Any) -> None:
        check_step_access("send_to")
        conn.send(name, payload)

    async def save_state(self) -> None:
        """Commit the state if it changed, and wait until everything written so far is durable."""
        await self.until_steps_idle()
        self.check_alive()
        # A commit for what was just staged, even if an earlier one (say, a step's, which the
        # workflow does not wait for) is still set: waiting on that alone would return before
        # this state is written.
        if self._stage_state() or self._durable is None:
            self._durable = self.runtime.storage.commit()
        await self._wait_saved()

    # -- persistence -------------------------------------------------------------------------

    def state_blob(self) -> bytes:
        """The state as it would be saved now (empty for a stateless actor)."""
        return b"" if self.definition.stateless else self._encode_state()

    def _encode_state(self) -> bytes:
        """The state's stored encoding. A state that cannot be stored (an integer beyond 64
        bits, a value msgspec cannot encode) leaves memory ahead of storage for good, so this
        incarnation is dropped: the call that got here fails, and the next one reloads the
        last committed state instead of failing too."""
        try:
            return encode(self._state)
        except (OverflowError, msgspec.EncodeError, TypeError, RecursionError) as exc:
            self.runtime.drop_live(self)
            raise TypeError(
                f"the state of actor {self.name} {self.actor_id} cannot be stored ({exc}); the last"
                " saved state is loaded again"
            ) from exc

    def begin_step(self) -> Token[LiveActor | None]:
        """A workflow step attempt starts running user code. Its state changes commit with its
        entry, and only then: a commit in between (a queue send, an action, another actor's
        write) leaves the state out, or a crash after it would re-run the step on top of its
        own half-applied changes. Returns the token for :meth:`end_step`."""
        self._steps_running += 1
        return _step_of.set(self)

    def end_step(self, token: Token[LiveActor | None], *, cancelled: bool = False) -> None:
        """The attempt's user code returned, raised or was cancelled."""
        _step_of.reset(token)
        stopping = self.status is not Status.AWAKE
        if cancelled and (stopping or self._steps_reverting) and self._saved is not None:
            # Stopping (a sleep, a shutdown), or the workflow failing on a divergence: the step
            # runs again after the restart or the fix, on the state last saved. Back to that
            # state, so no later save (the final one after `on_sleep`, or one of an action)
            # stores the first half of the step, which would then be applied twice. Steps held
            # for recording changed that state too: they are dropped (their branches are being
            # cancelled as well) and run again.
            self._state = decoder_for(self.definition.state_type).decode(self._saved)
            self._state_reverted = stopping or self._inflight > 0
            held, self._steps_held = self._steps_held, []
            for _, recorded in held:
                recorded.cancel()
        self._steps_running -= 1
        if self._steps_running == 0:
            # Record the held steps now, before anything else can stage the state that holds
            # their changes: a commit carrying that state without their entries would, after a
            # crash, run them again on top of their own changes.
            held, self._steps_held = self._steps_held, []
            for record, recorded in held:
                if not recorded.done():  # (its branch was cancelled meanwhile)
                    record()
                    recorded.set_result(None)
            idle, self._steps_idle = self._steps_idle, None
            if idle is not None and not idle.done():
                idle.set_result(None)

    async def record_when_steps_idle(self, record: Callable[[], None]) -> None:
        """Run ``record`` (a finished join/race-branch step staging its entry) once no step
        attempt runs, and return after. It runs synchronously inside the last attempt's
        :meth:`end_step`, so the commit that carries the state with this step's changes also
        carries its entry. Cancelled while waiting (its branch, or a revert): not run."""
        if not self._steps_running:
            record()
            return
        recorded: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._steps_held.append((record, recorded))
        try:
            await recorded
        except asyncio.CancelledError:
            self._steps_held = [held for held in self._steps_held if held[1] is not recorded]
            raise

    async def until_steps_idle(self) -> None:
        """Wait until no step attempt runs user code (at once if none does). Code running
        inside one of this actor's steps (``save_state()``, an action called in-process) does
        not wait for it: its changes commit with that step."""
        if _step_of.get() is self:
            return
        # A stopping runtime cancels the step only after the calls it is finishing (such as the
        # on_disconnect hooks it runs first): waiting for the step would hang the shutdown. The
        # stop then reverts the state to the last saved one (see ``end_step``).
        while self._steps_running and self.runtime.running:
            if self._steps_idle is None:
                self._steps_idle = asyncio.get_running_loop().create_future()
            # Shared by every waiter: one waiter cancelled must not cancel it for the others.
            await asyncio.shield(self._steps_idle)

    def _stage_state(self) -> bool:
        """Put the state in the pending batch if it changed since the last save (not while a
        step attempt runs: see ``begin_step``)."""
        if self.definition.stateless or self._steps_running or self._lost or self._destroyed:
            return False
        blob = self._encode_state()
        if blob == self._saved:
            return False
        self._saved = blob
        self.runtime.storage.batch.put_state(self.actor_id, blob)
        if "on_state_change" in self.definition.hooks:
            try:
                result = self.user.on_state_change(self._state)
                if inspect.isawaitable(result):
                    self.runtime.spawn(_maybe_await(result))
            except Exception:
                self.log.exception("on_state_change failed")
        return True

    def save_soon(self) -> None:
        """Stage the state and make sure a commit is coming, without waiting for it."""
        if self._destroyed:
            self._drop_writes()
            return
        self._stage_state()
        self._durable = self.runtime.storage.commit()

    async def commit_message(self) -> None:
        """Commit a message a client just queued (with whatever else is staged) and wait for
        it. The state is not staged: a send from outside the actor changed none of it, and an
        action still running commits its own changes when it ends."""
        self.check_alive()
        self._durable = self.runtime.storage.commit()
        await self._wait_saved()

    async def commit(self) -> None:
        """Commit everything staged so far (this actor's and others') and wait for it."""
        self.check_alive()
        self._stage_state()
        self._durable = self.runtime.storage.commit()
        await self._wait_saved()

    def check_alive(self) -> None:
        """Raise ``actor/not_found`` once the actor is destroyed (its delete staged): what a
        call still running on it wrote since is dropped, and the call fails rather than be
        acknowledged for writes that will never land."""
        if self._destroyed:
            self._drop_writes()
            raise ActorNotFoundError(
                f"Actor not found: {self.actor_id} (destroyed)", metadata={"actor_id": self.actor_id}
            )

    def _drop_writes(self) -> None:
        """Keep this destroyed incarnation's writes out of the pending batch. While the delete
        itself is still pending there, the storage drops them on its own (``drop_destroyed``);
        once it has left, anything written since would land after it (an orphan schedule,
        queue row or key-value entry), so the delete is staged again: deleting an actor that
        is gone changes nothing (its id never returns), and the storage drops every write for
        it when the batch commits, once, however many calls fail meanwhile. (Dropping them
        here rebuilt the whole batch on every failing call: quadratic in a busy batch.) If
        the first delete fails, the storage drops this one with the rest of the actor's
        pending writes (``Storage._failed``), so it never deletes an actor still there."""
        batch = self.runtime.storage.batch
        if self.actor_id not in batch.destroyed:
            batch.destroy_actor(self.actor_id)

    async def _wait_saved(self) -> None:
        durable = self._durable
        if durable is not None:
            try:
                await durable  # uncancellable by design (see ``Storage.commit``)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # What is in memory was never committed: drop this incarnation so the next call
                # reloads the last committed state (nothing unacknowledged may leak out).
                self.runtime.drop_live(self)
                raise StorageError(f"commit failed: {exc}") from None
            if self._durable is durable:
                self._durable = None
        if self._lost:
            # This call's writes were made on top of a failed commit and were dropped.
            raise StorageError("commit failed: an earlier write of this actor failed")
        if self._destroyed:
            # Destroyed while this call waited: its writes went with the actor (or were dropped).
            self.check_alive()

    def lose(self) -> None:
        """A transaction with writes of this incarnation failed (see ``Storage._failed``):
        what is in memory is ahead of storage, and what it writes from now on is dropped."""
        self._lost = True
        self.runtime.drop_live(self)

    def _state_while_stepping(self) -> bytes | None:
        """The encoded state when a call starts while another context's step runs (else None):
        :meth:`_persist_after_call` compares it to tell whether the call changed the state."""
        if self._steps_running and not self.definition.stateless and _step_of.get() is not self:
            return self._encode_state()
        return None

    async def _persist_after_call(self, state_before: bytes | None = None) -> None:
        # A call that changed the state while a step attempt runs is acknowledged once its
        # change is durable, which is with (or after) that step's commit. One that changed
        # nothing (a query) answers at once, as in Rivet, so a long step never blocks reads;
        # what it read may include the running step's changes, not yet durable.
        if self._steps_running and not self.definition.stateless:
            if state_before is None or self._encode_state() != state_before:
                await self.until_steps_idle()
        if self._state_reverted:
            # A stop (or a divergence) cancelled a step and reverted the state, with this
            # call's change.
            stopping = self.status is not Status.AWAKE
            raise ActorAbortedError("The actor is stopping" if stopping else "A step this call overlapped was reverted")
        if self._stage_state():
            self._durable = self.runtime.storage.commit()
        await self._wait_saved()

    # -- lifecycle ---------------------------------------------------------------------------

    async def start_new(self, input: Any, record: ActorRecord) -> None:
        """First start: ``create_state`` -> ``on_create`` -> (commit the actor row) -> wake."""
        user = self.user
        hooks = self.definition.hooks
        self._queue = ActorQueue(self, []) if self.definition.queues else None
        if self.definition.stateless:
            self._state = None
        else:
            self._state = await _maybe_await(user.create_state(input))
        if "on_create" in hooks:
            await _maybe_await(user.on_create(input))
        state_blob = None if self.definition.stateless else encode(self._state)
        self._saved = state_blob
        self.runtime.storage.batch.create_actor(
            ActorRecord(record.actor_id, record.name, record.key, record.input, record.created_at, state_blob, None)
        )
        self.alarms_changed()
        self._durable = self.runtime.storage.commit()
        await self._wait_saved()
        await self._wake()

    async def start_existing(self, record: ActorRecord) -> None:
        """Wake from storage: load state, queue and schedules, then ``on_wake`` and the run handler."""
        storage = self.runtime.storage
        if not self.definition.stateless and record.state is not None:
            self._state = decoder_for(self.definition.state_type).decode(record.state)
        if self.definition.queues:
            rows = await storage.load_queue(self.actor_id)
            reserved = reserved_seq(await storage.load_kv(self.actor_id, SEQ_KEY))
            self._queue = ActorQueue(self, rows, reserved)
        if record.alarm_at is not None:
            self._schedule = Schedule(self, await storage.load_schedules(self.actor_id))
        await self._wake()

    async def _wake(self) -> None:
        if "on_wake" in self.definition.hooks:
            await _maybe_await(self.user.on_wake())
        self.status = Status.AWAKE
        run_kind = self.definition.run_kind
        if run_kind == "run":
            self._run_active = True
            self._run_task = self.runtime.spawn(self._run_plain())
        elif run_kind == "workflow":
            from ._run_handler import start_workflow

            self._run_active = True
            self._run_task = self.runtime.spawn(start_workflow(self))
        self.maybe_idle()
        # Timers that fell due while the actor was asleep fire now.
        due = self.next_alarm()
        if due is not None:
            self.runtime.arm_alarm(self.actor_id, due)

    async def _run_plain(self) -> None:
        try:
            await self.user.run()
        except asyncio.CancelledError:
            raise
        except Exception:
            self.log.exception("run handler failed; the actor will sleep when idle")
        finally:
            self.run_finished()

    def run_finished(self) -> None:
        self._run_active = False
        self._run_task = None
        self.maybe_idle()

    # -- idleness ----------------------------------------------------------------------------

    def enter_wait(self) -> None:
        """The run handler is waiting (queue, timer): it no longer keeps the actor awake."""
        self._run_active = False
        self.maybe_idle()

    def leave_wait(self) -> None:
        if self._run_task is not None:
            if not self._run_active:
                self._run_active = True
                self.runtime.idle.remove(self)

    def is_idle(self) -> bool:
        return self._inflight == 0 and not self._conns and not self._run_active and self.status is Status.AWAKE

    def maybe_idle(self) -> None:
        if self.is_idle():
            self.runtime.idle.add(self)

    def _enter(self) -> None:
        if self._inflight == 0:
            self.runtime.idle.remove(self)
        self._inflight += 1

    def _exit(self, *, destroy_inline: bool = False) -> bool:
        """Leave a call; returns True when the caller must run a requested destroy itself."""
        self._inflight -= 1
        if self._inflight == 0:
            if self.status is Status.AWAKE:
                self._state_reverted = False  # the calls a revert caught have all ended
            if self._destroy_requested:
                if destroy_inline:
                    return True
                self.runtime.spawn(self.runtime.destroy_live(self))
            else:
                self.maybe_idle()
        return False

    # -- actions -----------------------------------------------------------------------------

    async def invoke(self, action: str, args: list[Any] | tuple[Any, ...], conn: Conn | None = None) -> Any:
        """Run an action with wire arguments; returns wire data once every effect is durable."""
        definition = self.definition.actions.get(action)
        if definition is None:
            raise ActionNotFoundError(f"Action {action!r} not found on actor {self.name!r}")
        if args or definition.params:
            values = validate(list(args), definition.args_type, f"arguments for action {action!r}")
            call_args = [getattr(values, p.name) for p in definition.params]
        else:
            call_args = []
        if self.status is not Status.AWAKE:
            self.check_alive()
            raise ActorAbortedError("The actor is stopping")
        self._enter()
        token = current_conn.set(conn) if conn is not None else None
        state_before = self._state_while_stepping()
        try:
            if definition.is_async:
                # Bounded on the runtime's clock, like step timeouts and connection hooks: past
                # the limit the action is cancelled and the caller told actor/action_timed_out.
                timeout = definition.timeout if definition.timeout is not None else self.definition.options.action_timeout
                result = await within(
                    self.runtime.clock,
                    definition.fn(self.user, *call_args),
                    timeout,
                    lambda: ActionTimedOutError("Action timed out", metadata={"timeout": timeout}),
                )
            else:
                result = definition.fn(self.user, *call_args)
            output = to_builtins(result)
        except RivetError as exc:
            if not exc.public or isinstance(exc, StorageError):
                self.log.error("action %s failed", action, exc_info=exc)
                raise InternalError() from exc
            raise
        except Exception as exc:
            self.log.exception("action %s failed", action)
            raise InternalError() from exc
        finally:
            if token is not None:
                current_conn.reset(token)
            destroy_now = False
            try:
                await self._persist_after_call(state_before)
            finally:
                destroy_now = self._exit(destroy_inline=True)
            if destroy_now:
                # `self.destroy()` was called: the caller gets its answer once the actor is gone.
                await self.runtime.destroy_live(self)
        return output

    async def fire_due(self) -> None:
        """Run schedules that are due and wake workflow timers; then re-arm the next alarm."""
        self.check_alive()
        now = self.runtime.clock.now()
        schedule = self._schedule
        if schedule is not None and not schedule.firing:
            # One at a time, in order: a schedule stays pending (listed, cancellable) until it
            # starts, and none starts once the actor is stopping or a destroy was requested (a
            # scheduled action that destroys the actor: nothing runs after its `on_destroy`).
            # While this runs no timer is armed for schedules (another alarm would only find
            # this loop busy); the alarm persisted meanwhile still covers every pending one.
            schedule.firing = True
            try:
                for schedule_id in schedule.due(now):
                    if self.status is not Status.AWAKE or self._destroy_requested:
                        return  # (a stop persists the alarm; a destroy needs none)
                    row = schedule.take(schedule_id)
                    if row is not None:  # (else cancelled while an earlier one ran)
                        await self._fire_schedule(row.action, decode_builtins(row.args), row.schedule_id)
            finally:
                schedule.firing = False
            if self.status is not Status.AWAKE or self._destroy_requested:
                return
        if self.workflow is not None and self.workflow_alarm is not None and self.workflow_alarm <= now:
            self.workflow.on_alarm(now)
        self.alarms_changed()
        await self.commit()

    async def _fire_schedule(self, action: str, args: list[Any], schedule_id: str) -> None:
        definition = self.definition.actions.get(action)
        self._enter()
        state_before = self._state_while_stepping()
        try:
            if definition is None:
                self.log.error("scheduled action %s no longer exists; dropped", action)
            else:
                values = validate(list(args), definition.args_type, f"arguments for scheduled {action!r}")
                result = definition.fn(self.user, *(getattr(values, p.name) for p in definition.params))
                await _maybe_await(result)
        except Exception:
            if not self._destroyed:  # (destroyed meanwhile: it went with the actor)
                self.log.exception("scheduled action %s failed (not retried)", action)
        finally:
            # The delete commits with the state the action changed: fired exactly once.
            self.runtime.storage.batch.delete_schedule(self.actor_id, schedule_id)
            try:
                await self._persist_after_call(state_before)
            finally:
                self._exit()

    # -- alarms ------------------------------------------------------------------------------

    def next_alarm(self) -> float | None:
        candidates = [
            t
            for t in (
                None if self._schedule is None else self._schedule.next_fire_at(),
                self.workflow_alarm,
            )
            if t is not None
        ]
        return min(candidates) if candidates else None

    def persist_wake(self) -> None:
        """A receiver was just handed a message: the message's commit also persists an alarm
        that is already due, so a crash before the woken receiver's own writes commit leaves an
        actor the restarted runtime wakes at once (a receiver waiting in ``queue.next`` persists
        no alarm of its own; nobody would resume it). The woken receiver's next
        :meth:`alarms_changed` replaces the alarm, usually in the same batch."""
        self.persist_due()

    def persist_due(self) -> None:
        """Make sure the alarm storage holds is due (in the past), so a crash from here on is
        followed by a wake at restart: the workflow is running, or about to run. One already
        due stays as it is; most wake-ups then write no alarm at all. A waiting workflow does
        not take it back (a crash then costs one wake at restart that finds it waiting again);
        the exact alarm is written when the actor sleeps (``alarms_changed``)."""
        if self._destroyed:
            return
        staged = self._alarm_staged
        now = self.runtime.clock.now()
        if staged is None or staged > now:
            self._persist_alarm(now)

    def _persist_alarm(self, at: float | None) -> None:
        """Stage ``at`` as the stored alarm, unless that is what storage will hold anyway. (A
        failed commit drops this incarnation, so what was staged before is never missing.)"""
        if at != self._alarm_staged:
            self._alarm_staged = at
            self.runtime.storage.batch.set_alarm(self.actor_id, at)

    def alarms_changed(self) -> None:
        """Persist the earliest alarm (with the next commit) and arm the in-memory timer."""
        if self._destroyed:
            return  # no alarm for an actor that no longer exists
        at = self.next_alarm()
        persisted = at
        resume = None if self.workflow is None else self.workflow.resume_at
        if resume is not None and (persisted is None or resume < persisted):
            # A running workflow persists an alarm in the past: after a crash the restarted
            # runtime wakes the actor at once and the workflow resumes from history.
            persisted = resume
        self._persist_alarm(persisted)
        if self._schedule is not None and self._schedule.firing:
            # `fire_due` is running the due schedules and re-arms when it is done.
            at = self.workflow_alarm
        if at is not None:
            self.runtime.arm_alarm(self.actor_id, at)
        else:
            self.runtime.disarm_alarm(self.actor_id)

    # -- connections -------------------------------------------------------------------------

    async def connect(self, conn: Conn, *, request: bool = False) -> Conn:
        """Open ``conn``: its hooks run, and what they change is durable before it is used.

        A ``request`` connection (a stateless call's own, see ``Runtime.request_call``) is
        used at once by one call: what its hooks change is committed with that call's own
        changes (or, if it is refused, soon), so a request costs no extra commit and never
        waits behind a running step before its action starts."""
        user = self.user
        hooks = self.definition.hooks
        self._enter()
        state_before = None if request else self._state_while_stepping()
        try:
            if "on_before_connect" in hooks:
                await self._bounded_hook("on_before_connect", user.on_before_connect(conn.params))
            if "create_conn_state" in hooks:
                conn.state = await self._bounded_hook("create_conn_state", user.create_conn_state(conn.params))
            if self.status is not Status.AWAKE:
                # The actor began stopping while the hooks ran: it already closed the
                # connections it had, and would never close this one.
                conn.closed = True
                if self._destroying:
                    raise ActorNotFoundError(
                        f"Actor not found: {self.actor_id} (destroyed)", metadata={"actor_id": self.actor_id}
                    )
                raise ActorAbortedError("The actor is stopping")
            if self._conns is None:
                self._conns = {}
            self._conns[conn.id] = conn
            if "on_connect" in hooks:
                try:
                    await self._bounded_hook("on_connect", user.on_connect(conn))
                except BaseException:
                    # Rejected: not a connection (it would keep the actor awake for ever).
                    if self._conns is not None:
                        self._conns.pop(conn.id, None)
                    conn.closed = True
                    raise
        except RivetError as exc:
            if not exc.public:
                raise InternalError() from exc
            raise
        except Exception as exc:
            self.log.exception("connection rejected by a hook")
            raise InternalError() from exc
        finally:
            try:
                if not request:
                    await self._persist_after_call(state_before)
                elif conn.id not in (self._conns or ()):
                    self._stage_soon()  # refused: no call will commit what the hooks changed
            finally:
                self._exit()
        return conn

    def open_request(self, conn: Conn) -> None:
        """Show the connection of a stateless call that no connection hook sees in
        ``self.conns`` while the call runs (as Rivet does), at the cost of a set insert. It gets
        no events: nothing can subscribe it (see ``Runtime.request_call``)."""
        requests = self._request_conns
        if requests is None:
            requests = self._request_conns = {}
        requests[conn] = None

    def close_request(self, conn: Conn) -> None:
        """The call of :meth:`open_request` ended."""
        conn.closed = True
        if self._request_conns is not None:
            self._request_conns.pop(conn, None)

    async def _bounded_hook(self, hook: str, result: Any) -> Any:
        """Await what a connection hook returned, for at most the actor's ``conn_hook_timeout`` on
        the runtime's clock: a hook that hangs would hold the connection (and its caller) for ever.
        Past the limit the hook is cancelled and :class:`ConnHookTimedOutError` raised (as
        ``asyncio.timeout`` does, but on the runtime's clock, so tests can move it)."""
        if not inspect.isawaitable(result):
            return result
        limit = self.definition.options.conn_hook_timeout
        return await within(self.runtime.clock, result, limit, lambda: ConnHookTimedOutError(hook, limit))

    async def disconnect(self, conn: Conn, *, request: bool = False) -> None:
        """Close ``conn`` (``on_disconnect`` runs). What the hook changes of a ``request``
        connection is committed soon, not waited for: the call's reply does not wait for it."""
        if self._conns is None or self._conns.pop(conn.id, None) is None:
            return
        conn.closed = True
        if "on_disconnect" in self.definition.hooks and self.status is Status.AWAKE:
            self._enter()
            state_before = None if request else self._state_while_stepping()
            try:
                await _maybe_await(self.user.on_disconnect(conn))
            except Exception:
                self.log.exception("on_disconnect failed")
            finally:
                try:
                    if request:
                        self._stage_soon()
                    else:
                        await self._persist_after_call(state_before)
                finally:
                    self._exit()
        else:
            self.maybe_idle()

    def _stage_soon(self) -> None:
        """Stage the state if it changed and make sure a commit is coming, without waiting
        (while a step attempt runs, the change rides with that step's commit)."""
        if self.status is Status.AWAKE and self._stage_state():
            self._durable = self.runtime.storage.commit()

    # -- stopping ----------------------------------------------------------------------------

    def _begin_stop(self) -> None:
        self.status = Status.STOPPING
        self.runtime.idle.remove(self)
        if self._aborted is not None:
            self._aborted.set()
        if self._queue is not None:
            self._queue.abort_completions("The actor stopped before the message was completed")

    async def _stop_run_handler(self) -> None:
        task = self._run_task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task])  # the handler's own failure, if any, was logged by it
        self._run_task = None
        self._run_active = False

    async def sleep(self) -> None:
        """Idle sleep: ``on_sleep``, final save (state and alarm), then leave memory."""
        self._begin_stop()
        await self._stop_run_handler()
        if "on_sleep" in self.definition.hooks:
            try:
                await _maybe_await(self.user.on_sleep())
            except Exception:
                self.log.exception("on_sleep failed")
        if self._queue is not None:
            self._queue.settle_reservation()
        try:
            self.alarms_changed()
            await self.commit()
        finally:
            self.status = Status.STOPPED

    async def destroy(self) -> None:
        """``on_destroy``, then delete the actor and everything it owns.

        Calls still in flight are not waited for: one that ends before the delete is staged
        is answered as usual (its writes land, and go with the actor); one that ends after
        fails with ``actor/not_found``, and nothing it writes from then on reaches storage
        (see :meth:`check_alive`)."""
        self._destroying = True
        self._begin_stop()
        await self._stop_run_handler()
        conns = list((self._conns or {}).values())
        self._conns = None
        self._close_request_conns()
        for conn in conns:
            conn.disconnect("actor destroyed")  # (before `closed`, which makes it a no-op)
            conn.closed = True
        if "on_disconnect" in self.definition.hooks:
            # As in Rivet, each connection's on_disconnect runs (before on_destroy): a hook
            # that tracks presence elsewhere hears of every connection the destroy closed.
            for conn in conns:
                try:
                    await _maybe_await(self.user.on_disconnect(conn))
                except Exception:
                    self.log.exception("on_disconnect failed")
        if "on_destroy" in self.definition.hooks:
            try:
                await _maybe_await(self.user.on_destroy())
            except Exception:
                self.log.exception("on_destroy failed")
        # From here on this incarnation writes nothing: what is still pending with the delete
        # is dropped by the storage, what comes later by `check_alive` and the guards it backs.
        self._destroyed = True
        self.runtime.storage.batch.destroy_actor(self.actor_id)
        self.runtime.disarm_alarm(self.actor_id)
        try:
            durable = self._durable = self.runtime.storage.commit()
            await wait_durable(durable)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Not deleted: the actor is still there, and this incarnation is dropped (the
            # calls in flight fail on `_lost`; the next call reloads what is committed).
            self._destroyed = False
            self.runtime.drop_live(self)
            raise StorageError(f"commit failed: {exc}") from None
        finally:
            self.status = Status.STOPPED

    def crash(self) -> None:
        """Drop without hooks or a final save (what a ``kill -9`` does)."""
        self.status = Status.CRASHED
        if self._aborted is not None:
            self._aborted.set()
        task = self._run_task
        if task is not None and not task.done():
            task.cancel()
        self._run_task = None
        if self._queue is not None:
            self._queue.abort_completions("The actor stopped; the message stays queued")
        for conn in list((self._conns or {}).values()):
            conn.disconnect("actor crashed")  # (before `closed`, which makes it a no-op)
            conn.closed = True
        self._conns = None
        self._close_request_conns()

    def _close_request_conns(self) -> None:
        """A destroy or crash closes the stateless calls' connections with the others (the
        calls themselves end on their own)."""
        for conn in self._request_conns or ():
            conn.closed = True
        self._request_conns = None

    @property
    def inflight(self) -> int:
        return self._inflight

    def has_conns(self) -> bool:
        return bool(self._conns)

    def workflow_error(self, exc: BaseException) -> None:
        """Log a workflow failure the way the runtime logs run-handler failures."""
        if isinstance(exc, WorkflowError | RivetError):
            self.log.error("workflow failed: %s", exc)
        else:
            self.log.error("workflow failed", exc_info=exc)
