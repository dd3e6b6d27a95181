"""Version gates across a redeploy (Rivet WE/tests/version.test.ts; rivet-semantics 4.1).

* Per-iteration cutover: a loop iteration in flight when v2 is deployed resolves its gate to 1
  and keeps the v1 path; every later iteration resolves to 2 (and stays pinned on replay).
* ``removed(name, "version_check")`` retires a gate: the old history replays, a fresh run
  records a placeholder.
* A gate that is not first in its scope resolves to ``latest`` on a fresh run.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from typing import Any

import pytest

from rivet_dsl import Loop, WorkflowContext
from rivet_dsl.testing import MockClock, TestEnvironment

from ._helpers import checkpoint, settle
from ._scenario import CODE, Scenario, history, registry, result, start


@pytest.fixture
async def shared_db() -> AsyncIterator[str]:
    directory = tempfile.mkdtemp(prefix="rivet-cutover-")
    yield os.path.join(directory, "rivet.db")
    shutil.rmtree(directory, ignore_errors=True)


async def _loop_v1(self: Scenario, ctx: WorkflowContext) -> Any:
    async def body(loop: WorkflowContext, versions: list[int]) -> Loop[list[int]]:
        i = len(versions)
        await loop.step("rec", self.note, f"{i}:rec")
        await loop.queue.next("next", names=[self.jobs])
        await loop.step("after", self.note, f"{i}:after:v1")
        versions = [*versions, 1]
        return Loop.break_(versions) if i == 2 else Loop.continue_(versions)

    return await ctx.loop("loop", body, state=[])


async def _loop_v2(self: Scenario, ctx: WorkflowContext) -> Any:
    async def body(loop: WorkflowContext, versions: list[int]) -> Loop[list[int]]:
        i = len(versions)
        version = await loop.get_version("v", 2)
        if version == 1:
            await loop.step("rec", self.note, f"{i}:rec")
        else:
            await loop.step("rec-v2", self.note, f"{i}:rec:v2")
        await loop.queue.next("next", names=[self.jobs])
        await loop.step("after", self.note, f"{i}:after:v{version}")
        versions = [*versions, version]
        return Loop.break_(versions) if i == 2 else Loop.continue_(versions)

    return await ctx.loop("loop", body, state=[])


async def test_loop_cutover_in_flight_iteration_keeps_v1(shared_db: str, mode: str) -> None:
    clock = MockClock()
    CODE["cutover"] = _loop_v1
    async with TestEnvironment(registry, db=shared_db, clock=clock) as env:
        h = await start(env, "cutover", mode)
        # Iteration 0 recorded "rec" and waits for its message: in flight.
        assert (await h.action("get_state"))["log"] == ["0:rec"]
    CODE["cutover"] = _loop_v2
    async with TestEnvironment(registry, db=shared_db, clock=clock) as env:
        h = await start(env, "cutover", mode)
        assert (await settle(env, h)).error is None
        for _ in range(3):
            await checkpoint(env, h, mode)
            await h.send("jobs", {"value": 0})
        assert await result(env, h) == ("completed", [1, 2, 2])
        assert (await h.action("get_state"))["log"] == [
            "0:rec",
            "0:after:v1",
            "1:rec:v2",
            "1:after:v2",
            "2:rec:v2",
            "2:after:v2",
        ]
        checks = {
            e["location"]: e["data"].get("resolved")
            for e in (await history(env, h))["entries"]
            if e["kind"] == "version_check"
        }
        assert checks == {"loop/~0/v": 1, "loop/~1/v": 2, "loop/~2/v": 2}


async def _gated_v2(self: Scenario, ctx: WorkflowContext) -> Any:
    version = await ctx.get_version("gate", 2)
    await ctx.step("work-v2", self.note, f"work:v{version}")
    await ctx.queue.next("wait", names=[self.jobs])
    return "v2"


async def _gate_retired(self: Scenario, ctx: WorkflowContext) -> Any:
    await ctx.removed("gate", "version_check")
    await ctx.step("work-v2", self.note, "work:v3")
    await ctx.queue.next("wait", names=[self.jobs])
    return "v3"


async def test_removed_version_check_retires_a_gate(shared_db: str) -> None:
    clock = MockClock()
    CODE["retire_gate"] = _gated_v2
    async with TestEnvironment(registry, db=shared_db, clock=clock) as env:
        h = await start(env, "retire_gate", "v")
        assert (await h.action("get_state"))["log"] == ["work:v2"]
    # Retiring it with removed(..., "version_check") replays and completes.
    CODE["retire_gate"] = _gate_retired
    async with TestEnvironment(registry, db=shared_db, clock=clock) as env:
        h = await start(env, "retire_gate", "v")
        assert (await settle(env, h)).error is None
        await h.send("jobs", {"value": 0})
        assert await result(env, h) == ("completed", "v3")
        assert (await h.action("get_state"))["log"] == ["work:v2"]  # the recorded step did not re-run
        # A fresh instance on the retiring code records a placeholder and runs as well.
        fresh = await start(env, "retire_gate", "fresh")
        await fresh.send("jobs", {"value": 0})
        assert await result(env, fresh) == ("completed", "v3")
        kinds = {e["location"]: e["kind"] for e in (await history(env, fresh))["entries"]}
        assert kinds["gate"] == "removed"


async def _gate_not_first(self: Scenario, ctx: WorkflowContext) -> Any:
    await ctx.step("first", self.note, "first")

    async def body(loop: WorkflowContext, i: int) -> Loop[int]:
        await loop.step("work", self.note, f"iter{i}")
        version = await loop.get_version("inner-gate", 4)
        await loop.step("record", self.note, f"iter{i}:v{version}")
        return Loop.break_(i) if i == 1 else Loop.continue_(i + 1)

    await ctx.loop("l", body, state=0)
    version = await ctx.get_version("gate", 3)
    await ctx.queue.next("wait", names=[self.jobs])
    return version


async def test_gate_not_first_in_scope_on_fresh_run_resolves_latest(mode: str) -> None:
    CODE["gate_not_first"] = _gate_not_first
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "gate_not_first", mode)
        await checkpoint(env, h, mode)
        await h.send("jobs", {"value": 0})
        assert await result(env, h) == ("completed", 3)
        assert (await h.action("get_state"))["log"] == ["first", "iter0", "iter0:v4", "iter1", "iter1:v4"]
