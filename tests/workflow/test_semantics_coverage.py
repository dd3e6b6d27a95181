"""Behaviours the spec promises that had no (or only a weak) test.

* SEMANTICS 7: an awake actor's workflow does not replay after a wait.
* API 1.5 / SEMANTICS 9: step defaults (4 attempts, backoff 0.2/0.4/0.8 s, 30 s timeout, the
  ``retry_backoff_max`` cap).
* SEMANTICS 12: a workflow waiting in ``queue.next`` lets the actor sleep; a message wakes it.
* Options: loop ``history_size=``, ``next_batch(..., completable=True)``, ``names="jobs"`` as a
  plain string, ``QueueMessage.id``/``.created_at``, ``self.conns`` step-only, and the
  ``group``/``code`` of StepExhaustedError, HistoryDivergedError and JoinError.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
from typing import Any

import pytest

from rivet_dsl import (
    CriticalError,
    HistoryDivergedError,
    JoinError,
    Loop,
    StepExhaustedError,
    StepOnlyError,
    StepTimeoutError,
    WorkflowContext,
)
from rivet_dsl.client import ActorError
from rivet_dsl.testing import MockClock, TestEnvironment

from ._helpers import checkpoint, engine_of, settle
from ._scenario import (
    CODE,
    Reply,
    Scenario,
    calls,
    events,
    history,
    registry,
    result,
    scenario,
    start,
    status,
    until_called,
)

#: Entries into a scenario's workflow function, by ``name/mode`` (process memory survives restarts).
ENTRIES: collections.Counter[str] = collections.Counter()
#: The clock of the running test, for step bodies that record when they ran.
CLOCKS: dict[str, MockClock] = {}
#: Clock times of step attempts, by ``name/mode``.
TIMES: dict[str, list[float]] = collections.defaultdict(list)


async def _yield_until(predicate: Any, what: str) -> None:
    """Yield to the event loop (no real sleeping) until ``predicate()`` holds."""
    for _ in range(10_000):
        if predicate():
            return
        await asyncio.sleep(0)
    raise AssertionError(f"never happened: {what}")


# -- A. SEMANTICS 7: an awake actor does not replay -------------------------------------------

WAITS = 5


@scenario
async def no_replay(self: Scenario, ctx: WorkflowContext) -> Any:
    ENTRIES[self.tag] += 1
    for i in range(WAITS):
        message = await ctx.queue.next(f"wait-{i}", names=[self.jobs])
        await ctx.step(f"apply-{i}", self.add, message.body.value)
    return "ok"


async def test_awake_actor_does_not_replay_after_waits() -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "no_replay", "awake")
        for i in range(WAITS - 1):
            await h.send("jobs", {"value": i + 1})
            await settle(env, h)
        # Four waits resumed while awake: the function was entered once, never re-run.
        assert ENTRIES["no_replay/awake"] == 1
        # A wake from storage replays from the top: exactly one more entry.
        await env.restart()
        await settle(env, h)
        assert ENTRIES["no_replay/awake"] == 2
        await h.send("jobs", {"value": WAITS})
        assert await result(env, h) == ("completed", "ok")
        assert ENTRIES["no_replay/awake"] == 2
        assert (await h.action("get_state"))["total"] == sum(range(1, WAITS + 1))


async def test_each_restart_replays_exactly_once() -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "no_replay", "restarts")
        for i in range(WAITS):
            await checkpoint(env, h, "restart")
            await h.send("jobs", {"value": i + 1})
        assert await result(env, h) == ("completed", "ok")
        assert ENTRIES["no_replay/restarts"] == 1 + WAITS


# -- B. Step defaults (API 1.5, SEMANTICS 9) ----------------------------------------------------


def _always_fails_step(self: Scenario, label: str) -> Any:
    def always_fails() -> None:
        TIMES[f"{self.tag}:{label}"].append(CLOCKS[self.tag].now())
        self.hit(label)
        raise RuntimeError("always")

    return always_fails


@scenario
async def step_defaults(self: Scenario, ctx: WorkflowContext) -> Any:
    await ctx.step("bad", _always_fails_step(self, "bad"))


@scenario
async def step_backoff_capped(self: Scenario, ctx: WorkflowContext) -> Any:
    await ctx.step("bad", _always_fails_step(self, "bad"), retry_backoff_max=0.3)


@scenario
async def step_backoff_default_cap(self: Scenario, ctx: WorkflowContext) -> Any:
    # base 10 s: 20 s, then 40 s and 80 s capped by the default retry_backoff_max of 30 s.
    await ctx.step("bad", _always_fails_step(self, "bad"), retry_backoff_base=10.0)


async def _drive_retries(env: TestEnvironment, h: Any, clock: MockClock, mode: str, tag: str, delays: list[float]) -> None:
    """For each expected delay after an attempt: 10 ms short of it nothing runs; 10 ms past it
    the next attempt has run (the MockClock fires a timer at its own deadline)."""
    for n, delay in enumerate(delays, start=1):
        await checkpoint(env, h, mode)
        assert len(TIMES[f"{tag}:bad"]) == n
        due = TIMES[f"{tag}:bad"][-1] + delay
        await clock.advance(due - 0.01 - clock.now())
        await settle(env, h)
        assert len(TIMES[f"{tag}:bad"]) == n, f"attempt {n + 1} ran before its {delay}s backoff"
        await clock.advance(0.02)
        await settle(env, h)
        assert len(TIMES[f"{tag}:bad"]) == n + 1


@pytest.mark.parametrize(
    ("name", "delays"),
    [
        ("step_defaults", [0.2, 0.4, 0.8]),
        ("step_backoff_capped", [0.2, 0.3, 0.3]),
        ("step_backoff_default_cap", [20.0, 30.0, 30.0]),
    ],
)
async def test_step_default_retries_and_backoff(mode: str, name: str, delays: list[float]) -> None:
    clock = MockClock()
    tag = f"{name}/{mode}"
    CLOCKS[tag] = clock
    async with TestEnvironment(registry, clock=clock) as env:
        h = await start(env, name, mode)
        await _drive_retries(env, h, clock, mode, tag, delays)
        assert await result(env, h) == ("failed", None)
        # Four attempts (max_retries=3), then exhausted; no fifth attempt however long we wait.
        assert calls(name, mode, "bad") == 4
        await clock.advance(100.0)
        await settle(env, h)
        assert calls(name, mode, "bad") == 4
        times = TIMES[f"{name}/{mode}:bad"]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert gaps == pytest.approx(delays, abs=1e-6)
        retry_delays = [e["step"].get("retry_delay") for e in events(name, mode) if "step" in e]
        assert retry_delays[:3] == pytest.approx(delays)
        assert retry_delays[3] is None
        assert (await history(env, h))["error"]["name"] == "StepExhaustedError"


@scenario
async def step_default_timeout(self: Scenario, ctx: WorkflowContext) -> Any:
    async def hang() -> None:
        self.hit("hang")
        await asyncio.Event().wait()

    try:
        await ctx.step("hang", hang)
    except StepTimeoutError as exc:
        await ctx.step("record", self.note, f"timeout:{exc.code}")
        return "timed out"
    return "returned"


async def test_step_default_timeout_is_30_seconds() -> None:
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        h = await start(env, "step_default_timeout", "live", wait=False)
        await until_called("step_default_timeout", "live", "hang")
        await clock.advance(29.9)
        for _ in range(100):
            await asyncio.sleep(0)
        assert await status(env, h) == "running"
        assert (await engine_of(env, h)).done is False
        await clock.advance(0.1)
        assert await result(env, h) == ("completed", "timed out")
        # A timeout is critical by default: one attempt, no retry.
        assert calls("step_default_timeout", "live", "hang") == 1
        assert (await h.action("get_state"))["log"] == ["timeout:step_timeout"]


# -- C. SEMANTICS 12: a queue wait lets the actor sleep; a message wakes it ---------------------


@scenario
async def queue_sleeper(self: Scenario, ctx: WorkflowContext) -> Any:
    await ctx.step("before", self.note, "before")
    message = await ctx.queue.next("wait", names=[self.jobs])
    await ctx.step("after", self.add, message.body.value)
    return "woke"


async def test_queue_wait_lets_actor_sleep_and_message_wakes_it(mode: str) -> None:
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        h = await start(env, "queue_sleeper", mode)
        await checkpoint(env, h, mode)
        assert env.runtime.is_awake(await h.resolve())
        wakes = env.runtime.wakes
        await clock.advance(31.0)  # past the default sleep_timeout (30 s)
        assert not env.runtime.is_awake(await h.resolve())
        assert env.runtime.live_count() == 0
        await h.send("jobs", {"value": 7})
        assert env.runtime.wakes == wakes + 1
        assert await result(env, h) == ("completed", "woke")
        state = await h.action("get_state")
        assert state["log"] == ["before"] and state["total"] == 7


# -- E. Options ----------------------------------------------------------------------------------


def _iterations(data: dict[str, Any], loop: str) -> list[int]:
    kept = set()
    for entry in data["entries"]:
        parts = entry["location"].split("/")
        if len(parts) > 1 and parts[0] == loop and parts[1].startswith("~"):
            kept.add(int(parts[1][1:]))
    return sorted(kept)


def _pruned_loop(size: int | None) -> Any:
    async def code(self: Scenario, ctx: WorkflowContext) -> Any:
        async def body(loop: WorkflowContext, i: int) -> Loop[int]:
            await loop.step("work", self.note, str(i))
            if i == 9:
                await loop.queue.next("hold", names=[self.jobs])
                return Loop.break_(i)
            return Loop.continue_(i + 1)

        return await ctx.loop("l", body, state=0, history_prune_interval=2, history_size=size)

    return code


async def test_loop_history_size_keeps_more_iterations_than_the_interval(mode: str) -> None:
    CODE["loop_sized"] = _pruned_loop(5)
    CODE["loop_unsized"] = _pruned_loop(None)
    async with TestEnvironment(registry, clock=MockClock()) as env:
        sized = await start(env, "loop_sized", mode)
        unsized = await start(env, "loop_unsized", mode)
        await checkpoint(env, sized, mode)
        await settle(env, unsized)
        # Ten iterations, the last waiting; the last checkpoint (iteration 8) pruned below 8 - keep.
        assert _iterations(await history(env, sized), "l") == [3, 4, 5, 6, 7, 8, 9]
        assert _iterations(await history(env, unsized), "l") == [6, 7, 8, 9]
        await sized.send("jobs", {"value": 0})
        await unsized.send("jobs", {"value": 0})
        assert await result(env, sized) == ("completed", 9)
        assert await result(env, unsized) == ("completed", 9)
        # The break prunes below 10 - keep.
        assert _iterations(await history(env, sized), "l") == [5, 6, 7, 8, 9]
        assert _iterations(await history(env, unsized), "l") == [8, 9]
        assert (await sized.action("get_state"))["log"] == [str(i) for i in range(10)]


@scenario
async def batch_completable(self: Scenario, ctx: WorkflowContext) -> Any:
    await ctx.queue.next("go", names=[self.jobs])
    batch = await ctx.queue.next_batch("batch", names=[self.requests], count=2, completable=True)
    await batch[0].complete(Reply(echo=batch[0].body.value * 10))
    await ctx.sleep("gate", 5.0)
    await batch[1].complete(Reply(echo=batch[1].body.value * 10))
    after = await ctx.queue.next("after", names=[self.requests], timeout=1.0)
    return [[m.body.value for m in batch], after]


async def test_next_batch_completable(mode: str) -> None:
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        h = await start(env, "batch_completable", mode)
        actor_id = await h.resolve()
        s1 = asyncio.ensure_future(h.send("requests", {"value": 1}, wait=True, timeout=100))
        s2 = asyncio.ensure_future(h.send("requests", {"value": 2}, wait=True, timeout=100))
        actor = await env.runtime.acquire(actor_id)
        await _yield_until(lambda: len(actor.queue) == 2, "both requests queued")
        await h.send("jobs", {"value": 0})
        first = await asyncio.wait_for(s1, 5)  # guard only: completed by the workflow
        assert (first.status, first.response) == ("completed", {"echo": 10})
        await settle(env, h)
        assert not s2.done()
        # The second message is held (not yet completed): it is still in the queue.
        assert len(actor.queue) == 1
        if mode == "restart":
            await env.restart()
            await settle(env, h)
            # The waiting sender of the held message was cut off by the restart; the message stays.
            with pytest.raises(ActorError) as raised:
                await asyncio.wait_for(s2, 5)
            assert raised.value.code == "aborted"
            actor = await env.runtime.acquire(actor_id)
            assert len(actor.queue) == 1
        await clock.advance(5.0)
        await settle(env, h)
        if mode == "live":
            second = await asyncio.wait_for(s2, 5)
            assert (second.status, second.response) == ("completed", {"echo": 20})
        await clock.advance(1.0)
        assert await result(env, h) == ("completed", [[1, 2], None])
        actor = await env.runtime.acquire(actor_id)
        assert len(actor.queue) == 0


@scenario
async def names_as_string(self: Scenario, ctx: WorkflowContext) -> Any:
    message = await ctx.queue.next("wait", names="jobs")
    return [message.name, message.body["value"] if isinstance(message.body, dict) else message.body.value]


async def test_queue_names_as_a_plain_string(mode: str) -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "names_as_string", mode)
        await h.send("other", {"value": 1})
        await checkpoint(env, h, mode)
        assert await status(env, h) != "completed"
        await h.send("jobs", {"value": 2})
        assert await result(env, h) == ("completed", ["jobs", 2])
        actor = await env.runtime.acquire(await h.resolve())
        assert len(actor.queue) == 1  # the "other" message was not taken


@scenario
async def message_metadata(self: Scenario, ctx: WorkflowContext) -> Any:
    first = await ctx.queue.next("first", names=[self.jobs])
    second = await ctx.queue.next("second", names=[self.jobs])
    return [[first.id, first.created_at, first.name], [second.id, second.created_at, second.name]]


async def test_queue_message_id_and_created_at(mode: str) -> None:
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        h = await start(env, "message_metadata", mode)
        sent_at = [clock.now()]
        await h.send("jobs", {"value": 1})
        await checkpoint(env, h, mode)
        await clock.advance(12.5)
        sent_at.append(clock.now())
        await h.send("jobs", {"value": 2})
        state, output = await result(env, h)
        assert state == "completed"
        (id1, at1, name1), (id2, at2, name2) = output
        assert (name1, name2) == ("jobs", "jobs")
        assert isinstance(id1, int) and isinstance(id2, int) and id2 > id1
        # created_at is the runtime clock's time of the send, kept across replays.
        assert [at1, at2] == sent_at
        if mode == "restart":
            await env.restart()
            await settle(env, h)
            assert (await history(env, h))["output"] == output


@scenario
async def conns_step_only(self: Scenario, ctx: WorkflowContext) -> Any:
    try:
        len(self.conns)
    except StepOnlyError as exc:
        await ctx.step("guarded", self.note, f"guarded:{exc.code}")

    def inside() -> int:
        return len(self.conns)

    return await ctx.step("inside", inside)


async def test_conns_is_step_only(mode: str) -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "conns_step_only", mode)
        await checkpoint(env, h, mode)
        assert await result(env, h) == ("completed", 0)
        assert (await h.action("get_state"))["log"] == ["guarded:step_only"]


@scenario
async def exhausted_codes(self: Scenario, ctx: WorkflowContext) -> Any:
    def boom() -> None:
        raise RuntimeError("boom")

    await ctx.step("boom", boom, max_retries=0)


@scenario
async def diverged_codes(self: Scenario, ctx: WorkflowContext) -> Any:
    await ctx.step("same", self.note, "one")
    await ctx.step("same", self.note, "two")


@scenario
async def join_codes(self: Scenario, ctx: WorkflowContext) -> Any:
    async def bad(b: WorkflowContext) -> None:
        def critical() -> None:
            raise CriticalError("no")

        await b.step("c", critical)

    async def good(b: WorkflowContext) -> int:
        return 1

    try:
        await ctx.join("j", {"bad": bad, "good": good})
    except JoinError as exc:
        return [exc.group, exc.code, sorted(exc.errors), type(exc.errors["bad"]).__name__]
    return "no error"


async def test_error_groups_and_codes() -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "exhausted_codes", "x")
        assert (await result(env, h))[0] == "failed"
        error = (await engine_of(env, h)).error
        assert isinstance(error, StepExhaustedError)
        assert (error.group, error.code) == ("workflow", "step_exhausted")

        h = await start(env, "diverged_codes", "x")
        error = (await settle(env, h)).error
        assert isinstance(error, HistoryDivergedError)
        assert (error.group, error.code) == ("workflow", "history_diverged")

        h = await start(env, "join_codes", "x")
        assert await result(env, h) == ("completed", ["workflow", "join_failed", ["bad"], "CriticalError"])
