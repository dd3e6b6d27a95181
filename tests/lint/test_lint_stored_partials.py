"""A ``functools.partial`` kept at module level, or in an attribute of the actor, is followed too."""

from __future__ import annotations

import textwrap

from rivet_dsl.lint import lint_source

HEADER = "import functools\nimport time\nfrom functools import partial\nfrom rivet_dsl import Actor, WorkflowContext, workflow\n"


def found(source: str) -> list[tuple[int, str]]:
    return [(v.line, v.code) for v in lint_source(HEADER + textwrap.dedent(source))]


def test_a_module_level_partial_is_followed() -> None:
    # `charge_twice = partial(charge, times=2)` at module level: `await charge_twice(ctx)` runs
    # `charge(ctx, times=2)` in workflow code, from the workflow and from a helper it calls
    assert found(
        """
        async def charge(ctx: WorkflowContext, times: int) -> None:
            time.time()

        async def bump(actor: "Counter", ctx: WorkflowContext) -> None:
            actor.state.count += 1

        charge_twice = partial(charge, times=2)
        bump_it = functools.partial(bump)

        class Counter(Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                await charge_twice(ctx)
                await bump_it(self, ctx)
        """
    ) == [(7, "RVT003"), (10, "RVT010")]


def test_entries_of_a_module_level_partial_land_in_the_caller_history() -> None:
    assert found(
        """
        async def charge(ctx: WorkflowContext, amount: int) -> None:
            await ctx.step("charge", print, amount)

        charge_one = partial(charge, amount=1)

        class Counter(Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                await charge_one(ctx)
                await charge_one(ctx)
        """
    ) == [(15, "RVT002")]


def test_a_module_level_partial_shadowed_or_rebound_is_not_followed() -> None:
    # a local of the same name, a module name bound twice, or a partial given to a step
    assert found(
        """
        async def charge(ctx: WorkflowContext) -> None:
            time.time()

        stamp = partial(charge)
        twice = partial(charge)
        twice = print
        saved = partial(charge)

        class Counter(Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                stamp = print
                stamp(ctx)
                twice(ctx)
                await ctx.step("saved", saved, 1)
        """
    ) == []


def test_a_partial_stored_on_the_actor_in_the_workflow_is_followed() -> None:
    # `self._charge = partial(charge, ctx)` then `await self._charge()` in the same workflow
    assert found(
        """
        async def charge(ctx: WorkflowContext, amount: int) -> None:
            time.time()

        class Counter(Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                self._charge = partial(charge, ctx)
                await self._charge(1)
        """
    ) == [(7, "RVT003")]
