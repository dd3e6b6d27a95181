"""``WorkflowContext``: the API a ``@workflow`` handler uses (API.md §1.5).

Every call records (or replays) one named entry in the current scope. Entry calls return an
awaitable that registers the entry *when it is created*, so starting a second entry before the
first was awaited is detected (:class:`EntryInProgressError`), as is an entry never awaited.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
from collections.abc import Awaitable, Callable, Coroutine, Generator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import (
    TYPE_CHECKING,
    Any,
    Generic,
    TypeVar,
    TypeVarTuple,
    get_args,
    get_origin,
    overload,
)

import msgspec

from .._errors import (
    CriticalError,
    EntryInProgressError,
    HistoryDivergedError,
    JoinError,
    QueuePreviousMessageNotCompletedError,
    RaceError,
    RivetError,
    StepExhaustedError,
    StepTimeoutError,
    WorkflowError,
)
from .._loop import Loop
from ..actor._guard import in_workflow_code
from ..runtime._clock import within
from ..runtime._codec import decode_builtins, decoder_for, encode
from ..runtime._queue import QueueMessage, queue_names
from ..storage import QueueRow
from ._engine import (
    RaceTake,
    RollbackCheckpointError,
    RollbackContext,
    RollbackStop,
    WorkflowEngine,
    decode_output,
    hint_of,
    state_hint_of,
)
from ._history import Branch, Entry, ErrorInfo, iteration_segment, name_segment

if TYPE_CHECKING:
    from ..actor._decorators import QueueDeclaration, QueueRef

__all__ = ["RaceResult", "RollbackContext", "WorkflowContext", "WorkflowQueue"]

T = TypeVar("T")
R = TypeVar("R")
S = TypeVar("S")
B = TypeVar("B")
BR = TypeVar("BR")
Ts = TypeVarTuple("Ts")

if TYPE_CHECKING:
    #: The queues ``names=`` may give when their messages' body and response types are to be
    #: known: one ref (``self.jobs``) or declaration (``MyActor.jobs``), or a sequence of them.
    _TypedNames = (
        QueueRef[B, BR] | QueueDeclaration[B, BR] | Sequence[QueueRef[B, BR] | QueueDeclaration[B, BR]]
    )

_UNSET: Any = object()
_CONTROL = (HistoryDivergedError, EntryInProgressError, RollbackStop, RollbackCheckpointError)
#: Errors that end the workflow run at once, in every branch of a join or race. RollbackStop
#: ends only its own branch: the others still replay up to their own end, registering the
#: compensations of their completed steps.
_STOPS_SIBLINGS = (HistoryDivergedError, EntryInProgressError, RollbackCheckpointError)


def _error_info(exc: BaseException) -> ErrorInfo:
    """What to record of ``exc`` so that a replay raises the same kind of error (see
    :func:`_replayed_error`)."""
    cls = type(exc)
    if isinstance(exc, CriticalError):
        kind = "critical"
    elif isinstance(exc, StepTimeoutError):
        kind = "timeout"
    elif isinstance(exc, StepExhaustedError):
        kind = "exhausted"
    elif isinstance(exc, RollbackCheckpointError):
        kind = "rollback_checkpoint"
    else:
        kind = "error"
    info = ErrorInfo(kind, f"{cls.__module__}:{cls.__qualname__}", str(exc))
    if isinstance(exc, RivetError):
        info.message = exc.message
        info.code = exc.code
        if exc.metadata is not None:
            try:
                info.metadata = encode(exc.metadata)
            except Exception:  # noqa: BLE001  (TypeError, ValueError, OverflowError for ints past 64 bits)
                pass  # not storable data: the replayed error has none; recording must not fail
        info.attrs = _error_attrs(exc)
    return info


#: The attributes ``RivetError.__init__`` sets: recorded as fields of their own, not as ``attrs``.
_RIVET_FIELDS = frozenset(("message", "group", "code", "metadata", "status"))
#: At most this many encoded bytes of an error's own attributes are recorded (the rest are left out).
_ATTRS_LIMIT = 16 * 1024


def _error_attrs(exc: RivetError) -> bytes | None:
    """The attributes the error's class set of its own (``self.order_id = ...`` in its
    ``__init__``), encoded as a map: only values storable as plain data, in order, while the
    total stays within :data:`_ATTRS_LIMIT`. The others are left out (recording must not fail)."""
    own = getattr(exc, "__dict__", None)
    if not own:
        return None
    kept: dict[str, Any] = {}
    size = 0
    for key, value in own.items():
        if key in _RIVET_FIELDS or not isinstance(key, str) or key.startswith("__"):
            continue
        try:
            length = len(encode(value))
        except Exception:  # noqa: BLE001  (not storable data: TypeError, ValueError, OverflowError)
            continue
        if size + length > _ATTRS_LIMIT:
            continue
        size += length
        kept[key] = value
    return encode(kept) if kept else None


def _restore_attrs(error: RivetError, blob: bytes) -> None:
    """Set the recorded attributes on a rebuilt error (its ``__init__`` did not run). A value
    comes back as its class annotates the attribute (``order: Order``), else as plain data."""
    try:
        attrs = decode_builtins(blob)
    except Exception:
        return
    if not isinstance(attrs, dict):
        return
    hints: dict[str, Any] = {}
    for klass in reversed(type(error).__mro__):
        if klass.__module__ == RivetError.__module__ or klass.__module__ == "builtins":
            continue  # rivet_dsl's own errors annotate only class variables
        try:
            hints.update(inspect.get_annotations(klass, eval_str=True))
        except Exception:  # noqa: BLE001  (an annotation that no longer resolves)
            continue
    for key, value in attrs.items():
        if not isinstance(key, str) or key in _RIVET_FIELDS:
            continue
        hint = hints.get(key)
        if hint is not None:
            try:
                value = msgspec.convert(value, hint)
            except Exception:  # noqa: BLE001  (the annotation no longer fits: plain data)
                pass
        try:
            setattr(error, key, value)
        except Exception:  # noqa: BLE001  (a read-only property, __slots__...: left out)
            continue


def _import_class(qualified: str) -> type | None:
    """The class named ``module:qualname``, if it can still be imported."""
    module_name, _, qualname = qualified.partition(":")
    if not module_name or not qualname or "<locals>" in qualname:
        return None
    try:
        target: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
    except Exception:
        return None
    return target if isinstance(target, type) else None


def _rivet_error(cls: type[RivetError], info: ErrorInfo) -> RivetError:
    """``cls`` with the recorded message, code and metadata (as unpickling builds one: its own
    ``__init__``, whose signature is the class's business, does not run)."""
    error = cls.__new__(cls)
    metadata = None
    if info.metadata is not None:
        try:
            metadata = decode_builtins(info.metadata)
        except Exception:
            metadata = None
    RivetError.__init__(error, info.message, code=info.code, metadata=metadata)
    if info.attrs is not None:
        _restore_attrs(error, info.attrs)
    if isinstance(error, StepExhaustedError):
        step = metadata.get("step") if isinstance(metadata, dict) else None
        error.step = step if isinstance(step, str) else ""
        prefix = f"Step {error.step!r} exhausted retries: "
        error.last_error = info.message.removeprefix(prefix)
    return error


def _replayed_error(info: ErrorInfo | None, path: str, text: str) -> BaseException:
    """The error a failed step raised live, rebuilt from its record: ``CriticalError`` (or the
    recorded subclass of it, if it can still be imported and still is one), ``StepTimeoutError``,
    ``RollbackCheckpointError``, else ``StepExhaustedError`` (as live, for ordinary exceptions
    after the retries, and for entries recorded before the kind was). ``text`` is the entry's
    ``error`` string."""
    if info is None:
        return StepExhaustedError(path, text)
    if info.kind == "critical":
        cls = _import_class(info.cls)
        if cls is None or not issubclass(cls, CriticalError):
            cls = CriticalError
        return _rivet_error(cls, info)
    if info.kind == "timeout":
        return _rivet_error(StepTimeoutError, info)
    if info.kind == "rollback_checkpoint":
        return _rivet_error(RollbackCheckpointError, info)
    return StepExhaustedError(path, text)


def _failed_branch(exc: BaseException) -> Branch:
    """The record of a join/race branch that raised ``exc``."""
    return Branch("failed", None, f"{type(exc).__name__}: {exc}", _error_info(exc))


def _completed_branch(value: Any) -> Branch:
    """The record of a join/race branch that returned ``value``."""
    return Branch("completed", None if value is None else encode(value))


def _replayed_branch_error(record: Branch, replayed: Any) -> BaseException:
    """The error a failed branch of a finished join raised live. Its replay raises it again
    (its steps replay their recorded errors) and is used when it is of the recorded class
    (nested join and race errors, and the user's own exceptions, keep all they carry);
    otherwise the error is rebuilt from the record."""
    info = record.info
    if info is None:
        return WorkflowError(record.error or "branch failed")  # recorded before kinds were
    if isinstance(replayed, BaseException):
        cls = type(replayed)
        if f"{cls.__module__}:{cls.__qualname__}" == info.cls:
            return replayed
    if info.kind == "exhausted":
        return _rivet_error(StepExhaustedError, info)
    if info.kind != "error":
        return _replayed_error(info, "", record.error or "")
    recorded = _import_class(info.cls)
    if recorded is not None and issubclass(recorded, RivetError):
        return _rivet_error(recorded, info)
    return WorkflowError(record.error or "branch failed")


def _record_step(engine: WorkflowEngine, location: bytes, entry: Entry, output: bytes | None) -> None:
    """Stage a step's completed entry."""
    entry.status = "completed"
    entry.error = None
    entry.completed_at = engine.clock.now()
    entry.output = output
    engine.put_entry(location, entry)


def _stop_siblings_on_error(engine: WorkflowEngine, tasks: list[asyncio.Task[Any]]) -> list[BaseException]:
    """When a join branch fails with a divergence (or another error that ends the run), cancel
    the other branches at once: they would otherwise go on and commit new steps, or wait
    forever and hide the error. Steps they had half run are reverted (``end_step``). Returns
    the list that receives the error; while it is not empty, the caller owns one count of
    ``_steps_reverting`` and must give it back once every task has settled."""
    stopped: list[BaseException] = []

    def on_done(task: asyncio.Task[Any]) -> None:
        if stopped or task.cancelled():
            return
        exc = task.exception()
        if isinstance(exc, _STOPS_SIBLINGS):
            stopped.append(exc)
            engine.actor._steps_reverting += 1
            for other in tasks:
                if other is not task:
                    other.cancel()

    for task in tasks:
        task.add_done_callback(on_done)
    return stopped


@dataclass(frozen=True, slots=True)
class RaceResult(Generic[T]):
    """The winner of ``ctx.race`` and its value."""

    winner: str
    value: T


class _Op(Generic[R]):
    """An entry call: awaitable once; the entry is 'in progress' from creation until it settles."""

    __slots__ = ("_args", "_ctx", "_fn", "_used")

    def __init__(self, ctx: WorkflowContext, fn: Callable[..., Coroutine[Any, Any, R]], *args: Any) -> None:
        self._ctx = ctx
        self._fn = fn
        self._args = args
        self._used = False

    def __await__(self) -> Generator[Any, None, R]:
        if self._used:
            raise RuntimeError("a workflow entry can be awaited only once")
        self._used = True
        return self._run().__await__()

    async def _run(self) -> R:
        try:
            return await self._fn(*self._args)
        finally:
            self._ctx._pending = None


def _loop_value_hint(hint: Any) -> Any:
    """``T`` of a loop body annotated ``-> Loop[T]`` or ``-> Loop[T] | None``, else ``Any``:
    what a completed loop's recorded value is decoded as."""
    for candidate in (hint, *get_args(hint)):
        if get_origin(candidate) is Loop:
            return get_args(candidate)[0]
    return Any


def _describe(kind: str, name: str) -> str:
    return f"{kind} {name!r}"


class WorkflowQueue:
    """``ctx.queue``: receive messages from the actor's durable queues into history."""

    __slots__ = ("_ctx",)

    def __init__(self, ctx: WorkflowContext) -> None:
        self._ctx = ctx

    @overload
    def next(
        self, name: str, *, names: _TypedNames[B, BR], timeout: None = None, completable: bool = False
    ) -> Awaitable[QueueMessage[B, BR]]: ...

    @overload
    def next(
        self, name: str, *, names: _TypedNames[B, BR], timeout: float, completable: bool = False
    ) -> Awaitable[QueueMessage[B, BR] | None]: ...

    @overload
    def next(
        self, name: str, *, names: Sequence[Any] | str | None = None, timeout: None = None, completable: bool = False
    ) -> Awaitable[QueueMessage[Any]]: ...

    @overload
    def next(
        self, name: str, *, names: Sequence[Any] | str | None = None, timeout: float, completable: bool = False
    ) -> Awaitable[QueueMessage[Any] | None]: ...

    def next(
        self, name: str, *, names: Any = None, timeout: float | None = None, completable: bool = False
    ) -> Awaitable[Any]:
        """The next message of the named queues (FIFO); ``None`` after ``timeout`` seconds."""
        ctx = self._ctx
        ctx._claim(name)
        return _Op(ctx, ctx._receive, name, names, 1, timeout, completable, True)

    @overload
    def next_batch(
        self,
        name: str,
        *,
        names: _TypedNames[B, BR],
        count: int,
        timeout: float | None = None,
        completable: bool = False,
    ) -> Awaitable[list[QueueMessage[B, BR]]]: ...

    @overload
    def next_batch(
        self,
        name: str,
        *,
        names: Sequence[Any] | str | None = None,
        count: int,
        timeout: float | None = None,
        completable: bool = False,
    ) -> Awaitable[list[QueueMessage[Any]]]: ...

    def next_batch(
        self, name: str, *, names: Any = None, count: int, timeout: float | None = None, completable: bool = False
    ) -> Awaitable[Any]:
        """Up to ``count`` messages, oldest first; ``[]`` after ``timeout`` seconds without any."""
        ctx = self._ctx
        ctx._claim(name)
        return _Op(ctx, ctx._receive, name, names, count, timeout, completable, False)


class WorkflowContext:
    """The context passed to a ``@workflow`` run handler (and to loop bodies and branches)."""

    __slots__ = (
        "_checkpoint",
        "_cursor",
        "_engine",
        "_expected",
        "_in_branch",
        "_race_roots",
        "_loc",
        "_sealed",
        "_names",
        "_path",
        "_pending",
        "queue",
    )

    def __init__(
        self,
        engine: WorkflowEngine,
        location: bytes,
        path: str,
        checkpoint: bool = False,
        in_branch: bool = False,
        race_roots: tuple[bytes, ...] = (),
        sealed: bool = False,
    ) -> None:
        self._engine = engine
        #: A branch of a finished join (or the winner of a finished race), or a scope inside
        #: one: its history is complete, so it replays and never records a new entry.
        self._sealed = sealed
        #: Inside a join/race branch: steps of other branches may run at the same time.
        self._in_branch = in_branch
        #: The locations of the race branches this scope is in (innermost last): if one loses,
        #: the messages taken in it since its last completed step go back to the queue.
        self._race_roots = race_roots
        self._loc = location
        self._path = path
        self._names: set[str] = set()
        self._expected: list[bytes] = engine.history.children.pop(location, [])
        self._cursor = 0
        self._pending: str | None = None
        self._checkpoint = checkpoint
        self.queue = WorkflowQueue(self)

    # -- info ----------------------------------------------------------------------------------

    @property
    def workflow_id(self) -> str:
        """The workflow's id (the actor id)."""
        return self._engine.actor_id

    @property
    def path(self) -> str:
        """This scope's location, e.g. ``counter-loop/~3``."""
        return self._path

    @property
    def aborted(self) -> asyncio.Event:
        """Set when the actor is stopping (the workflow is about to be evicted)."""
        return self._engine.actor.aborted

    def is_evicted(self) -> bool:
        return self._engine.actor.aborted.is_set()

    # -- entry bookkeeping ----------------------------------------------------------------------

    def _child_path(self, name: str) -> str:
        return f"{self._path}/{name}" if self._path else name

    def _claim(self, name: str) -> None:
        if self._pending is not None:
            raise self._halt(EntryInProgressError(self._child_path(name)))
        self._pending = name

    def _halt(self, exc: WorkflowError) -> WorkflowError:
        """The code does not match the history: the run ends with ``exc``. Every other branch
        of a join or race stops at its next entry or step, before running any more user code
        or writing anything (they run in the same loop turn, before the failing branch's
        task can cancel them)."""
        self._engine.halted = exc
        return exc

    def _enter(self, name: str, kind: str) -> tuple[bytes, Entry | None]:
        """Locate entry ``name`` of ``kind`` in this scope; check order, duplicates and type."""
        if self._engine.halted is not None:
            raise asyncio.CancelledError()  # another branch diverged (see _halt)
        # The entry's path (a new string per call) is only built for an error.
        if name in self._names:
            raise self._halt(HistoryDivergedError(
                self._child_path(name),
                _describe(kind, name),
                "a duplicate name",
                "Each step/loop/sleep/queue.next/join/race must have a unique name within its scope",
            ))
        engine = self._engine
        history = engine.history
        index = history._name_index.get(name)
        location = None if index is None else self._loc + name_segment(index)
        expected = self._expected
        if self._cursor < len(expected):
            want = expected[self._cursor]
            if want != location:
                recorded = history.entries[want]
                path = self._child_path(name)
                raise self._halt(HistoryDivergedError(
                    path,
                    _describe(recorded.kind, history.readable(want)),
                    _describe(kind, path),
                    "Workflow code may have changed; use ctx.removed() to retire entries",
                ))
            self._cursor += 1
        entry = None if location is None else history.entries.get(location)
        if history.gates:  # recorded version gates not visited yet (replay only)
            self._check_gates(kind, name, entry)
        if entry is None and self._sealed:
            # Every recorded entry of this scope was visited (else the check above fails):
            # this one is new code, which a finished join/race does not run (docs/workflows.md).
            path = self._child_path(name)
            raise self._halt(HistoryDivergedError(
                path,
                f"the end of finished scope {self._path!r}",
                _describe(kind, path),
                "A join or race that has finished runs no new entries in its branches; "
                "use ctx.get_version() to keep old histories on the old code",
            ))
        self._names.add(name)
        if location is None:
            location = self._loc + name_segment(history.intern(name, engine.stage))
            return location, None
        if entry is not None and entry.kind != kind:
            path = self._child_path(name)
            raise self._halt(HistoryDivergedError(path, _describe(entry.kind, path), _describe(kind, path)))
        return location, entry

    def _enter_loose(self, name: str, kinds: tuple[str, ...]) -> tuple[bytes | None, Entry | None]:
        """Locate a removed/version_check entry: matched by name, not by position. In a sealed
        scope, a name not yet known has no location (nothing may be recorded there)."""
        path = self._child_path(name)
        if name in self._names:
            raise self._halt(HistoryDivergedError(path, _describe(kinds[0], name), "a duplicate name"))
        self._names.add(name)
        engine = self._engine
        index = engine.history._name_index.get(name)
        if index is None and self._sealed:
            return None, None
        # A new name is staged with the entry's next write, if any (see stage_later).
        location = self._loc + name_segment(engine.history.intern(name, engine.stage_later) if index is None else index)
        entry = engine.history.entries.get(location)
        if entry is not None and entry.kind not in kinds:
            raise self._halt(HistoryDivergedError(path, " or ".join(kinds), _describe(entry.kind, path)))
        if entry is not None and entry.kind in ("version_check", "removed"):
            gates = engine.history.gates
            pending = gates.get(self._loc)
            if pending is not None:
                pending[:] = [g for g in pending if g[1] != location]
                if not pending:
                    del gates[self._loc]
        if location in self._expected[self._cursor :]:
            self._expected.remove(location)
        return location, entry

    def _check_gates(self, kind: str, name: str, entry: Entry | None) -> None:
        """A recorded version gate (or ``removed`` placeholder) of this scope that was recorded
        before ``entry`` (or before any new entry) and has not been visited: the code passed its
        place without it, so the gate was deleted without ``ctx.removed(name, "version_check")``
        (or the ``ctx.removed`` call was deleted)."""
        pending = self._engine.history.gates.get(self._loc)
        if not pending or (entry is not None and entry.seq < pending[0][0]):
            return
        self._gate_diverged(pending[0][1], _describe(kind, self._child_path(name)))

    def _gate_diverged(self, gate: bytes, found: str) -> None:
        history = self._engine.history
        path = history.readable(gate)
        if history.entries[gate].kind == "removed":
            raise self._halt(HistoryDivergedError(
                path,
                _describe("removed", path),
                found,
                "A ctx.removed() placeholder exists in history but was not visited; keep the "
                "ctx.removed() call while histories that recorded it may replay",
            ))
        raise self._halt(HistoryDivergedError(
            path,
            _describe("version_check", path),
            found,
            "A version gate exists in history but was not visited; retire it with "
            "ctx.removed(name, 'version_check')",
        ))

    def _finish_scope(self) -> None:
        """End of a scope: an entry never awaited, or recorded entries never visited, are errors."""
        if self._pending is not None:
            raise self._halt(EntryInProgressError(self._child_path(self._pending)))
        gates = self._engine.history.gates
        if gates:  # recorded version gates not visited yet (replay only)
            pending = gates.get(self._loc)
            if pending:
                self._gate_diverged(pending[0][1], f"the end of scope {self._path or '<root>'!r}")
        if self._cursor < len(self._expected):
            history = self._engine.history
            want = self._expected[self._cursor]
            entry = history.entries[want]
            raise self._halt(HistoryDivergedError(
                history.readable(want),
                _describe(entry.kind, history.readable(want)),
                f"the end of scope {self._path or '<root>'!r}",
                "Entry exists in history but was not visited; use ctx.removed() to retire it",
            ))

    def _sub(
        self, location: bytes, path: str, in_branch: bool = False, race: bool = False, sealed: bool = False
    ) -> WorkflowContext:
        return WorkflowContext(
            self._engine,
            location,
            path,
            self._checkpoint,
            in_branch or self._in_branch,
            self._race_roots + (location,) if race else self._race_roots,
            sealed or self._sealed,
        )

    # -- step ----------------------------------------------------------------------------------

    # `*args: *Ts` ties the arguments to `fn`'s parameters, so mypy checks `fn(*args)` as it
    # would a direct call (defaults, keyword-only parameters and bound methods included). A
    # result that is awaitable (a coroutine, or a sync function returning one) is awaited.
    @overload
    def step(
        self,
        name: str,
        fn: Callable[[*Ts], Awaitable[R]],
        *args: *Ts,
        timeout: float | None = 30.0,
        max_retries: int = 3,
        retry_backoff_base: float = 0.1,
        retry_backoff_max: float = 30.0,
        retry_on_timeout: bool = False,
        ephemeral: bool = False,
        rollback: Callable[[RollbackContext, R], Any] | None = None,
    ) -> Awaitable[R]: ...

    @overload
    def step(
        self,
        name: str,
        fn: Callable[[*Ts], R],
        *args: *Ts,
        timeout: float | None = 30.0,
        max_retries: int = 3,
        retry_backoff_base: float = 0.1,
        retry_backoff_max: float = 30.0,
        retry_on_timeout: bool = False,
        ephemeral: bool = False,
        rollback: Callable[[RollbackContext, R], Any] | None = None,
    ) -> Awaitable[R]: ...

    def step(
        self,
        name: str,
        fn: Callable[[*Ts], Any],
        *args: *Ts,
        timeout: float | None = 30.0,
        max_retries: int = 3,
        retry_backoff_base: float = 0.1,
        retry_backoff_max: float = 30.0,
        retry_on_timeout: bool = False,
        ephemeral: bool = False,
        rollback: Callable[[RollbackContext, Any], Any] | None = None,
    ) -> Awaitable[Any]:
        """Run ``fn(*args)`` (sync or async) once, durably; replay returns the recorded result."""
        self._claim(name)
        return _Op(
            self,
            self._step,
            name,
            fn,
            args,
            timeout,
            max_retries,
            retry_backoff_base,
            retry_backoff_max,
            retry_on_timeout,
            ephemeral,
            rollback,
        )

    async def _step(
        self,
        name: str,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        timeout: float | None,
        max_retries: int,
        backoff_base: float,
        backoff_max: float,
        retry_on_timeout: bool,
        ephemeral: bool,
        rollback: Callable[[RollbackContext, Any], Any] | None,
    ) -> Any:
        engine = self._engine
        location, entry = self._enter(name, "step")
        if rollback is not None and not self._checkpoint:
            raise RollbackCheckpointError(self._child_path(name))
        if entry is not None:
            if entry.status == "completed":
                value = decode_output(hint_of(fn), entry.output)
                if self._race_roots:
                    self._consume_race_takes()
                if rollback is not None and not entry.rollback_done:
                    engine.rollbacks.append((location, entry, rollback, value, self._child_path(name)))
                return value
            if engine.mode == "rollback":
                raise RollbackStop()
            if entry.status == "exhausted":
                # What the live run raised (so `except CriticalError:` takes the same branch).
                raise _replayed_error(entry.error_info, self._child_path(name), entry.error or "")
        elif engine.mode == "rollback":
            raise RollbackStop()
        else:
            entry = Entry("step", engine.history.take_seq(), engine.now())
        clock = engine.clock
        while True:
            if entry.attempts > 0 and entry.last_attempt_at is not None:
                delay = min(backoff_max, backoff_base * 2**entry.attempts)
                retry_at = entry.last_attempt_at + delay
                if clock.now() < retry_at:
                    await engine.sleep_until(retry_at)
            if engine.actor._durable is not None:
                # The previous step's commit may still be in flight (see below): no user code
                # runs before everything recorded so far is durable.
                await engine.actor._wait_saved()
            entry.attempts += 1
            entry.last_attempt_at = clock.now()
            actor = engine.actor
            if engine.halted is not None:
                raise asyncio.CancelledError()  # another branch diverged (see _halt)
            # In a join/race branch, what the state was when this attempt began (see below).
            before = actor.state_blob() if self._in_branch else None
            token = in_workflow_code.set(False)
            step = actor.begin_step()
            try:
                result = fn(*args)
                # `is not None` first: the commonest result skips isawaitable's ABC check.
                if result is not None and inspect.isawaitable(result):
                    result = await _with_timeout(engine, result, timeout, self._child_path(name))
            except asyncio.CancelledError:
                actor.end_step(step, cancelled=True)
                raise
            except Exception as exc:
                actor.end_step(step)
                in_workflow_code.reset(token)
                attempt = entry.attempts
                timed_out = isinstance(exc, StepTimeoutError)
                will_retry = (
                    not isinstance(exc, CriticalError | RollbackCheckpointError)
                    and (retry_on_timeout or not timed_out)
                    and attempt <= max_retries
                )
                entry.error = f"{type(exc).__name__}: {exc}"
                entry.status = "failed" if will_retry else "exhausted"
                if will_retry:
                    entry.error_info = None
                elif isinstance(exc, CriticalError | RollbackCheckpointError) or (timed_out and not retry_on_timeout):
                    entry.error_info = _error_info(exc)  # raised as it is
                else:
                    entry.error_info = ErrorInfo("exhausted")
                engine.put_entry(location, entry)
                delay = min(backoff_max, backoff_base * 2**attempt) if will_retry else None
                await engine.report(
                    {
                        "step": {
                            "workflow_id": engine.actor_id,
                            "step_name": self._child_path(name),
                            "attempt": attempt,
                            "max_retries": max_retries,
                            "remaining_retries": max(0, max_retries - (attempt - 1)),
                            "will_retry": will_retry,
                            "retry_delay": delay,
                            "retry_at": None if delay is None else entry.last_attempt_at + delay,
                            "error": {"name": type(exc).__name__, "message": str(exc)},
                        }
                    }
                )
                await engine.commit()
                if will_retry:
                    continue
                if isinstance(exc, CriticalError | RollbackCheckpointError) or (timed_out and not retry_on_timeout):
                    raise
                raise StepExhaustedError(self._child_path(name), entry.error) from exc
            actor.end_step(step)
            in_workflow_code.reset(token)
            output = None if result is None else encode(result)
            if actor._steps_running and (before is None or actor.state_blob() != before):
                # Another branch's step is running, and the state changed while this one ran:
                # this step's changes can only commit in a state that holds that step's
                # unfinished ones too, so this step is recorded once none runs (by the end of
                # the last one, before it stages the state). If nothing changed, this step has
                # no state to commit: a race is not held up by a losing branch's step.
                await actor.record_when_steps_idle(partial(_record_step, engine, location, entry, output))
            else:
                _record_step(engine, location, entry, output)
            if self._race_roots:
                self._consume_race_takes()
            if rollback is not None:
                engine.rollbacks.append((location, entry, rollback, result, self._child_path(name)))
            if ephemeral:
                engine.actor._stage_state()  # the state change rides with the entry
            else:
                # Output, metadata and state go into one commit. The workflow does not wait for
                # it here: the next step's user code, any acknowledgement (message.complete,
                # actions reading state) and the workflow's end all wait for it first, so only
                # bookkeeping (such as the hand-off of the next message) overlaps the commit.
                engine.dirty = False
                engine.actor.save_soon()
            return result

    # -- loop ----------------------------------------------------------------------------------

    @overload
    def loop(
        self,
        name: str,
        fn: Callable[[WorkflowContext], Awaitable[None]],
        *,
        history_prune_interval: int = 20,
        history_size: int | None = None,
    ) -> Awaitable[None]: ...

    @overload
    def loop(
        self,
        name: str,
        fn: Callable[[WorkflowContext], Awaitable[Loop[T] | None]],
        *,
        history_prune_interval: int = 20,
        history_size: int | None = None,
    ) -> Awaitable[T]: ...

    @overload
    def loop(
        self,
        name: str,
        fn: Callable[[WorkflowContext, S], Awaitable[Loop[T] | None]],
        *,
        state: S,
        history_prune_interval: int = 20,
        history_size: int | None = None,
    ) -> Awaitable[T]: ...

    def loop(
        self,
        name: str,
        fn: Callable[..., Awaitable[Any]],
        *,
        state: Any = _UNSET,
        history_prune_interval: int = 20,
        history_size: int | None = None,
    ) -> Awaitable[Any]:
        """Call ``fn(loop_ctx)`` (or ``fn(loop_ctx, state)``) until it returns ``Loop.break_(value)``."""
        self._claim(name)
        return _Op(self, self._loop, name, fn, state, history_prune_interval, history_size)

    async def _loop(
        self, name: str, fn: Callable[..., Awaitable[Any]], state: Any, interval: int, size: int | None
    ) -> Any:
        engine = self._engine
        location, entry = self._enter(name, "loop")
        path = self._child_path(name)
        stateful = state is not _UNSET
        out_hint = _loop_value_hint(hint_of(fn))
        interval = max(1, interval)
        keep = max(1, size if size is not None else interval)
        rollback_mode = engine.mode == "rollback"
        #: Iterations below this one have finished (a later one has recorded entries): they
        #: replay, sealed like a finished join branch, so new code in them is a divergence.
        finished_below = -1
        if entry is None:
            if rollback_mode:
                raise RollbackStop()
            entry = Entry("loop", engine.history.take_seq(), engine.now())
            entry.state = encode(state) if stateful else None
            engine.put_entry(location, entry)
        else:
            if engine.history.gates:  # gates in iterations that are not replayed
                engine.history.drop_gates(
                    location, None if entry.status == "completed" else location + iteration_segment(entry.iteration)
                )
            if entry.status == "completed":
                return decode_output(out_hint, entry.output)
            if stateful and entry.state is not None:
                state = decode_output(state_hint_of(fn, state), entry.state)
            # Known finished: below the last iteration with recorded entries, and below the
            # iteration in progress when the actor last slept (which may have recorded nothing).
            finished_below = max(engine.history.last_iteration(location), entry.finished)
        iteration = entry.iteration
        live = engine.live_loops
        while True:
            live[location] = (iteration, state)
            sub = self._sub(
                location + iteration_segment(iteration), f"{path}/~{iteration}", False, False, iteration < finished_below
            )
            registered = len(engine.rollbacks)
            try:
                result = await (fn(sub, state) if stateful else fn(sub))
            except asyncio.CancelledError:
                # The actor goes to sleep: record that the iterations below this one have
                # finished, with its final save (one row per loop per sleep, none per wait).
                if iteration > entry.finished and engine.stopping():
                    entry.finished = iteration
                    engine.put_entry(location, entry)
                raise
            sub._finish_scope()
            # A finished iteration is never compensated (as Rivet: rollback compensates only the
            # iteration in progress). Rollback-mode replay passes through finished iterations too
            # (it starts at the last loop checkpoint), so their handlers are dropped there as well.
            del engine.rollbacks[registered:]
            if isinstance(result, Loop):
                if result.is_break:
                    live.pop(location, None)
                    if rollback_mode:
                        return result.value
                    entry.status = "completed"
                    entry.completed_at = engine.now()
                    entry.output = None if result.value is None else encode(result.value)
                    entry.iteration = iteration + 1
                    upto = iteration + 1 - keep
                    if upto > entry.pruned:
                        engine.delete_range(
                            location + iteration_segment(entry.pruned), location + iteration_segment(upto)
                        )
                        entry.pruned = upto
                    engine.put_entry(location, entry)
                    return result.value
                if stateful:
                    state = result.value
            elif result is not None:
                raise TypeError(f"loop {path!r} body must return Loop.continue_(...), Loop.break_(...) or None")
            iteration += 1
            if rollback_mode or iteration % interval:
                continue
            # A loop checkpoint, every `interval` iterations: the iteration (and state) a replay
            # resumes from, written with the range delete of the iterations it no longer needs.
            # In between, the loop entry is not rewritten (one row less per iteration): a replay
            # re-runs the few iterations since the checkpoint from their recorded entries, which
            # recomputes the same state, because iterations at or after the checkpoint are never
            # pruned.
            entry.iteration = iteration
            if stateful:
                entry.state = encode(state)
            upto = iteration - keep
            if upto > entry.pruned:
                engine.delete_range(location + iteration_segment(entry.pruned), location + iteration_segment(upto))
                entry.pruned = upto
            engine.put_entry(location, entry)

    # -- queue ---------------------------------------------------------------------------------

    async def _receive(
        self, name: str, names: Any, count: int, timeout: float | None, completable: bool, single: bool
    ) -> Any:
        engine = self._engine
        if engine.outstanding:
            if any(not m.completed for m in engine.outstanding):
                raise QueuePreviousMessageNotCompletedError()
            engine.outstanding.clear()
        wanted = queue_names(names)
        actor = engine.actor
        queue = actor.queue
        queue._check_known(wanted)
        count = max(1, count)
        location, entry = self._enter(name, "message")
        if entry is not None and entry.status == "completed":
            messages = [self._rebuild(location, entry, i) for i in range(len(entry.messages or []))]
            if self._race_roots and messages:
                engine.race_takes[location] = RaceTake(entry, completable, self._race_roots)
            return (messages[0] if messages else None) if single else messages
        if engine.mode == "rollback":
            raise RollbackStop()
        clock = engine.clock
        if entry is None:
            entry = Entry("message", engine.history.take_seq(), clock.now())
            if timeout is not None:
                entry.deadline = clock.now() + timeout
                engine.put_entry(location, entry)
                await engine.commit()  # the deadline survives restarts
        deadline = entry.deadline
        while True:
            rows = queue.take(wanted, count)
            if rows:
                break
            if deadline is not None and clock.now() >= deadline:
                break
            future = queue.watch(wanted)
            try:
                await engine.wait(future, deadline)
            finally:
                queue.unwatch(future)
        entry.status = "completed"
        entry.completed_at = clock.now()
        entry.messages = [(row.seq, row.name, row.body, row.created_at, not completable) for row in rows]
        entry.completable = completable
        out: list[QueueMessage[Any]] = []
        for i, row in enumerate(rows):
            body = queue.decode(row)
            if completable:
                queue.hold(row)
                message: QueueMessage[Any] = QueueMessage(
                    row.seq, row.name, body, row.created_at, self._completer(location, entry, i, row)
                )
                engine.outstanding.append(message)
            else:
                queue.remove(row)  # the delete commits with the history entry (exactly-once)
                message = QueueMessage(row.seq, row.name, body, row.created_at)
            out.append(message)
        engine.put_entry(location, entry)
        if self._race_roots and out:
            # Answered once the race keeps them (a losing branch gives them back).
            engine.race_takes[location] = RaceTake(entry, completable, self._race_roots)
        else:
            self._answer_senders(entry, completable)
        return (out[0] if out else None) if single else out

    def _answer_senders(self, entry: Entry, completable: bool) -> None:
        """The messages a non-completable receive took are handed off for good: the senders
        waiting on them (``wait=True``) are answered, completed without a response, once that
        is durable. Nothing could complete these messages any more."""
        if completable:
            return  # answered by complete()
        queue = self._engine.actor.queue
        for seq, *_ in entry.messages or ():
            queue.answer_when_durable(seq)

    def _rebuild(self, location: bytes, entry: Entry, i: int) -> QueueMessage[Any]:
        engine = self._engine
        queue = engine.actor.queue
        assert entry.messages is not None
        seq, qname, body, created_at, completed = entry.messages[i]
        row = QueueRow(engine.actor_id, seq, qname, body, created_at)
        value = queue.decode(row)
        if completed:
            return QueueMessage(seq, qname, value, created_at)
        live = queue._messages.get(seq)
        if live is None:
            return QueueMessage(seq, qname, value, created_at)
        queue.hold(live)
        message: QueueMessage[Any] = QueueMessage(seq, qname, value, created_at, self._completer(location, entry, i, live))
        engine.outstanding.append(message)
        return message

    def _completer(
        self, location: bytes, entry: Entry, i: int, row: QueueRow
    ) -> Callable[[QueueMessage[Any], Any], Awaitable[None]]:
        engine = self._engine

        async def complete(message: QueueMessage[Any], response: Any) -> None:
            queue = engine.actor.queue
            wire = queue.encode_response(row, response)
            queue.remove(row)
            assert entry.messages is not None
            seq, qname, body, created_at, _ = entry.messages[i]
            entry.messages[i] = (seq, qname, body, created_at, True)
            engine.put_entry(location, entry)
            await engine.commit()
            queue.resolve_completion(row.seq, wire)

        return complete

    # -- sleep ---------------------------------------------------------------------------------

    def sleep(self, name: str, seconds: float) -> Awaitable[None]:
        """Durable timer: the deadline is recorded on first run and survives restarts and sleep."""
        self._claim(name)
        return _Op(self, self._sleep, name, seconds, None)

    def sleep_until(self, name: str, when: float | datetime) -> Awaitable[None]:
        """Durable timer until ``when`` (epoch seconds or an aware ``datetime``)."""
        self._claim(name)
        at = when.timestamp() if isinstance(when, datetime) else float(when)
        return _Op(self, self._sleep, name, None, at)

    async def _sleep(self, name: str, seconds: float | None, when: float | None) -> None:
        engine = self._engine
        location, entry = self._enter(name, "sleep")
        if entry is not None and entry.status == "completed":
            return
        if engine.mode == "rollback":
            raise RollbackStop()
        now = engine.now()
        if entry is None:
            deadline = when if when is not None else now + float(seconds or 0.0)
            entry = Entry("sleep", engine.history.take_seq(), now, deadline=deadline)
            engine.put_entry(location, entry)
            if deadline > now:
                await engine.commit()
        assert entry.deadline is not None
        if engine.now() < entry.deadline:
            await engine.sleep_until(entry.deadline)
        entry.status = "completed"
        entry.completed_at = engine.now()
        engine.put_entry(location, entry)

    # -- join / race ---------------------------------------------------------------------------

    def join(self, name: str, branches: Mapping[str, Callable[[WorkflowContext], Awaitable[T]]]) -> Awaitable[dict[str, T]]:
        """Run every branch concurrently; returns their values; ``JoinError`` if any failed."""
        self._claim(name)
        return _Op(self, self._join, name, dict(branches))

    async def _join(self, name: str, branches: dict[str, Callable[[WorkflowContext], Awaitable[Any]]]) -> dict[str, Any]:
        engine = self._engine
        location, entry = self._enter(name, "join")
        path = self._child_path(name)
        if entry is None:
            if engine.mode == "rollback":
                raise RollbackStop()
            entry = Entry("join", engine.history.take_seq(), engine.now(), branches={b: Branch() for b in branches})
            engine.put_entry(location, entry)
        records = entry.branches if entry.branches is not None else {}
        finished = entry.status != "pending"
        results: dict[str, Any] = {}
        errors: dict[str, BaseException] = {}
        # Every branch runs, the settled ones too: a replay returns their recorded entries
        # (no step runs again) and registers the compensations of their completed steps,
        # which a rollback needs as much after a reload as live. A branch that failed in a
        # join that has ended keeps its recorded error.
        failed_before = {b: r for b, r in records.items() if r.status == "failed"} if finished else {}
        if branches:
            if finished:
                # A finished join replays its branches (for their values, and to register the
                # compensations of their completed steps) but runs no new code: a branch that
                # is not in its record, or an entry not in history, is a divergence.
                for bname in branches:
                    if bname not in records:
                        bpath = f"{path}/{bname}"
                        raise self._halt(HistoryDivergedError(
                            bpath,
                            f"the branches of finished join {path!r}: {', '.join(sorted(records)) or 'none'}",
                            f"branch {bpath!r}",
                            "A join that has finished runs no new branches",
                        ))
            subs = {b: self._branch_ctx(location, path, b, sealed=finished) for b in branches}
            remaining = len(branches)

            async def run(bname: str) -> Any:
                nonlocal remaining
                in_workflow_code.set(True)
                try:
                    value = await branches[bname](subs[bname])
                    subs[bname]._finish_scope()
                    return value
                finally:
                    remaining -= 1
                    if remaining > 0:
                        engine.dec()

            for _ in range(len(branches) - 1):
                engine.inc()
            tasks = [asyncio.get_running_loop().create_task(run(b)) for b in branches]
            stopped = _stop_siblings_on_error(engine, tasks)
            try:
                settled = await asyncio.gather(*tasks, return_exceptions=True)
            finally:
                if stopped:
                    engine.actor._steps_reverting -= 1
            if stopped:
                raise stopped[0]
            for value in settled:
                if isinstance(value, _CONTROL) or isinstance(value, asyncio.CancelledError):
                    raise value
            for bname, value in zip(branches, settled, strict=True):
                if bname in failed_before:
                    errors[bname] = _replayed_branch_error(failed_before[bname], value)
                elif isinstance(value, BaseException):
                    errors[bname] = value
                    records[bname] = _failed_branch(value)
                else:
                    results[bname] = value
                    records[bname] = _completed_branch(value)
        if engine.mode != "rollback" and not finished:
            entry.branches = records
            entry.status = "failed" if errors else "completed"
            entry.completed_at = engine.now()
            engine.put_entry(location, entry)
        if errors:
            raise JoinError(errors)
        return {b: results[b] for b in branches}

    def _branch_ctx(
        self, location: bytes, path: str, bname: str, race: bool = False, sealed: bool = False
    ) -> WorkflowContext:
        engine = self._engine
        sub_loc = location + name_segment(engine.history.intern(bname, engine.stage))
        return self._sub(sub_loc, f"{path}/{bname}", in_branch=True, race=race, sealed=sealed)

    def race(self, name: str, branches: Mapping[str, Callable[[WorkflowContext], Awaitable[T]]]) -> Awaitable[RaceResult[T]]:
        """First branch to finish wins; the losers are cancelled and their history dropped."""
        self._claim(name)
        return _Op(self, self._race, name, dict(branches))

    async def _race(self, name: str, branches: dict[str, Callable[[WorkflowContext], Awaitable[Any]]]) -> RaceResult[Any]:
        engine = self._engine
        location, entry = self._enter(name, "race")
        path = self._child_path(name)
        if entry is not None and entry.winner is not None:
            recorded_winner = entry.winner
            fn = branches.get(recorded_winner)
            if fn is None:
                if engine.history.gates:
                    engine.history.drop_gates(location)
                record = (entry.branches or {}).get(recorded_winner, Branch())
                return RaceResult(recorded_winner, decode_output(Any, record.output))
            # The winner replays from its recorded entries (the losers' were dropped): its
            # value comes back typed by its steps, and its steps' compensations are registered.
            # Sealed, as a finished join's branches: new entries in it are a divergence. Unless
            # recover() reopened the race (a step in the winner runs again): the winner then runs
            # unsealed, its losers still not at all, and the race records its new value.
            reopened = entry.status != "completed"
            sub = self._branch_ctx(location, path, recorded_winner, sealed=not reopened)
            if not reopened:
                replayed = await fn(sub)
                sub._finish_scope()
                return RaceResult(recorded_winner, replayed)
            records = entry.branches if entry.branches is not None else {}
            try:
                replayed = await fn(sub)
                sub._finish_scope()
            except (*_CONTROL, asyncio.CancelledError):
                raise
            except Exception as failure:
                if engine.mode != "rollback":
                    records[recorded_winner] = _failed_branch(failure)
                    entry.branches = records
                    entry.status = "failed"
                    engine.put_entry(location, entry)
                raise RaceError({recorded_winner: failure}) from None
            if engine.mode != "rollback":
                records[recorded_winner] = _completed_branch(replayed)
                entry.branches = records
                entry.status = "completed"
                entry.completed_at = engine.now()
                engine.put_entry(location, entry)
            return RaceResult(recorded_winner, replayed)
        if entry is None:
            if engine.mode == "rollback":
                raise RollbackStop()
            entry = Entry("race", engine.history.take_seq(), engine.now(), branches={b: Branch() for b in branches})
            engine.put_entry(location, entry)
        elif engine.mode == "rollback":
            raise RollbackStop()
        subs = {b: self._branch_ctx(location, path, b, race=True) for b in branches}

        async def run(bname: str) -> Any:
            in_workflow_code.set(True)
            try:
                value = await branches[bname](subs[bname])
                subs[bname]._finish_scope()
                return value
            finally:
                engine.dec()

        for _ in branches:
            engine.inc()
        tasks = {asyncio.get_running_loop().create_task(run(b)): b for b in branches}
        pending = set(tasks)
        errors: dict[str, BaseException] = {}
        winner: str | None = None
        value: Any = None
        control: BaseException | None = None
        engine.dec()
        try:
            while pending and winner is None:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in sorted(done, key=lambda t: list(branches).index(tasks[t])):
                    if task.cancelled():
                        continue
                    exc = task.exception()
                    if exc is None:
                        if winner is None:
                            winner, value = tasks[task], task.result()
                    elif isinstance(exc, _CONTROL):
                        control = exc
                        raise exc
                    else:
                        errors[tasks[task]] = exc
        finally:
            engine.inc()
            # Losers are cancelled as they are; after a divergence (the workflow fails), the
            # steps cancelled half-way are reverted too (see _stop_siblings_on_error).
            reverting = bool(pending) and isinstance(control, _STOPS_SIBLINGS)
            if reverting:
                engine.actor._steps_reverting += 1
            for task in pending:
                task.cancel()
            try:
                if pending:
                    await asyncio.wait(pending)
            finally:
                if reverting:
                    engine.actor._steps_reverting -= 1
        records = entry.branches if entry.branches is not None else {}
        if winner is None:
            self._settle_race_takes(location, ())
            for bname, exc in errors.items():
                records[bname] = _failed_branch(exc)
            entry.branches = records
            entry.status = "failed"
            engine.put_entry(location, entry)
            raise RaceError(errors)
        losers = [subs[b]._loc for b in branches if b != winner]
        self._settle_race_takes(location, losers)
        # A loser's history is dropped, so a replay never sees its completed steps: they are not
        # compensated live either (and a compensation must not write their entries back).
        engine.rollbacks[:] = [r for r in engine.rollbacks if not r[0].startswith(tuple(losers))]
        for bname in branches:
            if bname != winner:
                engine.delete_prefix(subs[bname]._loc)
                if engine.history.gates:
                    engine.history.drop_gates(subs[bname]._loc)
                records[bname] = Branch("cancelled")
        records[winner] = _completed_branch(value)
        entry.branches = records
        entry.winner = winner
        entry.status = "completed"
        entry.completed_at = engine.now()
        engine.put_entry(location, entry)
        return RaceResult(winner, value)

    def _consume_race_takes(self) -> None:
        """A step completed in a race branch: the messages taken in it so far are being
        processed durably, so they stay taken even if the branch loses (giving them back would
        process them twice). Only takes made in this branch or a branch enclosing it: this step
        comes after those, not after a sibling branch's (which may still lose, and give back)."""
        takes = self._engine.race_takes
        roots = self._race_roots
        for taken_at in [loc for loc, take in takes.items() if roots[: len(take.roots)] == take.roots]:
            take = takes.pop(taken_at)
            self._answer_senders(take.entry, take.completable)

    def _settle_race_takes(self, location: bytes, losers: Sequence[bytes]) -> None:
        """Messages taken inside the race at ``location`` and not yet followed by a completed
        step: those of losing branches go back to the queue (their history is dropped, so they
        were never handed off); the others stay taken, and stay registered while an enclosing
        race may still drop them."""
        engine = self._engine
        takes = engine.race_takes
        for taken_at in [loc for loc in takes if loc.startswith(location)]:
            if any(taken_at.startswith(loser) for loser in losers):
                take = takes.pop(taken_at)
                self._give_back(take.entry, take.completable)
            elif not self._race_roots:
                take = takes.pop(taken_at)
                self._answer_senders(take.entry, take.completable)

    def _give_back(self, entry: Entry, completable: bool) -> None:
        engine = self._engine
        queue = engine.actor.queue
        for seq, qname, body, created_at, completed in entry.messages or []:
            if not completable:
                queue.restore(QueueRow(engine.actor_id, seq, qname, body, created_at))
            elif not completed:  # held, never answered: visible to receivers again
                queue.release(seq, qname)
                engine.outstanding = [m for m in engine.outstanding if m.id != seq]

    # -- rollback / versioning -----------------------------------------------------------------

    def rollback_checkpoint(self, name: str) -> Awaitable[None]:
        """Later steps with ``rollback=`` are compensated in reverse order if the workflow fails."""
        self._claim(name)
        return _Op(self, self._rollback_checkpoint, name)

    async def _rollback_checkpoint(self, name: str) -> None:
        engine = self._engine
        location, entry = self._enter(name, "rollback_checkpoint")
        if entry is None:
            if engine.mode == "rollback":
                raise RollbackStop()
            entry = Entry("rollback_checkpoint", engine.history.take_seq(), engine.now(), status="completed")
            engine.put_entry(location, entry)
        self._checkpoint = True

    def removed(self, name: str, original_type: str) -> Awaitable[None]:
        """Keep old histories replayable after the entry ``name`` of ``original_type`` was deleted."""
        if original_type not in ("step", "loop", "sleep", "message", "join", "race", "version_check", "rollback_checkpoint"):
            raise ValueError(f"unknown entry type {original_type!r}")
        self._claim(name)
        return _Op(self, self._removed, name, original_type)

    async def _removed(self, name: str, original_type: str) -> None:
        engine = self._engine
        location, entry = self._enter_loose(name, (original_type, "removed"))
        if location is not None and engine.history.gates:
            engine.history.drop_gates(location)  # a retired loop/join/race: not replayed
        if location is not None and entry is None and engine.mode != "rollback" and not self._sealed:
            placeholder = Entry(
                "removed", engine.history.take_seq(), engine.now(), status="completed", original_type=original_type
            )
            engine.put_entry_later(location, placeholder)

    def get_version(self, name: str, latest: int) -> Awaitable[int]:
        """Version gate: ``latest`` on fresh histories, 1 for histories recorded before the gate."""
        if latest < 1:
            raise ValueError("latest must be an integer >= 1")
        self._claim(name)
        return _Op(self, self._get_version, name, latest)

    async def _get_version(self, name: str, latest: int) -> int:
        engine = self._engine
        in_flight = self._cursor < len(self._expected)
        location, entry = self._enter_loose(name, ("version_check",))
        if entry is not None and entry.resolved is not None:
            return entry.resolved
        # A finished join/race branch was recorded before the gate: the old code (nothing is
        # recorded there).
        resolved = 1 if in_flight or self._sealed else latest
        if location is not None and engine.mode != "rollback" and not self._sealed:
            record = Entry("version_check", engine.history.take_seq(), engine.now(), status="completed", resolved=resolved)
            engine.put_entry_later(location, record)
        return resolved


async def _with_timeout(engine: WorkflowEngine, awaitable: Awaitable[Any], timeout: float | None, path: str) -> Any:
    """Await ``awaitable``; cancel it and raise ``StepTimeoutError`` after ``timeout`` seconds."""
    if timeout is None or timeout <= 0:
        return await awaitable
    return await within(engine.clock, awaitable, timeout, lambda: StepTimeoutError(path, timeout))


_ = decoder_for  # re-exported for typed decoding helpers
