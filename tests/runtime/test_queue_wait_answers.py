"""A sender waiting on its message (``send(..., wait=True)``) is answered when a receive that
cannot complete the message takes it: completed, without a response, once the take is durable.

Only a completable receive can answer with a response. A plain ``next`` / ``next_batch``, a plain
run loop and a non-completable workflow receive delete the message: nothing could complete it
any more, so without this answer the sender would wait out its whole timeout. Rivet's queue
manager answers such senders the same way when the receive deletes the message.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec

from rivet_dsl import Actor, WorkflowContext, action, queue, setup, workflow
from rivet_dsl.client import ActorHandle
from rivet_dsl.testing import MockClock, TestEnvironment

#: The send's timeout runs on the runtime (mock) clock: longer than any advance these tests make,
#: so it never elapses while the fix works.
SEND_TIMEOUT = 600.0


class Request(msgspec.Struct):
    n: int


class Inbox(Actor[None], sleep_timeout=60.0):
    """No run handler: an action receives."""

    @queue
    def requests(self, body: Request) -> Request: ...

    @action
    async def take(self, count: int) -> list[int]:
        messages = await self.queue.next_batch(names=[self.requests], count=count)
        return [m.body.n for m in messages]

    @action
    async def take_one(self) -> int:
        message = await self.queue.next(names=[self.requests])
        assert message is not None
        return message.body.n


class Drain(Actor[None], sleep_timeout=60.0):
    """A plain run loop that receives without ``completable``."""

    @queue
    def requests(self, body: Request) -> Request: ...

    async def run(self) -> None:
        async for _ in self.queue.iter(names=[self.requests]):
            pass


class Flow(Actor[None], sleep_timeout=60.0):
    """A workflow that receives without ``completable``, one message per iteration."""

    @queue
    def requests(self, body: Request) -> Request: ...

    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        await ctx.loop("each", self.one)

    async def one(self, it: WorkflowContext) -> None:
        await it.queue.next("take", names=[self.requests])


class Racing(Actor[None], sleep_timeout=60.0):
    """A race branch takes the message, then loses: the message goes back to the queue, so the
    take is no answer yet; the receive after the race is."""

    @queue
    def requests(self, body: Request) -> Request: ...

    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        async def work(b: WorkflowContext) -> str:
            await b.queue.next("job", names=[self.requests])
            await b.sleep("slow-start", 60.0)
            return "work"

        async def timeout(b: WorkflowContext) -> str:
            await b.sleep("deadline", 30.0)
            return "timeout"

        await ctx.race("work-or-timeout", {"work": work, "timeout": timeout})
        await ctx.queue.next("again", names=[self.requests])
        await ctx.queue.next("park", names=[self.requests])


class NestedRacing(Actor[None], sleep_timeout=600.0):
    """Inner branch ``first`` completes a step while its sibling ``taker`` holds a message and
    then loses: the sibling's take must go back to the queue (that step did not follow it)."""

    @queue
    def requests(self, body: Request) -> Request: ...

    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        async def first(b: WorkflowContext) -> str:
            await b.sleep("wait", 1.0)
            await b.step("done", _nothing)
            return "first"

        async def taker(b: WorkflowContext) -> str:
            await b.queue.next("take", names=[self.requests])
            await b.sleep("long", 100.0)
            return "taker"

        async def inner(b: WorkflowContext) -> str:
            return (await b.race("inner", {"first": first, "taker": taker})).winner

        async def never(b: WorkflowContext) -> str:
            await b.sleep("never", 10_000.0)
            return "never"

        await ctx.race("outer", {"inner": inner, "never": never})
        message = await ctx.queue.next("after", names=[self.requests])
        await ctx.step("record", self.record, message.body.n)

    def record(self, n: int) -> None:
        RECEIVED_AFTER_RACE.append(n)


def _nothing() -> None:
    pass


RECEIVED_AFTER_RACE: list[int] = []

registry = setup(Inbox, Drain, Flow, Racing, NestedRacing)


def _send_waiting(handle: ActorHandle, n: int) -> asyncio.Future[Any]:
    return asyncio.ensure_future(handle.send("requests", {"n": n}, wait=True, timeout=SEND_TIMEOUT))


async def _answered(reply: asyncio.Future[Any]) -> tuple[str, Any]:
    result = await reply
    return result.status, result.response


async def _until_waiting(env: TestEnvironment, handle: ActorHandle, senders: int) -> None:
    """Until ``senders`` sends are queued and waiting for their completion."""
    actor = await env.runtime.acquire(await handle.resolve())
    while len(actor.queue._completions) < senders:
        await asyncio.sleep(0)  # let the sends run up to their wait (no time passes)


async def test_a_plain_next_answers_the_waiting_sender() -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        inbox = env.client.get_or_create("inbox", ["next"])
        reply = _send_waiting(inbox, 1)
        assert await inbox.action("take_one") == 1
        assert await _answered(reply) == ("completed", None)


async def test_a_plain_next_batch_answers_every_sender_it_took() -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        inbox = env.client.get_or_create("inbox", ["batch"])
        replies = [_send_waiting(inbox, n) for n in (1, 2)]
        await _until_waiting(env, inbox, 2)
        # (the two sends run concurrently: either may be queued first)
        assert sorted(await inbox.action("take", 2)) == [1, 2]
        assert [await _answered(reply) for reply in replies] == [("completed", None)] * 2


async def test_a_plain_run_loop_answers_the_waiting_sender() -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        drain = env.client.get_or_create("drain", ["loop"])
        assert await _answered(_send_waiting(drain, 3)) == ("completed", None)
        # The answer came with the delete: the message is gone from storage too.
        assert await env.runtime.storage.load_queue(await drain.resolve()) == []


async def test_a_non_completable_workflow_receive_answers_the_waiting_sender() -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        flow = env.client.get_or_create("flow", ["wf"])
        assert await _answered(_send_waiting(flow, 4)) == ("completed", None)
        assert await _answered(_send_waiting(flow, 5)) == ("completed", None)


async def test_a_losing_race_branch_take_is_not_an_answer_the_next_receive_is() -> None:
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        racing = env.client.get_or_create("racing", ["race"])
        reply = _send_waiting(racing, 6)
        await _until_waiting(env, racing, 1)
        actor = await env.runtime.acquire(await racing.resolve())
        [completion] = actor.queue._completions.values()  # what answers the sender
        assert actor.workflow is not None
        await actor.workflow.until_blocked()  # the work branch took it and sleeps; committed
        # Not answered on the branch's take: the branch may still lose and give it back.
        assert not completion.done()
        await clock.advance(30.0)  # the deadline wins; the message goes back, "again" takes it
        assert await _answered(reply) == ("completed", None)


async def test_a_step_in_a_sibling_race_branch_does_not_keep_another_branchs_take() -> None:
    RECEIVED_AFTER_RACE.clear()
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        nested = env.client.get_or_create("nested_racing", ["nested"])
        reply = _send_waiting(nested, 7)
        await _until_waiting(env, nested, 1)
        actor = await env.runtime.acquire(await nested.resolve())
        [completion] = actor.queue._completions.values()
        assert actor.workflow is not None
        await actor.workflow.until_blocked()  # "taker" holds the message and sleeps
        await clock.advance(1.0)  # "first" completes its step and wins the inner race
        await actor.workflow.until_blocked()
        # The take went back with the losing branch, and the receive after the race has it.
        assert await _answered(reply) == ("completed", None)
        assert completion.done()
        assert RECEIVED_AFTER_RACE == [7]
        assert await env.runtime.storage.load_queue(actor.actor_id) == []
