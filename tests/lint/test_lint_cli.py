"""``rivet-dsl lint`` through ``main([...])``: output, exit codes, suppressions, config, fixes, lock."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rivet_dsl.lint import main

HEADER = "import time\nfrom rivet_dsl import Actor, WorkflowContext, workflow\n\n\n"


def actor(body: str) -> str:
    """A module with one actor whose workflow body is ``body``."""
    return HEADER + textwrap.dedent(
        """\
        class A(Actor[None]):
            @workflow
            async def run(self, ctx: WorkflowContext) -> None:
        """
    ) + textwrap.indent(textwrap.dedent(body), " " * 8)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write(tmp_path / "pyproject.toml", "[project]\nname = 'demo'\n")
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_clean_file_exits_0(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(project / "ok.py", actor('await ctx.step("a", time.time)\n'))
    assert run(capsys, path) == (0, "", "")


def test_findings_are_sorted_lines_and_exit_1(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(project / "b.py", actor('started = time.time()\n'))
    write(project / "a.py", actor('ctx.step("a", self.f)\nawait ctx.sleep("a", 1)\n'))
    code, out, err = run(capsys, project)
    assert code == 1
    lines = out.splitlines()
    assert lines == [
        f"{project / 'a.py'}:8:9 RVT011 `ctx.step(...)` is not awaited; write `await` before it",
        f"{project / 'a.py'}:9:25 RVT002 entry name 'a' is already used at line 8 in this scope; give each entry its own name",
        f"{project / 'b.py'}:8:19 RVT003 `time.time` in workflow code outside a step reads the clock, which differs "
        "on replay; wrap it in `await ctx.step(...)` so the result is recorded and replayed",
    ]
    assert "Found 3 problems." in err


def test_json_format(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(project / "a.py", actor('ctx.step("a", self.f)\n'))
    code, out, _ = run(capsys, path, "--format", "json")
    assert code == 1
    assert json.loads(out) == [
        {
            "path": str(path),
            "line": 8,
            "col": 9,
            "code": "RVT011",
            "name": "AwaitContextCall",
            "message": "`ctx.step(...)` is not awaited; write `await` before it",
            "fixable": True,
        }
    ]


def test_parse_error_exits_2_without_traceback(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(project / "broken.py", "def f(:\n    pass\n")
    code, out, err = run(capsys, path)
    assert code == 2
    assert re.match(rf"{re.escape(str(path))}:\d+:\d+ RVT000 could not parse: ", out)
    assert out.count("\n") == 1
    assert "Traceback" not in out + err


@pytest.mark.parametrize(
    ("source", "line", "col"),
    [("import rivet_dsl\nx = 1\ny = = 2\nz = 3\n", 3, 5), ("def f(:\n    pass\n", 1, 7), ("if x:\npass\n", 2, 1)],
)
def test_parse_error_is_reported_where_python_reports_it(
    project: Path, capsys: pytest.CaptureFixture[str], source: str, line: int, col: int
) -> None:
    path = write(project / "broken.py", source)
    code, out, _ = run(capsys, path)
    assert code == 2
    assert out.startswith(f"{path}:{line}:{col} RVT000 could not parse: ")


def test_declared_source_encoding_is_honoured_and_kept_by_fix(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = project / "latin.py"
    path.write_bytes(("# -*- coding: latin-1 -*-\n# café\n" + actor('ctx.step("a", self.f)\n')).encode("latin-1"))
    code, out, _ = run(capsys, path)
    assert (code, out) == (1, f"{path}:10:9 RVT011 `ctx.step(...)` is not awaited; write `await` before it\n")
    assert run(capsys, path, "--fix")[0] == 0
    assert path.read_bytes().decode("latin-1").startswith("# -*- coding: latin-1 -*-\n# café\n")


def test_undecodable_source_is_a_read_error(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = project / "bad.py"
    path.write_bytes(b"# caf\xe9\n" + actor("pass\n").encode())
    code, out, _ = run(capsys, path)
    assert code == 2
    assert out.startswith(f"{path}:1:1 RVT000 could not read: ")


def test_usage_errors_exit_2(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, project / "missing.py")
    assert code == 2 and "no such file" in err
    code, _, err = run(capsys, project, "--format", "xml")
    assert code == 2 and "invalid choice" in err


def test_directories_are_walked_recursively(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(project / "pkg" / "sub" / "deep.py", actor("time.sleep(1)\n"))
    write(project / ".venv" / "lib" / "vendored.py", actor("time.sleep(1)\n"))
    write(project / "pkg" / "notes.txt", actor("time.sleep(1)\n"))
    code, out, _ = run(capsys, project)
    assert code == 1
    assert [line.split(" ")[1] for line in out.splitlines()] == ["RVT008"]
    assert "deep.py" in out


def test_many_files_give_the_same_findings_in_parallel(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for index in range(12):
        write(project / "many" / f"m{index:02d}.py", actor(f'await ctx.step("s{index}", self.f)\n'))
    write(project / "many" / "m07.py", actor("time.sleep(1)\n"))
    write(project / "many" / "m11.py", "def broken(:\n")
    old = {"A.run": [{"name": "kept", "type": "step"}]}
    write(project / "rivet.lock.json", json.dumps({"version": 1, "workflows": {"many/m11.py": old}}))
    code, out, _ = run(capsys, project / "many", "--update-lock")
    assert code == 2
    assert [(Path(line.split(":")[0]).name, line.split(" ")[1]) for line in out.splitlines()] == [
        ("m07.py", "RVT008"),
        ("m11.py", "RVT000"),
    ]
    workflows = json.loads((project / "rivet.lock.json").read_text())["workflows"]
    assert sorted(workflows) == [f"many/m{i:02d}.py" for i in range(12)]
    assert workflows["many/m11.py"] == old  # a file that does not parse keeps its recorded trees
    assert workflows["many/m03.py"] == {"A.run": [{"name": "s3", "type": "step"}]}
    assert workflows["many/m07.py"] == {"A.run": []}


def test_public_api_is_sorted() -> None:
    import rivet_dsl.lint as api

    assert list(api.__all__) == sorted(api.__all__)
    assert all(hasattr(api, name) for name in api.__all__)


@pytest.mark.parametrize(
    "source",
    [
        "started = time.time()  # rivet: allow[RVT003] -- only logged\n",
        "# rivet: allow[NoWallClock] -- only logged\nstarted = time.time()\n",
        "started = time.time()  # rivet: allow[RVT004, RVT003] -- only logged\n",
    ],
)
def test_suppression_with_code_and_reason(project: Path, capsys: pytest.CaptureFixture[str], source: str) -> None:
    path = write(project / "a.py", actor(source))
    assert run(capsys, path)[0] == 0


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("started = time.time()  # rivet: allow[RVT003]\n", "gives no reason"),
        ("started = time.time()  # rivet: allow -- because\n", "names no rule"),
        ("started = time.time()  # rivet: allow[] -- because\n", "names no rule"),
        ("started = time.time()  # rivet: allow[RVT999] -- because\n", "unknown rule RVT999"),
    ],
)
def test_bad_suppression_is_reported(
    project: Path, capsys: pytest.CaptureFixture[str], source: str, problem: str
) -> None:
    path = write(project / "a.py", actor(source))
    code, out, _ = run(capsys, path)
    assert code == 1
    codes = [line.split(" ")[1] for line in out.splitlines()]
    assert sorted(codes) == ["RVT003", "RVT900"]
    assert problem in out


def test_suppression_covers_only_its_line_and_the_next(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = "# rivet: allow[RVT003] -- only logged\n\nstarted = time.time()\n"
    path = write(project / "a.py", actor(source))
    code, out, _ = run(capsys, path)
    assert code == 1 and " RVT003 " in out


def test_config_disable_and_exclude(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(project / "src" / "a.py", actor("started = time.time()\ntime.sleep(1)\n"))
    write(project / "generated" / "g.py", actor("time.sleep(1)\n"))
    code, out, _ = run(capsys, project)
    assert code == 1 and out.count("\n") == 3
    write(
        project / "pyproject.toml",
        '[project]\nname = "demo"\n\n[tool.rivet.lint]\nexclude = ["generated"]\ndisable = ["RVT003"]\n',
    )
    code, out, _ = run(capsys, project)
    assert code == 1
    assert [line.split(" ")[1] for line in out.splitlines()] == ["RVT008"]
    assert "generated" not in out


def test_config_errors_exit_2(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(project / "pyproject.toml", '[tool.rivet.lint]\ndisabled = ["RVT003"]\n')
    write(project / "a.py", actor("pass\n"))
    code, _, err = run(capsys, project)
    assert code == 2 and "unknown [tool.rivet.lint] keys: disabled" in err


def test_fix_rewrites_in_place(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = actor(
        """\
        async def each(loop: WorkflowContext) -> None:
            ctx.step("s", self.save)
        ctx.sleep("nap", 1)
        await ctx.loop("l", each)
        """
    )
    path = write(project / "a.py", source)
    code, out, _ = run(capsys, path, "--fix")
    assert code == 0 and out == ""
    assert path.read_text() == actor(
        """\
        async def each(loop: WorkflowContext) -> None:
            await loop.step("s", self.save)
        await ctx.sleep("nap", 1)
        await ctx.loop("l", each)
        """
    )


def test_module_entry_point(project: Path) -> None:
    path = write(project / "a.py", actor("time.sleep(1)\n"))
    done = subprocess.run(
        [sys.executable, "-m", "rivet_dsl.lint", str(path), "--format", "json"], capture_output=True, text=True
    )
    assert done.returncode == 1
    assert [item["code"] for item in json.loads(done.stdout)] == ["RVT008"]


# --- the lock file --------------------------------------------------------------------------------

V1 = """\
await ctx.step("load", self.load)
if await ctx.get_version("gate", 2) >= 2:
    await ctx.step("new-path", self.new)
