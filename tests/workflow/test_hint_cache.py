"""Typed replay reads a loop body's annotations; the closures a run handler defines are new
functions at every wake, so their hints are cached per code object, and only while the
annotations and the module they resolve in are those cached."""

from __future__ import annotations

from typing import Any

import msgspec

from rivet_dsl import Loop, WorkflowContext
from rivet_dsl.workflows._engine import hint_of, state_hint_of


class Job(msgspec.Struct):
    value: int


def make_body() -> Any:
    async def body(loop: WorkflowContext, jobs: list[Job]) -> Loop[Job]:
        return Loop.break_(jobs[0])

    return body


def test_closures_of_one_code_object_share_their_hints() -> None:
    first, second = make_body(), make_body()
    assert first is not second
    assert hint_of(first) == Loop[Job]
    assert state_hint_of(first, []) == list[Job]
    assert hint_of(second) == Loop[Job]
    assert state_hint_of(second, []) == list[Job]


def test_changed_annotations_are_resolved_again() -> None:
    make_body()  # cache the hints of this code object
    changed = make_body()
    changed.__annotations__ = {"loop": "WorkflowContext", "jobs": "list[int]", "return": "Loop[int]"}
    assert hint_of(changed) == Loop[int]
    assert state_hint_of(changed, []) == list[int]
    assert hint_of(make_body()) == Loop[Job]
