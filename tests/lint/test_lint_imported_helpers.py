"""Helpers imported from another module of the project are followed (parsed, never imported)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from rivet_dsl.lint import fix_source, lint_paths, lint_source

HELPERS = """\
import time
from rivet_dsl import WorkflowContext


async def charge(ctx: WorkflowContext, amount: int) -> None:
    time.time()
    await ctx.step("charge", print, amount)


async def bump(actor, ctx: WorkflowContext) -> None:
    actor.state.count += 1


def plain(x: int) -> int:
    return x
"""


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


def shop(imports: str, calls: str) -> str:
    return (
        "from rivet_dsl import Actor, WorkflowContext, workflow\n"
        + imports
        + "\n\nclass Shop(Actor[None]):\n    @workflow\n    async def run(self, ctx: WorkflowContext) -> None:\n"
        + textwrap.indent(textwrap.dedent(calls), " " * 8)
    )


def test_a_relative_import_is_followed_and_reported_in_the_helper_file(tmp_path: Path) -> None:
    # the clock read and the state access are reported at their own lines of helpers.py, naming the
    # workflow's call; the helper's entry clashes with the workflow's own entry (RVT002)
    write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/helpers.py": HELPERS,
            "pkg/shop.py": shop(
                "from .helpers import bump, charge, plain",
                """\
                await ctx.step("charge", print)
                await charge(ctx, 1)
                await bump(self, ctx)
                plain(1)
                """,
            ),
        },
    )
    found = lint_paths([tmp_path / "pkg"], lock=tmp_path / "none.json")
    helpers, shop_py = str(tmp_path / "pkg" / "helpers.py"), str(tmp_path / "pkg" / "shop.py")
    assert [(v.path, v.line, v.code) for v in found] == [
        (helpers, 6, "RVT003"),
        (helpers, 7, "RVT002"),
        (helpers, 11, "RVT010"),
    ]
    assert found[0].message.endswith(f"(in a helper called from {shop_py}:8:15)")
    assert found[1].message.startswith(f"entry name 'charge' is already used at line 7 of {shop_py} in this scope")
    assert found[2].message.endswith(f"(in a helper called from {shop_py}:9:15)")
    assert not any(v.fixable for v in found)


def test_an_absolute_import_a_module_alias_and_a_re_export_are_followed(tmp_path: Path) -> None:
    # `from pkg.helpers import charge`, `from pkg import helpers` + `helpers.bump(...)`, and
    # `from pkg.api import plain_alias` where `pkg/api.py` re-exports from `pkg/helpers.py`
    write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/helpers.py": HELPERS,
            "pkg/api.py": "from .helpers import charge as stamped\n",
            "pkg/flows/__init__.py": "",
            "pkg/flows/shop.py": shop(
                "from pkg.helpers import charge\nfrom pkg import helpers\nfrom pkg.api import stamped",
                """\
                await charge(ctx, 1)
                await helpers.bump(self, ctx)
                async def each(loop: WorkflowContext) -> None:
                    await stamped(loop, 2)
                await ctx.loop("each", each)
                """,
            ),
        },
    )
    path = tmp_path / "pkg" / "flows" / "shop.py"
    found = lint_source(path.read_text(), str(path))
    helpers = str(tmp_path / "pkg" / "helpers.py")
    assert [(v.path, v.line, v.code) for v in found] == [(helpers, 6, "RVT003"), (helpers, 11, "RVT010")]


def test_a_relative_linted_path_names_the_helper_in_the_same_style(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # linted as `app/flow.py` (a plain directory, a sibling module imported by name): the helper
    # is `app/helpers.py`; a suppression in the helper's file is honoured
    write(
        tmp_path,
        {
            "app/helpers.py": HELPERS.replace("    actor.state.count += 1", "    actor.state.count += 1  # rivet: allow[RVT010] -- test"),
            "app/flow.py": shop("from helpers import bump, charge", "await charge(ctx, 1)\nawait bump(self, ctx)\n"),
        },
    )
    monkeypatch.chdir(tmp_path)
    found = lint_paths(["app"], lock="none.json")
    assert [(v.path, v.line, v.code) for v in found] == [("app/helpers.py", 6, "RVT003")]
    assert found[0].message.endswith("(in a helper called from app/flow.py:7:15)")


def test_import_cycles_unknown_modules_and_bad_files_are_harmless(tmp_path: Path) -> None:
    # a helper in `a.py` calls one in `b.py` that calls back into `a.py` (reported once each); a
    # module that does not exist, or does not parse, is skipped; a function only passed to a step
    # is step code (its module is not even read)
    write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": """\
                import time
                from .b import pong

                async def ping(ctx, n: int) -> None:
                    time.time()
                    await pong(ctx, n)
                """,
            "pkg/b.py": """\
                import random
                from .a import ping

                async def pong(ctx, n: int) -> None:
                    random.random()
                    await ping(ctx, n)
                """,
            "pkg/broken.py": "def oops(:\n",
            "pkg/steps.py": "import time\n\ndef stamp() -> float:\n    return time.time()\n",
            "pkg/shop.py": shop(
                "from .a import ping\nfrom .broken import oops\nfrom .missing import gone\nfrom .steps import stamp",
                """\
                await ping(ctx, 1)
                await oops(ctx)
                await gone(ctx)
                await ctx.step("stamp", stamp)
                """,
            ),
        },
    )
    path = tmp_path / "pkg" / "shop.py"
    found = lint_source(path.read_text(), str(path))
    a, b = str(tmp_path / "pkg" / "a.py"), str(tmp_path / "pkg" / "b.py")
    assert [(v.path, v.line, v.code) for v in found] == [(a, 5, "RVT003"), (b, 5, "RVT004")]
    assert fix_source(path.read_text(), str(path)) == path.read_text()
