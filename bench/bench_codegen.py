"""Codegen speed: a synthetic registry of 50 actors x 20 actions (target: under 2 s).

Prints ``{"metric": "codegen.50x20.seconds", "value": ..., "unit": "s"}``: the best of a few
runs of the whole pipeline (introspect -> IR -> client module + OpenAPI document), in memory.
Building the registry (class creation) is not timed.
"""

from __future__ import annotations

import enum
import os
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import emit, log
from codegen import build_spec
from codegen._openapi import render_openapi
from codegen._render import render_client
from rivet_dsl import Actor, Registry, action, event, queue, setup

ACTORS = 50
ACTIONS = 20


class Mood(enum.Enum):
    HAPPY = "happy"
    SAD = "sad"


def _action(name: str, annotations: dict[str, Any], defaults: tuple[Any, ...]) -> Callable[..., Any]:
    # A real signature (positional parameters with defaults) built from a code template.
    params = [p for p in annotations if p != "return"]
    source = f"def {name}(self, {', '.join(params)}): return None"
    namespace: dict[str, Any] = {}
    exec(compile(source, "<bench>", "exec"), namespace)  # noqa: S102 - synthetic methods for the benchmark
    fn = namespace[name]
    fn.__defaults__ = defaults or None
    fn.__annotations__ = annotations
    fn.__module__ = __name__
    marked: Callable[..., Any] = action(fn)
    return marked


def _queue(name: str, body: Any, response: Any) -> Any:
    namespace: dict[str, Any] = {}
    exec(compile(f"def {name}(self, body): ...", "<bench>", "exec"), namespace)  # noqa: S102
    fn = namespace[name]
    fn.__annotations__ = {"body": body, "return": response}
    return queue(fn)


def _event(name: str, payload: Any) -> Any:
    namespace: dict[str, Any] = {}
    exec(compile(f"def {name}(self, payload): ...", "<bench>", "exec"), namespace)  # noqa: S102
    fn = namespace[name]
    fn.__annotations__ = {"payload": payload, "return": None}
    return event(fn)


def synthetic_registry(actors: int = ACTORS, actions: int = ACTIONS) -> Registry:
    """``actors`` actors, each with ``actions`` actions over its own Structs, a queue and an event."""
    classes: list[type[Actor[Any]]] = []
    for a in range(actors):
        inner = msgspec.defstruct(f"Inner{a}", [("x", int), ("tags", list[str], [])], module=__name__)
        payload = msgspec.defstruct(
            f"Payload{a}",
            [("name", str), ("inner", inner), ("mood", Mood, Mood.HAPPY), ("extra", dict[str, float] | None, None)],
            module=__name__,
        )
        state = msgspec.defstruct(f"State{a}", [("count", int, 0)], module=__name__)
        namespace: dict[str, Any] = {}
        for i in range(actions):
            kind = i % 4
            if kind == 0:
                namespace[f"act{i}"] = _action(f"act{i}", {"value": int, "step": int, "return": int}, (1,))
            elif kind == 1:
                namespace[f"act{i}"] = _action(f"act{i}", {"payload": payload, "return": list[payload]}, ())  # type: ignore[valid-type]
            elif kind == 2:
                namespace[f"act{i}"] = _action(
                    f"act{i}", {"mode": Literal["a", "b"], "limit": int | None, "return": dict[str, inner]}, ("a", None)  # type: ignore[valid-type]
                )
            else:
                namespace[f"act{i}"] = _action(f"act{i}", {"return": payload | None}, ())
        namespace["jobs"] = _queue("jobs", payload, inner)
        namespace["changed"] = _event("changed", payload)
        def fill(ns: dict[str, Any], members: dict[str, Any] = namespace) -> None:
            ns.update(members)

        classes.append(types.new_class(f"Synthetic{a}", (Actor[state],), {}, fill))  # type: ignore[valid-type]
    return setup(*classes)


def run_once(registry: Registry) -> tuple[float, int]:
    start = time.perf_counter()
    spec = build_spec(registry, "bench.synthetic", "bench.synthetic:registry")
    client = render_client(spec)
    document = render_openapi(spec)
    return time.perf_counter() - start, len(client) + len(document)


def main() -> None:
    quick = os.environ.get("RIVET_BENCH_QUICK") == "1"
    registry = synthetic_registry()
    runs = 2 if quick else 5
    timings: list[float] = []
    size = 0
    for _ in range(runs):
        seconds, size = run_once(registry)
        timings.append(seconds)
        log(f"codegen {ACTORS}x{ACTIONS}: {seconds:.3f} s ({size} bytes)")
    emit(
        "codegen.50x20.seconds",
        min(timings),
        "s",
        target=2.0,
        first_run=timings[0],
        runs=runs,
        output_bytes=size,
    )


if __name__ == "__main__":
    main()
