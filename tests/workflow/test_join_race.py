"""join and race (Rivet WE/tests/join.test.ts, race.test.ts)."""

from __future__ import annotations

import asyncio
from typing import Any

from rivet_dsl import JoinError, RaceError, WorkflowContext
from rivet_dsl.testing import MockClock, TestEnvironment

from ._helpers import checkpoint
from ._scenario import Scenario, calls, history, registry, result, scenario, start

#: The order in which the "parallel" branches reached their marks, one list per run of the
#: workflow function (a replay after a restart is a new run), by mode.
ORDERS: dict[str, list[list[str]]] = {}


@scenario
async def parallel(self: Scenario, ctx: WorkflowContext) -> Any:
    order: list[str] = []
    ORDERS.setdefault(self.key[1], []).append(order)
    # Each branch waits at a gate until the other has run its first step: the join can only get
    # past it by running the branches concurrently (sequential branches would time out here).
    started = {"a": asyncio.Event(), "b": asyncio.Event()}

    def branch(label: str, other: str) -> Any:
        async def run(b: WorkflowContext) -> str:
            order.append(f"{label}-start")
            await b.step("first", self.hit, f"{label}1")
            started[label].set()
            await asyncio.wait_for(started[other].wait(), 5.0)  # a guard, never reached when concurrent
            order.append(f"{label}-mid")
            message = await b.queue.next("wait", names=[self.jobs if label == "a" else self.other])
            await b.step("second", self.hit, f"{label}2")
            return f"{label}:{message.body.value}"

        return run

    values = await ctx.join("both", {"a": branch("a", "b"), "b": branch("b", "a")})
    return values


async def test_join_runs_branches_concurrently_and_replays(mode: str) -> None:
    ORDERS.pop(mode, None)
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "parallel", mode)
        await checkpoint(env, h, mode)
        await h.send("jobs", {"value": 1})
        await checkpoint(env, h, mode)
        await h.send("other", {"value": 2})
        assert await result(env, h) == ("completed", {"a": "a:1", "b": "b:2"})
        for label in ("a1", "a2", "b1", "b2"):
            assert calls("parallel", mode, label) == 1
    # Interleaved: both branches started (and ran their first step) before either went on, on
    # the first run and on every replay. Live: one run; restart mode: one more per restart.
    runs = ORDERS[mode]
    assert len(runs) == (1 if mode == "live" else 3)
    for order in runs:
        assert sorted(order[:2]) == ["a-start", "b-start"], order
        assert sorted(order[2:]) == ["a-mid", "b-mid"], order


@scenario
async def join_fails(self: Scenario, ctx: WorkflowContext) -> Any:
    async def good(b: WorkflowContext) -> str:
        await b.queue.next("wait", names=[self.jobs])
        return await b.step("done", self.note, "b-completed")

    async def bad(b: WorkflowContext) -> str:
        def boom() -> str:
            raise RuntimeError("branch broke")

        return await b.step("boom", boom, max_retries=0)

    try:
        await ctx.join("both", {"bad": bad, "good": good})
    except JoinError as exc:
        return sorted(exc.errors)
    return "no error"


async def test_join_waits_for_all_then_raises(mode: str) -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "join_fails", mode)
        await checkpoint(env, h, mode)
        await h.send("jobs", {"value": 1})
        assert await result(env, h) == ("completed", ["bad"])
        assert (await h.action("get_state"))["log"] == ["b-completed"]


@scenario
async def join_uncaught(self: Scenario, ctx: WorkflowContext) -> Any:
    async def bad(b: WorkflowContext) -> None:
        raise RuntimeError("x")

    async def good(b: WorkflowContext) -> int:
        return 1

    await ctx.join("j", {"bad": bad, "good": good})


async def test_join_error_fails_workflow() -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "join_uncaught", "live")
        state, _ = await result(env, h)
        assert state == "failed"
        assert (await history(env, h))["error"]["name"] == "JoinError"


@scenario
async def racing(self: Scenario, ctx: WorkflowContext) -> Any:
    async def fast(b: WorkflowContext) -> str:
        message = await b.queue.next("go", names=[self.jobs])
        await b.step("fast-step", self.hit, "fast")
        return f"fast:{message.body.value}"

    async def slow(b: WorkflowContext) -> str:
        await b.step("slow-step", self.hit, "slow-started")
        try:
            await b.sleep("long", 3600.0)
        except asyncio.CancelledError:
            self.hit("slow-cancelled")
            raise
        return "slow"

    won = await ctx.race("pick", {"fast": fast, "slow": slow})
    await ctx.queue.next("hold", names=[self.other])
    return [won.winner, won.value]


async def test_race_first_wins_losers_cancelled_history_dropped(mode: str) -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "racing", mode)
        await checkpoint(env, h, mode)
        await h.send("jobs", {"value": 5})
        await checkpoint(env, h, mode)
        locations = [e["location"] for e in (await history(env, h))["entries"]]
        assert "pick/fast/fast-step" in locations
        assert not any(loc.startswith("pick/slow") for loc in locations)
        if mode == "live":
            assert calls("racing", mode, "slow-cancelled") == 1
        await h.send("other", {"value": 0})
        assert await result(env, h) == ("completed", ["fast", "fast:5"])
        assert calls("racing", mode, "fast") == 1


