"""recover() of a workflow whose failed (exhausted) step lies inside a branch of a join that
finished (the branch caught the error): the step gets a fresh attempt, so the join must run
again as an unfinished one (its branches' new results recorded). Left finished, the branch
replays sealed and the path the recovered step now takes is a new entry there, a
``HistoryDivergedError``."""

from __future__ import annotations

from typing import Any

from rivet_dsl import WorkflowContext
from rivet_dsl.testing import MockClock, TestEnvironment
from rivet_dsl.workflows import recover

from ._checkout import BROKEN, Checkout
from ._helpers import settle
from ._scenario import Scenario, calls, registry, result, scenario, start


@scenario
async def recover_in_join(self: Scenario, ctx: WorkflowContext) -> Any:
    checkout = Checkout(self)

    async def note(b: WorkflowContext) -> str:
        return await b.step("note", self.note, "noted")

    values = await ctx.join("j", {"pay": checkout.pay, "note": note})
    shipped = await ctx.step("ship", checkout.ship)
    return [values, shipped]


async def test_recover_reruns_a_failed_step_inside_a_finished_join(mode: str) -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        BROKEN[f"recover_in_join/{mode}"] = True
        h = await start(env, "recover_in_join", mode)
        assert (await result(env, h))[0] == "failed"
        if mode == "restart":
            await env.restart()
            await settle(env, h)
        BROKEN[f"recover_in_join/{mode}"] = False
        await recover(env.runtime, await h.resolve())
        engine = await settle(env, h)
        assert engine.error is None, engine.error
        assert await result(env, h) == ("completed", [{"pay": "charged", "note": "noted"}, "shipped"])
        assert [calls("recover_in_join", mode, s) for s in ("charge", "receipt", "ship")] == [2, 1, 2]
        # The join recorded its branches' new results: a later replay returns the same.
        await env.restart()
        await settle(env, h)
        assert await result(env, h) == ("completed", [{"pay": "charged", "note": "noted"}, "shipped"])
