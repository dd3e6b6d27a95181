"""Inspector recover of a failed workflow right after the actor wakes.

The route wakes the actor and checks at once whether its workflow can be recovered. Until the
woken engine has loaded its history it cannot tell a failed workflow from one that waits: the
check answered 409 ``workflow/not_failed`` ("Workflow is waiting") for a workflow that had
failed. It now waits for the history, then recovers.
"""

from __future__ import annotations

import asyncio

import httpx
import msgspec

from rivet_dsl import Actor, WorkflowContext, queue, setup, workflow
from rivet_dsl.server import create_app
from rivet_dsl.testing import MockClock, TestEnvironment

from ..workflow._helpers import blocked

#: Whether the charge step fails (the recovered run succeeds).
DECLINE = [True]
CHARGES: list[str] = []


class Job(msgspec.Struct):
    n: int


def _charge() -> str:
    CHARGES.append("declined" if DECLINE[0] else "charged")
    if DECLINE[0]:
        raise RuntimeError("card declined")
    return "charged"


class Checkout(Actor[None], sleep_timeout=60.0):
    @queue
    def jobs(self, body: Job) -> None: ...

    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        await ctx.step("charge", _charge, max_retries=0)
        await ctx.queue.next("park", names=[self.jobs])


registry = setup(Checkout)


async def test_recover_of_a_failed_workflow_on_a_just_woken_actor() -> None:
    DECLINE[0] = True
    CHARGES.clear()
    # TestEnvironment runs on a SQLite file: the woken engine's history load really waits.
    async with TestEnvironment(registry, clock=MockClock()) as env:
        actor_id = (await env.runtime.get_or_create("checkout", ["wake"])).actor_id
        actor = await blocked(env.runtime, actor_id)
        assert actor.workflow is not None and actor.workflow.status == "failed"
        await env.runtime.sleep_live(actor)
        DECLINE[0] = False
        app = create_app(env.runtime)
        woken = await env.runtime.acquire(actor_id)
        while woken.workflow is None:
            await asyncio.sleep(0)  # let the run task start: it is now loading the history
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
            response = await http.post(f"/gateway/{actor_id}/inspector/workflow/recover")
        assert response.status_code == 200, response.text
        await blocked(env.runtime, actor_id)
        assert CHARGES == ["declined", "charged"]
