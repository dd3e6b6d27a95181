"""Methods an actor inherits from a class of the same module are followed like its own."""

from __future__ import annotations

import textwrap

from rivet_dsl.lint import lint_source

HEADER = "import time\nfrom rivet_dsl import Actor, WorkflowContext, event, workflow\n"


def found(source: str) -> list[tuple[int, str]]:
    return [(v.line, v.code) for v in lint_source(HEADER + textwrap.dedent(source))]


def test_a_helper_of_a_base_class_is_workflow_code() -> None:
    # `Base` before the actor base, and a mixin after it: both helpers run in workflow code (the
    # clock read and the state access are reported); the grandparent's helper too
    assert found(
        """
        class Root:
            def deep(self) -> None:
                self.state.count = 0

        class Base(Root):
            async def helper(self, ctx: WorkflowContext) -> None:
                time.time()

        class Mixin:
            async def other(self, ctx: WorkflowContext) -> None:
                self.state.count += 1

        class Counter(Base, Actor[None], Mixin):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                await self.helper(ctx)
                await self.other(ctx)
                self.deep()
        """
    ) == [(6, "RVT010"), (10, "RVT003"), (14, "RVT010")]


def test_an_inherited_helper_makes_entries_in_the_caller_history() -> None:
    # the base helper's step name clashes with the workflow's own (RVT002, at the helper's entry),
    # and its sleep is not awaited (RVT011): both are found only if the helper is followed
    assert found(
        """
        class Base:
            async def charge(self, ctx: WorkflowContext) -> None:
                await ctx.step("charge", print)
                ctx.sleep("nap", 1)

        class Counter(Actor[None], Base):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                await ctx.step("charge", print)
                await self.charge(ctx)
        """
    ) == [(6, "RVT002"), (7, "RVT011")]


def test_the_actor_own_method_wins_over_the_base() -> None:
    # `helper` is overridden by a clean method: the base's clock read is not workflow code; the
    # first base in the list wins over the second (`A.pick` is clean, `B.pick` is not followed)
    assert found(
        """
        class Base:
            async def helper(self, ctx: WorkflowContext) -> None:
                time.time()

        class A:
            def pick(self) -> int:
                return 1

        class B:
            def pick(self) -> float:
                return time.time()

        class Counter(Base, A, B, Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                await self.helper(ctx)
                self.pick()

            async def helper(self, ctx: WorkflowContext) -> None:
                await ctx.step("fine", print)
        """
    ) == []


def test_a_diamond_finds_the_method_of_the_second_base_before_the_shared_one() -> None:
    # `Counter(A, B)`, both deriving from `Root`: the order is Counter, A, B, Root, so `B.f` (clean)
    # runs, not `Root.f`, even though `A` (defined first) inherits `f` from `Root` on its own
    assert found(
        """
        class Root:
            async def f(self, ctx: WorkflowContext) -> None:
                time.time()

        class A(Root):
            pass

        class B(Root):
            async def f(self, ctx: WorkflowContext) -> None:
                await ctx.step("f", print)

        class Counter(A, B, Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                await self.f(ctx)
        """
    ) == []


def test_a_base_method_called_on_the_base_class_is_followed() -> None:
    # `Base.stamp(self)` runs the base's own method even though the actor overrides it
    assert found(
        """
        class Base:
            def stamp(self) -> float:
                return time.time()

        class Counter(Base, Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                Base.stamp(self)

            def stamp(self) -> float:
                return 1.0
        """
    ) == [(6, "RVT003")]


def test_inherited_events_and_decorated_methods_keep_their_kind() -> None:
    # an `@event` of the base called outside a step is RVT010 like the actor's own; a base method
    # decorated `@event` is not followed as a helper (its clock read is not workflow code)
    assert found(
        """
        class Base:
            @event
            def progress(self, value: int) -> None:
                time.time()

        class Counter(Base, Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                self.progress(1)
        """
    ) == [(12, "RVT010")]


def test_unknown_and_imported_bases_are_skipped() -> None:
    # a base from another module, a base only known by an attribute, and a base cycle through
    # the same name do not break the analysis; the method is simply not followed
    assert found(
        """
        import helpers
        from helpers import Imported

        class Cycle(Cycle):
            pass

        class Counter(Imported, helpers.Other, Cycle, Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                await self.helper(ctx)
                time.time()
        """
    ) == [(14, "RVT003")]
