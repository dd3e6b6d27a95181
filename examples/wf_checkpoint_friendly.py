"""Checkpoint-friendly loop design: plan in one step, apply in another, resume cleanly."""

from __future__ import annotations

import msgspec

from rivet_dsl import Actor, WorkflowContext, action, queue, setup, workflow


class Payment(msgspec.Struct):
    id: str
    amount: int


class Plan(msgspec.Struct):
    payment_id: str
    amount: int


class PaymentState(msgspec.Struct):
    applied_count: int = 0
    total_amount: int = 0
    last_payment_id: str | None = None


def build_plan(payment: Payment) -> Plan:
    return Plan(payment.id, payment.amount)


class CheckpointFriendly(Actor[PaymentState]):
    @queue
    def payments(self, body: Payment) -> None: ...

    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        async def each(loop: WorkflowContext) -> None:
            message = await loop.queue.next("wait-payment", names=[self.payments], timeout=30.0)
            if message is None:
                return
            await loop.rollback_checkpoint("apply-payment-checkpoint")
            plan = await loop.step("build-plan", build_plan, message.body)
            await loop.step("apply-side-effects", self.apply, plan)

        await ctx.loop("payment-loop", each)

    def apply(self, plan: Plan) -> None:
        self.state.applied_count += 1
        self.state.total_amount += plan.amount
        self.state.last_payment_id = plan.payment_id

    @action
    def get_state(self) -> PaymentState:
        return self.state


registry = setup(CheckpointFriendly)
