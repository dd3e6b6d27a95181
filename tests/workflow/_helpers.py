"""Shared helpers for workflow tests: wait for a workflow to block, optional restarts, and a
store whose process "dies" after a given number of transactions."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from rivet_dsl import StorageError
from rivet_dsl.runtime import Runtime
from rivet_dsl.runtime._instance import LiveActor
from rivet_dsl.storage import SqliteStorage, WriteBatch
from rivet_dsl.testing import TestEnvironment
from rivet_dsl.workflows import WorkflowEngine


class DiesAfter(SqliteStorage):
    """The real store, except that once :meth:`allow` is called, the process "dies" after that
    many more transactions: every later one fails without writing anything (``died`` is set)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.left: int | None = None
        self.died = threading.Event()

    def allow(self, transactions: int) -> None:
        self.left = transactions

    def _apply_sync(self, batch: WriteBatch, bulk: bool, checkpoint: bool = False) -> None:
        if self.left is not None:
            if self.left == 0:
                self.died.set()
                raise StorageError("the process died")
            self.left -= 1
        super()._apply_sync(batch, bulk, checkpoint)

    async def until_died(self) -> bool:
        """Wait (up to 10 s) for a transaction to fail; the commits run on another thread."""
        return await asyncio.get_running_loop().run_in_executor(None, self.died.wait, 10)


async def blocked(runtime: Runtime, actor_id: str) -> LiveActor:
    """Wake the actor and wait until its workflow waits (queue, timer) or has finished."""
    actor = await runtime.acquire(actor_id)
    while actor.workflow is None:
        await asyncio.sleep(0)  # the run task is spawned on wake; let it start
    await actor.workflow.until_blocked()
    return actor


async def engine_of(env: TestEnvironment, handle: Any) -> WorkflowEngine:
    actor_id = await handle.resolve()
    actor = await env.runtime.acquire(actor_id)
    for _ in range(100):
        if actor.workflow is not None:
            break
        await asyncio.sleep(0)  # the run task is spawned on wake; let it start
    engine = actor.workflow
    assert isinstance(engine, WorkflowEngine)
    return engine


async def settle(env: TestEnvironment, handle: Any) -> WorkflowEngine:
    """``env.settle(handle)``, then the workflow's engine (for assertions on its status)."""
    await env.settle(handle)
    return await engine_of(env, handle)


async def checkpoint(env: TestEnvironment, handle: Any, mode: str) -> WorkflowEngine:
    """Settle, then (in "restart" mode) crash and reload, and settle again after replay."""
    await settle(env, handle)
    if mode == "restart":
        await env.restart()
    return await settle(env, handle)
