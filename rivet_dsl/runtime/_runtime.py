"""The actor host: addressing, waking and sleeping actors, alarms, and the calls transports make.

Everything a transport (the in-process client, the HTTP/WebSocket server) can do goes through
the public coroutine methods of :class:`Runtime`; none of them know about the wire.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import OrderedDict
from collections.abc import Coroutine, Iterable
from contextvars import ContextVar, copy_context
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from .._errors import (
    ActionNotFoundError,
    ActorAbortedError,
    ActorAlreadyExistsError,
    ActorNotFoundError,
    QueueUnknownError,
    RivetError,
    StorageError,
)
from ..actor._definition import ActorDefinition
from ..storage import ActorRecord, Storage
from ._clock import Clock, SystemClock, Timer
from ._codec import encode, to_builtins
from ._connection import Conn, EventSink
from ._instance import LiveActor, Status
from ._keys import KeyLike, deserialize_key, normalize_key, serialize_key
from ._queue import QueueSendResult

if TYPE_CHECKING:
    from .._registry import Registry
    from ..client import Client

__all__ = ["ActorInfo", "Runtime"]

_log = logging.getLogger("rivet_dsl.runtime")

#: The hooks that see a connection: an actor with none of them needs no opening and closing of
#: a request's connection (see ``Runtime.request_call``).
_CONN_HOOKS = frozenset({"on_before_connect", "create_conn_state", "on_connect", "on_disconnect"})


#: The live actors whose start (``create_state``, ``on_create``, ``on_wake``) or stop
#: (``on_sleep``/``on_destroy``, the final save) this context runs, each with that phase's
#: status and the hooks it runs. A lookup of one of them from here, while it is still in that
#: phase, would wait for a start or stop that is waiting for it: it fails instead (see
#: ``Runtime._refuse_own_lifecycle``). Tasks the hooks start with ``asyncio.create_task``
#: inherit it; tasks the runtime spawns (run handler, alarms, ...) do not (``Runtime.spawn``).
_lifecycle_here: ContextVar[tuple[tuple[LiveActor, Status, str], ...]] = ContextVar(
    "rivet_lifecycle_here", default=()
)


def _drop_event(event: str, args: list[Any]) -> None:
    """The event sink of a request's connection: a request has nowhere to deliver events."""

#: Seconds after a failed commit at which an actor with a run handler that it dropped is woken
#: again (see ``Runtime._commit_failed``).
RETRY_AFTER_FAILED_COMMIT = 1.0
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ActorInfo:
    """An actor's identity as the manager API reports it."""

    actor_id: str
    name: str
    key: tuple[str, ...]
    created_at: float
    #: Whether this call created the actor (``get_or_create``).
    created: bool = False


def new_actor_id() -> str:
    """A 30-character lowercase id, like Rivet's."""
    return secrets.token_hex(15)


class _IdleTracker:
    """Actors with nothing to do, oldest first, one ordered dict per actor class.

    All actors of a class share one sleep timeout, so insertion order is deadline order and
    one timer per class is enough (no per-actor timers).
    """

    __slots__ = ("_by_class", "_runtime", "_timers")

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._by_class: dict[ActorDefinition, OrderedDict[str, LiveActor]] = {}
        self._timers: dict[ActorDefinition, tuple[float, Timer]] = {}

    def add(self, actor: LiveActor) -> None:
        idle = self._by_class.get(actor.definition)
        if idle is None:
            idle = self._by_class[actor.definition] = OrderedDict()
        if actor.actor_id in idle:
            return
        actor.idle_since = self._runtime.clock.now()
        idle[actor.actor_id] = actor
        if len(idle) == 1:
            self._arm(actor.definition, actor.idle_since + actor.definition.options.sleep_timeout)

    def remove(self, actor: LiveActor) -> None:
        idle = self._by_class.get(actor.definition)
        if idle and idle.get(actor.actor_id) is actor:  # (not a later incarnation's entry)
            del idle[actor.actor_id]

    def __len__(self) -> int:
        return sum(len(idle) for idle in self._by_class.values())

    def _arm(self, definition: ActorDefinition, when: float) -> None:
        current = self._timers.get(definition)
        if current is not None:
            if current[0] <= when:
                return
            current[1].cancel()
        timer = self._runtime.clock.call_at(when, lambda: self._sweep(definition))
        self._timers[definition] = (when, timer)

    def _sweep(self, definition: ActorDefinition) -> asyncio.Future[Any] | None:
        self._timers.pop(definition, None)
        idle = self._by_class.get(definition)
        if not idle:
            return None
        now = self._runtime.clock.now()
        timeout = definition.options.sleep_timeout
        sleeping: list[asyncio.Task[None]] = []
        while idle:
            actor = next(iter(idle.values()))
            if actor.idle_since + timeout > now:
                self._arm(definition, actor.idle_since + timeout)
                break
            idle.popitem(last=False)
            if actor.is_idle():
                sleeping.append(self._runtime.spawn(self._sleep_if_still_idle(actor)))
        return asyncio.gather(*sleeping) if sleeping else None

    async def _sleep_if_still_idle(self, actor: LiveActor) -> None:
        # A call scheduled in the same loop turn as the sweep may have entered since: sleeping
        # then would save and drop the actor under it, and the call's later save would land
        # over the writes of the next incarnation. Its end makes the actor idle again.
        if actor.is_idle():
            await self._runtime.sleep_live(actor)

    def cancel(self) -> None:
        for _, timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._by_class.clear()


