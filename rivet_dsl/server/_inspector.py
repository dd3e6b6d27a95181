"""The inspector API under ``/gateway/{actor}/inspector/*`` (RivetKit's shapes, JSON only).

Outside dev mode every route needs ``Authorization: Bearer <token>`` (the server's
``--inspector-token``); without a configured token the inspector is closed.
"""

from __future__ import annotations

import hmac
import itertools
import math
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import workflows
from .._errors import InvalidArgumentsError, RivetError
from ..runtime._codec import to_builtins, validate_encoded
from ..runtime._instance import LiveActor
from ._app import (
    MANAGER_MAX_BODY,
    WireError,
    _gateway_query,
    action_args,
    decode_body,
    error_response,
    ok_response,
    read_body,
    resolve_actor,
)

if TYPE_CHECKING:
    from ._app import RivetServer

__all__ = ["inspector_routes"]

Endpoint = Callable[[Request], Awaitable[Response]]


class _Forbidden(RivetError):
    default_group = "auth"
    default_code = "forbidden"
    default_status = 403


#: Timestamps of the workflow history, in the engine's seconds; RivetKit's workflow engine gives
#: them in epoch milliseconds (``Date.now()``: ``EntryMetadata.createdAt`` etc., a sleep's
#: ``deadline``; ``workflow-engine/src/types.ts``), as the inspector's ``createdAtMs`` does.
_METADATA_TIMES = ("lastAttemptAt", "createdAt", "completedAt")


def _ms(seconds: Any) -> Any:
    """Epoch seconds as integer milliseconds (``None``, and a deadline that never comes, stay as
    they are: JSON has no infinity, and ``int()`` refuses it)."""
    if seconds is None or not math.isfinite(seconds):
        return seconds
    return int(seconds * 1000)


def history_in_ms(history: dict[str, Any]) -> dict[str, Any]:
    """The workflow history with every timestamp in milliseconds, as RivetKit's inspector."""
    for metadata in history["entryMetadata"].values():
        for field in _METADATA_TIMES:
            metadata[field] = _ms(metadata[field])
    for entry in history["entries"]:
        data = entry["data"]
        if "deadline" in data:  # sleep, and a message wait with a timeout
            data["deadline"] = _ms(data["deadline"])
        for message in data.get("messages", ()):
            message["createdAt"] = _ms(message["createdAt"])
    return history


async def check_recoverable(actor: LiveActor) -> None:
    """Refuse (409 ``workflow/not_failed``) to recover a workflow that is still going.

    Only a failed workflow can be recovered. One that waits (for a message, a timer, a step's
    retry) or runs has nothing to recover; the engine's own refusal (``actor/workflow_in_flight``,
    "wait until it is waiting, completed or failed") told a waiting workflow's caller to wait
    for what it already was. (A completed one is left to ``recover``, which does nothing.)
    """
    engine = actor.workflow
    if engine is not None:
        await engine.loaded.wait()  # just woken: a failed history is not settled before it loads
    if engine is None or engine.done:
        return
    state = engine.status  # "waiting" or "running" while not done
    raise WireError(
        f"Workflow is {state}, not failed: only a failed workflow can be recovered",
        group="workflow",
        code="not_failed",
        status=409,
        metadata={"state": state},
    )


