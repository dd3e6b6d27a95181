"""A step's state changes commit with its entry and never before (SEMANTICS 2): commits made while
a step's user code is suspended (queue sends, actions, a join branch's step finishing) leave the
half-done state out, and a stop that cancels the step saves the state from before it, so the
step's re-run after a crash or restart starts from the state it started from. Rollback
compensations are isolated the same way."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import msgspec

from rivet_dsl import Actor, Conn, CriticalError, RollbackContext, WorkflowContext, action, queue, setup, workflow
from rivet_dsl.runtime import Runtime
from rivet_dsl.storage import SqliteStorage
from rivet_dsl.testing import TestEnvironment

from ._helpers import blocked, settle

#: Per test phase: "entered" is set when a gated step has changed the state and suspends,
#: "release" lets it finish. Replaced before a restart so the re-run gets fresh ones.
GATES: dict[str, asyncio.Event] = {}


def new_gates() -> None:
    GATES["entered"] = asyncio.Event()
    GATES["release"] = asyncio.Event()
    GATES["acted"] = asyncio.Event()


class Totals(msgspec.Struct):
    total: int = 0
    bumps: int = 0
    a: int = 0
    b: int = 0


class Observed(Actor[Totals]):
    """What every actor here has: the ``jobs`` queue and the ``totals`` query."""

    @queue
    def jobs(self, body: int) -> None: ...

    @action
    def totals(self) -> Totals:
        return self.state


class Isolated(Observed):
    @queue
    def other(self, body: int) -> None: ...

    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        message = await ctx.queue.next("job", names=[self.jobs])
        await ctx.step("apply", self.apply, message.body)
        await ctx.queue.next("park", names=[self.other])

    async def apply(self, n: int) -> None:
        self.state.total += n
        GATES["entered"].set()
        await GATES["release"].wait()

    @action
    def bump(self) -> int:
        self.state.bumps += 1
        GATES["acted"].set()
        return self.state.bumps


class Branches(Observed):
    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        async def fast(branch: WorkflowContext) -> None:
            await branch.step("a", self.add_a)

        async def gated(branch: WorkflowContext) -> None:
            await branch.step("b", self.add_b)

        await ctx.join("both", {"fast": fast, "gated": gated})
        await ctx.queue.next("park", names=[self.jobs])

    def add_a(self) -> None:
        self.state.a += 1

    async def add_b(self) -> None:
        self.state.b += 1
        GATES["entered"].set()
        await GATES["release"].wait()


class Saver(Observed):
    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        message = await ctx.queue.next("job", names=[self.jobs])
        await ctx.step("apply", self.apply, message.body, timeout=5.0)
        await ctx.queue.next("park", names=[self.jobs])

    async def apply(self, n: int) -> str:
        self.state.total += n
        await self.save_state()  # inside the step: does not wait for the step to end
        # Nor does an action of this actor that the step calls through its client.
        assert await self.client().get_for_id("saver", self.actor_id).action("bump") == 1
        return "saved"

    @action
    def bump(self) -> int:
        self.state.bumps += 1
        return self.state.bumps


class Racer(Observed):
    @workflow
    async def run(self, ctx: WorkflowContext) -> str:
        async def slow(branch: WorkflowContext) -> str:
            return str(await branch.step("slow", self.slow))

        async def quick(branch: WorkflowContext) -> str:
            await GATES["entered"].wait()  # (a test-only wait) the slow step is running by now
            return str(await branch.step("quick", self.quick))

        won = await ctx.race("first", {"slow": slow, "quick": quick})
        await ctx.step("record", self.record, won.winner)
        await ctx.queue.next("park", names=[self.jobs])
        return won.winner

    async def slow(self) -> str:
        GATES["entered"].set()
        await GATES["release"].wait()
        return "slow"

    def quick(self) -> str:
        return "quick"

    def record(self, winner: str) -> None:
        self.state.total = len(winner)


class Compensator(Observed):
    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        await ctx.rollback_checkpoint("start")
        await ctx.step("add", self.add, 5, rollback=self.undo)
        await ctx.step("fail", self.fail)

    def add(self, n: int) -> int:
        self.state.total += n
        return n

    async def undo(self, _ctx: RollbackContext, n: int) -> None:
        self.state.total -= n
        GATES["entered"].set()
        await GATES["release"].wait()

    def fail(self) -> None:
        raise CriticalError("give up")


class Farewell(Isolated):
    """Isolated, plus an ``on_disconnect`` hook that changes the state."""

    def on_disconnect(self, conn: Conn) -> None:
        self.state.bumps += 100


registry = setup(Isolated, Branches, Saver, Racer, Compensator, Farewell)


async def _connect_and_close(handle: Any) -> None:
    async with handle.connect():
        pass


async def test_a_commit_while_a_step_is_suspended_leaves_its_half_done_state_out() -> None:
    new_gates()
    async with TestEnvironment(registry) as env:
        handle = env.client.get_or_create("isolated", ["send"])
        await handle.send("jobs", 5)
        await GATES["entered"].wait()  # total is 5 in memory, the step not finished
        result = await handle.send("other", 1)  # durable before it returns: a commit happens
        assert result.status == "completed"
        new_gates()
        await env.restart()  # a crash before the step finished
        await GATES["entered"].wait()  # it runs again, on the state it started from
        GATES["release"].set()
        await settle(env, handle)
        assert (await handle.action("totals"))["total"] == 5


async def test_an_action_changing_state_during_a_step_returns_once_both_are_durable_a_query_at_once() -> None:
    new_gates()
    async with TestEnvironment(registry) as env:
        handle = env.client.get_or_create("isolated", ["action"])
        await handle.send("jobs", 5)
        await GATES["entered"].wait()
        # A query changes nothing: it answers while the step runs (and sees its changes); so
        # does a connection whose hooks change nothing.
        assert (await asyncio.wait_for(handle.action("totals"), 10))["total"] == 5
        await asyncio.wait_for(_connect_and_close(handle), 10)
        bump = asyncio.ensure_future(handle.action("bump"))
        await GATES["acted"].wait()  # the action body ran; its change cannot commit alone
        for _ in range(20):
            await asyncio.sleep(0)  # let the action finish whatever it can (it must not return)
        assert not bump.done()
        GATES["release"].set()
        assert await bump == 1
        await settle(env, handle)
        await env.restart()
        await settle(env, handle)
        totals = await handle.action("totals")
        assert (totals["total"], totals["bumps"]) == (5, 1)


async def test_a_join_branch_step_commits_only_with_the_other_branch_step_done() -> None:
    new_gates()
    async with TestEnvironment(registry) as env:
        handle = env.client.get_or_create("branches", ["join"])
        await handle.resolve()
        await GATES["entered"].wait()  # a has finished (a == 1 in memory), b is half-way
        assert (await handle.send("jobs", 1)).status == "completed"  # a commit happens meanwhile
        new_gates()
        await env.restart()
        await GATES["entered"].wait()
        GATES["release"].set()
        await settle(env, handle)
        totals = await handle.action("totals")
        assert (totals["a"], totals["b"]) == (1, 1)


async def test_save_state_and_own_actions_called_inside_a_step_commit_with_it() -> None:
    async with TestEnvironment(registry) as env:
        handle = env.client.get_or_create("saver", ["inside"])
        await handle.send("jobs", 3)
        engine = await settle(env, handle)
        assert engine.error is None  # the step did not time out waiting for itself
        await env.restart()
        await settle(env, handle)
        totals = await handle.action("totals")
        assert (totals["total"], totals["bumps"]) == (3, 1)


async def test_a_race_is_not_held_up_by_a_losing_steps_run_when_the_winner_changes_no_state() -> None:
    new_gates()
    async with TestEnvironment(registry) as env:
        handle = env.client.get_or_create("racer", ["race"])
        await handle.resolve()
        await asyncio.wait_for(settle(env, handle), 10)  # parked: the slow step was never released
        assert not GATES["release"].is_set()
        assert (await handle.action("totals"))["total"] == len("quick")


async def test_a_stop_during_a_step_saves_the_state_from_before_it(tmp_path: Path) -> None:
    # A graceful stop (a deploy) cancels the step half-way; the final save must not store its
    # first half, or the re-run after the restart applies it twice.
    new_gates()
    runtime = Runtime(registry, storage=SqliteStorage(tmp_path / "rivet.db"))
    await runtime.start()
    actor_id = (await runtime.get_or_create("isolated", ["stop"])).actor_id
    await runtime.send(actor_id, "jobs", 5)
    await GATES["entered"].wait()
    new_gates()
    await runtime.stop()
    runtime = Runtime(registry, storage=SqliteStorage(tmp_path / "rivet.db"))
    await runtime.start()
    try:
        await runtime.acquire(actor_id)
        await GATES["entered"].wait()  # the step runs again after the restart
        GATES["release"].set()
        assert (await blocked(runtime, actor_id)).get_state().total == 5
    finally:
        await runtime.stop()


async def test_a_compensation_suspended_half_way_is_isolated_like_a_step() -> None:
    new_gates()
    async with TestEnvironment(registry) as env:
        handle = env.client.get_or_create("compensator", ["undo"])
        await handle.resolve()
        await GATES["entered"].wait()  # the undo has taken 5 off in memory and is suspended
        assert (await handle.send("jobs", 1)).status == "completed"  # a commit happens meanwhile
        new_gates()
        await env.restart()
        await GATES["entered"].wait()  # the undo runs again after the restart
        GATES["release"].set()
        await settle(env, handle)
        assert (await handle.action("totals"))["total"] == 0


async def test_a_shutdown_does_not_wait_for_a_running_step_to_save_a_disconnect_hooks_change(
    tmp_path: Path,
) -> None:
    # Shutdown runs on_disconnect before it stops the workflow; waiting there for the step (which
    # only the stop cancels) would hang the shutdown until the step's timeout.
    new_gates()
    runtime = Runtime(registry, storage=SqliteStorage(tmp_path / "rivet.db"))
    await runtime.start()
    actor_id = (await runtime.get_or_create("farewell", ["bye"])).actor_id
    await runtime.send(actor_id, "jobs", 5)
    await GATES["entered"].wait()
    await runtime.connect(actor_id, None, lambda _name, _args: None)
    await asyncio.wait_for(runtime.stop(), 10)
