"""A short client session against a server running `examples.app:registry`.

It uses the generated typed clients (`make codegen`): every call below is checked by mypy
against the actors' signatures, and every response is decoded into the declared types.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from generated import chat_room, coordinator, counter, counter_worker, reminder, wf_counter, wf_request_response
from rivet_dsl.client import Client as RawClient


def show(label: str, value: Any) -> None:
    print(f"  {label:<44} {value}", flush=True)


async def run_demo(endpoint: str) -> None:
    run = secrets.token_hex(3)  # fresh keys each run; the database persists between runs
    async with RawClient(endpoint) as raw:
        print("counter (actions, events, durable state)")
        counters = counter.Client(raw)
        handle = counters.counter.get_or_create(["demo"])
        seen: list[int] = []
        async with handle.connect() as conn:
            conn.events.count.subscribe(seen.append)
            show("increment(5) over the WebSocket", await conn.increment(5))
            show("increment(2) over HTTP", await handle.increment(2))
        show("events received", seen)

        print("chat room (connection params, per-connection state)")
        rooms = chat_room.Client(raw)
        room = rooms.chat_room.get_or_create(["org-acme", f"general-{run}"], input={"room_name": "General"})
        async with room.connect({"user_id": "ann"}) as ann:
            show("send_message as ann", await ann.send_message("hello"))
        show("history", await room.get_history())

        print("coordinator and data actors (actor-to-actor calls)")
        lists = coordinator.Client(raw).room_list.get_or_create([f"org-{run}"])
        await lists.add_room("general")
        show("list_rooms", await lists.list_rooms())

        print("reminder (durable schedule)")
        reminders = reminder.Client(raw).reminder.get_or_create([run])
        await reminders.set_reminder("stretch", 0.2)
        state = await reminders.get_state()
        for _ in range(50):
            if state.fired:
                break
            await asyncio.sleep(0.05)
            state = await reminders.get_state()
        show("fired after 0.2 s", state.fired)

        print("queues and workflows")
        worker = counter_worker.Client(raw).counter_worker.get_or_create([run])
        for delta in (1, 2, 3):
            await worker.queues.mutate.send(counter_worker.Mutate(delta=delta))
        show("queue sends acknowledged", "3 (durable before the reply)")

        doubler = wf_request_response.Client(raw).request_response.get_or_create([run])
        result = await doubler.queues.requests.send(wf_request_response.Request(value=21), wait=True, timeout=5.0)
        show("request/response workflow: send(21, wait)", (result.status, result.response))

        flow = wf_counter.Client(raw).workflow_counter.get_or_create([run])
        await flow.queues.counter.send(wf_counter.CounterCommand(delta=2))
        await flow.queues.counter.send(wf_counter.CounterCommand(delta=3))
        flow_state = await flow.get_state()
        for _ in range(50):
            if flow_state.processed == 2:
                break
            await asyncio.sleep(0.05)
            flow_state = await flow.get_state()
        show("workflow counter after two messages", flow_state)
