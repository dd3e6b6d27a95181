"""Child process for the SIGKILL crash test: runs workflow actors on a SQLite file.

``python -m tests.workflow.crash_worker DB DIR`` starts the runtime, wakes both actors and runs
until both workflows have settled (then writes ``DIR/done``). Every step appends a line to an
append-only file (an external side effect: at-least-once) and records the same fact in actor
state (exactly-once).
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

import msgspec

from rivet_dsl import Actor, Loop, WorkflowContext, action, setup, workflow
from rivet_dsl.runtime import Runtime
from rivet_dsl.storage import SqliteStorage
from rivet_dsl.workflows import RollbackContext

ITERATIONS = 150
SAGA_STEPS = 12
OUT = os.environ.get("CRASH_DIR", ".")


def append(name: str, line: str) -> None:
    with open(os.path.join(OUT, name), "a") as f:
        f.write(line + "\n")
        f.flush()


class LoopState(msgspec.Struct):
    seen: list[int] = msgspec.field(default_factory=list)
    total: int = 0


class CrashLoop(Actor[LoopState]):
    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        async def body(loop: WorkflowContext, i: int) -> Loop[int]:
            await loop.step("record", self.record, i)
            if i % 10 == 9:
                await loop.sleep("pause", 0.01)
            if i + 1 == ITERATIONS:
                return Loop.break_(i)
            return Loop.continue_(i + 1)

        await ctx.loop("main", body, state=0, history_prune_interval=5)
        await ctx.step("finish", append, "loop.log", "finished")

    async def record(self, i: int) -> None:
        append("loop.log", str(i))
        await asyncio.sleep(0.001)  # widen the window between the side effect and the commit
        self.state.seen.append(i)
        self.state.total += i

    @action
    def get_state(self) -> LoopState:
        return self.state


class SagaState(msgspec.Struct):
    done: list[int] = msgspec.field(default_factory=list)
    undone: list[int] = msgspec.field(default_factory=list)


class CrashSaga(Actor[SagaState]):
    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        await ctx.rollback_checkpoint("start")
        for i in range(SAGA_STEPS):
            await ctx.step(f"do-{i}", self.do, i, rollback=self.undo)

        def fail() -> None:
            raise RuntimeError("saga failed")

        await ctx.step("fail", fail, max_retries=0)

    async def do(self, i: int) -> int:
        append("saga.log", f"do {i}")
        await asyncio.sleep(0.002)
        self.state.done.append(i)
        return i

    async def undo(self, rctx: RollbackContext, i: int) -> None:
        append("saga.log", f"undo {i}")
        await asyncio.sleep(0.01)
        self.state.undone.append(i)

    @action
    def get_state(self) -> SagaState:
        return self.state


registry = setup(CrashLoop, CrashSaga)


async def main(db: str) -> None:
    runtime = Runtime(registry, storage=SqliteStorage(db))
    await runtime.start()
    append("starts.log", "start")
    # The loop first; the saga (and its rollbacks) only once the loop has finished.
    for name in ("crash_loop", "crash_saga"):
        info = await runtime.get_or_create(name, ["one"])
        while True:
            actor = await runtime.acquire(info.actor_id)
            engine = actor.workflow
            if engine is not None and engine.done:
                break
            await asyncio.sleep(0.005)
    await runtime.stop()
    append("done", "done")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))


__all__ = ["Any"]
