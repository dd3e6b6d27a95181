"""RVT002: entry names are unique within their scope."""

from __future__ import annotations

from .._model import EntryCall
from .._types import Invalid, Valid
from ..rule import LintRule

__all__ = ["UniqueEntryName"]


class UniqueEntryName(LintRule):
    """Two entries with one name in one scope raise ``HistoryDivergedError`` on the second one.

    A scope is one function: the workflow, a loop body or a branch; entries made by the helpers it
    calls land in its history, so they count as made at the call. Names in the mutually exclusive
    arms of one ``if``/``elif``/``else`` (or ``match``), or after an arm that returns, do not clash.
    """

    CODE = "RVT002"
    MESSAGE = "entry name is already used in this scope; give each entry its own name"
    VALID = (
        Valid(
            """
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    async def a(branch: WorkflowContext) -> int:
                        return await branch.step("fetch", self.fetch_a)
                    async def b(branch: WorkflowContext) -> int:
                        return await branch.step("fetch", self.fetch_b)
                    await ctx.join("fetch", {"a": a, "b": b})
                    if await ctx.get_version("gate", 2) == 2:
                        await ctx.step("save", self.save_v2)
                    elif self.key:
                        await ctx.step("save", self.save_v1b)
                    else:
                        await ctx.step("save", self.save_v1)
            """
        ),
        Valid(
            """
            from rivet_dsl import Actor, Loop, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    async def each(loop: WorkflowContext) -> Loop[None] | None:
                        ok = await loop.step("poll", self.poll)
                        if ok:
                            await loop.sleep("wait", 1.0)
                            return None
                        await loop.sleep("wait", 5.0)
                        return None
                    await ctx.loop("poll-loop", each)
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
                    await ctx.step("load", self.load)
                    await ctx.sleep("load", 1.0)
            """,
            line=7,
            col=25,
            expected_message="entry name 'load' is already used at line 6",
        ),
        Invalid(
            """
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    async def each(loop: WorkflowContext) -> None:
                        if self.key:
                            await loop.step("work", self.a)
                        await loop.step("work", self.b)
                    await ctx.loop("l", each)
            """,
            line=9,
        ),
    )

    def finish(self) -> None:
        groups: dict[tuple[int, str], list[EntryCall]] = {}
        for entry in self.model.entries:
            name = entry.name
            if name is None:
                continue
            # helpers share the history of the scope that calls them (entry_owner)
            previous = groups.setdefault((id(entry.scope.entry_owner), name), [])
            for earlier in previous:
                if not earlier.exclusive_with(entry):
                    node = entry.name_node
                    assert node is not None
                    line = self.model.position(earlier.node).start.line
                    self.report(
                        node,
                        f"entry name {name!r} is already used at line {line} in this scope; "
                        "give each entry its own name",
                    )
                    break
            previous.append(entry)
