"""Request/response over a queue: the sender waits for the workflow to complete its message."""

from __future__ import annotations

import msgspec

from rivet_dsl import Actor, WorkflowContext, action, queue, setup, workflow


class Request(msgspec.Struct):
    value: int


class Doubled(msgspec.Struct):
    doubled: int


class RequestResponseState(msgspec.Struct):
    handled: int = 0


class RequestResponse(Actor[RequestResponseState]):
    @queue
    def requests(self, body: Request) -> Doubled: ...

    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        async def each(loop: WorkflowContext) -> None:
            message = await loop.queue.next("wait-request", names=[self.requests], completable=True)
            doubled = await loop.step("handle-request", self.handle, message.body.value)
            await message.complete(Doubled(doubled=doubled))

        await ctx.loop("request-loop", each)

    def handle(self, value: int) -> int:
        self.state.handled += 1
        return value * 2

    @action
    def get_state(self) -> RequestResponseState:
        return self.state


registry = setup(RequestResponse)
