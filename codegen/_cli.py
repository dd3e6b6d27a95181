"""The command line: ``rivet-dsl codegen MODULE:REGISTRY [--out DIR] [--check]`` and
``python -m codegen --all-examples [--check]``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ._generate import render_files
from ._introspect import CodegenError
from ._write import check_files, write_files
from .examples import GENERATED_INIT, example_refs

__all__ = ["codegen_main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rivet-dsl codegen",
        description="Generate a typed Python client and an OpenAPI 3.1 spec from an actor registry.",
    )
    parser.add_argument("refs", nargs="*", metavar="MODULE:REGISTRY", help="e.g. examples.counter:registry")
    parser.add_argument("--out", default="generated", help="output directory (default: generated/)")
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 with a diff if files are stale")
    parser.add_argument(
        "--all-examples", action="store_true", help="every examples/*.py module with a `registry` (make codegen)"
    )
    parser.add_argument("--examples-dir", default="examples", help=argparse.SUPPRESS)
    return parser


def codegen_main(argv: list[str]) -> int:
    """Run the codegen command line; returns the exit code (0 ok, 1 stale, 2 usage or error)."""
    args = _parser().parse_args(argv)
    # The console script does not put the working directory on sys.path; `-m` does.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    refs: list[str] = list(args.refs)
    if args.all_examples:
        refs += example_refs(args.examples_dir)
    if not refs:
        print("rivet-dsl codegen: give MODULE:REGISTRY or --all-examples", file=sys.stderr)
        return 2
    out = Path(args.out)
    files: dict[Path, str] = {}
    if args.all_examples:
        files[out / "__init__.py"] = GENERATED_INIT
    try:
        for ref in refs:
            files.update(render_files(ref).paths(out))
    except CodegenError as exc:
        print(f"rivet-dsl codegen: {exc}", file=sys.stderr)
        return 2
    if args.check:
        diff = check_files(files)
        if diff:
            sys.stdout.write(diff)
            return 1
        return 0
    for path in write_files(files):
        print(f"wrote {path}")
    return 0
