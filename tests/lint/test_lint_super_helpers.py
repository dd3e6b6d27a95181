"""``super().helper(ctx)`` runs the next class's helper in the actor's method resolution order."""

from __future__ import annotations

import textwrap

from rivet_dsl.lint import lint_source

HEADER = "import time\nfrom rivet_dsl import Actor, WorkflowContext, action, workflow\n"


def found(source: str) -> list[tuple[int, str]]:
    return [(v.line, v.code) for v in lint_source(HEADER + textwrap.dedent(source))]


def test_a_base_helper_called_through_super_is_workflow_code() -> None:
    # awaited or not, with or without the context, and `super(Counter, self)`: the base's own
    # method runs, not the actor's override of the same name
    assert found(
        """
        class Base:
            async def helper(self, ctx: WorkflowContext) -> None:
                time.time()

            def plain(self) -> None:
                self.state.count = 0

            async def explicit(self, ctx: WorkflowContext) -> None:
                self.client()

        class Counter(Base, Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                await super().helper(ctx)
                super().plain()
                await super(Counter, self).explicit(ctx)

            async def helper(self, ctx: WorkflowContext) -> None:
                await ctx.step("own", self.f)

            def plain(self) -> None: ...
            def f(self) -> None: ...
        """
    ) == [(6, "RVT003"), (9, "RVT010"), (12, "RVT010")]


def test_super_in_a_helper_starts_after_the_class_that_defines_it() -> None:
    # `Middle.helper` calls `super().helper(ctx)`: that is `Root.helper`, whose entries land in the
    # workflow's history too (its entry clashes with the workflow's own: RVT002)
    assert found(
        """
        class Root:
            async def helper(self, ctx: WorkflowContext) -> None:
                await ctx.step("dup", self.f)
                time.time()

            def f(self) -> None: ...

        class Middle(Root):
            async def helper(self, ctx: WorkflowContext) -> None:
                await super().helper(ctx)

        class Counter(Middle, Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                await ctx.step("dup", self.f)
                await self.helper(ctx)
        """
    ) == [(6, "RVT002"), (7, "RVT003")]


def test_super_of_a_decorated_or_unknown_method_is_not_followed() -> None:
    # an `@action` of the base is not workflow code; a base imported from elsewhere is unknown
    assert found(
        """
        from elsewhere import Remote

        class Base:
            @action
            async def act(self, ctx: WorkflowContext) -> None:
                time.time()

        class Counter(Base, Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                await super().act(ctx)
                await super().missing(ctx)

        class Other(Remote, Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                await super().remote(ctx)
        """
    ) == []


def test_super_stops_at_a_base_imported_from_elsewhere() -> None:
    # `Middle(Remote)`: `Remote` comes before `Root` in the order and may define `helper`
    assert found(
        """
        from elsewhere import Remote

        class Root:
            async def helper(self, ctx: WorkflowContext) -> None:
                time.time()

        class Middle(Remote):
            pass

        class Counter(Middle, Root, Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                await super().helper(ctx)
        """
    ) == []
