"""Alarms of waiting workflows (SEMANTICS 3, 12): a message that wakes a waiting workflow
persists the wake-up with itself, and an idle-sleeping one stores exactly its own deadline.

A workflow blocked in ``queue.next`` needs no alarm: the message's arrival wakes it (while it is
awake it keeps the due alarm of its last wake; asleep, it stores none). If the
process dies after the message's commit and before the next one, the restarted runtime must
still resume that workflow without anyone contacting the actor, or the message sits unprocessed.
Under load a send's commit often starts before the woken workflow has run (a big batch commits
as soon as it is worth a transaction), so the wake-up must ride on the message's own commit.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec

from rivet_dsl import Actor, WorkflowContext, queue, setup, workflow
from rivet_dsl.runtime import Runtime
from rivet_dsl.storage import SqliteStorage, WriteBatch
from rivet_dsl.testing import MockClock

from ._helpers import DiesAfter, blocked


class Processed:
    """The actors whose step ran; ``done`` is set once ``expected`` of them have."""

    actors: set[str] = set()
    expected = 0
    done = asyncio.Event()


class Got(msgspec.Struct):
    value: int = 0


class Waiting(Actor[Got]):
    @queue
    def jobs(self, body: int) -> None: ...

    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        message = await ctx.queue.next("job", names=[self.jobs])
        await ctx.step("apply", self.apply, message.body)
        await ctx.queue.next("park", names=[self.jobs])

    def apply(self, value: int) -> None:
        self.state.value = value
        Processed.actors.add(self.actor_id)
        if len(Processed.actors) >= Processed.expected:
            Processed.done.set()


class Napping(Actor[Got]):
    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        await ctx.sleep("nap", 1000.0)


registry = setup(Waiting, Napping)


async def test_messages_committed_before_a_crash_are_processed_after_restart(tmp_path: Path) -> None:
    path = tmp_path / "wake.db"
    actors = 300  # more than a batch that commits eagerly (256 writes)
    dying = DiesAfter(path)
    runtime = Runtime(registry, storage=dying)
    await runtime.start()
    ids = [(await runtime.get_or_create("waiting", [f"w{i}"])).actor_id for i in range(actors)]
    for actor_id in ids:
        await blocked(runtime, actor_id)  # waiting in queue.next, committed
    dying.allow(1)  # the first batch of messages lands, nothing after it
    sends = [asyncio.ensure_future(runtime.send(actor_id, "jobs", 7)) for actor_id in ids]
    await asyncio.wait(sends, return_when=asyncio.ALL_COMPLETED)
    await runtime.crash()
    acknowledged = {actor_id for actor_id, send in zip(ids, sends) if send.exception() is None}
    # The crash fell between two commits: some messages landed, the rest did not.
    assert 0 < len(acknowledged) < actors

    Processed.actors, Processed.expected, Processed.done = set(), len(acknowledged), asyncio.Event()
    runtime = Runtime(registry, storage=SqliteStorage(path))
    await runtime.start()  # nobody contacts the actors: their alarms alone must wake them
    try:
        await asyncio.wait_for(Processed.done.wait(), timeout=10)
        assert Processed.actors == acknowledged
    finally:
        await runtime.stop()


async def test_an_idle_sleeping_workflow_stores_its_own_deadline_not_an_immediate_wake(tmp_path: Path) -> None:
    clock = MockClock()
    runtime = Runtime(registry, storage=SqliteStorage(tmp_path / "alarms.db"), clock=clock)
    await runtime.start()
    try:
        waiting = (await runtime.get_or_create("waiting", ["idle"])).actor_id
        napping = (await runtime.get_or_create("napping", ["idle"])).actor_id
        deadline = clock.now() + 1000.0
        for actor_id in (waiting, napping):
            await blocked(runtime, actor_id)
        await clock.advance(60.0)  # past sleep_timeout: both idle-sleep
        assert not runtime.is_awake(waiting) and not runtime.is_awake(napping)
        # Before, the sleep's cancelled wait counted the workflow as running again, and the
        # final save stored "resume now": every restart woke both actors for nothing.
        assert dict(await runtime.storage.load_alarms()) == {napping: deadline}
    finally:
        await runtime.stop()


class RecordsAlarms(SqliteStorage):
    """The real store; records the alarm writes of every transaction."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.alarm_writes: list[dict[str, float | None]] = []

    def _apply_sync(self, batch: WriteBatch, bulk: bool, checkpoint: bool = False) -> None:
        self.alarm_writes.append(dict(batch.alarms))
        super()._apply_sync(batch, bulk, checkpoint)


class Looping(Actor[Got]):
    @queue
    def jobs(self, body: int) -> None: ...

    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        async def each(loop: WorkflowContext) -> None:
            message = await loop.queue.next("job", names=[self.jobs])
            await loop.step("apply", self.apply, message.body)

        await ctx.loop("jobs", each)

    def apply(self, value: int) -> None:
        self.state.value += value


looping_registry = setup(Looping)


async def test_an_awake_workflow_woken_by_messages_keeps_its_due_alarm_and_writes_none(tmp_path: Path) -> None:
    """Waiting for a message, an awake workflow leaves its stored alarm due rather than clear it
    only to set it again when the message comes: each message then costs no alarm write. The
    stored alarm stays due, so a crash while it waits still wakes it at restart."""
    clock = MockClock()
    store = RecordsAlarms(tmp_path / "quiet.db")
    runtime = Runtime(looping_registry, storage=store, clock=clock)
    await runtime.start()
    try:
        actor_id = (await runtime.get_or_create("looping", ["a"])).actor_id
        await blocked(runtime, actor_id)
        await runtime.send(actor_id, "jobs", 1)
        await blocked(runtime, actor_id)
        store.alarm_writes.clear()
        for value in (2, 3, 4):
            await clock.advance(1.0)  # each wake-up is later than the stored alarm
            await runtime.send(actor_id, "jobs", value)
            await blocked(runtime, actor_id)
        assert (await runtime.acquire(actor_id)).get_state().value == 10
        assert store.alarm_writes and not any(actor_id in writes for writes in store.alarm_writes)
        (stored,) = [at for a, at in await store.load_alarms() if a == actor_id]
        assert stored <= clock.now()
    finally:
        await runtime.stop()
