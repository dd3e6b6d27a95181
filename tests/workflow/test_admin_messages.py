"""replay_from_step gives the messages of the forgotten entries back to the rerun.

Messages taken without ``completable`` are deleted from the queue in the hand-off's commit.
Before, a replay that forgot their ``message`` entries left them consumed: the rerun waited
for them forever, or took a later message in their place. They now go back to the queue,
in their original places (FIFO by arrival), once, in the replay's own commit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rivet_dsl import WorkflowContext
from rivet_dsl.runtime import Runtime
from rivet_dsl.runtime._codec import decode_builtins
from rivet_dsl.storage import SqliteStorage
from rivet_dsl.testing import MockClock, TestEnvironment
from rivet_dsl.workflows import replay_from_step, workflow_history

from ._helpers import DiesAfter, blocked, checkpoint
from ._scenario import Scenario, registry, result, scenario, start


@scenario
async def adm_consumed(self: Scenario, ctx: WorkflowContext) -> Any:
    first = await ctx.queue.next("first", names=[self.jobs])
    await ctx.step("got-first", self.note, f"first:{first.body.value}")
    await ctx.sleep("gap", 10.0)  # 2 and 3 arrive meanwhile: the batch takes both
    pair = await ctx.queue.next_batch("pair", names=[self.jobs], count=2)
    await ctx.step("got-pair", self.note, "pair:" + ",".join(str(m.body.value) for m in pair))
    final = await ctx.queue.next("final", names=[self.other])
    await ctx.step("got-final", self.note, f"final:{final.body.value}")
    rest = await ctx.queue.next_batch("rest", names=[self.jobs], count=10, timeout=0.0)
    return [m.body.value for m in rest]


async def _first_run(env: TestEnvironment, clock: MockClock, mode: str) -> Any:
    h = await start(env, "adm_consumed", mode)
    await h.send("jobs", {"value": 1})
    await checkpoint(env, h, mode)  # sleeping in "gap"; 1 is consumed
    for value in (2, 3):
        await h.send("jobs", {"value": value})
    await clock.advance(10.0)
    await checkpoint(env, h, mode)  # waiting for "final"; 1, 2 and 3 are consumed
    await h.send("jobs", {"value": 4})  # queued behind them, not consumed
    return h


async def test_replay_from_the_start_gives_consumed_messages_back_in_order(mode: str) -> None:
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        h = await _first_run(env, clock, f"{mode}-start")
        await replay_from_step(env.runtime, await h.resolve())
        await checkpoint(env, h, mode)
        await clock.advance(10.0)  # the rerun's "gap"
        await checkpoint(env, h, mode)
        await h.send("other", {"value": 9})
        # Before, the rerun took 4 as its "first" message and waited forever for a pair.
        assert await result(env, h) == ("completed", [4])
        log = (await h.action("get_state"))["log"]
        assert log == ["first:1", "pair:2,3", "first:1", "pair:2,3", "final:9"]


async def test_replay_from_a_step_gives_back_only_the_messages_of_forgotten_entries(mode: str) -> None:
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        h = await _first_run(env, clock, f"{mode}-step")
        await replay_from_step(env.runtime, await h.resolve(), "got-first")
        await checkpoint(env, h, mode)
        await clock.advance(10.0)  # the rerun's "gap"
        await checkpoint(env, h, mode)
        await h.send("other", {"value": 9})
        # "first" (message 1) is kept and replays; the pair (2, 3) comes back, 4 stays after it.
        # Before, the rerun's pair was 4 alone.
        assert await result(env, h) == ("completed", [4])
        log = (await h.action("get_state"))["log"]
        assert log == ["first:1", "pair:2,3", "first:1", "pair:2,3", "final:9"]


async def test_messages_given_back_by_a_replay_survive_a_crash_right_after_it(tmp_path: Path) -> None:
    clock = MockClock()
    dying = DiesAfter(tmp_path / "rivet.db")
    runtime = Runtime(registry, storage=dying, clock=clock)
    await runtime.start()
    actor_id = (await runtime.get_or_create("scenario", ["adm_consumed", "crash"])).actor_id
    await blocked(runtime, actor_id)
    await runtime.send(actor_id, "jobs", {"value": 1})
    await blocked(runtime, actor_id)
    for value in (2, 3):
        await runtime.send(actor_id, "jobs", {"value": value})
    await clock.advance(10.0)
    await blocked(runtime, actor_id)
    await runtime.send(actor_id, "jobs", {"value": 4})
    await replay_from_step(runtime, actor_id)
    dying.allow(0)  # the process dies right after the replay's commit: the rerun writes nothing
    await runtime.crash()

    runtime = Runtime(registry, storage=SqliteStorage(tmp_path / "rivet.db"), clock=clock)
    await runtime.start()
    try:
        # Committed with the replay: the forgotten entries' messages, back in their places,
        # and a due alarm that resumes the rerun without anyone contacting the actor.
        rows = await runtime.storage.load_queue(actor_id)
        assert [(row.name, decode_builtins(row.body)["value"]) for row in rows] == [("jobs", v) for v in (1, 2, 3, 4)]
        assert [row.seq for row in rows] == sorted(row.seq for row in rows)
        assert dict(await runtime.storage.load_alarms()).get(actor_id, float("inf")) <= clock.now()
        await clock.advance(0.0)
        assert runtime.is_awake(actor_id)
        await blocked(runtime, actor_id)
        await clock.advance(10.0)  # the rerun's "gap"
        await blocked(runtime, actor_id)
        await runtime.send(actor_id, "other", {"value": 9})
        actor = await blocked(runtime, actor_id)
        assert (await workflow_history(runtime, actor_id))["output"] == [4]
        assert actor.get_state().log == ["first:1", "pair:2,3", "first:1", "pair:2,3", "final:9"]
    finally:
        await runtime.stop()
