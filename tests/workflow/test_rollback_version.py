"""Rollback, versioning, removals and divergence (Rivet rollback/version/removals tests)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from typing import Any

import pytest

from rivet_dsl import WorkflowContext
from rivet_dsl.testing import MockClock, TestEnvironment
from rivet_dsl.workflows import RollbackContext

from ._helpers import checkpoint, settle
from ._scenario import CODE, Scenario, calls, events, history, registry, result, scenario, start


@scenario
async def saga(self: Scenario, ctx: WorkflowContext) -> Any:
    async def undo(rctx: RollbackContext, output: str) -> None:
        self.note(f"undo:{output}")

    await ctx.rollback_checkpoint("checkpoint")
    await ctx.step("first", self.note, "one", rollback=undo)
    await ctx.step("second", self.note, "two", rollback=undo)
    await ctx.queue.next("go", names=[self.jobs])

    def boom() -> None:
        raise RuntimeError("boom")

    await ctx.step("third", boom, max_retries=0)


async def test_rollback_runs_in_reverse_order(mode: str) -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "saga", mode)
        await checkpoint(env, h, mode)
        await h.send("jobs", {"value": 1})
        state, _ = await result(env, h)
        assert state == "failed"
        assert (await h.action("get_state"))["log"] == ["one", "two", "undo:two", "undo:one"]
        data = await history(env, h)
        assert "boom" in data["error"]["message"]
        # Rollbacks are recorded; a reload does not run them again.
        await env.restart()
        await settle(env, h)
        assert (await h.action("get_state"))["log"] == ["one", "two", "undo:two", "undo:one"]


@scenario
async def join_saga(self: Scenario, ctx: WorkflowContext) -> Any:
    async def undo(rctx: RollbackContext, output: str) -> None:
        self.note(f"undo:{output}")

    await ctx.rollback_checkpoint("checkpoint")
    await ctx.step("first", self.note, "one", rollback=undo)
    await ctx.join("both", {
        "a": lambda c: c.step("in-a", self.note, "a", rollback=undo),
        "b": lambda c: c.step("in-b", self.note, "b", rollback=undo),
    })
    await ctx.queue.next("go", names=[self.jobs])

    def boom() -> None:
        raise RuntimeError("boom")

    await ctx.step("last", boom, max_retries=0)


async def test_join_branch_steps_are_compensated_after_a_reload_too(mode: str) -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "join_saga", mode)
        await checkpoint(env, h, mode)  # "restart": the join is replayed from history
        await h.send("jobs", {"value": 1})
        assert (await result(env, h))[0] == "failed"
        assert (await h.action("get_state"))["log"] == ["one", "a", "b", "undo:b", "undo:a", "undo:one"]


@scenario
async def race_saga(self: Scenario, ctx: WorkflowContext) -> Any:
    async def undo(rctx: RollbackContext, output: str) -> None:
        self.note(f"undo:{output}")

    async def winner(c: WorkflowContext) -> str:
        await c.step("w1", self.note, "w1", rollback=undo)
        return await c.step("w2", self.note, "w2", rollback=undo)

    async def loser(c: WorkflowContext) -> None:
        await c.step("l1", self.note, "l1", rollback=undo)
        await c.queue.next("never", names=[self.other])

    await ctx.rollback_checkpoint("checkpoint")
    await ctx.step("first", self.note, "one", rollback=undo)
    await ctx.race("race", {"winner": winner, "loser": loser})
    await ctx.queue.next("go", names=[self.jobs])

    def boom() -> None:
        raise RuntimeError("boom")

    await ctx.step("last", boom, max_retries=0)


async def test_race_winner_steps_are_compensated_and_loser_steps_never(mode: str) -> None:
    """The loser's history is dropped, so a replay cannot compensate its steps: live, they
    are not compensated either (the same outcome whether or not the actor reloaded)."""
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "race_saga", mode)
        await checkpoint(env, h, mode)
        await h.send("jobs", {"value": 1})
        assert (await result(env, h))[0] == "failed"
        log = (await h.action("get_state"))["log"]
        assert sorted(log[:4]) == ["l1", "one", "w1", "w2"]
        assert log[4:] == ["undo:w2", "undo:w1", "undo:one"]
        locations = [e["location"] for e in (await history(env, h))["entries"]]
        assert "race/winner/w2" in locations and "race/loser/l1" not in locations


@scenario
async def no_checkpoint(self: Scenario, ctx: WorkflowContext) -> Any:
    await ctx.step("first", self.note, "one", rollback=lambda rctx, out: None)


async def test_rollback_requires_checkpoint() -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "no_checkpoint", "live")
        state, _ = await result(env, h)
        assert state == "failed"
        assert (await history(env, h))["error"]["name"] == "RollbackCheckpointError"
        assert (await h.action("get_state"))["log"] == []


@scenario
async def rollback_resume(self: Scenario, ctx: WorkflowContext) -> Any:
    async def undo(rctx: RollbackContext, output: str) -> None:
        self.note(f"undo:{output}")
        if output == "second" and self.hit("second-undo") == 1:
            raise RuntimeError("undo failed once")

    await ctx.rollback_checkpoint("cp")
    for label in ("first", "second", "third"):
        await ctx.step(label, self.note, label, rollback=undo)

    def boom() -> None:
        raise RuntimeError("boom")

    await ctx.step("fail", boom, max_retries=0)


async def test_rollback_resumes_after_failure_in_handler() -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "rollback_resume", "live")
        state, _ = await result(env, h)
        assert state == "rolling_back"
        assert (await h.action("get_state"))["log"][-2:] == ["undo:third", "undo:second"]
        # The next wake (a crash + reload here) finishes the remaining rollbacks.
        await env.restart()
        await settle(env, h)
        state, _ = await result(env, h)
        assert state == "failed"
        log = (await h.action("get_state"))["log"]
        assert log == ["first", "second", "third", "undo:third", "undo:second", "undo:second", "undo:first"]
        assert any("rollback" in e for e in events("rollback_resume", "live"))


def _failing_saga(first: str) -> Any:
    """A saga whose second compensation fails once (it stays rolling_back); ``first`` names
    its first step."""

    async def code(self: Scenario, ctx: WorkflowContext) -> Any:
        async def undo(rctx: RollbackContext, output: str) -> None:
            self.note(f"undo:{output}")
            if output == "second" and self.hit("second-undo-diverged") == 1:
                raise RuntimeError("undo failed once")

        await ctx.rollback_checkpoint("cp")
        await ctx.step(first, self.note, "first", rollback=undo)
        await ctx.step("second", self.note, "second", rollback=undo)
        await ctx.step("third", self.note, "third", rollback=undo)

        def boom() -> None:
            raise RuntimeError("boom")

        await ctx.step("fail", boom, max_retries=0)

    return code


async def test_a_rollback_resumed_by_diverging_code_compensates_nothing(shared_db: str) -> None:
    state, _, env = await _redeploy(shared_db, "rollback_diverged", _failing_saga("first"), _failing_saga("renamed"), _nothing)
    try:
        h = env.client.get_or_create("scenario", ["rollback_diverged", "v"])
        engine = await settle(env, h)
        assert type(engine.error).__name__ == "HistoryDivergedError"
        # The rollback is not finished with half the handlers, nor the workflow marked failed.
        assert state == "rolling_back"
        assert (await h.action("get_state"))["log"] == ["first", "second", "third", "undo:third", "undo:second"]
    finally:
        await env.__aexit__(None, None, None)
    # A deploy that matches the history again finishes it.
    CODE["rollback_diverged"] = _failing_saga("first")
    async with TestEnvironment(registry, db=shared_db, clock=MockClock()) as env:
        h = await start(env, "rollback_diverged", "v")
        assert (await result(env, h))[0] == "failed"
        log = (await h.action("get_state"))["log"]
        assert log[-2:] == ["undo:second", "undo:first"]


@pytest.fixture
async def shared_db() -> AsyncIterator[str]:
    directory = tempfile.mkdtemp(prefix="rivet-wf-")
    yield os.path.join(directory, "rivet.db")
    shutil.rmtree(directory, ignore_errors=True)


async def _redeploy(db: str, name: str, old: Any, new: Any, drive: Any) -> tuple[str, Any, TestEnvironment]:
    """Run ``old`` code until it blocks, then "redeploy" ``new`` code on the same store."""
    CODE[name] = old
    clock = MockClock()
    async with TestEnvironment(registry, db=db, clock=clock) as env:
        h = await start(env, name, "v")
        await drive(env, h, 1)
    CODE[name] = new
    env2 = TestEnvironment(registry, db=db, clock=clock)
    await env2.__aenter__()
    h = await start(env2, name, "v")
    await drive(env2, h, 2)
    state, output = await result(env2, h)
    return state, output, env2


async def _nothing(env: TestEnvironment, h: Any, phase: int) -> None:
    return None


async def _send(env: TestEnvironment, h: Any, phase: int) -> None:
    if phase == 2:
        await h.send("jobs", {"value": 1})
        await settle(env, h)


async def test_renamed_root_step_diverges_and_writes_nothing(shared_db: str) -> None:
    async def v1(self: Scenario, ctx: WorkflowContext) -> Any:
        await ctx.step("charge", self.note, "charged")
        await ctx.queue.next("wait", names=[self.jobs])
        return "v1"

    async def v2(self: Scenario, ctx: WorkflowContext) -> Any:
        await ctx.step("charge-card", self.note, "charged")
        await ctx.queue.next("wait", names=[self.jobs])
        return "v2"

    before: dict[str, Any] = {}

    async def drive(env: TestEnvironment, h: Any, phase: int) -> None:
        if phase == 1:
            before.update(await history(env, h))

    state, _, env = await _redeploy(shared_db, "renamed_root", v1, v2, drive)
    try:
        h = env.client.get_or_create("scenario", ["renamed_root", "v"])
        engine = await settle(env, h)
        error = engine.error
        assert type(error).__name__ == "HistoryDivergedError"
        assert error.path == "charge-card"  # type: ignore[union-attr]
        assert "charge" in error.expected and "charge-card" in error.found  # type: ignore[union-attr]
        after = await history(env, h)
        assert after["entries"] == before["entries"]
        assert (await h.action("get_state"))["log"] == ["charged"]
    finally:
        await env.__aexit__(None, None, None)


async def test_reordered_and_retyped_entries_diverge(shared_db: str) -> None:
    async def v1(self: Scenario, ctx: WorkflowContext) -> Any:
        await ctx.step("a", self.note, "a")
        await ctx.step("b", self.note, "b")
        await ctx.queue.next("wait", names=[self.jobs])

    async def v2(self: Scenario, ctx: WorkflowContext) -> Any:
        await ctx.step("b", self.note, "b")
        await ctx.step("a", self.note, "a")
        await ctx.queue.next("wait", names=[self.jobs])

    _, _, env = await _redeploy(shared_db, "reordered", v1, v2, _nothing)
    try:
        h = env.client.get_or_create("scenario", ["reordered", "v"])
        assert type((await settle(env, h)).error).__name__ == "HistoryDivergedError"
    finally:
        await env.__aexit__(None, None, None)


async def test_retyped_entry_diverges(shared_db: str) -> None:
    async def v1(self: Scenario, ctx: WorkflowContext) -> Any:
        await ctx.step("a", self.note, "a")
        await ctx.queue.next("wait", names=[self.jobs])

    async def v2(self: Scenario, ctx: WorkflowContext) -> Any:
        await ctx.sleep("a", 1.0)
        await ctx.queue.next("wait", names=[self.jobs])

    _, _, env = await _redeploy(shared_db, "retyped", v1, v2, _nothing)
    try:
        h = env.client.get_or_create("scenario", ["retyped", "v"])
        error = (await settle(env, h)).error
        assert type(error).__name__ == "HistoryDivergedError"
        # Expected: what the history holds; found: what the code does (as for a rename).
        assert (error.expected, error.found) == ("step 'a'", "sleep 'a'")  # type: ignore[union-attr]
    finally:
        await env.__aexit__(None, None, None)


async def test_removed_entry_at_end_of_scope_diverges_then_removed_fixes_it(shared_db: str) -> None:
    async def v1(self: Scenario, ctx: WorkflowContext) -> Any:
        await ctx.step("a", self.note, "a")
        await ctx.step("old", self.note, "old")
        await ctx.queue.next("wait", names=[self.jobs])
        return "v1"

    async def v2(self: Scenario, ctx: WorkflowContext) -> Any:
        await ctx.step("a", self.note, "a")
        await ctx.removed("old", "step")
        await ctx.queue.next("wait", names=[self.jobs])
        return "v2"

    state, output, env = await _redeploy(shared_db, "removals", v1, v2, _send)
    try:
        assert (state, output) == ("completed", "v2")
        h = env.client.get_or_create("scenario", ["removals", "v"])
        assert (await h.action("get_state"))["log"] == ["a", "old"]
    finally:
        await env.__aexit__(None, None, None)


@pytest.mark.parametrize("kind", ["loop", "sleep", "message", "join", "race"])
async def test_removed_for_each_entry_type(shared_db: str, kind: str) -> None:
    async def v1(self: Scenario, ctx: WorkflowContext) -> Any:
        async def branch(b: WorkflowContext) -> int:
            return 1

        if kind == "loop":

            async def body(loop: WorkflowContext) -> Any:
                from rivet_dsl import Loop

                return Loop.break_(1)

            await ctx.loop("gone", body)
        elif kind == "sleep":
            await ctx.sleep("gone", 0.0)
        elif kind == "message":
            await ctx.queue.next("gone", names=[self.other])
        elif kind == "join":
            await ctx.join("gone", {"x": branch})
        else:
            await ctx.race("gone", {"x": branch})
        await ctx.queue.next("wait", names=[self.jobs])
        return "v1"

    async def v2(self: Scenario, ctx: WorkflowContext) -> Any:
        await ctx.removed("gone", kind)
        await ctx.queue.next("wait", names=[self.jobs])
        return "v2"

    async def drive(env: TestEnvironment, h: Any, phase: int) -> None:
        if phase == 1 and kind == "message":
            await h.send("other", {"value": 1})
            await settle(env, h)
        if phase == 2:
            await h.send("jobs", {"value": 1})

    CODE.pop(f"removed_{kind}", None)
    state, output, env = await _redeploy(shared_db, f"removed_{kind}", v1, v2, drive)
    await env.__aexit__(None, None, None)
    assert (state, output) == ("completed", "v2")


async def test_version_gate_old_history_resolves_1_new_resolves_latest(shared_db: str) -> None:
    async def v1(self: Scenario, ctx: WorkflowContext) -> Any:
        await ctx.step("work", self.note, "old:did-work")
        await ctx.queue.next("wait", names=[self.jobs])
        return "v1"

    async def v2(self: Scenario, ctx: WorkflowContext) -> Any:
        version = await ctx.get_version("work-version", 2)
        if version == 1:
            await ctx.step("work", self.note, "old:did-work")
        else:
            await ctx.step("work-v2", self.note, "new:did-work")
        await ctx.queue.next("wait", names=[self.jobs])
        return f"version {version}"

    state, output, env = await _redeploy(shared_db, "versioned", v1, v2, _send)
    try:
        assert (state, output) == ("completed", "version 1")
        # A fresh instance resolves to latest, and stays pinned on replay.
        fresh = env.client.get_or_create("scenario", ["versioned", "fresh"])
        await fresh.resolve()
        await settle(env, fresh)
        await env.restart()
        await settle(env, fresh)
        await fresh.send("jobs", {"value": 1})
        assert await result(env, fresh) == ("completed", "version 2")
        assert (await fresh.action("get_state"))["log"] == ["new:did-work"]
    finally:
        await env.__aexit__(None, None, None)


@scenario
async def gate_occupied(self: Scenario, ctx: WorkflowContext) -> Any:
    return 0


async def test_step_at_gate_key_diverges(shared_db: str) -> None:
    async def v1(self: Scenario, ctx: WorkflowContext) -> Any:
        await ctx.step("gate", self.note, "x")
        await ctx.queue.next("wait", names=[self.jobs])

    async def v2(self: Scenario, ctx: WorkflowContext) -> Any:
        await ctx.get_version("gate", 2)
        await ctx.queue.next("wait", names=[self.jobs])

    _, _, env = await _redeploy(shared_db, "gate_occupied", v1, v2, _nothing)
    try:
        h = env.client.get_or_create("scenario", ["gate_occupied", "v"])
        assert type((await settle(env, h)).error).__name__ == "HistoryDivergedError"
    finally:
        await env.__aexit__(None, None, None)


__all__ = ["calls"]
