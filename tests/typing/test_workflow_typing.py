"""mypy strict (with the plugin) checks workflow and schedule calls, line by line.

Each file in ``cases/`` marks the lines mypy must reject with ``# E``; every other line must
type-check. They are stored as ``.py.txt`` so that a repository-wide mypy run skips them.
"""

from __future__ import annotations

import re
import shutil
from collections import defaultdict
from pathlib import Path

import pytest
from mypy import api

ROOT = Path(__file__).resolve().parents[2]
CASES = Path(__file__).resolve().parent / "cases"
_ERROR = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): error: (?P<message>.*)$")


@pytest.fixture(scope="module")
def mypy_errors(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[int, list[str]]]:
    """Run mypy once over every case file; errors by file and line."""
    work = tmp_path_factory.mktemp("workflow_typing")
    files = []
    for case in sorted(CASES.glob("*.py.txt")):
        target = work / case.name.removesuffix(".txt")
        shutil.copy(case, target)
        files.append(str(target))
    config = work / "mypy.ini"
    # What a user project sets: strict, plus the plugin.
    config.write_text(f"[mypy]\nstrict = True\nplugins = rivet_dsl.mypy_plugin\nmypy_path = {ROOT}\n")
    stdout, stderr, _status = api.run(
        [
            "--config-file",
            str(config),
            "--no-incremental",
            "--cache-dir=/dev/null",
            "--no-error-summary",
            "--hide-error-context",
            "--no-pretty",
            *files,
        ]
    )
    assert not stderr, stderr
    errors: dict[str, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    for line in stdout.splitlines():
        match = _ERROR.match(line)
        if match:
            errors[Path(match["file"]).name][int(match["line"])].append(match["message"])
        else:
            assert ": note:" in line, line
    return errors


def _marked(name: str) -> set[int]:
    lines = (CASES / f"{name}.txt").read_text().splitlines()
    return {number for number, line in enumerate(lines, 1) if line.rstrip().endswith("# E")}


def _check(errors: dict[str, dict[int, list[str]]], name: str) -> None:
    found = errors.get(name, {})
    marked = _marked(name)
    unexpected = {line: found[line] for line in sorted(set(found) - marked)}
    missing = sorted(marked - set(found))
    assert not unexpected and not missing, f"unexpected errors: {unexpected}; no error on lines: {missing}"


@pytest.mark.slow
def test_step_arguments_and_result(mypy_errors: dict[str, dict[int, list[str]]]) -> None:
    _check(mypy_errors, "steps.py")


@pytest.mark.slow
def test_schedule_arguments(mypy_errors: dict[str, dict[int, list[str]]]) -> None:
    _check(mypy_errors, "schedule.py")


@pytest.mark.slow
def test_declarations_keep_actors_concrete(mypy_errors: dict[str, dict[int, list[str]]]) -> None:
    _check(mypy_errors, "declarations.py")


@pytest.mark.slow
def test_queue_names_take_one_ref(mypy_errors: dict[str, dict[int, list[str]]]) -> None:
    _check(mypy_errors, "queue_names.py")


@pytest.mark.slow
def test_loop_break_and_continue(mypy_errors: dict[str, dict[int, list[str]]]) -> None:
    _check(mypy_errors, "loops.py")


@pytest.mark.slow
def test_queue_message_complete_takes_the_declared_response(mypy_errors: dict[str, dict[int, list[str]]]) -> None:
    _check(mypy_errors, "queue_responses.py")
    # Refused for the right reason: the response, not something else on the line.
    messages = [message for line in mypy_errors["queue_responses.py"].values() for message in line]
    assert all('"complete" of "QueueMessage"' in message for message in messages), messages
    assert sum('incompatible type "Other"; expected "Doubled"' in message for message in messages) == 2, messages


@pytest.mark.slow
def test_plain_queue_receives_are_typed_by_their_names(mypy_errors: dict[str, dict[int, list[str]]]) -> None:
    _check(mypy_errors, "plain_queue.py")
    messages = [message for line in mypy_errors["plain_queue.py"].values() for message in line]
    # The responses are refused for the right reason: the declared response type.
    assert sum('incompatible type "Other"; expected "Doubled"' in message for message in messages) == 3, messages


@pytest.mark.slow
def test_test_environment_clock_is_the_clock_given(mypy_errors: dict[str, dict[int, list[str]]]) -> None:
    _check(mypy_errors, "test_environment.py")
    messages = [message for line in mypy_errors["test_environment.py"].values() for message in line]
    assert messages == ['"None" has no attribute "advance"  [attr-defined]'], messages
