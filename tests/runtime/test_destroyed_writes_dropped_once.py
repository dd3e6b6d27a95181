"""Many calls failing on a destroyed actor in one batch cost one pass over it, not one each.

A call still running on an actor whose delete has committed fails with ``actor/not_found``,
and what was written for that actor since must not land. Each such call used to rebuild the
whole pending batch (every other actor's writes included) to take its actor's writes out:
quadratic when many of them fail in a busy batch. The writes are now dropped once, when the
batch commits; the other actors' writes in that batch land as usual.
"""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from rivet_dsl import Actor, ActorNotFoundError, action, setup
from rivet_dsl.runtime._codec import decode_builtins
from rivet_dsl.storage import WriteBatch
from rivet_dsl.testing import MockClock, TestEnvironment

#: Calls left running on the actor that is destroyed under them.
FAILING_CALLS = 200
#: Other actors whose writes share the batch with those failures.
BYSTANDERS = 20

GATES: dict[str, asyncio.Event] = {}
#: How many calls have reached the gate, and how many the test waits for.
ENTERED = {"count": 0, "expected": FAILING_CALLS + BYSTANDERS}


class Count(msgspec.Struct):
    count: int = 0


class Busy(Actor[Count], sleep_timeout=10.0):
    @action
    async def bump_later(self) -> int:
        ENTERED["count"] += 1
        if ENTERED["count"] == ENTERED["expected"]:
            GATES["all_entered"].set()
        await GATES["release"].wait()
        self.state.count += 1
        return self.state.count


registry = setup(Busy)


@pytest.fixture(autouse=True)
def _fresh_gates() -> None:
    GATES.clear()
    GATES["release"] = asyncio.Event()
    GATES["all_entered"] = asyncio.Event()
    ENTERED["count"] = 0


async def test_many_failing_calls_in_one_batch_drop_the_destroyed_actors_writes_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Counts the passes over a whole batch that take actors' writes out (the real method runs).
    passes: list[set[str]] = []
    drop = WriteBatch._drop

    def counting_drop(batch: WriteBatch, gone: set[str]) -> None:
        passes.append(set(gone))
        drop(batch, gone)

    monkeypatch.setattr(WriteBatch, "_drop", counting_drop)

    async with TestEnvironment(registry, clock=MockClock()) as env:
        runtime = env.runtime
        doomed = (await runtime.get_or_create("busy", ["doomed"])).actor_id
        others = [(await runtime.get_or_create("busy", [f"other-{i}"])).actor_id for i in range(BYSTANDERS)]
        failing = [asyncio.ensure_future(runtime.call(doomed, "bump_later", [])) for _ in range(FAILING_CALLS)]
        answered = [asyncio.ensure_future(runtime.call(actor_id, "bump_later", [])) for actor_id in others]
        await GATES["all_entered"].wait()
        await runtime.destroy(doomed)
        # A write made for the destroyed actor after its delete committed (as a path that
        # does not check first would): it must not land after the delete.
        runtime.storage.batch.kv_put(doomed, b"late", b"orphan")
        passes.clear()

        # Every call resumes in this one turn: the bystanders stage their states, and the
        # failing calls all run before the storage writer takes the batch.
        GATES["release"].set()
        results = await asyncio.gather(*failing, return_exceptions=True)
        assert all(isinstance(result, ActorNotFoundError) for result in results)
        assert await asyncio.gather(*answered) == [1] * BYSTANDERS
        await runtime.storage.commit()

        # One pass for the whole batch, however many calls failed (there was one per call).
        assert passes == [{doomed}]
        assert await runtime.storage.load_actor(doomed) is None
        assert await runtime.storage.load_kv(doomed) == []
        for actor_id in others:
            record = await runtime.storage.load_actor(actor_id)
            assert record is not None and record.state is not None
            assert decode_builtins(record.state) == {"count": 1}
