"""Steps (Rivet WE/tests/steps.test.ts), each without and with a crash+reload between waits."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from rivet_dsl import CriticalError, StepExhaustedError, StepOnlyError, WorkflowContext
from rivet_dsl.testing import MockClock, TestEnvironment
from rivet_dsl.workflows import recover

from ._helpers import checkpoint, settle
from ._scenario import CODE, Scenario, calls, events, history, registry, result, scenario, start, until_called


@scenario
async def single_step(self: Scenario, ctx: WorkflowContext) -> Any:
    def work() -> str:
        self.hit("work")
        return "done"

    return await ctx.step("work", work)


@scenario
async def void_then_wait(self: Scenario, ctx: WorkflowContext) -> Any:
    def work() -> None:
        self.hit("work")
        self.note("worked")

    await ctx.step("work", work)
    await ctx.queue.next("wait", names=[self.jobs])
    await ctx.step("after", self.note, "after")
    return "ok"


@scenario
async def compose(self: Scenario, ctx: WorkflowContext) -> Any:
    async def value(n: int) -> int:
        self.hit(f"v{n}")
        await asyncio.sleep(0)
        return n

    a = await ctx.step("one", value, 1)
    b = await ctx.step("two", value, 2)
    message = await ctx.queue.next("wait", names=[self.jobs])
    c = await ctx.step("three", value, 3 + message.body.value)
    return a + b + c


async def test_executes_step_and_completes(mode: str) -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "single_step", mode)
        await checkpoint(env, h, mode)
        assert await result(env, h) == ("completed", "done")
        assert calls("single_step", mode, "work") == 1


async def test_replay_does_not_rerun_steps(mode: str) -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "void_then_wait", mode)
        await checkpoint(env, h, mode)
        await env.restart()  # always at least one replay over the void step
        await settle(env, h)
        await h.send("jobs", {"value": 1})
        await checkpoint(env, h, mode)
        assert await result(env, h) == ("completed", "ok")
        assert calls("void_then_wait", mode, "work") == 1
        assert (await h.action("get_state"))["log"] == ["worked", "after"]


async def test_sequential_steps_compose(mode: str) -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "compose", mode)
        await checkpoint(env, h, mode)
        await h.send("jobs", {"value": 0})
        await checkpoint(env, h, mode)
        assert await result(env, h) == ("completed", 6)
        assert [calls("compose", mode, f"v{i}") for i in (1, 2, 3)] == [1, 1, 1]


@scenario
async def flaky(self: Scenario, ctx: WorkflowContext) -> Any:
    def attempt() -> str:
        n = self.hit("attempt")
        if n < 3:
            raise RuntimeError(f"flaky {n}")
        return "ok"

    return await ctx.step("flaky", attempt, max_retries=3, retry_backoff_base=1.0)


async def test_retries_with_deterministic_backoff(mode: str) -> None:
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        h = await start(env, "flaky", mode)
        assert calls("flaky", mode, "attempt") == 1
        await checkpoint(env, h, mode)
        await clock.advance(1.9)  # backoff after attempt 1: min(30, 1.0 * 2**1) = 2 s
        await settle(env, h)
        assert calls("flaky", mode, "attempt") == 1
        await clock.advance(0.2)
        await checkpoint(env, h, mode)
        assert calls("flaky", mode, "attempt") == 2
        await clock.advance(4.0)  # 1.0 * 2**2
        assert await result(env, h) == ("completed", "ok")
        assert calls("flaky", mode, "attempt") == 3
        reported = events("flaky", mode)
        assert len(reported) == 2
        first = reported[0]["step"]
        assert first["step_name"] == "flaky"
        assert first["attempt"] == 1 and first["max_retries"] == 3 and first["remaining_retries"] == 3
        assert first["will_retry"] is True and first["retry_delay"] == 2.0
        assert first["retry_at"] == pytest.approx(clock.now() - 6.1 + 2.0, abs=0.5)
        assert first["error"] == {"name": "RuntimeError", "message": "flaky 1"}
        assert (await h.action("get_state"))["errors"] == 2  # on_error may mutate state


@scenario
async def always_fails(self: Scenario, ctx: WorkflowContext) -> Any:
    def attempt() -> None:
        self.hit("attempt")
        raise RuntimeError("nope")

    await ctx.step("bad", attempt, max_retries=2, retry_backoff_base=1.0)


async def test_exhausted_after_max_retries_and_not_rereported(mode: str) -> None:
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        h = await start(env, "always_fails", mode)
        await checkpoint(env, h, mode)
        await clock.advance(2.0)
        await checkpoint(env, h, mode)
        await clock.advance(4.0)
        state, _ = await result(env, h)
        assert state == "failed"
        assert calls("always_fails", mode, "attempt") == 3
        data = await history(env, h)
        assert data["error"]["name"] == "StepExhaustedError"
        assert "nope" in data["error"]["message"]
        kinds = [list(e) for e in events("always_fails", mode)]
        assert kinds == [["step"], ["step"], ["step"], ["workflow"]]
        assert events("always_fails", mode)[2]["step"]["will_retry"] is False
        # The actor stays alive; a reload does not run or report anything again.
        await env.restart()
        await settle(env, h)
        assert calls("always_fails", mode, "attempt") == 3
        assert len(events("always_fails", mode)) == 4
        assert (await h.action("get_state"))["errors"] == 4


@scenario
async def critical(self: Scenario, ctx: WorkflowContext) -> Any:
    def attempt() -> None:
        self.hit("attempt")
        raise CriticalError("card declined")

    await ctx.step("charge", attempt)


async def test_critical_error_fails_without_retry(mode: str) -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "critical", mode)
        await checkpoint(env, h, mode)
        state, _ = await result(env, h)
        assert state == "failed"
        assert calls("critical", mode, "attempt") == 1
        assert (await history(env, h))["error"]["name"] == "CriticalError"
        assert events("critical", mode)[0]["step"]["will_retry"] is False


@scenario
async def slow(self: Scenario, ctx: WorkflowContext) -> Any:
    async def hang() -> None:
        self.hit("attempt")
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.hit("cancelled")
            raise

    await ctx.step("hang", hang, timeout=5.0)


@scenario
async def slow_retry(self: Scenario, ctx: WorkflowContext) -> Any:
    async def hang() -> None:
        self.hit("attempt")
        await asyncio.Event().wait()

    await ctx.step("hang", hang, timeout=5.0, retry_on_timeout=True, max_retries=2, retry_backoff_base=1.0)


async def test_step_timeout_cancels_and_is_critical() -> None:
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        h = await start(env, "slow", "live", wait=False)
        await until_called("slow", "live", "attempt")
        await clock.advance(5.0)
        state, _ = await result(env, h)
        assert state == "failed"
        assert calls("slow", "live", "cancelled") == 1  # the step's coroutine was cancelled
        assert (await history(env, h))["error"]["name"] == "StepTimeoutError"


async def test_retry_on_timeout_then_exhausted() -> None:
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        h = await start(env, "slow_retry", "live", wait=False)
        for attempt in (1, 2, 3):
            # Backoff counts from the start of the attempt (2 s, 4 s), which the 5 s timeout
            # already passed: the next attempt starts at once.
            await until_called("slow_retry", "live", "attempt", attempt)
            await clock.advance(5.0)
        state, _ = await result(env, h)
        assert state == "failed"
        assert calls("slow_retry", "live", "attempt") == 3
        assert (await history(env, h))["error"]["name"] == "StepExhaustedError"


@scenario
async def not_awaited(self: Scenario, ctx: WorkflowContext) -> Any:
    ctx.step("first", self.note, "a")  # noqa: RUF006  (deliberately not awaited)
    await ctx.step("second", self.note, "b")


@scenario
async def duplicate(self: Scenario, ctx: WorkflowContext) -> Any:
    await ctx.step("same", self.note, "a")
    await ctx.step("same", self.note, "b")


async def test_not_awaited_and_duplicate_names_are_errors() -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "not_awaited", "live")
        engine = await settle(env, h)
        assert type(engine.error).__name__ == "EntryInProgressError"
        h2 = await start(env, "duplicate", "live")
        engine2 = await settle(env, h2)
        assert type(engine2.error).__name__ == "HistoryDivergedError"
        assert "duplicate" in str(engine2.error)


@scenario
async def ephemeral(self: Scenario, ctx: WorkflowContext) -> Any:
    def mark(label: str) -> str:
        self.hit(label)
        self.note(label)
        return label

    await ctx.step("e1", mark, "e1", ephemeral=True)
    await ctx.step("e2", mark, "e2", ephemeral=True)
    await ctx.step("d", mark, "d")
    await ctx.queue.next("wait", names=[self.jobs])
    return "done"


async def test_ephemeral_steps_batch_with_next_durable_step(mode: str) -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        storage = env.runtime.storage
        before = storage.commits
        h = await start(env, "ephemeral", mode)
        assert storage.commits - before <= 4  # creation, one durable step, the settle hook (no per-ephemeral commits)
        await checkpoint(env, h, mode)
        await h.send("jobs", {"value": 1})
        assert await result(env, h) == ("completed", "done")
        assert [calls("ephemeral", mode, x) for x in ("e1", "e2", "d")] == [1, 1, 1]
        assert (await h.action("get_state"))["log"] == ["e1", "e2", "d"]


@scenario
async def fails_once(self: Scenario, ctx: WorkflowContext) -> Any:
    def attempt() -> str:
        if self.hit("attempt") == 1:
            raise RuntimeError("step failed")
        return "ok"

    await ctx.step("flaky", attempt, retry_backoff_base=100.0)


async def test_failed_attempt_commits_error_not_output() -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "fails_once", "live")
        data = await history(env, h)
        (entry,) = data["entries"]
        assert entry["data"] == {"output": None, "error": "RuntimeError: step failed"}
        meta = data["entryMetadata"][entry["id"]]
        assert meta["status"] == "failed" and meta["attempts"] == 1


@scenario
async def recoverable(self: Scenario, ctx: WorkflowContext) -> Any:
    def attempt() -> str:
        if self.hit("attempt") <= 1:
            raise RuntimeError("down")
        return "up"

    return await ctx.step("call", attempt, max_retries=0)


async def test_recover_after_exhaustion(mode: str) -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "recoverable", mode)
        await checkpoint(env, h, mode)
        assert (await result(env, h))[0] == "failed"
        await recover(env.runtime, await h.resolve())
        await checkpoint(env, h, mode)
        assert await result(env, h) == ("completed", "up")
        assert calls("recoverable", mode, "attempt") == 2


@scenario
async def touches_state(self: Scenario, ctx: WorkflowContext) -> Any:
    try:
        self.state.total += 1
    except StepOnlyError:
        await ctx.step("record", self.note, "state-guarded")
    try:
        self.client()
    except StepOnlyError:
        await ctx.step("record-client", self.note, "client-guarded")
    try:
        await self.jobs.send(__import__("tests.workflow._scenario", fromlist=["Job"]).Job(1))
    except StepOnlyError:
        await ctx.step("record-send", self.note, "send-guarded")
    try:
        self.failed("x")
    except StepOnlyError:
        await ctx.step("record-broadcast", self.note, "broadcast-guarded")

    def inside() -> int:
        self.client()
        self.failed("inside")
        return self.add(5)

    return await ctx.step("inside", inside)


async def test_step_only_access() -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "touches_state", "live")
        assert await result(env, h) == ("completed", 5)
        state = await h.action("get_state")
        assert state["log"] == ["state-guarded", "client-guarded", "send-guarded", "broadcast-guarded"]
        assert state["total"] == 5


def test_scenarios_registered() -> None:
    assert "single_step" in CODE


__all__ = ["StepExhaustedError"]
