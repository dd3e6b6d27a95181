"""``generate``: a registry to files on disk (or a drift check against them)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ._introspect import CodegenError, build_spec, load_registry
from ._openapi import render_openapi
from ._render import render_client
from ._write import check_files, write_files

if TYPE_CHECKING:
    from rivet_dsl import Registry

__all__ = ["GeneratedFiles", "generate", "render_files"]


@dataclass(frozen=True, slots=True)
class GeneratedFiles:
    """What one registry generates: the client module and the OpenAPI document."""

    stem: str
    client: str
    openapi: str

    def paths(self, out_dir: str | os.PathLike[str]) -> dict[Path, str]:
        """``{path: content}`` under ``out_dir``."""
        out = Path(out_dir)
        return {out / f"{self.stem}.py": self.client, out / f"{self.stem}.openapi.json": self.openapi}


def render_files(registry: str | Registry, *, module: str | None = None) -> GeneratedFiles:
    """Render in memory. ``registry`` is ``"module:attribute"`` or a registry (then ``module`` names it)."""
    if isinstance(registry, str):
        loaded, module_name = load_registry(registry)
        ref = registry
    else:
        if module is None:
            raise CodegenError("pass module= (the output is named after the registry's module)")
        loaded, module_name, ref = registry, module, f"{module}:registry"
    spec = build_spec(loaded, module_name, ref)
    return GeneratedFiles(spec.stem, render_client(spec), render_openapi(spec))


def generate(
    registry: str | Registry,
    out_dir: str | os.PathLike[str] = "generated",
    *,
    check: bool = False,
    module: str | None = None,
) -> str:
    """Write ``<out_dir>/<stem>.py`` and ``<stem>.openapi.json``, or with ``check=True`` compare.

    Returns the unified diff of stale files ('' when up to date; always '' when writing).
    """
    files = render_files(registry, module=module).paths(out_dir)
    if check:
        return check_files(files)
    write_files(files)
    return ""
