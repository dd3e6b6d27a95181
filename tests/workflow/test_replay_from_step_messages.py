"""replay_from_step and the completable messages its forgotten entries had already answered.

A forgotten ``message`` entry gives its messages back to the queue, so the rerun takes them
again, except a completable message that was already completed: its sender has the first run's
answer, and processing it again would answer nobody. Such a message stays taken, as in Rivet
(``replayWorkflowFromStep`` only deletes history, it never touches the queue); one held and never
completed goes back, so the rerun answers its sender once. The ``message`` entry records whether
its receive was completable (``Entry.completable``) to tell the two apart.
"""

from __future__ import annotations

import asyncio
from typing import Any

from rivet_dsl import WorkflowContext
from rivet_dsl.runtime._codec import decode_builtins
from rivet_dsl.testing import MockClock, TestEnvironment
from rivet_dsl.workflows import replay_from_step

from ._helpers import checkpoint
from ._scenario import Reply, Scenario, history, registry, result, scenario, start

async def _queued(env: TestEnvironment, h: Any) -> list[int]:
    """The values of the messages stored in the actor's queue (the SQLite file)."""
    await env.runtime.storage.commit()
    rows = await env.runtime.storage.load_queue(await h.resolve())
    return [decode_builtins(row.body)["value"] for row in rows]


@scenario
async def rfs_answered(self: Scenario, ctx: WorkflowContext) -> Any:
    await ctx.step("begin", self.note, "begin")
    request = await ctx.queue.next("request", names=[self.requests], completable=True)
    await ctx.step("apply", self.add, request.body.value)
    await request.complete(Reply(echo=request.body.value * 2))
    await ctx.step("after", self.note, f"after:{request.body.value}")
    last = await ctx.queue.next("last", names=[self.jobs])
    return [request.body.value, last.body.value]


async def test_replay_does_not_redeliver_a_completed_request(mode: str) -> None:
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        h = await start(env, "rfs_answered", mode)
        answer = await h.send("requests", {"value": 5}, wait=True, timeout=1000)
        assert (answer.status, answer.response) == ("completed", {"echo": 10})
        await checkpoint(env, h, mode)  # answered; waiting for "last"
        assert (await h.action("get_state"))["total"] == 5

        await replay_from_step(env.runtime, await h.resolve(), "begin")
        await checkpoint(env, h, mode)
        # The answered request stays taken: not back in the queue, not processed again.
        # Before, it was requeued and the rerun applied it a second time (total 10) and
        # "answered" it to nobody.
        assert await _queued(env, h) == []
        assert (await h.action("get_state"))["total"] == 5
        assert "request" not in {
            e["location"] for e in (await history(env, h))["entries"]
        }

        # The rerun waits for a new request, and answers it.
        second = await h.send("requests", {"value": 7}, wait=True, timeout=1000)
        assert (second.status, second.response) == ("completed", {"echo": 14})
        await checkpoint(env, h, mode)
        await h.send("jobs", {"value": 1})
        assert await result(env, h) == ("completed", [7, 1])
        state = await h.action("get_state")
        assert state["total"] == 12
        assert state["log"] == ["begin", "after:5", "begin", "after:7"]


@scenario
async def rfs_batch(self: Scenario, ctx: WorkflowContext) -> Any:
    await ctx.step("begin", self.note, "begin")
    await ctx.sleep("gap", 10.0)  # both requests arrive meanwhile: the batch takes both
    batch = await ctx.queue.next_batch(
        "batch", names=[self.requests], count=2, completable=True
    )
    await ctx.step(
        "apply", self.note, "batch:" + ",".join(str(m.body.value) for m in batch)
    )
    await batch[0].complete(Reply(echo=batch[0].body.value))
    await ctx.sleep("nap", 100.0)
    for message in batch[1:]:
        await message.complete(Reply(echo=message.body.value))
    return [m.body.value for m in batch]


async def test_replay_gives_back_only_the_held_message_of_a_completable_batch(
    mode: str,
) -> None:
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        h = await start(env, "rfs_batch", mode)
        first = asyncio.ensure_future(
            h.send("requests", {"value": 1}, wait=True, timeout=1000)
        )
        second = asyncio.ensure_future(
            h.send("requests", {"value": 2}, wait=True, timeout=1000)
        )
        try:
            await checkpoint(env, h, mode)
            await clock.advance(10.0)
            await checkpoint(
                env, h, mode
            )  # in "nap": 1 answered, 2 held and not completed
            if mode == "live":
                answer = await asyncio.wait_for(first, 10)
                assert (answer.status, answer.response) == ("completed", {"echo": 1})
            assert await _queued(env, h) == [2]

            await replay_from_step(env.runtime, await h.resolve(), "begin")
            await checkpoint(env, h, mode)
            # 1 was answered: it stays taken. 2 was never completed: the rerun takes it again.
            # Before, both went back and the rerun's batch was 1,2 again.
            await clock.advance(10.0)  # the rerun's "gap"
            await checkpoint(env, h, mode)
            await clock.advance(100.0)  # the rerun's "nap"
            assert await result(env, h) == ("completed", [2])
            assert (await h.action("get_state"))["log"] == [
                "begin",
                "batch:1,2",
                "begin",
                "batch:2",
            ]
            assert await _queued(env, h) == []
            if mode == "live":  # (after a crash, the sender's connection is gone)
                answer = await asyncio.wait_for(second, 10)
                assert (answer.status, answer.response) == ("completed", {"echo": 2})
        finally:
            first.cancel()
            second.cancel()
