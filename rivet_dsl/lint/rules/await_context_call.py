"""RVT011: every context call (and ``message.complete``) must be awaited where it is made."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import libcst as cst

from .._model import ModuleModel, Scope, context_method
from .._types import Invalid, Valid
from ..rule import LintRule

__all__ = ["AwaitContextCall"]

_FIXABLE_PARENTS = (cst.Expr, cst.Assign, cst.AnnAssign, cst.Return)


class AwaitContextCall(LintRule):
    """An entry that is not awaited never runs in order (``EntryInProgressError`` at run time).

    A sync helper (or loop body, or branch) may ``return ctx.step(...)``: the call is then reported
    at each call of the helper that is not awaited where it is made. An async helper's call whose
    coroutine is dropped (a bare ``self.phase_one(ctx)`` statement, also through a sync helper
    returning it) is reported too: the helper and its entries never run.

    Autofix: adds ``await`` when the call is a statement, an assignment value or a return value
    inside an ``async def``.
    """

    CODE = "RVT011"
    MESSAGE = "context call is not awaited; write `await` before it"
    VALID = (
        Valid(
            """
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    message = await ctx.queue.next("wait", completable=True)
                    value = await ctx.step("double", lambda: message.body * 2)
                    await message.complete(value)
                    return await ctx.step("done", self.done)
            """
        ),
        Valid(
            """
            from rivet_dsl import Actor, WorkflowContext, workflow

            def do_apply(ctx: WorkflowContext, value: int):
                return ctx.step("apply", print, value)

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    await do_apply(ctx, 1)
            """
        ),
    )
    INVALID = (
        Invalid(
            """
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    ctx.step("x", self.f)
            """,
            line=6,
            col=9,
            expected_message="`ctx.step(...)` is not awaited",
            expected_replacement="""
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    await ctx.step("x", self.f)
            """,
        ),
        Invalid(
            """
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    async def each(loop: WorkflowContext) -> None:
                        message = await loop.queue.next("wait", completable=True)
                        result = loop.step("work", self.work, message.body)
                        message.complete(result)
                    await ctx.loop("l", each)
            """,
            line=8,
            expected_replacement="""
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    async def each(loop: WorkflowContext) -> None:
                        message = await loop.queue.next("wait", completable=True)
                        result = await loop.step("work", self.work, message.body)
                        await message.complete(result)
                    await ctx.loop("l", each)
            """,
        ),
        Invalid(
            """
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    tasks = [ctx.sleep("a", 1), ctx.sleep("b", 2)]
            """,
            expected_message="`ctx.sleep(...)` is not awaited",
        ),
        Invalid(
            """
            from rivet_dsl import Actor, WorkflowContext, workflow

            def do_apply(ctx: WorkflowContext, value: int):
                return ctx.step("apply", print, value)

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    do_apply(ctx, 1)
            """,
            line=9,
            col=9,
            expected_message="`do_apply(...)` returns a context call that is not awaited",
            expected_replacement="""
            from rivet_dsl import Actor, WorkflowContext, workflow

            def do_apply(ctx: WorkflowContext, value: int):
                return ctx.step("apply", print, value)

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    await do_apply(ctx, 1)
            """,
        ),
        Invalid(
            """
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    self.phase_one(ctx)

                async def phase_one(self, ctx: WorkflowContext) -> None:
                    await ctx.step("one", print)
            """,
            line=6,
            col=9,
            expected_message="`self.phase_one(...)` makes a coroutine that is never awaited",
            expected_replacement="""
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    await self.phase_one(ctx)

                async def phase_one(self, ctx: WorkflowContext) -> None:
                    await ctx.step("one", print)
            """,
        ),
    )

    def __init__(self, model: ModuleModel) -> None:
        super().__init__(model)
        self._returning: set[int] = set()  # sync helper scopes that return an entry for the caller to await
        self._passed_on: list[tuple[Scope, cst.Call]] = []  # other calls a sync helper returns
        self._unawaited: dict[int, tuple[cst.Call, cst.CSTNode | None]] = {}  # other calls, and their fix
        self._dropped: set[int] = set()  # those of them that are a whole statement: the value is lost

    def visit_Call(self, node: cst.Call) -> None:
        scope = self.scope
        assert scope is not None
        parent = self.parent()
        child: cst.CSTNode = node
        depth = 1
        while isinstance(parent, cst.IfExp) and child is not parent.test:  # `await (a if c else b)`
            child, depth = parent, depth + 1
            parent = self.parent(depth)
        if isinstance(parent, cst.Await) and parent.expression is child:
            return
        if isinstance(parent, cst.Lambda) and parent.body is child:
            return  # a lambda inside workflow code (not a scope of its own) returns it to its caller
        returned = _returns(scope, parent, child)
        fix: cst.CSTNode | None = None
        if scope.is_async and isinstance(parent, _FIXABLE_PARENTS):
            fix = cst.Await(expression=node)
        label = self._label(node, scope)
        if label is None:  # maybe a helper that returns an entry: known once every scope is walked
            if returned:
                self._passed_on.append((scope, node))
            else:
                self._unawaited[id(node)] = (node, fix)
                if isinstance(parent, cst.Expr):
                    self._dropped.add(id(node))
        elif returned:
            self._returning.add(id(scope))  # the caller awaits it (checked in `finish`)
        else:
            self.report(node, f"{label} is not awaited; write `await` before it", replacement=fix)

    def finish(self) -> None:
        """Report each call of a sync helper that returns an entry, where the caller does not await it,
        and each dropped call of an async helper (or of a sync helper that returns its coroutine)."""
        runs = _helper_calls(self.model.scopes)
        entries = self._passed_through(self._returning, runs)
        coroutines = self._passed_through({id(s) for s in self.model.scopes if _makes_coroutine(s)}, runs)
        reported: set[int] = set()
        calls: Collection[int]
        for scope in self.model.scopes:
            if id(scope) in entries:
                template, calls = "`{}(...)` returns a context call that is not awaited", self._unawaited.keys()
            elif id(scope) in coroutines:
                # a coroutine kept in a variable may be awaited later: only a dropped one surely never runs
                template, calls = "`{}(...)` makes a coroutine that is never awaited: the helper and its entries never run", self._dropped
            else:
                continue
            for site in scope.sites:
                if site.node is None or id(site.node) not in calls or id(site.node) in reported:
                    continue
                reported.add(id(site.node))
                call, fix = self._unawaited[id(site.node)]
                name = cst.Module(body=[]).code_for_node(call.func)
                self.report(call, template.format(name) + "; write `await` before it", replacement=fix)

    def _passed_through(self, seeds: set[int], runs: dict[int, list[Scope]]) -> set[int]:
        """``seeds`` and the sync helpers returning a call of one of them (``def a(ctx): return b(ctx)``
        returns what ``b`` returns), transitively."""
        returning = set(seeds)
        grew = True
        while grew:
            grew = False
            for scope, call in self._passed_on:
                if id(scope) not in returning and any(id(h) in returning for h in runs.get(id(call), ())):
                    returning.add(id(scope))
                    grew = True
        return returning

    @staticmethod
    def _label(node: cst.Call, scope: Scope) -> str | None:
        """How to name ``node`` when it is a context call or ``message.complete(...)``."""
        found = context_method(node, scope.visible)
        if found is not None:
            return f"`{found[1].value}.{found[0]}(...)`"
        func = node.func
        if (
            isinstance(func, cst.Attribute)
            and func.attr.value == "complete"
            and isinstance(func.value, cst.Name)
            and func.value.value in scope.messages
        ):
            return f"`{func.value.value}.complete(...)`"
        return None


def _returns(scope: Scope, parent: cst.CSTNode | None, child: cst.CSTNode) -> bool:
    """``child`` is what a sync function (not the workflow itself) returns: ``return ctx.step(...)``,
    or a lambda body. A loop body or branch returns it to the runtime, which awaits it; a helper
    returns it to its caller, which must."""
    if scope.kind == "workflow" or scope.is_async:
        return False
    if isinstance(scope.func, cst.Lambda):
        return scope.func.body is child
    return isinstance(parent, cst.Return)


def _makes_coroutine(scope: Scope) -> bool:
    """A call of this helper makes a coroutine: an ``async def`` without decorators (what another
    decorator returns is unknown; it may schedule the coroutine itself), or a static or class method."""
    func = scope.func
    if scope.kind != "helper" or not scope.is_async or not isinstance(func, cst.FunctionDef):
        return False
    return all(_decorator_name(d) in ("staticmethod", "classmethod") for d in func.decorators)


def _decorator_name(decorator: cst.Decorator) -> str | None:
    return decorator.decorator.value if isinstance(decorator.decorator, cst.Name) else None


def _helper_calls(scopes: Sequence[Scope]) -> dict[int, list[Scope]]:
    """Each call that runs a helper -> the helper scopes it runs (one per history it is walked in)."""
    runs: dict[int, list[Scope]] = {}
    for scope in scopes:
        for site in scope.sites:
            if site.node is not None:
                runs.setdefault(id(site.node), []).append(scope)
    return runs
