"""A client's queue send commits its message, not the actor's state.

The send changed none of the state, so it does not stage it. Before, it did, and with an async
action still running (its caller not yet answered), the send's commit stored that action's
changes so far; after a crash they were there although the call never returned. (Another call
that ends meanwhile still commits the whole state, the running action's changes included: the
state is one object, as in Rivet.)
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec

from rivet_dsl import Actor, action, queue, setup
from rivet_dsl.runtime import Runtime
from rivet_dsl.storage import SqliteStorage


class Gate:
    entered = asyncio.Event()
    release = asyncio.Event()


class Counts(msgspec.Struct):
    half: int = 0
    whole: int = 0


class Slow(Actor[Counts]):
    @queue
    def inbox(self, body: int) -> None: ...

    @action
    async def two_halves(self) -> int:
        self.state.half += 1
        Gate.entered.set()
        await Gate.release.wait()
        self.state.whole += 1
        return self.state.whole

    @action
    def counts(self) -> list[int]:
        return [self.state.half, self.state.whole]


registry = setup(Slow)


async def test_a_send_during_an_unfinished_action_does_not_commit_its_changes(tmp_path: Path) -> None:
    Gate.entered, Gate.release = asyncio.Event(), asyncio.Event()
    path = tmp_path / "half.db"
    runtime = Runtime(registry, storage=SqliteStorage(path))
    await runtime.start()
    actor_id = (await runtime.get_or_create("slow", ["a"])).actor_id
    call = asyncio.ensure_future(runtime.call(actor_id, "two_halves", []))
    await Gate.entered.wait()
    result = await runtime.send(actor_id, "inbox", 7)  # acknowledged: durable
    assert result.status == "completed"
    assert not call.done()
    await runtime.crash()  # the action never finished, its caller got no answer
    call.cancel()

    runtime = Runtime(registry, storage=SqliteStorage(path))
    await runtime.start()
    try:
        assert await runtime.call(actor_id, "counts", []) == [0, 0]
        assert len(await runtime.storage.load_queue(actor_id)) == 1  # the message landed
    finally:
        await runtime.stop()
