"""A redeploy that adds code to a loop iteration which had finished: a wake replays the
iterations since the last loop checkpoint from their recorded entries, and an iteration is known
to have finished when a later iteration has recorded entries. Such an iteration is sealed like a
finished join branch: a new entry there is a ``HistoryDivergedError`` that runs nothing and writes
nothing, and ``get_version`` there answers 1 without recording (the iteration predates the gate),
so a gated change keeps finished iterations on the old code and applies to the new ones."""

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


def _loop_code(extra: str | None, timeout: float | None = None) -> ScenarioFn:
    async def code(self: Scenario, ctx: WorkflowContext) -> Any:
        async def body(loop: WorkflowContext, done: int) -> Loop[int]:
            message = await loop.queue.next("take", names=[self.jobs], timeout=timeout)
            if message is None:
                return Loop.continue_(done)
            await loop.step("apply", self.hit, "apply")
            if extra == "step":
                await loop.step("audit", self.hit, "audit")
            elif extra == "sleep":
                await loop.sleep("nap", 1.0)
            elif extra == "gated" and await loop.get_version("add-audit", 2) >= 2:
                await loop.step("audit", self.hit, "audit")
            done += 1
            return Loop.break_(done) if message.body.value < 0 else Loop.continue_(done)

        return await ctx.loop("l", body, state=0)

    return code


async def _two_finished_iterations(env: TestEnvironment, name: str, timeout: float | None = None) -> Any:
    h = await start(env, name, "v")
    await h.send("jobs", Job(1))
    await settle(env, h)
    await h.send("jobs", Job(2))
    await settle(env, h)
    assert calls(name, "v", "apply") == 2
    return h


async def test_new_entry_in_finished_loop_iteration_diverges_and_does_not_run() -> None:
    for extra, found in (("step", "step 'l/~0/audit'"), ("sleep", "sleep 'l/~0/nap'")):
        name = f"fiter_{extra}"
        async with TestEnvironment(registry, clock=MockClock()) as env:
            CODE[name] = _loop_code(None)
            h = await _two_finished_iterations(env, name)
            before = await _rows(env, h)
            CODE[name] = _loop_code(extra)
            await env.restart()
            engine = await settle(env, h)
            error = engine.error
            assert isinstance(error, HistoryDivergedError), (extra, error)
            assert (error.path, error.found) == (found.split("'")[1], found)
            assert error.expected == "the end of finished scope 'l/~0'"
            assert calls(name, "v", "audit") == 0
            assert calls(name, "v", "apply") == 2  # replayed, not run again
            assert await _rows(env, h) == before


async def test_last_finished_iteration_is_sealed_once_the_next_one_recorded_an_entry() -> None:
    """With a receive timeout, the waiting iteration 2 has recorded its deadline: iteration 1
    (the last finished one) is sealed too. Iteration 0 replays unchanged under the gate-free
    code, so the divergence is found in iteration 1."""
    name = "fiter_last"
    async with TestEnvironment(registry, clock=MockClock()) as env:
        CODE[name] = _loop_code(None, timeout=3600.0)
        h = await _two_finished_iterations(env, name, timeout=3600.0)
        before = await _rows(env, h)

        async def code(self: Scenario, ctx: WorkflowContext) -> Any:
            # New code only from iteration 1 on (as if iteration 0 had been pruned).
            async def body(loop: WorkflowContext, done: int) -> Loop[int]:
                message = await loop.queue.next("take", names=[self.jobs], timeout=3600.0)
                assert message is not None
                await loop.step("apply", self.hit, "apply")
                if loop.path != "l/~0":
                    await loop.step("audit", self.hit, "audit")
                return Loop.continue_(done + 1)

            return await ctx.loop("l", body, state=0)

        CODE[name] = code
        await env.restart()
        engine = await settle(env, h)
        assert isinstance(engine.error, HistoryDivergedError)
        assert (engine.error.path, engine.error.expected) == ("l/~1/audit", "the end of finished scope 'l/~1'")
        assert calls(name, "v", "audit") == 0
        assert await _rows(env, h) == before


async def test_gated_step_in_finished_iteration_keeps_the_old_code_and_new_iterations_take_it() -> None:
    name = "fiter_gated"
    async with TestEnvironment(registry, clock=MockClock()) as env:
        # With a receive timeout, the waiting iteration 2 has recorded its deadline, so both
        # finished iterations are known to have finished.
        CODE[name] = _loop_code(None, timeout=3600.0)
        h = await _two_finished_iterations(env, name)
        CODE[name] = _loop_code("gated", timeout=3600.0)
        await env.restart()
        assert (await settle(env, h)).error is None
        assert calls(name, "v", "audit") == 0
        await h.send("jobs", Job(-1))  # iteration 2: recorded after the gate, takes the new code
        assert await result(env, h) == ("completed", 3)
        assert calls(name, "v", "audit") == 1
        checks = {
            e["location"]: e["data"]["resolved"] for e in (await history(env, h))["entries"] if e["kind"] == "version_check"
        }
        assert checks == {"l/~2/add-audit": 2}  # nothing recorded in the finished iterations


async def test_unchanged_code_replays_finished_iterations(mode: str) -> None:
    name = f"fiter_same_{mode}"
    async with TestEnvironment(registry, clock=MockClock()) as env:
        CODE[name] = _loop_code("step")
        h = await _two_finished_iterations(env, name)
        if mode == "restart":
            await env.restart()
        assert (await settle(env, h)).error is None
        await h.send("jobs", Job(-1))
        assert await result(env, h) == ("completed", 3)
        assert (calls(name, "v", "apply"), calls(name, "v", "audit")) == (3, 3)
