"""The error tree. Every error a user or a client can see is a :class:`RivetError`.

Each error carries a stable ``group`` and ``code`` that cross the wire unchanged, an HTTP
``status`` (Rivet's mapping), a human ``message`` and optional ``metadata``. Only
:class:`UserError` is *public*: its message reaches clients as written. Everything else that
escapes actor code is masked as ``internal_error`` before it leaves the runtime.

    RivetError
    ├── DefinitionError          an actor class is invalid (raised at class creation)
    ├── UserError                raised by actor code on purpose; public
    ├── ActorNotFoundError       actor/not_found
    ├── ActorAlreadyExistsError  actor/duplicate_key
    ├── ActionNotFoundError      actor/action_not_found
    ├── ActionTimedOutError      actor/action_timed_out
    ├── ActorAbortedError        actor/aborted (the actor is stopping)
    ├── ConnParamsTooLongError   actor/conn_params_too_long (over 4 KiB)
    ├── ConnHookTimedOutError    actor/conn_hook_timed_out (a connection hook past its limit)
    ├── InvalidArgumentsError    request/invalid_arguments (wrong types, bad body)
    ├── InternalError            rivetkit/internal_error (the masked form of everything else)
    ├── QueueError               queue/*
    │   ├── QueueFullError                 queue/full
    │   ├── QueueMessageTooLargeError      queue/message_too_large
    │   ├── QueueUnknownError              queue/unknown
    │   ├── QueuePreviousMessageNotCompletedError  queue/previous_message_not_completed
    │   └── QueueAlreadyCompletedError     queue/already_completed
    ├── ScheduleError            schedule/*
    ├── StorageError             storage/* (a driver failed; never public)
    │   └── DatabaseInUseError             storage/database_in_use
    └── WorkflowError            workflow/*
        ├── StepOnlyError, CriticalError, StepTimeoutError, StepExhaustedError
        ├── JoinError, RaceError
        └── HistoryDivergedError, EntryInProgressError
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "ActionNotFoundError",
    "ActionTimedOutError",
    "ActorAbortedError",
    "ActorAlreadyExistsError",
    "ActorNotFoundError",
    "ConnHookTimedOutError",
    "ConnParamsTooLongError",
    "CriticalError",
    "DatabaseInUseError",
    "DefinitionError",
    "EntryInProgressError",
    "HistoryDivergedError",
    "InternalError",
    "InvalidArgumentsError",
    "JoinError",
    "QueueAlreadyCompletedError",
    "QueueError",
    "QueueFullError",
    "QueueMessageTooLargeError",
    "QueuePreviousMessageNotCompletedError",
    "QueueUnknownError",
    "RaceError",
    "RivetError",
    "ScheduleError",
    "StepExhaustedError",
    "StepOnlyError",
    "StepTimeoutError",
    "StorageError",
    "UserError",
    "WorkflowError",
]

INTERNAL_ERROR_MESSAGE = "An internal error occurred"


class RivetError(Exception):
    """Base of every rivet_dsl error; carries a stable ``group``/``code`` pair."""

    default_group: ClassVar[str] = "rivetkit"
    default_code: ClassVar[str] = "error"
    default_status: ClassVar[int] = 500
    #: Public errors keep their message on the wire; the rest are masked.
    public: ClassVar[bool] = True

    def __init__(
        self,
        message: str,
        *,
        group: str | None = None,
        code: str | None = None,
        metadata: Any = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.group = group if group is not None else self.default_group
        self.code = code if code is not None else self.default_code
        self.metadata = metadata
        self.status = status if status is not None else self.default_status

    def __repr__(self) -> str:
        return f"{type(self).__name__}(group={self.group!r}, code={self.code!r}, message={self.message!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep errors picklable (multiprocessing tests, pytest-xdist) despite keyword-only fields.
        return (_rebuild, (type(self), self.message, self.group, self.code, self.metadata, self.status))


def _rebuild(
    cls: type[RivetError], message: str, group: str, code: str, metadata: Any, status: int
) -> RivetError:
    error = cls.__new__(cls)
    RivetError.__init__(error, message, group=group, code=code, metadata=metadata, status=status)
    return error


class DefinitionError(RivetError, TypeError):
    """An actor class is invalid; lists every problem found when the class was created."""

    default_group = "actor"
    default_code = "invalid_definition"

    def __init__(self, owner: str, problems: list[str]) -> None:
        self.problems = list(problems)
        reasons = "; ".join(problems)
        count = len(problems)
        super().__init__(
            f"Invalid actor class {owner} for {count} reason{'s' if count != 1 else ''}: {reasons}"
        )


class UserError(RivetError):
    """Raised by actor code to send an error with its message, code and metadata to the client."""

    default_group = "user"
    default_code = "user_error"
    default_status = 400

    def __init__(self, message: str, code: str = "user_error", metadata: Any = None) -> None:
        super().__init__(message, code=code, metadata=metadata)


class ActorNotFoundError(RivetError):
    """No actor exists for the given id, or for the given name and key."""

    default_group = "actor"
    default_code = "not_found"
    default_status = 404


class ActorAlreadyExistsError(RivetError):
    """``create`` was called for a name and key that already have an actor."""

    default_group = "actor"
    default_code = "duplicate_key"
    default_status = 400


class ActionNotFoundError(RivetError):
    """The actor has no action of that name."""

    default_group = "actor"
    default_code = "action_not_found"
    default_status = 404


class ActionTimedOutError(RivetError):
    """The action ran longer than its timeout and was cancelled."""

    default_group = "actor"
    default_code = "action_timed_out"
    default_status = 408


class ActorAbortedError(RivetError):
    """The actor is stopping (sleep, destroy or shutdown) and cannot serve the call."""

    default_group = "actor"
    default_code = "aborted"
    default_status = 400


class ConnParamsTooLongError(RivetError):
    """Connection parameters over Rivet's 4 KiB limit (WebSocket or ``x-rivet-conn-params``)."""

    default_group = "actor"
    default_code = "conn_params_too_long"
    default_status = 400


