"""A declared member (action, queue, event, workflow) named like an attribute of the ``Actor``
base would silently replace it: ``self.conns`` would be an action, ``self.destroy()`` would not
destroy. Class creation refuses it with a ``DefinitionError`` naming the method and the base
attribute; an action keeps such a wire name with ``name=``."""

from __future__ import annotations

import pytest

from rivet_dsl import Actor, DefinitionError, WorkflowContext, action, event, queue, workflow


def test_the_reserved_names_are_the_base_attributes_that_are_not_hooks() -> None:
    from rivet_dsl.actor._definition import reserved_names  # (here: new with the check)

    # Hooks (on_wake, run, ...) are meant to be overridden; these are what the base provides.
    assert reserved_names() == {
        "aborted",
        "actor_id",
        "client",
        "conn",
        "conns",
        "destroy",
        "key",
        "log",
        "name",
        "queue",
        "save_state",
        "schedule",
        "state",
    }


def test_an_action_named_like_a_base_attribute_is_refused() -> None:
    with pytest.raises(DefinitionError) as info:

        class Shadowing(Actor[None]):
            @action
            def conns(self) -> int:
                return 0

    assert (info.value.group, info.value.code) == ("actor", "invalid_definition")
    assert info.value.problems == [
        "action method 'conns' would shadow Actor.conns, which the base class provides; "
        "rename the method (keep the wire name with name=...)"
    ]


def test_queue_event_and_workflow_members_are_refused_too_all_at_once() -> None:
    with pytest.raises(DefinitionError) as info:

        class Shadowing(Actor[None]):
            @queue
            def schedule(self, body: int) -> None: ...

            @event
            def key(self, payload: int) -> None: ...

            @workflow
            async def state(self, ctx: WorkflowContext) -> None:
                return None

            @action
            async def destroy(self) -> None:
                return None

    problems = info.value.problems
    assert [p.split(" would shadow ")[0] for p in problems] == [
        "action method 'destroy'",
        "event method 'key'",
        "queue method 'schedule'",
        "workflow method 'state'",
    ]
    assert all("Actor." in p for p in problems)


def test_a_renamed_method_may_keep_the_wire_name() -> None:
    class Renamed(Actor[None]):
        @action(name="conns")
        def count_conns(self) -> int:
            return len(self.conns)

    assert Renamed.__rivet_definition__.actions["conns"].attr == "count_conns"
