"""History as data, replay-from-step and the actor-workflow driver cases (Rivet replay tests, RK actor-workflow)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from rivet_dsl import Loop, WorkflowContext
from rivet_dsl.testing import MockClock, TestEnvironment
from rivet_dsl.workflows import WorkflowInFlightError, replay_from_step, workflow_history

from ._helpers import checkpoint, settle
from ._scenario import Reply, Scenario, calls, history, registry, result, scenario, start


@scenario
async def three_steps(self: Scenario, ctx: WorkflowContext) -> Any:
    for label in ("one", "two", "three"):
        await ctx.step(label, self.hit, label)
    return "done"


async def test_history_as_plain_data() -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "three_steps", "data")
        data = await workflow_history(env.runtime, await h.resolve())
        assert data["state"] == "completed" and data["output"] == "done"
        assert [e["location"] for e in data["entries"]] == ["one", "two", "three"]
        assert {"one", "two", "three"} <= set(data["nameRegistry"])
        meta = data["entryMetadata"][data["entries"][0]["id"]]
        assert meta["status"] == "completed" and meta["attempts"] == 1


async def test_replay_from_step_reruns_it_and_later_steps(mode: str) -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "three_steps", mode)
        await checkpoint(env, h, mode)
        await replay_from_step(env.runtime, await h.resolve(), "two")
        await checkpoint(env, h, mode)
        assert await result(env, h) == ("completed", "done")
        assert [calls("three_steps", mode, x) for x in ("one", "two", "three")] == [1, 2, 2]
        await replay_from_step(env.runtime, await h.resolve())
        assert await result(env, h) == ("completed", "done")
        assert [calls("three_steps", mode, x) for x in ("one", "two", "three")] == [2, 3, 3]


@scenario
async def loop_replay(self: Scenario, ctx: WorkflowContext) -> Any:
    async def body(loop: WorkflowContext, i: int) -> Loop[int]:
        await loop.step("loop-step", self.hit, f"loop-step-{i}")
        return Loop.break_(i) if i == 1 else Loop.continue_(i + 1)

    await ctx.loop("loop", body, state=0)
    await ctx.step("after", self.hit, "after")
    await ctx.queue.next("hold", names=[self.jobs])
    return "ok"


async def test_replay_from_step_inside_loop_rewinds_loop() -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "loop_replay", "live")
        await replay_from_step(env.runtime, await h.resolve(), "loop/~1/loop-step")
        await settle(env, h)
        counts = [calls("loop_replay", "live", x) for x in ("loop-step-0", "loop-step-1", "after")]
        assert counts == [2, 2, 2]


@scenario
async def busy(self: Scenario, ctx: WorkflowContext) -> Any:
    import asyncio

    async def hang() -> None:
        self.hit("hang")
        await asyncio.Event().wait()

    await ctx.step("hang", hang, timeout=None)


async def test_replay_refused_while_in_flight() -> None:
    from ._scenario import until_called

    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "busy", "live", wait=False)
        await until_called("busy", "live", "hang")
        with pytest.raises(WorkflowInFlightError):
            await replay_from_step(env.runtime, await h.resolve(), "hang")


@scenario
async def completes(self: Scenario, ctx: WorkflowContext) -> Any:
    await ctx.step("only", self.hit, "only")
    return "finished"


async def test_completed_workflow_sleeps_actor_instead_of_destroying() -> None:
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        h = await start(env, "completes", "live")
        await clock.advance(31.0)
        assert env.runtime.live_count() == 0
        wakes = env.runtime.wakes
        state = await h.action("get_state")  # still exists; wakes without re-running anything
        assert env.runtime.wakes == wakes + 1
        assert state["log"] == []
        assert calls("completes", "live", "only") == 1
        assert await result(env, h) == ("completed", "finished")


@scenario
async def fails_then_sleeps(self: Scenario, ctx: WorkflowContext) -> Any:
    def bad() -> None:
        raise RuntimeError("exhausted")

    await ctx.step("bad", bad, max_retries=0)


async def test_failed_workflow_sleeps_and_on_error_not_rereported_after_wake() -> None:
    from ._scenario import events

    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        h = await start(env, "fails_then_sleeps", "live")
        assert (await result(env, h))[0] == "failed"
        assert len(events("fails_then_sleeps", "live")) == 2  # the step, then the workflow
        await clock.advance(31.0)
        assert env.runtime.live_count() == 0
        await h.action("get_state")
        await settle(env, h)
        assert len(events("fails_then_sleeps", "live")) == 2


@scenario
async def spawns_child(self: Scenario, ctx: WorkflowContext) -> Any:
    async def create_child() -> str:
        child = self.client().get_or_create("scenario", ["child_echo", self.key[1]])
        return await child.resolve()

    child_id = await ctx.step("create-child", create_child)

    async def ask() -> Any:
        child = self.client().get_or_create("scenario", ["child_echo", self.key[1]])
        answer = await child.send("requests", {"value": 21}, wait=True, timeout=5.0)
        return [answer.status, answer.response]

    answer = await ctx.step("ask-child", ask)
    return [bool(child_id), answer]


@scenario
async def child_echo(self: Scenario, ctx: WorkflowContext) -> Any:
    from ._scenario import Reply

    message = await ctx.queue.next("request", names=[self.requests], completable=True)
    await message.complete(Reply(echo=message.body.value))
    return "answered"


async def test_child_actor_created_in_step_answers_wait_send() -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "spawns_child", "live")
        assert await result(env, h) == ("completed", [True, ["completed", {"echo": 21}]])


async def test_history_updates_visible_during_run() -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "loop_replay", "visible")
        data = await history(env, h)
        kinds = sorted({e["kind"] for e in data["entries"]})
        assert kinds == ["loop", "step"]
        assert data["state"] == "running"


@scenario
async def self_destruct(self: Scenario, ctx: WorkflowContext) -> Any:
    await ctx.step("work", self.hit, "work")
    await ctx.step("destroy", self.destroy)
    await ctx.queue.next("never", names=[self.jobs])


async def test_step_calling_destroy_destroys_actor() -> None:
    from rivet_dsl.client import ActorError

    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = env.client.get_or_create("scenario", ["self_destruct", "live"])
        actor_id = await h.resolve()
        actor = await env.runtime.acquire(actor_id)
        task = actor._run_task
        assert task is not None
        await asyncio.wait([task])  # the destroy cancels the workflow (eviction)
        while actor._stopped is None or not actor._stopped.done():
            await env.runtime.storage.commit()  # let the destroy's own commit land
        with pytest.raises(ActorError) as info:
            await env.client.get_for_id("scenario", actor_id).action("get_state")
        assert info.value.code == "not_found"
        assert calls("self_destruct", "live", "work") == 1


@scenario
async def held_request(self: Scenario, ctx: WorkflowContext) -> Any:
    message = await ctx.queue.next("request", names=[self.requests], completable=True)
    await ctx.step("apply", self.add, message.body.value)
    await ctx.sleep("nap", 100.0)
    await message.complete(Reply(echo=message.body.value * 2))
    return "answered"


async def test_replay_from_the_start_takes_a_held_message_again(mode: str) -> None:
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        h = await start(env, "held_request", mode)
        await checkpoint(env, h, mode)
        send = asyncio.ensure_future(h.send("requests", {"value": 5}, wait=True, timeout=1000))
        await checkpoint(env, h, mode)  # the message is held, uncompleted, during the nap
        await replay_from_step(env.runtime, await h.resolve())
        # Before, the message stayed held by the cancelled run: the rerun waited for it forever
        # and the sender never got an answer.
        await checkpoint(env, h, mode)
        await clock.advance(200.0)
        assert await result(env, h) == ("completed", "answered")
        if mode == "live":  # (after a crash, the sender's connection is gone)
            answer = await asyncio.wait_for(send, 10)
            assert (answer.status, answer.response) == ("completed", {"echo": 10})
        send.cancel()
        assert (await h.action("get_state"))["total"] == 10  # applied by the first run and the rerun
