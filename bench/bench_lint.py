"""Benchmark: lint ~10,000 lines of generated actor code; prints one JSON line.

    python bench/bench_lint.py [--lines 10000] [--files 20]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from rivet_dsl.lint import lint_paths

HEADER = '''"""Generated actors for the lint benchmark."""

from __future__ import annotations

import msgspec

from rivet_dsl import Actor, Loop, WorkflowContext, action, event, queue, workflow


class Job(msgspec.Struct):
    value: int


class State(msgspec.Struct):
    total: int = 0
    processed: int = 0
'''

ACTOR = '''

class Worker{n}(Actor[State]):
    @queue
    def jobs(self, body: Job) -> None: ...

    @event
    def progress(self, value: int) -> None: ...

    @workflow
    async def run(self, ctx: WorkflowContext) -> None:
        await ctx.step("setup", self.setup_state)
        version = await ctx.get_version("gate", 2)

        async def each(loop: WorkflowContext) -> Loop[None] | None:
            message = await loop.queue.next("wait-job", names=[self.jobs], timeout=30.0)
            if message is None:
                return Loop.continue_(None)
            await loop.rollback_checkpoint("checkpoint")
            value = await loop.step("apply", self.apply, message.body.value, rollback=self.undo)

            async def left(branch: WorkflowContext) -> int:
                await branch.sleep("pause", 0.1)
                return await branch.step("left", lambda: value + 1)

            async def right(branch: WorkflowContext) -> int:
                return await branch.step("right", self.double, value)

            joined = await loop.join("fan-out", {{"left": left, "right": right}})
            winner = await loop.race("race", {{"work": self.work, "timeout": self.timeout}})
            if version >= 2:
                await loop.step("record", self.record, joined["left"] + joined["right"], winner.value)
            else:
                await loop.step("record", self.record_v1, joined["left"])
            return None

        await ctx.loop("main-loop", each)
        await ctx.step("teardown", self.teardown)

    def setup_state(self) -> None:
        self.state.total = 0

    def apply(self, value: int) -> int:
        self.state.total += value
        self.progress(self.state.total)
        return self.state.total

    def undo(self, rctx: object, output: int) -> None:
        self.state.total -= output

    def double(self, value: int) -> int:
        return value * 2

    async def work(self, branch: WorkflowContext) -> int:
        return await branch.step("work", self.double, 21)

    async def timeout(self, branch: WorkflowContext) -> None:
        await branch.sleep("timeout", 5.0)

    def record(self, total: int, value: object) -> None:
        self.state.processed += 1

    def record_v1(self, total: int) -> None:
        self.state.processed += 1

    def teardown(self) -> None:
        self.state.processed = 0

    @action
    async def get_state(self) -> State:
        return self.state
'''


def generate(root: Path, lines: int, files: int) -> int:
    per_file = lines // files
    written = 0
    counter = 0
    for index in range(files):
        parts = [HEADER]
        size = HEADER.count("\n")
        while size < per_file:
            chunk = ACTOR.format(n=counter)
            counter += 1
            parts.append(chunk)
            size += chunk.count("\n")
        text = "".join(parts)
        (root / f"actors_{index:03d}.py").write_text(text)
        written += text.count("\n")
    return written


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--files", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        total = generate(root, args.lines, args.files)
        start = time.perf_counter()
        found = lint_paths([root])
        elapsed = time.perf_counter() - start
    if found:
        raise SystemExit(f"benchmark code is expected to lint clean, got {found[:3]}")
    print(json.dumps({"metric": "lint.10k_lines.seconds", "value": round(elapsed, 3), "unit": "s", "lines": total}))


if __name__ == "__main__":
    main()
