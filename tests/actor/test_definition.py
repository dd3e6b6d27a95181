"""Class creation validates the whole actor and raises one DefinitionError listing every problem."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from rivet_dsl import Actor, DefinitionError, QueueRef, action, event, queue, setup, workflow
from rivet_dsl.actor import ActorOptions


class State(msgspec.Struct):
    value: int = 0


class Body(msgspec.Struct):
    n: int


class Reply(msgspec.Struct):
    doubled: int


class NeedsArgs(msgspec.Struct):
    required: int


class WorkflowCounter(Actor[State], sleep_timeout=5.0, max_queue_size=10, icon="x"):
    @queue
    def jobs(self, body: Body) -> Reply: ...

    @queue(name="cron-tick", max_size=3)
    def cron_tick(self, body: int) -> None: ...

    @event
    def progress(self, value: int) -> None: ...

    @action
    def get(self) -> int:
        return self.state.value

    @action(name="add", timeout=2.0)
    async def add_value(self, amount: int, label: str = "x", *, unused: int = 0) -> str:
        return label


def test_definition_records_names_types_and_options() -> None:
    definition = WorkflowCounter.__rivet_definition__
    assert definition.name == "workflow_counter"
    assert definition.state_type is State
    assert definition.options == ActorOptions(sleep_timeout=5.0, max_queue_size=10, icon="x")
    assert set(definition.actions) == {"get", "add"}
    add = definition.actions["add"]
    assert add.attr == "add_value" and add.is_async and add.timeout == 2.0
    assert [(p.name, p.type, p.has_default, p.default) for p in add.params] == [
        ("amount", int, False, None),
        ("label", str, True, "x"),
    ]
    assert add.return_type is str
    assert set(definition.queues) == {"jobs", "cron-tick"}
    assert definition.queues["jobs"].body_type is Body
    assert definition.queues["jobs"].response_type is Reply
    assert definition.queues["jobs"].completable
    assert not definition.queues["cron-tick"].completable
    assert definition.queues["cron-tick"].max_size == 3
    assert definition.events["progress"].payload_type is int
    assert definition.run_kind == "none"


def test_action_args_type_validates_positional_lists() -> None:
    args_type = WorkflowCounter.__rivet_definition__.actions["add"].args_type
    assert msgspec.structs.astuple(msgspec.convert([3], args_type)) == (3, "x")
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert(["three"], args_type)
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert([1, "a", 2], args_type)


def test_queue_and_event_declarations_are_refs_on_instances() -> None:
    declaration = WorkflowCounter.jobs
    assert declaration.name == "jobs"
    instance = object.__new__(WorkflowCounter)
    ref = instance.jobs
    assert isinstance(ref, QueueRef)
    assert ref.name == "jobs"
    assert instance.cron_tick.name == "cron-tick"
    assert instance.progress.name == "progress"


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(DefinitionError) as info:

        class Broken(Actor[State]):
            @queue
            def has_body(self, body: int) -> None:
                print(body)

            @queue
            def two_params(self, a: int, b: int) -> None: ...

            @action
            def untyped(self, x):  # type: ignore[no-untyped-def]
                return x

            @action
            def no_return(self, x: int):  # type: ignore[no-untyped-def]
                return x

            @workflow
            async def one(self, ctx: Any) -> None: ...

            @workflow
            async def two(self, ctx: Any) -> None: ...

    problems = info.value.problems
    assert len(problems) == 6, problems
    text = str(info.value)
    assert "Invalid actor class" in text and "6 reasons" in text
    assert any("has_body" in p and "`...`" in p for p in problems)
    assert any("two_params" in p and "exactly one parameter" in p for p in problems)
    assert any("untyped" in p and "no type hint" in p for p in problems)
    assert any("no_return" in p and "return type" in p for p in problems)
    assert any("at most one run handler" in p for p in problems)
    assert info.value.code == "invalid_definition"


def test_run_and_workflow_together_are_rejected() -> None:
    with pytest.raises(DefinitionError, match="at most one run handler"):

        class Both(Actor[None]):
            async def run(self) -> None: ...

            @workflow
            async def flow(self, ctx: Any) -> None: ...


def test_state_must_be_constructible_or_create_state_given() -> None:
    with pytest.raises(DefinitionError, match="cannot be built without arguments"):

        class NoDefault(Actor[NeedsArgs]):
            pass

    class WithFactory(Actor[NeedsArgs]):
        def create_state(self, input: Any) -> NeedsArgs:
            return NeedsArgs(required=1)

    assert WithFactory.__rivet_definition__.state_type is NeedsArgs


def test_unparameterized_actor_and_bad_options_are_rejected() -> None:
    with pytest.raises(DefinitionError) as info:

        class Plain(Actor, sleep_timeout=0, max_queue_size=0, conn_hook_timeout=float("nan")):  # type: ignore[type-arg]
            pass

    problems = info.value.problems
    assert any("Actor[StateType]" in p for p in problems)
    assert any("sleep_timeout" in p for p in problems)
    assert any("conn_hook_timeout" in p for p in problems)
    assert any("max_queue_size" in p for p in problems)


def test_duplicate_wire_names_are_rejected() -> None:
    with pytest.raises(DefinitionError, match="declared twice"):

        class Dupes(Actor[None]):
            @action(name="same")
            def a(self) -> None: ...

            @action(name="same")
            def b(self) -> None: ...


def test_stateless_actor_and_explicit_name() -> None:
    class Pinger(Actor[None], name="ping-service"):
        @action
        def ping(self) -> str:
            return "pong"

    definition = Pinger.__rivet_definition__
    assert definition.name == "ping-service"
    assert definition.stateless


def test_subclass_inherits_options_and_members() -> None:
    class Child(WorkflowCounter, name="child"):
        @action
        def extra(self) -> int:
            return 1

    definition = Child.__rivet_definition__
    assert definition.options.sleep_timeout == 5.0
    assert set(definition.actions) == {"get", "add", "extra"}


def test_registry_rejects_name_clashes_and_non_actors() -> None:
    class Twin(Actor[None], name="workflow_counter"):
        pass

    with pytest.raises(DefinitionError) as info:
        setup(WorkflowCounter, Twin, int)  # type: ignore[arg-type]
    assert len(info.value.problems) == 2
    registry = setup(use=[WorkflowCounter])
    assert list(registry.definitions) == ["workflow_counter"]
