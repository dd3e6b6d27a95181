"""Join: fetch several independent numbers in parallel, then save the summary."""

from __future__ import annotations

import msgspec

from rivet_dsl import Actor, WorkflowContext, action, queue, setup, workflow


class Refresh(msgspec.Struct):
    pass


class Summary(msgspec.Struct):
    users: int
    orders: int
    revenue: int


class DashboardState(msgspec.Struct):
    summary: Summary | None = None


async def fetch_users() -> int:
    return 42


async def fetch_orders() -> int:
    return 12


async def fetch_revenue() -> int:
    return 9_900


class Dashboard(Actor[DashboardState]):
    @queue
    def refresh(self, body: Refresh) -> None: ...

    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        async def each(loop: WorkflowContext) -> None:
            await loop.queue.next("wait-refresh", names=[self.refresh])

            async def users(branch: WorkflowContext) -> int:
                return await branch.step("fetch-users", fetch_users)

            async def orders(branch: WorkflowContext) -> int:
                return await branch.step("fetch-orders", fetch_orders)

            async def revenue(branch: WorkflowContext) -> int:
                return await branch.step("fetch-revenue", fetch_revenue)

            summary = await loop.join("fetch-summary", {"users": users, "orders": orders, "revenue": revenue})
            await loop.step("save-summary", self.save, Summary(**summary))

        await ctx.loop("dashboard-loop", each)

    def save(self, summary: Summary) -> None:
        self.state.summary = summary

    @action
    def get_state(self) -> DashboardState:
        return self.state


registry = setup(Dashboard)
