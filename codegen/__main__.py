"""``python -m codegen ...`` (the same as ``rivet-dsl codegen ...``)."""

from __future__ import annotations

import sys

from ._cli import codegen_main

if __name__ == "__main__":
    raise SystemExit(codegen_main(sys.argv[1:]))
