"""A ``CriticalError`` subclass that sets its own attributes in ``__init__`` (``self.order_id``)
is the same error after a restart: the failed step's record keeps the instance's plain-data
attributes and the replay restores them (without calling the subclass's ``__init__``), so
``except OrderRejected as e: e.order_id`` takes the same branch with the same values live and
after a reload. Attributes that cannot be stored are left out, never fail the recording."""

from __future__ import annotations

from typing import Any

import msgspec

from rivet_dsl import CriticalError, JoinError, WorkflowContext
from rivet_dsl.testing import MockClock, TestEnvironment
from rivet_dsl.workflows._history import ErrorInfo

from ._scenario import Job, Scenario, calls, registry, result, scenario, start


class OrderRejected(CriticalError):
    """Its ``__init__`` takes arguments of its own: a replay must not call it with others."""

    def __init__(self, order_id: int, reasons: list[str], *, retry: bool = False) -> None:
        super().__init__(f"order {order_id} rejected", metadata={"kind": "order"})
        self.order_id = order_id
        self.reasons = reasons
        self.retry = retry
        self.details = {"shop": "north", "lines": [1, 2]}
        self.handle = object()  # not storable data: left out of the record


async def _finish(env: TestEnvironment, h: Any, mode: str) -> tuple[str, Any]:
    await result(env, h)
    if mode == "restart":
        await env.restart()
    await h.send("jobs", Job(1))
    return await result(env, h)


@scenario
async def order_attrs(self: Scenario, ctx: WorkflowContext) -> Any:
    def place() -> None:
        self.hit("place")
        raise OrderRejected(42, ["stock", "credit"], retry=True)

    try:
        await ctx.step("place", place)
        outcome: Any = "placed"
    except OrderRejected as e:
        outcome = {
            "order_id": e.order_id,
            "reasons": e.reasons,
            "retry": e.retry,
            "details": e.details,
            "has_handle": hasattr(e, "handle"),
            "message": e.message,
            "code": e.code,
            "metadata": e.metadata,
        }
    await ctx.queue.next("wait", names=[self.jobs])
    return outcome


async def test_critical_error_subclass_attributes_survive_a_restart(mode: str) -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "order_attrs", mode)
        state, output = await _finish(env, h, mode)
        assert state == "completed"
        assert output == {
            "order_id": 42,
            "reasons": ["stock", "credit"],
            "retry": True,
            "details": {"shop": "north", "lines": [1, 2]},
            # Live the error is the very instance raised; replayed, what could not be stored is absent.
            "has_handle": mode == "live",
            "message": "order 42 rejected",
            "code": "critical",
            "metadata": {"kind": "order"},
        }
        assert calls("order_attrs", mode, "place") == 1


@scenario
async def order_attrs_join(self: Scenario, ctx: WorkflowContext) -> Any:
    async def branch(b: WorkflowContext) -> None:
        def place() -> None:
            raise OrderRejected(7, ["fraud"])

        await b.step("place", place)

    try:
        await ctx.join("j", {"a": branch})
        outcome: Any = "joined"
    except JoinError as e:
        error = e.errors["a"]
        assert isinstance(error, OrderRejected)
        outcome = [error.order_id, error.reasons, error.retry]
    await ctx.queue.next("wait", names=[self.jobs])
    return outcome


async def test_join_branch_error_attributes_survive_a_restart(mode: str) -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "order_attrs_join", mode)
        assert await _finish(env, h, mode) == ("completed", [7, ["fraud"], False])


class _OldErrorInfo(msgspec.Struct, array_like=True, omit_defaults=True):
    """``ErrorInfo`` as written before the attributes were recorded."""

    kind: str
    cls: str = ""
    message: str = ""
    code: str | None = None
    metadata: bytes | None = None


def test_error_info_without_attributes_still_decodes() -> None:
    old = msgspec.msgpack.encode(_OldErrorInfo("critical", "m:C", "no", "critical"))
    info = msgspec.msgpack.decode(old, type=ErrorInfo)
    assert (info.kind, info.cls, info.message, info.code, info.metadata, info.attrs) == (
        "critical", "m:C", "no", "critical", None, None,
    )


class Line(msgspec.Struct):
    sku: str
    qty: int


class LineRejected(CriticalError):
    """An annotated attribute comes back as its annotation; an oversized one is left out."""

    line: Line

    def __init__(self, line: Line) -> None:
        super().__init__(f"line {line.sku} rejected")
        self.dump = "x" * 20_000  # past the recorded bound
        self.line = line
        self.pair = (1, "a")  # not annotated: plain data (a list) after a reload


@scenario
async def line_attrs(self: Scenario, ctx: WorkflowContext) -> Any:
    def place() -> None:
        raise LineRejected(Line("abc", 3))

    try:
        await ctx.step("place", place)
        outcome: Any = "placed"
    except LineRejected as e:
        outcome = [type(e.line).__name__, e.line.sku, e.line.qty, list(e.pair), hasattr(e, "dump")]
    await ctx.queue.next("wait", names=[self.jobs])
    return outcome


async def test_annotated_attribute_is_typed_and_oversized_one_is_left_out(mode: str) -> None:
    async with TestEnvironment(registry, clock=MockClock()) as env:
        h = await start(env, "line_attrs", mode)
        assert await _finish(env, h, mode) == ("completed", ["Line", "abc", 3, [1, "a"], mode == "live"])
