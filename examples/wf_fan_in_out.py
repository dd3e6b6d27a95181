"""Fan-out / fan-in: independent loads in parallel, merged into one result."""

from __future__ import annotations

import msgspec

from rivet_dsl import Actor, WorkflowContext, action, queue, setup, workflow


class Refresh(msgspec.Struct):
    pass


class FanState(msgspec.Struct):
    total: int = 0


async def load_users() -> int:
    return 12


async def load_orders() -> int:
    return 34


async def load_invoices() -> int:
    return 56


class FanInOut(Actor[FanState]):
    @queue
    def refresh(self, body: Refresh) -> None: ...

    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        async def each(loop: WorkflowContext) -> None:
            message = await loop.queue.next("wait-refresh", names=[self.refresh], timeout=30.0)
            if message is None:
                return

            async def users(branch: WorkflowContext) -> int:
                return await branch.step("load-users", load_users)

            async def orders(branch: WorkflowContext) -> int:
                return await branch.step("load-orders", load_orders)

            async def invoices(branch: WorkflowContext) -> int:
                return await branch.step("load-invoices", load_invoices)

            joined = await loop.join("parallel-work", {"users": users, "orders": orders, "invoices": invoices})
            await loop.step("merge-results", self.merge, joined["users"] + joined["orders"] + joined["invoices"])

        await ctx.loop("join-loop", each)

    def merge(self, total: int) -> None:
        self.state.total = total

    @action
    def get_state(self) -> FanState:
        return self.state


registry = setup(FanInOut)
