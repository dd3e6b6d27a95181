"""RVT010: actor state, clients, connections, broadcasts, queue sends and schedules only in steps."""

from __future__ import annotations

import libcst as cst

from .._model import literal_string
from .._types import Invalid, Valid
from ..rule import LintRule

__all__ = ["StepOnlyActorAccess"]

_STEP_ONLY = {
    "state": "actor state",
    "client": "the actor client",
    "conns": "connections",
    "conn": "the current connection",
    "schedule": "the scheduler",
}


class StepOnlyActorAccess(LintRule):
    """Outside a step these raise ``StepOnlyError`` at run time: their effects are not recorded."""

    CODE = "RVT010"
    MESSAGE = "actor API used in workflow code outside a step; move it into `await ctx.step(...)`"
    VALID = (
        Valid(
            """
            from rivet_dsl import Actor, WorkflowContext, event, queue, workflow

            class A(Actor[None]):
                @queue
                def jobs(self, body: int) -> None: ...

                @event
                def progress(self, value: int) -> None: ...

                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    message = await ctx.queue.next("wait", names=[self.jobs])
                    await ctx.step("apply", self.apply, message.body)
                    await ctx.step("inline", lambda: self.state.value + 1)
                    await ctx.step("notify", lambda: self.progress(1))
                    self.log.info("applied %s", self.key)

                def apply(self, value: int) -> None:
                    self.state.value += value
                    self.progress(self.state.value)
            """
        ),
        Valid(
            """
            from rivet_dsl import Actor, action

            class A(Actor[None]):
                @action
                async def get(self) -> int:
                    return self.state.value
            """
        ),
    )
    INVALID = (
        Invalid(
            """
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    if self.state.value > 3:
                        await ctx.step("big", self.big)
            """,
            line=6,
            col=12,
            expected_message="`self.state` (actor state) is only available inside a step",
        ),
        Invalid(
            """
            from rivet_dsl import Actor, WorkflowContext, event, workflow

            class A(Actor[None]):
                @event
                def progress(self, value: int) -> None: ...

                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    async def each(loop: WorkflowContext) -> None:
                        self.progress(1)
                    await ctx.loop("l", each)
            """,
            line=10,
            expected_message="broadcasting event `progress`",
        ),
        Invalid(
            """
            from rivet_dsl import Actor, WorkflowContext, queue, workflow

            class A(Actor[None]):
                @queue
                def jobs(self, body: int) -> None: ...

                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    await self.jobs.send(1)
            """,
            expected_message="sending to queue `jobs`",
        ),
        Invalid(
            """
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    await ctx.join("j", {"a": self.branch})

                async def branch(self, b: WorkflowContext) -> None:
                    await self.client().other.get_or_create("x").ping()
            """,
            line=9,
            expected_message="`self.client`",
        ),
        Invalid(
            """
            from rivet_dsl import Actor, WorkflowContext, event, workflow

            class A(Actor[None]):
                @event
                def progress(self, value: int) -> None: ...

                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    self.progress.send_to(self.conns[0], 1)
            """,
            expected_message="broadcasting event `progress`",
        ),
        Invalid(
            """
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    actor = self
                    await ctx.step("save", self.save, actor.state.value)
            """,
            line=7,
            col=43,
            expected_message="`self.state` (actor state)",
        ),
        Invalid(
            """
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    client = getattr(self, "client")
            """,
            line=6,
            col=18,
            expected_message="`self.client` (the actor client)",
        ),
    )

    def visit_Attribute(self, node: cst.Attribute) -> None:
        scope = self.scope
        assert scope is not None
        if not scope.is_self(node.value):
            return
        attr = node.attr.value
        what = _STEP_ONLY.get(attr)
        if what is not None:
            self.report(node, f"`self.{attr}` ({what}) is only available inside a step; {self._fix}")
            return
        parent = self.parent()
        if attr in scope.actor.events:
            called = isinstance(parent, cst.Call) and parent.func is node
            targeted = isinstance(parent, cst.Attribute) and parent.attr.value == "send_to"
            if called or targeted:
                self.report(node, f"broadcasting event `{attr}` is only allowed inside a step; {self._fix}")
        elif attr in scope.actor.queues and isinstance(parent, cst.Attribute) and parent.attr.value == "send":
            self.report(node, f"sending to queue `{attr}` is only allowed inside a step; {self._fix}")

    def visit_Call(self, node: cst.Call) -> None:
        """``getattr(self, "state")``: the same access spelled with a literal attribute name."""
        scope = self.scope
        assert scope is not None
        func = node.func
        if not isinstance(func, cst.Name) or func.value != "getattr" or len(node.args) < 2:
            return
        attr = literal_string(node.args[1].value)
        what = _STEP_ONLY.get(attr or "")
        if what is not None and scope.is_self(node.args[0].value):
            self.report(node, f"`self.{attr}` ({what}) is only available inside a step; {self._fix}")

    _fix = "move it into a function passed to `await ctx.step(name, fn)`"
