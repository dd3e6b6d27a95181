"""``python -m rivet_dsl.lint PATH...``."""

from __future__ import annotations

import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
