"""replay_from_step into a join, a race or nested loops: the rewind takes effect.

A finished join, race or loop short-circuits on replay (a join keeps its recorded branch
statuses, a race replays only its recorded winner, a completed loop returns its recorded
value), so deleting only the entries recorded from the step on either left the step not
running again or left the enclosing entry describing a run that no longer exists. A step
inside a loop, join or race now rewinds from the outermost of them.
"""

from __future__ import annotations

from typing import Any

from rivet_dsl import Loop, WorkflowContext
from rivet_dsl.testing import MockClock, TestEnvironment
from rivet_dsl.workflows import replay_from_step

from ._helpers import checkpoint
from ._scenario import Scenario, calls, history, registry, result, scenario, start


def _entry(data: dict[str, Any], location: str) -> dict[str, Any]:
    (entry,) = [e for e in data["entries"] if e["location"] == location]
    return entry


@scenario
async def adm_join_branch(self: Scenario, ctx: WorkflowContext) -> Any:
    def in_b() -> str:
        if self.hit("b") == 1:
            raise RuntimeError("b is down")
        return "b-ok"

    async def a(branch: WorkflowContext) -> int:
        return await branch.step("in-a", self.hit, "a")

    async def b(branch: WorkflowContext) -> str:
        return await branch.step("in-b", in_b, max_retries=0)

    return await ctx.join("both", {"a": a, "b": b})


async def test_replay_from_a_step_in_a_failed_join_branch_runs_the_join_again(mode: str) -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "adm_join_branch", mode)
        await checkpoint(env, h, mode)
        assert (await result(env, h))[0] == "failed"
        await replay_from_step(env.runtime, await h.resolve(), "both/b/in-b")
        await checkpoint(env, h, mode)
        # Before, the join entry kept branch b "failed": the rerun raised the same JoinError
        # although the step, run again, succeeded.
        assert await result(env, h) == ("completed", {"a": 2, "b": "b-ok"})
        join = _entry(await history(env, h), "both")
        assert join["data"]["branches"] == {
            "a": {"status": "completed", "output": 2, "error": None},
            "b": {"status": "completed", "output": "b-ok", "error": None},
        }
        assert (calls("adm_join_branch", mode, "a"), calls("adm_join_branch", mode, "b")) == (2, 2)


@scenario
async def adm_race_winner(self: Scenario, ctx: WorkflowContext) -> Any:
    async def work(branch: WorkflowContext) -> int:
        return await branch.step("count", self.hit, "work")

    async def slow(branch: WorkflowContext) -> int:
        await branch.sleep("nap", 100.0)
        return -1

    raced = await ctx.race("r", {"work": work, "slow": slow})
    return [raced.winner, raced.value]


async def test_replay_from_a_step_in_a_race_winner_runs_the_race_again(mode: str) -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "adm_race_winner", mode)
        await checkpoint(env, h, mode)
        assert await result(env, h) == ("completed", ["work", 1])
        await replay_from_step(env.runtime, await h.resolve(), "r/work/count")
        await checkpoint(env, h, mode)
        assert await result(env, h) == ("completed", ["work", 2])
        race = _entry(await history(env, h), "r")
        # Before, only the recorded winner was replayed: the step ran again, but the race entry
        # still recorded the first run's value (1) beside the step's new output (2).
        assert race["data"]["winner"] == "work"
        assert race["data"]["branches"]["work"] == {"status": "completed", "output": 2, "error": None}
        assert race["data"]["branches"]["slow"]["status"] == "cancelled"
        assert _entry(await history(env, h), "r/work/count")["data"]["output"] == 2


@scenario
async def adm_nested_loops(self: Scenario, ctx: WorkflowContext) -> Any:
    async def inner(loop: WorkflowContext, i: int) -> Loop[int]:
        await loop.step("s", self.hit, f"s{i}")
        return Loop.break_(i) if i == 1 else Loop.continue_(i + 1)

    async def outer(loop: WorkflowContext) -> Loop[str]:
        await loop.loop("inner", inner, state=0)
        return Loop.break_("outer-done")

    value = await ctx.loop("outer", outer)
    await ctx.step("after", self.hit, "after")
    return value


async def test_replay_from_a_step_in_a_nested_loop_rewinds_the_outermost_loop(mode: str) -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "adm_nested_loops", mode)
        await checkpoint(env, h, mode)
        await replay_from_step(env.runtime, await h.resolve(), "outer/~0/inner/~1/s")
        await checkpoint(env, h, mode)
        assert await result(env, h) == ("completed", "outer-done")
        # Before, only the inner loop was rewound: the completed outer loop returned its
        # recorded value on replay, so the step never ran again (s1 stayed at 1).
        counts = [calls("adm_nested_loops", mode, x) for x in ("s0", "s1", "after")]
        assert counts == [2, 2, 2]
        locations = [e["location"] for e in (await history(env, h))["entries"]]
        assert locations == ["outer", "outer/~0/inner", "outer/~0/inner/~0/s", "outer/~0/inner/~1/s", "after"]
