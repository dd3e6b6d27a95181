"""Actors shared by the runtime tests (module level so type hints resolve)."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec

from rivet_dsl import Actor, Conn, UserError, action, event, queue, setup


class CountState(msgspec.Struct):
    count: int = 0
    log: list[str] = msgspec.field(default_factory=list)


class Lifecycle(Actor[CountState], sleep_timeout=10.0):
    """Records every hook it runs, in its durable state (so the order survives sleeps)."""

    def create_state(self, input: Any) -> CountState:
        start = input["start"] if isinstance(input, dict) else 0
        return CountState(count=start, log=["create_state"])

    def on_create(self, input: Any) -> None:
        self.state.log.append("on_create")

    async def on_wake(self) -> None:
        self.state.log.append("on_wake")
        self.woken_vars = "set in on_wake"

    def on_sleep(self) -> None:
        self.state.log.append("on_sleep")

    @action
    def increment(self, amount: int = 1) -> int:
        self.state.count += amount
        return self.state.count

    @action
    def get_log(self) -> list[str]:
        return self.state.log

    @action
    def get_count(self) -> int:
        return self.state.count

    @action
    def get_var(self) -> str:
        return getattr(self, "woken_vars", "missing")

    @action
    def get_key(self) -> list[str]:
        return list(self.key)

    @action
    def destroy_me(self) -> None:
        self.destroy()


class Job(msgspec.Struct):
    n: int


class Doubled(msgspec.Struct):
    doubled: int


class Mailbox(Actor[CountState], max_queue_size=3, max_queue_message_size=64, sleep_timeout=10.0):
    """Queues with limits; no run handler, so messages stay until someone receives them."""

    @queue
    def jobs(self, body: Job) -> None: ...

    @queue
    def requests(self, body: Job) -> Doubled: ...

    @queue
    def notes(self, body: str) -> None: ...

    @action
    async def take(self, count: int = 1) -> list[int]:
        messages = await self.queue.next_batch(names=["jobs"], count=count, timeout=0)
        return [m.body.n for m in messages]

    @action
    async def answer_one(self) -> int:
        message = await self.queue.next(names=[self.requests], completable=True)
        assert message is not None
        await message.complete(Doubled(doubled=message.body.n * 2))
        return message.body.n

    @action
    async def hold_one(self) -> int:
        """Receive a completable message and never complete it (a crash will redeliver it)."""
        message = await self.queue.next(names=["jobs"], completable=True, timeout=0)
        assert message is not None
        self.held = message
        return message.id

    @action
    async def hold_again(self) -> str:
        try:
            await self.queue.next(names=["jobs"], completable=True, timeout=0)
        except Exception as exc:
            return type(exc).__name__
        return "no error"

    @action
    async def complete_held(self) -> str:
        await self.held.complete()
        try:
            await self.held.complete()
        except Exception as exc:
            return type(exc).__name__
        return "no error"

    @action
    async def send_self(self, n: int) -> None:
        await self.jobs.send(Job(n=n))

    @action
    def size(self) -> int:
        return len(self.queue)


class Worker(Actor[CountState], sleep_timeout=10.0):
    """A plain run loop; completable receive, so a crash before complete() redelivers."""

    @queue
    def jobs(self, body: Job) -> None: ...

    async def run(self) -> None:
        async for message in self.queue.iter(names=[self.jobs], completable=True):
            self.state.count += message.body.n
            self.state.log.append(str(message.body.n))
            await message.complete()

    @action
    def get_state(self) -> CountState:
        return self.state


class Slow(Actor[None], action_timeout=0.05):
    @action
    async def hang(self) -> None:
        await asyncio.Event().wait()

    @action(timeout=5.0)
    async def quick(self) -> str:
        return "done"

    @action
    def fail_user(self) -> None:
        raise UserError("Username too short", code="username_too_short", metadata={"min": 3})

    @action
    def fail_internal(self) -> None:
        raise RuntimeError("database password is hunter2")


class Gate(Actor[CountState]):
    """Two actions interleave on one event loop: `wait` blocks until `open` runs."""

    def on_wake(self) -> None:
        self.opened = asyncio.Event()

    @action
    async def wait(self) -> int:
        self.state.count += 1
        await self.opened.wait()
        return self.state.count

    @action
    def open(self) -> int:
        self.state.count += 10
        self.opened.set()
        return self.state.count


class Params(msgspec.Struct):
    user: str
    token: str = ""


class Notice(msgspec.Struct):
    text: str


class Room(Actor[CountState], sleep_timeout=10.0):
    @event
    def said(self, text: str) -> None: ...

    @event
    def notice(self, notice: Notice) -> None: ...

    def on_before_connect(self, params: Any) -> None:
        # A stateless call (HTTP, or the client's .action()) opens a connection without params.
        if params is not None and msgspec.convert(params, Params).token == "bad":
            raise UserError("go away", code="forbidden")

    def create_conn_state(self, params: Any) -> str:
        return "http" if params is None else msgspec.convert(params, Params).user

    def on_connect(self, conn: Conn) -> None:
        if conn.state == "grumpy":
            raise UserError("not today", code="rejected")
        if conn.state != "http":  # (the log is of the tests' real connections)
            self.state.log.append(f"connect:{conn.state}")

    def on_disconnect(self, conn: Conn) -> None:
        if conn.state != "http":
            self.state.log.append(f"disconnect:{conn.state}")

    @action
    def say(self, text: str) -> str:
        assert self.conn is not None  # every call has one (a stateless call's own)
        speaker: str = self.conn.state
        self.said(f"{speaker}: {text}")
        return speaker

    @action
    def poke_others(self) -> int:
        count = 0
        for conn in self.conns.values():
            if conn is not self.conn:
                self.notice.send_to(conn, Notice(text="poke"))
                count += 1
        return count

    @action
    def get_log(self) -> list[str]:
        return self.state.log


class Scheduled(Actor[CountState], sleep_timeout=10.0):
    @action
    async def remind_in(self, seconds: float, label: str) -> str:
        return await self.schedule.after(seconds, self.fire, label)

    @action
    async def remind_at(self, when: float, label: str) -> str:
        return await self.schedule.at(when, "fire", label)

    @action
    async def cancel(self, schedule_id: str) -> bool:
        return await self.schedule.cancel(schedule_id)

    @action
    async def pending(self) -> list[str]:
        return [call.args[0] for call in await self.schedule.list()]

    @action
    def fire(self, label: str) -> None:
        self.state.count += 1
        self.state.log.append(label)

    @action
    def get_state(self) -> CountState:
        return self.state


class Sorter(Actor[None], sleep_timeout=10.0):
    """Several queues, one with its own limit: receives merge the queues they name in FIFO order."""

    @queue
    def red(self, body: int) -> None: ...

    @queue(max_size=2)
    def green(self, body: int) -> None: ...

    @queue
    def blue(self, body: int) -> None: ...

    @action
    async def take(self, names: list[str], count: int) -> list[list[Any]]:
        messages = await self.queue.next_batch(names=names, count=count, timeout=0)
        return [[m.name, m.body] for m in messages]


registry = setup(Lifecycle, Mailbox, Worker, Slow, Gate, Room, Scheduled, Sorter)


class LedgerState(msgspec.Struct):
    applied: list[str] = msgspec.field(default_factory=list)


class Ledger(Actor[LedgerState]):
    """Every operation carries a unique id, so a lost or doubled effect is visible."""

    @queue
    def entries(self, body: str) -> None: ...

    @action
    async def apply(self, op_id: str) -> int:
        self.state.applied.append(op_id)
        return len(self.state.applied)

    async def run(self) -> None:
        async for message in self.queue.iter(names=["entries"], completable=True):
            self.state.applied.append("q:" + message.body)
            await message.complete()

    @action
    def applied(self) -> list[str]:
        return self.state.applied


ledger_registry = setup(Ledger)


class Watched(Actor[CountState], sleep_timeout=10.0):
    """on_state_change fires once per committed change, not for reads."""

    def on_wake(self) -> None:
        self.changes: list[int] = []

    def on_state_change(self, state: CountState) -> None:
        self.changes.append(state.count)

    @action
    def bump(self) -> None:
        self.state.count += 1
        self.state.count += 1  # two mutations, one change notification

    @action
    def read(self) -> int:
        return self.state.count

    @action
    def seen(self) -> list[int]:
        return self.changes

    @action
    def is_aborted(self) -> bool:
        return self.aborted.is_set()


watched_registry = setup(Watched)
