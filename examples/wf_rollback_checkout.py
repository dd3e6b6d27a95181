"""Rollback: a checkpoint before steps that have compensating actions (checkout saga)."""

from __future__ import annotations

import msgspec

from rivet_dsl import Actor, WorkflowContext, action, queue, setup, workflow
from rivet_dsl import RollbackContext


class Checkout(msgspec.Struct):
    order_id: str
    fail_payment: bool = False


class CheckoutState(msgspec.Struct):
    last_order_id: str | None = None
    last_reservation_id: str | None = None
    last_charge_id: str | None = None
    released: list[str] = msgspec.field(default_factory=list)
    refunded: list[str] = msgspec.field(default_factory=list)


async def reserve_inventory(order_id: str) -> str:
    return f"reservation-{order_id}"


async def charge_card(order_id: str, fail: bool) -> str:
    if fail:
        raise RuntimeError(f"card declined for {order_id}")
    return f"charge-{order_id}"


class CheckoutActor(Actor[CheckoutState]):
    @queue
    def checkout(self, body: Checkout) -> None: ...

    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        async def each(loop: WorkflowContext) -> None:
            message = await loop.queue.next("wait-checkout", names=[self.checkout])
            order = message.body
            await loop.rollback_checkpoint("checkout-checkpoint")
            reservation_id = await loop.step(
                "reserve-inventory", reserve_inventory, order.order_id, rollback=self.release
            )
            charge_id = await loop.step(
                "charge-card", charge_card, order.order_id, order.fail_payment, max_retries=0, rollback=self.refund
            )
            await loop.step("mark-complete", self.complete, order.order_id, reservation_id, charge_id)

        await ctx.loop("checkout-loop", each)

    async def release(self, rctx: RollbackContext, reservation_id: str) -> None:
        self.state.released.append(reservation_id)

    async def refund(self, rctx: RollbackContext, charge_id: str) -> None:
        self.state.refunded.append(charge_id)

    def complete(self, order_id: str, reservation_id: str, charge_id: str) -> None:
        self.state.last_order_id = order_id
        self.state.last_reservation_id = reservation_id
        self.state.last_charge_id = charge_id

    @action
    def get_state(self) -> CheckoutState:
        return self.state


registry = setup(CheckoutActor)
