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


def test_clock_io_timeouts_and_hashing_through_objects_and_aliases() -> None:
    assert found(
        """
        import asyncio
        import os.path
        from pathlib import Path
        from asyncio import get_running_loop as running

        class A(Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                started = running().time()
                loop = asyncio.get_event_loop()
                elapsed = loop.time() - started
                base = Path("data")
                config = (base / "config.json").read_text()
                marker = base / "done"
                if marker.exists() or os.path.exists("other"):
                    return
                shard = hash(self.key) % 4
                async with asyncio.timeout(5):
                    await ctx.step("work", self.work)
                base = "plain"
                name = base.upper() + Path("z").name
        """
    ) == [(14, "RVT003"), (16, "RVT003"), (18, "RVT006"), (20, "RVT006"), (20, "RVT006"), (22, "RVT004"), (23, "RVT007")]


def test_set_order_reaches_the_workflow_through_locals_and_ordering_calls() -> None:
    assert found(
        """
        class A(Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                regions = {"eu", "us"}
                for region in regions:
                    await ctx.step("deploy-" + region, self.deploy, region)
                label = ",".join({"a", "b"})
                items = list(set(self.key))
                for i, region in enumerate(regions | {"ap"}):
                    pass
                first = regions.pop()
                await ctx.step("all", self.deploy, *regions)
                ok = sorted(regions), len(regions), "eu" in regions, max(regions)
                regions = sorted(regions)
                for region in regions:
                    pass
                plain = [1, 2].pop() + len(",".join(["a"]))
        """
    ) == [(10, "RVT009"), (11, "RVT001"), (12, "RVT009"), (13, "RVT009"), (14, "RVT009"), (16, "RVT009"), (17, "RVT009")]


def test_an_entry_that_a_python_loop_can_make_twice_is_a_duplicate_name() -> None:
    source = """
        class A(Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
                for item in self.key:
                    await ctx.step("reserve", self.reserve, item)
                while True:
                    message = await ctx.queue.next("wait", timeout=1.0)
                    if message is None:
                        break
                    await self.handle(ctx, message)
                for attempt in range(3):
                    try:
                        await ctx.step("call", self.call)
                        break
                    except ValueError:
                        pass
                results = [await ctx.step("each", self.reserve, i) for i in self.key]
                while await ctx.step("more", self.call):
                    pass
                for item in self.key:
                    if item == "x":
                        await ctx.step("found", self.call)
                        break
                for item in [self.key]:
                    await ctx.step("single", self.call)
                for item in self.key:
                    await self.maybe(ctx, item)

            async def handle(self, ctx: WorkflowContext, message: object) -> None:
                await ctx.step("apply", self.apply, message)

            async def maybe(self, ctx: WorkflowContext, item: str) -> None:
                if item:
                    await ctx.step("maybe", self.call)
        """
    assert found(source) == [(10, "RVT002"), (12, "RVT002"), (15, "RVT002"), (18, "RVT002"), (22, "RVT002"), (23, "RVT002")]
    message = next(v.message for v in lint_source(HEADER + textwrap.dedent(source)) if v.line == 15)
    assert message == (
        "this call can make entry 'apply' (line 35) again by another pass of the `while` loop at line 11: "
        "one name twice in a scope raises HistoryDivergedError; make repeated entries in `ctx.loop(...)`"
    )
