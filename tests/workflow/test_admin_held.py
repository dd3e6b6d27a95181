"""recover and replay_from_step hold the actor awake while they rewrite its history.

Before, neither counted as a call in flight: the idle sweep could put the actor to sleep
while they awaited storage, and the workflow was then restarted on the stopped incarnation.
Its rerun step wrote history whose state change never landed, and the run hung there.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import msgspec
import pytest

from rivet_dsl import Actor, WorkflowContext, WorkflowError, action, queue, setup, workflow
from rivet_dsl.runtime import Runtime
from rivet_dsl.storage import SqliteStorage
from rivet_dsl.testing import MockClock
from rivet_dsl.workflows import replay_from_step

from ._helpers import blocked


class Job(msgspec.Struct):
    value: int = 0


class Log(msgspec.Struct):
    log: list[str] = msgspec.field(default_factory=list)


class Rerun(Actor[Log], sleep_timeout=10.0):
    @queue
    def jobs(self, body: Job) -> None: ...

    def note(self, text: str) -> str:
        self.state.log.append(text)
        return text

    @workflow
    async def run(self, ctx: WorkflowContext) -> Any:
        await ctx.step("a", self.note, "a")
        first = await ctx.queue.next("m", names=[self.jobs])
        await ctx.step("b", self.note, f"b{first.body.value}")
        last = await ctx.queue.next("m2", names=[self.jobs])
        return last.body.value

    @action(name="log")  # (a method named log would shadow Actor.log, the actor's logger)
    def read_log(self) -> list[str]:
        return self.state.log


registry = setup(Rerun)


class PausedHistoryRead(SqliteStorage):
    """The real store; once armed, the next read of workflow history waits for ``release``."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.armed = False
        self.reading = asyncio.Event()
        self.release = asyncio.Event()

    async def load_kv(self, actor_id: str, prefix: bytes = b"") -> Any:
        if self.armed and prefix == b"wf/":
            self.armed = False
            self.reading.set()
            await self.release.wait()
        return await super().load_kv(actor_id, prefix)


async def test_replay_holds_the_actor_awake_while_the_idle_sweep_runs(tmp_path: Path) -> None:
    clock = MockClock()
    storage = PausedHistoryRead(tmp_path / "held.db")
    runtime = Runtime(registry, storage=storage, clock=clock)
    await runtime.start()
    try:
        actor_id = (await runtime.get_or_create("rerun", ["x"])).actor_id
        await blocked(runtime, actor_id)
        await runtime.send(actor_id, "jobs", {"value": 1})
        actor = await blocked(runtime, actor_id)
        assert actor.get_state().log == ["a", "b1"]
        storage.armed = True
        replay = asyncio.ensure_future(replay_from_step(runtime, actor_id, "b"))
        await storage.reading.wait()
        await clock.advance(30.0)  # past sleep_timeout: the idle sweep runs now
        assert runtime._live.get(actor_id) is actor  # (it slept here before)
        storage.release.set()
        await replay
        actor = await blocked(runtime, actor_id)
        assert actor.get_state().log == ["a", "b1", "b1"]
    finally:
        await runtime.stop()
    # The rerun's state change is durable, with its history.
    runtime = Runtime(registry, storage=SqliteStorage(tmp_path / "held.db"), clock=clock)
    await runtime.start()
    try:
        actor = await blocked(runtime, actor_id)
        assert actor.get_state().log == ["a", "b1", "b1"]
    finally:
        await runtime.stop()


async def test_replay_from_an_unknown_step_is_not_found(tmp_path: Path) -> None:
    runtime = Runtime(registry, storage=SqliteStorage(tmp_path / "unknown.db"))
    await runtime.start()
    try:
        actor_id = (await runtime.get_or_create("rerun", ["u"])).actor_id
        await blocked(runtime, actor_id)
        with pytest.raises(WorkflowError) as info:
            await replay_from_step(runtime, actor_id, "nope")
        assert (info.value.code, info.value.status) == ("step_not_found", 404)
    finally:
        await runtime.stop()
