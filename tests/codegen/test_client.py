"""The generated client against a live in-process registry (TestEnvironment)."""

from __future__ import annotations

import asyncio
import datetime
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from codegen import render_files
from rivet_dsl.client import ActorError, QueueSendResult
from rivet_dsl.testing import TestEnvironment
from tests.codegen.conftest import import_generated
from tests.codegen.fixtures import drift, shop

pytestmark = pytest.mark.anyio


async def test_actions_with_types_defaults_and_keywords(generated_module: ModuleType) -> None:
    g: Any = generated_module
    async with TestEnvironment(shop.registry) as env:
        client = g.Client(env.client)
        inventory = client.inventory.get_or_create(["main"])
        item = await inventory.add("brush")
        assert item == g.Item(name="brush", color=g.Color.RED, size="m")
        assert type(item) is g.Item and type(item.color) is g.Color
        item = await inventory.add("pot", size="l", quantity=3)
        assert item.size == "l" and item.priority is g.Priority.LOW
        assert await inventory.counts() == {"brush": 1, "pot": 3}
        count = await inventory.apply(g.Add(item=g.Item(name="pot", color=g.Color.GREEN), quantity=2))
        assert count == 5
        assert await inventory.apply(g.Remove(name="brush")) == 0
        found = await inventory.find("p")
        assert [i.name for i in found] == ["pot"] and found[0].color is g.Color.GREEN
        assert await inventory.find("p", limit=0) == []
        assert await inventory.resize("pot") == g.Dimensions(2.0, 3.0)
        assert await inventory.resize("missing", g.Dimensions(width=1.0)) is None
        token = uuid.UUID(int=7)
        assert await inventory.connect_(token) == str(token)
        assert await inventory.broadcast("hello") is None
        point = await inventory.locate("abc")
        assert point == g.Point(3, 2) and (point.x, point.y) == (3, 2)
        assert await inventory.search({"prefix": "p"}) == ["pot"]
        assert await inventory.search({"limit": 0}) == []
        tree = await inventory.categories()
        assert tree.children[0].children[0] == g.Category("level-1")


async def test_bytes_arguments_travel_as_bytes(generated_module: ModuleType) -> None:
    g: Any = generated_module
    async with TestEnvironment(shop.registry) as env:
        inventory = g.Client(env.client).inventory.get_or_create("blobs")
        assert await inventory.blob_kind(b"\x00\xff") == "bytes"


async def test_queues_typed_responses(generated_module: ModuleType) -> None:
    g: Any = generated_module
    async with TestEnvironment(shop.registry) as env:
        inventory = g.Client(env.client).inventory.get_or_create("q")
        order = g.Order(order_id="o-1", line_items=[g.Add(item=g.Item(name="x", color=g.Color.RED), quantity=4)])
        assert await inventory.queues.orders.send(order) is None
        result = await inventory.queues.orders.send(order, wait=True, timeout=5.0)
        assert isinstance(result, QueueSendResult)
        assert result.status == "completed"
        assert result.response == g.Receipt("o-1", 4, datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC))
        done = await inventory.queues.audit_log.send("checked", wait=True, timeout=5.0)
        assert done == QueueSendResult(status="completed", response=None)
        assert await inventory.audit_entries() == ["checked"]


async def test_queue_wait_times_out(tmp_path: Path) -> None:
    files = render_files(drift.client_registry, module="tests.codegen.fixtures.drift")
    path = tmp_path / "sensor_client.py"
    path.write_text(files.client, encoding="utf-8")
    g: Any = import_generated(path)
    async with TestEnvironment(drift.server_registry) as env:
        sensor = g.Client(env.client).sensor.get_or_create()
        result = await sensor.queues.jobs.send(g.Reading(celsius=1.5), wait=True, timeout=0.05)
        assert result == QueueSendResult(status="timed_out", response=None)


async def test_connection_events_and_actions(generated_module: ModuleType, tmp_path: Path) -> None:
    g: Any = generated_module
    async with TestEnvironment(shop.registry) as env:
        client = g.Client(env.client)
        inventory = client.inventory.get_or_create("events")
        levels: list[Any] = []
        alerts: list[str] = []
        got = asyncio.Event()
        async with inventory.connect() as conn:
            assert isinstance(conn.actor_id, str)
            def on_level(level: Any) -> None:
                levels.append(level)
                got.set()

            conn.events.stock_changed.subscribe(on_level)
            unsubscribe = conn.events.alert.subscribe(alerts.append)
            await conn.apply(g.Add(item=g.Item(name="x", color=g.Color.RED)))
            await asyncio.wait_for(got.wait(), 5.0)
            await conn.broadcast("one")
            unsubscribe()
            await conn.broadcast("two")
            assert await conn.counts() == {"x": 1}
        assert levels == [g.StockLevel(name="x", quantity=1)] and type(levels[0]) is g.StockLevel
        assert alerts == ["one"]
        notifier = client.notifier_v2.get_or_create()
        assert await notifier.notify() is True


async def test_handles_create_get_for_id_and_errors(generated_module: ModuleType) -> None:
    g: Any = generated_module
    async with TestEnvironment(shop.registry) as env:
        client = g.Client(env.client)
        created = await client.inventory.create(["new"])
        actor_id = await created.resolve()
        same = client.inventory.get_for_id(actor_id)
        await same.add("a")
        assert await client.inventory.get(["new"]).counts() == {"a": 1}
        with pytest.raises(ActorError) as caught:
            await client.inventory.get(["missing"]).counts()
        assert caught.value.code == "not_found"
        with pytest.raises(ActorError) as caught:
            await client.inventory.get_or_create("bad").add("x", quantity="many")
        assert caught.value.code == "invalid_arguments"


async def test_wrong_response_shape_is_a_client_error(tmp_path: Path) -> None:
    files = render_files(drift.client_registry, module="tests.codegen.fixtures.drift")
    path = tmp_path / "sensor_client.py"
    path.write_text(files.client, encoding="utf-8")
    g: Any = import_generated(path)
    async with TestEnvironment(drift.server_registry) as env:
        sensor = g.Client(env.client).sensor.get_or_create()
        with pytest.raises(ActorError) as caught:
            await sensor.read()
        assert (caught.value.group, caught.value.code) == ("client", "invalid_response")
        assert "sensor.read" in caught.value.message
