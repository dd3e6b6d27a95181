"""recover() of a workflow whose failed step lies inside the winner branch of a race that
finished (the winner caught the error): the step gets a fresh attempt, so the winner must replay
unsealed (the race keeps its winner, its losers do not run again) and the race records the
winner's new value. Left finished, the winner replays sealed and the path the recovered step now
takes is a new entry there, a ``HistoryDivergedError``."""

from __future__ import annotations

from typing import Any

from rivet_dsl import CriticalError, RaceError, WorkflowContext
from rivet_dsl.testing import MockClock, TestEnvironment
from rivet_dsl.workflows import recover

from ._checkout import BROKEN, Checkout
from ._helpers import settle
from ._scenario import Scenario, calls, history, registry, result, scenario, start


@scenario
async def recover_in_race(self: Scenario, ctx: WorkflowContext) -> Any:
    checkout = Checkout(self)

    async def slow(b: WorkflowContext) -> str:
        await b.sleep("nap", 3600.0)  # never wakes: the test clock does not move
        self.hit("slow")
        return "slow"

    won = await ctx.race("r", {"pay": checkout.pay, "slow": slow})
    shipped = await ctx.step("ship", checkout.ship)
    return [won.winner, won.value, shipped]


def _race_record(data: dict[str, Any]) -> dict[str, Any]:
    (race,) = [e for e in data["entries"] if e["kind"] == "race"]
    return race


async def test_recover_reruns_a_failed_step_inside_a_finished_race_winner(mode: str) -> None:
    name = "recover_in_race"
    async with TestEnvironment(registry, clock=MockClock()) as env:
        BROKEN[f"{name}/{mode}"] = True
        h = await start(env, name, mode)
        assert (await result(env, h))[0] == "failed"
        assert _race_record(await history(env, h))["data"]["branches"]["pay"]["output"] == "declined"
        if mode == "restart":
            await env.restart()
            await settle(env, h)
        BROKEN[f"{name}/{mode}"] = False
        await recover(env.runtime, await h.resolve())
        engine = await settle(env, h)
        assert engine.error is None, engine.error
        assert await result(env, h) == ("completed", ["pay", "charged", "shipped"])
        assert [calls(name, mode, s) for s in ("charge", "receipt", "ship", "slow")] == [2, 1, 2, 0]
        race = _race_record(await history(env, h))
        assert race["data"]["winner"] == "pay"
        assert race["data"]["branches"]["pay"]["output"] == "charged"  # the winner's new value
        assert race["data"]["branches"]["slow"]["status"] == "cancelled"
        assert engine.status == "completed"
        # The race recorded its winner's new entries and value: a later replay returns the same
        # and runs nothing again.
        await env.restart()
        engine = await settle(env, h)
        assert engine.error is None, engine.error
        assert await result(env, h) == ("completed", ["pay", "charged", "shipped"])
        assert [calls(name, mode, s) for s in ("charge", "receipt", "ship", "slow")] == [2, 1, 2, 0]


async def test_recover_in_a_race_winner_that_fails_again_keeps_the_winner(mode: str) -> None:
    """The recovered step fails again (its branch catches it again): the race still keeps its
    winner, nothing diverges, and the workflow fails at the step after the race again."""
    name = "recover_in_race"
    tag = f"{name}/again-{mode}"
    async with TestEnvironment(registry, clock=MockClock()) as env:
        BROKEN[tag] = True
        h = env.client.get_or_create("scenario", [name, f"again-{mode}"])
        await h.resolve()
        assert (await result(env, h))[0] == "failed"
        if mode == "restart":
            await env.restart()
            await settle(env, h)
        await recover(env.runtime, await h.resolve())
        engine = await settle(env, h)
        assert (await result(env, h))[0] == "failed"
        assert "no stock" in str(engine.error)
        assert [calls(name, f"again-{mode}", s) for s in ("charge", "receipt", "ship", "slow")] == [2, 0, 2, 0]
        race = _race_record(await history(env, h))
        assert (race["data"]["winner"], race["data"]["branches"]["pay"]["output"]) == ("pay", "declined")


RECEIPT_FAILS: dict[str, bool] = {}


@scenario
async def recover_race_raises(self: Scenario, ctx: WorkflowContext) -> Any:
    tag = self.tag
    checkout = Checkout(self)

    def receipt() -> str:
        self.hit("receipt")
        if RECEIPT_FAILS[tag]:
            raise CriticalError("printer jam")
        return "printed"

    async def pay(b: WorkflowContext) -> str:
        try:
            await b.step("charge", checkout.charge)
        except CriticalError:
            return "declined"
        return await b.step("receipt", receipt)  # not caught: the branch raises

    async def slow(b: WorkflowContext) -> str:
        await b.sleep("nap", 3600.0)
        return "slow"

    won = await ctx.race("r", {"pay": pay, "slow": slow})
    shipped = await ctx.step("ship", checkout.ship)
    return [won.winner, won.value, shipped]


async def test_recovered_race_winner_that_now_raises_fails_the_race_and_recovers_again(mode: str) -> None:
    """The rerun winner raises (a new step in it fails): the race fails with a ``RaceError``
    naming the winner, records that, and keeps its winner; a second recover runs it again."""
    name = "recover_race_raises"
    tag = f"{name}/{mode}"
    async with TestEnvironment(registry, clock=MockClock()) as env:
        BROKEN[tag], RECEIPT_FAILS[tag] = True, True
        h = await start(env, name, mode)
        assert (await result(env, h))[0] == "failed"
        BROKEN[tag] = False
        await recover(env.runtime, await h.resolve())
        engine = await settle(env, h)
        assert isinstance(engine.error, RaceError), engine.error
        assert list(engine.error.errors) == ["pay"]
        assert "printer jam" in str(engine.error.errors["pay"])
        race = _race_record(await history(env, h))
        assert (race["data"]["winner"], race["data"]["branches"]["pay"]["status"]) == ("pay", "failed")
        assert [calls(name, mode, s) for s in ("charge", "receipt", "ship")] == [2, 1, 1]
        if mode == "restart":
            await env.restart()
            await settle(env, h)
            assert (await result(env, h))[0] == "failed"
        RECEIPT_FAILS[tag] = False
        await recover(env.runtime, await h.resolve())
        engine = await settle(env, h)
        assert engine.error is None, engine.error
        assert await result(env, h) == ("completed", ["pay", "printed", "shipped"])
        assert [calls(name, mode, s) for s in ("charge", "receipt", "ship")] == [2, 2, 2]
        race = _race_record(await history(env, h))
        assert (race["data"]["winner"], race["data"]["branches"]["pay"]["output"]) == ("pay", "printed")
