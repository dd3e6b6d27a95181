"""The seed workflows, written in Python, lint clean; the deliberately bad ones report exactly."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rivet_dsl.lint import lint_paths, lint_source

FIXTURES = Path(__file__).parent / "fixtures"
SEEDS = sorted((FIXTURES / "seeds").glob("*.py"))


@pytest.mark.parametrize("path", SEEDS, ids=[p.stem for p in SEEDS])
def test_seed_workflows_have_no_findings(path: Path) -> None:
    assert lint_source(path.read_text(encoding="utf-8"), str(path)) == []


def test_seed_workflows_are_all_analyzed(tmp_path: Path) -> None:
    lock = tmp_path / "rivet.lock.json"
    assert lint_paths([FIXTURES / "seeds"], lock=lock, update_lock=True) == []
    workflows = json.loads(lock.read_text())["workflows"]
    found = {f"{Path(module).stem}:{name}" for module, trees in workflows.items() for name in trees}
    # 27 workflows of the workflow guide (seed 000) and the two agent workflows (seed 004)
    assert len(found) == 29
    assert {"agents:BugFixer.run", "agents:CodeReviewer.run", "patterns:BoundedDrainActor.run"} <= found
    counter = next(t for m, ts in workflows.items() for n, t in ts.items() if n == "WorkflowCounter.run")
    assert counter == [
        {
            "name": "counter-loop",
            "type": "loop",
            "children": [
                {"name": "apply-counter-command", "type": "step"},
                {"name": "wait-counter-command", "type": "message"},
            ],
        }
    ]


def _expected(path: Path) -> set[tuple[int, str]]:
    expected: set[tuple[int, str]] = set()
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        match = re.search(r"# expect: ((?:RVT\d{3} ?)+)$", line)
        if match:
            expected.update((number, code) for code in match.group(1).split())
    return expected


def test_bad_workflows_report_exactly_the_marked_lines() -> None:
    path = FIXTURES / "bad_workflows.py"
    found = {(v.line, v.code) for v in lint_source(path.read_text(), str(path))}
    expected = _expected(path)
    assert len(expected) >= 12
    assert found == expected


def test_seed_broken_on_purpose_is_reported() -> None:
    # the seed's "Timers" example computes max(Date.now(), at) outside a step: a literal translation
    source = (FIXTURES / "seeds" / "basics.py").read_text().replace(
        'await loop.sleep_until("wait-until-reminder", message.body.at)',
        'await loop.sleep_until("wait-until-reminder", max(time.time(), message.body.at))',
    )
    source = "import time\n" + source
    codes = [v.code for v in lint_source(source)]
    assert codes == ["RVT003"]
