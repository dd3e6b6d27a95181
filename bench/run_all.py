"""Run every ``bench/bench_*.py`` in turn (each in its own process) and stream their JSON lines.

    python bench/run_all.py                 # what `make bench` runs
    python bench/run_all.py --quick         # smoke sizes (sets RIVET_BENCH_QUICK=1 for each script)
    python bench/run_all.py -k runtime      # only scripts whose name contains "runtime"

Each JSON line a script prints is forwarded with a ``"script"`` field added; anything else it
prints on stdout is forwarded as ``{"script", "metric": "<script>.output", "raw": line}``. A
script that exits non-zero (or times out) is never skipped silently: a line
``{"metric": "<script>.error", "error": ..., "returncode": ...}`` is printed, and ``run_all``
itself exits non-zero at the end. Scripts' stderr (progress) passes through to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def out(record: dict[str, object]) -> None:
    print(json.dumps(record), flush=True)


def run_script(path: Path, *, quick: bool, timeout: float | None) -> tuple[int | None, str | None]:
    """Run one script, forwarding its stdout as JSON lines. Returns (returncode, error)."""
    name = path.stem
    env = dict(os.environ)
    if quick:
        env["RIVET_BENCH_QUICK"] = "1"
    root = str(HERE.parent)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    proc = subprocess.Popen(
        [sys.executable, str(path)],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=None,  # inherit: progress goes straight to our stderr
        text=True,
        bufsize=1,
    )
    timed_out = threading.Event()

    def kill_on_timeout() -> None:
        timed_out.set()
        proc.kill()

    timer = threading.Timer(timeout, kill_on_timeout) if timeout else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    emitted = 0
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip("\n")
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                record = None
            if isinstance(record, dict):
                out({"script": name, **record})
                emitted += 1
            else:
                out({"script": name, "metric": f"{name}.output", "value": None, "unit": "-", "raw": line})
        returncode = proc.wait()
    finally:
        if timer is not None:
            timer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if timed_out.is_set():
        return returncode, f"timed out after {timeout:g}s"
    if returncode != 0:
        return returncode, f"exited with status {returncode}"
    if emitted == 0:
        return returncode, "printed no JSON lines"
    return returncode, None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="smoke sizes (RIVET_BENCH_QUICK=1)")
    ap.add_argument("-k", dest="pattern", default="", help="only scripts whose file name contains this")
    ap.add_argument("--timeout", type=float, default=900.0, help="per-script timeout in seconds (0: none)")
    args = ap.parse_args(argv)

    scripts = sorted(p for p in HERE.glob("bench_*.py") if args.pattern in p.name)
    failures = 0
    t_all = time.perf_counter()
    for path in scripts:
        print(f"# run_all: {path.name}", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        try:
            returncode, error = run_script(path, quick=args.quick, timeout=args.timeout or None)
        except Exception as exc:  # the runner itself must not hide a script
            returncode, error = None, f"{type(exc).__name__}: {exc}"
        seconds = round(time.perf_counter() - t0, 2)
        if error is not None:
            failures += 1
            out({"script": path.stem, "metric": f"{path.stem}.error", "value": 0, "unit": "-",
                 "error": error, "returncode": returncode, "seconds": seconds})
        else:
            out({"script": path.stem, "metric": f"{path.stem}.seconds", "value": seconds, "unit": "s"})
    out({"script": "run_all", "metric": "run_all.summary", "value": len(scripts) - failures, "unit": "scripts ok",
         "scripts": [p.stem for p in scripts], "failed": failures, "seconds": round(time.perf_counter() - t_all, 2)})
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
