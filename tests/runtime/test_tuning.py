"""tune_interpreter: the process-wide settings `rivet-dsl serve` applies (checked in a child
process, since they cannot be undone in this one)."""

from __future__ import annotations

import subprocess
import sys


def test_tune_interpreter_sets_switch_interval_and_collector() -> None:
    code = (
        "import gc, sys\n"
        "from rivet_dsl.runtime import tune_interpreter\n"
        "from rivet_dsl.runtime._tuning import SWITCH_INTERVAL_S\n"
        "before = sys.getswitchinterval()\n"
        "tune_interpreter()\n"
        "print(before, sys.getswitchinterval(), SWITCH_INTERVAL_S, gc.get_threshold()[0], gc.get_freeze_count() > 0)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    before, after, wanted, threshold, frozen = out
    assert float(before) == 0.005  # Python's default
    assert float(after) == float(wanted) == 0.0005
    assert threshold == "50000"
    assert frozen == "True"
