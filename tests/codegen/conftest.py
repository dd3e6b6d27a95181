from __future__ import annotations

import importlib.util
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from mypy import api

from codegen import render_files

ROOT = Path(__file__).resolve().parents[2]


def import_generated(path: Path) -> ModuleType:
    """Import a generated client from ``path`` under a unique module name.

    The module is registered in ``sys.modules``: msgspec resolves the re-declared Structs'
    annotations through it.
    """
    name = f"_codegen_test_{path.stem}_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def mypy_strict(path: Path) -> list[str]:
    """mypy (the project's strict configuration) on one generated client: its error lines."""
    stdout, stderr, _status = api.run(
        [
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(path.parent / ".mypy_cache"),
            "--follow-imports",
            "silent",
            "--no-error-summary",
            "--no-pretty",
            str(path),
        ]
    )
    assert not stderr, stderr
    return [line for line in stdout.splitlines() if ": error:" in line]


@pytest.fixture
def generated_module(tmp_path: Path) -> Iterator[ModuleType]:
    """The generated client of the ``shop`` fixture registry, imported."""
    files = render_files("tests.codegen.fixtures.shop:registry")
    path = tmp_path / "shop_client.py"
    path.write_text(files.client, encoding="utf-8")
    module = import_generated(path)
    yield module
    sys.modules.pop(module.__name__, None)
