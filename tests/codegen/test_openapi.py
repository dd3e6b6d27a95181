"""The OpenAPI 3.1 documents: valid, one path per action and queue, errors, components."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from codegen import render_files
from codegen.examples import example_refs

ROOT = Path(__file__).resolve().parents[2]
REFS = [*example_refs(ROOT / "examples"), "tests.codegen.fixtures.shop:registry", "tests.codegen.fixtures.clash:registry"]


def _document(ref: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(render_files(ref).openapi)
    return document


@pytest.mark.parametrize("ref", REFS)
def test_document_validates_as_openapi_3_1(ref: str) -> None:
    document = _document(ref)
    assert document["openapi"] == "3.1.0"
    validate(document)


def test_validator_rejects_a_broken_document() -> None:
    document = _document("tests.codegen.fixtures.shop:registry")
    document["paths"]["/gateway/{actor}/action/add"]["post"]["parameters"][0]["in"] = "body"
    with pytest.raises(OpenAPIValidationError):
        validate(document)


def test_action_and_queue_operations() -> None:
    document = _document("tests.codegen.fixtures.shop:registry")
    paths = document["paths"]
    assert "/gateway/{actor}/action/add" in paths
    assert "/gateway/{actor}/queue/orders" in paths
    assert "/gateway/{actor}/queue/audit-log" in paths
    add = paths["/gateway/{actor}/action/add"]["post"]
    assert add["tags"] == ["inventory"]
    assert [p["name"] for p in add["parameters"]] == ["actor", "rvt-method", "rvt-key"]
    args = add["requestBody"]["content"]["application/json"]["schema"]["properties"]["args"]
    assert args["minItems"] == 1 and args["maxItems"] == 4 and args["items"] is False
    assert args["prefixItems"][0] == {"title": "name", "type": "string"}
    assert args["prefixItems"][1]["$ref"] == "#/components/schemas/Color"
    quantity = args["prefixItems"][3]
    assert quantity["anyOf"] == [{"type": "integer"}, {"$ref": "#/components/schemas/JsonCompatBigInt"}]
    output = add["responses"]["200"]["content"]["application/json"]["schema"]
    assert output["properties"]["output"] == {"$ref": "#/components/schemas/Item"}
    assert output["required"] == ["output"]
    for status in ("400", "404", "408", "500"):
        schema = add["responses"][status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/RivetError"}

    orders = paths["/gateway/{actor}/queue/orders"]["post"]
    request = orders["requestBody"]["content"]["application/json"]["schema"]
    assert request["properties"]["body"] == {"$ref": "#/components/schemas/Order"}
    assert request["properties"]["timeout"]["type"] == "integer"
    response = orders["responses"]["200"]["content"]["application/json"]["schema"]
    assert response["properties"]["status"]["enum"] == ["completed", "timedOut"]
    assert response["properties"]["response"] == {"$ref": "#/components/schemas/Receipt"}

    schemas = document["components"]["schemas"]
    assert {"Add", "Color", "Dimensions", "Item", "Order", "Priority", "Receipt", "Remove", "RivetError", "StockLevel"} <= set(schemas)
    assert schemas["JsonCompatBigInt"]["prefixItems"][0] == {"const": "$BigInt"}
    assert set(schemas["Order"]["properties"]) == {"orderId", "lineItems", "rush"}
    assert list(schemas) == sorted(schemas)
    assert [t["name"] for t in document["tags"]] == ["inventory", "notifier-v2"]
    assert document["servers"][0]["url"].startswith("http://")


def test_every_ref_resolves() -> None:
    for ref in REFS:
        document = _document(ref)
        text = json.dumps(document)
        for name in {part.split('"')[0] for part in text.split("#/components/schemas/")[1:]}:
            assert name in document["components"]["schemas"], (ref, name)
