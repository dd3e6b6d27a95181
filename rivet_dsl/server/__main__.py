"""``python -m rivet_dsl.server MODULE:REGISTRY [options]`` (same as ``rivet-dsl serve``)."""

from __future__ import annotations

import sys

from ..cli_serve import serve_main

if __name__ == "__main__":
    raise SystemExit(serve_main(sys.argv[1:]))
