"""Step-only access: actor APIs that workflow code may use only inside ``ctx.step``.

The workflow engine sets :data:`in_workflow_code` while it runs workflow code outside a step
(and resets it inside steps). Checking is one ``ContextVar.get`` on the hot path.
"""

from __future__ import annotations

from contextvars import ContextVar

from .._errors import StepOnlyError

__all__ = ["check_step_access", "in_workflow_code"]

#: True while the current task runs workflow code that is not inside a step.
in_workflow_code: ContextVar[bool] = ContextVar("rivet_in_workflow_code", default=False)


def check_step_access(feature: str) -> None:
    """Raise :class:`StepOnlyError` when called from workflow code outside a step."""
    if in_workflow_code.get():
        raise StepOnlyError(feature)
