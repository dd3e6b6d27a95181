"""Wire names derived from Python names."""

from __future__ import annotations

import re

_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def snake_case(name: str) -> str:
    """``WorkflowCounter`` -> ``workflow_counter``; ``HTTPServer`` -> ``http_server``."""
    return _BOUNDARY.sub("_", name).lower()
