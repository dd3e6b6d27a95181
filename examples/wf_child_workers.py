"""Child worker orchestration: one workflow starts child actors and fans batches out to them."""

from __future__ import annotations

import msgspec

from rivet_dsl import Actor, WorkflowContext, action, queue, setup, workflow

CHILDREN = ("child-a", "child-b", "child-c")


class Batch(msgspec.Struct):
    payload: int


class ChildWorker(Actor[None]):
    @action
    def process(self, payload: int) -> int:
        return payload * 3


class OrchestratorState(msgspec.Struct):
    last_total: int = 0


class Orchestrator(Actor[OrchestratorState]):
    @queue
    def batches(self, body: Batch) -> None: ...

    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        await ctx.step("start-children", self.start_children)

        async def each(loop: WorkflowContext) -> None:
            message = await loop.queue.next("wait-batch", names=[self.batches], timeout=30.0)
            if message is None:
                return
            payload = message.body.payload

            async def a(branch: WorkflowContext) -> int:
                return await branch.step("run-child-a", self.run_child, "child-a", payload)

            async def b(branch: WorkflowContext) -> int:
                return await branch.step("run-child-b", self.run_child, "child-b", payload)

            async def c(branch: WorkflowContext) -> int:
                return await branch.step("run-child-c", self.run_child, "child-c", payload)

            results = await loop.join("collect-updates", {"a": a, "b": b, "c": c})
            await loop.step("reconcile", self.reconcile, results["a"] + results["b"] + results["c"])

        await ctx.loop("orchestrate-loop", each)

    async def start_children(self) -> None:
        for child in CHILDREN:
            await self.client().get_or_create("child_worker", [child]).action("process", 0)

    async def run_child(self, child: str, payload: int) -> int:
        return int(await self.client().get_or_create("child_worker", [child]).action("process", payload))

    def reconcile(self, total: int) -> None:
        self.state.last_total = total

    @action
    def get_state(self) -> OrchestratorState:
        return self.state


registry = setup(Orchestrator, ChildWorker)
