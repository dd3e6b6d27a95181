"""The last finished loop iteration, while the next one has recorded nothing yet (it waits in a
``queue.next`` without timeout): when the actor sleeps (idle sleep, or a graceful shutdown
before a redeploy), the loop entry records which iteration is in progress, so on the next wake
every iteration below it replays sealed, the last finished one included. New code there is a
``HistoryDivergedError`` that runs nothing and writes nothing; a ``get_version`` there answers 1.
While awake, nothing extra is written per message: the marker is written only at sleep."""

from __future__ import annotations

from typing import Any

import pytest

from rivet_dsl import HistoryDivergedError, Loop, WorkflowContext
from rivet_dsl.testing import MockClock, TestEnvironment
from rivet_dsl.workflows._history import ENTRY_PREFIX, PREFIX, decode_entry

from ._helpers import settle
from ._scenario import CODE, Job, Scenario, ScenarioFn, calls, history, registry, result, start
from .test_finished_iteration_redeploy import _loop_code


@pytest.fixture(params=["wake", "restart"])
def sleep_mode(request: pytest.FixtureRequest) -> str:
    """The actor sleeps, then wakes in the same process ("wake") or after a restart."""
    return str(request.param)


def _marker(row: bytes) -> int | None:
    return getattr(decode_entry(row), "finished", None)


async def _rows(env: TestEnvironment, h: Any) -> list[tuple[bytes, bytes]]:
    await env.runtime.storage.commit()
    return sorted(await env.runtime.storage.load_kv(await h.resolve(), PREFIX))


async def _loop_row(env: TestEnvironment, h: Any) -> bytes:
    (row,) = [v for k, v in await _rows(env, h) if k.startswith(ENTRY_PREFIX) and decode_entry(v).kind == "loop"]
    return row


async def _sleep(env: TestEnvironment, h: Any, how: str) -> None:
    """Put the actor to sleep (its final save runs); with "restart", restart the process too."""
    actor_id = await h.resolve()
    actor = env.runtime._live[actor_id]
    await env.runtime.sleep_live(actor)
    assert actor_id not in env.runtime._live
    if how == "restart":
        await env.restart()


def _new_code_after_first(timeout: float | None = None) -> ScenarioFn:
    """The redeploy: a new step in every iteration but ``~0`` (as if ``~0`` had been pruned),
    so the divergence can only be found in the last finished iteration ``~1``."""

    async def code(self: Scenario, ctx: WorkflowContext) -> Any:
        async def body(loop: WorkflowContext, done: int) -> Loop[int]:
            message = await loop.queue.next("take", names=[self.jobs], timeout=timeout)
            assert message is not None
            await loop.step("apply", self.hit, "apply")
            if loop.path != "l/~0":
                await loop.step("audit", self.hit, "audit")
            return Loop.continue_(done + 1)

        return await ctx.loop("l", body, state=0)

    return code


async def _two_finished_iterations(env: TestEnvironment, name: str) -> Any:
    h = await start(env, name, "v")
    loop_row = await _loop_row(env, h)
    await h.send("jobs", Job(1))
    await settle(env, h)
    await h.send("jobs", Job(2))
    await settle(env, h)
    assert calls(name, "v", "apply") == 2
    # Awake, the loop entry is not rewritten per message (no checkpoint was due).
    assert await _loop_row(env, h) == loop_row
    return h


async def test_new_entry_in_last_finished_iteration_diverges_after_sleep(sleep_mode: str) -> None:
    name = f"lastiter_{sleep_mode}"
    async with TestEnvironment(registry, clock=MockClock()) as env:
        CODE[name] = _loop_code(None)
        h = await _two_finished_iterations(env, name)
        await _sleep(env, h, sleep_mode)
        before = await _rows(env, h)
        CODE[name] = _new_code_after_first()
        engine = await settle(env, h)  # wakes it: the replay runs the new code
        error = engine.error
        assert isinstance(error, HistoryDivergedError), error
        assert (error.path, error.expected) == ("l/~1/audit", "the end of finished scope 'l/~1'")
        assert error.found == "step 'l/~1/audit'"
        await h.send("jobs", Job(3))  # the diverged run takes nothing, runs nothing
        await settle(env, h)
        assert (calls(name, "v", "apply"), calls(name, "v", "audit")) == (2, 0)
        assert await _rows(env, h) == before
        assert _marker(await _loop_row(env, h)) == 2  # iteration 2 was in progress at sleep


