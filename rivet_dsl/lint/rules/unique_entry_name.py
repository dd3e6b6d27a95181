"""RVT002: entry names are unique within their scope."""

from __future__ import annotations

import libcst as cst

from .._model import EntryCall, Path, exclusive, is_first_path, split_index
from .._types import Invalid, Valid
from ..rule import LintRule

__all__ = ["UniqueEntryName"]


class UniqueEntryName(LintRule):
    """Two entries with one name in one scope raise ``HistoryDivergedError`` on the second one.

    A scope is one function: the workflow, a loop body or a branch; entries made by the helpers it
    calls land in its history, so they count as made at the call. Names in the mutually exclusive
    arms of one ``if``/``elif``/``else`` (or ``match``), or after an arm that returns, do not clash.
    A helper called twice in one history makes its entries twice: the second call is reported for
    each entry the helper makes on every call (one not in an ``if`` arm, loop body, handler, ``and``/
    ``or`` operand, or after a ``return`` some calls take: an argument may decide those).
    An entry that a Python ``for``/``while`` loop or a comprehension can make again on another
    pass is reported too, unless a ``break``/``return``/``raise`` surely follows it in that pass.
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
        Invalid(
            """
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    await self.charge(ctx)
                    await self.charge(ctx)

                async def charge(self, ctx: WorkflowContext) -> None:
                    await ctx.step("charge", self.pay)
            """,
            line=7,
            col=15,
            expected_message="this call makes entry 'charge' (line 10) again: the call at line 6 already made it",
        ),
    )

    def finish(self) -> None:
        groups: dict[tuple[int, str], list[tuple[EntryCall, list[Path]]]] = {}
        reported: set[int] = set()  # one report per node
        for entry in self.model.entries:
            name = entry.name
            if name is None:
                continue
            paths = entry.paths()
            for path in paths:
                self._repeated(name, entry, path, reported)
            # helpers share the history of the scope that calls them (entry_owner)
            previous = groups.setdefault((id(entry.scope.entry_owner), name), [])
            for index, path in enumerate(paths):  # a helper called twice makes its entries twice
                for other in paths[:index]:
                    self._clash(name, entry, other, entry, path, reported)
            for earlier, earlier_paths in previous:
                if entry.exclusive_with(earlier):
                    pairs = [(a, b) for a in earlier_paths for b in paths if not is_first_path(a) or not is_first_path(b)]
                else:  # where both are placed, at the first call of their helpers: as always
                    pairs = [(tuple(earlier.sites), tuple(entry.sites))]
                for a, b in pairs:
                    self._clash(name, earlier, a, entry, b, reported)
            previous.append((entry, paths))

    def _repeated(self, name: str, entry: EntryCall, path: Path, reported: set[int]) -> None:
        """Report an entry that a Python loop makes on each of its passes, under one name."""
        for index, site in enumerate(path):
            if site.loop is None or any(below.conditional for below in path[index + 1 :]):
                continue
            target = site.node if site.node is not None else entry.name_node
            if target is None or id(target) in reported:
                return
            reported.add(id(target))
            where = self.model.where
            at = where(site.loop, target)
            if isinstance(site.loop, cst.For | cst.While):
                loop = f"the `{'for' if isinstance(site.loop, cst.For) else 'while'}` loop at {at}"
            else:
                loop = f"the comprehension at {at}"
            made = "entry" if site.node is None else f"this call makes entry {name!r} ({where(entry.node, target)})"
            self.report(
                target,
                (f"entry {name!r} can be made" if site.node is None else made.replace(" makes ", " can make ", 1))
                + f" again by another pass of {loop}: one name twice in a scope raises HistoryDivergedError; "
                "make repeated entries in `ctx.loop(...)`",
            )
            return

    def _clash(self, name: str, first: EntryCall, a: Path, second: EntryCall, b: Path, reported: set[int]) -> None:
        """Report when the ends of two paths can both run; once per reported node."""
        if exclusive(a, b):
            return
        where = self.model.where
        if is_first_path(a) and is_first_path(b):
            node = second.name_node
            assert node is not None
            if id(node) not in reported:
                reported.add(id(node))
                self.report(
                    node,
                    f"entry name {name!r} is already used at {where(first.node, node)} in this scope; "
                    "give each entry its own name",
                )
            return
        index = split_index(a, b)
        if index is None:
            return
        if any(site.conditional for site in [*a[index + 1 :], *b[index + 1 :]]):
            return  # a helper might skip the entry on one of its calls (an argument may decide)
        if a[index].seq > b[index].seq:
            first, a, second, b = second, b, first, a
        later, earlier = b[index], a[index]
        target: cst.CSTNode | None = later.node if first is second or later.node is not None else second.name_node
        assert target is not None
        before = where(first.node, target)
        if earlier.node is not None:
            before += f" (through the call at {where(earlier.node, target)})"
        if first is second:
            message = (
                f"this call makes entry {name!r} ({where(second.node, target)}) again: the call at "
                f"{where(earlier.node, target) if earlier.node is not None else 'line ?'} already made it in this scope; "
                "give each entry its own name"
            )
        elif later.node is None:
            message = f"entry name {name!r} is already used at {before} in this scope; give each entry its own name"
        else:
            message = (
                f"this call makes entry {name!r} ({where(second.node, target)}) again: it is already used at "
                f"{before} in this scope; give each entry its own name"
            )
        assert target is not None
        if id(target) not in reported:
            reported.add(id(target))
            self.report(target, message)