def inspector_routes(server: RivetServer) -> list[Route]:
    runtime = server.runtime
    config = server.config

    def check_auth(request: Request) -> None:
        if config.dev:
            return
        token = config.inspector_token
        header = request.headers.get("authorization", "")
        given = header[7:] if header.lower().startswith("bearer ") else None
        if token is None or given is None or not hmac.compare_digest(given.encode(), token.encode()):
            raise _Forbidden("Inspector access requires a valid bearer token")

    async def live(request: Request) -> LiveActor:
        info = await resolve_actor(runtime, request.path_params["actor"], _gateway_query(request))
        return await runtime.acquire(info.actor_id)

    def route(
        path: str,
        methods: list[str],
        *,
        body_limit: int | None = None,
        parse: Callable[[Any], Any] | None = None,
        body_optional: bool = False,
    ) -> Callable[[Callable[[Request, LiveActor, Any], Awaitable[Any]]], Route]:
        """A route; one that takes a body (``body_limit``) reads, decodes and checks it with
        ``parse`` before the actor is resolved, so a body over the limit or a malformed one
        creates, wakes and changes no actor (the handler gets what ``parse`` returned)."""

        def wrap(fn: Callable[[Request, LiveActor, Any], Awaitable[Any]]) -> Route:
            async def endpoint(request: Request) -> Response:
                try:
                    check_auth(request)
                    body: Any = None
                    if body_limit is not None:
                        raw = await read_body(request, body_limit)
                        # An optional body that is absent (empty) reads as {}.
                        body = decode_body(raw, "json") if raw.strip() or not body_optional else {}
                        if parse is not None:
                            body = parse(body)
                    actor = await live(request)
                    actor._enter()
                    try:
                        out = await fn(request, actor, body)
                    finally:
                        actor._exit()
                    return ok_response(out, "json", {"x-rivet-actor": actor.actor_id})
                except Exception as exc:  # noqa: BLE001  (every failure becomes an error reply)
                    return error_response(exc, "json")

            return Route(f"/gateway/{{actor}}/inspector{path}", endpoint, methods=methods)

        return wrap

    def state_of(actor: LiveActor) -> tuple[Any, bool]:
        if actor.definition.stateless:
            return None, False
        return to_builtins(actor.get_state()), True

    def connections_of(actor: LiveActor) -> list[dict[str, Any]]:
        return [
            {
                "id": conn.id,
                "params": to_builtins(conn.params),
                "state": to_builtins(conn.state),
                "subscriptions": sorted(conn.subscriptions),
            }
            for conn in actor.conns().values()
        ]

    def workflow_enabled(actor: LiveActor) -> bool:
        return actor.definition.run_kind == "workflow"

    async def history_of(actor: LiveActor) -> Any:
        if not workflow_enabled(actor):
            return None
        return history_in_ms(to_builtins(await workflows.workflow_history(runtime, actor.actor_id)))

    @route("/summary", ["GET"])
    async def summary(request: Request, actor: LiveActor, _: Any) -> Any:
        state, enabled = state_of(actor)
        return {
            "state": state,
            "isStateEnabled": enabled,
            "connections": connections_of(actor),
            "rpcs": sorted(actor.definition.actions),
            "queueSize": len(actor.queue),
            "isDatabaseEnabled": False,
            "isWorkflowEnabled": workflow_enabled(actor),
            "workflowHistory": await history_of(actor),
        }

    @route("/state", ["GET"])
    async def get_state(request: Request, actor: LiveActor, _: Any) -> Any:
        state, enabled = state_of(actor)
        return {"state": state, "isStateEnabled": enabled}

    def patch_body(body: Any) -> Any:
        if not isinstance(body, dict) or "state" not in body:
            raise WireError("Expected {state}", group="message", code="malformed")
        return body["state"]

    @route("/state", ["PATCH"], body_limit=MANAGER_MAX_BODY, parse=patch_body)
    async def patch_state(request: Request, actor: LiveActor, state: Any) -> Any:
        if actor.definition.stateless:
            raise WireError("This actor has no state", group="inspector", code="state_disabled")
        try:
            # validate_encoded also refuses what converts but cannot be stored (an integer
            # beyond 64 bits), before the actor sees it.
            new_state = validate_encoded(state, actor.definition.state_type, "state")[0]
        except InvalidArgumentsError as exc:
            raise WireError(exc.message, code="invalid_arguments") from None
        # Not while a workflow step runs: its commit would leave the patch out (a step's writes
        # commit when it ends) and a cancelled step would revert it. Nothing awaits between
        # the wait and the patch, so no step starts in between.
        await actor.until_steps_idle()
        actor.set_state(new_state)
        await actor.save_state()
        return {"ok": True}

    @route("/connections", ["GET"])
    async def connections(request: Request, actor: LiveActor, _: Any) -> Any:
        return {"connections": connections_of(actor)}

    @route("/rpcs", ["GET"])
    async def rpcs(request: Request, actor: LiveActor, _: Any) -> Any:
        return {"rpcs": sorted(actor.definition.actions)}

    @route("/action/{name}", ["POST"], body_limit=config.max_body, parse=action_args)
    async def call_action(request: Request, actor: LiveActor, args: list[Any]) -> Any:
        output = await runtime.call(actor.actor_id, request.path_params["name"], args)
        return {"output": output}

    @route("/queue", ["GET"])
    async def queue_list(request: Request, actor: LiveActor, _: Any) -> Any:
        raw = request.query_params.get("limit", "100")
        try:
            limit = max(0, min(int(raw), 10000))
        except ValueError:
            raise WireError("Invalid limit", code="invalid_query") from None
        messages = actor.queue._messages
        return {
            "size": len(messages),
            "maxSize": actor.definition.options.max_queue_size,
            "truncated": len(messages) > limit,
            "messages": [
                {"id": row.seq, "name": row.name, "createdAtMs": int(row.created_at * 1000)}
                for row in itertools.islice(messages.values(), limit)
            ],
        }

    def inject_body(body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("name"), str):
            raise WireError("Expected {name, body}", group="message", code="malformed")
        return body

    @route("/queue", ["POST"], body_limit=config.max_body, parse=inject_body)
    async def queue_inject(request: Request, actor: LiveActor, body: dict[str, Any]) -> Any:
        await runtime.send(actor.actor_id, body["name"], body.get("body"))
        return {"ok": True}

    @route("/queue", ["DELETE"])
    async def queue_clear(request: Request, actor: LiveActor, _: Any) -> Any:
        # Senders waiting on a cleared message are answered once the delete is durable
        # (ActorQueue.clear); they waited out their timeouts before.
        cleared = actor.queue.clear()
        await actor.commit()
        return {"ok": True, "cleared": cleared}

    @route("/workflow-history", ["GET"])
    async def workflow_history(request: Request, actor: LiveActor, _: Any) -> Any:
        return {"history": await history_of(actor), "isWorkflowEnabled": workflow_enabled(actor)}

    def replay_body(body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise WireError("Expected {entryId?} or {step?}", group="message", code="malformed")
        return body

    @route("/workflow/replay", ["POST"], body_limit=config.max_body, parse=replay_body, body_optional=True)
    async def workflow_replay(request: Request, actor: LiveActor, body: dict[str, Any]) -> Any:
        if not workflow_enabled(actor):
            raise WireError("This actor has no workflow", group="inspector", code="workflow_disabled")
        step = body.get("step")
        entry_id = body.get("entryId")
        if entry_id is not None:
            # RivetKit names the entry by its id; the engine takes the entry's path.
            history = await history_of(actor) or {}
            matches = [e["location"] for e in history.get("entries", []) if str(e.get("id")) == str(entry_id)]
            if not matches:
                raise WireError(f"No workflow entry {entry_id!r}", group="workflow", code="step_not_found", status=404)
            step = matches[0]
        if step is not None and not isinstance(step, str):
            raise WireError("'step' must be a string path", group="message", code="malformed")
        await workflows.replay_from_step(runtime, actor.actor_id, step)
        return {"history": await history_of(actor), "isWorkflowEnabled": True}

    @route("/workflow/recover", ["POST"])
    async def workflow_recover(request: Request, actor: LiveActor, _: Any) -> Any:
        if not workflow_enabled(actor):
            raise WireError("This actor has no workflow", group="inspector", code="workflow_disabled")
        await check_recoverable(actor)
        await workflows.recover(runtime, actor.actor_id)
        return {"history": await history_of(actor), "isWorkflowEnabled": True}

    return [
        summary,
        get_state,
        patch_state,
        connections,
        rpcs,
        call_action,
        queue_list,
        queue_inject,
        queue_clear,
        workflow_history,
        workflow_replay,
        workflow_recover,
    ]
