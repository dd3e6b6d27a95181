"""Coordinator -> worker RPC: a workflow dispatches tasks to worker actors' actions."""

from __future__ import annotations

import msgspec

from rivet_dsl import Actor, WorkflowContext, action, queue, setup, workflow


class Task(msgspec.Struct):
    task_id: str
    worker_id: str
    value: int


class Worker(Actor[None]):
    @action
    async def run_task(self, value: int) -> int:
        return value * 2


class CoordinatorState(msgspec.Struct):
    last_task_id: str | None = None
    last_result: int = 0


class WorkflowCoordinator(Actor[CoordinatorState]):
    @queue
    def tasks(self, body: Task) -> None: ...

    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        async def each(loop: WorkflowContext) -> None:
            message = await loop.queue.next("wait-task", names=[self.tasks], timeout=30.0)
            if message is None:
                return
            task = message.body
            result = await loop.step("dispatch-rpc", self.dispatch, task.worker_id, task.value)
            await loop.step("record-result", self.record, task.task_id, result)

        await ctx.loop("orchestrator-loop", each)

    async def dispatch(self, worker_id: str, value: int) -> int:
        worker = self.client().get_or_create("worker", [worker_id])
        return int(await worker.action("run_task", value))

    def record(self, task_id: str, result: int) -> None:
        self.state.last_task_id = task_id
        self.state.last_result = result

    @action
    def get_state(self) -> CoordinatorState:
        return self.state


registry = setup(WorkflowCoordinator, Worker)
