"""The storage interface: what the runtime needs from a database, and nothing about SQL.

Writes are never issued one by one. Every component appends what it changed to the *pending*
:class:`WriteBatch` (a cheap, synchronous, coalescing operation) and awaits
:meth:`Storage.commit`, which returns the future of the transaction that will carry the batch.
One writer per store commits whatever accumulated while the previous transaction was running
(**group commit**): many actors' writes share one transaction, and nobody is acknowledged
before their data is committed.

A batch is *order-independent* by construction, so a driver may apply it table by table:

* state, alarms, schedules and KV entries coalesce per key (the last write in a batch wins);
* queue rows are only ever inserted with fresh sequence numbers, so inserting every new row
  before deleting the dequeued ones is always right, and a row dequeued in the batch that
  inserted it is never written at all (a message sent and handed into workflow history before
  the next commit costs no queue writes: the hand-off and the send land together);
* a destroyed actor's id is never reused, so every other write for it in the same batch is
  obsolete and is dropped.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Self

__all__ = [
    "ActorRecord",
    "QueueRow",
    "ScheduleRow",
    "Storage",
    "WriteBatch",
]


@dataclass(frozen=True, slots=True)
class ActorRecord:
    """One actor as stored: identity, creation input, state and next alarm."""

    actor_id: str
    name: str
    key: str  #: Rivet's serialized key (see ``rivet_dsl.runtime.keys``)
    input: bytes | None
    created_at: float
    state: bytes | None = None
    alarm_at: float | None = None


@dataclass(frozen=True, slots=True)
class QueueRow:
    """One durable queue message (FIFO per actor by ``seq``)."""

    actor_id: str
    seq: int
    name: str
    body: bytes
    created_at: float


@dataclass(frozen=True, slots=True)
class ScheduleRow:
    """One persisted scheduled action call."""

    actor_id: str
    schedule_id: str
    fire_at: float
    action: str
    args: bytes
    created_at: float


class WriteBatch:
    """Writes waiting for the next commit. Adding is synchronous and coalesces per key."""

    __slots__ = (
        "alarms",
        "created",
        "dequeued",
        "destroyed",
        "enqueued",
        "kv",
        "kv_ranges",
        "schedules",
        "states",
    )

    def __init__(self) -> None:
        self.created: dict[str, ActorRecord] = {}
        self.states: dict[str, bytes] = {}
        self.alarms: dict[str, float | None] = {}
        self.enqueued: dict[tuple[str, int], QueueRow] = {}
        self.dequeued: list[tuple[str, int]] = []
        self.schedules: dict[tuple[str, str], ScheduleRow | None] = {}
        #: Per actor: key -> value (``None``: delete). Nested so that a range delete only
        #: looks at its own actor's pending keys.
        self.kv: dict[str, dict[bytes, bytes | None]] = {}
        self.kv_ranges: list[tuple[str, bytes, bytes]] = []
        self.destroyed: set[str] = set()

    def __bool__(self) -> bool:
        return bool(
            self.created
            or self.states
            or self.alarms
            or self.enqueued
            or self.dequeued
            or self.schedules
            or self.kv
            or self.kv_ranges
            or self.destroyed
        )

    def create_actor(self, record: ActorRecord) -> None:
        """Insert a new actor row (with its initial state and alarm)."""
        self.created[record.actor_id] = record

    def put_state(self, actor_id: str, state: bytes) -> None:
        """Replace the actor's state blob."""
        self.states[actor_id] = state

    def set_alarm(self, actor_id: str, at: float | None) -> None:
        """Record when a sleeping actor must be woken (``None``: never)."""
        self.alarms[actor_id] = at

    def enqueue(self, row: QueueRow) -> None:
        """Insert a queue message."""
        self.enqueued[(row.actor_id, row.seq)] = row

    def dequeue(self, actor_id: str, seq: int) -> None:
        """Delete a queue message (one still pending in this batch is simply not inserted)."""
        if self.enqueued.pop((actor_id, seq), None) is None:
            self.dequeued.append((actor_id, seq))

    def requeue(self, row: QueueRow) -> None:
        """Undo a dequeue: a pending one is cancelled, a committed one undone by inserting again."""
        key = (row.actor_id, row.seq)
        try:
            self.dequeued.remove(key)
        except ValueError:
            self.enqueued[key] = row

    def put_schedule(self, row: ScheduleRow) -> None:
        """Insert or replace a schedule."""
        self.schedules[(row.actor_id, row.schedule_id)] = row

    def delete_schedule(self, actor_id: str, schedule_id: str) -> None:
        """Delete a schedule."""
        self.schedules[(actor_id, schedule_id)] = None

    def kv_put(self, actor_id: str, key: bytes, value: bytes) -> None:
        """Set an entry of the actor's ordered key-value space (workflow history lives here)."""
        space = self.kv.get(actor_id)
        if space is None:
            space = self.kv[actor_id] = {}
        space[key] = value

    def kv_delete(self, actor_id: str, key: bytes) -> None:
        """Delete one key-value entry."""
        space = self.kv.get(actor_id)
        if space is None:
            space = self.kv[actor_id] = {}
        space[key] = None

    def kv_delete_range(self, actor_id: str, start: bytes, end: bytes) -> None:
        """Delete every key in ``[start, end)``, including puts of this batch in that range."""
        space = self.kv.get(actor_id)
        if space:
            for pending in [k for k in space if start <= k < end]:
                del space[pending]
        self.kv_ranges.append((actor_id, start, end))

    def destroy_actor(self, actor_id: str) -> None:
        """Delete the actor and everything it owns (state, queue, schedules, key-values)."""
        self.destroyed.add(actor_id)

    def drop_destroyed(self) -> None:
        """Remove writes that target actors destroyed in this batch (their ids never return)."""
        if self.destroyed:
            self._drop(self.destroyed)

    def actor_ids(self) -> set[str]:
        """The actors this batch writes for."""
        return (
            set(self.created)
            | set(self.states)
            | set(self.alarms)
            | {actor_id for actor_id, _ in self.enqueued}
            | {actor_id for actor_id, _ in self.dequeued}
            | {actor_id for actor_id, _ in self.schedules}
            | set(self.kv)
            | {actor_id for actor_id, _, _ in self.kv_ranges}
            | self.destroyed
        )

    def drop_actors(self, actor_ids: set[str]) -> None:
        """Remove every write for these actors, their destruction included."""
        self._drop(actor_ids)
        self.destroyed -= actor_ids

    def _drop(self, gone: set[str]) -> None:
        self.created = {k: v for k, v in self.created.items() if k not in gone}
        self.states = {k: v for k, v in self.states.items() if k not in gone}
        self.alarms = {k: v for k, v in self.alarms.items() if k not in gone}
        self.enqueued = {k: r for k, r in self.enqueued.items() if k[0] not in gone}
        self.dequeued = [r for r in self.dequeued if r[0] not in gone]
        self.schedules = {k: v for k, v in self.schedules.items() if k[0] not in gone}
        self.kv = {k: v for k, v in self.kv.items() if k not in gone}
        self.kv_ranges = [r for r in self.kv_ranges if r[0] not in gone]

    def size(self) -> int:
        """Number of row writes in the batch (for statistics)."""
        return (
            len(self.created)
            + len(self.states)
            + len(self.alarms)
            + len(self.enqueued)
            + len(self.dequeued)
            + len(self.schedules)
            + sum(map(len, self.kv.values()))
            + len(self.kv_ranges)
            + len(self.destroyed)
        )


