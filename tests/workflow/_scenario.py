"""One configurable workflow actor for engine tests.

``Scenario`` actors are keyed ``[scenario, mode]``; their workflow runs ``CODE[scenario]``, so a
test can "redeploy" by assigning a new function and restarting. Side effects inside steps are
counted in ``CALLS`` (process memory survives ``env.restart()``), so tests can prove that a
completed step never runs twice.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from rivet_dsl import Actor, WorkflowContext, action, event, queue, setup, workflow
from rivet_dsl.testing import TestEnvironment
from rivet_dsl.workflows import workflow_history

from ._helpers import engine_of, settle

ScenarioFn = Callable[["Scenario", WorkflowContext], Awaitable[Any]]

CODE: dict[str, ScenarioFn] = {}
CALLS: collections.Counter[str] = collections.Counter()
EVENTS: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)


def scenario(fn: ScenarioFn) -> ScenarioFn:
    CODE[fn.__name__] = fn
    return fn


class Job(msgspec.Struct):
    value: int = 0
    label: str = ""


class Reply(msgspec.Struct):
    echo: int


class ScenarioState(msgspec.Struct):
    log: list[str] = msgspec.field(default_factory=list)
    total: int = 0
    errors: int = 0


class Scenario(Actor[ScenarioState]):
    @queue
    def jobs(self, body: Job) -> None: ...

    @queue
    def other(self, body: Job) -> None: ...

    @queue
    def requests(self, body: Job) -> Reply: ...

    @event
    def failed(self, step: str) -> None: ...

    @workflow
    async def run(self, ctx: WorkflowContext) -> Any:
        return await CODE[self.key[0]](self, ctx)

    @property
    def tag(self) -> str:
        return "/".join(self.key)

    def hit(self, label: str) -> int:
        CALLS[f"{self.tag}:{label}"] += 1
        return CALLS[f"{self.tag}:{label}"]

    def note(self, item: str) -> str:
        self.state.log.append(item)
        return item

    def add(self, value: int) -> int:
        self.state.total += value
        return self.state.total

    def on_error(self, event: dict[str, Any]) -> None:
        EVENTS[self.tag].append(event)
        self.state.errors += 1

    @action
    def get_state(self) -> ScenarioState:
        return self.state

    @action
    async def push(self, value: int) -> None:
        await self.jobs.send(Job(value))


registry = setup(Scenario)


def calls(name: str, mode: str, label: str) -> int:
    return CALLS[f"{name}/{mode}:{label}"]


def events(name: str, mode: str) -> list[dict[str, Any]]:
    return EVENTS[f"{name}/{mode}"]


async def start(env: TestEnvironment, name: str, mode: str, *, wait: bool = True) -> Any:
    """Create the scenario actor; with ``wait``, return once its workflow blocks or finishes."""
    handle = env.client.get_or_create("scenario", [name, mode])
    await handle.resolve()
    if wait:
        await settle(env, handle)
    return handle


async def until_called(name: str, mode: str, label: str, count: int = 1) -> None:
    """Yield to the event loop until a step body has run ``count`` times (no real sleeping)."""
    for _ in range(10_000):
        if CALLS[f"{name}/{mode}:{label}"] >= count:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"{label} was not called {count} times")


async def history(env: TestEnvironment, handle: Any) -> dict[str, Any]:
    return await workflow_history(env.runtime, await handle.resolve())


async def result(env: TestEnvironment, handle: Any) -> tuple[str, Any]:
    await settle(env, handle)
    data = await history(env, handle)
    return data["state"], data["output"]


async def status(env: TestEnvironment, handle: Any) -> str:
    return (await engine_of(env, handle)).status
