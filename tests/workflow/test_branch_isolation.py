"""Steps in concurrent join/race branches (SEMANTICS 2 and 6).

- A branch step that finishes while another branch's step runs is recorded in the same commit
  as the state holding its changes: the commit that ends the other step carries both.
- A divergence in one branch ends the run in every branch at once: the others write nothing
  more (they neither wait on, hiding the error, nor go on to commit new steps), and a step
  they had half run is reverted, so it is not applied one and a half times after the fix.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from rivet_dsl import HistoryDivergedError, WorkflowContext, action, setup, workflow
from rivet_dsl.runtime import Runtime
from rivet_dsl.storage import SqliteStorage
from rivet_dsl.testing import MockClock, TestEnvironment

from ._helpers import DiesAfter, blocked, settle
from .test_step_isolation import GATES, Observed, new_gates

CALLS: Counter[str] = Counter()
#: Step names the "deploys" below change.
NAMES: dict[str, str] = {}


class HeldJoin(Observed):
    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        async def slow(branch: WorkflowContext) -> None:
            await branch.step("a1", self.slow_a)

        async def quick(branch: WorkflowContext) -> None:
            await branch.step("b1", self.quick_b)

        await ctx.join("both", {"slow": slow, "quick": quick})
        await ctx.queue.next("park", names=[self.jobs])

    async def slow_a(self) -> None:
        self.state.a += 1
        GATES["entered"].set()
        await GATES["release"].wait()

    async def quick_b(self) -> None:
        await GATES["entered"].wait()  # a1 is running
        CALLS["b1"] += 1
        self.state.b += 1
        GATES["acted"].set()  # b1 is done while a1 still runs: it is held


class JoinDiverging(Observed):
    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        async def renamed(branch: WorkflowContext) -> None:
            await branch.step(NAMES["a"], self.add_a)

        async def later(branch: WorkflowContext) -> None:
            await branch.sleep("nap", 60.0)
            await branch.step("b1", self.add_b)

        await ctx.join("both", {"renamed": renamed, "later": later})

    def add_a(self) -> None:
        self.state.a += 1

    def add_b(self) -> None:
        CALLS["join-b1"] += 1
        self.state.b += 1


class RaceDiverging(Observed):
    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        async def halves(branch: WorkflowContext) -> None:
            await branch.step("a1", self.halves)

        async def other(branch: WorkflowContext) -> None:
            await branch.step(NAMES["b"], self.noop)
            await branch.sleep("park", 1000.0)

        await ctx.race("first", {"halves": halves, "other": other})

    async def halves(self) -> None:
        self.state.total += 1
        GATES["entered"].set()
        await GATES["release"].wait()
        self.state.total += 1

    def noop(self) -> None:
        GATES["acted"].set()

    @action
    def bump(self) -> int:
        self.state.bumps += 1
        return self.state.bumps


registry = setup(HeldJoin, JoinDiverging, RaceDiverging)


async def test_a_held_branch_step_commits_with_the_step_whose_end_releases_it(tmp_path: Path) -> None:
    new_gates()
    CALLS.clear()
    dying = DiesAfter(tmp_path / "rivet.db")
    runtime = Runtime(registry, storage=dying)
    await runtime.start()
    actor_id = (await runtime.get_or_create("held_join", ["held"])).actor_id
    await runtime.acquire(actor_id)
    await GATES["acted"].wait()  # b1 has changed the state and is held; a1 is half-way
    await runtime.storage.commit()
    dying.allow(1)  # the commit that ends a1 lands, nothing after it
    GATES["release"].set()
    assert await dying.until_died()
    await runtime.crash()

    runtime = Runtime(registry, storage=SqliteStorage(tmp_path / "rivet.db"))
    await runtime.start()
    try:
        state = (await blocked(runtime, actor_id)).get_state()
        # Before, that commit carried b1's change without b1's entry: b1 ran again (b == 2).
        assert (state.a, state.b, CALLS["b1"]) == (1, 1, 1)
    finally:
        await runtime.stop()


async def test_a_divergence_in_one_join_branch_ends_the_others_at_once() -> None:
    CALLS.clear()
    NAMES["a"] = "a1"
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        handle = env.client.get_or_create("join_diverging", ["join"])
        await handle.resolve()
        await settle(env, handle)  # a1 recorded; the other branch sleeps
        NAMES["a"] = "a1-renamed"  # a bad deploy
        await env.restart()
        engine = await settle(env, handle)
        # Before, the sleeping branch kept the workflow "waiting" and the error unreported.
        assert isinstance(engine.error, HistoryDivergedError)
        assert engine.status == "failed"
        await clock.advance(120.0)  # the sleep's deadline wakes the workflow: it diverges again
        await settle(env, handle)
        # Before, the woken branch ran b1 and committed it in the same turn as the divergence.
        assert CALLS["join-b1"] == 0
        totals = await handle.action("totals")
        assert (totals["a"], totals["b"]) == (1, 0)
        NAMES["a"] = "a1"  # the fix
        await env.restart()
        await clock.advance(0.0)
        await settle(env, handle)
        totals = await handle.action("totals")
        assert (totals["a"], totals["b"], CALLS["join-b1"]) == (1, 1, 1)


async def test_a_step_cancelled_by_a_divergence_in_a_race_is_reverted() -> None:
    new_gates()
    NAMES["b"] = "b1"
    async with TestEnvironment(registry, clock=MockClock()) as env:
        handle = env.client.get_or_create("race_diverging", ["race"])
        await handle.resolve()
        await GATES["entered"].wait()  # a1 is half-way (total 1 in memory)
        await GATES["acted"].wait()  # b1 has run and is recorded
        await env.runtime.storage.commit()
        new_gates()
        await env.restart()  # a crash: a1 was never recorded, it runs again
        NAMES["b"] = "b1-renamed"  # ... under a bad deploy
        engine = await settle(env, handle)
        assert isinstance(engine.error, HistoryDivergedError)
        assert GATES["entered"].is_set()  # a1 ran its first half again, then was cancelled
        assert await handle.action("bump") == 1  # an action commits the state
        # Before, the cancelled first half stayed in the state and that commit stored it.
        assert (await handle.action("totals"))["total"] == 0
        new_gates()
        GATES["release"].set()
        NAMES["b"] = "b1"  # the fix
        await env.restart()
        await settle(env, handle)
        assert (await handle.action("totals"))["total"] == 2  # a1 applied once (was 3)
