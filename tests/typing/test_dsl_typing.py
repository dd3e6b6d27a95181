"""The decorators keep their types: mypy strict accepts correct actor code and rejects misuse."""

from __future__ import annotations

from pathlib import Path

import pytest
from mypy import api

ROOT = Path(__file__).resolve().parents[2]

HEADER = """\
from __future__ import annotations

import msgspec
from typing import assert_type

from rivet_dsl import Actor, QueueRef, EventRef, action, event, queue, setup


class Job(msgspec.Struct):
    n: int


class Reply(msgspec.Struct):
    doubled: int


class State(msgspec.Struct):
    value: int = 0


class Typed(Actor[State]):
    @queue
    def jobs(self, body: Job) -> Reply: ...

    @event
    def progress(self, value: int) -> None: ...

    @action
    async def add(self, amount: int) -> int:
        return self.state.value + amount
"""

GOOD = """
    @action
    async def good(self) -> None:
        assert_type(self.jobs, QueueRef[Job, Reply])
        assert_type(self.progress, EventRef[int])
        assert_type(self.state, State)
        await self.jobs.send(Job(n=1))
        self.progress(3)
        assert_type(await self.add(2), int)
"""

BAD = {
    "wrong queue body": "        await self.jobs.send(Reply(doubled=1))",
    "wrong event payload": '        self.progress("three")',
    "wrong state attribute": "        self.state.missing = 1",
    "wrong action argument": '        await self.add("x")',
}


def _check(tmp_path: Path, body: str) -> tuple[int, str]:
    source = HEADER + body
    path = tmp_path / "snippet.py"
    path.write_text(source)
    config = tmp_path / "mypy.ini"
    # The same settings a user project needs: strict, plus the plugin that lets `@queue`
    # declarations with a response type keep their `...` body.
    config.write_text(f"[mypy]\nstrict = True\nplugins = rivet_dsl.mypy_plugin\nmypy_path = {ROOT}\n")
    stdout, stderr, status = api.run(
        ["--config-file", str(config), "--no-incremental", "--cache-dir=/dev/null", str(path)]
    )
    return status, stdout + stderr


@pytest.mark.slow
def test_correct_actor_code_type_checks(tmp_path: Path) -> None:
    status, output = _check(tmp_path, GOOD)
    assert status == 0, output


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(BAD))
def test_misuse_is_a_type_error(tmp_path: Path, case: str) -> None:
    status, output = _check(tmp_path, "\n    @action\n    async def bad(self) -> None:\n" + BAD[case] + "\n")
    bad_line = HEADER.count("\n") + 4
    assert status == 1, output
    errors = [line for line in output.splitlines() if ": error:" in line]
    assert errors and all(f"snippet.py:{bad_line}:" in line for line in errors), output
