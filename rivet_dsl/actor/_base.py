"""``Actor[StateT]``: the base class user actors subclass."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from ._definition import ActorDefinition, ActorOptions, build_definition
from ._guard import check_step_access

if TYPE_CHECKING:
    from ..client import Client
    from ..runtime._connection import Conn
    from ..runtime._queue import ActorQueue
    from ..runtime._schedule import Schedule
    from ._host import ActorHost

__all__ = ["Actor"]

StateT = TypeVar("StateT")

_UNSET: Any = object()


class Actor(Generic[StateT]):
    """Base class of every actor.

    Class options go in the class statement, all optional::

        class Chat(Actor[ChatState], name="chat", sleep_timeout=30.0, action_timeout=60.0,
                   conn_hook_timeout=5.0, max_queue_size=1000, max_queue_message_size=65536, icon="💬"):
            ...

    The class is validated when it is created: every problem is collected and raised as one
    :class:`~rivet_dsl.DefinitionError`. Ordinary instance attributes are ephemeral (Rivet's
    ``vars``): set them in :meth:`on_wake`. Durable data lives in :attr:`state`.
    """

    __slots__ = ("_rivet",)
    __rivet_definition__: ClassVar[ActorDefinition]

    _rivet: ActorHost

    def __init_subclass__(
        cls,
        *,
        name: str | None = None,
        sleep_timeout: float = _UNSET,
        action_timeout: float = _UNSET,
        conn_hook_timeout: float = _UNSET,
        max_queue_size: int = _UNSET,
        max_queue_message_size: int = _UNSET,
        icon: str | None = _UNSET,
        display_name: str | None = _UNSET,
        abstract: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(**kwargs)
        if abstract:
            return
        inherited = getattr(cls, "__rivet_definition__", None)
        base = inherited.options if inherited is not None else ActorOptions()
        options = ActorOptions(
            sleep_timeout=base.sleep_timeout if sleep_timeout is _UNSET else float(sleep_timeout),
            action_timeout=base.action_timeout if action_timeout is _UNSET else float(action_timeout),
            conn_hook_timeout=base.conn_hook_timeout if conn_hook_timeout is _UNSET else float(conn_hook_timeout),
            max_queue_size=base.max_queue_size if max_queue_size is _UNSET else max_queue_size,
            max_queue_message_size=(
                base.max_queue_message_size if max_queue_message_size is _UNSET else max_queue_message_size
            ),
            icon=base.icon if icon is _UNSET else icon,
            display_name=base.display_name if display_name is _UNSET else display_name,
        )
        cls.__rivet_definition__ = build_definition(cls, name, options)

    # -- identity --------------------------------------------------------------------------

    @property
    def actor_id(self) -> str:
        """The stable id of this actor (unique across names and keys)."""
        return self._rivet.actor_id

    @property
    def name(self) -> str:
        """The actor's wire name (``WorkflowCounter`` -> ``workflow_counter``)."""
        return self._rivet.name

    @property
    def key(self) -> tuple[str, ...]:
        """The key this actor was created with."""
        return self._rivet.key

    @property
    def log(self) -> logging.Logger:
        """A logger bound to this actor."""
        return self._rivet.log

    # -- durable state -----------------------------------------------------------------------

    @property
    def state(self) -> StateT:
        """The persisted state. Changes are committed before the action that made them returns."""
        check_step_access("state")
        value: StateT = self._rivet.get_state()
        return value

    @state.setter
    def state(self, value: StateT) -> None:
        check_step_access("state")
        self._rivet.set_state(value)

    async def save_state(self) -> None:
        """Commit the current state now (actions and steps already do this on return)."""
        check_step_access("state")
        await self._rivet.save_state()

    # -- connections and events -------------------------------------------------------------

    @property
    def conn(self) -> Conn | None:
        """The connection of the current action; ``None`` for calls without one."""
        check_step_access("conn")
        return self._rivet.current_conn()

    @property
    def conns(self) -> Mapping[str, Conn]:
        """Every open connection, by connection id."""
        check_step_access("conns")
        return self._rivet.conns()

    # -- queues, schedules, other actors -----------------------------------------------------

    @property
    def queue(self) -> ActorQueue:
        """This actor's own queues: ``next``, ``next_batch``, ``iter`` (for a plain ``run`` loop) and ``send``."""
        return self._rivet.queue

    @property
    def schedule(self) -> Schedule:
        """Durable schedules: ``after``, ``at``, ``cancel``, ``list``."""
        check_step_access("schedule")
        return self._rivet.schedule

    def client(self) -> Client:
        """A client of the same registry, for actor-to-actor calls."""
        check_step_access("client()")
        return self._rivet.client()

    def destroy(self) -> None:
        """Destroy this actor once the current action returns: ``on_destroy`` runs, state is deleted."""
        self._rivet.request_destroy()

    @property
    def aborted(self) -> asyncio.Event:
        """Set when the actor is stopping (sleep, destroy or shutdown)."""
        return self._rivet.aborted

    # -- lifecycle hooks (override any of them; sync or async) -------------------------------

    def create_state(self, input: Any) -> StateT:
        """Build the initial state; the default is ``StateT()``."""
        state_type = type(self).__rivet_definition__.state_type
        value: StateT = None if state_type is None else state_type()  # type: ignore[assignment]
        return value

    def on_create(self, input: Any) -> Any:
        """Runs once, when the actor is created, after ``create_state``."""

    def on_wake(self) -> Any:
        """Runs every time the actor starts (after creation, sleep or a crash)."""

    def on_sleep(self) -> Any:
        """Runs before the actor sleeps; state is saved after it."""

    def on_destroy(self) -> Any:
        """Runs before the actor's state is deleted."""

    def on_state_change(self, state: StateT) -> Any:
        """Runs after an action or step changed the state (once per change)."""

    def on_before_connect(self, params: Any) -> Any:
        """Validate connection params; raise (e.g. ``UserError``) to reject the connection."""

    def create_conn_state(self, params: Any) -> Any:
        """Build the per-connection state from the connection params."""

    def on_connect(self, conn: Conn) -> Any:
        """Runs when a connection opened."""

    def on_disconnect(self, conn: Conn) -> Any:
        """Runs when a connection closed."""

    # ``async def run(self) -> None`` (a plain, non-durable background loop) is deliberately not
    # declared here: a ``@workflow`` method may also be called ``run`` with another signature.
