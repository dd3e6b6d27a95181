"""recover() of a saga that failed and was rolled back: compensated steps run again.

A compensation undid its step's effect, so after ``recover`` that step cannot count as done:
it runs again (and is compensated again if the rerun fails too). Steps that were never
compensated keep their recorded result and their effect, so every step that counts as done has
its effect applied exactly once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rivet_dsl import WorkflowContext
from rivet_dsl.runtime import Runtime
from rivet_dsl.storage import SqliteStorage
from rivet_dsl.testing import MockClock, TestEnvironment
from rivet_dsl.workflows import RollbackContext, recover, workflow_history

from ._helpers import DiesAfter, blocked, checkpoint
from ._scenario import Scenario, calls, history, registry, result, scenario, start

#: Per scenario tag: how many runs of the failing step fail before it succeeds.
FAILURES: dict[str, int] = {}


@scenario
async def adm_saga(self: Scenario, ctx: WorkflowContext) -> Any:
    async def undo(rctx: RollbackContext, output: str) -> None:
        self.note(f"undo:{output}")

    def charge() -> str:
        if self.hit("charge") <= FAILURES[self.tag]:
            raise RuntimeError("card declined")
        return self.note("charged")

    await ctx.rollback_checkpoint("checkpoint")
    await ctx.step("reserve", self.note, "reserved", rollback=undo)
    await ctx.step("audit", self.note, "audited")  # no compensation: its effect stays
    await ctx.join("ship", {
        "label": lambda c: c.step("print", self.note, "labelled", rollback=undo),
        "box": lambda c: c.step("pack", self.note, "boxed"),
    })
    await ctx.queue.next("go", names=[self.jobs])
    return await ctx.step("charge", charge, max_retries=0)


SAGA = ["reserved", "audited", "labelled", "boxed"]
UNDONE = ["undo:labelled", "undo:reserved"]


async def test_recover_after_rollback_runs_the_compensated_steps_again(mode: str) -> None:
    FAILURES[f"adm_saga/{mode}"] = 1
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "adm_saga", mode)
        await h.send("jobs", {"value": 1})
        await checkpoint(env, h, mode)
        assert (await result(env, h))[0] == "failed"
        assert (await h.action("get_state"))["log"] == SAGA + UNDONE
        await recover(env.runtime, await h.resolve())
        await checkpoint(env, h, mode)
        assert await result(env, h) == ("completed", "charged")
        # Before, "reserve" and "print" counted as done although their compensations had undone
        # them: the saga completed without them (the log ended "...undo:reserved, charged").
        log = (await h.action("get_state"))["log"]
        assert log == SAGA + UNDONE + ["reserved", "labelled", "charged"]
        data = await history(env, h)
        meta = {e["location"]: data["entryMetadata"][e["id"]] for e in data["entries"]}
        for location in ("reserve", "ship/label/print"):
            assert meta[location]["status"] == "completed" and meta[location]["rollbackCompleted"] is False
        ship = [e for e in data["entries"] if e["location"] == "ship"][0]
        assert ship["data"]["branches"]["label"]["output"] == "labelled"
        assert calls("adm_saga", mode, "charge") == 2


async def test_a_recovered_saga_that_fails_again_is_compensated_again(mode: str) -> None:
    FAILURES[f"adm_saga/{mode}-twice"] = 2
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = env.client.get_or_create("scenario", ["adm_saga", f"{mode}-twice"])
        await h.resolve()
        await h.send("jobs", {"value": 1})
        await checkpoint(env, h, mode)
        assert (await result(env, h))[0] == "failed"
        await recover(env.runtime, await h.resolve())
        await checkpoint(env, h, mode)
        assert (await result(env, h))[0] == "failed"
        # Redone, then undone again: the state is as before the saga (apart from the audit).
        log = (await h.action("get_state"))["log"]
        assert log == SAGA + UNDONE + ["reserved", "labelled"] + UNDONE
        await recover(env.runtime, await h.resolve())
        await checkpoint(env, h, mode)
        assert await result(env, h) == ("completed", "charged")
        log = (await h.action("get_state"))["log"]
        assert log == SAGA + UNDONE + ["reserved", "labelled"] + UNDONE + ["reserved", "labelled", "charged"]


@scenario
async def adm_saga_stuck(self: Scenario, ctx: WorkflowContext) -> Any:
    async def undo(rctx: RollbackContext, output: str) -> None:
        if output == "reserved":
            raise RuntimeError("warehouse unreachable")
        self.note(f"undo:{output}")

    def charge() -> str:
        if self.hit("charge") <= 1:
            raise RuntimeError("card declined")
        return self.note("charged")

    await ctx.rollback_checkpoint("checkpoint")
    await ctx.step("reserve", self.note, "reserved", rollback=undo)
    await ctx.step("print", self.note, "labelled", rollback=undo)
    return await ctx.step("charge", charge, max_retries=0)


async def test_recover_mid_rollback_runs_again_only_the_steps_whose_compensation_ran(mode: str) -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "adm_saga_stuck", mode)
        await checkpoint(env, h, mode)
        assert (await history(env, h))["state"] == "rolling_back"  # undoing "reserve" failed
        assert (await h.action("get_state"))["log"] == ["reserved", "labelled", "undo:labelled"]
        await recover(env.runtime, await h.resolve())
        await checkpoint(env, h, mode)
        assert await result(env, h) == ("completed", "charged")
        # "print" was undone, so it runs again; "reserve" never was, so it does not (its
        # reservation still stands). Before, "print" stayed undone.
        log = (await h.action("get_state"))["log"]
        assert log == ["reserved", "labelled", "undo:labelled", "labelled", "charged"]
        data = await history(env, h)
        reserve = [e for e in data["entries"] if e["location"] == "reserve"][0]
        assert data["entryMetadata"][reserve["id"]]["rollbackError"] is None


async def test_a_crash_right_after_recover_resumes_the_recovered_saga(tmp_path: Path) -> None:
    FAILURES["adm_saga/crash"] = 1
    clock = MockClock()
    dying = DiesAfter(tmp_path / "rivet.db")
    runtime = Runtime(registry, storage=dying, clock=clock)
    await runtime.start()
    actor_id = (await runtime.get_or_create("scenario", ["adm_saga", "crash"])).actor_id
    await blocked(runtime, actor_id)
    await runtime.send(actor_id, "jobs", {"value": 1})
    await blocked(runtime, actor_id)
    assert (await workflow_history(runtime, actor_id))["state"] == "failed"
    await recover(runtime, actor_id)
    dying.allow(0)  # the process dies right after recover's commit: the rerun writes nothing
    await runtime.crash()

    runtime = Runtime(registry, storage=SqliteStorage(tmp_path / "rivet.db"), clock=clock)
    await runtime.start()
    try:
        # Before, nothing was due: the recovered workflow stayed asleep until someone called it.
        assert dict(await runtime.storage.load_alarms()).get(actor_id, float("inf")) <= clock.now()
        await clock.advance(0.0)  # the due alarm wakes the actor; nobody contacts it
        assert runtime.is_awake(actor_id)
        actor = await blocked(runtime, actor_id)
        assert (await workflow_history(runtime, actor_id))["output"] == "charged"
        assert actor.get_state().log == SAGA + UNDONE + ["reserved", "labelled", "charged"]
    finally:
        await runtime.stop()
