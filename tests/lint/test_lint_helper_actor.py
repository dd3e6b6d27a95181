"""A helper the workflow passes ``self`` to sees the actor in that parameter (RVT010 and friends)."""

from __future__ import annotations

import textwrap

from rivet_dsl.lint import lint_source

HEADER = "import time\nfrom rivet_dsl import Actor, WorkflowContext, workflow\n"


def found(source: str) -> list[tuple[int, str]]:
    return [(v.line, v.code) for v in lint_source(HEADER + textwrap.dedent(source))]


def test_state_through_a_parameter_bound_to_self_is_reported() -> None:
    # each helper touches actor state outside a step through the parameter that received `self`,
    # positionally, by keyword, with or without a context, and through a local alias of it
    assert found(
        """
        async def bump(actor: "Counter", ctx: WorkflowContext) -> None:
            actor.state.count += 1

        async def by_keyword(ctx: WorkflowContext, *, actor: "Counter") -> None:
            actor.state.count += 1

        def without_context(actor: "Counter") -> int:
            a = actor
            return a.state.count

        class Counter(Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                await bump(self, ctx)
                await by_keyword(ctx, actor=self)
                without_context(self)
        """
    ) == [(5, "RVT010"), (8, "RVT010"), (12, "RVT010")]


def test_a_nested_helper_and_closures_see_the_actor_parameter() -> None:
    # the nested helper `inner(a)` gets `self` as `a`; the closure `each` of a module helper
    # (a loop body) uses the helper's actor parameter
    assert found(
        """
        async def phase(actor: "Counter", ctx: WorkflowContext) -> None:
            async def each(loop: WorkflowContext) -> None:
                actor.client()
            await ctx.loop("l", each)

        class Counter(Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                async def inner(a: "Counter") -> None:
                    a.state.count = 2
                await inner(self)
                await phase(self, ctx)
        """
    ) == [(6, "RVT010"), (13, "RVT010")]


def test_the_actor_parameter_inside_step_code_is_fine() -> None:
    # every access through `actor` is inside a step function: nothing to report; the clock read
    # in the helper proves the helper is walked at all
    assert found(
        """
        async def bump(actor: "Counter", ctx: WorkflowContext) -> None:
            def apply() -> None:
                actor.state.count += 1
            await ctx.step("apply", apply)
            await ctx.step("inline", lambda: actor.state.count + 1)
            await ctx.step("method", actor.save, actor.key)
            time.time()

        class Counter(Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                await bump(self, ctx)
                await ctx.step("by-ref", bump, self, ctx)
                await ctx.step("lambda", lambda: bump(self, ctx))

            def save(self, key: str) -> None: ...
        """
    ) == [(10, "RVT003")]


def test_a_parameter_bound_to_something_else_is_not_the_actor() -> None:
    # `other.state` where `other` received another object is not actor state; a helper called
    # only with unrelated arguments is not workflow code at all (no RVT003 for its clock read)
    assert found(
        """
        def compare(other: "Counter", value: int) -> bool:
            return other.state.count == value

        def stamp(value: int) -> float:
            return time.time() + value

        class Counter(Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                peer = await ctx.step("peer", self.peer)
                compare(peer, 1)
                stamp(1)

            def peer(self) -> "Counter": ...
        """
    ) == []


def test_actor_methods_called_without_a_context_are_workflow_code() -> None:
    # a plain method (no context argument), a static method given `self` through the instance or
    # the class, a plain method called on the class, and a class method: each body runs in
    # workflow code, so its state access is reported once per method
    assert found(
        """
        class Counter(Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                if self.ready():
                    self.static_bump(self)
                    Counter.static_bump(self)
                    Counter.unbound(self, 1)
                    self.with_class(self)

            def ready(self) -> bool:
                return self.state.count > 0

            @staticmethod
            def static_bump(actor: "Counter") -> None:
                actor.state.count += 1

            def unbound(self, value: int) -> None:
                self.state.count = value

            @classmethod
            def with_class(cls, actor: "Counter") -> None:
                actor.conns.clear()
        """
    ) == [(14, "RVT010"), (18, "RVT010"), (21, "RVT010"), (25, "RVT010")]


def test_a_static_method_given_the_context_makes_entries_with_it() -> None:
    # `self.pause(ctx)` of a static method binds `ctx` to its first parameter: the unawaited
    # sleep is reported (it was not followed at all), and `ctx` there is no actor
    violations = lint_source(
        HEADER
        + textwrap.dedent(
            """
            class Counter(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    await self.pause(ctx)

                @staticmethod
                async def pause(ctx: WorkflowContext) -> None:
                    ctx.sleep("nap", 1)
            """
        )
    )
    assert [(v.line, v.code) for v in violations] == [(11, "RVT011")]


def test_a_function_a_helper_returns_is_not_run_by_the_helper() -> None:
    # `self.adder(2)` runs in workflow code, but the function it returns is step code here: its
    # state access is fine; the clock read in the factory itself is not
    assert found(
        """
        class Counter(Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                await ctx.step("add", self.adder(2))
                await ctx.step("lambda", self.reader())

            def adder(self, n: int):
                def apply() -> None:
                    self.state.count += n + time.time()
                return apply

            def reader(self):
                time.time()
                return lambda: self.state.count
        """
    ) == [(16, "RVT003")]