#: Pending writes (actors with state or key-value writes, plus queued messages) at which a
#: commit starts at once rather than when the writer task next runs (see ``_commit_eagerly``).
_EAGER_WRITES = 256


class _CommitFuture(asyncio.Future[None]):
    """The shared future of one transaction. It cannot be cancelled: many callers await the
    same commit, and one caller giving up must not fail it for the others. A cancelled
    waiter still gets ``CancelledError`` (once the commit has landed), so no ``shield`` (and
    its extra future and callbacks per write) is needed on the hot path."""

    def cancel(self, msg: object = None) -> bool:
        return False


class Storage(ABC):
    """A durable store for actors. Drivers: SQLite (embedded default) and in-memory."""

    def __init__(self) -> None:
        self._pending = WriteBatch()
        self._pending_future: asyncio.Future[None] | None = None
        #: The writer task's sleep, resolved to wake it (a bare future: an ``asyncio.Event``
        #: costs a loop lookup and a waiter list per wait, once per commit).
        self._wakeup: asyncio.Future[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        #: A transaction is being applied (by the writer task or eagerly): the next one waits.
        self._busy = False
        #: The transaction started by ``_commit_eagerly``: (thread job, batch, commit future).
        self._in_flight: tuple[concurrent.futures.Future[None], WriteBatch, asyncio.Future[None]] | None = None
        self._closed = True
        #: Actors whose writes are dropped when a transaction starts, until :meth:`unfence`:
        #: a transaction with writes of theirs failed (see ``_failed``).
        self._fenced: set[str] = set()
        #: Told which actors had writes in a failed transaction, before any other transaction
        #: starts (the runtime drops their live incarnations).
        self.on_commit_failed: Callable[[set[str]], None] | None = None
        #: The driver can start a transaction on its own thread (``_apply_in_background``);
        #: the in-memory one cannot, and then ``commit()`` does not keep asking.
        self._eager_commits = type(self)._apply_in_background is not Storage._apply_in_background
        #: Committed transactions and row writes, for benchmarks and tests.
        self.commits = 0
        self.rows_written = 0

    # -- lifecycle ---------------------------------------------------------------------------

    async def open(self) -> None:
        """Open the store (create or migrate it) and start the writer."""
        await self._open()
        self._closed = False
        self._writer = asyncio.get_running_loop().create_task(self._write_loop(), name="rivet-storage-writer")

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Commit what is pending, stop the writer and close the store."""
        if self._closed:
            return
        try:
            if self._pending:
                await self.commit()
        finally:
            # Even when that last commit fails: the connections and the file's ownership lock
            # are let go, so the process can open the database again (and report the failure).
            await self._stop_writer()
            await self._close()

    async def abort(self) -> None:
        """Simulate a crash: pending (unacknowledged) writes are dropped, the store is closed.

        A transaction already being committed finishes (commits are atomic either way).
        """
        if self._closed:
            return
        self._pending = WriteBatch()
        future, self._pending_future = self._pending_future, None
        if future is not None and not future.done():
            future.set_exception(ConnectionAbortedError("storage aborted"))
            future.exception()  # mark retrieved: nobody may be waiting on it any more
        await self._stop_writer()
        await self._close()

    async def _stop_writer(self) -> None:
        self._closed = True
        writer, self._writer = self._writer, None
        if writer is not None:
            self._wake()
            await writer

    # -- writes ------------------------------------------------------------------------------

    @property
    def batch(self) -> WriteBatch:
        """The pending batch; add writes to it, then await :meth:`commit`."""
        return self._pending

    def commit(self) -> asyncio.Future[None]:
        """The future of the transaction that will carry everything pending now."""
        future = self._pending_future
        if future is None:
            if self._closed:
                raise ConnectionAbortedError("storage is closed")
            future = self._pending_future = _CommitFuture(loop=asyncio.get_running_loop())
            self._wake()
        if self._busy:
            if self._in_flight is not None and self._in_flight[0].done():
                self._land()
        elif self._eager_commits and self._eager_enough():
            self._commit_eagerly()
        return future

    def _eager_enough(self) -> bool:
        pending = self._pending
        return len(pending.kv) + len(pending.states) + len(pending.enqueued) >= _EAGER_WRITES

    def _commit_eagerly(self) -> None:
        """Start committing the pending batch now, on the driver's own thread, rather than when
        the writer task next runs. The writer runs after everything the event loop has queued,
        which, when many actors are woken at once by the previous commit, is after all of them
        have staged their next writes: the event loop then waits for each commit and the disk
        for each round of work, in turn. Started as soon as a batch is big enough to be worth a
        transaction, the commit overlaps the rest of the round."""
        batch = self._pending
        batch.drop_destroyed()
        if self._fenced:
            batch.drop_actors(self._fenced)
        job = self._apply_in_background(batch)
        if job is None:
            return
        future = self._pending_future
        assert future is not None
        self._pending, self._pending_future = WriteBatch(), None
        self._busy = True
        self._in_flight = (job, batch, future)
        loop = asyncio.get_running_loop()

        def done(_: object) -> None:  # on the driver's thread
            if not loop.is_closed():
                loop.call_soon_threadsafe(self._land)

        job.add_done_callback(done)

    def _land(self) -> None:
        """Settle the background transaction once its thread is done with it (idempotent).

        Called from ``commit()`` as well as from the thread's done callback: that callback
        queues behind every task the event loop has ready, which after a big commit is every
        actor it woke, so the next transaction would wait for all of them to have run. Polled
        by the writes they make, it starts as soon as the previous one is done."""
        in_flight = self._in_flight
        if in_flight is None or not in_flight[0].done():
            return
        self._in_flight = None
        self._busy = False
        job, batch, future = in_flight
        exc = ConnectionAbortedError("commit cancelled") if job.cancelled() else job.exception()
        if exc is not None:
            self._failed(batch, future, exc if isinstance(exc, Exception) else ConnectionAbortedError(str(exc)))
        elif not future.done():
            self.commits += 1
            self.rows_written += batch.size()
            future.set_result(None)
        if self._pending_future is not None and not self._closed and self._eager_enough():
            # What accumulated meanwhile is already worth a transaction: start it now.
            self._commit_eagerly()
        self._wake()  # the writer takes what accumulated meanwhile (or stops)

    def _failed(self, batch: WriteBatch, future: asyncio.Future[None], exc: Exception) -> None:
        """A transaction failed and wrote nothing. What its actors wrote since was written on
        top of it (a state holding the failed step's change, history going on from the failed
        entries); committed without it, a retry would apply that change twice. Their pending
        writes are dropped, and so are all their writes until they are loaded again."""
        lost = batch.actor_ids()
        self._fenced |= lost
        self._pending.drop_actors(lost)
        if not future.done():
            future.set_exception(exc)
        if lost and self.on_commit_failed is not None:
            self.on_commit_failed(lost)
            future.exception()  # reported there: the callers still waiting get it too

    def unfence(self, actor_id: str) -> None:
        """Accept the actor's writes again: it is about to be loaded from what is committed.
        What its dropped incarnation may have written meanwhile is discarded."""
        if actor_id in self._fenced:
            self._fenced.discard(actor_id)
            self._pending.drop_actors({actor_id})

    def _wake(self) -> None:
        wakeup = self._wakeup
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)

    async def _write_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if self._pending_future is None or self._busy:
                if self._closed and not self._busy and self._pending_future is None:
                    return
                # Nothing can change between the checks above and this sleep (one thread).
                self._wakeup = wakeup = loop.create_future()
                await wakeup
                continue
            batch, future = self._pending, self._pending_future
            self._pending, self._pending_future = WriteBatch(), None
            batch.drop_destroyed()
            if self._fenced:
                batch.drop_actors(self._fenced)
            self._busy = True
            try:
                if batch:  # a commit() with nothing pending needs no transaction
                    await self._apply(batch)
                    self.commits += 1
                    self.rows_written += batch.size()
            except BaseException as exc:
                self._failed(batch, future, exc if isinstance(exc, Exception) else ConnectionAbortedError(str(exc)))
                if not isinstance(exc, Exception):
                    raise
                continue
            finally:
                self._busy = False
            if not future.done():
                future.set_result(None)

    # -- driver hooks ------------------------------------------------------------------------

    @abstractmethod
    async def _open(self) -> None: ...

    @abstractmethod
    async def _close(self) -> None: ...

    @abstractmethod
    async def _apply(self, batch: WriteBatch) -> None:
        """Apply ``batch`` in one atomic transaction, or raise and apply nothing."""

    def _apply_in_background(self, batch: WriteBatch) -> concurrent.futures.Future[None] | None:
        """Start applying ``batch`` (as :meth:`_apply` does) on a thread right now, and return
        the future of its end; or ``None`` (the default) to leave it to :meth:`_apply`."""
        return None

    # -- reads -------------------------------------------------------------------------------

    @abstractmethod
    async def load_actor(self, actor_id: str) -> ActorRecord | None:
        """The actor with this id, or ``None``."""

    @abstractmethod
    async def find_actor(self, name: str, key: str) -> ActorRecord | None:
        """The actor with this name and serialized key, or ``None``."""

    @abstractmethod
    async def list_actors(self, name: str | None = None, limit: int = 1000) -> list[ActorRecord]:
        """Actors (optionally of one name), oldest first, without their state."""

    @abstractmethod
    async def load_queue(self, actor_id: str) -> list[QueueRow]:
        """The actor's queued messages in FIFO order."""

    @abstractmethod
    async def load_schedules(self, actor_id: str) -> list[ScheduleRow]:
        """The actor's schedules, earliest first."""

    @abstractmethod
    async def load_kv(self, actor_id: str, prefix: bytes = b"") -> list[tuple[bytes, bytes]]:
        """The actor's key-value entries under ``prefix``, in key order."""

    @abstractmethod
    async def load_alarms(self) -> list[tuple[str, float]]:
        """Every actor with an alarm set: ``(actor_id, wake_at)``."""