class InvalidArgumentsError(RivetError):
    """Arguments or a message body do not match the declared types; the actor never saw them."""

    default_group = "request"
    default_code = "invalid_arguments"
    default_status = 400


class InternalError(RivetError):
    """The masked form of any unexpected error raised by actor code."""

    default_group = "rivetkit"
    default_code = "internal_error"
    default_status = 500

    def __init__(self, message: str = INTERNAL_ERROR_MESSAGE) -> None:
        super().__init__(message)


class QueueError(RivetError):
    """Base of queue errors (``queue/*``, HTTP 400)."""

    default_group = "queue"
    default_code = "error"
    default_status = 400


class QueueFullError(QueueError):
    """The actor's queue already holds ``max_queue_size`` messages."""

    default_code = "full"

    def __init__(self, limit: int) -> None:
        super().__init__(f"Queue is full. Limit is {limit} messages.", metadata={"limit": limit})


class QueueMessageTooLargeError(QueueError):
    """The encoded message is larger than ``max_queue_message_size``."""

    default_code = "message_too_large"

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(
            f"Queue message too large ({size} bytes). Limit is {limit} bytes.",
            metadata={"size": size, "limit": limit},
        )


class QueueUnknownError(QueueError):
    """The actor declares no queue of that name."""

    default_code = "unknown"

    def __init__(self, actor: str, name: str) -> None:
        super().__init__(f"Actor {actor!r} has no queue named {name!r}.", metadata={"queue": name})


class QueuePreviousMessageNotCompletedError(QueueError):
    """A completable message was received and not completed before the next receive."""

    default_code = "previous_message_not_completed"

    def __init__(self) -> None:
        super().__init__(
            "Previous completable queue message is not completed. "
            "Call `message.complete(...)` before receiving the next message."
        )


class QueueAlreadyCompletedError(QueueError):
    """``complete()`` was called twice on the same message."""

    default_code = "already_completed"

    def __init__(self) -> None:
        super().__init__("Queue message already completed.")


class ScheduleError(RivetError):
    """A schedule request is invalid (unknown action, bad time)."""

    default_group = "schedule"
    default_code = "invalid"
    default_status = 400


class StorageError(RivetError):
    """The storage driver failed; the operation was not applied."""

    default_group = "storage"
    default_code = "failed"
    default_status = 500
    public = False


