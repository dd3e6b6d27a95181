"""RVT011 and async helpers: a call whose coroutine is dropped never runs the helper's entries."""

from __future__ import annotations

import textwrap

from rivet_dsl.lint import fix_source, lint_source

HEADER = "import asyncio\nfrom functools import partial\nfrom rivet_dsl import Actor, WorkflowContext, workflow\n"


def found(source: str) -> list[tuple[int, str]]:
    return [(v.line, v.code) for v in lint_source(HEADER + textwrap.dedent(source)) if v.code == "RVT011"]


def test_a_dropped_call_of_an_async_helper_is_reported() -> None:
    # an async method, a module function given the context, a nested function, a partial, a sync
    # helper returning an async helper's coroutine, and a call in a loop body: each is a statement
    # whose coroutine is never awaited, so the helper's entries silently never run
    assert found(
        """
        async def audit(ctx: WorkflowContext) -> None:
            await ctx.step("audit", print)

        class A(Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                self.phase_one(ctx)
                audit(ctx)
                async def pay() -> None:
                    await ctx.step("pay", print)
                pay()
                p = partial(self.phase_two, ctx)
                p()
                self.start(ctx)
                async def each(loop: WorkflowContext) -> None:
                    self.phase_three(loop)
                await ctx.loop("l", each)

            async def phase_one(self, ctx: WorkflowContext) -> None:
                await ctx.step("one", print)

            async def phase_two(self, ctx: WorkflowContext) -> None:
                await ctx.step("two", print)

            async def phase_three(self, ctx: WorkflowContext) -> None:
                await ctx.step("three", print)

            def start(self, ctx: WorkflowContext):
                return self.phase_four(ctx)

            async def phase_four(self, ctx: WorkflowContext) -> None:
                await ctx.step("four", print)
        """
    ) == [(11, "RVT011"), (12, "RVT011"), (15, "RVT011"), (17, "RVT011"), (18, "RVT011"), (20, "RVT011")]


def test_the_message_names_the_coroutine_and_the_fix_awaits_it() -> None:
    source = HEADER + textwrap.dedent(
        """
        class A(Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                self.phase_one(ctx)

            async def phase_one(self, ctx: WorkflowContext) -> None:
                await ctx.step("one", print)
        """
    )
    (violation,) = lint_source(source)
    assert violation.code == "RVT011" and (violation.line, violation.col) == (8, 9)
    assert violation.message.startswith("`self.phase_one(...)` makes a coroutine that is never awaited")
    assert "await self.phase_one(ctx)" in fix_source(source)


def test_a_coroutine_that_is_awaited_kept_or_handed_on_is_not_reported() -> None:
    # awaited (also through a conditional expression or a sync helper that returns it), kept in a
    # variable and awaited later, returned by a lambda loop body (the runtime awaits it), or given
    # to asyncio (RVT007 reports that, not RVT011); a sync helper's dropped call is fine
    assert found(
        """
        class A(Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                await self.phase(ctx)
                await (self.phase(ctx) if self.ready() else self.other(ctx))
                await self.start(ctx)
                pending = self.other(ctx)
                await pending
                await ctx.loop("l", lambda loop: self.phase(loop))
                asyncio.create_task(self.phase(ctx))
                self.ready()

            async def phase(self, ctx: WorkflowContext) -> None:
                await ctx.step("one", print)

            async def other(self, ctx: WorkflowContext) -> None:
                await ctx.step("two", print)

            def start(self, ctx: WorkflowContext):
                return self.other(ctx)

            def ready(self) -> bool:
                return True
        """
    ) == []


def test_a_helper_behind_an_unknown_decorator_is_not_reported() -> None:
    # what the decorator returns is unknown (it may schedule the coroutine itself)
    assert found(
        """
        def fire_and_forget(fn):
            return fn

        class A(Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                self.notify(ctx)

            @fire_and_forget
            async def notify(self, ctx: WorkflowContext) -> None:
                await ctx.step("notify", print)
        """
    ) == []
