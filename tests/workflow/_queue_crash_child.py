"""Child process for test_exactly_once_crash: queue hand-off across SIGKILL, on a SQLite file.

``python -m tests.workflow._queue_crash_child DB DIR stream RUN FINAL`` sends ``PER_RUN``
messages (values ``RUN * 1000 + j``) to a workflow that applies each in a step; a send is
written to ``acked.log`` once acknowledged (durable), an application to ``applied.log`` (an
external side effect: at-least-once) and to actor state (exactly-once). With ``FINAL`` = 1 it
waits until the queue is drained, then writes ``DIR/done``.

``python -m tests.workflow._queue_crash_child DB DIR hold`` sends one message to a plain ``run``
loop that receives it with ``completable=True`` and never completes it (the parent kills the
process); ``... DB DIR finish`` restarts, lets the loop complete what it gets, and writes
``queue N`` (messages left) to ``run.log`` and ``DIR/done-hold`` (the send, once
acknowledged, goes to ``sent.log``).
"""

from __future__ import annotations

import asyncio
import os
import sys

import msgspec

from rivet_dsl import Actor, Loop, WorkflowContext, action, queue, setup, workflow
from rivet_dsl.runtime import Runtime
from rivet_dsl.storage import SqliteStorage

PER_RUN = 120
HELD = 7
OUT = os.environ.get("CRASH_DIR", ".")
MODE = sys.argv[3] if len(sys.argv) > 3 else ""


def append(name: str, line: str) -> None:
    with open(os.path.join(OUT, name), "a") as f:
        f.write(line + "\n")
        f.flush()


class ConsumerState(msgspec.Struct):
    seen: list[int] = msgspec.field(default_factory=list)


class QueueConsumer(Actor[ConsumerState]):
    @queue
    def jobs(self, body: int) -> None: ...

    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        async def body(loop: WorkflowContext) -> Loop[None] | None:
            message = await loop.queue.next("next", names=[self.jobs])
            await loop.step("apply", self.apply, message.body)
            return None

        await ctx.loop("consume", body, history_prune_interval=5)

    async def apply(self, value: int) -> None:
        append("applied.log", str(value))
        await asyncio.sleep(0.002)  # slower than the sender: a backlog builds up; widens the crash window
        self.state.seen.append(value)

    @action
    def get_state(self) -> ConsumerState:
        return self.state


class HolderState(msgspec.Struct):
    runs: int = 0


COMPLETED = asyncio.Event()


class RunHolder(Actor[HolderState]):
    @queue
    def jobs(self, body: int) -> None: ...

    async def run(self) -> None:
        async for message in self.queue.iter(names=[self.jobs], completable=True):
            append("run.log", f"got {message.body}")
            if MODE == "hold":
                await asyncio.Event().wait()  # hold the message until the process is killed
            await message.complete()
            append("run.log", f"completed {message.body}")
            COMPLETED.set()


registry = setup(QueueConsumer, RunHolder)


async def stream(db: str, run: int, final: bool) -> None:
    runtime = Runtime(registry, storage=SqliteStorage(db))
    await runtime.start()
    info = await runtime.get_or_create("queue_consumer", ["one"])
    for j in range(PER_RUN):
        value = run * 1000 + j
        await runtime.send(info.actor_id, "jobs", value)
        append("acked.log", str(value))
    if final:
        while True:
            actor = await runtime.acquire(info.actor_id)
            engine = actor.workflow
            if engine is not None:
                await engine.until_blocked()
                if len(actor.queue) == 0:
                    break
            await asyncio.sleep(0.005)
        await runtime.stop()
        append("done", "done")
    else:
        await asyncio.Event().wait()  # the parent kills this process


async def hold(db: str, finish: bool) -> None:
    runtime = Runtime(registry, storage=SqliteStorage(db))
    await runtime.start()
    info = await runtime.get_or_create("run_holder", ["one"])
    if not finish:
        await runtime.send(info.actor_id, "jobs", HELD)
        append("sent.log", str(HELD))
        await asyncio.Event().wait()  # the parent kills this process
    await runtime.acquire(info.actor_id)  # wakes the actor: its run loop starts
    await COMPLETED.wait()
    actor = await runtime.acquire(info.actor_id)
    await actor.commit()
    append("run.log", f"queue {len(actor.queue)}")
    await runtime.stop()
    append("done-hold", "done")


if __name__ == "__main__":
    if MODE == "stream":
        asyncio.run(stream(sys.argv[1], int(sys.argv[4]), sys.argv[5] == "1"))
    else:
        asyncio.run(hold(sys.argv[1], MODE == "finish"))
