"""What counts as workflow code: scopes, step code, helpers, name resolution, uniqueness."""

from __future__ import annotations

import sys
import textwrap

import pytest

from rivet_dsl.lint import lint_source

HEADER = "import time\nimport rivet_dsl\nfrom rivet_dsl import Actor, WorkflowContext, action, workflow\n"


def codes(source: str) -> list[tuple[int, str]]:
    return [(v.line, v.code) for v in lint_source(HEADER + textwrap.dedent(source))]


def test_step_code_by_reference_nested_def_lambda_and_rollback_is_not_checked() -> None:
    assert (
        codes(
            """
            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    def compute() -> float:
                        return time.time() + self.state.value
                    await ctx.step("c", compute)
                    await ctx.step("d", time.time, rollback=lambda r, out: time.sleep(out))
                    await ctx.step("e", fn=lambda: open("x").read())
            """
        )
        == []
    )


def test_nested_helper_that_is_not_a_step_is_workflow_code() -> None:
    assert codes(
        """
        class A(Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                def helper() -> float:
                    return time.time()
                await ctx.step("c", self.save, helper())
        """
    ) == [(9, "RVT003")]


def test_step_arguments_are_evaluated_in_workflow_code() -> None:
    assert codes(
        """
        class A(Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                await ctx.step("c", self.save, time.time())
        """
    ) == [(8, "RVT003")]


def test_methods_called_with_or_without_the_context_are_workflow_code() -> None:
    # `self.plain()` runs its body in workflow code too: its clock read differs on replay
    assert codes(
        """
        class A(Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                await self.phase_one(ctx)
                await self.plain()

            async def phase_one(self, c: WorkflowContext) -> None:
                c.sleep("nap", time.time())

            async def plain(self) -> float:
                return time.time()
        """
    ) == [(12, "RVT011"), (12, "RVT003"), (15, "RVT003")]


def test_actions_hooks_and_other_classes_are_not_workflow_code() -> None:
    assert (
        codes(
            """
            class A(Actor[None]):
                @action
                async def act(self) -> float:
                    return time.time() + self.state.value

                async def on_wake(self) -> None:
                    time.sleep(1)

            class NotAnActor:
                async def run(self, ctx: object) -> None:
                    time.sleep(1)
            """
        )
        == []
    )


def test_other_workflow_decorators_do_not_count() -> None:
    source = textwrap.dedent(
        """
        import time
        from temporalio import workflow

        class W:
            @workflow.run
            async def run(self, ctx) -> None:
                time.sleep(1)

        def workflow(fn):
            return fn
        """
    )
    assert lint_source(source) == []


def test_module_alias_decorator_and_loop_body_module_function() -> None:
    assert codes(
        """
        async def body(loop: WorkflowContext) -> None:
            await loop.sleep("nap", time.monotonic())

        class A(Actor[None]):
            @rivet_dsl.workflow
            async def run(self, ctx: WorkflowContext) -> None:
                await ctx.loop("l", body)
                await ctx.loop("m", lambda loop: self.each(loop))

            async def each(self, loop: WorkflowContext) -> None:
                time.sleep(1)
        """
    ) == [(6, "RVT003"), (15, "RVT008")]


def test_names_unique_per_function_with_exclusive_arms() -> None:
    assert codes(
        """
        class A(Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                match self.key:
                    case ("a",):
                        await ctx.step("save", self.a)
                    case _:
                        await ctx.step("save", self.b)
                try:
                    await ctx.step("try", self.a)
                except ValueError:
                    await ctx.step("try", self.b)
                x = await (ctx.step("t", self.a) if self.key else ctx.step("t", self.b))
                async def each(loop: WorkflowContext) -> None:
                    await loop.step("save", self.a)
                await ctx.loop("each", each)
        """
    ) == [(16, "RVT002")]


def test_code_after_a_returning_arm_is_exclusive_but_not_after_a_plain_arm() -> None:
    assert codes(
        """
        class A(Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                if self.key:
                    await ctx.step("a", self.a)
                    raise RuntimeError("stop")
                await ctx.step("a", self.b)
                if self.key:
                    await ctx.step("b", self.a)
                await ctx.step("b", self.b)
        """
    ) == [(14, "RVT002")]


def test_a_method_reused_as_branch_and_helper_is_reported_once() -> None:
    assert codes(
        """
        class A(Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                await ctx.join("j", {"a": self.work, "b": self.work})
                await ctx.race("r", {"c": self.work})
                await self.helper(ctx)
                async def each(loop: WorkflowContext) -> None:
                    await self.helper(loop)
                await ctx.loop("l", each)

            async def work(self, branch: WorkflowContext) -> None:
                await branch.step("w", self.f)
                time.sleep(1)

            async def helper(self, c: WorkflowContext) -> None:
                await c.step("h", self.f)
        """
    ) == [(17, "RVT008")]


