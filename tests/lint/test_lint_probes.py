"""False positives and misses found by probing the analyzer with code users write."""

from __future__ import annotations

import textwrap

from rivet_dsl.lint import lint_source

HEADER = "import functools\nimport time\nimport httpx\nfrom rivet_dsl import Actor, WorkflowContext, workflow\n"


def found(source: str) -> list[tuple[int, str]]:
    return [(v.line, v.code) for v in lint_source(HEADER + textwrap.dedent(source))]


def test_a_nested_function_used_only_by_step_code_is_step_code() -> None:
    assert found(
        """
        class A(Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                def apply(delta: int) -> None:
                    self.state.value += delta
                await ctx.step("apply", lambda: apply(1))
                def compute(delta: int) -> int:
                    return self.state.value + delta
                await ctx.step("compute", functools.partial(compute, 2))
                def outer() -> None:
                    inner()
                def inner() -> None:
                    self.state.value = time.time()
                await ctx.step("outer", outer)
                def used() -> float:
                    return time.time()
                await ctx.step("used", self.save, used())
        """
    ) == [(21, "RVT003")]


def test_annotations_of_local_variables_are_not_evaluated() -> None:
    assert found(
        """
        class A(Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                response: httpx.Response = await ctx.step("get", self.fetch)
                other: httpx.Response = httpx.get("x")
        """
    ) == [(10, "RVT006")]