@scenario
async def race_all_fail(self: Scenario, ctx: WorkflowContext) -> Any:
    async def a(b: WorkflowContext) -> None:
        raise RuntimeError("a failed")

    async def c(b: WorkflowContext) -> None:
        raise RuntimeError("c failed")

    try:
        await ctx.race("r", {"a": a, "c": c})
    except RaceError as exc:
        return sorted(exc.errors)
    return None


async def test_race_all_branches_fail() -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "race_all_fail", "live")
        assert await result(env, h) == ("completed", ["a", "c"])


@scenario
async def race_timeout(self: Scenario, ctx: WorkflowContext) -> Any:
    async def work(b: WorkflowContext) -> str:
        message = await b.queue.next("job", names=[self.jobs])
        return await b.step("do", self.note, f"job{message.body.value}")

    async def timeout(b: WorkflowContext) -> str:
        await b.sleep("deadline", 30.0)
        return "timeout"

    won = await ctx.race("work-or-timeout", {"work": work, "timeout": timeout})
    return won.value


async def test_race_timeout_branch_wins_after_restart(mode: str) -> None:
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        h = await start(env, "race_timeout", mode)
        await checkpoint(env, h, mode)
        await clock.advance(30.0)
        assert await result(env, h) == ("completed", "timeout")


@scenario
async def race_takes_then_loses(self: Scenario, ctx: WorkflowContext) -> Any:
    async def work(b: WorkflowContext) -> str:
        message = await b.queue.next("job", names=[self.jobs])
        await b.sleep("slow-start", 60.0)  # not started on it when the deadline passes
        return await b.step("did", self.note, f"did{message.body.value}")

    async def timeout(b: WorkflowContext) -> str:
        await b.sleep("deadline", 30.0)
        return "timeout"

    won = await ctx.race("work-or-timeout", {"work": work, "timeout": timeout})
    message = await ctx.queue.next("again", names=[self.jobs])
    await ctx.step("after", self.note, f"after{message.body.value}")
    return [won.winner, message.body.value]


async def test_a_message_taken_by_a_losing_race_branch_goes_back_to_the_queue(mode: str) -> None:
    # The loser's history is dropped, so its message was never handed off: it must not vanish.
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        h = await start(env, "race_takes_then_loses", mode)
        await h.send("jobs", {"value": 5})
        await checkpoint(env, h, mode)
        await clock.advance(30.0)
        assert await result(env, h) == ("completed", ["timeout", 5])
        assert (await h.action("get_state"))["log"] == ["after5"]
        await env.restart()
        assert await env.runtime.storage.load_queue(await h.resolve()) == []
        assert (await h.action("get_state"))["log"] == ["after5"]


@scenario
async def race_holds_then_loses(self: Scenario, ctx: WorkflowContext) -> Any:
    async def work(b: WorkflowContext) -> str:
        message = await b.queue.next("job", names=[self.requests], completable=True)
        await b.sleep("slow-start", 60.0)
        await message.complete({"echo": -1})
        return "work"

    async def timeout(b: WorkflowContext) -> str:
        await b.sleep("deadline", 30.0)
        return "timeout"

    won = await ctx.race("work-or-timeout", {"work": work, "timeout": timeout})
    message = await ctx.queue.next("again", names=[self.requests], completable=True)
    await message.complete({"echo": message.body.value * 2})
    return [won.winner, message.body.value]


async def test_a_completable_message_held_by_a_losing_race_branch_is_received_again(mode: str) -> None:
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        h = await start(env, "race_holds_then_loses", mode)
        reply = asyncio.ensure_future(h.send("requests", {"value": 4}, wait=True, timeout=60))
        await checkpoint(env, h, mode)
        await clock.advance(30.0)
        assert await result(env, h) == ("completed", ["timeout", 4])
        if mode == "live":  # a restart dropped the waiting sender; the answer is still recorded
            answered = await reply
            assert (answered.status, answered.response) == ("completed", {"echo": 8})
        else:
            reply.cancel()
        assert await env.runtime.storage.load_queue(await h.resolve()) == []


@scenario
async def race_drains_until_deadline(self: Scenario, ctx: WorkflowContext) -> Any:
    async def drain(b: WorkflowContext) -> str:
        async def each(it: WorkflowContext) -> None:
            message = await it.queue.next("take", names=[self.jobs])
            await it.step("process", self.note, f"p{message.body.value}")

        await b.loop("drain-loop", each, history_prune_interval=2)
        return "drained"

    async def timeout(b: WorkflowContext) -> str:
        await b.sleep("deadline", 30.0)
        return "timeout"

    won = await ctx.race("drain-or-timeout", {"drain": drain, "timeout": timeout})
    await ctx.queue.next("park", names=[self.other])
    return won.winner


async def test_messages_a_losing_race_branch_already_processed_stay_processed(mode: str) -> None:
    # A step completed after the take: the message is being processed durably (here it was),
    # so it is not given back when the branch loses; only the one taken last, unprocessed, is.
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        h = await start(env, "race_drains_until_deadline", mode)
        for value in (1, 2, 3):
            await h.send("jobs", {"value": value})
            await checkpoint(env, h, mode)
        await clock.advance(30.0)
        await checkpoint(env, h, mode)
        assert (await h.action("get_state"))["log"] == ["p1", "p2", "p3"]
        assert await env.runtime.storage.load_queue(await h.resolve()) == []
        await h.send("other", {"value": 0})
        assert await result(env, h) == ("completed", "timeout")
