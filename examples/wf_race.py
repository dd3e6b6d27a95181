"""Race: first winner between some work and a timeout; the loser is cancelled."""

from __future__ import annotations

import msgspec

from rivet_dsl import Actor, WorkflowContext, action, queue, setup, workflow


class Start(msgspec.Struct):
    pass


class RaceState(msgspec.Struct):
    last_winner: str | None = None
    last_value: str | None = None


def finish_work() -> str:
    return "work-complete"


class WorkflowRace(Actor[RaceState]):
    @queue
    def start(self, body: Start) -> None: ...

    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        async def each(loop: WorkflowContext) -> None:
            await loop.queue.next("wait-start", names=[self.start])

            async def work(branch: WorkflowContext) -> str:
                await branch.sleep("work-delay", 0.075)
                return await branch.step("finish-work", finish_work)

            async def timeout(branch: WorkflowContext) -> str:
                await branch.sleep("timeout-delay", 0.5)
                return "timed-out"

            result = await loop.race("work-vs-timeout", {"work": work, "timeout": timeout})
            await loop.step("record-result", self.record, result.winner, result.value)

        await ctx.loop("race-loop", each)

    def record(self, winner: str, value: str) -> None:
        self.state.last_winner = winner
        self.state.last_value = value

    @action
    def get_state(self) -> RaceState:
        return self.state


registry = setup(WorkflowRace)
