"""Durable per-actor queues: FIFO by arrival, limits, completable messages and waiting senders.

Messages live in memory while the actor is awake (loaded from storage on wake) and in the
``queue`` table. A send is acknowledged only after its row is committed. A non-completable
receive deletes the row in the next commit; a completable one keeps it until ``complete()``,
so it is delivered again after a crash (at-least-once).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import sys
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

import msgspec

from .._errors import (
    ActorAbortedError,
    ActorNotFoundError,
    QueueAlreadyCompletedError,
    QueueFullError,
    QueueMessageTooLargeError,
    QueuePreviousMessageNotCompletedError,
    QueueUnknownError,
)
from ..client._types import QueueSendResult
from ..storage import QueueRow
from ._clock import within
from ._codec import decoder_for, encode, to_builtins, validate, validate_encoded

if sys.version_info >= (3, 13):
    from typing import TypeVar as TypeVarWithDefault
else:  # PEP 696 defaults (typing_extensions, a dependency on these versions)
    from typing_extensions import TypeVar as TypeVarWithDefault

if TYPE_CHECKING:
    from ..actor._decorators import QueueDeclaration, QueueRef
    from ._instance import LiveActor

__all__ = ["SEQ_KEY", "SEQ_RESERVATION", "ActorQueue", "QueueMessage", "QueueSendResult", "queue_names", "reserved_seq"]

T = TypeVar("T")
#: A message's response type (what ``complete`` takes); ``QueueMessage[T]`` leaves it ``Any``.
R = TypeVarWithDefault("R", default=Any)
B = TypeVar("B")
BR = TypeVar("BR")

if TYPE_CHECKING:
    #: The queues ``names=`` may give when their messages' body and response types are to be
    #: known: one ref (``self.jobs``) or declaration (``MyActor.jobs``), or a sequence of them
    #: (as for the workflow ``ctx.queue`` receives).
    _TypedNames = (
        QueueRef[B, BR] | QueueDeclaration[B, BR] | Sequence[QueueRef[B, BR] | QueueDeclaration[B, BR]]
    )

#: The actor's key-value entry that keeps message ids unique for the actor's whole life: the
#: highest id that may have been given out (8 bytes, big-endian). The stored messages alone
#: do not tell it once the newest one is gone (the queue drained, or its newest message taken
#: while older ones are held): the next incarnation would give the same ids out again.
SEQ_KEY = b"rt/queue-seq"
#: Ids are reserved this many at a time: the entry is written with the send that first uses
#: an id past the reservation (in the same commit, so no extra commit and, most of the time,
#: no extra row), and brought back to the exact highest id on sleep. After a crash the ids
#: jump ahead to the end of the reservation; they never go back.
SEQ_RESERVATION = 1024


def reserved_seq(entries: list[tuple[bytes, bytes]]) -> int:
    """The reservation stored in ``entries`` (what ``load_kv(actor_id, SEQ_KEY)`` returns)."""
    for key, value in entries:
        if key == SEQ_KEY:
            return int.from_bytes(value, "big")
    return 0


class QueueMessage(Generic[T, R]):
    """A received message. ``complete(response)`` answers a completable one.

    ``T`` is the body type and ``R`` the response type the queue declares: a workflow receive
    with ``names=[self.requests]`` (``@queue def requests(self, body: Request) -> Doubled``)
    gives ``QueueMessage[Request, Doubled]``, whose ``complete`` takes a ``Doubled``. A queue
    that answers nothing (``-> None``), or an untyped ``QueueMessage[T]``, may be completed
    without a response."""

    __slots__ = ("_completer", "_completed", "body", "created_at", "id", "name")

    def __init__(
        self,
        id: int,
        name: str,
        body: T,
        created_at: float,
        completer: Callable[[QueueMessage[Any], Any], Awaitable[None]] | None = None,
    ) -> None:
        self.id = id
        self.name = name
        self.body = body
        self.created_at = created_at
        self._completer = completer
        self._completed = completer is None

    @property
    def completable(self) -> bool:
        """Whether this message waits for ``complete()``."""
        return self._completer is not None

    @property
    def completed(self) -> bool:
        """Whether ``complete()`` was called (always true for non-completable messages)."""
        return self._completed

    @overload
    async def complete(self: QueueMessage[Any, None], response: None = None) -> None: ...

    @overload
    async def complete(self, response: R) -> None: ...

    async def complete(self, response: Any = None) -> None:
        """Answer the message: the sender's ``send(..., wait=True)`` returns ``response``."""
        if self._completer is None:
            return
        if self._completed:
            raise QueueAlreadyCompletedError()
        await self._completer(self, response)
        self._completed = True

    def __repr__(self) -> str:
        return f"QueueMessage(id={self.id}, name={self.name!r}, body={self.body!r})"


