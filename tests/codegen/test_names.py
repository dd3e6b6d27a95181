"""Wire names that are awkward in Python still give a strict-clean client that calls the right thing."""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from codegen import codegen_main, render_files
from rivet_dsl import Registry
from rivet_dsl.testing import TestEnvironment
from tests.codegen.conftest import import_generated, mypy_strict
from tests.codegen.fixtures import awkward

pytestmark = pytest.mark.anyio


def _generate(registry: Registry, tmp_path: Path) -> tuple[ModuleType, str]:
    """Render ``registry``, check it with mypy --strict and import it."""
    source = render_files(registry, module="tests.codegen.fixtures.awkward").client
    path = tmp_path / "awkward_client.py"
    path.write_text(source, encoding="utf-8")
    assert mypy_strict(path) == []
    return import_generated(path), source


async def test_parameters_and_actions_named_like_client_internals(tmp_path: Path) -> None:
    module, source = _generate(awkward.locals_registry, tmp_path)
    g: Any = module
    try:
        # Parameters named like the method body's locals (raw, result), the module's `_decode` or the
        # types the body evaluates (Box) get a `_` suffix; the wire stays positional.
        assert "async def parse(self, raw_: str, result_: int) -> str:" in source
        assert "async def wrap(self, Box_: int, msgspec: int = 1) -> Box:" in source
        # Actions named like handle internals get a `_` suffix; dunder names are never special.
        methods = {node.name for node in ast.walk(ast.parse(source)) if isinstance(node, ast.AsyncFunctionDef)}
        assert {"_call_", "__init___"} <= methods
        async with TestEnvironment(awkward.locals_registry) as env:
            handle = g.Client(env.client).locals.get_or_create("k")
            assert await handle.parse("ab", 2) == "abab"
            assert await handle.parse(raw_="x", result_=3) == "xxx"
            assert await handle.ident(5) == 5
            assert await handle.ident(_decode_=5, self_=1) == 6
            assert await handle.wrap(2, 3) == g.Box(6)
            assert await handle._call_() == 1
            assert await handle.__init___() == 2
            async with handle.connect() as conn:
                assert await conn.ident(7) == 7
    finally:
        sys.modules.pop(module.__name__, None)


async def test_default_constants_that_join_alike_stay_apart(tmp_path: Path) -> None:
    # Actor "a_b" action "c" and actor "a" action "b_c" both spell _DEFAULT_A_B_C_X.
    module, source = _generate(awkward.defaults_registry, tmp_path)
    g: Any = module
    try:
        assert source.count("_DEFAULT_A_B_C_X = ") == 1 and source.count("_DEFAULT_A_B_C_X_2 = ") == 1
        async with TestEnvironment(awkward.defaults_registry) as env:
            client = g.Client(env.client)
            assert await client.a_b.get_or_create("k").c() == awkward.D1
            assert await client.a.get_or_create("k").b_c() == awkward.D2
    finally:
        sys.modules.pop(module.__name__, None)


async def test_keys_and_members_that_are_not_identifiers(tmp_path: Path) -> None:
    module, source = _generate(awkward.keys_registry, tmp_path)
    g: Any = module
    try:
        assert "Headers = TypedDict(" in source and "Mode = enum.Enum(" in source
        assert 'from_: str = msgspec.field(name="from")' in source
        assert g.Mode["read-only"].value == "ro" and g.Mode["class"].value == "cl"
        async with TestEnvironment(awkward.keys_registry) as env:
            handle = g.Client(env.client).keys.get_or_create("k")
            got = await handle.echo({"content-type": "text/plain", "from": "me"})
            assert got == {"content-type": "text/plain", "from": "me", "x": g.Mode["read-only"]}
            assert (await handle.echo({}, g.Mode["class"]))["x"] is g.Mode["class"]
            envelope = await handle.wrap(g.Envelope(from_="me", class_=2))
            assert (envelope.from_, envelope.class_) == ("me", 2)
    finally:
        sys.modules.pop(module.__name__, None)


def test_registry_module_that_fails_to_import_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert codegen_main(["tests.codegen.fixtures.broken:registry"]) == 2
    err = capsys.readouterr().err
    assert "cannot import 'tests.codegen.fixtures.broken': DefinitionError" in err
    assert "Traceback" not in err