def test_loop_state_parameter_and_branch_without_parameter() -> None:
    assert codes(
        """
        class A(Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                async def count(loop: WorkflowContext, total: int) -> int:
                    await loop.step("tick", self.tick)
                    return total + 1
                await ctx.loop("count", count, state=0)
                async def bare() -> int:
                    return await ctx.step("b", self.b)
                await ctx.join("j", {"bare": bare})
        """
    ) == [(13, "RVT012")]


def test_user_code_is_never_imported() -> None:
    source = HEADER + "import this_module_does_not_exist\nraise SystemExit('imported!')\n"
    assert lint_source(source, "never_imported.py") == []
    assert "never_imported" not in sys.modules


def test_file_without_rivet_dsl_is_skipped_cheaply() -> None:
    assert lint_source("import time\nclass A:\n    async def run(self, ctx):\n        time.sleep(1)\n") == []


@pytest.mark.parametrize(
    "call",
    [
        'ctx.step("a", self.f)',
        'ctx.loop("a", self.f)',
        'ctx.queue.next("a")',
        'ctx.queue.next_batch("a", count=2)',
        'ctx.sleep_until("a", 5)',
        'ctx.join("a", {})',
        'ctx.race("a", {})',
        'ctx.rollback_checkpoint("a")',
        'ctx.removed("a", "step")',
        'ctx.get_version("a", 2)',
    ],
)
def test_every_context_call_must_be_awaited(call: str) -> None:
    assert codes(
        f"""
        class A(Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                {call}
        """
    ) == [(8, "RVT011")]


def test_await_fix_only_where_await_is_legal_and_fix_is_idempotent() -> None:
    from rivet_dsl.lint import fix_source

    source = HEADER + textwrap.dedent(
        """
        class A(Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                def sync_helper() -> None:
                    ctx.sleep("nap", 1)
                sync_helper()
                ctx.step("s", self.f)
                time.sleep(1)
        """
    )
    findings = lint_source(source)
    assert [(v.code, v.fixable) for v in findings] == [("RVT011", False), ("RVT011", True), ("RVT008", False)]
    fixed = fix_source(source)
    assert fixed == source.replace('        ctx.step("s"', '        await ctx.step("s"')
    assert fix_source(fixed) == fixed
    assert [v.code for v in lint_source(fixed)] == ["RVT011", "RVT008"]


def test_entries_of_helpers_count_toward_the_calling_scope() -> None:
    assert codes(
        """
        class A(Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                async def phase(c: WorkflowContext) -> None:
                    await c.step("load", self.f)
                await ctx.step("load", self.f)
                await phase(ctx)
                await self.phase2(ctx)

            async def phase2(self, c: WorkflowContext) -> None:
                await c.step("load", self.f)
        """
    ) == [(9, "RVT002"), (15, "RVT002")]


def test_helpers_called_in_exclusive_arms_or_after_a_returning_arm_do_not_clash() -> None:
    assert codes(
        """
        class A(Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                if await ctx.get_version("gate", 2) == 2:
                    await self.v2(ctx)
                    return
                if self.key:
                    await self.v1(ctx)
                else:
                    await ctx.step("other", self.f)
                await ctx.step("save", self.f)

            async def v1(self, c: WorkflowContext) -> None:
                if self.key:
                    await c.step("other", self.f)
                    return
                await c.step("again", self.f)
                await c.step("again", self.f)

            async def v2(self, c: WorkflowContext) -> None:
                await c.step("save", self.f)
        """
    ) == [(22, "RVT002")]


def test_code_after_a_match_arm_ending_in_return_does_not_clash() -> None:
    assert codes(
        """
        class A(Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                match self.key:
                    case ("a",):
                        await ctx.step("x", self.f)
                        return
                    case _:
                        await ctx.step("y", self.f)
                await ctx.step("x", self.f)
                await ctx.step("y", self.f)
        """
    ) == [(15, "RVT002")]


def test_a_lambda_held_in_a_variable_is_step_code_when_passed_to_a_step() -> None:
    assert codes(
        """
        class A(Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                bump = lambda: self.state.value + 1
                await ctx.step("bump", bump)
                each = lambda loop: loop.step("tick", self.f)
                await ctx.loop("each", each)
                stamp = lambda: time.time()
                await ctx.step("stamp", self.save, stamp())
        """
    ) == [(12, "RVT003")]


def test_helper_methods_with_other_decorators_are_workflow_code() -> None:
    assert codes(
        """
        def traced(fn):
            return fn

        class A(Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                await self.phase(ctx)
                await self.get(ctx)

            @traced
            async def phase(self, c: WorkflowContext) -> None:
                await c.step("x", self.f, time.time())

            @action
            async def get(self, c: WorkflowContext) -> None:
                time.sleep(1)
        """
    ) == [(16, "RVT003")]


def test_an_alias_of_self_is_followed_into_closures_but_not_into_step_code() -> None:
    assert codes(
        """
        class A(Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                me = self
                await ctx.step("bump", lambda: me.state.value + 1)
                async def each(loop: WorkflowContext) -> None:
                    await loop.step("tick", me.f, me.conns)
                await ctx.loop("each", each)
        """
    ) == [(11, "RVT010")]
