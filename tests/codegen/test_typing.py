"""mypy --strict accepts correct calls of a generated client and rejects wrong ones, line by line."""

from __future__ import annotations

import re
import shutil
from collections import defaultdict
from pathlib import Path

import pytest
from mypy import api

from codegen import render_files

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent / "typing"
_ERROR = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): error: (?P<message>.*)$")


@pytest.fixture(scope="module")
def mypy_errors(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[int, list[str]]]:
    """Run mypy once over the generated client and both call files; errors by file and line."""
    work = tmp_path_factory.mktemp("typing")
    (work / "shop_client.py").write_text(render_files("tests.codegen.fixtures.shop:registry").client)
    # Stored as .py.txt so a repository-wide mypy run does not check them without the client.
    for name in ("good_calls.py", "bad_calls.py"):
        shutil.copy(HERE / f"{name}.txt", work / name)
    stdout, stderr, _status = api.run(
        [
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(work / ".mypy_cache"),
            "--follow-imports",
            "silent",
            "--no-error-summary",
            "--hide-error-context",
            "--no-pretty",
            str(work / "shop_client.py"),
            str(work / "good_calls.py"),
            str(work / "bad_calls.py"),
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


def test_generated_client_is_strict_clean(mypy_errors: dict[str, dict[int, list[str]]]) -> None:
    assert dict(mypy_errors.get("shop_client.py", {})) == {}


def test_correct_calls_type_check(mypy_errors: dict[str, dict[int, list[str]]]) -> None:
    assert dict(mypy_errors.get("good_calls.py", {})) == {}


def test_each_wrong_call_is_rejected_on_its_line(mypy_errors: dict[str, dict[int, list[str]]]) -> None:
    lines = (HERE / "bad_calls.py.txt").read_text().splitlines()
    expected = {number for number, text in enumerate(lines, start=1) if text.rstrip().endswith("# E")}
    assert len(expected) >= 20
    got = mypy_errors.get("bad_calls.py", {})
    missing = sorted(expected - set(got))
    unexpected = {n: got[n] for n in sorted(set(got) - expected)}
    assert not missing, "mypy accepted these wrong lines:\n" + "\n".join(f"{n}: {lines[n - 1].strip()}" for n in missing)
    assert not unexpected, f"mypy rejected unmarked lines: {unexpected}"