async def test_gate_in_last_finished_iteration_answers_1_after_sleep(sleep_mode: str) -> None:
    name = f"lastiter_gated_{sleep_mode}"
    async with TestEnvironment(registry, clock=MockClock()) as env:
        CODE[name] = _loop_code(None)
        h = await _two_finished_iterations(env, name)
        await _sleep(env, h, sleep_mode)
        CODE[name] = _loop_code("gated")
        assert (await settle(env, h)).error is None
        assert calls(name, "v", "audit") == 0  # ~0 and ~1 stay on the old code
        await h.send("jobs", Job(-1))  # iteration 2 takes the new code
        assert await result(env, h) == ("completed", 3)
        assert calls(name, "v", "audit") == 1
        checks = {
            e["location"]: e["data"]["resolved"] for e in (await history(env, h))["entries"] if e["kind"] == "version_check"
        }
        assert checks == {"l/~2/add-audit": 2}


async def test_unchanged_code_replays_after_sleep_and_keeps_going(sleep_mode: str) -> None:
    name = f"lastiter_same_{sleep_mode}"
    async with TestEnvironment(registry, clock=MockClock()) as env:
        CODE[name] = _loop_code("step")
        h = await _two_finished_iterations(env, name)
        await _sleep(env, h, sleep_mode)
        assert (await settle(env, h)).error is None
        await h.send("jobs", Job(3))
        await settle(env, h)
        await _sleep(env, h, sleep_mode)  # sleeps again: the marker moves on
        assert _marker(await _loop_row(env, h)) == 3
        await h.send("jobs", Job(-1))
        assert await result(env, h) == ("completed", 4)
        assert (calls(name, "v", "apply"), calls(name, "v", "audit")) == (4, 4)


async def test_sleep_while_an_iteration_is_half_done_seals_only_the_finished_ones(sleep_mode: str) -> None:
    """Iteration 1 has taken its message and waits in a sleep: it is in progress, not sealed,
    so a step added after its wait runs there (as for any iteration a deploy interrupts)."""
    name = f"lastiter_half_{sleep_mode}"

    def code(extra: bool) -> ScenarioFn:
        async def run(self: Scenario, ctx: WorkflowContext) -> Any:
            async def body(loop: WorkflowContext, done: int) -> Loop[int]:
                await loop.queue.next("take", names=[self.jobs])
                await loop.sleep("nap", 10.0)
                if extra and loop.path != "l/~0":  # ~0 has finished: new code there diverges
                    await loop.step("audit", self.hit, "audit")
                return Loop.break_(done + 1) if done == 1 else Loop.continue_(done + 1)

            return await ctx.loop("l", body, state=0)

        return run

    async with TestEnvironment(registry, clock=MockClock()) as env:
        CODE[name] = code(False)
        h = await start(env, name, "v")
        await h.send("jobs", Job(1))
        await settle(env, h)
        await env.clock.advance(10.0)  # iteration 0 ends; iteration 1 waits for a message
        await settle(env, h)
        await h.send("jobs", Job(2))
        await settle(env, h)  # iteration 1 took it and naps
        await _sleep(env, h, sleep_mode)
        assert _marker(await _loop_row(env, h)) == 1
        CODE[name] = code(True)
        assert (await settle(env, h)).error is None
        await env.clock.advance(10.0)
        assert await result(env, h) == ("completed", 2)
        assert calls(name, "v", "audit") == 1  # in iteration 1 only
