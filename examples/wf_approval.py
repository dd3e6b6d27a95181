"""Human approval gate: pause until a user or system decision arrives."""

from __future__ import annotations

from typing import Literal

import msgspec

from rivet_dsl import Actor, WorkflowContext, action, queue, setup, workflow


class Approval(msgspec.Struct):
    request_id: str
    approved: bool


class ApprovalState(msgspec.Struct):
    pending_request_id: str | None = None
    last_decision: Literal["approved", "rejected"] | None = None


class ApprovalGate(Actor[ApprovalState]):
    @queue
    def approvals(self, body: Approval) -> None: ...

    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        await ctx.step("request-approval", self.request)

        async def each(loop: WorkflowContext) -> None:
            message = await loop.queue.next("wait-approval", names=[self.approvals], timeout=30.0)
            if message is None:
                return
            await loop.step("apply-decision", self.decide, message.body)

        await ctx.loop("approval-loop", each)

    def request(self) -> None:
        self.state.pending_request_id = "req-1"
        self.state.last_decision = None

    def decide(self, approval: Approval) -> None:
        self.state.pending_request_id = approval.request_id
        self.state.last_decision = "approved" if approval.approved else "rejected"

    @action
    def get_state(self) -> ApprovalState:
        return self.state


registry = setup(ApprovalGate)
