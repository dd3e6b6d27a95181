"""A ``ctx.get_version`` gate deleted from the code without a ``ctx.removed(name,
"version_check")`` placeholder: its recorded entry is not visited, which is a divergence
(Rivet's ``validateComplete`` counts version_check entries as history, and its docs retire a
gate with ``removed``). The replay raises ``HistoryDivergedError`` before the code past the
gate's place runs, and writes nothing. Retired with ``removed``, the old history replays."""

from __future__ import annotations

from typing import Any

from rivet_dsl import HistoryDivergedError, Loop, WorkflowContext
from rivet_dsl.testing import MockClock, TestEnvironment
from rivet_dsl.workflows._history import PREFIX

from ._helpers import settle
from ._scenario import CODE, Job, Scenario, ScenarioFn, calls, registry, result, start


async def _rows(env: TestEnvironment, h: Any) -> list[tuple[bytes, bytes]]:
    await env.runtime.storage.commit()
    return sorted(await env.runtime.storage.load_kv(await h.resolve(), PREFIX))


def _root(gate: str, where: str) -> ScenarioFn:
    """``gate``: "kept", "dropped" or "retired"; ``where``: the gate "first" or "last" (after the step)."""

    async def code(self: Scenario, ctx: WorkflowContext) -> Any:
        version = 0
        if where == "first":
            if gate == "kept":
                version = await ctx.get_version("v", 2)
            elif gate == "retired":
                await ctx.removed("v", "version_check")
        await ctx.step("a", self.hit, "a")
        if where == "last":
            if gate == "kept":
                version = await ctx.get_version("v", 2)
            elif gate == "retired":
                await ctx.removed("v", "version_check")
        await ctx.queue.next("wait", names=[self.jobs])
        await ctx.step("b", self.hit, "b")
        return version

    return code


async def test_dropped_gate_diverges_and_writes_nothing() -> None:
    for where, path, found in (("first", "v", "step 'a'"), ("last", "v", "message 'wait'")):
        name = f"gate_drop_{where}"
        async with TestEnvironment(registry, clock=MockClock()) as env:
            CODE[name] = _root("kept", where)
            h = await start(env, name, "v")
            before = await _rows(env, h)
            CODE[name] = _root("dropped", where)
            await env.restart()
            engine = await settle(env, h)
            error = engine.error
            assert isinstance(error, HistoryDivergedError), (where, error)
            assert (error.path, error.expected, error.found) == (path, f"version_check {path!r}", found)
            await h.send("jobs", Job(1))  # the diverged run takes nothing, runs nothing
            await settle(env, h)
            assert (calls(name, "v", "a"), calls(name, "v", "b")) == (1, 0)
            rows = await _rows(env, h)
            assert rows == before


async def test_dropped_gate_at_the_end_of_a_scope_diverges() -> None:
    name = "gate_drop_end"

    def code(gate: bool) -> ScenarioFn:
        async def run(self: Scenario, ctx: WorkflowContext) -> Any:
            async def body(loop: WorkflowContext) -> Loop[int] | None:
                await loop.step("a", self.hit, "a")
                if gate:
                    await loop.get_version("v", 2)
                await loop.sleep("nap", 10.0)
                return Loop.break_(1)

            return await ctx.loop("l", body)

        return run

    async with TestEnvironment(registry, clock=MockClock()) as env:
        CODE[name] = code(True)
        h = await start(env, name, "v")
        before = await _rows(env, h)
        CODE[name] = code(False)
        await env.restart()
        engine = await settle(env, h)
        assert isinstance(engine.error, HistoryDivergedError)
        assert (engine.error.path, engine.error.found) == ("l/~0/v", "sleep 'l/~0/nap'")
        assert await _rows(env, h) == before


async def test_retired_gate_replays(mode: str) -> None:
    for where in ("first", "last"):
        name = f"gate_retired_{where}_{mode}"
        async with TestEnvironment(registry, clock=MockClock()) as env:
            CODE[name] = _root("kept", where)
            h = await start(env, name, "v")
            CODE[name] = _root("retired", where)
            if mode == "restart":
                await env.restart()
            assert (await settle(env, h)).error is None
            await h.send("jobs", Job(1))
            assert await result(env, h) == ("completed", 0 if mode == "restart" else 2)
            assert (calls(name, "v", "a"), calls(name, "v", "b")) == (1, 1)


async def test_kept_gate_replays_pinned(mode: str) -> None:
    for where in ("first", "last"):
        name = f"gate_kept_{where}_{mode}"
        async with TestEnvironment(registry, clock=MockClock()) as env:
            CODE[name] = _root("kept", where)
            h = await start(env, name, "v")
            if mode == "restart":
                await env.restart()
            assert (await settle(env, h)).error is None
            await h.send("jobs", Job(1))
            assert await result(env, h) == ("completed", 2)


async def test_gates_of_iterations_not_replayed_leave_nothing_to_check() -> None:
    """Iterations before the loop checkpoint are kept but not replayed: their gates are never
    visited and must not count as dropped, nor leave a check on every later entry."""
    name = "gate_loop_checkpoint"

    async def code(self: Scenario, ctx: WorkflowContext) -> Any:
        async def body(loop: WorkflowContext, n: int) -> Loop[int]:
            await loop.get_version("v", 2)
            await loop.queue.next("take", names=[self.jobs])
            await loop.step("apply", self.hit, "apply")
            return Loop.break_(n) if n == 4 else Loop.continue_(n + 1)

        return await ctx.loop("l", body, state=0, history_prune_interval=2, history_size=3)

    async with TestEnvironment(registry, clock=MockClock()) as env:
        CODE[name] = code
        h = await start(env, name, "v")
        for value in (1, 2, 3):
            await h.send("jobs", Job(value))
            await settle(env, h)
        await env.restart()
        engine = await settle(env, h)
        assert engine.error is None
        assert engine.history.gates == {}  # ~0/~1 not replayed, ~2 and ~3 visited
        for value in (4, 5):
            await h.send("jobs", Job(value))
        assert await result(env, h) == ("completed", 4)
        assert calls(name, "v", "apply") == 5
