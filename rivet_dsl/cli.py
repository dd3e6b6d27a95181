"""The ``rivet-dsl`` command: ``serve``, ``lint`` and ``codegen``."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence

__all__ = ["main"]

USAGE = """usage: rivet-dsl COMMAND [ARGS...]

commands:
  serve MODULE:REGISTRY [--host H] [--port P] [--db PATH] [--fsync]   serve over HTTP + WebSocket
        [--max-incoming-bytes N] [--max-outgoing-bytes N] [--inspector-token T] (serve --help: all)
  lint PATH... [--format json] [--update-lock] [--fix]                 check workflows are replay-safe
  codegen MODULE:REGISTRY [--out DIR] [--check]                        typed client + OpenAPI spec
"""

# The command shell loads each tool lazily; the library itself never imports `codegen`.
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("rivet_dsl.cli_serve", "serve_main"),
    "lint": ("rivet_dsl.lint", "main"),
    "codegen": ("codegen", "codegen_main"),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``rivet-dsl``; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0 if args else 2
    command, rest = args[0], args[1:]
    target = COMMANDS.get(command)
    if target is None:
        print(f"rivet-dsl: unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
        return 2
    module_name, function_name = target
    function: Callable[[list[str]], int] = getattr(importlib.import_module(module_name), function_name)
    return function(rest)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
