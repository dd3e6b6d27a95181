"""RVT002 follows helper calls: a helper called twice in one history makes its entries twice."""

from __future__ import annotations

import textwrap

from rivet_dsl.lint import lint_source
from rivet_dsl.lint._engine import lint_file

HEADER = "from rivet_dsl import Actor, WorkflowContext, workflow\n"


def found(source: str) -> list[tuple[int, str]]:
    return [(v.line, v.code) for v in lint_source(HEADER + textwrap.dedent(source))]


def messages(source: str) -> list[str]:
    return [v.message for v in lint_source(HEADER + textwrap.dedent(source)) if v.code == "RVT002"]


def test_a_helper_called_twice_in_one_scope_makes_a_duplicate_name() -> None:
    source = """
        async def audit(ctx: WorkflowContext) -> None:
            await ctx.step("audit", print)

        class A(Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                await self.charge(ctx)
                await self.charge(ctx)
                await audit(ctx)
                await audit(ctx)
                async def inner(c: WorkflowContext) -> None:
                    await c.step("inner", self.f)
                await inner(ctx)
                await inner(ctx)
                async def pay() -> None:
                    await ctx.step("pay", self.f)
                await pay()
                await pay()

            async def charge(self, ctx: WorkflowContext) -> None:
                await ctx.step("charge", self.f)

            def f(self) -> None: ...
        """
    assert found(source) == [(10, "RVT002"), (12, "RVT002"), (16, "RVT002"), (20, "RVT002")]
    assert messages(source)[0] == (
        "this call makes entry 'charge' (line 23) again: the call at line 9 already made it in this scope; "
        "give each entry its own name"
    )


def test_a_helper_in_separate_scopes_or_exclusive_arms_is_fine() -> None:
    # only the second call in the one loop body `b` clashes
    assert (
        found(
            """
            async def audit(ctx: WorkflowContext) -> None:
                await ctx.step("audit", print)

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    async def a(loop: WorkflowContext) -> None:
                        await self.charge(loop)
                        await audit(loop)
                    async def b(loop: WorkflowContext) -> None:
                        await self.charge(loop)
                        await audit(loop)
                        await audit(loop)
                    await ctx.loop("a", a)
                    await ctx.loop("b", b)
                    await ctx.join("j", {"x": a, "y": b})
                    if self.key:
                        await self.charge(ctx)
                    else:
                        await self.charge(ctx)
                    if await ctx.get_version("v", 2) == 2:
                        await audit(ctx)
                        return
                    await audit(ctx)

                async def charge(self, ctx: WorkflowContext) -> None:
                    await ctx.step("charge", self.f)

                def f(self) -> None: ...
            """
        )
        == [(15, "RVT002")]
    )


def test_an_entry_a_helper_may_skip_is_not_reported_when_it_is_called_twice() -> None:
    # an argument may decide whether the entry is made: only unconditional entries clash
    assert (
        found(
            """
            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    await self.maybe(ctx, True)
                    await self.maybe(ctx, False)
                    await self.rec(ctx, 3)

                async def maybe(self, ctx: WorkflowContext, first: bool) -> None:
                    if first:
                        await ctx.step("if", self.f)
                    ok = first and await ctx.step("and", self.f)
                    for _ in [first]:
                        await ctx.step("for", self.f)
                    try:
                        await ctx.step("try", self.f)
                        await ctx.step("after", self.f)
                    except ValueError:
                        await ctx.step("except", self.f)
                    if ok:
                        return
                    await ctx.step("late", self.f)

                async def rec(self, ctx: WorkflowContext, n: int) -> None:
                    if n:
                        await self.rec(ctx, n - 1)

                def f(self) -> None: ...
            """
        )
        # "try" (the first statement of the try body) is made on every call
        == [(7, "RVT002")]
    )


def test_helpers_reached_through_other_helpers_and_names_made_after_the_second_call() -> None:
    assert found(
        """
        class A(Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                await self.h1(ctx)
                await self.h2(ctx)

            @workflow
            async def mixed(self, ctx: WorkflowContext) -> None:
                if await ctx.get_version("v", 2) == 2:
                    await self.h3(ctx)
                    return
                await self.h3(ctx)
                await ctx.step("h3", self.f)

            async def h1(self, c: WorkflowContext) -> None:
                await self.h3(c)

            async def h2(self, c: WorkflowContext) -> None:
                await self.h3(c)
                await self.h3(c)

            async def h3(self, c: WorkflowContext) -> None:
                await c.step("h3", self.f)

            def f(self) -> None: ...
        """
    ) == [(7, "RVT002"), (15, "RVT002"), (22, "RVT002")]


def test_a_module_helper_counts_in_every_loop_body_that_calls_it() -> None:
    source = HEADER + textwrap.dedent(
        """
        async def audit(ctx: WorkflowContext) -> None:
            await ctx.step("audit", print)

        class A(Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                async def a(loop: WorkflowContext) -> None:
                    await audit(loop)
                async def b(loop: WorkflowContext) -> None:
                    await audit(loop)
                await ctx.loop("a", a)
                await ctx.loop("b", b)
        """
    )
    result = lint_file(source)
    assert result.violations == []
    audit = [{"name": "audit", "type": "step"}]
    assert result.trees == {
        "A.run": [{"name": "a", "type": "loop", "children": audit}, {"name": "b", "type": "loop", "children": audit}]
    }
