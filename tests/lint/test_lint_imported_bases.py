"""Bases imported from another module of the project: their methods are found for ``self.<method>``
(in method resolution order) and ``super()``, parsed from source and never imported."""

from __future__ import annotations

import textwrap
from pathlib import Path

from rivet_dsl.lint import fix_source, lint_paths, lint_source

HEADER = "import random\nimport time\nfrom rivet_dsl import Actor, WorkflowContext, event, workflow\n"


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


def line_of(path: Path, text: str, nth: int = 1) -> int:
    """The line of the ``nth`` line of ``path`` containing ``text``."""
    hits = [number for number, line in enumerate(path.read_text().splitlines(), start=1) if text in line]
    return hits[nth - 1]


def findings(path: Path) -> list[tuple[str, int, str]]:
    return [(v.path, v.line, v.code) for v in lint_source(path.read_text(), str(path))]


CHECKOUT = HEADER + textwrap.dedent(
    """

    class Checkout:
        async def charge(self, ctx: WorkflowContext, amount: int) -> None:
            self.state.total += amount
            await ctx.step("charge", print, amount)

        async def phase(self, ctx: WorkflowContext) -> None:
            await ctx.step("phase", print)

        def notify(self) -> None:
            self.progress(1)

        @event
        def progress(self, done: int) -> None:
            pass
    """
)


def test_a_state_touch_in_an_imported_base_helper_is_reported_in_its_file(tmp_path: Path) -> None:
    # `from .mixins import Checkout`: the base's helper is workflow code; the finding names
    # mixins.py and its line, and the call in shop.py that runs it; --fix leaves mixins.py alone
    write(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/mixins.py": CHECKOUT,
            "app/shop.py": HEADER
            + """
from .mixins import Checkout


class Shop(Checkout, Actor[None]):
    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        await self.charge(ctx, 1)
""",
        },
    )
    mixins, shop = tmp_path / "app" / "mixins.py", tmp_path / "app" / "shop.py"
    found = lint_paths([tmp_path / "app"], lock=tmp_path / "none.json")
    assert [(v.path, v.line, v.code) for v in found] == [(str(mixins), line_of(mixins, "self.state.total"), "RVT010")]
    call = line_of(shop, "await self.charge")
    assert found[0].message.endswith(f"(in a helper called from {shop}:{call}:15)")
    assert fix_source(shop.read_text(), str(shop)) == shop.read_text()


def test_a_step_name_of_an_imported_base_helper_clashes_with_the_actor_own(tmp_path: Path) -> None:
    # `from app.mixins import Checkout` (absolute): the base's `charge` entry lands in the
    # workflow's history after the workflow's own `charge`
    write(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/mixins.py": CHECKOUT.replace("self.state.total += amount", "pass"),
            "app/flows/__init__.py": "",
            "app/flows/shop.py": HEADER
            + """
from app.mixins import Checkout


class Shop(Checkout, Actor[None]):
    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        await self.own(ctx)
        await self.charge(ctx, 1)

    async def own(self, ctx: WorkflowContext) -> None:
        await ctx.step("charge", print)
""",
        },
    )
    mixins, shop = tmp_path / "app" / "mixins.py", tmp_path / "app" / "flows" / "shop.py"
    found = lint_source(shop.read_text(), str(shop))
    assert [(v.path, v.line, v.code) for v in found] == [(str(mixins), line_of(mixins, 'ctx.step("charge"'), "RVT002")]
    first = line_of(shop, 'ctx.step("charge"')
    assert found[0].message.startswith(f"entry name 'charge' is already used at line {first} of {shop} in this scope")


def test_other_rules_apply_to_imported_base_methods_as_to_same_module_ones(tmp_path: Path) -> None:
    # an event called from a base helper (RVT010), a dropped coroutine of a base helper (RVT011, at
    # the workflow's call), `Checkout.charge(self, ctx)` on the imported class, a base method as a
    # loop body, and a suppression in the base's file
    write(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/mixins.py": CHECKOUT
            + "\n    async def each(self, loop: WorkflowContext) -> None:\n"
            + "        random.random()\n        time.time()  # rivet: allow[RVT003] -- test\n",
            "app/shop.py": HEADER
            + """
from . import mixins


class Shop(mixins.Checkout, Actor[None]):
    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        self.notify()
        self.phase(ctx)
        await mixins.Checkout.charge(self, ctx, 2)
        await ctx.loop("each", self.each)
""",
        },
    )
    mixins, shop = tmp_path / "app" / "mixins.py", tmp_path / "app" / "shop.py"
    assert findings(shop) == [
        (str(mixins), line_of(mixins, "self.state.total"), "RVT010"),
        (str(mixins), line_of(mixins, "self.progress(1)"), "RVT010"),
        (str(mixins), line_of(mixins, "random.random()"), "RVT004"),
        (str(shop), line_of(shop, "self.phase(ctx)"), "RVT011"),
    ]


