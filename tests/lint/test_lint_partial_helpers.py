"""A helper bound with ``functools.partial`` and then called is followed like a direct call."""

from __future__ import annotations

import textwrap

from rivet_dsl.lint import lint_source

HEADER = "import functools\nimport time\nfrom functools import partial\nfrom rivet_dsl import Actor, WorkflowContext, workflow\n"


def found(source: str) -> list[tuple[int, str]]:
    return [(v.line, v.code) for v in lint_source(HEADER + textwrap.dedent(source))]


def test_a_partial_of_a_module_helper_given_self_sees_the_actor() -> None:
    # `partial(bump, self)` then `await p(ctx)` is `await bump(self, ctx)`: `actor` is the actor
    # (RVT010) and the body is workflow code (RVT003); also with the context bound in the partial,
    # by keyword, and called right away
    assert found(
        """
        async def bump(actor: "Counter", ctx: WorkflowContext) -> None:
            actor.state.count += 1

        async def stamp(actor: "Counter", ctx: WorkflowContext) -> None:
            time.time()

        def by_keyword(*, actor: "Counter") -> None:
            actor.conns.clear()

        async def direct(actor: "Counter", ctx: WorkflowContext) -> None:
            actor.client()

        class Counter(Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                p = partial(bump, self)
                await p(ctx)
                both = functools.partial(stamp, self, ctx)
                await both()
                kw = partial(by_keyword, actor=self)
                kw()
                await functools.partial(direct, self)(ctx)
        """
    ) == [(7, "RVT010"), (10, "RVT003"), (13, "RVT010"), (16, "RVT010")]


def test_a_partial_of_a_method_is_followed() -> None:
    # `partial(self.phase)` and `partial(self.phase_two, ctx)`: both bodies are workflow code
    assert found(
        """
        class Counter(Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                one = partial(self.phase)
                await one(ctx)
                two = partial(self.phase_two, ctx)
                await two()

            async def phase(self, ctx: WorkflowContext) -> None:
                time.time()

            async def phase_two(self, ctx: WorkflowContext) -> None:
                self.state.count = 1
        """
    ) == [(15, "RVT003"), (18, "RVT010")]


def test_entries_of_a_partial_helper_land_in_the_caller_history() -> None:
    # the helper's step clashes with the workflow's own name (RVT002 at the helper's entry), and
    # a closure calling the partial bound in its enclosing function is followed too
    assert found(
        """
        async def charge(actor: "Counter", ctx: WorkflowContext) -> None:
            await ctx.step("charge", print)

        async def audit(actor: "Counter", ctx: WorkflowContext) -> None:
            time.time()

        class Counter(Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                await ctx.step("charge", print)
                p = partial(charge, self)
                await p(ctx)
                a = partial(audit, self)
                async def later() -> None:
                    await a(ctx)
                await later()
        """
    ) == [(7, "RVT002"), (10, "RVT003")]


def test_a_partial_given_to_a_step_or_rebound_is_not_followed() -> None:
    # a partial passed to `ctx.step` is step code; a name rebound to something else, or bound by
    # another function named `partial`, does not call the helper
    assert found(
        """
        def other_partial(fn, *args):
            return fn

        async def bump(actor: "Counter", ctx: WorkflowContext) -> None:
            actor.state.count += 1

        class Counter(Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                p = partial(bump, self)
                await ctx.step("bump", p, ctx)
                q = partial(bump, self)
                q = print
                q(ctx)
                r = other_partial(bump, self)
                r(ctx)
        """
    ) == []
