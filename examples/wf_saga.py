"""Cross-actor saga: each side effect lives in another actor and has a compensating action."""

from __future__ import annotations

import msgspec

from rivet_dsl import Actor, UserError, WorkflowContext, action, queue, setup, workflow
from rivet_dsl import RollbackContext


class Order(msgspec.Struct):
    order_id: str
    amount: int


class LedgerState(msgspec.Struct):
    active: list[str] = msgspec.field(default_factory=list)
    compensated: list[str] = msgspec.field(default_factory=list)


class Inventory(Actor[LedgerState]):
    @action
    def reserve(self, order_id: str) -> str:
        reservation = f"reserve-{order_id}"
        self.state.active.append(reservation)
        return reservation

    @action
    def release(self, reservation_id: str) -> str:
        self.state.compensated.append(reservation_id)
        return reservation_id

    @action
    def get_state(self) -> LedgerState:
        return self.state


class Billing(Actor[LedgerState]):
    @action
    def charge(self, amount: int) -> str:
        if amount < 0:
            raise UserError("invalid amount", code="invalid_amount")
        charge = f"charge-{amount}"
        self.state.active.append(charge)
        return charge

    @action
    def refund(self, charge_id: str) -> str:
        self.state.compensated.append(charge_id)
        return charge_id

    @action
    def get_state(self) -> LedgerState:
        return self.state


class SagaState(msgspec.Struct):
    completed_orders: int = 0


class CheckoutSaga(Actor[SagaState]):
    @queue
    def orders(self, body: Order) -> None: ...

    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        async def each(loop: WorkflowContext) -> None:
            message = await loop.queue.next("wait-order", names=[self.orders], timeout=30.0)
            if message is None:
                return
            order = message.body
            await loop.rollback_checkpoint("checkout-saga")
            await loop.step("reserve-inventory", self.reserve, order.order_id, rollback=self.release)
            await loop.step("charge-card", self.charge, order.amount, max_retries=0, rollback=self.refund)
            await loop.step("mark-complete", self.complete)

        await ctx.loop("checkout-loop", each)

    async def reserve(self, order_id: str) -> str:
        return str(await self.client().get_or_create("inventory", ["main"]).action("reserve", order_id))

    async def release(self, rctx: RollbackContext, reservation_id: str) -> None:
        await self.client().get_or_create("inventory", ["main"]).action("release", reservation_id)

    async def charge(self, amount: int) -> str:
        return str(await self.client().get_or_create("billing", ["main"]).action("charge", amount))

    async def refund(self, rctx: RollbackContext, charge_id: str) -> None:
        await self.client().get_or_create("billing", ["main"]).action("refund", charge_id)

    def complete(self) -> None:
        self.state.completed_orders += 1

    @action
    def get_state(self) -> SagaState:
        return self.state


registry = setup(CheckoutSaga, Inventory, Billing)