def test_super_follows_a_chain_of_imported_bases(tmp_path: Path) -> None:
    # `import app.mixins as m; class Shop(m.Checkout, ...)`; `Checkout(Base)` imports `Base` from
    # a third module: `super()` in the actor runs `Checkout.helper`, whose `super()` runs `Base.helper`
    write(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/base.py": HEADER
            + """

class Base:
    async def helper(self, ctx: WorkflowContext) -> None:
        time.time()
""",
            "app/mixins.py": HEADER
            + """
from .base import Base


class Checkout(Base):
    async def helper(self, ctx: WorkflowContext) -> None:
        await super().helper(ctx)
""",
            "app/shop.py": HEADER
            + """
import app.mixins as m


class Shop(m.Checkout, Actor[None]):
    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        await self.helper(ctx)

    async def helper(self, ctx: WorkflowContext) -> None:
        await super().helper(ctx)
""",
        },
    )
    base = tmp_path / "app" / "base.py"
    assert findings(tmp_path / "app" / "shop.py") == [(str(base), line_of(base, "time.time()"), "RVT003")]


def test_an_import_cycle_between_base_modules_ends(tmp_path: Path) -> None:
    # a.py and b.py import each other's classes (Python could not run this): the walk ends, and the
    # methods found before the cycle are still followed, `super()` included
    write(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/a.py": HEADER
            + """
from .b import B


class A(B):
    async def first(self, ctx: WorkflowContext) -> None:
        await super().second(ctx)
""",
            "app/b.py": HEADER
            + """
from .a import A


class B(A):
    async def second(self, ctx: WorkflowContext) -> None:
        random.random()
""",
            "app/shop.py": HEADER
            + """
from .a import A


class Shop(A, Actor[None]):
    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        await self.first(ctx)
        await self.second(ctx)
""",
        },
    )
    b = tmp_path / "app" / "b.py"
    assert findings(tmp_path / "app" / "shop.py") == [(str(b), line_of(b, "random.random()"), "RVT004")]


def test_a_base_from_outside_the_project_stays_skipped(tmp_path: Path) -> None:
    # `vendor` lives outside the linted project (as in site-packages), `.missing` does not exist and
    # `rivet_dsl` is the library: their methods stay unknown (no finding for `vendor`'s clock read),
    # and `super()` stops at them; a project base after them is still followed
    write(
        tmp_path,
        {
            "outside/vendor/__init__.py": "",
            "outside/vendor/mixins.py": HEADER
            + """

class Remote:
    async def helper(self, ctx: WorkflowContext) -> None:
        time.time()
""",
            "proj/app/__init__.py": "",
            "proj/app/local.py": HEADER
            + """

class Local:
    async def helper(self, ctx: WorkflowContext) -> None:
        random.random()

    async def other(self, ctx: WorkflowContext) -> None:
        time.time()
""",
            "proj/app/shop.py": HEADER
            + """
import rivet_dsl
from vendor.mixins import Remote
from .missing import Gone
from .local import Local


class Shop(Remote, Gone, rivet_dsl.Actor, Local):
    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        await self.other(ctx)
        await self.remote_only(ctx)

    async def other(self, ctx: WorkflowContext) -> None:
        await super().helper(ctx)
        await super().other(ctx)
""",
        },
    )
    local = tmp_path / "proj" / "app" / "local.py"
    found = lint_paths([tmp_path / "proj"], lock=tmp_path / "none.json")
    assert [(v.path, v.line, v.code) for v in found] == []
    # the same actor without the unknown bases: `super()` reaches `Local`
    shop = tmp_path / "proj" / "app" / "shop.py"
    shop.write_text(shop.read_text().replace("Remote, Gone, rivet_dsl.Actor, Local", "Local"))
    found = lint_paths([tmp_path / "proj"], lock=tmp_path / "none.json")
    assert [(v.path, v.line, v.code) for v in found] == [
        (str(local), line_of(local, "random.random()"), "RVT004"),
        (str(local), line_of(local, "time.time()"), "RVT003"),
    ]


def test_an_override_shadows_the_imported_base_method_in_method_resolution_order(tmp_path: Path) -> None:
    # the actor's own `helper` wins over the base's; across modules, `Shop(Left, Right)` with both
    # deriving from `Root` runs `Right.shared` before `Root.shared` (Root comes last), and a method
    # only `Root` defines is followed
    write(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/root.py": HEADER
            + """

class Root:
    async def helper(self, ctx: WorkflowContext) -> None:
        time.time()

    async def shared(self, ctx: WorkflowContext) -> None:
        time.time()

    async def only_root(self, ctx: WorkflowContext) -> None:
        random.random()
""",
            "app/left.py": HEADER + "from .root import Root\n\n\nclass Left(Root):\n    pass\n",
            "app/right.py": HEADER
            + """
from app.root import Root


class Right(Root):
    async def shared(self, ctx: WorkflowContext) -> None:
        await ctx.step("shared", print)
""",
            "app/shop.py": HEADER
            + """
from .left import Left
from .right import Right


class Shop(Left, Right, Actor[None]):
    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        await self.helper(ctx)
        await self.shared(ctx)
        await self.only_root(ctx)

    async def helper(self, ctx: WorkflowContext) -> None:
        await ctx.step("helper", print)
""",
        },
    )
    root = tmp_path / "app" / "root.py"
    assert findings(tmp_path / "app" / "shop.py") == [(str(root), line_of(root, "random.random()"), "RVT004")]
