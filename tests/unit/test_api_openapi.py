from __future__ import annotations

import re

import pytest

from functions.api.app import create_app
from functions.api.registry import api as registry


@pytest.fixture
def doc(client):
    response = client.get("/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def test_needs_no_key_and_is_openapi_3_1(doc):
    assert doc["openapi"] == "3.1.0"
    assert doc["info"]["title"] and doc["info"]["version"]


def test_documents_every_registered_route(doc):
    documented = {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}
    registered = {(r.method, r.path) for r in registry.routes}
    assert documented == registered


def test_documents_every_flask_rule(container, doc):
    app = create_app(container)
    documented = {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}
    for rule in app.url_map.iter_rules():
        if rule.endpoint in ("static", "openapi"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (method, path) in documented


def test_contract_routes_are_there(doc):
    for method, path in [("post", "/v1/accounts"), ("get", "/v1/health"), ("post", "/v1/api-keys"),
                         ("get", "/v1/api-keys"), ("delete", "/v1/api-keys/{key_id}"),
                         ("post", "/v1/devices"), ("get", "/v1/devices"),
                         ("get", "/v1/devices/{device_id}"), ("patch", "/v1/devices/{device_id}"),
                         ("delete", "/v1/devices/{device_id}"), ("post", "/v1/messages"),
                         ("get", "/v1/messages"), ("get", "/v1/messages/{message_id}"),
                         ("delete", "/v1/messages/{message_id}"), ("post", "/v1/webhooks"),
                         ("get", "/v1/webhooks"), ("get", "/v1/webhooks/{webhook_id}"),
                         ("delete", "/v1/webhooks/{webhook_id}"),
                         ("get", "/v1/webhooks/{webhook_id}/deliveries")]:
        assert method in doc["paths"].get(path, {}), (method, path)


def test_every_request_body_has_an_example(doc):
    bodies = 0
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if "requestBody" in op:
                bodies += 1
                content = op["requestBody"]["content"]["application/json"]
                assert content.get("example"), (method, path)
    assert bodies == sum(1 for r in registry.routes if r.body is not None)


def test_examples_are_valid_requests(doc):
    for route in registry.routes:
        if route.body is not None:
            example = doc["paths"][route.path][route.method.lower()]["requestBody"]["content"][
                "application/json"]["example"]
            route.body.model_validate(example)


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_every_ref_resolves(doc):
    schemas = doc["components"]["schemas"]
    refs = list(_refs(doc))
    assert refs
    for ref in refs:
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.removeprefix("#/components/schemas/") in schemas, ref


def test_operation_ids_are_unique(doc):
    ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))


def test_path_parameters_are_declared(doc):
    for path, ops in doc["paths"].items():
        names = set(re.findall(r"{(\w+)}", path))
        for op in ops.values():
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == names, path


def test_security_and_error_responses(doc):
    assert doc["paths"]["/v1/health"]["get"]["security"] == []
    send = doc["paths"]["/v1/messages"]["post"]
    assert {"bearer": []} in send["security"] and {"token": []} in send["security"]
    for code in ("201", "400", "401", "409", "422"):
        assert code in send["responses"]
    assert send["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ErrorBody")
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header"
               for p in send["parameters"])
    limits = doc["components"]["schemas"]["SendMessage"]["properties"]["message"]
    assert limits["maxLength"] == 6000


def test_path_ids_state_their_form_and_replays_their_200():
    from functions.api.app import create_app
    from tests.fakes import make_container

    doc = create_app(make_container()).test_client().get("/v1/openapi.json").get_json()
    message = doc["paths"]["/v1/messages/{message_id}"]["get"]["parameters"][0]
    assert message["schema"] == {"type": "string", "pattern": "^msg_[0-9a-f]{20}$"}
    delivery = next(p for p in doc["paths"]["/v1/webhooks/{webhook_id}/deliveries/{delivery_id}"]
                    ["get"]["parameters"] if p["name"] == "delivery_id")
    assert delivery["schema"]["pattern"] == "^dlv_[0-9a-f]{24}$"
    send = doc["paths"]["/v1/messages"]["post"]["responses"]
    assert "201" in send and "Idempotency-Key" in send["200"]["description"]
    assert send["200"]["content"] == send["201"]["content"]
    assert set(doc["components"]["securitySchemes"]) == {"bearer", "token"}


def test_the_document_lists_the_422_of_a_chat_or_number_in_the_path_and_the_403_of_admin_routes(client):
    # (a fuzzing pass got these answers from routes whose document did not list them)
    doc = client.get("/v1/openapi.json").get_json()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if "{chat_id}" in path or "{phone}" in path:
                assert "422" in op["responses"], (method, path)
            if op.get("description", "").startswith("Needs the operator's admin key"):
                assert "403" in op["responses"], (method, path)


def test_a_polls_option_rules_are_in_the_document_not_only_its_prose(client):
    doc = client.get("/v1/openapi.json").get_json()
    options = doc["components"]["schemas"]["Poll"]["properties"]["options"]
    assert options["uniqueItems"] is True
    assert options["items"] == {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "\\S"}
