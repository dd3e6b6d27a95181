"""Placeholder driver; the engine replaces this module."""

from __future__ import annotations

from typing import Any

__all__ = ["run_workflow"]


async def run_workflow(actor: Any) -> None:
    raise NotImplementedError("the workflow engine is not available yet")
