"""The keys ``[]`` and ``[""]`` are two actors on every path: gateway query, manager API, client.

RivetKit's clients put ``key.join(",")`` in ``rvt-key`` and leave the parameter out for the
empty key, so ``rvt-key=`` (present, empty) is ``[""]``. The manager API uses the serialized
form (``/`` for ``[]``, ``\\0`` for ``[""]``). The Python client addresses ``[""]`` (which a
Rivet gateway would read as ``[]``) by id.
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from rivet_dsl.client import Client

from ._harness import ServerProcess

pytestmark = pytest.mark.anyio


async def test_empty_key_and_empty_part_are_distinct_actors(server: ServerProcess) -> None:
    name = "counter"
    async with httpx.AsyncClient(base_url=server.url, timeout=10.0) as http:
        ids: dict[str, str] = {}
        for label, key in (("empty", "/"), ("blank", "\\0")):
            r = await http.put("/actors", json={"name": name, "key": key})
            assert r.json()["created"] is True, r.text
            ids[label] = r.json()["actor"]["actor_id"]
        assert ids["empty"] != ids["blank"]

        async def gateway_call(query: str) -> httpx.Response:
            return await http.post(f"/gateway/{name}/action/increment?rvt-method=getOrCreate{query}", json={"args": [1]})

        # Raw gateway requests, as RivetKit's clients send them.
        r = await gateway_call("")
        assert r.headers["x-rivet-actor"] == ids["empty"] and r.json()["output"] == 1
        r = await gateway_call("&rvt-key=")
        assert r.headers["x-rivet-actor"] == ids["blank"] and r.json()["output"] == 1
        assert r.headers["x-rivet-actor-key"] == "\\0"
        r = await http.post(f"/gateway/{name}/action/getCount?rvt-method=get&rvt-key=", json={"args": []})
        assert r.headers["x-rivet-actor"] == ids["blank"]

    # The Python client keeps them apart too, on the same actors as the manager API.
    async with Client(server.url) as client:
        assert await client.get_or_create(name, []).action("increment", 1) == 2
        assert await client.get_or_create(name, [""]).action("increment", 1) == 2
        assert await client.get_or_create(name, []).resolve() == ids["empty"]
        assert await client.get_or_create(name, [""]).resolve() == ids["blank"]
        assert await client.get(name, [""]).action("getCount") == 2

        # Empty parts among others travel in rvt-key as they are.
        run = uuid.uuid4().hex
        for parts in ([run, ""], ["", run], ["", "", run]):
            handle = client.get_or_create(name, parts)
            assert await handle.action("increment", 1) == 1
            async with httpx.AsyncClient(base_url=server.url) as http:
                serialized = "/".join(part or "\\0" for part in parts)
                listed = (await http.get("/actors", params={"name": name, "key": serialized})).json()
            assert [a["actor_id"] for a in listed["actors"]] == [await handle.resolve()]