class DatabaseInUseError(StorageError):
    """The database file is already open in another store (this process or another one):
    a runtime must be the only owner of its database."""

    default_code = "database_in_use"

    def __init__(self, path: str, owner_pid: int | None = None) -> None:
        owner = f" (process {owner_pid})" if owner_pid is not None else ""
        super().__init__(
            f"database {path} is already in use by another rivet_dsl runtime{owner}; "
            "only one server or runtime may open a database file at a time",
            metadata={"path": path, "owner_pid": owner_pid},
        )

    @property
    def path(self) -> str:
        """The database file."""
        return str(self.metadata["path"])

    @property
    def owner_pid(self) -> int | None:
        """The owning process, when it could be read from the lock file."""
        pid = self.metadata["owner_pid"]
        return int(pid) if pid is not None else None


# ---------------------------------------------------------------------------------------------
# Workflow errors (raised by the durable workflow engine; see rivet_dsl.workflows)


class WorkflowError(RivetError):
    """Base of errors raised by workflow code and the workflow engine."""

    default_group = "workflow"
    default_code = "error"
    default_status = 500


class StepOnlyError(WorkflowError):
    """Actor state, clients, connections, broadcasts or queue sends were used outside a step."""

    default_code = "step_only"

    def __init__(self, feature: str) -> None:
        super().__init__(
            f"{feature} is only available inside workflow steps; move this code into ctx.step(...)",
            metadata={"feature": feature},
        )


class CriticalError(WorkflowError):
    """Raise it inside a step to fail the step at once, without retries."""

    default_code = "critical"

    def __init__(self, message: str, *, metadata: Any = None) -> None:
        super().__init__(message, metadata=metadata)


class StepTimeoutError(WorkflowError):
    """A step ran longer than its ``timeout``; its coroutine was cancelled."""

    default_code = "step_timeout"

    def __init__(self, step: str, timeout: float) -> None:
        super().__init__(f"Step {step!r} timed out after {timeout}s", metadata={"step": step})


class StepExhaustedError(WorkflowError):
    """A step failed on every attempt allowed by ``max_retries``."""

    default_code = "step_exhausted"

    def __init__(self, step: str, last_error: str) -> None:
        self.step = step
        self.last_error = last_error
        super().__init__(f"Step {step!r} exhausted retries: {last_error}", metadata={"step": step})


class JoinError(WorkflowError):
    """One or more join branches failed; raised after every branch settled."""

    default_code = "join_failed"

    def __init__(self, errors: dict[str, BaseException]) -> None:
        self.errors = dict(errors)
        super().__init__(f"Join failed: {', '.join(sorted(errors))}", metadata={"branches": sorted(errors)})


class RaceError(WorkflowError):
    """Every race branch failed."""

    default_code = "race_failed"

    def __init__(self, errors: dict[str, BaseException]) -> None:
        self.errors = dict(errors)
        super().__init__("All branches failed", metadata={"branches": sorted(errors)})


class HistoryDivergedError(WorkflowError):
    """Recorded history does not match the code: a renamed, reordered or retyped entry."""

    default_code = "history_diverged"

    def __init__(self, path: str, expected: str, found: str, detail: str = "") -> None:
        self.path = path
        self.expected = expected
        self.found = found
        message = f"History diverged at {path!r}: expected {expected}, found {found}"
        if detail:
            message = f"{message}. {detail}"
        super().__init__(message, metadata={"path": path, "expected": expected, "found": found})


class EntryInProgressError(WorkflowError):
    """A workflow entry was started while the previous one was still in progress (not awaited)."""

    default_code = "entry_in_progress"

    def __init__(self, path: str) -> None:
        super().__init__(
            f"Entry {path!r} started while another entry is in progress. "
            "Did you forget to await the previous step/loop/sleep?",
            metadata={"path": path},
        )


# ---------------------------------------------------------------------------------------------
# Connection errors


class ConnHookTimedOutError(RivetError):
    """A connection hook (``on_before_connect``, ``create_conn_state``, ``on_connect``) ran
    longer than its limit (Rivet's ``onBeforeConnectTimeout`` and friends, 5 s): it was
    cancelled and the connection refused."""

    default_group = "actor"
    default_code = "conn_hook_timed_out"
    default_status = 408

    def __init__(self, hook: str, timeout: float) -> None:
        super().__init__(
            f"Connection hook {hook} timed out after {timeout}s", metadata={"hook": hook, "timeout": timeout}
        )

