"""``TestEnvironment.settle``: the public way for a test to wait until a workflow waits again.
A send returns once the message is durable and ``clock.advance`` once the due timers fired;
the steps they wake run afterwards, so a test settles before asserting on them."""

from __future__ import annotations

import msgspec
import pytest

from rivet_dsl import Actor, WorkflowContext, action, queue, setup, workflow
from rivet_dsl.testing import MockClock, TestEnvironment


class Delta(msgspec.Struct):
    delta: int


class Total(msgspec.Struct):
    value: int = 0


class Cooled(Actor[Total]):
    @queue
    def counter(self, body: Delta) -> None: ...

    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        async def each(loop: WorkflowContext) -> None:
            message = await loop.queue.next("wait", names=[self.counter])
            await loop.sleep("cooldown", 60)
            await loop.step("apply", self.apply, message.body.delta)

        await ctx.loop("counter-loop", each)

    def apply(self, delta: int) -> None:
        self.state.value += delta

    @action
    def value(self) -> int:
        return self.state.value


class Plain(Actor[None]):
    @action
    def ping(self) -> str:
        return "pong"


registry = setup(Cooled, Plain)


@pytest.mark.parametrize("restart", [False, True])
async def test_settle_waits_for_the_steps_a_send_and_an_advance_wake(restart: bool) -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        counter = env.client.get_or_create("cooled", ["main"])
        await env.settle(counter)
        cooldown = env.clock.now() + 60
        assert cooldown not in env.clock.pending()  # waiting for a message, no cooldown yet
        await counter.send("counter", {"delta": 5})
        await env.settle(counter)
        # The message was taken and the cooldown armed: the workflow waits for its timer.
        assert cooldown in env.clock.pending()
        assert await counter.action("value") == 0
        if restart:
            await env.restart()  # the workflow resumes by replay, the deadline as recorded
            await env.settle(counter)
            assert cooldown in env.clock.pending()
        await env.clock.advance(60)  # the actor idle-sleeps at 30 s; the cooldown wakes it
        await env.settle(counter)
        assert await counter.action("value") == 5
        assert env.clock.now() + 60 not in env.clock.pending()  # back in queue.next


async def test_settle_takes_an_actor_id_and_refuses_an_actor_without_a_workflow() -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        actor_id = await env.client.get_or_create("cooled", ["by-id"]).resolve()
        await env.settle(actor_id)
        assert env.clock.now() + 60 not in env.clock.pending()
        await env.client.get_or_create("cooled", ["by-id"]).send("counter", {"delta": 1})
        await env.settle(actor_id)
        assert env.clock.now() + 60 in env.clock.pending()
        plain = env.client.get_or_create("plain", ["p"])
        with pytest.raises(TypeError, match="has no @workflow"):
            await env.settle(plain)
        assert await plain.action("ping") == "pong"  # nothing changed
