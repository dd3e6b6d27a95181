"""A deploy whose code diverges from the history writes nothing (SEMANTICS 6), even when it first
passes a ``get_version`` gate or a ``removed`` placeholder that is new to the history: those are
matched by name, not position, so they are entered before the later renamed entry is found. Their
rows (and the names they intern) are only written with the run's next write, which a diverging
run never makes; a run that goes on records them as before."""

from __future__ import annotations

from typing import Any

from rivet_dsl import HistoryDivergedError, Loop, WorkflowContext
from rivet_dsl.testing import MockClock, TestEnvironment
from rivet_dsl.workflows._history import PREFIX

from ._helpers import settle
from ._scenario import (
    CODE,
    Job,
    Scenario,
    ScenarioFn,
    calls,
    history,
    registry,
    result,
    start,
)


async def _rows(env: TestEnvironment, h: Any) -> list[tuple[bytes, bytes]]:
    await env.runtime.storage.commit()
    return sorted(await env.runtime.storage.load_kv(await h.resolve(), PREFIX))


async def _diverge(name: str, old: ScenarioFn, new: ScenarioFn, pushes: int = 0) -> HistoryDivergedError:
    """Run ``old`` (sending ``pushes`` jobs), redeploy ``new``: its error, once the stored
    history rows were checked to be byte-identical before and after."""
    async with TestEnvironment(registry, clock=MockClock()) as env:
        CODE[name] = old
        h = await start(env, name, "v")
        for _ in range(pushes):
            await h.send("jobs", Job(1))
            await settle(env, h)
        before = await _rows(env, h)
        CODE[name] = new
        await env.restart()
        engine = await settle(env, h)
        assert await _rows(env, h) == before
        assert isinstance(engine.error, HistoryDivergedError)
        return engine.error


async def test_gate_and_removed_before_a_renamed_step_write_nothing() -> None:
    async def old(self: Scenario, ctx: WorkflowContext) -> Any:
        await ctx.step("a", self.note, "a")
        await ctx.queue.next("wait", names=[self.jobs])

    async def new(self: Scenario, ctx: WorkflowContext) -> Any:
        await ctx.get_version("gate", 2)
        await ctx.removed("gone", "step")
        await ctx.step("a-renamed", self.note, "a")
        await ctx.queue.next("wait", names=[self.jobs])

    error = await _diverge("gatediv", old, new)
    assert (error.path, error.expected, error.found) == ("a-renamed", "step 'a'", "step 'a-renamed'")


async def test_gate_in_a_loop_iteration_before_a_renamed_step_writes_nothing() -> None:
    async def old(self: Scenario, ctx: WorkflowContext) -> Any:
        async def body(loop: WorkflowContext, i: int) -> Loop[int]:
            await loop.step("apply", self.hit, f"a{i}")
            await loop.queue.next("wait", names=[self.jobs])
            return Loop.continue_(i + 1)

        await ctx.loop("counter-loop", body, state=0)

    async def new(self: Scenario, ctx: WorkflowContext) -> Any:
        async def body(loop: WorkflowContext, i: int) -> Loop[int]:
            await loop.removed("old-step", "step")
            await loop.get_version("gate", 3)
            await loop.step("apply-renamed", self.hit, f"a{i}")
            await loop.queue.next("wait", names=[self.jobs])
            return Loop.continue_(i + 1)

        await ctx.loop("counter-loop", body, state=0)

    error = await _diverge("loopgatediv", old, new, pushes=2)
    assert (error.path, error.expected, error.found) == (
        "counter-loop/~0/apply-renamed",
        "step 'counter-loop/~0/apply'",
        "step 'counter-loop/~0/apply-renamed'",
    )


async def test_a_gate_held_back_is_recorded_with_the_next_write() -> None:
    """A gate after every recorded entry answers ``latest``. While nothing else is recorded it
    is not stored (a restart answers the same: the history did not change); the next entry
    stores it, and a later replay answers what it recorded."""
    name = "gate_held_back"

    async def old(self: Scenario, ctx: WorkflowContext) -> Any:
        await ctx.step("a", self.note, "a")
        await ctx.queue.next("wait", names=[self.jobs])
        return "old"

    async def new(self: Scenario, ctx: WorkflowContext) -> Any:
        await ctx.step("a", self.note, "a")
        version = await ctx.get_version("gate", 2)
        await ctx.queue.next("wait", names=[self.jobs])
        await ctx.step("seen", self.hit, f"v{version}")
        await ctx.queue.next("wait-2", names=[self.jobs])
        return version

    async def gates() -> list[str]:
        return [e["location"] for e in (await history(env, h))["entries"] if e["kind"] == "version_check"]

    async with TestEnvironment(registry, clock=MockClock()) as env:
        CODE[name] = old
        h = await start(env, name, "v")
        before = await _rows(env, h)
        CODE[name] = new
        await env.restart()
        await settle(env, h)
        assert await _rows(env, h) == before  # held back: nothing recorded after it yet
        await env.restart()
        await settle(env, h)
        await h.send("jobs", Job(1))
        await settle(env, h)
        assert await gates() == ["gate"]  # stored with the message's entry
        assert calls(name, "v", "v2") == 1
        await env.restart()
        await h.send("jobs", Job(2))
        assert await result(env, h) == ("completed", 2)
        assert calls(name, "v", "v2") == 1
