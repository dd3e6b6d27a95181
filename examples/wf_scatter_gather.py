"""Scatter-gather across actors: shards compute in parallel; the workflow merges the answers."""

from __future__ import annotations

import msgspec

from rivet_dsl import Actor, WorkflowContext, action, queue, setup, workflow


class Scatter(msgspec.Struct):
    input: int


class Shard(Actor[None]):
    @action
    async def compute(self, input: int) -> int:
        return input * 10


class ScatterState(msgspec.Struct):
    last_sum: int = 0


class ScatterGather(Actor[ScatterState]):
    @queue
    def scatter(self, body: Scatter) -> None: ...

    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        async def each(loop: WorkflowContext) -> None:
            message = await loop.queue.next("wait-scatter", names=[self.scatter], timeout=30.0)
            if message is None:
                return
            value = message.body.input

            async def shard_a(branch: WorkflowContext) -> int:
                return await branch.step("call-shard-a", self.call_shard, "a", value)

            async def shard_b(branch: WorkflowContext) -> int:
                return await branch.step("call-shard-b", self.call_shard, "b", value)

            async def shard_c(branch: WorkflowContext) -> int:
                return await branch.step("call-shard-c", self.call_shard, "c", value)

            gathered = await loop.join("gather", {"shard_a": shard_a, "shard_b": shard_b, "shard_c": shard_c})
            await loop.step("aggregate", self.aggregate, sum(gathered.values()))

        await ctx.loop("scatter-gather-loop", each)

    async def call_shard(self, shard: str, value: int) -> int:
        return int(await self.client().get_or_create("shard", [shard]).action("compute", value))

    def aggregate(self, total: int) -> None:
        self.state.last_sum = total

    @action
    def get_state(self) -> ScatterState:
        return self.state


registry = setup(ScatterGather, Shard)
