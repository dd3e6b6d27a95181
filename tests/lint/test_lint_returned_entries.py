"""RVT011 and sync helpers that return a context call: the caller awaits it, or it is reported."""

from __future__ import annotations

import textwrap

from rivet_dsl.lint import fix_source, lint_source

HEADER = "from rivet_dsl import Actor, WorkflowContext, workflow\n"


def found(source: str) -> list[tuple[int, str]]:
    return [(v.line, v.code) for v in lint_source(HEADER + textwrap.dedent(source)) if v.code == "RVT011"]


def test_a_sync_helper_may_return_the_entry_for_its_caller_to_await() -> None:
    # module, method, nested and lambda helpers, a conditional return, a helper returning another
    # helper's entry, and a sync loop body (the runtime awaits what it returns): all awaited
    assert found(
        """
        def do_apply(ctx: WorkflowContext, value: int):
            return ctx.step("apply", print, value)

        def either(ctx: WorkflowContext, fast: bool):
            return ctx.step("fast", print) if fast else ctx.sleep("slow", 1)

        def relay(ctx: WorkflowContext):
            return do_apply(ctx, 2)

        class A(Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                await do_apply(ctx, 1)
                await either(ctx, True)
                value = await self.save(ctx)
                def nested(c: WorkflowContext):
                    return c.step("nested", print)
                await nested(ctx)
                later = lambda c: c.step("lambda", print)
                await later(ctx)
                def each(loop: WorkflowContext):
                    return loop.step("each", print)
                await ctx.loop("loop", each)
                await relay(ctx)

            def save(self, ctx: WorkflowContext):
                return ctx.step("save", print)
        """
    ) == []


def test_the_caller_of_a_helper_returning_an_entry_must_await_it() -> None:
    # every call below drops or stores the returned entry without awaiting it where it is made
    assert found(
        """
        def do_apply(ctx: WorkflowContext, value: int):
            return ctx.step("apply", print, value)

        def relay(ctx: WorkflowContext):
            return do_apply(ctx, 2)

        class A(Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                do_apply(ctx, 1)
                pending = self.save(ctx)
                later = lambda c: c.step("lambda", print)
                later(ctx)
                relay(ctx)

            def save(self, ctx: WorkflowContext):
                return ctx.step("save", print)
        """
    ) == [(12, "RVT011"), (13, "RVT011"), (15, "RVT011"), (16, "RVT011")]


def test_entries_a_helper_makes_but_does_not_return_are_still_reported() -> None:
    # a sync helper that drops the entry, stores it before returning it, or an async helper that
    # returns it unawaited (its caller's `await` yields the entry, never runs it)
    assert found(
        """
        def drop(ctx: WorkflowContext) -> None:
            ctx.step("drop", print)

        def stored(ctx: WorkflowContext):
            pending = ctx.step("stored", print)
            return pending

        async def coroutine(ctx: WorkflowContext):
            return ctx.step("coroutine", print)

        class A(Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                drop(ctx)
                await stored(ctx)
                await coroutine(ctx)
        """
    ) == [(4, "RVT011"), (7, "RVT011"), (11, "RVT011")]


def test_the_fix_awaits_the_helper_call() -> None:
    # the caller is an `async def` and the call is a statement: `await` goes before it
    source = HEADER + textwrap.dedent(
        """
        def do_apply(ctx: WorkflowContext, value: int):
            return ctx.step("apply", print, value)

        class A(Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                do_apply(ctx, 1)
        """
    )
    assert "\n        await do_apply(ctx, 1)\n" in fix_source(source)
