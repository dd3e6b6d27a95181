"""Interpreter settings for a process that serves actors (``rivet-dsl serve`` applies them).

They are process-wide, so the runtime never changes them by itself: an application embedding a
:class:`~rivet_dsl.runtime.Runtime` calls :func:`tune_interpreter` once at start-up if it wants
them.
"""

from __future__ import annotations

import gc
import sys

__all__ = ["SWITCH_INTERVAL_S", "tune_interpreter"]

#: The interpreter's thread switch interval while serving (Python's default is 5 ms). A large
#: commit runs on the SQLite writer thread while the event loop keeps working, and that thread
#: needs the GIL back after each statement; with 5 ms it waits up to 5 ms every time: a commit
#: of ~500 workflow steps took ~35 ms instead of ~20 ms (bench_workflow's 1,000 actors).
SWITCH_INTERVAL_S = 0.0005


def tune_interpreter() -> None:
    """Apply the serving settings: freeze what start-up built and collect the young generation
    less often (a server allocates many short-lived objects and almost no garbage cycles; the
    cyclic GC took ~40% of the time of 16,000 concurrent durable writes in bench_runtime), and
    hand the GIL to a waiting thread within :data:`SWITCH_INTERVAL_S`."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    sys.setswitchinterval(SWITCH_INTERVAL_S)
