"""Actors served by the end-to-end server tests (imported by the server subprocess)."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec

from rivet_dsl import (
    Actor,
    UserError,
    WorkflowContext,
    action,
    event,
    queue,
    setup,
    workflow,
)


class CounterState(msgspec.Struct):
    count: int = 0


class Counter(Actor[CounterState], name="counter"):
    """RivetKit's benchmark counter (camelCase names so the official client calls them as is)."""

    @event(name="newCount")
    def new_count(self, value: int) -> None: ...

    @action
    def increment(self, amount: int = 1) -> int:
        self.state.count += amount
        self.new_count(self.state.count)
        return self.state.count

    @action(name="getCount")
    def get_count(self) -> int:
        return self.state.count

    @action
    def echo(self, value: Any) -> Any:
        return value

    @action(name="failUser")
    def fail_user(self) -> None:
        raise UserError("not allowed", code="forbidden_thing", metadata={"why": "test"})

    @action(name="failInternal")
    def fail_internal(self) -> None:
        raise RuntimeError("secret detail that must not leak")

    @event(name="slowStarted")
    def slow_started(self, seconds: float) -> None: ...

    @action(timeout=0.5)
    async def slow(self, seconds: float) -> str:
        self.slow_started(seconds)
        await asyncio.sleep(seconds)
        return "done"

    @action
    def nested(self, depth: int) -> Any:
        """An output nested ``depth`` lists deep (deeper than an encoder can go, for errors)."""
        value: Any = []
        for _ in range(depth):
            value = [value]
        return value

    @action
    def whoami(self) -> Any:
        return None if self.conn is None else self.conn.params

    @event
    def filler(self, text: str) -> None: ...

    @action
    def big(self, size: int) -> str:
        """An output of ``size`` characters (for the outgoing message limit)."""
        return "x" * size

    @action
    def shout(self, size: int) -> int:
        """Broadcast a ``filler`` event of ``size`` characters."""
        self.filler("x" * size)
        return size


class Guarded(Actor[None], name="guarded"):
    """Rejects connections whose params do not carry token "ok"."""

    def on_before_connect(self, params: Any) -> None:
        if not isinstance(params, dict) or params.get("token") != "ok":
            raise UserError("bad token", code="unauthorized")

    @action
    def ping(self) -> str:
        return "pong"


class Request(msgspec.Struct):
    value: int


class Doubled(msgspec.Struct):
    doubled: int


class RrState(msgspec.Struct):
    handled: int = 0


class RequestResponse(Actor[RrState], name="requestResponseActor"):
    """Answers completable `requests`; `parked` and `anything` are never read (wait=True times out)."""

    @queue
    def requests(self, body: Request) -> Doubled: ...

    @queue
    def parked(self, body: int) -> int: ...

    @queue
    def anything(self, body: Any) -> None: ...

    async def run(self) -> None:
        async for message in self.queue.iter(names=[self.requests], completable=True):
            self.state.handled += 1
            await message.complete(Doubled(doubled=message.body.value * 2))

    @action(name="getState")
    def get_state(self) -> RrState:
        return self.state


class Item(msgspec.Struct):
    seq: int


class AuditState(msgspec.Struct):
    seen: dict[str, int] = {}
    recorded: dict[str, int] = {}


class Audit(Actor[AuditState], name="audit"):
    """Counts every queue message and every `record` call by sequence number."""

    @queue
    def items(self, body: Item) -> None: ...

    async def run(self) -> None:
        async for message in self.queue.iter(names=[self.items], completable=True):
            key = str(message.body.seq)
            self.state.seen[key] = self.state.seen.get(key, 0) + 1
            await message.complete()

    @action
    def record(self, seq: int) -> int:
        key = str(seq)
        self.state.recorded[key] = self.state.recorded.get(key, 0) + 1
        return len(self.state.recorded)

    @action
    def summary(self) -> AuditState:
        return self.state


class Delta(msgspec.Struct):
    delta: int


class WfState(msgspec.Struct):
    value: int = 0
    processed: int = 0


class WfCounter(Actor[WfState], name="wfCounter"):
    """RivetKit's benchmark workflow counter: a loop of queue.next + one step."""

    @queue
    def counter(self, body: Delta) -> None: ...

    def apply(self, delta: int) -> int:
        self.state.value += delta
        self.state.processed += 1
        return self.state.value

    async def iteration(self, ctx: WorkflowContext) -> None:
        message = await ctx.queue.next("wait-counter", names=[self.counter])
        await ctx.step("apply-delta", self.apply, message.body.delta)

    @workflow
    async def main(self, ctx: WorkflowContext) -> None:
        await ctx.loop("counter-loop", self.iteration)

    @action(name="getState")
    def get_state(self) -> WfState:
        return self.state


class Sleeper(Actor[None], name="sleeper"):
    """A workflow that takes one step, then sleeps for an hour (a sleep entry with a deadline)."""

    def mark(self) -> str:
        return "marked"

    @workflow
    async def main(self, ctx: WorkflowContext) -> None:
        await ctx.step("mark", self.mark)
        await ctx.sleep("nap", 3600)


class Packet(msgspec.Struct):
    label: str
    data: bytes


class BinaryState(msgspec.Struct):
    last: bytes = b""


class Binary(Actor[BinaryState], name="binary"):
    """Binary values in every place they can travel: arguments, outputs, a Struct field, an
    event payload, a queue body and a queue response."""

    @event
    def blob(self, data: bytes) -> None: ...

    @queue
    def reverse(self, body: bytes) -> bytes: ...

    async def run(self) -> None:
        async for message in self.queue.iter(names=[self.reverse], completable=True):
            await message.complete(message.body[::-1])

    @action
    def store(self, data: bytes) -> Packet:
        self.state.last = data
        self.blob(data)
        return Packet(label="stored", data=data)

    @action
    def last(self) -> bytes:
        return self.state.last


registry = setup(Counter, Guarded, RequestResponse, Audit, WfCounter, Binary, Sleeper)
