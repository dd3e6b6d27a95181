"""Durable queues: FIFO, limits, unknown queues, waits, completable messages, run loops."""

from __future__ import annotations

import pytest

from rivet_dsl.client import ActorError
from rivet_dsl.testing import TestEnvironment

from .actors import registry


async def test_fifo_and_acknowledged_sends_are_durable() -> None:
    async with TestEnvironment(registry) as env:
        box = env.client.get_or_create("mailbox", ["fifo"])
        for n in (1, 2, 3):
            result = await box.send("jobs", {"n": n})
            assert result.status == "completed"
        await env.restart()
        assert await box.action("take", 2) == [1, 2]
        assert await box.action("take", 5) == [3]
        assert await box.action("take", 1) == []


async def test_full_queue_too_large_unknown_and_bad_body_change_nothing() -> None:
    async with TestEnvironment(registry) as env:
        box = env.client.get_or_create("mailbox", ["limits"])
        for n in range(3):
            await box.send("jobs", {"n": n})
        with pytest.raises(ActorError) as full:
            await box.send("jobs", {"n": 9})
        assert (full.value.group, full.value.code, full.value.status) == ("queue", "full", 400)
        assert "Queue is full. Limit is 3 messages." == full.value.message
        assert await box.action("take", 1) == [0]
        with pytest.raises(ActorError) as too_large:
            await box.send("notes", "x" * 200)
        assert (too_large.value.code, too_large.value.status) == ("message_too_large", 400)
        assert too_large.value.metadata == {"size": 202, "limit": 64}
        with pytest.raises(ActorError) as unknown:
            await box.send("nope", {"n": 1})
        assert (unknown.value.code, unknown.value.status) == ("unknown", 400)
        with pytest.raises(ActorError) as bad:
            await box.send("jobs", {"n": "one"})
        assert bad.value.code == "invalid_arguments"
        assert await box.action("size") == 2


async def test_receives_merge_the_named_queues_in_fifo_order_and_queue_limits_count_their_own() -> None:
    async with TestEnvironment(registry) as env:
        sorter = env.client.get_or_create("sorter", ["merge"])
        for name, n in (("red", 1), ("blue", 2), ("green", 3), ("red", 4), ("blue", 5), ("green", 6)):
            await sorter.send(name, n)
        with pytest.raises(ActorError) as full:
            await sorter.send("green", 7)
        assert (full.value.group, full.value.code) == ("queue", "full")
        assert await sorter.action("take", ["red", "green"], 3) == [["red", 1], ["green", 3], ["red", 4]]
        await sorter.send("green", 8)  # one green left: room for one more
        with pytest.raises(ActorError):
            await sorter.send("green", 9)
        assert await sorter.action("take", ["green"], 1) == [["green", 6]]
        await env.restart()
        assert await sorter.action("take", [], 10) == [["blue", 2], ["blue", 5], ["green", 8]]
        assert await sorter.action("take", ["red", "blue"], 1) == []


async def test_wait_send_returns_the_completion_or_times_out() -> None:
    async with TestEnvironment(registry) as env:
        box = env.client.get_or_create("mailbox", ["rr"])
        timed_out = await box.send("requests", {"n": 4}, wait=True, timeout=0.05)
        assert timed_out.status == "timed_out"
        # The message stays queued after a timeout; completing it now answers nobody.
        assert await box.action("answer_one") == 4
        import asyncio

        waiting = asyncio.ensure_future(box.send("requests", {"n": 21}, wait=True, timeout=5))
        assert await box.action("answer_one") == 21
        result = await waiting
        assert (result.status, result.response) == ("completed", {"doubled": 42})


async def test_completable_message_is_redelivered_after_a_crash() -> None:
    async with TestEnvironment(registry) as env:
        box = env.client.get_or_create("mailbox", ["redeliver"])
        await box.send("jobs", {"n": 7})
        first = await box.action("hold_one")
        assert await box.action("hold_again") == "QueuePreviousMessageNotCompletedError"
        await env.restart()
        assert await box.action("hold_one") == first
        assert await box.action("complete_held") == "QueueAlreadyCompletedError"
        await env.restart()
        assert await box.action("size") == 0


async def test_send_to_self_from_an_action() -> None:
    async with TestEnvironment(registry) as env:
        box = env.client.get_or_create("mailbox", ["self"])
        await box.action("send_self", 5)
        assert await box.action("take", 1) == [5]


async def test_run_loop_consumes_in_order_and_survives_restarts() -> None:
    async with TestEnvironment(registry) as env:
        worker = env.client.get_or_create("worker", ["w"])
        for n in range(1, 6):
            await worker.send("jobs", {"n": n})
        await env.restart()
        for n in range(6, 9):
            await worker.send("jobs", {"n": n})
        # A wait-free way to know the loop drained: the queue is empty and state reflects it.
        state = await _drained(env, worker)
        assert state["count"] == sum(range(1, 9))
        assert state["log"] == [str(n) for n in range(1, 9)]


async def _drained(env: TestEnvironment, worker: object) -> dict[str, object]:
    from rivet_dsl.client import ActorHandle

    assert isinstance(worker, ActorHandle)
    actor = await env.runtime.acquire(await worker.resolve())
    while len(actor.queue):
        waiter = actor.queue.watch(None)
        actor.queue.unwatch(waiter)
        await actor.commit()  # yields to the run loop; each commit is a real storage round trip
    state: dict[str, object] = await worker.action("get_state")
    return state