class Runtime:
    """Hosts the actors of a registry on one storage.

    Args:
        registry: the actor classes (``setup(...)``).
        storage: where everything persists (``SqliteStorage`` by default in servers and tests).
        clock: the time source for every timer (``MockClock`` in tests).
    """

    def __init__(self, registry: Registry, *, storage: Storage, clock: Clock | None = None) -> None:
        self.registry = registry
        self.storage = storage
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.idle = _IdleTracker(self)
        self._live: dict[str, LiveActor] = {}
        self._live_by_key: dict[tuple[str, str], LiveActor] = {}
        self._alarms: dict[str, tuple[float, Timer]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._client: Client | None = None
        self._running = False
        #: Incremented on every wake from storage (tests and benchmarks).
        self.wakes = 0

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Open storage and arm the alarms of sleeping actors (schedules, workflow timers)."""
        self.storage.on_commit_failed = self._commit_failed
        await self.storage.open()
        self._running = True
        for actor_id, at in await self.storage.load_alarms():
            self.arm_alarm(actor_id, at)

    async def stop(self) -> None:
        """Graceful shutdown: every live actor sleeps (``on_sleep``, final save), storage closes."""
        if not self._running:
            return
        self._running = False
        self.idle.cancel()
        for actor in list(self._live.values()):
            if actor.status is Status.AWAKE:
                for conn in list(actor.conns().values()):
                    conn.disconnect("server shutting down")
                    await actor.disconnect(conn)
                await self.sleep_live(actor)
        self._disarm_all()
        await self._cancel_tasks()
        await self.storage.close()

    @property
    def running(self) -> bool:
        """Started and not stopping."""
        return self._running

    async def crash(self) -> None:
        """Drop everything without hooks or a final save, as a ``kill -9`` would."""
        self._running = False
        self.idle.cancel()
        for actor in list(self._live.values()):
            actor.crash()
        self._live.clear()
        self._live_by_key.clear()
        self._disarm_all()
        await self._cancel_tasks()
        await self.storage.abort()

    def spawn(self, coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        """Run ``coro`` as a task owned by the runtime (cancelled on stop; failures logged)."""
        # A clean lifecycle context: a runtime task is no part of the start or stop that
        # happened to spawn it (a run handler spawned while the actor that woke this one was
        # still starting must wait for that start like any other caller, not be refused).
        context = copy_context()
        context.run(_lifecycle_here.set, ())
        task = asyncio.get_running_loop().create_task(coro, context=context)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            if not isinstance(exc, RivetError | ConnectionAbortedError):
                _log.error("background task failed", exc_info=exc)

    async def _cancel_tasks(self) -> None:
        tasks = [t for t in self._tasks if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)

    def client(self) -> Client:
        """An untyped client over this runtime (what ``self.client()`` returns in actors)."""
        if self._client is None:
            from ..client import Client
            from ._transport import InProcessTransport

            self._client = Client(InProcessTransport(self))
        return self._client

    # -- addressing --------------------------------------------------------------------------

    def definition(self, name: str) -> ActorDefinition:
        definition = self.registry.definitions.get(name)
        if definition is None:
            raise ActorNotFoundError(f"No actor named {name!r} in this registry", metadata={"name": name})
        return definition

    async def get(self, name: str, key: KeyLike = None) -> ActorInfo:
        """The actor for ``name`` and ``key``; ``actor/not_found`` if it does not exist."""
        info = await self._find(name, normalize_key(key))
        if info is None:
            raise ActorNotFoundError(f"Actor not found: {name} {list(normalize_key(key))}")
        return info

    async def get_or_create(self, name: str, key: KeyLike = None, input: Any = None) -> ActorInfo:
        """The actor for ``name`` and ``key``, created (with ``input``) if it does not exist."""
        key_tuple = normalize_key(key)
        info = await self._find(name, key_tuple)
        if info is not None:
            return info
        return await self._create(name, key_tuple, input)

    async def create(self, name: str, key: KeyLike = None, input: Any = None) -> ActorInfo:
        """Create the actor; ``actor/duplicate_key`` if one exists for ``name`` and ``key``."""
        key_tuple = normalize_key(key)
        if await self._find(name, key_tuple) is not None:
            raise ActorAlreadyExistsError(f"Actor already exists: {name} {list(key_tuple)}")
        return await self._create(name, key_tuple, input)

    async def get_for_id(self, actor_id: str) -> ActorInfo:
        """The actor with this id; ``actor/not_found`` otherwise (a destroy in progress is
        waited for, so the dying actor is not reported)."""
        while True:
            live = self._live.get(actor_id)
            if live is not None:
                info = await self._live_info(live)
                if info is not None:
                    return info
                continue
            record = await self.storage.load_actor(actor_id)
            if actor_id in self._live:
                continue  # woken (or being destroyed) while we were reading: look again
            if record is None:
                raise ActorNotFoundError(f"Actor not found: {actor_id}", metadata={"actor_id": actor_id})
            return ActorInfo(record.actor_id, record.name, deserialize_key(record.key), record.created_at)

    async def list_actors(self, name: str | None = None, key: KeyLike = None, limit: int = 1000) -> list[ActorInfo]:
        """Actors known to storage, optionally filtered by name (and key)."""
        if name is not None and key is not None:
            found = await self._find(name, normalize_key(key))
            return [] if found is None else [found]
        records = await self.storage.list_actors(name, limit)
        return [ActorInfo(r.actor_id, r.name, deserialize_key(r.key), r.created_at) for r in records]

    async def _find(self, name: str, key: tuple[str, ...]) -> ActorInfo | None:
        definition = self.definition(name)
        key_text = serialize_key(key)
        slot = (definition.name, key_text)
        while True:
            live = self._live_by_key.get(slot)
            if live is not None:
                info = await self._live_info(live)
                if info is not None:
                    return info
                continue  # it stopped: slept (its row is there) or was destroyed (it is not)
            record = await self.storage.find_actor(definition.name, key_text)
            if slot in self._live_by_key:
                # Created, woken or being destroyed while we were reading: what we read may
                # already be stale (a destroy deletes the row we may have found).
                continue
            if record is None:
                return None
            return ActorInfo(record.actor_id, record.name, key, record.created_at)

    async def _live_info(self, live: LiveActor) -> ActorInfo | None:
        """A live instance's identity once it is ready; ``None`` once it has stopped (slept,
        been destroyed or dropped): a stopping instance is waited for and never handed out,
        so a destroy in progress ends before the caller looks the actor up again."""
        if live.status is Status.STARTING:
            if live._ready is None:  # (every start sets it first; never wait for nothing)
                raise ActorAbortedError("The actor is starting")
            self._refuse_own_lifecycle(live)
            await asyncio.shield(live._ready)
        if live.status is Status.AWAKE:
            return ActorInfo(live.actor_id, live.name, live.key, 0.0)
        if live.status is Status.STOPPING:
            if live._stopped is None:  # (every stop sets it first)
                raise ActorAbortedError("The actor is stopping")
            self._refuse_own_lifecycle(live)
            await asyncio.shield(live._stopped)
            return None  # (the stop forgot it)
        self._forget(live)  # stopped or crashed yet still registered: never handed out either
        return None

    async def _create(self, name: str, key: tuple[str, ...], input: Any) -> ActorInfo:
        definition = self.definition(name)
        key_text = serialize_key(key)
        existing = self._live_by_key.get((definition.name, key_text))
        if existing is not None:
            info = await self._live_info(existing)
            if info is not None:
                return info
            # It stopped meanwhile: if it slept, it is still there; if it was destroyed, this
            # creates the fresh one.
            info = await self._find(name, key)
            return info if info is not None else await self._create(name, key, input)
        wire_input = to_builtins(input)
        record = ActorRecord(
            new_actor_id(),
            definition.name,
            key_text,
            None if wire_input is None else encode(wire_input),
            self.clock.now(),
        )
        actor = LiveActor(self, definition, record)
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        actor._ready = ready
        self._live[actor.actor_id] = actor
        self._live_by_key[(definition.name, key_text)] = actor
        try:
            await self._run_lifecycle(
                actor, Status.STARTING, "create_state/on_create/on_wake", actor.start_new(wire_input, record)
            )
        except BaseException as exc:
            self._forget(actor)
            actor.status = Status.CRASHED
            ready.set_exception(exc if isinstance(exc, Exception) else RuntimeError("creation cancelled"))
            ready.exception()
            raise
        actor._ready = None
        ready.set_result(None)
        return ActorInfo(actor.actor_id, definition.name, key, record.created_at, created=True)

    # -- waking ------------------------------------------------------------------------------

    async def acquire(self, actor_id: str) -> LiveActor:
        """The awake actor with this id, waking it from storage if it sleeps."""
        actor = self._live.get(actor_id)
        if actor is not None and actor.status is Status.AWAKE:
            return actor
        while True:
            actor = self._live.get(actor_id)
            if actor is None:
                return await self._wake(actor_id)
            if actor.status is Status.AWAKE:
                return actor
            if actor.status is Status.STARTING and actor._ready is not None:
                self._refuse_own_lifecycle(actor)
                await asyncio.shield(actor._ready)
            elif actor.status is Status.STOPPING and actor._stopped is not None:
                self._refuse_own_lifecycle(actor)
                await asyncio.shield(actor._stopped)
            else:
                self._forget(actor)

    async def _wake(self, actor_id: str) -> LiveActor:
        if not self._running:
            raise ActorNotFoundError("The runtime is not running")
        self.storage.unfence(actor_id)
        record = await self.storage.load_actor(actor_id)
        current = self._live.get(actor_id)
        if current is not None:  # woken concurrently while we were reading
            return await self.acquire(actor_id)
        if record is None:
            raise ActorNotFoundError(f"Actor not found: {actor_id}", metadata={"actor_id": actor_id})
        definition = self.registry.definitions.get(record.name)
        if definition is None:
            raise ActorNotFoundError(f"Actor {actor_id} is a {record.name!r}, which this registry does not define")
        actor = LiveActor(self, definition, record)
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        actor._ready = ready
        self._live[actor_id] = actor
        self._live_by_key[(definition.name, record.key)] = actor
        try:
            await self._run_lifecycle(actor, Status.STARTING, "on_wake", actor.start_existing(record))
        except BaseException as exc:
            self._forget(actor)
            actor.crash()
            ready.set_exception(exc if isinstance(exc, Exception) else RuntimeError("wake cancelled"))
            ready.exception()
            raise
        self.wakes += 1
        actor._ready = None
        ready.set_result(None)
        return actor

    @staticmethod
    def _refuse_own_lifecycle(live: LiveActor) -> None:
        """Fail a lookup of a starting or stopping actor made by its own start or stop (its
        ``on_create``/``on_wake``/``on_sleep``/``on_destroy`` calling itself through
        ``self.client()``): waiting for the start or stop to end, as every other caller does,
        would wait for itself for ever."""
        for actor, status, hooks in _lifecycle_here.get():
            if actor is live and live.status is status:
                doing = "starting" if status is Status.STARTING else "stopping"
                raise ActorAbortedError(
                    f"Actor {live.name} {live.actor_id} is {doing}: its own {hooks} cannot call it",
                    metadata={"actor_id": live.actor_id},
                )

    async def _run_lifecycle(
        self, actor: LiveActor, status: Status, hooks: str, phase: Coroutine[Any, Any, None]
    ) -> None:
        """Run ``actor``'s start, sleep or destroy, marked as its own (see ``_lifecycle_here``)."""
        token = _lifecycle_here.set((*_lifecycle_here.get(), (actor, status, hooks)))
        try:
            await phase
        finally:
            _lifecycle_here.reset(token)

    def _forget(self, actor: LiveActor) -> None:
        if self._live.get(actor.actor_id) is actor:
            del self._live[actor.actor_id]
        key = (actor.definition.name, serialize_key(actor.key))
        if self._live_by_key.get(key) is actor:
            del self._live_by_key[key]
        self.idle.remove(actor)

    def _commit_failed(self, actor_ids: set[str]) -> None:
        """A transaction failed: the live actors it had writes of are dropped (their calls
        in flight fail; the next call reloads what is committed)."""
        _log.error("a commit failed; dropping %d actor(s) whose writes it carried", len(actor_ids))
        for actor_id in actor_ids:
            actor = self._live.get(actor_id)
            if actor is not None:
                actor.lose()
                if (actor.definition.run_kind != "none" or actor._schedule is not None) and self._running:
                    # Its run handler was working (a workflow between steps, a message just
                    # handed to it), or a scheduled action may have been (its delete did not
                    # land, so it is still due): woken again from what is committed, after a
                    # pause that keeps a store that keeps failing from being hammered.
                    self.arm_alarm(actor_id, self.clock.now() + RETRY_AFTER_FAILED_COMMIT)

    def drop_live(self, actor: LiveActor) -> None:
        """Forget an incarnation whose in-memory data may be ahead of storage."""
        if actor.status is not Status.CRASHED:
            actor.crash()
        self._forget(actor)

    async def sleep_live(self, actor: LiveActor) -> None:
        """Put an awake actor to sleep (idle timeout or shutdown)."""
        if actor.status is not Status.AWAKE:
            return
        stopped: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        actor._stopped = stopped
        try:
            await self._run_lifecycle(actor, Status.STOPPING, "on_sleep", actor.sleep())
        finally:
            self._forget(actor)
            stopped.set_result(None)
        next_alarm = actor.next_alarm()
        if next_alarm is not None and self._running:
            self.arm_alarm(actor.actor_id, next_alarm)

    async def destroy_live(self, actor: LiveActor) -> None:
        if actor.status is not Status.AWAKE:
            return
        stopped: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        actor._stopped = stopped
        try:
            await self._run_lifecycle(actor, Status.STOPPING, "on_destroy", actor.destroy())
        finally:
            self._forget(actor)
            stopped.set_result(None)

    def is_awake(self, actor_id: str) -> bool:
        actor = self._live.get(actor_id)
        return actor is not None and actor.status is Status.AWAKE

    def live_count(self) -> int:
        return len(self._live)

    def live_actors(self) -> Iterable[LiveActor]:
        return list(self._live.values())

    # -- alarms ------------------------------------------------------------------------------

    def arm_alarm(self, actor_id: str, at: float) -> None:
        current = self._alarms.get(actor_id)
        if current is not None:
            if current[0] == at:
                return
            current[1].cancel()
        timer = self.clock.call_at(at, lambda: self._fire_alarm(actor_id, at))
        self._alarms[actor_id] = (at, timer)

    def disarm_alarm(self, actor_id: str) -> None:
        current = self._alarms.pop(actor_id, None)
        if current is not None:
            current[1].cancel()

    def _disarm_all(self) -> None:
        for _, timer in self._alarms.values():
            timer.cancel()
        self._alarms.clear()

    def _fire_alarm(self, actor_id: str, at: float) -> asyncio.Task[None] | None:
        current = self._alarms.get(actor_id)
        if current is not None and current[0] == at:
            del self._alarms[actor_id]
        if not self._running:
            return None
        return self.spawn(self._run_alarm(actor_id))

    async def _run_alarm(self, actor_id: str) -> None:
        try:
            actor = await self.acquire(actor_id)
        except ActorNotFoundError:
            return
        try:
            await actor.fire_due()
        except ActorNotFoundError:
            return  # destroyed while its schedules ran: they went with it
        except StorageError:
            return  # a commit failed: logged, and the actor is woken again (_commit_failed)

    # -- calls -------------------------------------------------------------------------------

    async def call(self, actor_id: str, action: str, args: list[Any] | tuple[Any, ...], conn: Conn | None = None) -> Any:
        """Call an action with wire arguments; returns wire data after its effects are durable."""
        actor = self._live.get(actor_id)
        if actor is None or actor.status is not Status.AWAKE:
            actor = await self.acquire(actor_id)
        return await actor.invoke(action, args, conn)

    async def send(
        self, actor_id: str, queue: str, body: Any, *, wait: bool = False, timeout: float | None = None
    ) -> QueueSendResult[Any]:
        """Enqueue a message (acknowledged once durable); with ``wait``, wait for its completion."""
        actor = self._live.get(actor_id)
        if actor is None or actor.status is not Status.AWAKE:
            actor = await self.acquire(actor_id)
        actor._enter()
        try:
            if wait:
                return await actor.queue.send_and_wait(queue, body, timeout)
            queue_ = actor.queue
            queue_.push(queue_.prepare(queue, body))
            await actor.commit_message()
            return QueueSendResult("completed")
        finally:
            actor._exit()

    # -- requests from stateless clients -----------------------------------------------------
    # An action call or queue send from a stateless client (an HTTP request, the in-process
    # client) runs on a connection of its own, as in Rivet: ``on_before_connect`` and
    # ``create_conn_state`` see the request's params (and may refuse it), ``on_connect`` and
    # ``on_disconnect`` run around it, and an action sees it as ``self.conn``. A name the actor
    # does not declare is refused before the connection opens, so a bad request runs no hooks.

    async def request_call(self, actor_id: str, action: str, args: list[Any], params: Any = None) -> Any:
        """:meth:`call` as a stateless client makes it (see above)."""
        actor = self._live.get(actor_id)
        if actor is None or actor.status is not Status.AWAKE:
            actor = await self.acquire(actor_id)
        if action not in actor.definition.actions:
            raise ActionNotFoundError(f"Action {action!r} not found on actor {actor.name!r}")
        if actor.definition.hooks.isdisjoint(_CONN_HOOKS):
            # Nothing would see it open or close: all the actor sees is ``self.conn``, and
            # ``self.conns`` while the call runs.
            conn = Conn(params, _drop_event)
            actor.open_request(conn)
            try:
                return await actor.invoke(action, args, conn)
            finally:
                actor.close_request(conn)
        conn = await actor.connect(Conn(params, _drop_event), request=True)
        try:
            return await actor.invoke(action, args, conn)
        finally:
            await self._close_request(actor, conn)

    async def request_send(
        self,
        actor_id: str,
        queue: str,
        body: Any,
        *,
        wait: bool = False,
        timeout: float | None = None,
        params: Any = None,
    ) -> QueueSendResult[Any]:
        """:meth:`send` as a stateless client makes it (see above)."""
        actor = self._live.get(actor_id)
        if actor is None or actor.status is not Status.AWAKE:
            actor = await self.acquire(actor_id)
        if queue not in actor.definition.queues:
            raise QueueUnknownError(actor.name, queue)
        if actor.definition.hooks.isdisjoint(_CONN_HOOKS):
            return await self.send(actor_id, queue, body, wait=wait, timeout=timeout)
        conn = await actor.connect(Conn(params, _drop_event), request=True)
        try:
            return await self.send(actor_id, queue, body, wait=wait, timeout=timeout)
        finally:
            await self._close_request(actor, conn)

    @staticmethod
    async def _close_request(actor: LiveActor, conn: Conn) -> None:
        """Close a request's connection; a failing ``on_disconnect`` does not change the reply."""
        try:
            await actor.disconnect(conn, request=True)
        except Exception:  # noqa: BLE001
            _log.warning("closing the connection of a request failed", exc_info=True)

    async def connect(
        self,
        actor_id: str,
        params: Any,
        sink: EventSink,
        close: Any = None,
    ) -> Conn:
        """Open a connection; ``on_before_connect`` may reject it by raising."""
        actor = await self.acquire(actor_id)
        conn = Conn(params, sink, close)
        return await actor.connect(conn)

    async def conn_call(self, actor_id: str, conn: Conn, action: str, args: list[Any]) -> Any:
        """An action over a connection (``self.conn`` is set)."""
        return await self.call(actor_id, action, args, conn)

    async def disconnect(self, actor_id: str, conn: Conn) -> None:
        """Close a connection (``on_disconnect`` runs); the actor may sleep afterwards."""
        actor = self._live.get(actor_id)
        if actor is not None:
            await actor.disconnect(conn)

    async def destroy(self, actor_id: str) -> None:
        """Destroy an actor: ``on_destroy`` runs and everything it stored is deleted."""
        actor = await self.acquire(actor_id)
        await self.destroy_live(actor)
