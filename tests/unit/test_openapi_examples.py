"""The OpenAPI document explains every operation and shows examples that fit its schemas:
a description that names each error status the operation documents, request and response
examples that validate against the documented schemas, and every webhook event in the
`webhooks` section with its schema and an example. (tests/e2e/test_openapi_examples.py
sends the request examples to the local stack.)"""

from __future__ import annotations

import re

import pytest
from openapi_schema_validator import OAS31Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from functions.api.registry import api
from infra.openapi_json import document
from shared.events import EventName

DOC = document()
REGISTRY = Registry().with_resource("urn:utio", DRAFT202012.create_resource(DOC))
OPERATIONS = [(path, method, op) for path, ops in DOC["paths"].items()
              for method, op in ops.items()]
IDS = [f"{method.upper()} {path}" for path, method, op in OPERATIONS]


def validator(schema: dict) -> OAS31Validator:
    """A validator for a schema of the document, its #/components refs resolved."""
    return OAS31Validator(_rooted(schema), registry=REGISTRY)


def _rooted(schema):
    if isinstance(schema, dict):
        return {k: ("urn:utio" + v if k == "$ref" and v.startswith("#") else _rooted(v))
                for k, v in schema.items()}
    if isinstance(schema, list):
        return [_rooted(v) for v in schema]
    return schema


def check(schema: dict, instance) -> None:
    errors = sorted(validator(schema).iter_errors(instance), key=lambda e: e.path)
    assert not errors, "; ".join(f"{list(e.path)}: {e.message}" for e in errors[:5])


@pytest.mark.parametrize("path, method, op", OPERATIONS, ids=IDS)
def test_every_operation_is_described_with_its_errors(path, method, op):
    text = op.get("description", "")
    assert len(text) >= 120, f"{method.upper()} {path}: describe what it does and when to use it"
    for status in op["responses"]:
        if status.startswith("4") and status not in ("400", "401", "422") or status == "503":
            assert re.search(rf"\b{status}\b", text), (
                f"{method.upper()} {path}: the description says nothing of {status}")


@pytest.mark.parametrize("path, method, op", OPERATIONS, ids=IDS)
def test_examples_validate_against_their_schemas(path, method, op):
    body = op.get("requestBody", {}).get("content", {}).get("application/json")
    if body is not None:
        assert "example" in body, f"{method.upper()} {path}: no request example"
        check(body["schema"], body["example"])
    status, answer = next((s, r) for s, r in op["responses"].items() if s.startswith("2"))
    for media, content in answer.get("content", {}).items():
        if media == "application/json":
            assert "example" in content, f"{method.upper()} {path}: no {status} example"
            check(content["schema"], content["example"])


def test_every_webhook_event_has_a_schema_and_an_example():
    hooks = DOC["webhooks"]
    assert set(hooks) == {name.value for name in EventName}
    for name, item in hooks.items():
        op = item["post"]
        assert op["description"] and op["summary"]
        content = op["requestBody"]["content"]["application/json"]
        assert content["example"]["event"] == name
        check(content["schema"], content["example"])
        headers = {p["name"] for p in op["parameters"] if p["in"] == "header"}
        assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}


def test_every_tag_is_described():
    described = {tag["name"]: tag.get("description", "") for tag in DOC["tags"]}
    assert set(described) == {route.tag for route in api.routes}
    assert all(len(text) > 40 for text in described.values())
