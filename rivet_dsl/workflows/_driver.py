"""Entry point the runtime calls for a ``@workflow`` actor (see ``runtime/_run_handler.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._engine import WorkflowEngine

if TYPE_CHECKING:
    from ..runtime._instance import LiveActor

__all__ = ["run_workflow"]


async def run_workflow(actor: LiveActor) -> None:
    """Run the actor's workflow until it completes, fails, or the actor is evicted.

    A fresh engine replays the stored history, then keeps running live. A failed or completed
    workflow just returns: the actor stays alive and sleeps when idle.
    """
    engine = WorkflowEngine(actor)
    actor.workflow = engine
    await engine.run()
