"""Pins the public surface: a new or removed export shows up as a one-line diff here."""

from __future__ import annotations

import rivet_dsl
import rivet_dsl.client
import rivet_dsl.testing

EXPECTED_EXPORTS = [
    "ActionNotFoundError",
    "ActionTimedOutError",
    "Actor",
    "ActorAbortedError",
    "ActorAlreadyExistsError",
    "ActorNotFoundError",
    "Conn",
    "ConnHookTimedOutError",
    "CriticalError",
    "DefinitionError",
    "EntryInProgressError",
    "EventRef",
    "HistoryDivergedError",
    "InternalError",
    "InvalidArgumentsError",
    "JoinError",
    "Loop",
    "QueueAlreadyCompletedError",
    "QueueError",
    "QueueFullError",
    "QueueMessage",
    "QueueMessageTooLargeError",
    "QueuePreviousMessageNotCompletedError",
    "QueueRef",
    "QueueUnknownError",
    "RaceError",
    "RaceResult",
    "Registry",
    "RivetError",
    "RollbackContext",
    "ScheduleError",
    "ScheduledCall",
    "StepExhaustedError",
    "StepOnlyError",
    "StepTimeoutError",
    "StorageError",
    "UserError",
    "WorkflowContext",
    "WorkflowError",
    "__version__",
    "action",
    "event",
    "queue",
    "setup",
    "workflow",
]


def test_public_api_matches_the_pinned_list() -> None:
    assert rivet_dsl.__all__ == EXPECTED_EXPORTS


def test_public_api_is_sorted_and_complete() -> None:
    assert rivet_dsl.__all__ == sorted(rivet_dsl.__all__)
    public = {name for name in vars(rivet_dsl) if not name.startswith("_")}
    subpackages = {"actor", "client", "runtime", "storage", "testing", "workflows", "lint", "server", "cli", "cli_serve"}
    subpackages.add("annotations")  # `from __future__ import annotations`
    subpackages.add("mypy_plugin")  # importable module, present once mypy has loaded it
    assert public - subpackages - set(rivet_dsl.__all__) == set()


def test_exports_report_the_public_module() -> None:
    assert rivet_dsl.UserError.__module__ == "rivet_dsl"
    assert rivet_dsl.Actor.__module__ == "rivet_dsl"


def test_every_error_is_a_rivet_error_with_a_stable_code() -> None:
    errors = [getattr(rivet_dsl, name) for name in rivet_dsl.__all__ if name.endswith("Error")]
    assert errors
    for error in errors:
        assert issubclass(error, rivet_dsl.RivetError)
        assert error.default_group and error.default_code


def test_client_and_testing_surfaces() -> None:
    assert rivet_dsl.client.__all__ == sorted(rivet_dsl.client.__all__)
    assert {"Client", "ActorHandle", "ActorError", "QueueSendResult", "Transport"} <= set(rivet_dsl.client.__all__)
    assert rivet_dsl.testing.__all__ == ["MockClock", "TestEnvironment"]
