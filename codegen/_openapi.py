"""The OpenAPI 3.1 document for a registry's gateway routes (actions and queues)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ._introspect import CodegenError
from ._ir import ActionSpec, ActorSpec, ApiSpec, QueueSpec, TypeRef
from ._render import HEADER

__all__ = ["BIGINT_SCHEMA_NAME", "ERROR_SCHEMA_NAME", "json_compat", "openapi_document", "render_openapi"]

ERROR_SCHEMA_NAME = "RivetError"
BIGINT_SCHEMA_NAME = "JsonCompatBigInt"
BIGINT_REF = f"#/components/schemas/{BIGINT_SCHEMA_NAME}"
DEFAULT_SERVER = "http://127.0.0.1:6420"

_ERROR_SCHEMA: dict[str, Any] = {
    "title": ERROR_SCHEMA_NAME,
    "description": "Every error response: a stable group and code, a message, optional metadata.",
    "type": "object",
    "properties": {
        "group": {"type": "string"},
        "code": {"type": "string"},
        "message": {"type": "string"},
        "metadata": {},
    },
    "required": ["group", "code", "message"],
}

_ERROR_STATUSES = {
    "400": "Invalid request: bad arguments or body (`invalid_arguments`), a user error, a queue error.",
    "403": "Forbidden (the actor rejected the connection).",
    "404": "Unknown actor, action or queue (`actor/not_found`, `action_not_found`).",
    "408": "The action timed out (`actor/action_timed_out`).",
    "500": "Internal error (`internal_error`).",
}


_BIGINT_SCHEMA: dict[str, Any] = {
    "title": BIGINT_SCHEMA_NAME,
    "description": (
        "RivetKit's JSON-compat form of an integer outside +-(2**53 - 1), which JSON numbers "
        "cannot carry exactly: the tag and the decimal digits."
    ),
    "type": "array",
    "prefixItems": [{"const": "$BigInt"}, {"type": "string", "pattern": "^-?[0-9]+$"}],
    "minItems": 2,
    "maxItems": 2,
    "items": False,
}


def json_compat(schema: Any) -> Any:
    """``schema`` with every integer also accepting ``["$BigInt", "digits"]`` (JSON-compat)."""
    if isinstance(schema, list):
        return [json_compat(item) for item in schema]
    if not isinstance(schema, Mapping):
        return schema
    out = {key: json_compat(value) for key, value in schema.items()}
    if out.get("type") == "integer":
        return {"anyOf": [out, {"$ref": BIGINT_REF}]}
    return out


def _parameters() -> list[dict[str, Any]]:
    return [
        {
            "name": "actor",
            "in": "path",
            "required": True,
            "description": "An actor id, or the actor name when `rvt-method` is given.",
            "schema": {"type": "string"},
        },
        {
            "name": "rvt-method",
            "in": "query",
            "required": False,
            "description": "Address the actor by name and key: `get` (must exist) or `getOrCreate`.",
            "schema": {"type": "string", "enum": ["get", "getOrCreate"]},
        },
        {
            "name": "rvt-key",
            "in": "query",
            "required": False,
            "description": "The actor key with `rvt-method`: its parts separated by commas (absent: the empty key).",
            "schema": {"type": "string"},
        },
    ]


def _actor_parameter(actors: list[ActorSpec]) -> dict[str, Any]:
    parameter = _parameters()[0]
    names = [actor.name for actor in actors]
    parameter["description"] = (
        f"The actor name ({', '.join(f'`{n}`' for n in names)}) with `rvt-method`, or an actor id."
    )
    parameter["examples"] = {name: {"value": name} for name in names}
    return parameter


def _one_of(schemas: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    unique: list[Mapping[str, Any]] = []
    for schema in schemas:
        if schema not in unique:
            unique.append(schema)
    return unique[0] if len(unique) == 1 else {"anyOf": unique}


def _json(schema: Mapping[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _errors() -> dict[str, Any]:
    return {
        status: {
            "description": description,
            "content": _json({"$ref": f"#/components/schemas/{ERROR_SCHEMA_NAME}"}),
        }
        for status, description in _ERROR_STATUSES.items()
    }


def _output_schema(ref: TypeRef) -> Mapping[str, Any]:
    return {"type": "null"} if ref.is_none else _schema(ref)


def _schema(ref: TypeRef) -> Any:
    return json_compat(ref.schema)


def _titled(schema: Mapping[str, Any], title: str) -> dict[str, Any]:
    return {"title": title, **schema}


def _args_schema(action: ActionSpec) -> dict[str, Any]:
    required = sum(1 for p in action.params if p.default is None)
    schema: dict[str, Any] = {
        "type": "array",
        "minItems": required,
        "maxItems": len(action.params),
    }
    if action.params:
        schema["prefixItems"] = [_titled(_schema(p.type), p.server_name) for p in action.params]
    schema["items"] = False
    return schema


def _operation_head(
    entries: list[tuple[ActorSpec, ActionSpec]] | list[tuple[ActorSpec, QueueSpec]],
    shared_id: str,
    single_id: str,
    summary: str,
) -> dict[str, Any]:
    """Tags, id, summary, description and parameters of an operation that ``entries``' actors share."""
    actors = [actor for actor, _ in entries]
    docs = [f"`{actor.name}`: {member.doc.splitlines()[0]}" for actor, member in entries if member.doc]
    operation: dict[str, Any] = {
        "tags": [actor.name for actor in actors],
        "operationId": shared_id if len(entries) > 1 else f"{actors[0].name}.{single_id}",
        "summary": summary,
    }
    if docs:
        operation["description"] = "\n\n".join(docs)
    operation["parameters"] = [_actor_parameter(actors), *_parameters()[1:]]
    return operation


