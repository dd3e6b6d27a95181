"""Sleep and queue receive (Rivet WE/tests/sleep.test.ts, messages.test.ts)."""

from __future__ import annotations

from typing import Any

from rivet_dsl import Loop, QueuePreviousMessageNotCompletedError, WorkflowContext
from rivet_dsl.testing import MockClock, TestEnvironment

from ._helpers import checkpoint, settle
from ._scenario import Reply, Scenario, calls, history, registry, result, scenario, start


@scenario
async def long_sleep(self: Scenario, ctx: WorkflowContext) -> Any:
    await ctx.step("before", self.hit, "before")
    await ctx.sleep("nap", 3600.0)
    await ctx.step("after", self.hit, "after")
    return "woke"


async def test_long_sleep_is_durable(mode: str) -> None:
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        h = await start(env, "long_sleep", mode)
        actor_id = await h.resolve()
        deadline = clock.now() + 3600.0
        engine = await checkpoint(env, h, mode)
        assert engine.actor.workflow_alarm == deadline
        await clock.advance(1800.0)
        await checkpoint(env, h, mode)
        assert calls("long_sleep", mode, "after") == 0
        await clock.advance(1800.0)
        assert await result(env, h) == ("completed", "woke")
        assert calls("long_sleep", mode, "before") == 1 and calls("long_sleep", mode, "after") == 1
        actor = await env.runtime.acquire(actor_id)
        assert actor.workflow_alarm is None  # cleared on completion


@scenario
async def sleep_past(self: Scenario, ctx: WorkflowContext) -> Any:
    await ctx.sleep_until("past", 1000.0)
    await ctx.sleep("zero", 0.0)
    return "immediate"


async def test_sleep_until_in_the_past_completes_at_once() -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "sleep_past", "live")
        assert await result(env, h) == ("completed", "immediate")


@scenario
async def sleepy_actor(self: Scenario, ctx: WorkflowContext) -> Any:
    async def body(loop: WorkflowContext, i: int) -> Loop[int]:
        await loop.sleep("tick-wait", 60.0)
        await loop.step("tick", self.add, 1)
        return Loop.break_(i) if i == 2 else Loop.continue_(i + 1)

    return await ctx.loop("ticker", body, state=0)


async def test_sleeping_workflow_lets_actor_sleep_and_wakes_it(mode: str) -> None:
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        h = await start(env, "sleepy_actor", mode)
        await checkpoint(env, h, mode)
        wakes = env.runtime.wakes
        # sleep_timeout is 30 s: the actor sleeps while its workflow waits, the timer wakes it.
        await clock.advance(35.0)
        assert env.runtime.live_count() == 0
        await clock.advance(30.0)
        assert env.runtime.wakes == wakes + 1
        await settle(env, h)
        for _ in range(2):
            await clock.advance(60.0)
            await settle(env, h)
        assert await result(env, h) == ("completed", 2)
        assert (await h.action("get_state"))["total"] == 3


@scenario
async def sleep_in_loop(self: Scenario, ctx: WorkflowContext) -> Any:
    async def body(loop: WorkflowContext, i: int) -> Loop[int]:
        await loop.step("work", self.hit, f"work{i}")
        await loop.sleep("pause", 10.0)
        return Loop.break_(i) if i == 2 else Loop.continue_(i + 1)

    return await ctx.loop("loop", body, state=0)


async def test_sleep_in_loop_does_not_replay_previous_iteration(mode: str) -> None:
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        h = await start(env, "sleep_in_loop", mode)
        for _ in range(3):
            await checkpoint(env, h, mode)
            await clock.advance(10.0)
        assert await result(env, h) == ("completed", 2)
        assert [calls("sleep_in_loop", mode, f"work{i}") for i in range(3)] == [1, 1, 1]


@scenario
async def receive_any(self: Scenario, ctx: WorkflowContext) -> Any:
    first = await ctx.queue.next("first", names=[self.jobs, self.other])
    second = await ctx.queue.next("second")
    return [first.name, first.body.value, second.name, second.body.value]


async def test_waits_for_any_of_names_and_pending_messages(mode: str) -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = env.client.get_or_create("scenario", ["receive_any", mode])
        await h.send("other", {"value": 7})  # sent before the workflow waits
        await checkpoint(env, h, mode)
        await h.send("jobs", {"value": 8})
        assert await result(env, h) == ("completed", ["other", 7, "jobs", 8])


@scenario
async def completable(self: Scenario, ctx: WorkflowContext) -> Any:
    async def body(loop: WorkflowContext) -> Loop[int] | None:
        message = await loop.queue.next("request", names=[self.requests], completable=True)
        doubled = await loop.step("double", lambda v: v * 2, message.body.value)
        await message.complete(Reply(echo=doubled))
        return Loop.break_(doubled) if message.body.value == 0 else None

    return await ctx.loop("serve", body)


