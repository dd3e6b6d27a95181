"""RVT006: no file, network or process I/O in workflow code outside a step."""

from __future__ import annotations

from .._types import Invalid, Valid
from ._base import BannedName

__all__ = ["NoIO"]


class NoIO(BannedName):
    """Workflow code runs again on every replay, so I/O outside a step is repeated (and not recorded)."""

    CODE = "RVT006"
    CATEGORY = "io"
    MESSAGE = "I/O in workflow code outside a step; do it inside `await ctx.step(...)`"
    VALID = (
        Valid(
            """
            import httpx
            from pathlib import Path
            from rivet_dsl import Actor, WorkflowContext, workflow

            async def fetch(url: str) -> str:
                async with httpx.AsyncClient() as client:
                    return (await client.get(url)).text

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    body = await ctx.step("fetch", fetch, "https://example.com")
                    await ctx.step("save", lambda: Path("out.txt").write_text(body))
                    await ctx.step("log", self.log_it, body, rollback=self.undo)

                def log_it(self, body: str) -> None:
                    with open("log.txt", "a") as f:
                        f.write(body)
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
                    with open("config.json") as f:
                        config = f.read()
            """,
            line=6,
            col=14,
            expected_message="`builtins.open` in workflow code outside a step performs I/O",
        ),
        Invalid(
            """
            import httpx
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    async def each(loop: WorkflowContext) -> None:
                        page = httpx.get("https://example.com")
                        await loop.step("store", self.store, page.text)
                    await ctx.loop("poll", each)
            """,
            expected_message="`httpx.get`",
        ),
        Invalid(
            """
            import subprocess as sp
            from pathlib import Path
            from rivet_dsl import Actor, WorkflowContext, workflow

            class A(Actor[None]):
                @workflow
                async def run(self, ctx: WorkflowContext) -> None:
                    text = Path("input.txt").read_text()
                    sp.run(["make"])
            """,
            expected_message="`pathlib.Path.read_text`",
        ),
    )
