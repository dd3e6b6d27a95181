"""A redeploy that adds code to a branch of a finished join (or to a finished race's winner):
the finished join replays its branches but runs no new entry. A new entry (or branch) there is a
``HistoryDivergedError`` that writes nothing; ``get_version`` inside such a branch answers 1 (the
branch was recorded before the gate), so a gated change keeps old histories on the old code."""

from __future__ import annotations

from typing import Any

from rivet_dsl import HistoryDivergedError, WorkflowContext
from rivet_dsl.testing import MockClock, TestEnvironment
from rivet_dsl.workflows._history import PREFIX

from ._helpers import settle
from ._scenario import CODE, Job, Scenario, ScenarioFn, calls, registry, result, start


async def _rows(env: TestEnvironment, h: Any) -> list[tuple[bytes, bytes]]:
    await env.runtime.storage.commit()
    return sorted(await env.runtime.storage.load_kv(await h.resolve(), PREFIX))


def _join_code(extra: str | None) -> ScenarioFn:
    async def code(self: Scenario, ctx: WorkflowContext) -> Any:
        async def a(b: WorkflowContext) -> str:
            await b.step("x", self.hit, "x")
            if extra == "step":
                await b.step("y", self.hit, "y")
            elif extra == "gated" and await b.get_version("add-y", 2) >= 2:
                await b.step("y", self.hit, "y")
            elif extra == "sleep":
                await b.sleep("nap", 1.0)
            return "a"

        async def c(b: WorkflowContext) -> str:
            await b.step("z", self.hit, "z")
            return "c"

        branches = {"a": a, "c": c}
        if extra == "branch":

            async def d(b: WorkflowContext) -> str:
                return "d"

            branches["d"] = d
        values = await ctx.join("j", branches)
        await ctx.queue.next("wait", names=[self.jobs])
        return values

    return code


async def test_new_step_in_finished_join_branch_diverges_and_does_not_run() -> None:
    for extra, found in (("step", "step 'j/a/y'"), ("sleep", "sleep 'j/a/nap'"), ("branch", "branch 'j/d'")):
        name = f"fjoin_{extra}"
        async with TestEnvironment(registry, clock=MockClock()) as env:
            CODE[name] = _join_code(None)
            h = await start(env, name, "v")
            before = await _rows(env, h)
            CODE[name] = _join_code(extra)
            await env.restart()
            engine = await settle(env, h)
            error = engine.error
            assert isinstance(error, HistoryDivergedError), (extra, error)
            assert error.found == found
            assert error.path == found.split("'")[1]
            assert calls(name, "v", "y") == 0
            assert (calls(name, "v", "x"), calls(name, "v", "z")) == (1, 1)  # replayed, not run again
            assert await _rows(env, h) == before


async def test_gated_step_in_finished_join_branch_keeps_the_old_code() -> None:
    name = "fjoin_gated"
    async with TestEnvironment(registry, clock=MockClock()) as env:
        CODE[name] = _join_code(None)
        h = await start(env, name, "v")
        before = await _rows(env, h)
        CODE[name] = _join_code("gated")
        await env.restart()
        engine = await settle(env, h)
        assert engine.error is None
        assert await _rows(env, h) == before  # the gate records nothing in a finished branch
        await h.send("jobs", Job(1))
        assert await result(env, h) == ("completed", {"a": "a", "c": "c"})
        assert calls(name, "v", "y") == 0


async def test_gated_step_runs_on_a_fresh_history() -> None:
    name = "fjoin_gated_fresh"
    async with TestEnvironment(registry, clock=MockClock()) as env:
        CODE[name] = _join_code("gated")
        h = await start(env, name, "v")
        await env.restart()  # the replay of the finished join: the gate's recorded answer, 2
        await settle(env, h)
        await h.send("jobs", Job(1))
        assert await result(env, h) == ("completed", {"a": "a", "c": "c"})
        assert calls(name, "v", "y") == 1


def _race_code(extra: bool) -> ScenarioFn:
    async def code(self: Scenario, ctx: WorkflowContext) -> Any:
        async def fast(b: WorkflowContext) -> str:
            await b.step("x", self.hit, "x")
            if extra:
                await b.step("y", self.hit, "y")
            return "fast"

        async def slow(b: WorkflowContext) -> str:
            await b.queue.next("never", names=[self.other])
            return "slow"

        won = await ctx.race("r", {"fast": fast, "slow": slow})
        await ctx.queue.next("wait", names=[self.jobs])
        return won.winner

    return code


async def test_new_step_in_finished_race_winner_diverges_and_does_not_run() -> None:
    name = "frace_step"
    async with TestEnvironment(registry, clock=MockClock()) as env:
        CODE[name] = _race_code(False)
        h = await start(env, name, "v")
        before = await _rows(env, h)
        CODE[name] = _race_code(True)
        await env.restart()
        engine = await settle(env, h)
        assert isinstance(engine.error, HistoryDivergedError)
        assert (engine.error.path, engine.error.found) == ("r/fast/y", "step 'r/fast/y'")
        assert calls(name, "v", "y") == 0
        assert calls(name, "v", "x") == 1
        assert await _rows(env, h) == before
