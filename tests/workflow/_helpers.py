"""Shared helpers for workflow tests: wait for a workflow to block, optional restarts."""

from __future__ import annotations

import asyncio
from typing import Any

from rivet_dsl.testing import TestEnvironment
from rivet_dsl.workflows import WorkflowEngine


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
    """Wait until the handle's workflow is blocked (queue, timer) or finished; commit pending writes."""
    engine = await engine_of(env, handle)
    await engine.until_blocked()
    return engine


async def checkpoint(env: TestEnvironment, handle: Any, mode: str) -> WorkflowEngine:
    """Settle, then (in "restart" mode) crash and reload, and settle again after replay."""
    await settle(env, handle)
    if mode == "restart":
        await env.restart()
    return await settle(env, handle)