def _action_operation(name: str, entries: list[tuple[ActorSpec, ActionSpec]]) -> dict[str, Any]:
    requests = [_args_schema(action) for _, action in entries]
    outputs = [_output_schema(action.returns) for _, action in entries]
    output_required = not any(action.returns.nullable for _, action in entries)
    operation = _operation_head(entries, "action." + name, name, f"Call the action `{name}`")
    operation["requestBody"] = {
        "required": True,
        "content": _json(
            {
                "type": "object",
                "properties": {"args": _one_of(requests)},
                "required": ["args"],
                "additionalProperties": False,
            }
        ),
    }
    response_schema: dict[str, Any] = {"type": "object", "properties": {"output": _one_of(outputs)}}
    if output_required:
        response_schema["required"] = ["output"]
    operation["responses"] = {
        "200": {"description": "The action's return value.", "content": _json(response_schema)},
        **_errors(),
    }
    return operation


def _queue_operation(name: str, entries: list[tuple[ActorSpec, QueueSpec]]) -> dict[str, Any]:
    bodies = [_schema(queue.body) for _, queue in entries]
    responses = [_output_schema(queue.response) for _, queue in entries]
    operation = _operation_head(entries, "queue." + name, f"queue.{name}", f"Send a message to the queue `{name}`")
    operation["requestBody"] = {
        "required": True,
        "content": _json(
            {
                "type": "object",
                "properties": {
                    "body": _one_of(bodies),
                    "name": {"type": "string", "description": "The queue name (RivetKit repeats it)."},
                    "wait": {"type": "boolean", "description": "Wait for the actor to complete the message."},
                    "timeout": {
                        "type": "integer",
                        "minimum": 0,
                        "description": "With `wait`: how long to wait, in milliseconds.",
                    },
                },
                "required": ["body"],
                "additionalProperties": False,
            }
        ),
    }
    operation["responses"] = {
        "200": {
            "description": "The message is durable; with `wait`, the completion status and response.",
            "content": _json(
                {
                    "type": "object",
                    "properties": {
                        "status": {"type": "string", "enum": ["completed", "timedOut"]},
                        "response": _one_of(responses),
                    },
                    "required": ["status"],
                }
            ),
        },
        **_errors(),
    }
    return operation


def openapi_document(spec: ApiSpec, *, server: str = DEFAULT_SERVER) -> dict[str, Any]:
    """The OpenAPI 3.1 document (a JSON-ready dict, deterministic order)."""
    for reserved in (ERROR_SCHEMA_NAME, BIGINT_SCHEMA_NAME):
        if reserved in spec.components:
            raise CodegenError(f"a type named {reserved!r} clashes with a schema of the spec; rename it")
    actions: dict[str, list[tuple[ActorSpec, ActionSpec]]] = {}
    queues: dict[str, list[tuple[ActorSpec, QueueSpec]]] = {}
    for actor in spec.actors:
        for action in actor.actions:
            actions.setdefault(action.name, []).append((actor, action))
        for queue in actor.queues:
            queues.setdefault(queue.name, []).append((actor, queue))
    paths: dict[str, Any] = {}
    for name in sorted(actions):
        paths[f"/gateway/{{actor}}/action/{name}"] = {"post": _action_operation(name, actions[name])}
    for name in sorted(queues):
        paths[f"/gateway/{{actor}}/queue/{name}"] = {"post": _queue_operation(name, queues[name])}
    components = {name: json_compat(schema) for name, schema in spec.components.items()}
    components[ERROR_SCHEMA_NAME] = _ERROR_SCHEMA
    components[BIGINT_SCHEMA_NAME] = _BIGINT_SCHEMA
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"{spec.module} actors",
            "version": "1.0.0",
            "description": f"Gateway routes of the actors in `{spec.ref}`.",
            "x-generated": HEADER.lstrip("# "),
        },
        "servers": [{"url": server, "description": "rivet-dsl serve (default address)"}],
        "tags": [
            {"name": actor.name, **({"description": actor.doc} if actor.doc else {})} for actor in spec.actors
        ],
        "paths": paths,
        "components": {"schemas": {name: components[name] for name in sorted(components)}},
    }


def render_openapi(spec: ApiSpec) -> str:
    """The text of ``generated/<stem>.openapi.json``."""
    return json.dumps(openapi_document(spec), indent=2, ensure_ascii=False) + "\n"
