"""A plain run loop resumes after a crash without anyone contacting the actor (SEMANTICS 3).

Messages queued before the loop waits are handed out without a waiter to wake; the hand-out
itself persists a due alarm, so a crash while the loop holds one of them (or before it drained
the rest) wakes the actor on restart and the messages are processed.
"""

from __future__ import annotations

import asyncio

import msgspec

from rivet_dsl import Actor, queue, setup
from rivet_dsl.testing import MockClock, TestEnvironment


class Done(msgspec.Struct):
    values: list[int] = msgspec.field(default_factory=list)


class Gates:
    start = asyncio.Event()
    taken = asyncio.Event()
    processed: list[int] = []


class Drainer(Actor[Done]):
    @queue
    def jobs(self, body: int) -> None: ...

    async def run(self) -> None:
        await Gates.start.wait()  # the messages are queued before the loop first waits
        while True:
            message = await self.queue.next(names=[self.jobs], completable=True)
            Gates.taken.set()
            await Gates.start.wait()
            self.state.values.append(message.body)
            Gates.processed.append(message.body)
            await message.complete()


registry = setup(Drainer)


async def test_a_crash_while_the_loop_holds_a_message_is_resumed_on_restart() -> None:
    Gates.start, Gates.taken, Gates.processed = asyncio.Event(), asyncio.Event(), []
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        handle = env.client.get_or_create("drainer", ["x"])
        for value in (1, 2, 3):
            await handle.send("jobs", value)
        commits = env.runtime.storage.commits
        Gates.start.set()
        await Gates.taken.wait()
        Gates.start.clear()  # the loop holds message 1 and waits here
        while env.runtime.storage.commits == commits:  # the commit the hand-out started
            await asyncio.sleep(0)
        await env.restart()
        wakes = env.runtime.wakes
        Gates.start.set()
        await clock.advance(0)  # due alarms fire; nobody calls the actor
        while len(Gates.processed) < 3:
            await asyncio.sleep(0)
        assert env.runtime.wakes == wakes + 1
        assert Gates.processed == [1, 2, 3]
