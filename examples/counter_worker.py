"""A plain `run` loop that drains a durable queue (non-workflow; at-least-once with completable)."""

from __future__ import annotations

import msgspec

from rivet_dsl import Actor, action, queue, setup


class Mutate(msgspec.Struct):
    delta: int


class WorkerState(msgspec.Struct):
    value: int = 0


class CounterWorker(Actor[WorkerState]):
    @queue
    def mutate(self, body: Mutate) -> None: ...

    async def run(self) -> None:
        async for message in self.queue.iter(names=[self.mutate], completable=True):
            self.state.value += message.body.delta
            # Completing commits the removal together with the state change: a crash before
            # this line redelivers the message, after it never.
            await message.complete()

    @action
    def get_value(self) -> int:
        return self.state.value


registry = setup(CounterWorker)
