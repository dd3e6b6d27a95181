"""A failed step replays the error the live run raised (not ``StepExhaustedError`` for all):
``except CriticalError:`` (or a subclass, or ``StepTimeoutError``) takes the same branch after a
restart as it did live, and a finished join's ``JoinError`` carries the same branch errors."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec

from rivet_dsl import (
    CriticalError,
    JoinError,
    StepExhaustedError,
    StepTimeoutError,
    WorkflowContext,
)
from rivet_dsl.testing import MockClock, TestEnvironment
from rivet_dsl.workflows._history import (
    ENTRY_PREFIX,
    History,
    encode_entry,
    name_segment,
)

from ._scenario import (
    Job,
    Scenario,
    calls,
    registry,
    result,
    scenario,
    start,
    until_called,
)


class CardDeclined(CriticalError):
    """A user subclass of CriticalError, importable: its replay is a CardDeclined again."""

    def __init__(self, card: str) -> None:
        super().__init__(f"card {card} declined", metadata={"card": card})


async def _finish(env: TestEnvironment, h: Any, mode: str) -> tuple[str, Any]:
    """The workflow waits on `jobs` after its failed step; restart (in "restart" mode), let it go on."""
    await result(env, h)
    if mode == "restart":
        await env.restart()
    await h.send("jobs", Job(1))
    return await result(env, h)


@scenario
async def catch_critical(self: Scenario, ctx: WorkflowContext) -> Any:
    def charge() -> None:
        self.hit("charge")
        raise CriticalError("card declined", metadata={"why": "limit"})

    try:
        await ctx.step("charge", charge)
        outcome = "charged"
    except StepExhaustedError:
        outcome = "exhausted"
    except CriticalError as e:
        outcome = f"declined:{e.message}:{e.code}:{e.metadata}"
    await ctx.queue.next("wait", names=[self.jobs])
    return outcome


async def test_caught_critical_error_is_raised_again_by_the_replay(mode: str) -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "catch_critical", mode)
        state, output = await _finish(env, h, mode)
        assert (state, output) == ("completed", "declined:card declined:critical:{'why': 'limit'}")
        assert calls("catch_critical", mode, "charge") == 1


@scenario
async def catch_subclass(self: Scenario, ctx: WorkflowContext) -> Any:
    class Local(CriticalError):
        """Not importable (defined in a function): replayed as a CriticalError."""

    def charge() -> None:
        raise CardDeclined("4242")

    def other() -> None:
        raise Local("local failure")

    outcomes = []
    try:
        await ctx.step("charge", charge)
    except CardDeclined as e:
        outcomes.append(f"declined:{e.metadata['card']}")
    except CriticalError:
        outcomes.append("critical")
    try:
        await ctx.step("other", other)
    except CriticalError as e:
        outcomes.append(f"critical:{e.message}")
    await ctx.queue.next("wait", names=[self.jobs])
    return outcomes


async def test_critical_error_subclass_is_reimported_or_falls_back(mode: str) -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "catch_subclass", mode)
        assert await _finish(env, h, mode) == ("completed", ["declined:4242", "critical:local failure"])



@scenario
async def catch_huge_metadata(self: Scenario, ctx: WorkflowContext) -> Any:
    def charge() -> None:
        self.hit("charge")
        raise CriticalError("too much", metadata={"amount": 10**20})  # past 64 bits: not storable

    try:
        await ctx.step("charge", charge)
        outcome = "charged"
    except CriticalError as e:
        outcome = f"declined:{e.message}"
    await ctx.queue.next("wait", names=[self.jobs])
    return outcome


async def test_an_error_whose_metadata_cannot_be_stored_is_still_recorded(mode: str) -> None:
    """Recording the failed step must not itself fail (msgspec raises OverflowError for an int
    past 64 bits): the error is recorded without its metadata and the same branch is taken."""
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "catch_huge_metadata", mode)
        assert await _finish(env, h, mode) == ("completed", "declined:too much")
        assert calls("catch_huge_metadata", mode, "charge") == 1

@scenario
async def catch_timeout(self: Scenario, ctx: WorkflowContext) -> Any:
    async def slow() -> None:
        self.hit("slow")
        await asyncio.Event().wait()

    def flaky() -> None:
        raise ValueError("nope")

    outcomes = []
    try:
        await ctx.step("slow", slow, timeout=1.0)
        outcomes.append("fast")
    except StepExhaustedError:
        outcomes.append("exhausted")
    except StepTimeoutError as e:
        outcomes.append(f"timed-out:{e.metadata}")
    try:
        await ctx.step("flaky", flaky, max_retries=0)
    except StepExhaustedError as e:
        outcomes.append(f"exhausted:{e.step}:{e.last_error}")
    await ctx.queue.next("wait", names=[self.jobs])
    return outcomes


async def test_step_timeout_and_exhausted_are_raised_again_by_the_replay(mode: str) -> None:
    clock = MockClock()
    async with TestEnvironment(registry, clock=clock) as env:
        h = await start(env, "catch_timeout", mode, wait=False)
        await until_called("catch_timeout", mode, "slow")
        await clock.advance(1.0)
        assert await _finish(env, h, mode) == (
            "completed",
            ["timed-out:{'step': 'slow'}", "exhausted:flaky:ValueError: nope"],
        )
        assert calls("catch_timeout", mode, "slow") == 1


@scenario
async def join_errors(self: Scenario, ctx: WorkflowContext) -> Any:
    async def critical(b: WorkflowContext) -> int:
        def c() -> int:
            raise CardDeclined("1111")

        return await b.step("c", c)

    async def exhausted(b: WorkflowContext) -> int:
        def c() -> int:
            raise ValueError("bad")

        return await b.step("c", c, max_retries=0)

    async def plain(b: WorkflowContext) -> int:
        await b.step("ok", self.note, "plain")
        raise KeyError("outside a step")

    async def good(b: WorkflowContext) -> int:
        return 1

    try:
        await ctx.join("j", {"critical": critical, "exhausted": exhausted, "plain": plain, "good": good})
        kinds = {}
    except JoinError as e:
        kinds = {k: type(v).__name__ for k, v in sorted(e.errors.items())}
    await ctx.queue.next("wait", names=[self.jobs])
    return kinds


async def test_finished_join_replays_branch_error_kinds(mode: str) -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "join_errors", mode)
        assert await _finish(env, h, mode) == (
            "completed",
            {"critical": "CardDeclined", "exhausted": "StepExhaustedError", "plain": "KeyError"},
        )


class _OldEntry(msgspec.Struct, array_like=True, omit_defaults=True):
    """An exhausted step entry as written before the error kind was recorded."""

    kind: str
    seq: int
    created_at: float
    status: str
    output: bytes | None
    error: str


def test_entry_without_error_kind_still_loads() -> None:
    location = name_segment(0)
    old = msgspec.msgpack.encode(_OldEntry("step", 0, 1.0, "exhausted", None, "CriticalError: no"))
    history = History.from_rows([(ENTRY_PREFIX + location, old), (b"wf/n/" + (0).to_bytes(4, "big"), b"s")])
    entry = history.entries[location]
    assert (entry.status, entry.error, entry.error_info) == ("exhausted", "CriticalError: no", None)
    assert History.from_rows([(ENTRY_PREFIX + location, encode_entry(entry))]).entries[location] == entry
