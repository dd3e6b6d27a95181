"""Starts a ``@workflow`` run handler on the durable workflow engine.

The engine lives in :mod:`rivet_dsl.workflow`; the runtime only hands it the live actor and
gets back a coroutine that runs until the workflow completes, fails or is evicted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._instance import LiveActor

__all__ = ["restart_workflow", "start_workflow"]


async def start_workflow(actor: LiveActor) -> None:
    """Run the actor's workflow until it completes, fails, or the actor stops."""
    from ..workflows._driver import run_workflow

    try:
        await run_workflow(actor)
    finally:
        actor.run_finished()


def restart_workflow(actor: LiveActor) -> bool:
    """Start the workflow again on an awake actor whose workflow has finished (``recover``,
    replay-from-step). Returns False if the workflow is still running or the actor is not
    awake (a run started on a stopping incarnation would outlive it, detached)."""
    from ._instance import Status

    if actor.status is not Status.AWAKE or (actor._run_task is not None and not actor._run_task.done()):
        return False
    actor.workflow = None  # the new run creates a fresh engine (replaying the stored history)
    actor.leave_wait()
    actor._run_active = True
    actor._run_task = actor.runtime.spawn(start_workflow(actor))
    actor.runtime.idle.remove(actor)
    return True
