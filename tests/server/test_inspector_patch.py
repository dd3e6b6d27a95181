"""PATCH /inspector/state while a workflow step runs: acknowledged means durable.

Before, the patch was committed without the state (a running step's writes commit when it
ends) and answered {ok: true} at once; a crash before the step ended lost it, and a cancelled
step would have reverted it. Now the patch waits for the step to end, then commits.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import msgspec
import uvicorn

from rivet_dsl import Actor, WorkflowContext, action, setup, workflow
from rivet_dsl.runtime import Runtime
from rivet_dsl.server import create_app, uvicorn_config
from rivet_dsl.storage import SqliteStorage

from ._harness import free_port

STEP_STARTED = asyncio.Event()
STEP_GATE = asyncio.Event()


class Value(msgspec.Struct):
    value: int = 0
    stepped: int = 0


class Stepping(Actor[Value]):
    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        await ctx.step("long", self.long)

    async def long(self) -> None:
        STEP_STARTED.set()
        await STEP_GATE.wait()
        self.state.stepped += 1

    @action
    def read(self) -> list[int]:
        return [self.state.value, self.state.stepped]


registry = setup(Stepping)


async def test_a_patch_during_a_running_step_is_durable_when_acknowledged(tmp_path: Path) -> None:
    STEP_STARTED.clear()
    STEP_GATE.clear()
    db = tmp_path / "patch.db"
    runtime = Runtime(registry, storage=SqliteStorage(db))
    server = uvicorn.Server(uvicorn_config(create_app(runtime), host="127.0.0.1", port=free_port()))
    serving = asyncio.ensure_future(server.serve())
    try:
        while not server.started:  # (uvicorn has no readiness callback)
            await asyncio.sleep(0.01)
        actor_id = (await runtime.get_or_create("stepping", ["p"])).actor_id
        await STEP_STARTED.wait()
        actor = await runtime.acquire(actor_id)
        port = server.config.port
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            patch = asyncio.ensure_future(
                http.patch(f"/gateway/{actor_id}/inspector/state", json={"state": {"value": 50, "stepped": 0}})
            )
            # Until the patch is answered, or waits for the step (it cannot be durable before).
            while not patch.done() and actor._steps_idle is None:
                await asyncio.sleep(0)
            if not patch.done():
                STEP_GATE.set()
            response = await patch
            assert response.json() == {"ok": True}
        await runtime.crash()  # right after the acknowledgement, step finished or not
    finally:
        STEP_GATE.set()
        server.should_exit = True
        await serving
    runtime = Runtime(registry, storage=SqliteStorage(db))
    await runtime.start()
    try:
        assert (await runtime.call(actor_id, "read", []))[0] == 50
    finally:
        await runtime.stop()