async def each(loop: WorkflowContext) -> None:
    await loop.queue.next("wait")
    await loop.step("apply", self.apply)
await ctx.loop("main", each)
"""


def test_update_lock_is_deterministic_and_sorted(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(project / "app" / "wf.py", actor(V1))
    assert run(capsys, project / "app", "--update-lock")[0] == 0
    lock = project / "rivet.lock.json"
    first = lock.read_bytes()
    assert run(capsys, project / "app", "--update-lock")[0] == 0
    assert lock.read_bytes() == first
    assert json.loads(first) == {
        "version": 1,
        "workflows": {
            "app/wf.py": {
                "A.run": [
                    {"name": "gate", "type": "version_check", "latest": 2},
                    {"name": "load", "type": "step"},
                    {
                        "name": "main",
                        "type": "loop",
                        "children": [{"name": "apply", "type": "step"}, {"name": "wait", "type": "message"}],
                    },
                    {"name": "new-path", "type": "step"},
                ]
            }
        },
    }
    # unchanged code passes against the lock; a new entry is fine
    assert run(capsys, project / "app")[0] == 0
    write(project / "app" / "wf.py", actor(V1 + 'await ctx.step("extra", self.extra)\n'))
    assert run(capsys, project / "app")[0] == 0


def lint_against_lock(project: Path, capsys: pytest.CaptureFixture[str], new_body: str) -> tuple[int, str]:
    write(project / "app" / "wf.py", actor(V1))
    assert run(capsys, project / "app", "--update-lock")[0] == 0
    write(project / "app" / "wf.py", actor(new_body))
    code, out, _ = run(capsys, project / "app")
    return code, out


def test_renamed_step_is_reported(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = lint_against_lock(project, capsys, V1.replace('"load"', '"load-v2"'))
    assert code == 1
    assert " RVT101 step entry 'load' recorded in rivet.lock.json (A.run) is gone" in out
    assert "`await ctx.removed('load', 'step')`" in out


def test_removed_call_silences_the_rename(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = V1.replace('"load"', '"load-v2"') + 'await ctx.removed("load", "step")\n'
    assert lint_against_lock(project, capsys, body) == (0, "")


def test_removed_with_wrong_type_does_not_silence(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = V1.replace('"load"', '"load-v2"') + 'await ctx.removed("load", "sleep")\n'
    code, out = lint_against_lock(project, capsys, body)
    assert code == 1 and "RVT101" in out


def test_renamed_entry_inside_a_loop_body(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = lint_against_lock(project, capsys, V1.replace('"apply"', '"apply-v2"'))
    assert code == 1 and "step entry 'apply' recorded in rivet.lock.json (A.run > main) is gone" in out
    body = V1.replace('"apply"', '"apply-v2"').replace(
        '    await loop.queue.next("wait")\n', '    await loop.queue.next("wait")\n    await loop.removed("apply", "step")\n'
    )
    assert lint_against_lock(project, capsys, body) == (0, "")


def test_changed_type_is_reported(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = lint_against_lock(project, capsys, V1.replace('await ctx.step("load", self.load)', 'await ctx.sleep("load", 1)'))
    assert code == 1 and "step entry 'load' recorded in rivet.lock.json (A.run) is now a sleep" in out


def test_version_gate_latest_decrease(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = lint_against_lock(project, capsys, V1.replace('("gate", 2)', '("gate", 1)'))
    assert code == 1 and " RVT102 version gate 'gate' lowered `latest` from 2 to 1" in out
    assert lint_against_lock(project, capsys, V1.replace('("gate", 2)', '("gate", 3)')) == (0, "")


def test_version_gate_removed(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = V1.replace('if await ctx.get_version("gate", 2) >= 2:\n    ', "")
    code, out = lint_against_lock(project, capsys, body)
    assert code == 1 and " RVT102 version gate 'gate' recorded in rivet.lock.json (A.run) is gone" in out
    assert lint_against_lock(project, capsys, body + 'await ctx.removed("gate", "version_check")\n') == (0, "")


def test_lock_path_option_and_json(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lock = project / "locks" / "custom.json"
    lock.parent.mkdir()
    write(project / "wf.py", actor(V1))
    assert run(capsys, project / "wf.py", "--update-lock", "--lock", lock)[0] == 0
    assert not (project / "rivet.lock.json").exists()
    write(project / "wf.py", actor(V1.replace('"load"', '"load-2"')))
    code, out, _ = run(capsys, project / "wf.py", "--lock", lock, "--format", "json")
    assert code == 1 and [v["code"] for v in json.loads(out)] == ["RVT101"]
