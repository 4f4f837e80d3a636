from __future__ import annotations

from collections import Counter

import pytest

from functions.api.registry import api
from functions.api.routing import _example

PREFIXES = ("/v1/numbers", "/v1/labels", "/v1/agents", "/v1/devices/{device_id}/chats",
            "/v1/devices/{device_id}/contacts", "/v1/devices/{device_id}/groups")
OURS = [r for r in api.routes if r.path.startswith(PREFIXES)]


def test_there_are_routes_to_check():
    assert len(OURS) >= 30


@pytest.mark.parametrize("route", OURS, ids=lambda r: f"{r.method} {r.path}")
def test_every_route_is_documented_with_examples(client, route):
    doc = client.get("/v1/openapi.json").get_json()
    op = doc["paths"][route.path][route.method.lower()]
    assert op["summary"] and op["tags"]
    if route.body is not None:
        example = op["requestBody"]["content"]["application/json"]["example"]
        route.body.model_validate(example)  # the example is a valid request
    if route.response is not None and _example(route.response) is not None:
        route.response.model_validate(_example(route.response))
    assert "401" in op["responses"]


def test_operation_ids_are_unique(client):
    doc = client.get("/v1/openapi.json").get_json()
    ids = Counter(op["operationId"] for item in doc["paths"].values() for op in item.values())
    assert [name for name, count in ids.items() if count > 1] == []


def test_new_events_are_listed():
    from shared.events import DESCRIPTIONS, EventName

    for name in ("contact:update", "chat:update", "chat:delete", "group:update"):
        assert EventName(name) in DESCRIPTIONS
