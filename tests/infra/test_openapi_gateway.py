"""API Gateway serves the API's own OpenAPI document: terraform/generated/
openapi.gateway.json is api.openapi() plus what the gateway needs (infra/generate.py,
gateway_document), and Terraform sends that file, with the function's URL filled in."""

from __future__ import annotations

import copy
import json

import pytest

from functions.api.app import create_app
from infra import generate
from tests.fakes import make_container
from tests.infra.tools import TERRAFORM_DIR

GOOGLE_KEYS = {"x-google-api-management", "x-google-backend"}


@pytest.fixture(scope="module")
def committed() -> dict:
    return json.loads(generate.GATEWAY_FILE.read_text())


@pytest.fixture(scope="module")
def generated() -> dict:
    return generate.api_document()


def test_the_committed_document_is_the_one_the_api_generates(committed, generated):
    assert committed == generate.gateway_document(generated), (
        "terraform/generated/openapi.gateway.json is stale: run `make generate`")


def test_it_is_the_api_document_apart_from_the_gateways_additions(committed, generated):
    ours = copy.deepcopy(committed)
    for key in GOOGLE_KEYS:
        ours.pop(key)
    ours["paths"].pop(generate.OPENAPI_PATH)
    theirs = copy.deepcopy(generated)
    theirs.pop("servers", None)
    theirs["components"].pop("securitySchemes", None)
    for operations in theirs["paths"].values():
        for operation in operations.values():
            operation.pop("security", None)
    assert ours == theirs
    assert committed["openapi"].startswith(("3.0.", "3.1."))  # what API Gateway takes


def test_every_route_the_api_serves_passes_the_gateway(committed):
    """The gateway rejects an operation its document lacks."""
    app = create_app(make_container())
    served = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = rule.rule.replace("<", "{").replace(">", "}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            served.add((method.lower(), path))
    documented = {(method, path) for path, ops in committed["paths"].items() for method in ops}
    assert served == documented


def test_every_operation_goes_to_the_api_function(committed):
    backends = committed["x-google-api-management"]["backends"]
    assert committed["x-google-backend"] in backends
    backend = backends[committed["x-google-backend"]]
    assert backend["address"] == generate.BACKEND_TOKEN
    assert backend["pathTranslation"] == "APPEND_PATH_TO_ADDRESS"
    text = generate.GATEWAY_FILE.read_text()
    assert text.count(generate.BACKEND_TOKEN) == 1
    assert "securitySchemes" not in text and '"security"' not in text


def test_terraform_sends_this_file_and_fills_in_the_backend():
    module = (TERRAFORM_DIR / "modules" / "api_gateway" / "main.tf").read_text()
    assert f'replace(file(var.document), "{generate.BACKEND_TOKEN}", var.backend_url)' in module
    root = (TERRAFORM_DIR / "main.tf").read_text()
    assert 'document                = "${path.root}/generated/openapi.gateway.json"' in root
