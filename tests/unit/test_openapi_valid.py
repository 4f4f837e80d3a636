"""The generated document is valid OpenAPI 3.1 by an independent validator."""

from __future__ import annotations

from openapi_spec_validator import validate

from functions.api.app import create_app


def test_openapi_document_validates(container):
    document = create_app(container).test_client().get("/v1/openapi.json").get_json()
    validate(document)
    assert document["openapi"].startswith("3.1")
