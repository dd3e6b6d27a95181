"""``rivet-dsl codegen``: typed Python clients and OpenAPI 3.1 specs from an actor registry.

The pipeline is introspect -> frozen IR -> render: :func:`codegen._introspect.build_spec` reads
the registry through msgspec, :mod:`codegen._render` fills jinja2 templates and
:mod:`codegen._openapi` builds the spec. Output is deterministic (sorted, no timestamps).
"""

from __future__ import annotations

from ._cli import codegen_main as codegen_main
from ._generate import GeneratedFiles as GeneratedFiles
from ._generate import generate as generate
from ._generate import render_files as render_files
from ._introspect import CodegenError as CodegenError
from ._introspect import build_spec as build_spec
from ._introspect import load_registry as load_registry

__all__ = ["CodegenError", "GeneratedFiles", "build_spec", "codegen_main", "generate", "load_registry", "render_files"]
