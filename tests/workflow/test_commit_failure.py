"""A transaction that fails (a full disk, an I/O error) while the store stays up.

The writes of the next transaction were made on top of the failed one's: the same actor's
state already holds the failed step's change, its history goes on from the failed entries.
Committing them would store a state without the step that made it, and a retry (of the
unacknowledged send, or of the step after a reload) would apply that change a second time
(SEMANTICS 1, 2). So every actor with a write in the failed transaction is dropped at once:
its writes still pending are discarded, every caller waiting on them gets an error, and the
next call reloads the last committed state. Actors without a write in it are not touched.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
import pytest

from rivet_dsl import Actor, StorageError, WorkflowContext, action, queue, setup, workflow
from rivet_dsl.runtime import Runtime
from rivet_dsl.runtime._runtime import RETRY_AFTER_FAILED_COMMIT
from rivet_dsl.storage import SqliteStorage, WriteBatch
from rivet_dsl.testing import MockClock

from ._helpers import blocked


class Totals(msgspec.Struct):
    total: int = 0
    bumps: int = 0


class Added:
    """The values the workflow's steps added, in order; ``event`` is set on each."""

    values: list[int] = []
    event = asyncio.Event()


class Adder(Actor[Totals]):
    @queue
    def jobs(self, body: int) -> None: ...

    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        async def each(loop: WorkflowContext) -> None:
            message = await loop.queue.next("job", names=[self.jobs])
            await loop.step("add", self.add, message.body)

        await ctx.loop("jobs-loop", each)

    def add(self, value: int) -> None:
        self.state.total += value
        Added.values.append(value)
        Added.event.set()

    @action
    def bump(self) -> int:
        self.state.bumps += 1
        return self.state.bumps

    @action
    def totals(self) -> list[int]:
        return [self.state.total, self.state.bumps]


registry = setup(Adder)


class FailsOnce(SqliteStorage):
    """The real store, except that once armed, the next transaction carrying a state write
    fails, after waiting for ``release``: meanwhile the test makes more writes, which go into
    the next transaction."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.armed = False
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    def _apply_in_background(self, batch: WriteBatch) -> None:
        return None  # every transaction goes through _apply, on the writer task

    async def _apply(self, batch: WriteBatch) -> None:
        if self.armed and batch.states:
            self.armed = False
            self.entered.set()
            await self.release.wait()
            raise StorageError("disk I/O error")
        await super()._apply(batch)


async def staged(store: FailsOnce, actor_id: str) -> None:
    """Until the actor's state write is in the pending batch (the call has run to its commit)."""
    while actor_id not in store.batch.states:
        await asyncio.sleep(0)


async def test_writes_made_on_top_of_a_failed_commit_are_not_committed(tmp_path: Path) -> None:
    path = tmp_path / "fail.db"
    store = FailsOnce(path)
    clock = MockClock()
    runtime = Runtime(registry, storage=store, clock=clock)
    await runtime.start()
    try:
        actor_id = (await runtime.get_or_create("adder", ["a"])).actor_id
        await blocked(runtime, actor_id)
        await runtime.send(actor_id, "jobs", 5)
        await blocked(runtime, actor_id)
        assert await runtime.call(actor_id, "totals", []) == [5, 0]

        store.armed = True
        send = asyncio.ensure_future(runtime.send(actor_id, "jobs", 7))
        await store.entered.wait()  # the message, its step and the new total: failing
        bump = asyncio.ensure_future(runtime.call(actor_id, "bump", []))  # on top of them
        await staged(store, actor_id)
        store.release.set()
        await asyncio.wait([send, bump])
        # The message was committed before the transaction of its step, which failed; the
        # action made on top of that step is not acknowledged.
        assert send.result().status == "completed"
        assert isinstance(bump.exception(), StorageError)
        # The actor was dropped. A moment later it is woken from what is committed, with
        # nobody calling it: the message, still queued, is handed to the workflow again and
        # added once; the bump did not happen.
        Added.values.clear()
        Added.event = asyncio.Event()
        await clock.advance(RETRY_AFTER_FAILED_COMMIT)
        await Added.event.wait()
        assert Added.values == [7]
        assert await runtime.call(actor_id, "totals", []) == [12, 0]
    finally:
        await runtime.crash()

    runtime = Runtime(registry, storage=SqliteStorage(path))
    await runtime.start()
    try:
        await blocked(runtime, actor_id)
        assert await runtime.call(actor_id, "totals", []) == [12, 0]
    finally:
        await runtime.stop()


async def test_actors_without_writes_in_the_failed_commit_carry_on(tmp_path: Path) -> None:
    store = FailsOnce(tmp_path / "other.db")
    runtime = Runtime(registry, storage=store)
    await runtime.start()
    try:
        failing = (await runtime.get_or_create("adder", ["failing"])).actor_id
        other = (await runtime.get_or_create("adder", ["other"])).actor_id
        await blocked(runtime, failing)
        await blocked(runtime, other)
        store.armed = True
        bump = asyncio.ensure_future(runtime.call(failing, "bump", []))
        await store.entered.wait()
        bystander = asyncio.ensure_future(runtime.call(other, "bump", []))
        await staged(store, other)
        store.release.set()
        with pytest.raises(StorageError):
            await bump
        assert await bystander == 1
        assert await runtime.call(failing, "totals", []) == [0, 0]
        assert await runtime.call(other, "totals", []) == [0, 1]
    finally:
        await runtime.stop()


class Ticks(msgspec.Struct):
    ticks: int = 0


class Ticker(Actor[Ticks]):
    """No run handler: only a schedule brings it back."""

    @action
    async def start(self) -> None:
        await self.schedule.after(10.0, self.tick)

    @action
    def tick(self) -> None:
        self.state.ticks += 1

    @action
    def ticks(self) -> int:
        return self.state.ticks


tickers = setup(Ticker)


async def test_a_scheduled_action_whose_commit_failed_fires_again(tmp_path: Path) -> None:
    """Its delete did not land, so the schedule is still due: the actor is woken again a moment
    later (before, only actors with a run handler were, and this one waited for a caller)."""
    path = tmp_path / "ticker.db"
    store = FailsOnce(path)
    clock = MockClock()
    runtime = Runtime(tickers, storage=store, clock=clock)
    await runtime.start()
    try:
        actor_id = (await runtime.get_or_create("ticker", ["t"])).actor_id
        await runtime.call(actor_id, "start", [])
        store.armed = True
        firing = asyncio.ensure_future(clock.advance(10.0))
        await store.entered.wait()  # the tick and the schedule's delete: failing
        store.release.set()
        await firing
        await clock.advance(RETRY_AFTER_FAILED_COMMIT)
        assert await runtime.call(actor_id, "ticks", []) == 1
    finally:
        await runtime.stop()
    runtime = Runtime(tickers, storage=SqliteStorage(path), clock=clock)
    await runtime.start()
    try:
        await clock.advance(60.0)
        assert await runtime.call(actor_id, "ticks", []) == 1  # fired once, not again
    finally:
        await runtime.stop()