async def test_completable_message_answers_waiting_sender(mode: str) -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "completable", mode)
        for value in (21, 5):
            answer = await h.send("requests", {"value": value}, wait=True, timeout=1.0)
            assert answer.status == "completed"
            assert answer.response == {"echo": value * 2}
            await checkpoint(env, h, mode)
        await h.send("requests", {"value": 0}, wait=True, timeout=1.0)
        assert await result(env, h) == ("completed", 0)


@scenario
async def uncompleted(self: Scenario, ctx: WorkflowContext) -> Any:
    await ctx.queue.next("a", names=[self.requests], completable=True)
    try:
        await ctx.queue.next("b", names=[self.requests], completable=True)
    except QueuePreviousMessageNotCompletedError:
        return "blocked"
    return "not blocked"


async def test_uncompleted_completable_blocks_next_receive() -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "uncompleted", "live")
        await h.send("requests", {"value": 1})
        await h.send("requests", {"value": 2})
        assert await result(env, h) == ("completed", "blocked")
        actor = await env.runtime.acquire(await h.resolve())
        assert len(actor.queue) == 2  # both messages remain queued


@scenario
async def batches(self: Scenario, ctx: WorkflowContext) -> Any:
    await ctx.queue.next("start", names=[self.requests])
    first = await ctx.queue.next_batch("two", names=[self.jobs], count=2)
    empty = await ctx.queue.next_batch("none", names=[self.other], count=2, timeout=5.0)
    late = await ctx.queue.next_batch("late", names=[self.other], count=2, timeout=50.0)
    single = await ctx.queue.next("timed", names=[self.other], timeout=5.0)
    rest = await ctx.queue.next_batch("rest", names=[self.jobs], count=5)
    return [[m.body.value for m in first], empty, [m.body.value for m in late], single, [m.body.value for m in rest]]


async def test_batches_fifo_limits_and_timeouts(mode: str) -> None:
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        h = env.client.get_or_create("scenario", ["batches", mode])
        for value in (1, 2, 3):
            await h.send("jobs", {"value": value})
        await h.send("requests", {"value": 0})
        await checkpoint(env, h, mode)
        await clock.advance(5.0)  # "none" times out -> []
        await checkpoint(env, h, mode)
        await clock.advance(10.0)
        await h.send("other", {"value": 9})  # arrives before "late" times out
        await checkpoint(env, h, mode)
        await clock.advance(5.0)  # "timed" times out -> None
        assert await result(env, h) == ("completed", [[1, 2], [], [9], None, [3]])


@scenario
async def timeout_in_loop(self: Scenario, ctx: WorkflowContext) -> Any:
    async def body(loop: WorkflowContext, i: int) -> Loop[int]:
        message = await loop.queue.next("msg", names=[self.jobs], timeout=10.0)
        await loop.step("log", self.note, "none" if message is None else str(message.body.value))
        return Loop.break_(i) if i == 2 else Loop.continue_(i + 1)

    return await ctx.loop("loop", body, state=0)


async def test_timeout_in_loop_does_not_replay_previous_message(mode: str) -> None:
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        h = await start(env, "timeout_in_loop", mode)
        await h.send("jobs", {"value": 1})
        await checkpoint(env, h, mode)
        await clock.advance(10.0)
        await checkpoint(env, h, mode)
        await h.send("jobs", {"value": 3})
        assert await result(env, h) == ("completed", 2)
        assert (await h.action("get_state"))["log"] == ["1", "none", "3"]


@scenario
async def handoff(self: Scenario, ctx: WorkflowContext) -> Any:
    async def body(loop: WorkflowContext) -> Loop[str] | None:
        message = await loop.queue.next("next", names=[self.jobs])
        total = await loop.step("add", self.add, message.body.value)
        return Loop.break_("enough") if total >= 6 else None

    return await ctx.loop("work", body)


async def test_message_handoff_is_exactly_once(mode: str) -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "handoff", mode)
        await h.send("jobs", {"value": 2})
        await checkpoint(env, h, mode)
        await env.restart()
        await settle(env, h)
        await h.send("jobs", {"value": 4})
        assert await result(env, h) == ("completed", "enough")
        assert (await h.action("get_state"))["total"] == 6
        actor = await env.runtime.acquire(await h.resolve())
        assert len(actor.queue) == 0
        data = await history(env, h)
        assert sum(1 for e in data["entries"] if e["kind"] == "message") == 2