def queue_names(names: Any) -> tuple[str, ...] | None:
    """Normalize a ``names=`` argument (a name, a ref, or a sequence of them) to wire names."""
    if names is None:
        return None
    if type(names) is list and len(names) == 1:
        # The common form, ``names=[self.jobs]``: one reference (or name).
        item = names[0]
        name = item if type(item) is str else getattr(item, "name", None)
        if type(name) is str:
            return (name,)
    if isinstance(names, str) or (
        not isinstance(names, list | tuple) and hasattr(names, "name") and not isinstance(names, Sequence)
    ):
        names = [names]
    out: list[str] = []
    for item in names:
        name = item if isinstance(item, str) else getattr(item, "name", None)
        if not isinstance(name, str):
            raise TypeError(f"not a queue name or queue reference: {item!r}")
        if name not in out:
            out.append(name)
    return tuple(out) or None


class _SendWaitTimedOut(Exception):
    """A sender's wait for its message's completion ran out (it is told ``timed_out``)."""


def _resolver(future: asyncio.Future[None]) -> Callable[[], None]:
    def resolve() -> None:
        if not future.done():
            future.set_result(None)

    return resolve


class _Waiter:
    __slots__ = ("future", "names")

    def __init__(self, names: tuple[str, ...] | None, future: asyncio.Future[None]) -> None:
        self.names = names
        self.future = future


def _seq_of(row: QueueRow) -> int:
    return row.seq


