"""A short client session against a server running `examples.app:registry`."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from rivet_dsl.client import Client


def show(label: str, value: Any) -> None:
    print(f"  {label:<44} {value}", flush=True)


async def run_demo(endpoint: str) -> None:
    run = secrets.token_hex(3)  # fresh keys each run; the database persists between runs
    async with Client(endpoint) as client:
        print("counter (actions, events, durable state)")
        counter = client.get_or_create("counter", ["demo"])
        events: list[int] = []
        async with counter.connect() as conn:
            conn.on("count", events.append)
            show("increment(5) over the WebSocket", await conn.action("increment", 5))
            show("increment(2) over HTTP", await counter.action("increment", 2))
        show("events received", events)

        print("chat room (connection params, per-connection state)")
        room = client.get_or_create("chat_room", ["org-acme", f"general-{run}"], input={"room_name": "General"})
        async with room.connect({"user_id": "ann"}) as ann:
            show("send_message as ann", await ann.action("send_message", "hello"))
        show("history", await room.action("get_history"))

        print("coordinator and data actors (actor-to-actor calls)")
        rooms = client.get_or_create("room_list", [f"org-{run}"])
        await rooms.action("add_room", "general")
        show("list_rooms", await rooms.action("list_rooms"))

        print("reminder (durable schedule)")
        reminder = client.get_or_create("reminder", [run])
        await reminder.action("set_reminder", "stretch", 0.2)
        for _ in range(50):
            state = await reminder.action("get_state")
            if state["fired"]:
                break
            await asyncio.sleep(0.05)
        show("fired after 0.2 s", state["fired"])

        print("queues and workflows")
        worker = client.get_or_create("counter_worker", [run])
        for delta in (1, 2, 3):
            await worker.send("mutate", {"delta": delta})
        show("queue sends acknowledged", "3 (durable before the reply)")
        definitions = await _workflow_demo(client, run)
        for label, value in definitions:
            show(label, value)


async def _workflow_demo(client: Client, run: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    try:
        doubler = client.get_or_create("request_response_actor", [run])
        result = await doubler.send("requests", {"value": 21}, wait=True, timeout=5.0)
        out.append(("request/response workflow: send(21, wait)", (result.status, result.response)))
        counter = client.get_or_create("workflow_counter", [run])
        await counter.send("counter", {"delta": 2})
        await counter.send("counter", {"delta": 3})
        for _ in range(50):
            state = await counter.action("get_state")
            if state["processed"] == 2:
                break
            await asyncio.sleep(0.05)
        out.append(("workflow counter after two messages", state))
    except Exception as exc:  # the workflow examples are optional in this demo
        out.append(("workflow examples", f"unavailable: {exc}"))
    return out
