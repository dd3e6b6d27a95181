"""A ``ctx.removed(name, kind)`` call deleted from the code while the history holds the
``removed`` placeholder an earlier run recorded: the placeholder is history like any entry
(Rivet's ``validateComplete`` raises for every unvisited entry of a scope, placeholders
included), so the replay raises ``HistoryDivergedError`` (path the placeholder's, expected
``removed 'old'``) before the code past its place runs, and writes nothing. Kept in the code,
the placeholder replays; in iterations a wake does not replay, it leaves nothing to check."""

from __future__ import annotations

from typing import Any

from rivet_dsl import HistoryDivergedError, Loop, WorkflowContext
from rivet_dsl.testing import MockClock, TestEnvironment
from rivet_dsl.workflows._history import PREFIX

from ._helpers import settle
from ._scenario import CODE, Job, Scenario, ScenarioFn, calls, history, registry, result, start


async def _rows(env: TestEnvironment, h: Any) -> list[tuple[bytes, bytes]]:
    await env.runtime.storage.commit()
    return sorted(await env.runtime.storage.load_kv(await h.resolve(), PREFIX))


def _root(keep: bool, where: str) -> ScenarioFn:
    """The placeholder ``old`` "first" (before step a) or "last" (after it, before step a2)."""

    async def code(self: Scenario, ctx: WorkflowContext) -> Any:
        if where == "first" and keep:
            await ctx.removed("old", "step")
        await ctx.step("a", self.hit, "a")
        if where == "last" and keep:
            await ctx.removed("old", "step")
        await ctx.step("a2", self.hit, "a2")
        await ctx.queue.next("wait", names=[self.jobs])
        await ctx.step("b", self.hit, "b")
        return "done"

    return code


def _kinds(data: dict[str, Any]) -> dict[str, str]:
    return {e["location"]: e["kind"] for e in data["entries"]}


async def test_dropped_placeholder_diverges_and_writes_nothing() -> None:
    for where, found in (("first", "step 'a'"), ("last", "step 'a2'")):
        name = f"placeholder_drop_{where}"
        async with TestEnvironment(registry, clock=MockClock()) as env:
            CODE[name] = _root(True, where)
            h = await start(env, name, "v")
            assert _kinds(await history(env, h))["old"] == "removed"  # the placeholder is recorded
            before = await _rows(env, h)
            CODE[name] = _root(False, where)
            await env.restart()
            engine = await settle(env, h)
            error = engine.error
            assert isinstance(error, HistoryDivergedError), (where, error)
            assert (error.path, error.expected, error.found) == ("old", "removed 'old'", found)
            await h.send("jobs", Job(1))  # the diverged run takes nothing, runs nothing
            await settle(env, h)
            assert (calls(name, "v", "a"), calls(name, "v", "a2"), calls(name, "v", "b")) == (1, 1, 0)
            assert await _rows(env, h) == before


def _loop(keep: bool) -> ScenarioFn:
    async def code(self: Scenario, ctx: WorkflowContext) -> Any:
        async def body(loop: WorkflowContext, n: int) -> Loop[int]:
            await loop.queue.next("take", names=[self.jobs])
            await loop.step("apply", self.hit, "apply")
            if keep:
                await loop.removed("old", "step")  # last in the iteration
            return Loop.break_(n) if n == 2 else Loop.continue_(n + 1)

        return await ctx.loop("l", body, state=0)

    return code


async def test_dropped_placeholder_at_the_end_of_a_scope_diverges() -> None:
    name = "placeholder_drop_end"
    async with TestEnvironment(registry, clock=MockClock()) as env:
        CODE[name] = _loop(True)
        h = await start(env, name, "v")
        for value in (1, 2):  # iteration 1's take writes iteration 0's placeholder with it
            await h.send("jobs", Job(value))
            await settle(env, h)
        assert _kinds(await history(env, h))["l/~0/old"] == "removed"
        before = await _rows(env, h)
        CODE[name] = _loop(False)
        await env.restart()
        engine = await settle(env, h)
        assert isinstance(engine.error, HistoryDivergedError), engine.error
        assert (engine.error.path, engine.error.expected) == ("l/~0/old", "removed 'l/~0/old'")
        assert engine.error.found == "the end of scope 'l/~0'"
        assert calls(name, "v", "apply") == 2
        assert await _rows(env, h) == before


async def test_kept_placeholder_replays(mode: str) -> None:
    for where in ("first", "last"):
        name = f"placeholder_kept_{where}_{mode}"
        async with TestEnvironment(registry, clock=MockClock()) as env:
            CODE[name] = _root(True, where)
            h = await start(env, name, "v")
            if mode == "restart":
                await env.restart()
            engine = await settle(env, h)
            assert engine.error is None, engine.error
            assert engine.history.gates == {}  # visited: nothing left to check
            await h.send("jobs", Job(1))
            assert await result(env, h) == ("completed", "done")
            assert (calls(name, "v", "a"), calls(name, "v", "a2"), calls(name, "v", "b")) == (1, 1, 1)


async def test_kept_placeholder_in_a_loop_replays(mode: str) -> None:
    name = f"placeholder_kept_loop_{mode}"
    async with TestEnvironment(registry, clock=MockClock()) as env:
        CODE[name] = _loop(True)
        h = await start(env, name, "v")
        for value in (1, 2):
            await h.send("jobs", Job(value))
            await settle(env, h)
            if mode == "restart":
                await env.restart()
                assert (await settle(env, h)).error is None
        await h.send("jobs", Job(3))
        assert await result(env, h) == ("completed", 2)
        assert calls(name, "v", "apply") == 3


async def test_placeholders_of_iterations_not_replayed_leave_nothing_to_check() -> None:
    """Iterations before the loop checkpoint are kept but not replayed: their placeholders are
    never visited and must not count as dropped, nor leave a check on every later entry."""
    name = "placeholder_loop_checkpoint"

    async def code(self: Scenario, ctx: WorkflowContext) -> Any:
        async def body(loop: WorkflowContext, n: int) -> Loop[int]:
            await loop.removed("old", "step")
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
