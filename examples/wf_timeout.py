"""Timeouts: step timeouts and retries for a slow or flaky dependency."""

from __future__ import annotations

import msgspec

from rivet_dsl import Actor, WorkflowContext, action, queue, setup, workflow


class Charge(msgspec.Struct):
    order_id: str


class TimeoutState(msgspec.Struct):
    last_charge_id: str | None = None


async def charge_card(order_id: str) -> str:
    return f"charge-{order_id}"


class WorkflowTimeout(Actor[TimeoutState]):
    @queue
    def charge(self, body: Charge) -> None: ...

    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        async def each(loop: WorkflowContext) -> None:
            message = await loop.queue.next("wait-charge", names=[self.charge])
            charge_id = await loop.step(
                "charge-card",
                charge_card,
                message.body.order_id,
                timeout=5.0,
                max_retries=5,
                retry_backoff_base=0.2,
                retry_backoff_max=2.0,
            )
            await loop.step("save-charge", self.save, charge_id)

        await ctx.loop("charge-loop", each)

    def save(self, charge_id: str) -> None:
        self.state.last_charge_id = charge_id

    @action
    def get_state(self) -> TimeoutState:
        return self.state


registry = setup(WorkflowTimeout)
