"""Write the files Terraform reads from the code, so the two cannot drift apart:

  terraform/generated/names.json            every public constant of shared/names.py
  terraform/generated/firestore.json        Firestore's composite indexes and TTL policies
                                            (shared/indexes.py)
  terraform/generated/openapi.gateway.json  the API's own OpenAPI document (api.openapi()),
                                            as API Gateway takes it

`python -m infra.generate` (or `make generate`) writes them; `--check` writes nothing and
exits 1 naming the stale files. tests/infra runs the check."""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GENERATED = ROOT / "terraform" / "generated"
NAMES_FILE = GENERATED / "names.json"
FIRESTORE_FILE = GENERATED / "firestore.json"
GATEWAY_FILE = GENERATED / "openapi.gateway.json"

# Terraform replaces this token with the URL of the `api` function (see
# terraform/modules/api_gateway); it is known only once the function exists.
BACKEND_TOKEN = "@UTIO_API_BACKEND_URL@"
BACKEND = "utio-api"
OPENAPI_PATH = "/v1/openapi.json"


def names_document() -> dict:
    from shared import names

    doc: dict = {"_generated": "by `python -m infra.generate` from shared/names.py; do not edit"}
    for key in sorted(vars(names)):
        value = getattr(names, key)
        if key.isupper() and not key.startswith("_"):
            doc[key.lower()] = list(value) if isinstance(value, tuple) else copy.deepcopy(value)
    return doc


def index_key(collection: str, fields) -> str:
    """A stable Terraform key of an index: chats.device_id.labels-contains.sort_key-desc."""
    suffix = {"ASCENDING": "", "DESCENDING": "-desc", "CONTAINS": "-contains"}
    return ".".join([collection, *(field + suffix[mode] for field, mode in fields)])


def firestore_document() -> dict:
    """shared/indexes.py as Terraform reads it: each index's fields with `order` or
    `array_config` (the other null), and each TTL policy's collection and field."""
    from shared import indexes

    doc: dict = {"_generated": "by `python -m infra.generate` from shared/indexes.py; do not edit",
                 "indexes": {}, "ttl": {}}
    for collection, fields in indexes.INDEXES:
        key = index_key(collection, fields)
        if key in doc["indexes"]:
            raise ValueError(f"shared/indexes.py lists {key} twice")
        doc["indexes"][key] = {"collection": collection, "fields": [
            {"field": field,
             "order": None if mode == indexes.CONTAINS else mode,
             "array_config": mode if mode == indexes.CONTAINS else None}
            for field, mode in fields]}
    for collection, field in indexes.TTL:
        doc["ttl"][f"{collection}.{field}"] = {"collection": collection, "field": field}
    return doc


def api_document() -> dict:
    import functions.api.app  # noqa: F401 (registers the routes)
    from functions.api.registry import api

    return api.openapi()


def gateway_document(doc: dict) -> dict:
    """The API's document with what API Gateway needs and nothing it would misread:

    - `x-google-api-management` names the one backend (the `api` function) and
      `x-google-backend` routes every operation to it, path appended;
    - security requirements and schemes are dropped: API keys are Utio's own (checked by
      the function), and API Gateway would take an `apiKey` scheme for a Google API key;
    - `servers` is dropped (the gateway serves at its own host);
    - GET /v1/openapi.json, served by the app outside the route table, is added so the
      gateway lets it through (only operations in the document pass).
    Paths, operations, parameters and schemas are otherwise the API's own."""
    out = copy.deepcopy(doc)
    out.pop("servers", None)
    out.get("components", {}).pop("securitySchemes", None)
    for operations in out["paths"].values():
        for operation in operations.values():
            operation.pop("security", None)
    out["paths"].setdefault(OPENAPI_PATH, {"get": {
        "summary": "This API's OpenAPI 3.1 document",
        "operationId": "openapi",
        "tags": ["meta"],
        "responses": {"200": {"description": "The OpenAPI document",
                              "content": {"application/json": {"schema": {"type": "object"}}}}},
    }})
    out["x-google-api-management"] = {"backends": {BACKEND: {
        "address": BACKEND_TOKEN,
        "pathTranslation": "APPEND_PATH_TO_ADDRESS",
        "protocol": "http/1.1",
        "deadline": 60.0,
    }}}
    out["x-google-backend"] = BACKEND
    return out


def render(doc: dict) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def expected() -> dict[Path, str]:
    return {
        NAMES_FILE: render(names_document()),
        FIRESTORE_FILE: render(firestore_document()),
        GATEWAY_FILE: render(gateway_document(api_document())),
    }


def stale() -> list[Path]:
    return [path for path, text in expected().items()
            if not path.exists() or path.read_text(encoding="utf-8") != text]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if stale")
    args = parser.parse_args(argv)
    if args.check:
        old = stale()
        for path in old:
            print(f"stale: {path.relative_to(ROOT)} (run `make generate`)", file=sys.stderr)
        return 1 if old else 0
    GENERATED.mkdir(parents=True, exist_ok=True)
    for path, text in expected().items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
