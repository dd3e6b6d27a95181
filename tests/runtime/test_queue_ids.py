"""Queue message ids are unique for the actor's whole life (SEMANTICS 14-15; Rivet: "ids are
monotonically increasing"): a client or a receiver that saw id 5 never sees another message with
id 5, whatever happened in between (the queue drained, the newest message taken while older
ones are held, a sleep, a crash)."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from rivet_dsl import Actor, action, queue, setup
from rivet_dsl.runtime import Runtime
from rivet_dsl.testing import MockClock, TestEnvironment


class Counter(msgspec.Struct):
    count: int = 0


class Inbox(Actor[Counter], sleep_timeout=10.0):
    """No run handler: messages stay queued until an action takes them."""

    @queue
    def jobs(self, body: int) -> None: ...

    @action
    async def send_one(self, n: int) -> None:
        await self.jobs.send(n)

    @action
    async def take_ids(self, count: int = 1000) -> list[int]:
        messages = await self.queue.next_batch(names=["jobs"], count=count, timeout=0)
        return [m.id for m in messages]

    @action
    async def hold_oldest(self) -> int:
        message = await self.queue.next(names=["jobs"], completable=True, timeout=0)
        assert message is not None
        self.held = message
        return message.id

    @action
    async def take_newest(self) -> int:
        """The newest message, leaving the older ones queued (as a workflow may)."""
        rows = self.queue.take(("jobs",), 1000)
        newest = rows[-1]
        self.queue.remove(newest)
        await self.save_state()
        return newest.seq


registry = setup(Inbox)


async def _send(runtime: Runtime, actor_id: str, count: int) -> None:
    for n in range(count):
        await runtime.send(actor_id, "jobs", n)


async def test_ids_go_on_after_a_crash_with_the_queue_drained() -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        actor_id = (await env.runtime.get_or_create("inbox", ["crash"])).actor_id
        await _send(env.runtime, actor_id, 3)
        assert await env.runtime.call(actor_id, "take_ids", []) == [1, 2, 3]
        await env.restart()
        await _send(env.runtime, actor_id, 2)
        ids = await env.runtime.call(actor_id, "take_ids", [])
        assert len(ids) == 2 and ids[0] > 3 and ids[1] > ids[0]


async def test_ids_go_on_exactly_after_a_sleep_with_the_queue_drained() -> None:
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        actor_id = (await env.runtime.get_or_create("inbox", ["sleep"])).actor_id
        await env.runtime.call(actor_id, "send_one", [1])
        await _send(env.runtime, actor_id, 2)
        assert await env.runtime.call(actor_id, "take_ids", []) == [1, 2, 3]
        await clock.advance(11.0)
        assert env.runtime.live_count() == 0
        await _send(env.runtime, actor_id, 1)
        assert await env.runtime.call(actor_id, "take_ids", []) == [4]
        assert env.runtime.wakes == 1


async def test_ids_go_on_after_a_clean_restart_with_the_queue_drained(tmp_path: Path) -> None:
    db = tmp_path / "rivet.db"
    async with TestEnvironment(registry, db=db, clock=MockClock()) as env:
        actor_id = (await env.runtime.get_or_create("inbox", ["stop"])).actor_id
        await _send(env.runtime, actor_id, 2)
        assert await env.runtime.call(actor_id, "take_ids", []) == [1, 2]
    async with TestEnvironment(registry, db=db, clock=MockClock()) as env:
        await _send(env.runtime, actor_id, 1)
        assert await env.runtime.call(actor_id, "take_ids", []) == [3]


async def test_ids_go_on_after_a_crash_when_the_newest_message_was_taken_and_older_ones_held() -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        actor_id = (await env.runtime.get_or_create("inbox", ["held"])).actor_id
        await _send(env.runtime, actor_id, 2)
        assert await env.runtime.call(actor_id, "hold_oldest", []) == 1  # stays stored until completed
        assert await env.runtime.call(actor_id, "take_newest", []) == 2
        await env.restart()
        await _send(env.runtime, actor_id, 1)
        # Message 1 is delivered again (never completed); the new one does not reuse id 2.
        ids = await env.runtime.call(actor_id, "take_ids", [])
        assert ids[0] == 1 and len(ids) == 2 and ids[1] > 2


async def test_ids_go_on_after_a_crash_across_many_reservations(monkeypatch: pytest.MonkeyPatch) -> None:
    # Ids are reserved in blocks; with tiny blocks every few sends cross one.
    monkeypatch.setattr("rivet_dsl.runtime._queue.SEQ_RESERVATION", 2)
    async with TestEnvironment(registry, clock=MockClock()) as env:
        actor_id = (await env.runtime.get_or_create("inbox", ["blocks"])).actor_id
        seen: list[int] = []
        for _ in range(3):
            await _send(env.runtime, actor_id, 5)
            seen += await env.runtime.call(actor_id, "take_ids", [])
            await env.restart()
        assert len(seen) == 15
        assert seen == sorted(set(seen))  # strictly increasing: no id seen twice