class ActorQueue:
    """The queues of one live actor (``self.queue`` in actor code)."""

    __slots__ = (
        "_actor",
        "_answering",
        "_by_name",
        "_completions",
        "_stop_error",
        "_messages",
        "_next_seq",
        "_outstanding",
        "_reserved",
        "_taken",
        "_waiters",
    )

    def __init__(self, actor: LiveActor, rows: list[QueueRow], reserved: int = 0) -> None:
        self._actor = actor
        #: seq -> row, in FIFO order (seqs only grow): removal from anywhere is O(1).
        self._messages: dict[int, QueueRow] = {row.seq: row for row in rows}
        #: Per queue name, its messages in FIFO order. Receives read the heads of the queues
        #: they want: a plain dict's first item is found by skipping the slots of every item
        #: removed from its front since the dict was last resized (O(backlog) per receive), and
        #: a scan of every message would skip the backlogs of the queues not asked for.
        self._by_name: dict[str, OrderedDict[int, QueueRow]] = {}
        for row in rows:
            self._fifo(row.name)[row.seq] = row
        #: The highest id stored as reserved (see ``SEQ_KEY``): ids up to it may have been
        #: seen, so the next one is past it as well as past every stored message.
        self._reserved = reserved
        self._next_seq = max(rows[-1].seq if rows else 0, reserved) + 1
        self._waiters: list[_Waiter] = []
        #: Sends waiting for completion, by message seq.
        self._completions: dict[int, asyncio.Future[Any]] = {}
        #: Seqs of taken messages whose senders are answered when the delete's commit lands
        #: (see :meth:`answer_when_durable`): that commit, not a stop, decides their answer.
        self._answering: set[int] = set()
        #: Makes what senders are told once the actor stops (see :meth:`abort_completions`).
        self._stop_error: Callable[[], Exception] | None = None
        #: The completable message handed to the plain run loop and not completed yet.
        self._outstanding: QueueMessage[Any] | None = None
        #: Seqs handed out (completable, not yet completed) that receives must skip.
        self._taken: set[int] = set()

    def __len__(self) -> int:
        return len(self._messages)

    def _fifo(self, name: str) -> OrderedDict[int, QueueRow]:
        fifo = self._by_name.get(name)
        if fifo is None:
            fifo = self._by_name[name] = OrderedDict()
        return fifo

    def _check_known(self, names: tuple[str, ...] | None) -> None:
        if names is None:
            return
        queues = self._actor.definition.queues
        for name in names:
            if name not in queues:
                raise QueueUnknownError(self._actor.name, name)

    # -- sending -----------------------------------------------------------------------------

    def prepare(self, name: str, body: Any) -> QueueRow:
        """Validate and encode a message and reserve its place (no I/O); raise and change nothing on bad input."""
        actor = self._actor
        definition = actor.definition.queues.get(name)
        if definition is None:
            raise QueueUnknownError(actor.name, name)
        body_type = definition.body_type
        blob = None
        # Exactly the declared type (an in-actor send): skip the round trip through builtins.
        # Exactly, not isinstance: a bool is an int, and a subclass may carry more fields.
        if type(body) is body_type:
            try:
                blob = encode(body)
            except (OverflowError, msgspec.EncodeError, TypeError):
                blob = None  # validation below says what is wrong with it
        if blob is None:
            blob = validate_encoded(to_builtins(body), body_type, f"body for queue {name!r}")[1]
        limit_size = actor.definition.options.max_queue_message_size
        if len(blob) > limit_size:
            raise QueueMessageTooLargeError(len(blob), limit_size)
        if definition.max_size is not None:
            fifo = self._by_name.get(name)
            if fifo is not None and len(fifo) >= definition.max_size:
                raise QueueFullError(definition.max_size)
        limit = actor.definition.options.max_queue_size
        if len(self._messages) >= limit:
            raise QueueFullError(limit)
        seq = self._next_seq
        self._next_seq = seq + 1
        return QueueRow(actor.actor_id, seq, name, blob, actor.runtime.clock.now())

    def push(self, row: QueueRow) -> None:
        """Make a prepared message visible: write it to the pending batch and wake receivers."""
        actor = self._actor
        actor.check_alive()  # a call still running on a destroyed actor queues nothing
        self._messages[row.seq] = row
        self._fifo(row.name)[row.seq] = row
        batch = actor.runtime.storage.batch
        batch.enqueue(row)
        if row.seq > self._reserved:
            # In the batch that carries the message: no commit acknowledges (or follows) it
            # without the reservation that covers its id.
            self._reserved = row.seq - 1 + SEQ_RESERVATION
            batch.kv_put(actor.actor_id, SEQ_KEY, self._reserved.to_bytes(8, "big"))
        self._notify(row.name)

    def settle_reservation(self) -> None:
        """Store the exact highest id given out, in place of the reservation (on sleep, in its
        final commit): the next incarnation goes on from there without a gap."""
        issued = self._next_seq - 1
        if self._reserved != issued:
            self._reserved = issued
            self._actor.runtime.storage.batch.kv_put(self._actor.actor_id, SEQ_KEY, issued.to_bytes(8, "big"))

    def _notify(self, name: str) -> None:
        woke = False
        for waiter in self._waiters:
            if not waiter.future.done() and (waiter.names is None or name in waiter.names):
                waiter.future.set_result(None)
                woke = True
        if woke:
            self._actor.persist_wake()

    def watch(self, names: tuple[str, ...] | None) -> asyncio.Future[None]:
        """A future resolved when a message for ``names`` arrives (used by waits)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(_Waiter(names, future))
        return future

    def unwatch(self, future: asyncio.Future[None]) -> None:
        self._waiters = [w for w in self._waiters if w.future is not future]

    async def send(self, name: str, body: Any) -> None:
        """Enqueue ``body`` on this actor's queue ``name``; returns once it is durable."""
        await self._actor.enqueue(name, body)

    async def send_and_wait(self, name: str, body: Any, timeout: float | None) -> QueueSendResult[Any]:
        """Enqueue, then wait up to ``timeout`` seconds for the receiver to complete the message."""
        row = self.prepare(name, body)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._completions[row.seq] = future
        try:
            self.push(row)
            try:
                await self._actor.commit_message()
            except ActorNotFoundError:
                # Destroyed before the message was durable: the stop has already answered this
                # sender (`abort_completions`), and that answer stands.
                aborted = future.exception() if future.done() and not future.cancelled() else None
                if aborted is not None:
                    raise aborted from None
                raise
            if timeout is None or future.done():
                response = await future
            elif timeout <= 0:
                return QueueSendResult("timed_out")
            else:
                # On the runtime's clock, as receive timeouts and action limits are.
                try:
                    response = await within(self._actor.runtime.clock, asyncio.shield(future), timeout, _SendWaitTimedOut)
                except _SendWaitTimedOut:
                    return QueueSendResult("timed_out")
            return QueueSendResult("completed", response)
        finally:
            self._completions.pop(row.seq, None)

    # -- receiving (plain run loops; the workflow engine uses take()/remove() directly) ----------

    def take(
        self, names: tuple[str, ...] | None, count: int
    ) -> list[QueueRow]:
        """Up to ``count`` oldest messages for ``names`` that nobody holds (no I/O, no removal)."""
        out: list[QueueRow] = []
        by_name = self._by_name
        if names is not None and len(names) == 1 and not self._taken:
            # The common receive: one queue, nothing held. Its oldest messages, directly.
            fifo = by_name.get(names[0])
            if not fifo:
                return out
            if count == 1:
                return [next(iter(fifo.values()))]
            return list(itertools.islice(fifo.values(), count))
        if names is None:
            fifos = [f.values() for f in by_name.values() if f]
        else:
            fifos = [f.values() for f in map(by_name.get, names) if f]
        if not fifos:
            return out
        # Seqs grow across all queues: merging the wanted queues by seq is FIFO over them.
        rows = fifos[0] if len(fifos) == 1 else heapq.merge(*fifos, key=_seq_of)
        taken = self._taken
        for row in rows:
            if taken and row.seq in taken:
                continue
            out.append(row)
            if len(out) >= count:
                break
        return out

    def remove(self, row: QueueRow) -> None:
        """Delete a message (from memory now, from storage in the next commit)."""
        if self._messages.pop(row.seq, None) is None:
            return
        fifo = self._by_name[row.name]
        del fifo[row.seq]
        if not fifo:
            del self._by_name[row.name]
        self._taken.discard(row.seq)
        self._actor.runtime.storage.batch.dequeue(row.actor_id, row.seq)

    def consume(self, row: QueueRow) -> None:
        """Delete a message a non-completable receive took: :meth:`remove`, and its waiting
        sender (``send(..., wait=True)``), if any, is answered once the delete is durable."""
        self.remove(row)
        self.answer_when_durable(row.seq)

    def clear(self) -> int:
        """Delete every message nobody holds (the inspector's ``DELETE .../queue``); how many.
        Their waiting senders are answered as for a non-completable receive (completed, no
        response) once the deletes are durable: nothing will ever complete those messages, and
        the senders would otherwise wait out their timeouts. Held (completable, handed out)
        messages stay: their receiver still completes them."""
        held = self._taken
        cleared = 0
        for row in list(self._messages.values()):
            if row.seq not in held:
                self.consume(row)
                cleared += 1
        return cleared

    def answer_when_durable(self, seq: int) -> None:
        """Answer the sender waiting on message ``seq`` (completed, no response) once what is
        pending now is committed. For a message a receive took without being able to complete
        it: nothing would ever complete it, and the sender would wait out its timeout. As in
        Rivet (the TypeScript queue manager answers such senders when the receive deletes the
        message); no sender waits on most messages, so this costs nothing then."""
        if seq not in self._completions:
            return
        try:
            durable = self._actor.runtime.storage.commit()
        except ConnectionAbortedError:
            return  # the store is closing: the stop answers the sender (abort_completions)
        self._answering.add(seq)
        durable.add_done_callback(lambda done: self._answer_taken(seq, done))

    def _answer_taken(self, seq: int, durable: asyncio.Future[None]) -> None:
        self._answering.discard(seq)
        if not durable.cancelled() and durable.exception() is None and seq not in self._messages:
            self.resolve_completion(seq, None)
        elif self._stop_error is not None:
            # Not taken after all (the commit failed), or given back meanwhile (a losing race
            # branch): the message is still queued, and the actor stopped in the meantime.
            future = self._completions.get(seq)
            if future is not None and not future.done():
                future.set_exception(self._stop_error())
        # Otherwise the actor is still live and the message queued: a later receive answers.

    def restore(self, row: QueueRow) -> None:
        """Put back a message a losing workflow race branch had taken: same seq, same place in
        FIFO order, in memory and in storage (a delete still pending is cancelled, a committed
        one undone)."""
        if row.seq in self._messages:
            return
        self._actor.check_alive()
        self._messages[row.seq] = row
        self._messages = dict(sorted(self._messages.items()))  # rare: keep seq order
        fifo = self._fifo(row.name)
        fifo[row.seq] = row
        self._by_name[row.name] = OrderedDict(sorted(fifo.items()))
        self._actor.runtime.storage.batch.requeue(row)
        self._notify(row.name)

    def release(self, seq: int, name: str) -> None:
        """Make a held (completable, never completed) message visible to receivers again."""
        if seq in self._taken:
            self._taken.discard(seq)
            self._notify(name)

    def hold(self, row: QueueRow) -> None:
        """Hide a message from other receivers until it is completed or the actor restarts."""
        self._taken.add(row.seq)

    def decode(self, row: QueueRow) -> Any:
        """The message body as its declared type."""
        definition = self._actor.definition.queues.get(row.name)
        body_type = definition.body_type if definition is not None else Any
        return decoder_for(body_type).decode(row.body)

    def abort_completions(self, reason: str) -> None:
        """The actor is stopping: senders waiting for a completion are answered now rather
        than never. Asleep or crashed, it is ``actor.aborted`` (their messages stay queued for
        the next incarnation); destroyed, it is ``actor/not_found``, as for any other call in
        flight across the destroy: the actor and its messages are gone for good."""
        actor = self._actor

        def error() -> Exception:
            if actor._destroying:
                return ActorNotFoundError(
                    f"Actor not found: {actor.actor_id} (destroyed)", metadata={"actor_id": actor.actor_id}
                )
            return ActorAbortedError(reason)

        self._stop_error = error
        for seq, future in self._completions.items():
            # A taken message whose delete is being committed is answered by that commit: told
            # "aborted, still queued" now, its sender would send again a message already gone.
            if not future.done() and seq not in self._answering:
                future.set_exception(error())

    def resolve_completion(self, seq: int, response: Any) -> None:
        """Answer a waiting sender (after the completion was committed)."""
        future = self._completions.get(seq)
        if future is not None and not future.done():
            future.set_result(response)

    def encode_response(self, row: QueueRow, response: Any) -> Any:
        """Validate a completion response against the queue's response type; returns wire data."""
        definition = self._actor.definition.queues.get(row.name)
        if definition is not None and definition.response_type is not type(None) and response is not None:
            response = validate(to_builtins(response), definition.response_type, f"response for queue {row.name!r}")
        return to_builtins(response)

    # Typed as the workflow receives (WorkflowQueue): queue refs or declarations in ``names``
    # give the messages' body and response types (``complete()`` checks the response); a
    # receive without a timeout always returns a message.
    @overload
    async def next(
        self, names: _TypedNames[B, BR], *, timeout: None = None, completable: bool = False
    ) -> QueueMessage[B, BR]: ...

    @overload
    async def next(
        self, names: _TypedNames[B, BR], *, timeout: float, completable: bool = False
    ) -> QueueMessage[B, BR] | None: ...

    @overload
    async def next(
        self, names: Sequence[Any] | str | None = None, *, timeout: None = None, completable: bool = False
    ) -> QueueMessage[Any]: ...

    @overload
    async def next(
        self, names: Sequence[Any] | str | None = None, *, timeout: float, completable: bool = False
    ) -> QueueMessage[Any] | None: ...

    async def next(
        self,
        names: Any = None,
        *,
        timeout: float | None = None,
        completable: bool = False,
    ) -> QueueMessage[Any] | None:
        """The oldest message of ``names`` (``None``: any queue); ``None`` after ``timeout`` seconds."""
        batch = await self.next_batch(names, count=1, timeout=timeout, completable=completable)
        return batch[0] if batch else None

    @overload
    async def next_batch(
        self, names: _TypedNames[B, BR], *, count: int = 1, timeout: float | None = None, completable: bool = False
    ) -> list[QueueMessage[B, BR]]: ...

    @overload
    async def next_batch(
        self,
        names: Sequence[Any] | str | None = None,
        *,
        count: int = 1,
        timeout: float | None = None,
        completable: bool = False,
    ) -> list[QueueMessage[Any]]: ...

    async def next_batch(
        self,
        names: Any = None,
        *,
        count: int = 1,
        timeout: float | None = None,
        completable: bool = False,
    ) -> list[QueueMessage[Any]]:
        """Up to ``count`` messages, oldest first; ``[]`` after ``timeout`` seconds without any."""
        actor = self._actor
        if self._outstanding is not None and not self._outstanding.completed:
            raise QueuePreviousMessageNotCompletedError()
        wanted = queue_names(names)
        self._check_known(wanted)
        if count < 1:
            count = 1
        clock = actor.runtime.clock
        deadline = None if timeout is None else clock.now() + timeout
        while True:
            rows = self.take(wanted, count)
            if rows:
                return self._hand_out(rows, completable)
            if deadline is not None and clock.now() >= deadline:
                return []
            future = self.watch(wanted)
            timer = None if deadline is None else clock.call_at(deadline, _resolver(future))
            actor.enter_wait()
            try:
                await future
            finally:
                actor.leave_wait()
                self.unwatch(future)
                if timer is not None:
                    timer.cancel()

    def _hand_out(self, rows: list[QueueRow], completable: bool) -> list[QueueMessage[Any]]:
        actor = self._actor
        if rows:
            # A run loop busy with a message holds no alarm: with this one (due now), a crash
            # before the loop has drained the queue still resumes it on restart. Messages that
            # arrive while the loop waits persist it as well (_notify). Committed at once (not
            # awaited): a completable message may be held for long before its completion.
            actor.persist_wake()
            if completable:
                actor.save_soon()
        out: list[QueueMessage[Any]] = []
        for row in rows:
            body = self.decode(row)
            if completable:
                self.hold(row)
                message: QueueMessage[Any] = QueueMessage(row.seq, row.name, body, row.created_at, self._completer(row))
                self._outstanding = message
            else:
                self.consume(row)
                message = QueueMessage(row.seq, row.name, body, row.created_at)
            out.append(message)
        if not completable:
            # The deletes ride on the next commit; schedule it without waiting.
            actor.save_soon()
        return out

    def _completer(self, row: QueueRow) -> Callable[[QueueMessage[Any], Any], Awaitable[None]]:
        async def complete(message: QueueMessage[Any], response: Any) -> None:
            wire = self.encode_response(row, response)
            self.remove(row)
            await self._actor.save_state()
            self.resolve_completion(row.seq, wire)

        return complete

    @overload
    def iter(self, names: _TypedNames[B, BR], *, completable: bool = False) -> AsyncIterator[QueueMessage[B, BR]]: ...

    @overload
    def iter(
        self, names: Sequence[Any] | str | None = None, *, completable: bool = False
    ) -> AsyncIterator[QueueMessage[Any]]: ...

    async def iter(
        self, names: Any = None, *, completable: bool = False
    ) -> AsyncIterator[QueueMessage[Any]]:
        """Receive forever: ``async for message in self.queue.iter(): ...``."""
        while True:
            message = await self.next(names, completable=completable)
            if message is not None:
                yield message
