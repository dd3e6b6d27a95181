"""More engine cases: interning, completion rules, un-awaited entries in scopes, datetimes, join retries."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from rivet_dsl import Loop, QueueAlreadyCompletedError, WorkflowContext
from rivet_dsl.testing import MockClock, TestEnvironment

from ._helpers import checkpoint, settle
from ._scenario import Reply, Scenario, calls, history, registry, result, scenario, start


@scenario
async def interned(self: Scenario, ctx: WorkflowContext) -> Any:
    async def body(loop: WorkflowContext, i: int) -> Loop[int]:
        await loop.step("same-name", self.hit, "x")
        return Loop.break_(i) if i == 4 else Loop.continue_(i + 1)

    return await ctx.loop("loop", body, state=0)


async def test_names_are_interned_once(mode: str) -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "interned", mode)
        await checkpoint(env, h, mode)
        data = await history(env, h)
        assert sorted(data["nameRegistry"]) == ["loop", "same-name"]
        assert [e["location"] for e in data["entries"] if e["kind"] == "step"] == [
            f"loop/~{i}/same-name" for i in range(5)
        ]


@scenario
async def complete_twice(self: Scenario, ctx: WorkflowContext) -> Any:
    message = await ctx.queue.next("req", names=[self.requests], completable=True)
    await message.complete(Reply(echo=1))
    try:
        await message.complete(Reply(echo=2))
    except QueueAlreadyCompletedError:
        return "already"
    return "twice"


async def test_complete_twice_is_an_error() -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "complete_twice", "live")
        answer = await h.send("requests", {"value": 1}, wait=True, timeout=1.0)
        assert answer.response == {"echo": 1}
        assert await result(env, h) == ("completed", "already")


@scenario
async def unawaited_in_loop(self: Scenario, ctx: WorkflowContext) -> Any:
    async def body(loop: WorkflowContext) -> Loop[int]:
        loop.step("forgotten", self.note, "never")  # noqa: RUF006  (deliberately not awaited)
        return Loop.break_(1)

    return await ctx.loop("loop", body)


async def test_unawaited_entry_at_end_of_scope() -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "unawaited_in_loop", "live")
        engine = await settle(env, h)
        assert type(engine.error).__name__ == "EntryInProgressError"
        assert "loop/~0/forgotten" in str(engine.error)
        assert (await h.action("get_state"))["log"] == []


@scenario
async def until_datetime(self: Scenario, ctx: WorkflowContext) -> Any:
    when = datetime.fromtimestamp(1_800_000_100.0, tz=timezone.utc)
    await ctx.sleep_until("at", when)
    return "woke"


async def test_sleep_until_datetime(mode: str) -> None:
    clock = MockClock(start=1_800_000_000.0)
    async with TestEnvironment(registry, clock=clock) as env:
        h = await start(env, "until_datetime", mode)
        await checkpoint(env, h, mode)
        await clock.advance(99.0)
        await settle(env, h)
        assert (await result(env, h))[0] == "running"
        await clock.advance(1.0)
        assert await result(env, h) == ("completed", "woke")


@scenario
async def join_retry(self: Scenario, ctx: WorkflowContext) -> Any:
    async def a(b: WorkflowContext) -> str:
        return await b.step("a", lambda: "a")

    async def flaky(b: WorkflowContext) -> str:
        def attempt() -> str:
            if self.hit("flaky") == 1:
                raise RuntimeError("first attempt fails")
            return "b"

        return await b.step("b", attempt, retry_backoff_base=5.0)

    values = await ctx.join("j", {"a": a, "b": flaky})
    return values["a"] + values["b"]


async def test_join_branch_retry_waits_then_completes(mode: str) -> None:
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        h = await start(env, "join_retry", mode)
        await checkpoint(env, h, mode)
        assert (await result(env, h))[0] == "running"
        await clock.advance(10.0)
        assert await result(env, h) == ("completed", "ab")
        assert calls("join_retry", mode, "flaky") == 2


@scenario
async def version_per_iteration(self: Scenario, ctx: WorkflowContext) -> Any:
    async def body(loop: WorkflowContext, i: int) -> Loop[int]:
        version = await loop.get_version("v", 2)
        await loop.step("record", self.note, f"{i}:v{version}")
        await loop.queue.next("next", names=[self.jobs])
        return Loop.break_(i) if i == 1 else Loop.continue_(i + 1)

    return await ctx.loop("loop", body, state=0)


async def test_version_is_recorded_per_iteration(mode: str) -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "version_per_iteration", mode)
        await h.send("jobs", {"value": 0})
        await checkpoint(env, h, mode)
        await h.send("jobs", {"value": 0})
        assert await result(env, h) == ("completed", 1)
        assert (await h.action("get_state"))["log"] == ["0:v2", "1:v2"]
